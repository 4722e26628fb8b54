/**
 * Work the simulator does some time after the request that asked for it (the second half of a role change), on the
 * simulator's clock: a test's ManualClock drives it, and stop() ends every wait and awaits what already runs, so a
 * stopped simulator keeps no timer and changes no state. Work still waiting at stop() is dropped, as an array that
 * went down mid-change leaves it half done.
 */
import type { Clock } from '../clock.js';

export class LaterWork {
  readonly #clock: Clock;
  readonly #stop = new AbortController();
  readonly #running = new Set<Promise<void>>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Runs `step` after `ms`; its failure is `step`'s to handle (nobody awaits it). */
  after(ms: number, step: () => Promise<void>): void {
    if (this.#stop.signal.aborted) return;
    const run = (async () => {
      await this.#clock.sleep(ms, this.#stop.signal);
      if (!this.#stop.signal.aborted) await step();
    })().catch(() => undefined);
    this.#running.add(run);
    void run.then(() => this.#running.delete(run));
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await Promise.all(this.#running);
  }
}
