/**
 * hpe3parencryptor -a / -d against a REAL Docker daemon with a REAL managed plugin (dockerd 20.10 from docker.io,
 * started by the test on a private socket), and a real etcd.
 *
 * The plugin folder is made by plugin/build-rootfs.sh and its config.json is the real one, except that the
 * entrypoint runs test/fixtures/plugin/activate-only.mjs (the real `hpedockerplugin serve` does not exist yet), and
 * that what this machine cannot grant is dropped (a capability outside our bounding set, a non-settable bind mount
 * whose source is missing); both are reported as diagnostics. The `config` and `state` mount sources are set with
 * `docker plugin set`, as an admin would.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { createEtcdClient, type EtcdClient } from '../../src/etcd/index.js';
import { repoRoot, runCli, Transcript, type CliResult } from '../support/cli.js';
import { twoBackendConfig } from '../support/configs.js';
import { startDockerd, type Dockerd } from '../support/dockerd.js';
import { startEtcd, type EtcdCluster } from '../support/etcd.js';

const execFileP = promisify(execFile);

const pluginName = 'hpe';
const passphrase = 'plugin detection passphrase';
const password = 'Detect-Array-Pw-77';
const transcript = new Transcript();
const fixtureInRootfs = '/opt/hpe-test/activate-only.mjs';

let dockerd: Dockerd | undefined;
let etcd: EtcdCluster | undefined;
let client: EtcdClient | undefined;
let confFile: string;
let pluginId: string;
let env: NodeJS.ProcessEnv;
const adaptations: string[] = [];

// ---------------------------------------------------------------------------------------------------------

interface PluginConfig {
  entrypoint: string[];
  linux: { capabilities: string[] };
  mounts: { name: string; source?: string; type?: string; settable?: string[] }[];
  [k: string]: unknown;
}

/** Capability names by bit number (linux/capability.h), for reading CapBnd. */
const capNames = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP',
  'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER',
  'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE',
  'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
  'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
  'CHECKPOINT_RESTORE',
].map((n) => `CAP_${n}`);

async function boundingCapabilities(): Promise<Set<string>> {
  const status = await readFile('/proc/self/status', 'utf8');
  const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? 'ffffffffff';
  const bits = BigInt(`0x${hex}`);
  return new Set(capNames.filter((_, i) => (bits >> BigInt(i)) & 1n));
}

/** The real config.json with the stand-in entrypoint, less what this host cannot grant (each change noted). */
async function testConfig(real: PluginConfig): Promise<PluginConfig> {
  const cfg = structuredClone(real);
  cfg.entrypoint = ['/usr/bin/node', fixtureInRootfs];
  const bounding = await boundingCapabilities();
  const caps = cfg.linux.capabilities.filter((c) => bounding.has(c));
  for (const c of cfg.linux.capabilities.filter((c) => !bounding.has(c))) adaptations.push(`dropped ${c}: not in this machine's capability bounding set (runc: "unable to apply caps")`);
  cfg.linux.capabilities = caps;
  cfg.mounts = cfg.mounts.filter((m) => {
    const keep = m.type !== 'bind' || m.settable?.includes('source') || m.source === undefined || existsSync(m.source);
    if (!keep) adaptations.push(`dropped mount ${m.name}: its source ${m.source} does not exist on this machine and is not settable`);
    return keep;
  });
  return cfg;
}

/** POSTs to the plugin's socket as dockerd does (no Content-Type, empty body for Activate). */
function postToPlugin(socketPath: string, urlPath: string, body = ''): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath, path: urlPath, method: 'POST', headers: { Accept: 'application/vnd.docker.plugins.v1.2+json' }, timeout: 5000 },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as unknown }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/** The whole etcd keyspace (every key starts with "/"): "nothing written" means nothing anywhere. */
async function etcdContents(): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const [k, v] of await client!.getPrefix('/')) found.set(`/${k}`, v.value);
  return found;
}

function encryptor(args: string[], stdin = `${passphrase}\n${password}\n`): Promise<CliResult> {
  return runCli('encryptor', args, { env, stdin, transcript });
}

