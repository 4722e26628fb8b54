import { parseArgs } from 'node:util';
import { loadConfig, resolveConfigPath, type HpeConfig } from '../config/index.js';
import { applyEtcdRoles, endpointsLabel, etcdctlCommands, planEtcdRoles, type EtcdRolesPlan } from '../etcd/index.js';
import { EtcdError, UsageError } from '../errors.js';
import { withEtcd } from './with-etcd.js';
import { ExitCodes, type Io } from './output.js';

const usage = `Usage:
  hpedockerplugin etcd-roles [--apply] [--plugin-user NAME] [--admin-user NAME] [--config PATH]

Prints the etcdctl commands that create the two etcd roles of this plugin cluster (keys under hpe.conf's
host_etcd_prefix) and their users:
  the plugin's  reads key records and secrets; reads and writes volume records, locks, intents and node presence
  the admin's   reads and writes every key under the prefix (hpe3parencryptor writes key records and secrets)
With --apply, creates whatever is missing through etcd's auth API as hpe.conf's etcd identity (which must hold
etcd's root role while authentication is enabled); running it again changes nothing.

Options:
  --apply             create the roles and users instead of printing the commands
  --plugin-user NAME  the plugin's etcd user (default: the role's name); with certificate auth, the plugin certificate's CN
  --admin-user NAME   the admin's etcd user (default: the role's name)
  --config PATH       hpe.conf to use (default: $HPEDOCKERPLUGIN_CONFIG, else /etc/hpedockerplugin/hpe.conf)
  -h, --help          this text`;

const options = {
  apply: { type: 'boolean' },
  'plugin-user': { type: 'string' },
  'admin-user': { type: 'string' },
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function describeCluster(config: HpeConfig, plan: EtcdRolesPlan): string {
  return plan.prefix === '' ? `keys at upstream's paths (no host_etcd_prefix in ${config.file})` : `host_etcd_prefix ${plan.prefix} (${config.file})`;
}

function printCommands(io: Io, config: HpeConfig, plan: EtcdRolesPlan): void {
  const endpoints = endpointsLabel(config.host.etcd);
  io.out(`# etcd roles for ${describeCluster(config, plan)}`);
  io.out(`# run as etcd's root user (add --cacert/--cert/--key or --user root as for any etcdctl call to this etcd)`);
  io.out(`export ETCDCTL_API=3 ETCDCTL_ENDPOINTS=${endpoints}`);
  for (const line of etcdctlCommands(plan)) io.out(line);
  io.out(`# if authentication is not on yet: etcdctl user add root && etcdctl user grant-role root root && etcdctl auth enable`);
  io.out(`# then, in hpe.conf [DEFAULT] of each plugin host: host_etcd_user = ${plan.plugin.user} with host_etcd_password = $file{...},`);
  io.out(`#   or a client certificate with CN ${plan.plugin.user}; the admin's hpe.conf (hpe3parencryptor) names ${plan.admin.user} the same way`);
}

async function apply(io: Io, config: HpeConfig, plan: EtcdRolesPlan, env: NodeJS.ProcessEnv): Promise<void> {
  try {
    await withEtcd(env, config, async (client) => {
      io.out(`# applying the etcd roles for ${describeCluster(config, plan)} on ${client.endpoint}`);
      for (const line of await applyEtcdRoles(client, plan)) io.out(line);
    });
  } catch (e) {
    if (e instanceof EtcdError && (e.reason === 'permission' || e.reason === 'auth')) {
      throw new EtcdError(
        e.endpoint,
        e.reason,
        e.message.replace(/^etcd \S+: \w+: /, ''),
        `--apply needs an etcd identity with etcd's root role: use an hpe.conf whose host_etcd_user (or client certificate CN) is root, or run the commands \`hpedockerplugin etcd-roles\` prints as root`,
        { cause: e },
      );
    }
    throw e;
  }
}

/** `hpedockerplugin etcd-roles`: the etcdctl lines of the plugin's and the admin's roles, or `--apply` them. */
export async function runEtcdRoles(argv: string[], io: Io, env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true });
  if (values.help) {
    io.out(usage);
    return ExitCodes.ok;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`, 'see hpedockerplugin etcd-roles --help');
  for (const flag of ['plugin-user', 'admin-user'] as const) {
    const name = values[flag];
    if (name !== undefined && !/^[A-Za-z0-9._@-]+$/.test(name)) throw new UsageError(`--${flag} ${name} is not an etcd user name`, 'use letters, digits and . _ @ - only');
  }
  const config = await loadConfig(resolveConfigPath(values.config, env));
  const plan = planEtcdRoles(config.host.etcd.prefix ?? '', { plugin: values['plugin-user'], admin: values['admin-user'] });
  if (values.apply) await apply(io, config, plan, env);
  else printCommands(io, config, plan);
  return ExitCodes.ok;
}
