import { parseArgs } from 'node:util';
import { resolveConfigPath } from '../config/index.js';
import { UsageError } from '../errors.js';
import { formatReport, runPrerequisiteChecks } from '../preflight/index.js';
import { runDemo } from './demo.js';
import { ExitCodes, reportError, type Io } from './output.js';

export const pluginUsage = `Usage:
  hpedockerplugin check [--json] [--config PATH]   check every prerequisite of the plugin: one line per check (ok / warn / FAIL with its fix);
                                                   exit 0 only when nothing FAILs
  hpedockerplugin demo [--dir D] | demo --stop     start a throw-away etcd, write, encrypt and check a demo hpe.conf in D (default ./.demo);
                                                   --stop ends it and removes D

Options:
  --config PATH   hpe.conf to use (default: $HPEDOCKERPLUGIN_CONFIG, else /etc/hpedockerplugin/hpe.conf)
  --json          print the report as JSON (no secret values are ever included)
  --dir D         with demo: its folder
  --stop          with demo: stop it and remove its folder
  -h, --help      this text`;

const options = {
  config: { type: 'string' },
  json: { type: 'boolean' },
  dir: { type: 'string' },
  stop: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function runPluginCli(argv: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true });
    if (values.help) {
      io.out(pluginUsage);
      return ExitCodes.ok;
    }
    const [command, ...rest] = positionals;
    if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`, 'see --help');
    if (command === 'demo') return await runDemo({ dir: values.dir, stop: values.stop }, io);
    if (command !== 'check') {
      throw new UsageError(command === undefined ? 'no command given' : `unknown command ${command}`, 'use `hpedockerplugin check` or `hpedockerplugin demo`; see --help');
    }
    const { report } = await runPrerequisiteChecks({ configFile: resolveConfigPath(values.config, env), env });
    io.out(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
    return report.passed ? ExitCodes.ok : ExitCodes.failed;
  } catch (err) {
    return reportError(io, err);
  }
}
