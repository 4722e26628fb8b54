// npm run bench:secrets — prints
//  (1) the plugin's start path as shipped: `hpedockerplugin serve` of the bundle (dist/bin/hpedockerplugin.mjs, the
//      rootfs entrypoint), from process start to its start-up gate passing, for a 16-backend config with etcd on
//      loopback: it reads hpe.conf, asks each etcd member for its status, reads every key record in one request and
//      decrypts every password. The gate saves its report (last-report.json, by rename) the moment it passes; the
//      bench sees that rename and checks the report: passed, every password usable. (Not `check`: it also logs in to
//      every array, which the start path does not.)
//  (2) for comparison, the same start path unbundled (reveal-once.js, dist/src), process start → all decrypted;
//  (3) one scrypt derivation with the default parameters;
//  (4) the same start with all 64 passwords written `$secret{NAME}` (64 named secrets in etcd), measured in the same
//      run, interleaved with (1), and their ratio (target: within 10%);
//  (5) live rotation: a running `serve` (the bundle) whose array password is `$secret{}`; the simulator's password
//      changes, the new value is put (putNamedSecret, what `hpe3parencryptor secret put` runs), and the time until the
//      simulator has accepted the plugin's login with it (target ≤ 1 s on loopback).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, watch } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createEtcdClient, type EtcdClient } from '../../src/etcd/index.js';
import { encryptConfigFile, putNamedSecret } from '../../src/secrets/index.js';
import { startSimulator } from '../../src/simulator/index.js';
import { deriveKey, newKdfParams } from '../../src/secrets/kdf.js';
import { tempDir } from '../support/configs.js';
import { startEtcd } from '../support/etcd.js';
import { median, quantile } from './stats.js';

const backends = 16;
const runs = 15;
const here = dirname(fileURLToPath(import.meta.url));
const bundle = join(here, '../../bin/hpedockerplugin.mjs');
const startTime = join(here, 'start-time.js');

/** `named`: every password is `$secret{<its plain value's name>}` instead of the plain value. */
function backendSection(name: string, i: number, etcdPort: number, named = false): string {
  const pw = (value: string) => (named ? `$secret{${value}}` : value);
  const host = name === 'DEFAULT' ? `host_etcd_ip_address = 127.0.0.1\nhost_etcd_port_number = ${etcdPort}\n` : '';
  return `[${name}]
${host}hpedockerplugin_driver = hpedockerplugin.hpe.hpe_3par_fc.HPE3PARFCDriver
hpe3par_api_url = https://10.1.${i}.1:8080/api/v1
hpe3par_username = 3paradm
hpe3par_password = ${pw(`array-${i}-password`)}
san_ip = 10.1.${i}.1
san_login = 3paradm
san_password = ${pw(`san-${i}-password`)}
hpe3par_cpg = FC_r1
replication_device = backend_id:target${i},
    replication_mode:synchronous, cpg_map:FC_r1:FC_r1,
    hpe3par_api_url:https://10.2.${i}.1:8080/api/v1,
    hpe3par_username:3paradm, hpe3par_password:${pw(`remote-${i}-password`)},
    san_ip:10.2.${i}.1, san_login:3paradm, san_password:${pw(`remote-san-${i}-password`)}

`;
}

function summary(times: number[]): string {
  return `median ${median(times).toFixed(1)} ms, p90 ${quantile(times, 0.9).toFixed(1)} ms, min ${Math.min(...times).toFixed(1)} ms`;
}

interface Report {
  passed: boolean;
  results: { check: string; status: string; detail: string }[];
}

/**
 * One start of the bundled `serve`: from its process start (and from spawn) to its gate's report landing in a fresh
 * state folder; then SIGTERM, and the report.
 */
async function runServe(file: string): Promise<{ fromStart: number; fromSpawn: number; report: Report }> {
  const served = await startServe(file);
  try {
    const first = await served.gatePassed;
    if (first === undefined) throw new Error(`hpedockerplugin serve exited before its gate passed: ${served.stderr()}`);
    served.child.kill('SIGTERM');
    await served.exited;
    const report = (JSON.parse(await readFile(join(served.state, 'last-report.json'), 'utf8')) as { report: Report }).report;
    return { fromStart: first - served.origin(), fromSpawn: first - served.spawnedAt, report };
  } finally {
    await rm(served.state, { recursive: true, force: true });
  }
}

