import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { retry, type Clock } from '../clock.js';
import { writeFileAtomic } from '../files.js';
import { runPrerequisiteChecks, type CheckOptions, type PrerequisiteOutcome } from './checks.js';
import type { PrerequisiteReport } from './report.js';

/** Where the plugin keeps its last start report, inside its state folder (host: the `state` mount's source). */
export const lastReportFile = 'last-report.json';

export interface GateOptions extends CheckOptions {
  /** How long retryable failures (etcd not answering yet) are retried before giving up. */
  waitMs: number;
  retryEveryMs?: number;
  /** Measures the window and waits between attempts. Default: the system clock. */
  clock?: Clock;
  onAttempt?: (report: PrerequisiteReport, attempt: number) => void;
}

export interface LastReport {
  /** Who wrote it: the plugin process at start. */
  source: 'plugin start';
  attempts: number;
  report: PrerequisiteReport;
}

async function saveLastReport(stateDir: string, last: LastReport): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(join(stateDir, lastReportFile), `${JSON.stringify(last, null, 2)}\n`, { mode: 0o600 });
}

export async function readLastReport(stateDir: string): Promise<LastReport | undefined> {
  try {
    return JSON.parse(await readFile(join(stateDir, lastReportFile), 'utf8')) as LastReport;
  } catch {
    return undefined;
  }
}

function onlyRetryableFailures(report: PrerequisiteReport): boolean {
  const failed = report.results.filter((r) => r.status === 'FAIL');
  return failed.length > 0 && failed.every((r) => r.retryable === true);
}

/** An attempt whose only failures may pass by themselves: worth another try while the window lasts. */
class NotYetPassed extends Error {
  constructor(readonly outcome: PrerequisiteOutcome) {
    super('prerequisites not met yet');
  }
}

/**
 * The start-up gate: runs every prerequisite check, retrying while the only failures are ones that may pass
 * by themselves (etcd still starting) and `waitMs` has not run out. A failure that needs the admin (broken
 * hpe.conf, missing key, tampered value) ends the wait at once. The last report is saved either way.
 */
export async function passGate(options: GateOptions): Promise<PrerequisiteOutcome & { attempts: number }> {
  let attempts = 0;
  let outcome: PrerequisiteOutcome;
  try {
    outcome = await retry(
      async (attempt) => {
        attempts = attempt;
        const checked = await runPrerequisiteChecks(options);
        options.onAttempt?.(checked.report, attempt);
        if (!checked.report.passed && onlyRetryableFailures(checked.report)) throw new NotYetPassed(checked);
        return checked;
      },
      {
        deadlineMs: options.waitMs,
        delay: options.retryEveryMs ?? 500,
        retryable: (err) => err instanceof NotYetPassed,
        clock: options.clock,
      },
    );
  } catch (err) {
    if (!(err instanceof NotYetPassed)) throw err;
    outcome = err.outcome;
  }
  if (options.stateDir !== undefined) {
    await saveLastReport(options.stateDir, { source: 'plugin start', attempts, report: outcome.report }).catch(() => undefined);
  }
  return { ...outcome, attempts };
}
