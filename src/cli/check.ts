import { resolve } from 'node:path';
import { DefaultStateDir, resolveConfigPath } from '../config/index.js';
import { formatReport, readLastReport, runPrerequisiteChecks, type LastReport, type PrerequisiteReport } from '../preflight/index.js';
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
function formatLastReport(last: LastReport, configFile: string, now: PrerequisiteReport): string {
  const failed = last.report.results.filter((r) => r.status === 'FAIL');
  const which = isForConfig(last, configFile) ? `with ${last.report.configFile}` : `was for ${last.report.configFile}, not this config`;
  const head = `\nthe plugin's last start ${which} (${last.report.checkedAt}, ${last.attempts} attempt${last.attempts === 1 ? '' : 's'}): ${
    last.report.passed ? 'passed' : `refused, ${failed.length} failed`
  }`;
  return [head, ...failed.map((r) => `  FAIL ${r.subject}: ${r.detail}${r.fix ? ` — fix: ${r.fix}` : ''}`), ...otherNodeId(last.report, now)].join('\n');
}

/** The plugin sees its own settings (HPE_NODE_ID), which a host command does not: say when its id differs. */
function otherNodeId(then: PrerequisiteReport, now: PrerequisiteReport): string[] {
  const nodeId = (r: PrerequisiteReport) => r.results.find((x) => x.check === 'node.id' && x.status === 'ok')?.detail;
  const plugin = nodeId(then);
  return plugin === undefined || plugin === nodeId(now) ? [] : [`  node id at that start: ${plugin}`];
}

/** `hpedockerplugin check`: every prerequisite, arrays included, then the plugin's last start report. */
export async function runCheck(options: CheckCommandOptions, io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const configFile = resolveConfigPath(options.config, env);
  const stateDir = options.state ?? DefaultStateDir;
  const { report } = await runPrerequisiteChecks({ configFile, stateDir, env, probeArrays: true });
  const last = await readLastReport(stateDir);
  if (options.json) {
    io.out(JSON.stringify(last === undefined ? report : { ...report, pluginLastStart: { ...last, forThisConfig: isForConfig(last, configFile) } }, null, 2));
  } else {
    io.out(formatReport(report));
    if (last !== undefined) io.out(formatLastReport(last, configFile, report));
  }
  return report.passed ? ExitCodes.ok : ExitCodes.failed;
}
