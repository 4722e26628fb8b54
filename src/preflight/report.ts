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
  const failed = report.results.filter((r) => r.status === 'FAIL').length;
  const warned = report.results.filter((r) => r.status === 'warn').length;
  lines.push(
    failed === 0
      ? `passed: every prerequisite is met${warned > 0 ? ` (${warned} warning${warned === 1 ? '' : 's'})` : ''}`
      : `failed: ${failed} prerequisite${failed === 1 ? ' is' : 's are'} not met; the plugin will not start until ${failed === 1 ? 'it passes' : 'they pass'}`,
  );
  return lines.join('\n');
}
