import { parseArgs } from 'node:util';
import type { HpeConfig } from '../config/index.js';
import { loadConfig, resolveConfigPath } from '../config/index.js';
import { findEnabledHpePlugins } from '../docker/index.js';
import { UsageError } from '../errors.js';
import { keyRecordKey, prefixedKey } from '../etcd/index.js';
import {
  backendsToEncrypt,
  checkBackendName,
  deleteBackendKey,
  describeSecretStatus,
  encryptConfigFile,
  encryptPassword,
  loadKeyLookups,
  migrateLegacyBackend,
  resolveEtcdPassword,
  rotateBackendKey,
  type BackendSecretStatus,
} from '../secrets/index.js';
import { obtainSecret, StdinLines } from './input.js';
import { pluginEnabledError } from './plugin-guard.js';
import { runSecretCommand, secretOptions, secretUsage } from './secret-commands.js';
import { withEtcd } from './with-etcd.js';
import { ExitCodes, reportError, type Io } from './output.js';

const encryptorUsage = `Usage:
  hpe3parencryptor -a <passphrase|-> <password|-> [--backend B]   encrypt one password (prints SUCCESSFUL: Encrypted password: <value>)
  hpe3parencryptor -d [--backend B] [--force]                      delete the backend's key (prints Key Successfully deleted / Key not present)
  hpe3parencryptor encrypt-config [--backend B | --all] [<passphrase|->]
                                                                   encrypt every plain password of hpe.conf in place (asks for
                                                                   no passphrase when nothing is plain); backends whose keys come
                                                                   from different passphrases are encrypted one --backend at a time
  hpe3parencryptor rotate --backend B [<new passphrase|->]         move a backend to a new passphrase, re-encrypting in place
  hpe3parencryptor migrate [--backend B | --all]                   turn py-3parencryptor (legacy) values into enc:v1 in place
  hpe3parencryptor status [--json]                                 per backend: key id, and whether each password is plain/encrypted/legacy/placeholder/named
${secretUsage}

Options:
  --config PATH            hpe.conf to use (default: $HPEDOCKERPLUGIN_CONFIG, else /etc/hpedockerplugin/hpe.conf)
  --backend B              section of hpe.conf (default: DEFAULT)
  --passphrase-file F      read the passphrase (for rotate: the new one; for secret rotate-key: the
                           current one) from file F; "-" is standard input
  --plugin-name N          the managed plugin that must be disabled for -a and -d (default: any plugin serving hpe.sock)
  --force                  with -d: delete the key even though hpe.conf still holds values encrypted with it;
                           with secret rm: delete the secret even though hpe.conf uses it
  --value-file F           secret put: read the value from file F; "-" is standard input;
                           secret sync: only "-", the values it must ask for, one a line in the file's order
  --new-passphrase-file F  secret rotate-key: read the new cluster secrets passphrase from file F; "-" is standard input
  --to VERSION             secret rollback: the version whose value becomes current
  --file F                 secret sync: the sync file (JSON: which secrets exist, which [backend].option uses each)
  --dry-run                secret sync: print what would change; write nothing, ask for nothing
  --strict                 secret sync: a use naming a backend or option this hpe.conf lacks is an error, not a note
  -h, --help               this text

Secrets: give "-" to read the passphrase (and then the password) from standard input, one per line;
with a terminal and no value, both are asked for without echo. A passphrase on the command line
stays in shell history: prefer "-" or --passphrase-file.

Named secrets: a password option may be $secret{NAME}, NAME being 1 to 64 characters of A-Z a-z 0-9 . _ -
starting with a letter or digit. The value lives once in etcd at /secrets/NAME, encrypted with the cluster
secrets key (/secrets-key, made from its own passphrase by the first \`secret put\`). \`secret put\` reads the
passphrase with --passphrase-file (- is standard input, first line) or at a hidden prompt, then the value.`;

const options = {
  a: { type: 'boolean', short: 'a' },
  d: { type: 'boolean', short: 'd' },
  backend: { type: 'string' },
  all: { type: 'boolean' },
  config: { type: 'string' },
  'passphrase-file': { type: 'string' },
  'plugin-name': { type: 'string' },
  force: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  ...secretOptions,
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];

interface Context {
  values: Values;
  positionals: string[];
  io: Io;
  env: NodeJS.ProcessEnv;
  stdin: StdinLines;
  configPath: string;
}

