import { loadConfig } from '../config/index.js';
import { UsageError } from '../errors.js';
import { CLUSTER_SECRETS_KEY, namedSecretKey, prefixedKey } from '../etcd/index.js';
import {
  checkClusterPassphrase,
  clusterKeyExists,
  listNamedSecrets,
  MaxSecretVersions,
  namedSecretHistory,
  PassphraseKeys,
  putNamedSecret,
  removeNamedSecret,
  rollbackNamedSecret,
  rotateClusterKey,
  secretNameProblem,
  SecretNameRule,
  type NamedSecretRecordV1,
  type NamedSecretsListing,
} from '../secrets/index.js';
import { obtainSecret, type StdinLines } from './input.js';
import { syncSecrets } from './secret-sync.js';
import { withEtcd } from './with-etcd.js';
import { ExitCodes, type Io } from './output.js';

export const secretUsage = `  hpe3parencryptor secret put NAME [<value>|-] [--value-file F] [--passphrase-file F]
                                                                   store a named secret in etcd (encrypted with the cluster secrets
                                                                   key; the first put makes that key from the passphrase)
  hpe3parencryptor secret list [--json]                            named secrets: key id, version, dates, which [backend].option uses each
  hpe3parencryptor secret history NAME [--json]                    a secret's kept versions (the last ${MaxSecretVersions}) and their dates
  hpe3parencryptor secret rollback NAME --to VERSION               make an earlier version's value current again (as a new version)
  hpe3parencryptor secret rm NAME [--force]                        delete a secret; refused while hpe.conf uses it, unless --force
  hpe3parencryptor secret rotate-key [<new passphrase>|-] [--passphrase-file F] [--new-passphrase-file F]
                                                                   replace the cluster secrets key by one made from a new passphrase
                                                                   (the current one is asked first) and re-encrypt every version
                                                                   of every named secret with it, in one etcd transaction
  hpe3parencryptor secret sync --file F [--dry-run] [--strict] [--json] [--passphrase-file F] [--value-file -]
                                                                   apply a sync file (which secrets exist, which [backend].option
                                                                   uses each): create the missing secrets (from hpe.conf's current
                                                                   value, else asked for), rewrite those options to $secret{NAME}`;

/** The options only `secret` commands read; the encryptor declares them with its own. */
export const secretOptions = {
  to: { type: 'string' },
  file: { type: 'string' },
  'dry-run': { type: 'boolean' },
  strict: { type: 'boolean' },
  'value-file': { type: 'string' },
  'new-passphrase-file': { type: 'string' },
} as const;

export interface SecretCommandContext {
  /** The arguments after `secret`. */
  args: string[];
  values: {
    json?: boolean;
    force?: boolean;
    to?: string;
    'value-file'?: string;
    'passphrase-file'?: string;
    'new-passphrase-file'?: string;
    file?: string;
    'dry-run'?: boolean;
    strict?: boolean;
  };
  io: Io;
  env: NodeJS.ProcessEnv;
  stdin: StdinLines;
  configPath: string;
}

/** A name from the command line; an invalid one is never echoed (a value typed in its place would be). */
function secretName(ctx: SecretCommandContext, command: string): string {
  const name = ctx.args[1];
  if (name === undefined) throw new UsageError(`secret ${command} needs a NAME`, `give the secret's name: ${SecretNameRule}`);
  const problem = secretNameProblem(name);
  if (problem !== undefined) throw new UsageError(`the secret name (argument 3 of \`secret ${command}\`) ${problem}`, `give a name of ${SecretNameRule}`);
  return name;
}

function noMoreArguments(ctx: SecretCommandContext, command: string, count: number): void {
  if (ctx.args.length > count) throw new UsageError(`secret ${command} takes ${count - 1} argument${count === 2 ? '' : 's'}, more were given`, 'see --help');
}