/** Starts the bundled `serve` in a fresh state folder; `gatePassed` is when its gate's report landed (undefined: it exited first). */
async function startServe(file: string, env: NodeJS.ProcessEnv = process.env) {
  const state = await mkdtemp(join(os.tmpdir(), 'hpe-bench-state-'));
  const landed = new Promise<number>((resolve) => {
    const watcher = watch(state, (_event, name) => {
      if (name === 'last-report.json') {
        const at = performance.timeOrigin + performance.now();
        watcher.close();
        resolve(at);
      }
    });
  });
  const spawnedAt = performance.timeOrigin + performance.now();
  const child = spawn(process.execPath, ['--import', startTime, bundle, 'serve', '--config', file, '--socket', join(state, 'hpe.sock'), '--state', state], {
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    env,
  });
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let origin = '';
  child.stdio[3]!.on('data', (d: Buffer) => (origin += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const gatePassed = Promise.race([landed, exited.then(() => undefined)]);
  return { state, child, exited, gatePassed, spawnedAt, origin: () => Number(origin), stdout: () => stdout, stderr: () => stderr };
}

const rotations = 10;

/**
 * A running bundled `serve` whose one backend's password is `$secret{rotation_pw}` on a simulator: per rotation, the
 * simulator's password changes, the new value is put as the next version, and the clock stops when the simulator
 * has accepted the plugin's login with it. Measured from the put's start (the CLI's work: one scrypt derivation,
 * the read and the guarded write) and from its return (the watch path: etcd → plugin → array login).
 */
async function benchRotation(client: EtcdClient, etcdPort: number): Promise<void> {
  const sim = await startSimulator({ listen: { host: '127.0.0.1', port: 0 }, stateDir: join(dir.path, 'array'), users: { '3paradm': 'rotation-0' } });
  const passphrase = 'bench cluster passphrase';
  await putNamedSecret(client, 'rotation_pw', passphrase, 'rotation-0');
  const conf = await dir.file(
    'rotation.conf',
    `[DEFAULT]\nhost_etcd_ip_address = 127.0.0.1\nhost_etcd_port_number = ${etcdPort}\n` +
      `hpedockerplugin_driver = hpedockerplugin.hpe.hpe_3par_fc.HPE3PARFCDriver\nhpe3par_api_url = ${sim.apiUrl}\nhpe3par_username = 3paradm\n` +
      `hpe3par_password = $secret{rotation_pw}\nsan_ip = 127.0.0.1\nsan_login = 3paradm\nsan_password = $secret{rotation_pw}\nhpe3par_cpg = FC_r1\n`,
  );
  const served = await startServe(conf, { ...process.env, HPE_NODE_ID: 'bench-rotation' });
  const accepted = (from: number) => sim.requestLog.slice(from).some((r) => r.method === 'POST' && r.path === '/api/v1/credentials' && r.status === 201);
  const untilAccepted = async (from: number, what: string) => {
    const deadline = performance.now() + 10_000;
    while (!accepted(from)) {
      if (performance.now() > deadline) throw new Error(`${what}: no accepted login within 10 s: ${served.stderr()}`);
      await new Promise((r) => setTimeout(r, 1));
    }
    return performance.now();
  };
  try {
    if ((await served.gatePassed) === undefined) throw new Error(`serve exited: ${served.stderr()}`);
    await untilAccepted(0, 'the first login');
    // The first listing of /secrets/ must have happened before the first rotation is timed.
    await new Promise((r) => setTimeout(r, 500));
    const fromPutStart: number[] = [];
    const fromPutDone: number[] = [];
    for (let i = 1; i <= rotations; i++) {
      sim.setPassword('3paradm', `rotation-${i}`);
      const mark = sim.requestLog.length;
      const t0 = performance.now();
      await putNamedSecret(client, 'rotation_pw', passphrase, `rotation-${i}`);
      const t1 = performance.now();
      const t2 = await untilAccepted(mark, `rotation ${i}`);
      fromPutStart.push(t2 - t0);
      fromPutDone.push(t2 - t1);
    }
    console.log(`live rotation (bundled serve, one backend on the simulator, ${rotations} rotations):`);
    console.log(`  secret put's etcd write → the array accepted the plugin's login with the new value: ${summary(fromPutDone)} (target ≤ 1000 ms)`);
    console.log(`  secret put's start (scrypt, read, write) → accepted: ${summary(fromPutStart)}`);
    const leaked = Array.from({ length: rotations + 1 }, (_, i) => `rotation-${i}`).filter((v) => `${served.stdout()}${served.stderr()}`.includes(v));
    if (leaked.length > 0) throw new Error(`the plugin printed a password (${leaked.length} values)`);
  } finally {
    served.child.kill('SIGTERM');
    await served.exited;
    await rm(served.state, { recursive: true, force: true });
    await sim.stop();
  }
}

if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run \`npm run build\` (it bundles with plugin/bundle.mjs)`);
const etcd = await startEtcd({ members: 1 });
const dir = await tempDir('hpe-bench-');
try {
  const port = etcd.endpoints[0]!.port;
  const names = Array.from({ length: backends }, (_, i) => (i === 0 ? 'DEFAULT' : `array${i}`));
  const file = await dir.file('hpe.conf', names.map((n, i) => backendSection(n, i, port)).join(''));
  const client = await createEtcdClient({ endpoints: etcd.endpoints });
  await encryptConfigFile(file, client, names, 'bench passphrase');

  // The same 64 values as named secrets: one record each under /secrets/, one cluster secrets key.
  const namedFile = await dir.file('named.conf', names.map((n, i) => backendSection(n, i, port, true)).join(''));
  const values = [...(await readFile(namedFile, 'utf8')).matchAll(/\$secret\{([^}]+)\}/g)].map((m) => m[1]!);
  for (const value of values) await putNamedSecret(client, value, 'bench cluster passphrase', value);

  const runsOf = { encrypted: { fromStart: [] as number[], fromSpawn: [] as number[] }, named: { fromStart: [] as number[], fromSpawn: [] as number[] } };
  const reports: Partial<Record<keyof typeof runsOf, Report>> = {};
  // Interleaved, so both forms see the same machine load.
  for (let i = 0; i < runs; i++) {
    for (const [form, f] of [['encrypted', file], ['named', namedFile]] as const) {
      const r = await runServe(f);
      runsOf[form].fromStart.push(r.fromStart);
      runsOf[form].fromSpawn.push(r.fromSpawn);
      reports[form] = r.report;
    }
  }
  for (const form of ['encrypted', 'named'] as const) {
    const report = reports[form]!;
    const secrets = report.results.filter((r) => r.check === 'secrets');
    const usable = secrets.reduce((n, r) => n + Number(/^(\d+) passwords usable/.exec(r.detail)?.[1] ?? 0), 0);
    const how = form === 'encrypted' ? 'enc:v1 values in hpe.conf' : `$secret{} values (${values.length} named secrets in etcd)`;
    console.log(
      `start-up gate of the bundled plugin (dist/bin/hpedockerplugin.mjs serve): ${backends} backends with replication, ${usable} passwords decrypted from ${how}, ` +
        `gate ${report.passed ? 'passed' : 'REFUSED'}, etcd 3.4 on loopback`,
    );
    console.log(`  process start → gate passed, over ${runs} processes: ${summary(runsOf[form].fromStart)}${form === 'encrypted' ? ' (target ≤ 150 ms)' : ''}`);
    console.log(`  spawn → gate passed (as the parent sees it): ${summary(runsOf[form].fromSpawn)}`);
    if (!report.passed || secrets.length !== backends || usable !== backends * 4) throw new Error(`the measured start (${form}) did not decrypt every password`);
  }
  const ratio = median(runsOf.named.fromStart) / median(runsOf.encrypted.fromStart);
  console.log(`  $secret{} / enc:v1, median process start → gate passed: ${ratio.toFixed(3)} (target ≤ 1.10)`);

  const child = join(here, 'reveal-once.js');
  const unbundled: number[] = [];
  let last = { elapsedMs: 0, secrets: 0, failures: 0 };
  for (let i = 0; i < runs; i++) {
    const res = spawnSync(process.execPath, [child, file], { encoding: 'utf8' });
    last = JSON.parse(res.stdout) as typeof last;
    unbundled.push(last.elapsedMs);
  }
  console.log(`for comparison, unbundled (dist/src, reveal-once.js) process start → ${last.secrets} passwords decrypted, ${last.failures} failures: ${summary(unbundled)}`);

  const params = newKdfParams();
  const derivations: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await deriveKey('bench passphrase', params);
    derivations.push(performance.now() - t0);
  }
  console.log(`scrypt (N=${params.N}, r=${params.r}, p=${params.p}) per derivation: median ${median(derivations).toFixed(1)} ms over 5 (target ≥ 50 ms; paid by -a, encrypt-config and rotate only, never on the start path)`);

  await benchRotation(client, port);
  client.close();
} finally {
  await dir.remove();
  await etcd.stop();
}