function assertRefused(r: CliResult, shownName: string): void {
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, new RegExp(`^ERROR: the volume plugin ${shownName} is enabled; it must not run while keys change\\. Nothing was written$`, 'm'));
  assert.match(r.stderr, new RegExp(`^Fix: docker plugin disable ${shownName}$`, 'm'));
  assert.doesNotMatch(r.stderr, /cannot ask Docker/);
}

// ---------------------------------------------------------------------------------------------------------

before(async () => {
  const started = await Promise.allSettled([startDockerd(), startEtcd({ members: 1 })]);
  if (started[0].status === 'fulfilled') dockerd = started[0].value;
  if (started[1].status === 'fulfilled') etcd = started[1].value;
  for (const s of started) if (s.status === 'rejected') throw s.reason;
  const d = dockerd!;

  // The plugin folder, as `make plugin` makes it, plus the stand-in.
  const pluginDir = await d.scratch('plugin');
  await execFileP('bash', [path.join(repoRoot, 'plugin', 'build-rootfs.sh'), pluginDir], { timeout: 120_000 });
  const rootfs = path.join(pluginDir, 'rootfs');
  await mkdir(path.join(rootfs, path.dirname(fixtureInRootfs)), { recursive: true });
  await copyFile(path.join(repoRoot, 'test', 'fixtures', 'plugin', 'activate-only.mjs'), path.join(rootfs, fixtureInRootfs));
  const real = JSON.parse(await readFile(path.join(repoRoot, 'config.json'), 'utf8')) as PluginConfig;
  assert.deepEqual(JSON.parse(await readFile(path.join(pluginDir, 'config.json'), 'utf8')), real, 'build-rootfs.sh copies config.json as it is');
  await writeFile(path.join(pluginDir, 'config.json'), JSON.stringify(await testConfig(real), null, 2));

  // hpe.conf lives in the folder the plugin gets as /etc/hpedockerplugin; the CLI reads the same file.
  const configDir = await d.scratch('etc-hpedockerplugin');
  const stateDir = await d.scratch('var-lib-hpedockerplugin');
  confFile = path.join(configDir, 'hpe.conf');
  await writeFile(confFile, twoBackendConfig('127.0.0.1', etcd!.endpoints[0]!.port), { mode: 0o600 });
  env = { ...d.env, HPEDOCKERPLUGIN_CONFIG: confFile };

  await d.dockerOk(['plugin', 'create', pluginName, pluginDir], { timeoutMs: 120_000 });
  // As the README tells an admin on a host without /lib/modules: point the settable source at an empty folder.
  const modules = existsSync('/lib/modules') ? [] : [`modules.source=${await d.scratch('lib-modules')}`];
  await d.dockerOk(['plugin', 'set', pluginName, `config.source=${configDir}`, `state.source=${stateDir}`, ...modules]);
  const enable = await d.docker(['plugin', 'enable', pluginName], { timeoutMs: 60_000 });
  if (enable.code !== 0) {
    throw new Error(`docker plugin enable ${pluginName} failed: ${enable.stderr.trim()}\n--- dockerd log ---\n${await d.logTail(30)}`);
  }
  pluginId = (await d.dockerOk(['plugin', 'inspect', '-f', '{{.Id}}', pluginName])).trim();
  client = await createEtcdClient({ endpoints: etcd!.endpoints });
}, { timeout: 150_000 });

after(async () => {
  client?.close();
  const problems: string[] = [];
  if (dockerd) {
    await dockerd.stop();
    problems.push(...(await dockerd.leftovers()).map((l) => `dockerd: ${l}`));
  }
  if (etcd) {
    await etcd.stop();
    if (existsSync(etcd.dir)) problems.push(`etcd: dir ${etcd.dir} is left`);
  }
  if (pluginId && existsSync(`/run/docker/plugins/${pluginId}`)) problems.push(`plugin socket dir /run/docker/plugins/${pluginId} is left`);
  assert.deepEqual(problems, [], 'nothing is left behind');
}, { timeout: 60_000 });

// ---------------------------------------------------------------------------------------------------------