async function put(ctx: SecretCommandContext): Promise<number> {
  const name = secretName(ctx, 'put');
  noMoreArguments(ctx, 'put', 3);
  const valueArgument = ctx.args[2];
  const valueFile = ctx.values['value-file'];
  if (valueArgument !== undefined && valueFile !== undefined) throw new UsageError('the value is given twice (argument and --value-file)', 'give one of them');
  const config = await loadConfig(ctx.configPath);
  const result = await withEtcd(ctx.env, config, async (client) => {
    const firstKey = !(await clusterKeyExists(client));
    const passphrase = await obtainSecret(
      {
        file: ctx.values['passphrase-file'],
        what: 'cluster secrets passphrase',
        confirm: firstKey,
        missingFix: 'give --passphrase-file FILE, or --passphrase-file - and send it on standard input (before the value)',
      },
      ctx.stdin,
      ctx.io.err,
    );
    const value = await obtainSecret(
      {
        argument: valueArgument,
        file: valueFile,
        what: 'value',
        argumentWarning: 'warning: a value on the command line stays in shell history and shows in `ps`; prefer `-` (standard input) or --value-file',
        missingFix: 'give it as `-` and send it on standard input, or use --value-file FILE',
      },
      ctx.stdin,
      ctx.io.err,
    );
    return putNamedSecret(client, name, passphrase, value);
  });
  if (result.createdKey) ctx.io.err(`created the cluster secrets key ${result.kid} at ${prefixedKey(config.host.etcd.prefix, CLUSTER_SECRETS_KEY)}`);
  if (result.dropped > 0) ctx.io.err(`dropped the oldest version: a secret keeps its last ${MaxSecretVersions} versions`);
  ctx.io.out(`stored secret ${name} version ${result.version} (key ${result.kid}) at ${prefixedKey(config.host.etcd.prefix, namedSecretKey(name))}; use it in hpe.conf as $secret{${name}}`);
  return ExitCodes.ok;
}

function formatListing(listing: NamedSecretsListing, configPath: string): string[] {
  const { key } = listing;
  const lines = [
    key === null ? 'no cluster secrets key (the first `secret put` makes it)' : 'problem' in key ? `cluster secrets key unreadable: ${key.problem}` : `cluster secrets key ${key.kid} (created ${key.created})`,
  ];
  const width = Math.max(4, ...listing.secrets.map((s) => s.name.length));
  for (const s of listing.secrets) {
    const used = s.uses.length > 0 ? `used by ${s.uses.join(', ')}` : `not used in ${configPath}`;
    const state = s.problem !== undefined ? `damaged: ${s.problem}` : `version ${s.version}  key ${s.kid}  created ${s.created}  updated ${s.updated}`;
    lines.push(`${s.name.padEnd(width)}  ${state}  ${used}`);
  }
  if (listing.secrets.length === 0) lines.push('no named secrets in etcd');
  for (const m of listing.missing) lines.push(`missing ${m.name}: used by ${m.uses.join(', ')} but not in etcd — fix: \`hpe3parencryptor secret put ${m.name}\``);
  return lines;
}

async function list(ctx: SecretCommandContext): Promise<number> {
  noMoreArguments(ctx, 'list', 1);
  const config = await loadConfig(ctx.configPath);
  const listing = await withEtcd(ctx.env, config, (client) => listNamedSecrets(client, config));
  if (ctx.values.json) ctx.io.out(JSON.stringify({ config: ctx.configPath, ...listing }, null, 2));
  else for (const line of formatListing(listing, ctx.configPath)) ctx.io.out(line);
  return ExitCodes.ok;
}

function formatHistory(record: NamedSecretRecordV1): string[] {
  const last = record.versions.at(-1)?.version;
  return [
    `secret ${record.name}: created ${record.created}; ${record.versions.length} version${record.versions.length === 1 ? '' : 's'} kept (at most ${MaxSecretVersions})`,
    ...record.versions.map(
      (v) =>
        `  version ${String(v.version).padEnd(4)} key ${v.kid}  created ${v.created}${v.rolledBackFrom === undefined ? '' : `  rollback to version ${v.rolledBackFrom}`}${v.version === last ? '  (current)' : ''}`,
    ),
  ];
}

async function history(ctx: SecretCommandContext): Promise<number> {
  const name = secretName(ctx, 'history');
  noMoreArguments(ctx, 'history', 2);
  const config = await loadConfig(ctx.configPath);
  const record = await withEtcd(ctx.env, config, (client) => namedSecretHistory(client, name));
  if (ctx.values.json) {
    const versions = record.versions.map(({ value: _never, ...rest }) => rest);
    ctx.io.out(JSON.stringify({ name, created: record.created, current: versions.at(-1)?.version, versions }, null, 2));
  } else for (const line of formatHistory(record)) ctx.io.out(line);
  return ExitCodes.ok;
}

async function rollback(ctx: SecretCommandContext): Promise<number> {
  const name = secretName(ctx, 'rollback');
  noMoreArguments(ctx, 'rollback', 2);
  const to = ctx.values.to;
  if (to === undefined || !/^[1-9][0-9]{0,8}$/.test(to)) {
    throw new UsageError('secret rollback needs --to VERSION, a version number', `see the versions with \`hpe3parencryptor secret history ${name}\``);
  }
  const config = await loadConfig(ctx.configPath);
  const r = await withEtcd(ctx.env, config, (client) => rollbackNamedSecret(client, name, Number(to)));
  ctx.io.out(`secret ${name}: version ${r.version} is now current, with the value of version ${r.from}`);
  return ExitCodes.ok;
}

