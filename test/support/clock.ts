/**
 * A clock tests drive by hand: `sleep` resolves only when `advance` moves time past its end, so waiting logic
 * is tested without real delays. `sleeps` records every wait asked for.
 */
import type { Clock } from '../../src/clock.js';

interface Sleeper {
  until: number;
  resolve: () => void;
}

export class ManualClock implements Clock {
  readonly sleeps: number[] = [];
  #now: number;
  #sleepers: Sleeper[] = [];

  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const sleeper: Sleeper = { until: this.#now + ms, resolve };
      this.#sleepers.push(sleeper);
      signal?.addEventListener(
        'abort',
        () => {
          this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
          resolve();
        },
        { once: true },
      );
    });
  }

  /** Moves time forward by `ms` and wakes every sleeper whose end has come; lets their continuations run. */
  async advance(ms: number): Promise<void> {
    this.#now += ms;
    const due = this.#sleepers.filter((s) => s.until <= this.#now);
    this.#sleepers = this.#sleepers.filter((s) => s.until > this.#now);
    for (const s of due) s.resolve();
    await flush();
  }

  /** Jumps to the earliest pending sleeper's end and wakes it; false when none waits. */
  async next(): Promise<boolean> {
    await flush();
    const first = this.#sleepers.reduce<Sleeper | undefined>((a, s) => (a === undefined || s.until < a.until ? s : a), undefined);
    if (first === undefined) return false;
    await this.advance(first.until - this.#now);
    return true;
  }

  get pending(): number {
    return this.#sleepers.length;
  }
}

/** A clock whose sleeps return at once while time still moves forward: for tests that only count waits. */
export class InstantClock implements Clock {
  readonly sleeps: number[] = [];
  #now: number;

  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.#now += ms;
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}
