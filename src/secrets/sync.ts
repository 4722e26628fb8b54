import type { BackendConfig, HpeConfig, SecretValue, Span } from '../config/index.js';
import type { EtcdClient } from '../etcd/index.js';
import { SecretError } from '../errors.js';
import { registerSecret } from '../log.js';
import type { SpanEdit } from './edit.js';
import { classifySecret } from './format.js';
import { loadKeyLookups } from './keys.js';
import { loadNamedSecrets, resolveNamedSecret, type NamedSecrets } from './named.js';
import { createNamedSecretsOnce } from './named-operations.js';
import { rewriteConfig } from './operations.js';
import { backendSecrets, revealSecret, type KeyLookups } from './resolve.js';
import type { SecretUse, SyncFile, SyncSecret } from './sync-file.js';

/*
 * `hpe3parencryptor secret sync`: make etcd and this host's hpe.conf match a sync file. Planning reads and
 * decides (and is what --dry-run prints); applying creates the missing secrets first, then rewrites hpe.conf
 * in one atomic write, so a crash in between leaves secrets a rerun finds and only the rewrite still to do.
 */

export interface PlannedCreate {
  name: string;
  /** The option whose current value becomes the secret's; absent when the value must be asked for. */
  from?: { use: string; line: number };
}

export interface PlannedRewrite {
  name: string;
  use: string;
  line: number;
  span: Span;
  /** The option held a value other than the existing secret's: the backend will use the secret's. */
  differed: boolean;
}

export interface SkippedUse {
  name: string;
  use: string;
  why: string;
}

export interface SyncPlan {
  config: HpeConfig;
  creates: PlannedCreate[];
  rewrites: PlannedRewrite[];
  skipped: SkippedUse[];
  /** Values for `creates` taken from hpe.conf, by secret name: memory only, never printed. */
  readonly values: ReadonlyMap<string, string>;
}

export interface SyncState {
  named: NamedSecrets;
  lookups: KeyLookups;
}

export interface SyncOptions {
  /** A use naming a backend or option this hpe.conf lacks is an error instead of a skip. */
  strict?: boolean;
  env?: NodeJS.ProcessEnv;
}

type Located = { backend: BackendConfig; secret: SecretValue & { span: Span } } | { skip: string };

function locate(config: HpeConfig, use: SecretUse): Located {
  const backend = config.backends.find((b) => b.name === use.backend);
  if (backend === undefined) return { skip: `${config.file} has no [${use.backend}] section` };
  const secret = backendSecrets(backend).find((s) => s.option === use.option);
  if (secret === undefined) {
    return { skip: use.option.startsWith('replication_device.') ? `[${use.backend}] has no replication_device` : `[${use.backend}] has no ${use.option}` };
  }
  if (secret.span === undefined) return { skip: `it is not written in ${config.file}: it inherits [${use.backend}].${secret.inheritedFrom ?? 'hpe3par_password'}` };
  return { backend, secret: secret as SecretValue & { span: Span } };
}

/** A problem of one secret; all of them are reported together and nothing is written. */
type Problems = SecretError[];

function existingValue(state: SyncState, name: string, problems: Problems): string | undefined {
  try {
    const value = resolveNamedSecret(state.named, name);
    registerSecret(value);
    return value;
  } catch (err) {
    if (!(err instanceof SecretError)) throw err;
    problems.push(new SecretError(`secret ${name} is in etcd but cannot be used (an option that ${err.message})`, err.fix));
    return undefined;
  }
}

interface ReadValue {
  use: string;
  line: number;
  value: string;
}

