/**
 * End to end, etcd stopped under a running plugin: what a REAL dockerd (20.10) and the docker CLI show for
 * `docker volume ls / inspect / rm` and `docker run -v`, what `hpedockerplugin check` shows, and that nothing was
 * removed or shadowed once etcd is back.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../support/cli.js';
import type { Dockerd } from '../support/dockerd.js';
import { startWorld, stopWorld, type World } from '../support/e2e-world.js';
import type { EtcdCluster } from '../support/etcd.js';

const plugin = 'hpe';
const arrayPassword = 'E2e-EtcdDown-Pw-23';

let world: World | undefined;
let dockerd: Dockerd;
let etcd: EtcdCluster;
let image: string;
let confFile: string;
let stateDir: string;

const docker = (args: string[], timeoutMs = 90_000) => dockerd.docker(args, { timeoutMs });
const dockerOk = (args: string[], timeoutMs = 90_000) => dockerd.dockerOk(args, { timeoutMs });

/** GET on dockerd's API socket: what the CLI received, before it chose what to print. */
function dockerApi(urlPath: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: dockerd.socket, path: urlPath, method: 'GET', timeout: 60_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => resolve(JSON.parse(text) as unknown));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${urlPath} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

async function volumeNames(): Promise<string[]> {
  return (await dockerOk(['volume', 'ls', '-q'])).split('\n').filter((l) => l !== '').sort();
}

before(
  async () => {
    world = await startWorld({ plugin, arrayPassword });
    ({ dockerd, etcd, confFile, stateDir } = world);
    image = world.image!;
  },
  { timeout: 240_000 },
);

after(
  async () => {
    if (world === undefined) return;
    await etcd.startMember(0).catch(() => undefined);
    await stopWorld(world);
  },
  { timeout: 120_000 },
);

const etcdReason = /etcd 127\.0\.0\.1:\d+: refused: .*Fix: start etcd on 127\.0\.0\.1:\d+.*`hpedockerplugin check` on this host shows etcd's state/;

describe('etcd stopped under a running plugin', () => {
  before(async () => {
    await dockerOk(['volume', 'create', '-d', plugin, '-o', 'size=1', 'v1']);
    await dockerOk(['volume', 'create', '-d', plugin, '-o', 'virtualCopyOf=v1', 's1']);
    await dockerOk(['volume', 'create', '-d', plugin, '-o', 'size=1', 'v2']);
    assert.deepEqual(await volumeNames(), ['s1', 'v1', 'v2']);
    await etcd.stopMember(0);
  });

  test('docker volume ls prints dockerd\'s cached names only: the reason is in the API\'s Warnings, which the CLI drops', async () => {
    const ls = await docker(['volume', 'ls']);
    assert.equal(ls.code, 0);
    assert.equal(ls.stderr, '', 'the CLI prints no warning');
    assert.deepEqual(await volumeNames(), ['s1', 'v1', 'v2']);
    const api = (await dockerApi('/volumes')) as { Warnings: string[] | null };
    assert.equal(api.Warnings?.length, 1);
    assert.match(api.Warnings[0]!, /^list hpe:latest: ETCD volume list failed: /);
    assert.match(api.Warnings[0]!, etcdReason);
  });

  test('docker volume inspect shows the volume with etcd\'s reason in Status, not "no such volume"', async () => {
    for (const name of ['v1', 's1']) {
      const r = await docker(['volume', 'inspect', name]);
      assert.equal(r.code, 0, r.stderr);
      const [info] = JSON.parse(r.stdout) as { Driver: string; Status: Record<string, string> }[];
      assert.equal(info!.Driver, 'hpe:latest');
      assert.deepEqual(Object.keys(info!.Status), ['etcd_unreadable']);
      assert.match(info!.Status.etcd_unreadable!, new RegExp(`^ETCD data read failed: ${name}: `));
      assert.match(info!.Status.etcd_unreadable!, etcdReason);
    }
  });

  test('a name the plugin never saw is still "no such volume" (dockerd allows no third answer)', async () => {
    const r = await docker(['volume', 'inspect', 'never-made']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Error response from daemon: get never-made: no such volume/);
  });

  test('docker volume rm and docker run -v fail with etcd\'s reason and make no local volume', async () => {
    const rm = await docker(['volume', 'rm', 'v2']);
    assert.equal(rm.code, 1);
    assert.match(rm.stderr, /^Error response from daemon: remove v2: ETCD data read failed: v2: /);
    assert.match(rm.stderr, etcdReason);
    for (const extra of [[], ['--volume-driver', plugin]]) {
      const run = await docker(['run', '--rm', ...extra, '-v', 'v1:/data', image, 'sh', '-c', 'echo x > /data/x']);
      assert.equal(run.code, 125);
      assert.match(run.stderr, /^docker: Error response from daemon: ETCD data read failed: v1: /);
      assert.match(run.stderr, etcdReason);
    }
    const drivers = await dockerOk(['volume', 'ls', '--format', '{{.Driver}} {{.Name}}']);
    assert.doesNotMatch(drivers, /^local /m, 'no local volume shadows ours');
  });

  test('hpedockerplugin check shows etcd down within a few seconds', async () => {
    const t0 = Date.now();
    const c = await runCli('plugin', ['check', '--config', confFile, '--state', stateDir], { env: dockerd.env, timeoutMs: 30_000 });
    const ms = Date.now() - t0;
    assert.equal(c.code, 1);
    assert.match(c.stdout, /^FAIL etcd 127\.0\.0\.1:\d+: refused: connection refused .*— fix: start etcd on /m);
    assert.ok(ms < 5000, `check took ${ms} ms`);
  });

  test('once etcd is back every volume is there, on our driver, and rm works', async () => {
    await etcd.startMember(0);
    assert.deepEqual(await volumeNames(), ['s1', 'v1', 'v2']);
    const drivers = await dockerOk(['volume', 'ls', '--format', '{{.Driver}} {{.Name}}']);
    assert.deepEqual(drivers.trim().split('\n').sort(), ['hpe:latest s1', 'hpe:latest v1', 'hpe:latest v2']);
    const [info] = JSON.parse(await dockerOk(['volume', 'inspect', 'v2'])) as { Status: Record<string, unknown> }[];
    assert.ok('volume_detail' in info!.Status, 'a real answer from etcd again');
    for (const v of ['s1', 'v1', 'v2']) await dockerOk(['volume', 'rm', v]);
    assert.deepEqual(await volumeNames(), []);
  });
});
