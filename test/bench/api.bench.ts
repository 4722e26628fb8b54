// npm run bench:api — the VolumeDriver API as Docker calls it: the real `hpedockerplugin serve` process on a
// unix socket, a real etcd and the WSAPI simulator on loopback. Prints Get/Path p50 and p99 at 1, 16 and 64
// concurrent clients with 1,000 and 10,000 volumes, List time, Create throughput, and etcd round trips per
// request (from etcd's own /metrics counter), and the plugin process's RSS idle and after the load (bench:memory
// compares runtimes and node flags).
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { cliPath } from '../support/cli.js';
import { singleArrayConfig, tempDir } from '../support/configs.js';
import { startEtcd } from '../support/etcd.js';
import { startSimulator } from '../../src/simulator/index.js';
import { median, quantile } from './stats.js';
import { formatRss, rssOf } from './rss.js';

const sizes = [1000, 10_000];
const clients = [1, 16, 64];
const requestsPerLevel = 3000;

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
let socketPath = '';

function call(path: string, body: unknown): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, agent, path, method: 'POST' }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c) => (text += c));
      res.on('end', () => resolve(JSON.parse(text) as Record<string, unknown>));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

async function ok(path: string, body: unknown): Promise<Record<string, unknown>> {
  const r = await call(path, body);
  if (r.Err) throw new Error(`${path} ${JSON.stringify(body)}: ${String(r.Err)}`);
  return r;
}

/** `total` calls spread over `concurrency` clients; the latency of each. */
async function load(concurrency: number, total: number, op: (i: number) => Promise<unknown>): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const t0 = performance.now();
        await op(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return latencies;
}

let metricsUrl = '';
async function etcdCalls(): Promise<number> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^grpc_server_started_total\{[^}]*grpc_type="unary"[^}]*\} (\d+)$/gm)) n += Number(m[1]);
  return n;
}

async function roundTripsPer(count: number, op: (i: number) => Promise<unknown>): Promise<number> {
  const before = await etcdCalls();
  for (let i = 0; i < count; i++) await op(i);
  return ((await etcdCalls()) - before) / count;
}

const fmt = (ms: number) => ms.toFixed(2).padStart(7);

const dir = await tempDir('hpe-bench-api-');
const etcd = await startEtcd({ members: 1 });
metricsUrl = etcd.clientUrls[0]!;
const sim = await startSimulator({ listen: { host: '127.0.0.1', port: 0 }, stateDir: join(dir.path, 'sim'), sessionTtlMs: 3_600_000 });
let serve: ChildProcess | undefined;
try {
  const conf = await dir.file('hpe.conf', singleArrayConfig(etcd.endpoints[0]!.port, sim.apiUrl));
  socketPath = join(dir.path, 'hpe.sock');
  serve = spawn(process.execPath, [cliPath.plugin, 'serve', '--config', conf, '--socket', socketPath, '--state', join(dir.path, 'state')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    serve!.stdout!.on('data', (d: Buffer) => String(d).includes('serving on') && resolve());
    serve!.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
  });

  console.log('VolumeDriver API over the unix socket (hpedockerplugin serve, etcd 3.4 and the WSAPI simulator on loopback)');
  console.log(`RSS idle: ${formatRss(await rssOf(serve.pid!))}`);
  let have = 0;
  for (const size of sizes) {
    const toCreate = size - have;
    const t0 = performance.now();
    await load(16, toCreate, (i) => ok('/VolumeDriver.Create', { Name: `vol${have + i}`, Opts: { size: '1' } }));
    const secs = (performance.now() - t0) / 1000;
    have = size;
    console.log(`\n${size} volumes (created ${toCreate} at 16 concurrent clients: ${(toCreate / secs).toFixed(0)} creates/s)`);
    for (const endpoint of ['Get', 'Path'] as const) {
      for (const c of clients) {
        const lat = await load(c, requestsPerLevel, (i) => ok(`/VolumeDriver.${endpoint}`, { Name: `vol${(i * 7919) % size}` }));
        console.log(`  ${endpoint.padEnd(4)} ${String(c).padStart(2)} clients: p50 ${fmt(quantile(lat, 0.5))} ms  p99 ${fmt(quantile(lat, 0.99))} ms`);
      }
    }
    const lists: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      const r = await ok('/VolumeDriver.List', {});
      lists.push(performance.now() - t);
      if ((r.Volumes as unknown[]).length !== size) throw new Error(`List returned ${(r.Volumes as unknown[]).length} of ${size}`);
    }
    console.log(`  List of ${size}: median ${fmt(median(lists))} ms over 5`);
    const perGet = await roundTripsPer(200, (i) => ok('/VolumeDriver.Get', { Name: `vol${i}` }));
    const perPath = await roundTripsPer(200, (i) => ok('/VolumeDriver.Path', { Name: `vol${i}` }));
    const perList = await roundTripsPer(5, () => ok('/VolumeDriver.List', {}));
    console.log(`  etcd round trips per request: Get ${perGet.toFixed(2)}, Path ${perPath.toFixed(2)}, List ${perList.toFixed(2)}`);
  }
  console.log(`\nRSS after load: ${formatRss(await rssOf(serve.pid!))} (target <= 80 MB)`);
  console.log('\nTargets: Get/Path p99 <= 5 ms at 64 clients with 10,000 volumes; List of 10,000 <= 100 ms; one etcd read per Get.');
} finally {
  serve?.kill('SIGTERM');
  agent.destroy();
  await sim.stop();
  await etcd.stop();
  await dir.remove();
}