/** Upstream's prerequisites for -a and -d: our plugin must not be enabled (it reads keys only when it starts). */
async function requirePluginDisabled(ctx: Context): Promise<void> {
  const probe = await findEnabledHpePlugins({ pluginName: ctx.values['plugin-name'], dockerHost: ctx.env.DOCKER_HOST });
  if (!probe.reachable) {
    ctx.io.err(`warning: cannot ask Docker whether the hpe plugin is enabled (${probe.detail}); going on as if it is not`);
    return;
  }
  const [enabled] = probe.enabled;
  if (enabled !== undefined) throw pluginEnabledError(enabled);
}

function chosenBackends(ctx: Context, config: HpeConfig): string[] {
  if (ctx.values.all) {
    if (ctx.values.backend !== undefined) throw new UsageError('--all and --backend exclude each other', 'give one of them');
    return config.backends.map((b) => b.name);
  }
  const name = ctx.values.backend ?? 'DEFAULT';
  checkBackendName(config, name);
  return [name];
}

async function addPassword(ctx: Context): Promise<number> {
  const [first, second, ...rest] = ctx.positionals;
  if (rest.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify('…')} after the password`, 'see --help');
  const fromFile = ctx.values['passphrase-file'] !== undefined;
  const passArg = fromFile ? undefined : first;
  const pwArg = fromFile ? first : second;
  if (fromFile && second !== undefined) throw new UsageError('with --passphrase-file, give only the password', 'see --help');
  const config = await loadConfig(ctx.configPath);
  const backend = ctx.values.backend ?? 'DEFAULT';
  checkBackendName(config, backend);
  await requirePluginDisabled(ctx);
  const passphrase = await obtainSecret({ argument: passArg, file: ctx.values['passphrase-file'], what: 'passphrase' }, ctx.stdin, ctx.io.err);
  const password = await obtainSecret({ argument: pwArg, what: 'password' }, ctx.stdin, ctx.io.err);
  const { value, kid, createdKey } = await withEtcd(ctx.env, config, (client) => encryptPassword(client, backend, passphrase, password));
  if (createdKey) ctx.io.err(`created key ${kid} for backend ${backend} at ${prefixedKey(config.host.etcd.prefix, keyRecordKey(backend))}`);
  ctx.io.out(`SUCCESSFUL: Encrypted password: ${value}`);
  return ExitCodes.ok;
}

async function deleteKey(ctx: Context): Promise<number> {
  if (ctx.positionals.length > 0) throw new UsageError('-d takes no arguments', 'see --help');
  const config = await loadConfig(ctx.configPath);
  const backend = ctx.values.backend ?? 'DEFAULT';
  if (!ctx.values.force) checkBackendName(config, backend);
  await requirePluginDisabled(ctx);
  const result = await withEtcd(ctx.env, config, (client) => deleteBackendKey(client, backend, config, ctx.values.force ?? false));
  ctx.io.out(result === 'deleted' ? 'Key Successfully deleted' : 'Key not present');
  return ExitCodes.ok;
}

async function encryptConfig(ctx: Context): Promise<number> {
  const config = await loadConfig(ctx.configPath);
  const backends = chosenBackends(ctx, config);
  const toEncrypt = backendsToEncrypt(config, backends);
  for (const name of backends) if (!toEncrypt.includes(name)) ctx.io.out(`[${name}] nothing to encrypt`);
  if (toEncrypt.length === 0) {
    ctx.io.out(`${ctx.configPath} unchanged`);
    return ExitCodes.ok;
  }
  const passphrase = await obtainSecret(
    { argument: ctx.positionals[1], file: ctx.values['passphrase-file'], what: 'passphrase', confirm: true },
    ctx.stdin,
    ctx.io.err,
  );
  const report = await withEtcd(ctx.env, config, (client) => encryptConfigFile(ctx.configPath, client, toEncrypt, passphrase));
  for (const r of report) ctx.io.out(`[${r.backend}] encrypted ${r.options.join(', ')} with key ${r.kid}${r.createdKey ? ' (new)' : ''}`);
  ctx.io.out(report.length === 0 ? `${ctx.configPath} unchanged` : `wrote ${ctx.configPath}`);
  return ExitCodes.ok;
}

async function rotate(ctx: Context): Promise<number> {
  if (ctx.values.backend === undefined) throw new UsageError('rotate needs --backend B', 'name the backend whose passphrase changes');
  const config = await loadConfig(ctx.configPath);
  const backend = ctx.values.backend;
  checkBackendName(config, backend);
  const passphrase = await obtainSecret(
    { argument: ctx.positionals[1], file: ctx.values['passphrase-file'], what: 'new passphrase', confirm: true },
    ctx.stdin,
    ctx.io.err,
  );
  const r = await withEtcd(ctx.env, config, (client) => rotateBackendKey(ctx.configPath, client, backend, passphrase));
  ctx.io.out(`[${backend}] key ${r.oldKid ?? '?'} replaced by ${r.newKid}; ${r.reencrypted} value${r.reencrypted === 1 ? '' : 's'} re-encrypted in ${ctx.configPath}`);
  return ExitCodes.ok;
}

async function migrate(ctx: Context): Promise<number> {
  const config = await loadConfig(ctx.configPath);
  const backends = chosenBackends(ctx, config);
  await withEtcd(ctx.env, config, async (client) => {
    for (const backend of backends) {
      const r = await migrateLegacyBackend(ctx.configPath, client, backend);
      ctx.io.out(r === 'not-legacy' ? `[${backend}] no legacy key; nothing to migrate` : `[${backend}] migrated ${r.migrated} value${r.migrated === 1 ? '' : 's'} to key ${r.kid}`);
    }
  });
  return ExitCodes.ok;
}

function describeForm(f: BackendSecretStatus['passwords'][number]['form']): string {
  switch (f.form) {
    case 'encrypted':
      return `encrypted (key ${f.kid})`;
    case 'placeholder':
      return `placeholder ($${f.source}{${f.ref}})`;
    case 'named':
      return `named secret ($secret{${f.name}})`;
    case 'malformed':
      return `malformed: ${f.problem}`;
    default:
      return f.form;
  }
}

function formatStatus(rows: BackendSecretStatus[]): string[] {
  const lines: string[] = [];
  for (const row of rows) {
    const k = row.key;
    const key =
      k.state === 'present'
        ? `key ${k.kid} created ${k.created}${k.retired.length ? `; retired ${k.retired.join(', ')} (rotation unfinished)` : ''}${k.migrationPending ? '; migration unfinished' : ''}`
        : k.state === 'legacy'
          ? 'legacy py-3parencryptor passphrase'
          : k.state === 'unreadable'
            ? `unreadable key record: ${k.problem}`
            : 'no key';
    lines.push(`[${row.backend}] ${key}`);
    for (const p of row.passwords) {
      const form = describeForm(p.form);
      lines.push(`  ${p.option.padEnd(36)} line ${String(p.line).padEnd(4)} ${form}${p.inheritedFrom ? ` (inherited from ${p.inheritedFrom})` : ''}`);
    }
  }
  return lines;
}

async function status(ctx: Context): Promise<number> {
  const config = await loadConfig(ctx.configPath);
  const lookups = await withEtcd(ctx.env, config, loadKeyLookups);
  const rows = describeSecretStatus(config, lookups);
  if (ctx.values.json) ctx.io.out(JSON.stringify({ config: ctx.configPath, backends: rows }, null, 2));
  else for (const line of formatStatus(rows)) ctx.io.out(line);
  return ExitCodes.ok;
}

const subcommands: Record<string, (ctx: Context) => Promise<number>> = {
  'encrypt-config': encryptConfig,
  rotate,
  migrate,
  status,
};

export async function runEncryptor(argv: string[], io: Io, env: NodeJS.ProcessEnv = process.env, stdin = new StdinLines()): Promise<number> {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true });
    if (values.help) {
      io.out(encryptorUsage);
      return ExitCodes.ok;
    }
    const ctx: Context = { values, positionals, io, env, stdin, configPath: resolveConfigPath(values.config, env) };
    if (values.a && values.d) throw new UsageError('-a and -d exclude each other', 'give one of them');
    if (values.a) return await addPassword(ctx);
    if (values.d) return await deleteKey(ctx);
    const [command] = positionals;
    if (command === 'secret') return await runSecretCommand({ args: positionals.slice(1), values, io, env: ctx.env, stdin, configPath: ctx.configPath });
    for (const option of Object.keys(secretOptions) as (keyof typeof secretOptions)[]) {
      if (values[option] !== undefined) throw new UsageError(`--${option} is only for the secret commands`, 'see --help');
    }
    const run = command === undefined ? undefined : subcommands[command];
    if (run === undefined) {
      throw new UsageError(
        command === undefined ? 'no command given' : `unknown command ${command}`,
        `use -a, -d, ${Object.keys(subcommands).join(', ')}, secret; see --help`,
      );
    }
    return await run(ctx);
  } catch (err) {
    return reportError(io, err);
  }
}
