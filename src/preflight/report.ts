/** The prerequisites report: what `hpedockerplugin check` prints and what the start-up gate decides on. */

export const CheckStatuses = ['ok', 'warn', 'FAIL'] as const;
export type CheckStatus = (typeof CheckStatuses)[number];

export interface CheckResult {
  /** Stable identifier, e.g. `config.parse`, `etcd.member`, `secrets`; for scripts reading --json. */
  check: string;
  status: CheckStatus;
  /** What was checked, e.g. `etcd 127.0.0.1:2379` or `secrets [DEFAULT]`. */
  subject: string;
  detail: string;
  /** Present on FAIL and warn: what the admin should do. */
  fix?: string;
  /** On FAIL: the same check may pass later with no change by the admin (etcd still starting). */
  retryable?: boolean;
}

export interface PrerequisiteReport {
  checkedAt: string;
  configFile: string;
  results: CheckResult[];
  /** True when no check failed; warnings do not block. */
  passed: boolean;
}

export function buildReport(configFile: string, results: CheckResult[], now: Date): PrerequisiteReport {
  return { checkedAt: now.toISOString(), configFile, results, passed: results.every((r) => r.status !== 'FAIL') };
}

/** One line per check: `ok`, `warn` or `FAIL`, what, detail, and on failure the fix. */
export function formatReport(report: PrerequisiteReport): string {
  const lines = report.results.map((r) => {
    const fix = r.fix === undefined ? '' : ` — fix: ${r.fix}`;
    return `${r.status.padEnd(4)} ${r.subject}: ${r.detail}${fix}`;
  });
  lines.push(verdict(report.results));
  return lines.join('\n');
}

/** Array logins are checked by `hpedockerplugin check` only: the start-up gate skips them, so they never stop the plugin. */
const isPrimaryArray = (r: CheckResult) => r.check === 'array';
/** A replication target's failure refuses only its backend's replicated operations. */
const isTargetArray = (r: CheckResult) => r.check === 'array.replication';

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The failing array checks and what they mean once the plugin runs; undefined when none fails. */
function arraysVerdict(failed: CheckResult[]): { count: string; effect: string } | undefined {
  const primaries = failed.filter(isPrimaryArray).length;
  const targets = failed.filter(isTargetArray).length;
  const counts: string[] = [];
  const effects: string[] = [];
  if (primaries > 0) {
    counts.push(plural(primaries, 'array check fails', 'array checks fail'));
    effects.push(primaries === 1 ? 'that backend stays FAILED until it passes' : 'those backends stay FAILED until they pass');
  }
  if (targets > 0) {
    counts.push(plural(targets, 'replication target check fails', 'replication target checks fail'));
    effects.push(
      targets === 1
        ? 'only the replicated operations of its backend are refused until it passes (plain volumes keep working)'
        : 'only the replicated operations of their backends are refused until they pass (plain volumes keep working)',
    );
  }
  return counts.length === 0 ? undefined : { count: counts.join(', '), effect: effects.join('; ') };
}

function verdict(results: CheckResult[]): string {
  const failed = results.filter((r) => r.status === 'FAIL');
  const blocking = failed.filter((r) => !isPrimaryArray(r) && !isTargetArray(r)).length;
  const warned = results.filter((r) => r.status === 'warn').length;
  if (failed.length === 0) return `passed: every prerequisite is met${warned > 0 ? ` (${plural(warned, 'warning', 'warnings')})` : ''}`;
  const arrays = arraysVerdict(failed);
  if (blocking === 0) return `failed: ${arrays!.count}; the plugin starts (its start-up gate does not log in to arrays), but ${arrays!.effect}`;
  const head = `failed: ${plural(blocking, 'prerequisite is', 'prerequisites are')} not met; the plugin will not start until ${blocking === 1 ? 'it passes' : 'they pass'}`;
  return arrays === undefined ? head : `${head}. ${arrays.count} too; once the plugin starts, ${arrays.effect}`;
}
