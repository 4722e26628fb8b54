// npm run bench:secrets — prints
//  (1) the plugin's start path as shipped: `hpedockerplugin serve` of the bundle (dist/bin/hpedockerplugin.mjs, the
//      rootfs entrypoint), from process start to its start-up gate passing, for a 16-backend config with etcd on
//      loopback: it reads hpe.conf, asks each etcd member for its status, reads every key record in one request and
//      decrypts every password. The gate saves its report (last-report.json, by rename) the moment it passes; the
//      bench sees that rename and checks the report: passed, every password usable. (Not `check`: it also logs in to
//      every array, which the start path does not.)
//  (2) for comparison, the same start path unbundled (reveal-once.js, dist/src), process start → all decrypted;
//  (3) one scrypt derivation with the default parameters.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, watch } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createEtcdClient } from '../../src/etcd/index.js';
import { encryptConfigFile } from '../../src/secrets/index.js';
import { deriveKey, newKdfParams } from '../../src/secrets/kdf.js';
import { tempDir } from '../support/configs.js';
import { startEtcd } from '../support/etcd.js';
import { median, quantile } from './stats.js';

const backends = 16;
const runs = 15;
const here = dirname(fileURLToPath(import.meta.url));
const bundle = join(here, '../../bin/hpedockerplugin.mjs');
const startTime = join(here, 'start-time.js');

function backendSection(name: string, i: number, etcdPort: number): string {
  const host = name === 'DEFAULT' ? `host_etcd_ip_address = 127.0.0.1\nhost_etcd_port_number = ${etcdPort}\n` : '';
  return `[${name}]
${host}hpedockerplugin_driver = hpedockerplugin.hpe.hpe_3par_fc.HPE3PARFCDriver
hpe3par_api_url = https://10.1.${i}.1:8080/api/v1
hpe3par_username = 3paradm
hpe3par_password = array-${i}-password
san_ip = 10.1.${i}.1
san_login = 3paradm
san_password = san-${i}-password
hpe3par_cpg = FC_r1
replication_device = backend_id:target${i},
    replication_mode:synchronous, cpg_map:FC_r1:FC_r1,
    hpe3par_api_url:https://10.2.${i}.1:8080/api/v1,
    hpe3par_username:3paradm, hpe3par_password:remote-${i}-password,
    san_ip:10.2.${i}.1, san_login:3paradm, san_password:remote-san-${i}-password

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
  const state = await mkdtemp(join(os.tmpdir(), 'hpe-bench-state-'));
  try {
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
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    let origin = '';
    child.stdio[3]!.on('data', (d: Buffer) => (origin += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const first = await Promise.race([landed, exited.then(() => undefined)]);
    if (first === undefined) throw new Error(`hpedockerplugin serve exited before its gate passed: ${stderr}`);
    child.kill('SIGTERM');
    await exited;
    const report = (JSON.parse(await readFile(join(state, 'last-report.json'), 'utf8')) as { report: Report }).report;
    return { fromStart: first - Number(origin), fromSpawn: first - spawnedAt, report };
  } finally {
    await rm(state, { recursive: true, force: true });
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
  client.close();

  const fromStart: number[] = [];
  const fromSpawn: number[] = [];
  let report: Report | undefined;
  for (let i = 0; i < runs; i++) {
    const r = await runServe(file);
    fromStart.push(r.fromStart);
    fromSpawn.push(r.fromSpawn);
    report = r.report;
  }
  const secrets = report!.results.filter((r) => r.check === 'secrets');
  const usable = secrets.reduce((n, r) => n + Number(/^(\d+) passwords usable/.exec(r.detail)?.[1] ?? 0), 0);
  console.log(
    `start-up gate of the bundled plugin (dist/bin/hpedockerplugin.mjs serve): ${backends} backends with replication, ${usable} passwords decrypted, ` +
      `gate ${report!.passed ? 'passed' : 'REFUSED'}, etcd 3.4 on loopback`,
  );
  console.log(`  process start → gate passed, over ${runs} processes: ${summary(fromStart)} (target ≤ 150 ms)`);
  console.log(`  spawn → gate passed (as the parent sees it): ${summary(fromSpawn)}`);
  if (!report!.passed || secrets.length !== backends || usable !== backends * 4) throw new Error('the measured start did not decrypt every password');

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
} finally {
  await dir.remove();
  await etcd.stop();
}