async function planSecret(
  s: SyncSecret,
  config: HpeConfig,
  state: SyncState,
  options: SyncOptions,
  plan: SyncPlan & { values: Map<string, string> },
  problems: Problems,
): Promise<void> {
  const exists = state.named.secrets.has(s.name);
  const stored = exists ? existingValue(state, s.name, problems) : undefined;
  if (exists && stored === undefined) return;
  const read: ReadValue[] = [];
  const rewrites: PlannedRewrite[] = [];
  for (const use of s.uses) {
    const located = locate(config, use);
    if ('skip' in located) {
      plan.skipped.push({ name: s.name, use: use.text, why: located.skip });
      continue;
    }
    const { backend, secret } = located;
    const where = { file: config.file, line: secret.line, section: backend.name, option: secret.option };
    let classified;
    try {
      classified = classifySecret(secret.raw);
    } catch (err) {
      if (!(err instanceof SecretError)) throw err;
      problems.push(new SecretError(err.message, err.fix, where));
      continue;
    }
    if (classified.kind === 'named' && classified.name === s.name) continue;
    let value: string | undefined;
    if (classified.kind === 'plain' || classified.kind === 'encrypted') {
      try {
        value = await revealSecret(config, backend, secret, state.lookups, options.env);
        read.push({ use: use.text, line: secret.line, value });
      } catch (err) {
        if (!(err instanceof SecretError)) throw err;
        // A value about to be replaced by an existing secret need not be readable.
        if (!exists) problems.push(err);
      }
    }
    rewrites.push({ name: s.name, use: use.text, line: secret.line, span: secret.span, differed: stored !== undefined && value !== undefined && value !== stored });
  }
  if (!exists) {
    const [first] = read;
    const other = read.find((r) => r.value !== first?.value);
    if (first !== undefined && other !== undefined) {
      problems.push(
        new SecretError(
          `secret ${s.name} would take its value from hpe.conf, but ${first.use} (line ${first.line}) and ${other.use} (line ${other.line}) hold different passwords`,
          `make them hold the same password, or give them different secrets in the sync file, or store the right value first with \`hpe3parencryptor secret put ${s.name}\``,
        ),
      );
      return;
    }
    plan.creates.push({ name: s.name, ...(first === undefined ? {} : { from: { use: first.use, line: first.line } }) });
    if (first !== undefined) plan.values.set(s.name, first.value);
  }
  plan.rewrites.push(...rewrites);
}

function nothingWritten(problems: Problems): SecretError {
  const [only] = problems;
  if (only !== undefined && problems.length === 1) return new SecretError(`${only.message}; nothing was written`, only.fix, undefined, { cause: only });
  return new SecretError(
    `secret sync found ${problems.length} problems; nothing was written:\n${problems.map((p) => `  ${p.describe()}`).join('\n')}`,
    'correct each as its line says, then run the sync again',
  );
}

/** What a sync would do, from this hpe.conf and what etcd holds; refuses, naming every problem, before anything is written. */
export async function planSync(file: SyncFile, config: HpeConfig, state: SyncState, options: SyncOptions = {}): Promise<SyncPlan> {
  const plan: SyncPlan & { values: Map<string, string> } = { config, creates: [], rewrites: [], skipped: [], values: new Map() };
  const problems: Problems = [];
  for (const s of file.secrets) await planSecret(s, config, state, options, plan, problems);
  if (options.strict) {
    for (const skip of plan.skipped) {
      problems.push(
        new SecretError(
          `${file.path} says ${skip.use} uses secret ${skip.name}, but ${skip.why}`,
          `add it to ${config.file}, drop it from ${file.path}, or run without --strict to skip it`,
        ),
      );
    }
  }
  if (problems.length > 0) throw nothingWritten(problems);
  return plan;
}

/** Reads what a plan needs from etcd: the named secrets and the backend keys (for `enc:` values), two requests. */
export async function loadSyncState(client: EtcdClient): Promise<SyncState> {
  return { named: await loadNamedSecrets(client), lookups: await loadKeyLookups(client) };
}

export function planIsEmpty(plan: SyncPlan): boolean {
  return plan.creates.length === 0 && plan.rewrites.length === 0;
}

export const SyncSteps = ['secrets-created', 'config-rewritten'] as const;
export type SyncStep = (typeof SyncSteps)[number];

export interface SyncOutcome {
  created: (PlannedCreate & { kid: string; createdKey: boolean; keptExisting: boolean })[];
  rewritten: PlannedRewrite[];
}

/**
 * Creates the plan's secrets (a secret made meanwhile by another host is kept, never overwritten), then
 * rewrites hpe.conf in one atomic write that fails if the file changed since the plan read it.
 */
export async function applySync(
  client: EtcdClient,
  plan: SyncPlan,
  passphrase: string | undefined,
  asked: ReadonlyMap<string, string>,
  hooks: { afterStep?: (step: SyncStep) => void | Promise<void> } = {},
): Promise<SyncOutcome> {
  const values = plan.creates.map((c) => {
    const value = plan.values.get(c.name) ?? asked.get(c.name);
    if (value === undefined || passphrase === undefined) throw new SecretError(`no value for secret ${c.name} was given; nothing was written`, 'report this as a bug of hpedockerplugin');
    return { name: c.name, value };
  });
  const made = passphrase === undefined ? [] : await createNamedSecretsOnce(client, passphrase, values);
  const created: SyncOutcome['created'] = plan.creates.map((c, i) => ({ ...c, kid: made[i]!.kid, createdKey: made[i]!.createdKey, keptExisting: !made[i]!.created }));
  await hooks.afterStep?.('secrets-created');
  const edits: SpanEdit[] = plan.rewrites.map((r) => ({ span: r.span, value: `$secret{${r.name}}` }));
  await rewriteConfig(plan.config, edits);
  await hooks.afterStep?.('config-rewritten');
  return { created, rewritten: plan.rewrites };
}