describe('the managed plugin on a real dockerd', () => {
  test('Docker reports it as hpe:latest, enabled, a volume driver on hpe.sock; the stand-in answers on its socket', async (t) => {
    for (const a of adaptations) t.diagnostic(`config.json adapted to this machine: ${a}`);
    const [info] = JSON.parse(await dockerd!.dockerOk(['plugin', 'inspect', pluginName])) as {
      Name: string;
      Enabled: boolean;
      Config: { Interface: { Socket: string; Types: unknown[] } };
      Settings: { Mounts: { Name: string; Source: string }[] };
    }[];
    assert.equal(info!.Name, `${pluginName}:latest`, 'Docker adds :latest to the name given at create');
    assert.equal(info!.Enabled, true);
    assert.equal(info!.Config.Interface.Socket, 'hpe.sock');
    assert.deepEqual(info!.Config.Interface.Types, ['docker.volumedriver/1.0']);
    assert.equal(info!.Settings.Mounts.find((m) => m.Name === 'config')?.Source, path.dirname(confFile));

    const socket = `/run/docker/plugins/${pluginId}/hpe.sock`;
    assert.deepEqual((await postToPlugin(socket, '/Plugin.Activate')).json, { Implements: ['VolumeDriver'] });
    assert.deepEqual((await postToPlugin(socket, '/VolumeDriver.List', '{}')).json, { Err: 'this is a test stand-in, not the plugin' });
    const log = await dockerd!.pluginLog(pluginId);
    assert.ok(log.includes('activate-only: listening on /run/docker/plugins/hpe.sock'), log.join('\n'));
    assert.ok(log.includes('activate-only: POST /Plugin.Activate'), log.join('\n'));
  });
});

describe('hpe3parencryptor while the plugin is enabled', () => {
  let refused: CliResult;

  test('-a is refused, naming the plugin as an admin types it, and writes nothing to etcd', async () => {
    refused = await encryptor(['-a', '-', '-']);
    assertRefused(refused, pluginName);
    assert.deepEqual(await etcdContents(), new Map());
    const byFullName = await encryptor(['-a', '-', '-', '--plugin-name', `${pluginName}:latest`]);
    assertRefused(byFullName, pluginName);
    assert.deepEqual(await etcdContents(), new Map());
  });

  test('--plugin-name other is not blocked by it', async () => {
    const r = await encryptor(['-a', '-', '-', '--plugin-name', 'other']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^SUCCESSFUL: Encrypted password: enc:v1:[0-9a-f]{8}:/);
    assert.doesNotMatch(r.stderr, /cannot ask Docker/);
    assert.ok((await etcdContents()).has('/backend/DEFAULT'));
  });

  test('-d is refused likewise, and the key stays', async () => {
    const before = await etcdContents();
    const r = await encryptor(['-d'], '');
    assertRefused(r, pluginName);
    assert.deepEqual(await etcdContents(), before);
  });

  test('after the Fix command (docker plugin disable hpe), the same -a and -d succeed', async () => {
    const fix = /^Fix: (.*)$/m.exec(refused.stderr)?.[1] ?? '';
    const [cmd, ...args] = fix.split(' ');
    assert.equal(cmd, 'docker');
    await dockerd!.dockerOk(args);
    assert.equal((await dockerd!.dockerOk(['plugin', 'inspect', '-f', '{{.Enabled}}', pluginName])).trim(), 'false');

    const a = await encryptor(['-a', '-', '-']);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /^SUCCESSFUL: Encrypted password: enc:v1:[0-9a-f]{8}:/);
    assert.doesNotMatch(a.stderr, /created key|cannot ask Docker/, 'the key made under --plugin-name other is reused');
    const d = await encryptor(['-d'], '');
    assert.equal(d.code, 0, d.stderr);
    assert.equal(d.stdout, 'Key Successfully deleted\n');
    assert.deepEqual(await etcdContents(), new Map());
  });

  test('no passphrase or password was ever printed', () => {
    assert.deepEqual(transcript.leaked({ passphrase, password }), []);
  });
});
