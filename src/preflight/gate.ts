import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { writeFileAtomic } from '../files.js';
import { runPrerequisiteChecks, type CheckOptions, type PrerequisiteOutcome } from './checks.js';
import type { PrerequisiteReport } from './report.js';

/** Where the plugin keeps its last start report, inside its state folder (host: the `state` mount's source). */
export const lastReportFile = 'last-report.json';
export const defaultStateDir = '/var/lib/hpedockerplugin';

export interface GateOptions extends CheckOptions {
  /** How long retryable failures (etcd not answering yet) are retried before giving up. */
  waitMs: number;
  retryEveryMs?: number;
  /** Folder for the last report, so `hpedockerplugin check` can show why the plugin refused to start. */
  stateDir?: string;
  sleep?: (ms: number) => Promise<void>;
  clock?: () => number;
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

/**
 * The start-up gate: runs every prerequisite check, retrying while the only failures are ones that may pass
 * by themselves (etcd still starting) and `waitMs` has not run out. A failure that needs the admin (broken
 * hpe.conf, missing key, tampered value) ends the wait at once. The last report is saved either way.
 */
export async function passGate(options: GateOptions): Promise<PrerequisiteOutcome & { attempts: number }> {
  const sleep = options.sleep ?? ((ms: number) => delay(ms));
  const clock = options.clock ?? Date.now;
  const deadline = clock() + options.waitMs;
  for (let attempt = 1; ; attempt++) {
    const outcome = await runPrerequisiteChecks(options);
    options.onAttempt?.(outcome.report, attempt);
    const retry = !outcome.report.passed && onlyRetryableFailures(outcome.report) && clock() + (options.retryEveryMs ?? 500) < deadline;
    if (!retry) {
      if (options.stateDir !== undefined) {
        await saveLastReport(options.stateDir, { source: 'plugin start', attempts: attempt, report: outcome.report }).catch(() => undefined);
      }
      return { ...outcome, attempts: attempt };
    }
    await sleep(options.retryEveryMs ?? 500);
  }
}
