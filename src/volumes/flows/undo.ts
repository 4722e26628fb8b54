/**
 * The undo stack of a create flow: every completed array step pushes how to take it back; on a later failure
 * the steps run in reverse. A failing undo step does not stop the others; what failed is returned so the flow
 * can keep its intent for `repair()`.
 */
import type { Logger } from '../../log.js';
import { describe } from './failures.js';

export class Undo {
  readonly #steps: { what: string; run: () => Promise<unknown> }[] = [];

  push(what: string, run: () => Promise<unknown>): void {
    this.#steps.push({ what, run });
  }

  get size(): number {
    return this.#steps.length;
  }

  /** Runs every step in reverse order; returns the descriptions of the steps that failed. */
  async run(logger: Pick<Logger, 'warn'>, context: Record<string, unknown>): Promise<string[]> {
    const failed: string[] = [];
    for (const step of this.#steps.splice(0).reverse()) {
      try {
        await step.run();
      } catch (err) {
        failed.push(`${step.what} (${describe(err)})`);
        logger.warn({ ...context, step: step.what, err: describe(err) }, 'undo step failed; repair() will finish it');
      }
    }
    return failed;
  }
}
