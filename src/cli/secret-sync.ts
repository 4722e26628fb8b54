import { readFile } from 'node:fs/promises';
import { loadConfig } from '../config/index.js';
import { UsageError } from '../errors.js';
import {
  applySync,
  clusterKeyExists,
  loadSyncState,
  parseSyncFile,
  planIsEmpty,
  planSync,
  type SyncOutcome,
  type SyncPlan,
} from '../secrets/index.js';
import type { EtcdClient } from '../etcd/index.js';
import { CLUSTER_SECRETS_KEY, prefixedKey } from '../etcd/index.js';
import { obtainSecret, type StdinLines } from './input.js';
import { withEtcd } from './with-etcd.js';
import { ExitCodes, type Io } from './output.js';

export interface SyncContext {
  values: {
    file?: string;
    'dry-run'?: boolean;
    strict?: boolean;
    json?: boolean;
    'value-file'?: string;
    'passphrase-file'?: string;
  };
  io: Io;
  env: NodeJS.ProcessEnv;
  stdin: StdinLines;
  configPath: string;
}

const rewriteLine = (r: SyncPlan['rewrites'][number]) => `${r.use} (line ${r.line}) to $secret{${r.name}}`;
const differedNote = ' (it held another password than the secret: the backend now uses the secret\'s)';

async function readSyncFile(path: string) {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new UsageError(`cannot read the sync file ${path}: ${code}`, 'check the path given with --file');
  }
  return parseSyncFile(text, path);
}

function planLines(plan: SyncPlan): string[] {
  return [
    ...plan.creates.map((c) => `would create secret ${c.name} ${c.from === undefined ? '(its value will be asked for)' : `from ${c.from.use} (line ${c.from.line})`}`),
    ...plan.rewrites.map((r) => `would rewrite ${rewriteLine(r)}${r.differed ? differedNote : ''}`),
  ];
}

function outcomeLines(outcome: SyncOutcome, configPath: string): string[] {
  return [
    ...outcome.created.map((c) =>
      c.keptExisting
        ? `kept secret ${c.name}: another host created it meanwhile`
        : `created secret ${c.name} version 1 (key ${c.kid}) ${c.from === undefined ? 'from the value given' : `from ${c.from.use} (line ${c.from.line})`}`,
    ),
    ...outcome.rewritten.map((r) => `rewrote ${rewriteLine(r)}${r.differed ? differedNote : ''}`),
    ...(outcome.rewritten.length > 0 ? [`wrote ${configPath}`] : []),
  ];
}

/** The passphrase and every value sync must be given, all before anything is written. */
async function obtainInputs(ctx: SyncContext, client: EtcdClient, plan: SyncPlan): Promise<{ passphrase?: string; asked: Map<string, string> }> {
  const asked = new Map<string, string>();
  if (plan.creates.length === 0) return { asked };
  const valueFile = ctx.values['value-file'];
  const passphrase = await obtainSecret(
    {
      file: ctx.values['passphrase-file'],
      what: 'cluster secrets passphrase',
      confirm: !(await clusterKeyExists(client)),
      missingFix: 'give --passphrase-file FILE, or --passphrase-file - and send it on standard input (before any value)',
    },
    ctx.stdin,
    ctx.io.err,
  );
  for (const c of plan.creates) {
    if (c.from !== undefined) continue;
    const value = await obtainSecret(
      {
        file: valueFile,
        what: `value of secret ${c.name}`,
        missingFix: 'run it on a terminal to be asked, or pass --value-file - and send the values on standard input, one a line in the order of the sync file',
      },
      ctx.stdin,
      ctx.io.err,
    );
    asked.set(c.name, value);
  }
  return { passphrase, asked };
}

function json(ctx: SyncContext, plan: SyncPlan, outcome: SyncOutcome | undefined): string {
  const rewrite = ({ name, use, line, differed }: SyncPlan['rewrites'][number]) => ({ use, line, secret: name, differed });
  return JSON.stringify(
    {
      config: ctx.configPath,
      file: ctx.values.file,
      dryRun: ctx.values['dry-run'] ?? false,
      changed: !planIsEmpty(plan) && outcome !== undefined,
      create: outcome === undefined ? plan.creates : outcome.created.map(({ name, from, kid, keptExisting }) => ({ name, from, kid, keptExisting })),
      rewrite: (outcome?.rewritten ?? plan.rewrites).map(rewrite),
      skipped: plan.skipped,
    },
    null,
    2,
  );
}

/** `hpe3parencryptor secret sync --file F [--dry-run] [--strict] [--json]`. */
export async function syncSecrets(ctx: SyncContext): Promise<number> {
  const path = ctx.values.file;
  if (path === undefined) throw new UsageError('secret sync needs --file FILE', 'give the sync file (JSON; its format is in the README, "Sharing secrets across hosts")');
  const valueFile = ctx.values['value-file'];
  if (valueFile !== undefined && valueFile !== '-') throw new UsageError('with secret sync, --value-file takes only - (standard input)', 'give --value-file - and send the values, one a line');
  const file = await readSyncFile(path);
  const config = await loadConfig(ctx.configPath);
  const dryRun = ctx.values['dry-run'] ?? false;
  return withEtcd(ctx.env, config, async (client) => {
    const plan = await planSync(file, config, await loadSyncState(client), { strict: ctx.values.strict ?? false });
    for (const s of plan.skipped) ctx.io.err(`note: skipped ${s.use} (secret ${s.name}): ${s.why}`);
    let outcome: SyncOutcome | undefined;
    if (!dryRun && !planIsEmpty(plan)) {
      const { passphrase, asked } = await obtainInputs(ctx, client, plan);
      outcome = await applySync(client, plan, passphrase, asked);
      if (outcome.created.some((c) => c.createdKey)) ctx.io.err(`created the cluster secrets key ${outcome.created.find((c) => c.createdKey)?.kid} at ${prefixedKey(client.prefix, CLUSTER_SECRETS_KEY)}`);
    }
    if (ctx.values.json) ctx.io.out(json(ctx, plan, outcome));
    else if (planIsEmpty(plan)) ctx.io.out('nothing to change');
    else for (const line of outcome === undefined ? [...planLines(plan), 'dry run: nothing was written'] : outcomeLines(outcome, ctx.configPath)) ctx.io.out(line);
    return ExitCodes.ok;
  });
}
