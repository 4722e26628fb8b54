// npm run bench:sim [-- --before DIR] — the WSAPI simulator's Create rate (POST /volumes through WsapiClient, one
// client, one create at a time) when it already holds 0, 1,000, 5,000 and 10,000 volumes. The simulator is filled
// between the levels by the same POSTs from 8 clients. With `--before DIR` (the dist/ folder of another build, e.g.
// of main), that build's simulator is measured in the same run first, and the ratios after/before are printed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { WsapiClient } from '../../src/array/index.js';
import * as current from '../../src/simulator/index.js';

type SimulatorModule = Pick<typeof current, 'startSimulator'>;

const levels = [0, 1000, 5000, 10_000];
const measured = 300;
const fillers = 8;

async function rates(sim: SimulatorModule, label: string): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-sim-'));
  const running = await sim.startSimulator({ listen: { host: '127.0.0.1', port: 0 }, stateDir: dir, users: { '3paradm': '3pardata' } });
  const client = new WsapiClient({ apiUrl: running.apiUrl, username: '3paradm', password: '3pardata', retry: { attempts: 1 } });
  let count = 0;
  const create = (): Promise<void> => client.createVolume({ name: `bench-${count++}`, cpg: 'FC_r1', sizeMiB: 1024, tpvv: true });
  const out: number[] = [];
  try {
    for (const level of levels) {
      const fillStart = performance.now();
      await Promise.all(Array.from({ length: fillers }, async () => {
        while (count < level) await create();
      }));
      const fillSec = (performance.now() - fillStart) / 1000;
      const t0 = performance.now();
      for (let i = 0; i < measured; i++) await create();
      const rate = measured / ((performance.now() - t0) / 1000);
      out.push(rate);
      console.log(`${label}: ${String(level).padStart(6)} volumes: ${rate.toFixed(0).padStart(5)} creates/s (filled in ${fillSec.toFixed(1)} s)`);
    }
  } finally {
    await client.close();
    await running.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

const { values } = parseArgs({ options: { before: { type: 'string' } } });
console.log(`Create rate of the WSAPI simulator, ${measured} sequential creates per level`);
const before =
  values.before === undefined
    ? undefined
    : await rates((await import(pathToFileURL(join(resolve(values.before), 'src/simulator/index.js')).href)) as SimulatorModule, 'before');
const after = await rates(current, 'after ');
if (before !== undefined) {
  for (const [i, level] of levels.entries()) {
    console.log(`at ${String(level).padStart(6)} volumes: before ${before[i]!.toFixed(0)}/s, after ${after[i]!.toFixed(0)}/s, after/before ${(after[i]! / before[i]!).toFixed(2)}×`);
  }
}
console.log(`after: rate at 10,000 / rate at 0 = ${(after[3]! / after[0]!).toFixed(2)}`);
