import { resolve } from 'node:path';
import { resolveConfigPath } from '../config/index.js';
import { defaultStateDir, formatReport, readLastReport, runPrerequisiteChecks, type LastReport } from '../preflight/index.js';
import { ExitCodes, type Io } from './output.js';

export interface CheckCommandOptions {
  /** hpe.conf; default: $HPEDOCKERPLUGIN_CONFIG, else /etc/hpedockerplugin/hpe.conf. */
  config?: string;
  json?: boolean;
  /** The plugin's state folder, whose last start report is shown too. */
  state?: string;
}

/** The state folder keeps the last start of whichever config the plugin ran with, not necessarily the one checked now. */
function isForConfig(last: LastReport, configFile: string): boolean {
  return resolve(last.report.configFile) === resolve(configFile);
}

/** The plugin's own view at its last start, which may differ from this host command's (other env, other mounts). */
function formatLastReport(last: LastReport, configFile: string): string {
  const failed = last.report.results.filter((r) => r.status === 'FAIL');
  const which = isForConfig(last, configFile) ? `with ${last.report.configFile}` : `was for ${last.report.configFile}, not this config`;
  const head = `\nthe plugin's last start ${which} (${last.report.checkedAt}, ${last.attempts} attempt${last.attempts === 1 ? '' : 's'}): ${
    last.report.passed ? 'passed' : `refused, ${failed.length} failed`
  }`;
  return [head, ...failed.map((r) => `  FAIL ${r.subject}: ${r.detail}${r.fix ? ` — fix: ${r.fix}` : ''}`)].join('\n');
}

/** `hpedockerplugin check`: every prerequisite, arrays included, then the plugin's last start report. */
export async function runCheck(options: CheckCommandOptions, io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const configFile = resolveConfigPath(options.config, env);
  const { report } = await runPrerequisiteChecks({ configFile, env, probeArrays: true });
  const last = await readLastReport(options.state ?? defaultStateDir);
  if (options.json) {
    io.out(JSON.stringify(last === undefined ? report : { ...report, pluginLastStart: { ...last, forThisConfig: isForConfig(last, configFile) } }, null, 2));
  } else {
    io.out(formatReport(report));
    if (last !== undefined) io.out(formatLastReport(last, configFile));
  }
  return report.passed ? ExitCodes.ok : ExitCodes.failed;
}