async function remove(ctx: SecretCommandContext): Promise<number> {
  const name = secretName(ctx, 'rm');
  noMoreArguments(ctx, 'rm', 2);
  const config = await loadConfig(ctx.configPath);
  await withEtcd(ctx.env, config, (client) => removeNamedSecret(client, name, config, ctx.values.force ?? false));
  ctx.io.out(`deleted secret ${name} (${prefixedKey(config.host.etcd.prefix, namedSecretKey(name))})`);
  return ExitCodes.ok;
}

async function rotateKey(ctx: SecretCommandContext): Promise<number> {
  noMoreArguments(ctx, 'rotate-key', 2);
  const newArgument = ctx.args[1];
  const newFile = ctx.values['new-passphrase-file'];
  if (newArgument !== undefined && newFile !== undefined) throw new UsageError('the new passphrase is given twice (argument and --new-passphrase-file)', 'give one of them');
  const config = await loadConfig(ctx.configPath);
  const r = await withEtcd(ctx.env, config, async (client) => {
    const currentPassphrase = await obtainSecret(
      {
        file: ctx.values['passphrase-file'],
        what: 'current cluster secrets passphrase',
        missingFix: 'give --passphrase-file FILE, or --passphrase-file - and send it on standard input (before the new one)',
      },
      ctx.stdin,
      ctx.io.err,
    );
    // Refused before the new passphrase is asked for; the key derived for this check serves the rotation.
    const current = new PassphraseKeys(currentPassphrase);
    await checkClusterPassphrase(client, current);
    const next = await obtainSecret(
      {
        argument: newArgument,
        file: newFile,
        what: 'new cluster secrets passphrase',
        confirm: true,
        argumentWarning: 'warning: a passphrase on the command line stays in shell history and shows in `ps`; prefer `-` (standard input) or --new-passphrase-file',
        missingFix: 'give it as `-` and send it on standard input (after the current one), or use --new-passphrase-file FILE',
      },
      ctx.stdin,
      ctx.io.err,
    );
    return rotateClusterKey(client, current, next);
  });
  for (const k of r.kept) {
    ctx.io.err(`secret ${k.name}: version${k.versions.length === 1 ? '' : 's'} ${k.versions.join(', ')} did not decrypt with key ${r.oldKid} and ${k.versions.length === 1 ? 'was' : 'were'} left as ${k.versions.length === 1 ? 'it was' : 'they were'}`);
  }
  for (const name of r.damaged) ctx.io.err(`secret ${name}: its record is damaged and was left as it was (see \`hpe3parencryptor secret list\`)`);
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  ctx.io.out(`cluster secrets key ${r.oldKid} replaced by ${r.newKid} at ${prefixedKey(config.host.etcd.prefix, CLUSTER_SECRETS_KEY)}; re-encrypted ${plural(r.versions, 'version')} of ${plural(r.secrets, 'secret')}`);
  return ExitCodes.ok;
}

async function sync(ctx: SecretCommandContext): Promise<number> {
  noMoreArguments(ctx, 'sync', 1);
  return syncSecrets(ctx);
}

const commands: Record<string, (ctx: SecretCommandContext) => Promise<number>> = { put, list, history, rollback, rm: remove, 'rotate-key': rotateKey, sync };

/** `hpe3parencryptor secret …`. */
export async function runSecretCommand(ctx: SecretCommandContext): Promise<number> {
  const [command] = ctx.args;
  const run = command === undefined ? undefined : commands[command];
  if (run === undefined) {
    throw new UsageError(command === undefined ? 'secret needs a command' : `unknown command secret ${command}`, `use secret ${Object.keys(commands).join(', ')}; see --help`);
  }
  const onlyFor: [keyof SecretCommandContext['values'], string[]][] = [
    ['to', ['rollback']],
    ['value-file', ['put', 'sync']],
    ['file', ['sync']],
    ['dry-run', ['sync']],
    ['strict', ['sync']],
    ['new-passphrase-file', ['rotate-key']],
  ];
  for (const [option, owners] of onlyFor) {
    if (ctx.values[option] !== undefined && !owners.includes(command as string)) {
      throw new UsageError(`--${option} is only for ${owners.map((o) => `\`secret ${o}\``).join(' and ')}`, 'see --help');
    }
  }
  return run(ctx);
}
