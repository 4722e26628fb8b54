import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';
import { DefaultStateDir } from '../config/index.js';
import { runCheck } from './check.js';
import { runDemo } from './demo.js';
import { runEtcdRoles } from './etcd-roles.js';
import { runServe } from './serve.js';
import { runSimulator } from './simulator.js';
import { ExitCodes, reportError, type Io } from './output.js';

const pluginUsage = `Usage:
  hpedockerplugin check [--json] [--config PATH] [--state DIR]
                                                   check every prerequisite of the plugin, arrays included: one line per check
                                                   (ok / warn / FAIL with its fix), then the plugin's own last start report;
                                                   exit 0 only when nothing FAILs
  hpedockerplugin serve [--config PATH] [--socket PATH] [--state DIR]
                                                   serve Docker's VolumeDriver protocol once every prerequisite passes (see serve --help)
  hpedockerplugin simulator [--listen HOST:PORT] [--state DIR] ...
                                                   run the bundled 3PAR WSAPI simulator (see simulator --help)
  hpedockerplugin etcd-roles [--apply] [--plugin-user NAME] [--admin-user NAME] [--config PATH]
                                                   print (or apply) the etcdctl commands of the plugin's and the admin's etcd
                                                   roles for hpe.conf's host_etcd_prefix (see etcd-roles --help)
  hpedockerplugin demo [--dir D] | demo --stop     a throw-away etcd, two simulators, a demo hpe.conf encrypted and checked, and the
                                                   managed plugin with a few volumes, all in D (default ./.demo); --stop ends it all

Options:
  --config PATH   hpe.conf to use (default: $HPEDOCKERPLUGIN_CONFIG, else /etc/hpedockerplugin/hpe.conf)
  --json          print the report as JSON (no secret values are ever included)
  --state DIR     the plugin's state folder, whose last start report is shown too (default ${DefaultStateDir})
  --dir D         with demo: its folder
  --stop          with demo: stop it and remove its folder
  -h, --help      this text`;

const options = {
  config: { type: 'string' },
  json: { type: 'boolean' },
  dir: { type: 'string' },
  state: { type: 'string' },
  stop: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function runPluginCli(argv: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  try {
    // serve and simulator have options of their own
    if (argv[0] === 'serve') return await runServe(argv.slice(1), io, env);
    if (argv[0] === 'simulator') return await runSimulator(argv.slice(1), io);
    if (argv[0] === 'etcd-roles') return await runEtcdRoles(argv.slice(1), io, env);
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
    return await runCheck({ config: values.config, json: values.json, state: values.state }, io, env);
  } catch (err) {
    return reportError(io, err);
  }
}
