/**
 * The simulator's snapshot schedules (`createsched` of a `createsv` task), kept in `<stateDir>/ssh/schedules.json`,
 * and the runner that makes them happen on the simulator's clock: at every due minute (UTC) a snapshot of the parent
 * named by the expanded pattern, made by the same code as the WSAPI's createSnapshot; then every volume whose
 * expiration time has passed is removed (one still exported or with children stays until it can go).
 *
 * Time moves with the clock: with the system clock a loop wakes at each minute; with a test's ManualClock the loop
 * wakes when the test advances it, and `runDue()` (RunningSimulator.runSchedules) waits until every due run is done.
 * Minutes missed while the simulator was stopped or the clock jumped are run too, up to one day back.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../files.js';
import { expandSnapshotName, parseCreatesv } from './cli-syntax.js';
import type { SimContext } from './context.js';
import { CronNicknames, cronMatches, parseCron } from './cron.js';
import { SimError } from './errors.js';
import { createSnapshot, deleteVolume } from './volumes.js';

const minuteMs = 60_000;
const maxCatchUpMinutes = 24 * 60;

export interface SimSchedule {
  name: string;
  /** The task as given to createsched (`createsv -f … <pattern> <parent>`). */
  command: string;
  /** Five cron fields (a nickname such as `@daily` is kept expanded). */
  when: string;
  createdBy: string;
  /** The last minute (ms since the epoch) the runner has dealt with. */
  lastMinute: number;
  /** What the last run did: the snapshot made, or why none was. */
  lastResult?: string;
}

export class Schedules {
  readonly #ctx: SimContext;
  readonly #file: string;
  readonly #list = new Map<string, SimSchedule>();
  #running: Promise<void> = Promise.resolve();
  readonly #stop = new AbortController();
  #loop: Promise<void> | undefined;

  constructor(ctx: SimContext, stateDir: string) {
    this.#ctx = ctx;
    this.#file = join(stateDir, 'ssh', 'schedules.json');
    try {
      for (const s of (JSON.parse(readFileSync(this.#file, 'utf8')) as { schedules: SimSchedule[] }).schedules) this.#list.set(s.name, s);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  get(name: string): SimSchedule | undefined {
    return this.#list.get(name);
  }

  all(): SimSchedule[] {
    return [...this.#list.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Adds a schedule; the array's error text when it cannot. */
  create(name: string, task: string, frequency: string, user: string): string | undefined {
    if (!/^[A-Za-z0-9_.-]{1,31}$/.test(name)) return `Error: Invalid schedule name '${name}': up to 31 letters, digits, '_', '.' or '-'`;
    if (this.#list.has(name)) return `Error: Schedule ${name} already exists`;
    const spec = parseCron(frequency);
    if (spec === undefined) return 'The schedule format is <minute> <hour> <dom> <month> <dow> or by @hourly @daily @monthly @weekly @monthly @yearly';
    const parsed = parseCreatesv(task);
    if (typeof parsed === 'string') return parsed;
    if (!this.#ctx.state.volumes.has(parsed.parent)) return `Error: Volume ${parsed.parent} does not exist`;
    const when = CronNicknames[frequency] ?? frequency;
    this.#list.set(name, { name, command: task, when, createdBy: user, lastMinute: floorMinute(this.#ctx.clock.now()) });
    this.#save();
    return undefined;
  }

  remove(name: string): boolean {
    const removed = this.#list.delete(name);
    if (removed) this.#save();
    return removed;
  }

  /** The next minute at or after `from` the schedule runs at, within a year; undefined if none. */
  nextRun(s: SimSchedule, from = this.#ctx.clock.now()): number | undefined {
    const spec = parseCron(s.when);
    if (spec === undefined) return undefined;
    let t = floorMinute(from) + (from % minuteMs === 0 ? 0 : minuteMs);
    for (let i = 0; i < 366 * 24 * 60; i++, t += minuteMs) if (cronMatches(spec, t)) return t;
    return undefined;
  }

  /** Runs every due minute of every schedule up to the clock's now, then removes expired volumes. */
  runDue(): Promise<void> {
    const next = this.#running.then(() => this.#runDueNow());
    this.#running = next.catch(() => undefined);
    return next;
  }

  /** Starts the loop that wakes at every minute of the clock. */
  start(): void {
    this.#loop ??= (async () => {
      const { clock } = this.#ctx;
      const signal = this.#stop.signal;
      while (!signal.aborted) {
        const now = clock.now();
        await clock.sleep(floorMinute(now) + minuteMs - now, signal);
        if (signal.aborted) break;
        await this.runDue().catch(() => undefined);
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
    await this.#running;
  }

  async #runDueNow(): Promise<void> {
    const now = this.#ctx.clock.now();
    const until = floorMinute(now);
    for (const s of this.all()) {
      const spec = parseCron(s.when);
      const task = parseCreatesv(s.command);
      const from = Math.max(s.lastMinute + minuteMs, until - (maxCatchUpMinutes - 1) * minuteMs);
      for (let t = from; t <= until; t += minuteMs) {
        if (spec === undefined || typeof task === 'string' || !cronMatches(spec, t)) continue;
        const name = expandSnapshotName(task.namePattern, t);
        const params = {
          name,
          readOnly: task.readOnly,
          ...(task.expirationHours === undefined ? {} : { expirationHours: task.expirationHours }),
          ...(task.retentionHours === undefined ? {} : { retentionHours: task.retentionHours }),
        };
        try {
          await createSnapshot(this.#ctx, task.parent, params);
          s.lastResult = `created ${name}`;
        } catch (err) {
          if (!(err instanceof SimError)) throw err;
          s.lastResult = `failed: ${err.desc}`;
        }
      }
      s.lastMinute = Math.max(s.lastMinute, until);
    }
    this.#expire(now);
    this.#ctx.save();
    this.#save();
  }

  #expire(now: number): void {
    for (const v of [...this.#ctx.state.volumes.values()]) {
      if (v.expirationTimeSec === undefined || v.expirationTimeSec * 1000 > now) continue;
      try {
        deleteVolume(this.#ctx, v.name);
      } catch (err) {
        if (!(err instanceof SimError)) throw err;
      }
    }
  }

  #save(): void {
    mkdirSync(join(this.#file, '..'), { recursive: true, mode: 0o700 });
    writeFileAtomicSync(this.#file, `${JSON.stringify({ schedules: this.all() }, null, 2)}\n`);
  }
}

function floorMinute(ms: number): number {
  return Math.floor(ms / minuteMs) * minuteMs;
}
