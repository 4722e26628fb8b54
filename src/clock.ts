/**
 * The one clock and the one retry helper. Every path that waits (the start-up gate, backends' re-initialisation,
 * the WSAPI client's retries and task polls, locks, the etcd gateway) takes a `Clock`, so tests drive time with
 * `ManualClock` (test/support) instead of sleeping.
 */
import { HpeError } from './errors.js';

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /**
   * Resolves after `ms`, or early (without error) when `signal` aborts. A pending sleep keeps the process alive, as
   * any wait the process is doing must (a CLI waiting between retries would otherwise exit mid-await); background
   * loops end theirs with their abort signal when closed.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener('abort', done, { once: true });
    }),
};

/** Capped exponential backoff: `initialMs · factor^(attempt-1)`, at most `maxMs`. */
export interface Backoff {
  initialMs: number;
  maxMs: number;
  /** Default 2. */
  factor?: number;
}

/** The wait after failed attempt number `attempt` (1-based). */
export function backoffDelay(backoff: Backoff, attempt: number): number {
  return Math.min(backoff.maxMs, backoff.initialMs * (backoff.factor ?? 2) ** Math.max(0, attempt - 1));
}

export interface RetryOptions {
  /** Tries in all, the first included. Default: unbounded (then `deadlineMs` or `signal` must end it). */
  attempts?: number;
  /** No new attempt starts once the next wait would end after `clock.now() + deadlineMs` (measured at the start). */
  deadlineMs?: number;
  /** A fixed wait in ms, or a backoff. */
  delay: number | Backoff;
  /** Whether a failure is worth another try; default: every failure. */
  retryable?: (err: unknown, attempt: number) => boolean;
  clock?: Clock;
  /** Stops waiting and rethrows the last failure when aborted. */
  signal?: AbortSignal;
  /** Called before each wait, e.g. to log. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/** Runs `fn` until it resolves, the failure is not retryable, or attempts / deadline / signal run out (rethrows the last failure). */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const clock = options.clock ?? systemClock;
  const deadline = options.deadlineMs === undefined ? Infinity : clock.now() + options.deadlineMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      const wait = typeof options.delay === 'number' ? options.delay : backoffDelay(options.delay, attempt);
      const more =
        (options.attempts === undefined || attempt < options.attempts) &&
        clock.now() + wait < deadline &&
        options.signal?.aborted !== true &&
        (options.retryable?.(err, attempt) ?? true);
      if (!more) throw err;
      options.onRetry?.(err, attempt, wait);
      await clock.sleep(wait, options.signal);
      if (options.signal?.aborted === true) throw err;
    }
  }
}

export interface WaitForOptions {
  /** Default 10 s. */
  timeoutMs?: number;
  /** Default 50 ms. */
  intervalMs?: number;
  /** Default: the system clock. */
  clock?: Clock;
  /** The error when time runs out; default an HpeError `timed out waiting for <what>`. */
  timeoutError?: () => Error | Promise<Error>;
}

/**
 * Polls `probe` until it answers neither undefined nor false, and returns that answer. A probe that throws ends the
 * wait with its error (catch inside the probe what only means "not yet").
 */
export async function waitFor<T>(what: string, probe: () => T | Promise<T>, options: WaitForOptions = {}): Promise<Exclude<T, undefined | false>> {
  const { clock = systemClock, timeoutMs = 10_000, intervalMs = 50 } = options;
  const deadline = clock.now() + timeoutMs;
  for (;;) {
    const answer = await probe();
    if (answer !== undefined && answer !== false) return answer as Exclude<T, undefined | false>;
    if (clock.now() > deadline) {
      throw (await options.timeoutError?.()) ?? new HpeError(`timed out waiting for ${what} (${timeoutMs} ms)`, `find out why ${what} did not happen in time`);
    }
    await clock.sleep(intervalMs);
  }
}
