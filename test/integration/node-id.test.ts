/**
 * The node id through the built CLI, as an admin meets it: `check` shows it and where it comes from without
 * writing, `serve` creates it once and keeps it across restarts, an override wins, a damaged file stops both.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliPath, runCli } from '../support/cli.js';
import { tempDir, twoBackendConfig, type TempDir } from '../support/configs.js';
import { startEtcd, type EtcdCluster } from '../support/etcd.js';

let dir: TempDir;
let etcd: EtcdCluster;
let hostCount = 0;

before(async () => {
  dir = await tempDir('hpe-node-id-');
  etcd = await startEtcd({ members: 1 });
});
after(async () => {
  await etcd.stop();
  await dir.remove();
});

/** One host's folders: /etc/hpedockerplugin (hpe.conf) and /var/lib/hpedockerplugin. */
async function newHost(extraConf = ''): Promise<{ conf: string; configDir: string; stateDir: string }> {
  hostCount += 1;
  const configDir = join(dir.path, `host${hostCount}`, 'etc');
  const stateDir = join(dir.path, `host${hostCount}`, 'state');
  await mkdir(configDir, { recursive: true });
  const conf = join(configDir, 'hpe.conf');
  await writeFile(conf, twoBackendConfig('127.0.0.1', etcd.endpoints[0]!.port).replace('[DEFAULT]\n', `[DEFAULT]\n${extraConf}`), { mode: 0o600 });
  return { conf, configDir, stateDir };
}

const check = (h: { conf: string; stateDir: string }, env: NodeJS.ProcessEnv = {}) => runCli('plugin', ['check', '--config', h.conf, '--state', h.stateDir], { env });

/** Runs `serve` until it says it serves (then stops it) or exits by itself; resolves with its output and exit code. */
function serve(h: { conf: string; stateDir: string }, env: NodeJS.ProcessEnv = {}): Promise<{ served: boolean; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath.plugin, 'serve', '--config', h.conf, '--state', h.stateDir, '--socket', join(h.stateDir, 'hpe.sock')], {
      env: { PATH: process.env.PATH, HPE_GATE_WAIT_SECONDS: '2', ...env },
    });
    let stdout = '';
    let stderr = '';
    let served = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (!served && stdout.includes('serving on')) {
        served = true;
        child.kill('SIGTERM');
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', () => {
      clearTimeout(timer);
      resolve({ served, stdout, stderr });
    });
  });
}

const escaped = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

describe('node id through the CLI', { concurrency: false }, () => {
  it('a fresh host: check says the plugin will create it and writes nothing; serve creates it, and keeps it after a restart', async () => {
    const h = await newHost();
    const file = join(h.stateDir, '.node_id');
    const before = await check(h);
    assert.match(before.stdout, new RegExp(`^ok +node id: none yet; the plugin creates ${escaped(file)} with a new id at its start$`, 'm'), before.stdout);
    assert.equal(existsSync(h.stateDir), false, 'check wrote nothing');

    const first = await serve(h);
    assert.ok(first.served, first.stderr);
    const id = await readFile(file, 'utf8');
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.match(first.stdout, new RegExp(`node id ${id} \\(created ${escaped(file)}\\)`));

    const second = await serve(h);
    assert.ok(second.served, second.stderr);
    assert.match(second.stdout, new RegExp(`node id ${id} \\(from ${escaped(file)}\\)`));
    assert.equal(await readFile(file, 'utf8'), id, 'the same id after a restart');

    const afterStart = await check(h);
    assert.match(afterStart.stdout, new RegExp(`^ok +node id: ${id} \\(from ${escaped(file)}\\)$`, 'm'));
    assert.doesNotMatch(afterStart.stdout, /node id at that start/);
  });

  it("a host that ran HPE's plugin keeps the id in /etc/hpedockerplugin/.node_id; no new file is made", async () => {
    const h = await newHost();
    const upstream = join(h.configDir, '.node_id');
    await writeFile(upstream, '6f1d7c1e-3a53-4b4e-9d07-5c0f1e7f2a11');
    const r = await check(h);
    assert.match(r.stdout, new RegExp(`^ok +node id: 6f1d7c1e-3a53-4b4e-9d07-5c0f1e7f2a11 \\(from ${escaped(upstream)}\\)$`, 'm'));
    const s = await serve(h);
    assert.ok(s.served, s.stderr);
    assert.match(s.stdout, /node id 6f1d7c1e-3a53-4b4e-9d07-5c0f1e7f2a11 \(from /);
    assert.equal(existsSync(join(h.stateDir, '.node_id')), false);
  });

  it('HPE_NODE_ID wins over hpe.conf; check, which does not see the plugin\'s setting, shows the id the plugin started with', async () => {
    const h = await newHost('node_id = from-conf\n');
    const r = await check(h);
    assert.match(r.stdout, new RegExp(`^ok +node id: from-conf \\(from ${escaped(h.conf)} \\[DEFAULT\\]\\.node_id\\)$`, 'm'));
    const s = await serve(h, { HPE_NODE_ID: 'node-b' });
    assert.ok(s.served, s.stderr);
    assert.match(s.stdout, /node id node-b \(from HPE_NODE_ID\)/);
    assert.equal(existsSync(join(h.stateDir, '.node_id')), false);
    const later = await check(h);
    assert.match(later.stdout, /^ok +node id: from-conf /m);
    assert.match(later.stdout, /^ {2}node id at that start: node-b \(from HPE_NODE_ID\)$/m);
    assert.match((await check(h, { HPE_NODE_ID: 'node-b' })).stdout, /^ok +node id: node-b \(from HPE_NODE_ID\)$/m);
  });

  it('a damaged .node_id: check FAILs naming the file and the fix, serve refuses to start, the file is left as it was', async () => {
    const h = await newHost();
    const upstream = join(h.configDir, '.node_id');
    await writeFile(upstream, 'first\nsecond\n');
    const r = await check(h);
    assert.equal(r.code, 1);
    assert.match(r.stdout, new RegExp(`^FAIL node id: ${escaped(upstream)} is damaged: the id in it spans more than one line — fix: write this host's id alone in `, 'm'));
    const s = await serve(h);
    assert.equal(s.served, false);
    assert.match(s.stderr, new RegExp(`refuses to start: node id: ${escaped(upstream)} is damaged`));
    assert.equal(await readFile(upstream, 'utf8'), 'first\nsecond\n');
    assert.deepEqual((await readdir(h.stateDir)).filter((f) => f.includes('node_id')), []);
  });
});
