import type { BackendConfig, HpeConfig, SecretOption } from '../config/index.js';
import { loadConfig } from '../config/index.js';
import type { EtcdClient } from '../etcd/index.js';
import { createKeyRecord as storeNewKeyRecord, deleteKeyRecord, keyRecordKey, prefixedKey, readKeyRecord, replaceKeyRecord } from '../etcd/index.js';
import { SecretError } from '../errors.js';
import { writeFileAtomic } from '../files.js';
import { openSecret, sealSecret } from './box.js';
import { applySpanEdits, type SpanEdit } from './edit.js';
import { classifySecret } from './format.js';
import { createKeyRecord, currentKey, keyForKid, obtainKey, parseKeyRecord, passphraseMatches, serializeKeyRecord, type KeyRecordV1, type StoredKey } from './key-record.js';
import { decryptLegacy } from './legacy.js';
import { backendSecrets, secretForm, type KeyLookups, type SecretForm } from './resolve.js';

interface StoredAt {
  stored: StoredKey;
  modRevision: string;
}

/** The backend's key record as etcd holds it, for messages. */
const etcdKeyOf = (client: EtcdClient, backend: string) => prefixedKey(client.prefix, keyRecordKey(backend));

async function readStored(client: EtcdClient, backend: string): Promise<StoredAt | undefined> {
  const found = await readKeyRecord(client, backend);
  if (found === undefined) return undefined;
  return { stored: parseKeyRecord(found.raw, backend, etcdKeyOf(client, backend)), modRevision: found.modRevision };
}

function concurrentChange(client: EtcdClient, backend: string): SecretError {
  return new SecretError(
    `the key record ${etcdKeyOf(client, backend)} was changed by someone else while this command ran; nothing more was written`,
    'run the command again once the other change is done',
  );
}

function legacyNeedsMigration(client: EtcdClient, backend: string): SecretError {
  return new SecretError(
    `backend ${backend} still has a legacy py-3parencryptor passphrase at ${etcdKeyOf(client, backend)}; nothing was written`,
    `convert it first with \`hpe3parencryptor migrate --backend ${backend}\``,
  );
}

/**
 * The backend's key for this passphrase: created on first use, re-derived and compared afterwards.
 * A different passphrase is refused (upstream printed SUCCESSFUL with a value the plugin could never read).
 */
export async function obtainBackendKey(
  client: EtcdClient,
  backend: string,
  passphrase: string,
  now: Date = new Date(),
): Promise<{ kid: string; key: Uint8Array; created: boolean }> {
  return obtainKey(
    {
      read: async () => {
        const at = await readStored(client, backend);
        if (at?.stored.format === 'legacy') throw legacyNeedsMigration(client, backend);
        return at?.stored.record;
      },
      create: (raw) => storeNewKeyRecord(client, backend, raw),
      differentPassphrase: (record) =>
        new SecretError(
          `backend ${backend} already has key ${record.kid} (created ${record.created}), made from a different passphrase; nothing was written`,
          `give the passphrase used when key ${record.kid} was created, or move the backend to a new passphrase with \`hpe3parencryptor rotate --backend ${backend}\``,
        ),
      changedMeanwhile: () => concurrentChange(client, backend),
    },
    passphrase,
    now,
  );
}

/** `hpe3parencryptor -a`: the encrypted form of one password. */
export async function encryptPassword(client: EtcdClient, backend: string, passphrase: string, password: string) {
  const { kid, key, created } = await obtainBackendKey(client, backend, passphrase);
  return { value: sealSecret(key, kid, password), kid, createdKey: created };
}

function requireBackend(config: HpeConfig, name: string): BackendConfig {
  const backend = config.backends.find((b) => b.name === name);
  if (backend === undefined) {
    throw new SecretError(
      `backend ${name} is not in ${config.file}; its backends are ${config.backends.map((b) => b.name).join(', ')}`,
      `pass one of them with --backend, or add a [${name}] section to ${config.file}`,
    );
  }
  return backend;
}

/** Checks a `--backend` name against the config (an unknown backend lists the ones that exist). */
export function checkBackendName(config: HpeConfig, name: string): void {
  requireBackend(config, name);
}

/** `hpe3parencryptor -d`. Refuses while the config still depends on the key, unless forced. */
export async function deleteBackendKey(
  client: EtcdClient,
  backend: string,
  config: HpeConfig | undefined,
  force: boolean,
): Promise<'deleted' | 'absent'> {
  const at = await readStored(client, backend).catch((err: unknown) => {
    if (err instanceof SecretError && force) return undefined; // a damaged record may always be deleted with --force
    throw err;
  });
  if (at === undefined) {
    return (await deleteKeyRecord(client, backend)) ? 'deleted' : 'absent';
  }
  if (!force && config !== undefined) {
    const section = config.backends.find((b) => b.name === backend);
    const dependent =
      section === undefined
        ? []
        : backendSecrets(section).filter((s) => s.span !== undefined && ['encrypted', 'legacy'].includes(secretForm(s.raw, { found: true, stored: at.stored }).form));
    if (dependent.length > 0) {
      const list = dependent.map((s) => `${s.option} (line ${s.line})`).join(', ');
      throw new SecretError(
        `${config.file}: [${backend}] still has ${dependent.length} encrypted password${dependent.length === 1 ? '' : 's'}: ${list}; deleting the key would make ${dependent.length === 1 ? 'it' : 'them'} unreadable and the backend would fail to start. Nothing was deleted`,
        `write those passwords in plain text (or as $file{...} placeholders) first, or pass --force to delete the key anyway`,
      );
    }
  }
  return (await deleteKeyRecord(client, backend)) ? 'deleted' : 'absent';
}

/** Applies edits to the config file atomically, unless the file changed since it was read. */
export async function rewriteConfig(config: HpeConfig, edits: SpanEdit[]): Promise<void> {
  if (edits.length === 0) return;
  const current = await loadConfig(config.file);
  if (current.text !== config.text) {
    throw new SecretError(`${config.file} changed while this command ran; nothing was written to it`, 'run the command again');
  }
  await writeFileAtomic(config.file, applySpanEdits(config.text, edits));
}

export interface EncryptedOptions {
  backend: string;
  options: SecretOption[];
  createdKey: boolean;
  kid: string;
}

type EditableSecret = ReturnType<typeof backendSecrets>[number] & { span: SpanEdit['span'] };

function plainSecrets(backend: BackendConfig): EditableSecret[] {
  return backendSecrets(backend).filter((s): s is EditableSecret => s.span !== undefined && classifySecret(s.raw).kind === 'plain');
}

/** The chosen backends that still hold a plain password: only they need a passphrase. */
export function backendsToEncrypt(config: HpeConfig, backends: string[]): string[] {
  return backends.filter((name) => plainSecrets(requireBackend(config, name)).length > 0);
}

/** Refuses, naming every backend whose key comes from another passphrase, before any key is created. */
async function requireOnePassphrase(client: EtcdClient, backends: BackendConfig[], passphrase: string): Promise<void> {
  const others: { name: string; kid: string }[] = [];
  for (const backend of backends) {
    const at = await readStored(client, backend.name);
    if (at?.stored.format === 'v1' && !(await passphraseMatches(at.stored.record, passphrase))) others.push({ name: backend.name, kid: at.stored.record.kid });
  }
  if (others.length === 0) return;
  const fitting = backends.map((b) => b.name).filter((name) => !others.some((o) => o.name === name));
  const one = others.length === 1;
  throw new SecretError(
    `this passphrase is not the one the key${one ? '' : 's'} of backend${one ? '' : 's'} ${others.map((o) => `${o.name} (key ${o.kid})`).join(', ')} ${one ? 'was' : 'were'} made from${fitting.length > 0 ? `; it fits ${fitting.join(', ')}` : ''}. Nothing was written`,
    `encrypt one backend at a time, each with its own passphrase: ${others.map((o) => `\`hpe3parencryptor encrypt-config --backend ${o.name}\``).join(', ')}${fitting.length > 0 ? `, and with this passphrase ${fitting.map((m) => `\`--backend ${m}\``).join(', ')}` : ''}`,
  );
}

/**
 * `hpe3parencryptor encrypt-config`: encrypts every plain password of the chosen backends in place.
 * A backend with nothing plain is left alone (no key is made for it). All keys are obtained before the
 * file is touched, and every passphrase is checked before any key is made, so a passphrase that does not
 * fit one backend writes nothing.
 */
export async function encryptConfigFile(configPath: string, client: EtcdClient, backends: string[], passphrase: string): Promise<EncryptedOptions[]> {
  const config = await loadConfig(configPath);
  const chosen = backendsToEncrypt(config, backends).map((name) => requireBackend(config, name));
  await requireOnePassphrase(client, chosen, passphrase);
  const edits: SpanEdit[] = [];
  const report: EncryptedOptions[] = [];
  for (const backend of chosen) {
    const { kid, key, created } = await obtainBackendKey(client, backend.name, passphrase);
    const secrets = plainSecrets(backend);
    for (const secret of secrets) edits.push({ span: secret.span, value: sealSecret(key, kid, secret.raw) });
    report.push({ backend: backend.name, options: secrets.map((s) => s.option), createdKey: created, kid });
  }
  await rewriteConfig(config, edits);
  return report;
}

export const RotationSteps = ['key-staged', 'config-rewritten', 'retired-dropped'] as const;
export type RotationStep = (typeof RotationSteps)[number];

export interface StepHooks {
  /** Called after each durable step; tests throw here to prove every intermediate state still decrypts. */
  afterStep?: (step: RotationStep) => void | Promise<void>;
}

/** Re-encrypts every `enc:` value of the backend whose kid is not the current one. */
function reencryptEdits(backend: BackendConfig, stored: StoredKey & { format: 'v1' }, file: string): SpanEdit[] {
  const current = stored.record;
  const key = currentKey(current);
  const edits: SpanEdit[] = [];
  for (const secret of backendSecrets(backend)) {
    if (secret.span === undefined) continue;
    const c = classifySecret(secret.raw);
    if (c.kind !== 'encrypted' || c.kid === current.kid) continue;
    const oldKey = keyForKid(stored, c.kid);
    const plain = oldKey === undefined ? null : openSecret(oldKey, c.payload);
    if (plain === null) {
      throw new SecretError(
        `is encrypted with key ${c.kid}, which does not decrypt it (not this backend's key, or the value was damaged); the rotation stopped with the file unchanged`,
        `fix this value first (\`hpedockerplugin check\` tells why), then run the rotation again`,
        { file, line: secret.line, section: backend.name, option: secret.option },
      );
    }
    edits.push({ span: secret.span, value: sealSecret(key, current.kid, plain) });
  }
  return edits;
}

async function replaceRecord(client: EtcdClient, backend: string, record: KeyRecordV1, modRevision: string): Promise<void> {
  if (!(await replaceKeyRecord(client, backend, serializeKeyRecord(record), modRevision))) throw concurrentChange(client, backend);
}

/**
 * `hpe3parencryptor rotate`: moves a backend to a new passphrase. Three durable steps, each of which
 * leaves a config the plugin can decrypt: (1) the new key becomes current and the old one is kept as
 * retired, (2) the file's values are re-encrypted with the new key (atomic rename), (3) the retired key
 * is dropped. Running it again with the same new passphrase finishes an interrupted rotation.
 */
export async function rotateBackendKey(
  configPath: string,
  client: EtcdClient,
  backend: string,
  newPassphrase: string,
  hooks: StepHooks = {},
): Promise<{ oldKid: string | undefined; newKid: string; reencrypted: number }> {
  const config = await loadConfig(configPath);
  const section = requireBackend(config, backend);
  let at = await readStored(client, backend);
  if (at === undefined) {
    throw new SecretError(
      `backend ${backend} has no key at ${etcdKeyOf(client, backend)}, so there is nothing to rotate`,
      `create one with \`hpe3parencryptor encrypt-config --backend ${backend}\``,
    );
  }
  if (at.stored.format === 'legacy' || at.stored.record.legacyPassphrase !== undefined) throw legacyNeedsMigration(client, backend);
  let record = at.stored.record;
  let oldKid: string | undefined;
  const resuming = (record.retired ?? []).length > 0;
  if (resuming) {
    if (!(await passphraseMatches(record, newPassphrase))) {
      throw new SecretError(
        `an earlier rotation of backend ${backend} to key ${record.kid} did not finish, and this passphrase is not the one it was rotating to; nothing was written`,
        `run \`hpe3parencryptor rotate --backend ${backend}\` again with the passphrase given to the unfinished rotation`,
      );
    }
  } else {
    if (await passphraseMatches(record, newPassphrase)) {
      throw new SecretError(`backend ${backend}'s key ${record.kid} already comes from this passphrase; nothing was written`, 'give a new passphrase');
    }
    oldKid = record.kid;
    const { record: fresh } = await createKeyRecord(newPassphrase, new Date());
    record = { ...fresh, retired: [{ kid: record.kid, key: record.key }, ...(record.retired ?? [])] };
    await replaceRecord(client, backend, record, at.modRevision);
    await hooks.afterStep?.('key-staged');
    at = await readStored(client, backend);
    if (at === undefined || at.stored.format !== 'v1') throw concurrentChange(client, backend);
  }
  const stored = at.stored as StoredKey & { format: 'v1' };
  const edits = reencryptEdits(section, stored, config.file);
  await rewriteConfig(config, edits);
  await hooks.afterStep?.('config-rewritten');
  const { retired: _dropped, ...finished } = stored.record;
  await replaceRecord(client, backend, finished, at.modRevision);
  await hooks.afterStep?.('retired-dropped');
  return { oldKid: oldKid ?? stored.record.retired?.[0]?.kid, newKid: stored.record.kid, reencrypted: edits.length };
}

/**
 * `hpe3parencryptor migrate`: turns py-3parencryptor's raw passphrase record and its AES-CFB values into
 * a key record and `enc:v1` values, keeping the same passphrase. Same three-step safety as rotate: while
 * the file is rewritten the record keeps the legacy passphrase, so unprefixed values still decrypt.
 */
export async function migrateLegacyBackend(
  configPath: string,
  client: EtcdClient,
  backend: string,
  hooks: StepHooks = {},
): Promise<{ kid: string; migrated: number } | 'not-legacy'> {
  const config = await loadConfig(configPath);
  const section = requireBackend(config, backend);
  let at = await readStored(client, backend);
  if (at === undefined) return 'not-legacy';
  if (at.stored.format === 'v1' && at.stored.record.legacyPassphrase === undefined) return 'not-legacy';
  if (at.stored.format === 'legacy') {
    const passphrase = at.stored.passphrase;
    const { record } = await createKeyRecord(passphrase, new Date());
    const staged: KeyRecordV1 = { ...record, legacyPassphrase: passphrase };
    await replaceRecord(client, backend, staged, at.modRevision);
    await hooks.afterStep?.('key-staged');
    at = await readStored(client, backend);
    if (at === undefined || at.stored.format !== 'v1') throw concurrentChange(client, backend);
  }
  const stored = at.stored as StoredKey & { format: 'v1' };
  const legacyPassphrase = stored.record.legacyPassphrase as string;
  const key = currentKey(stored.record);
  const edits: SpanEdit[] = [];
  for (const secret of backendSecrets(section)) {
    if (secret.span === undefined || classifySecret(secret.raw).kind !== 'plain') continue;
    const plain = decryptLegacy(legacyPassphrase, secret.raw);
    if (plain === null) {
      throw new SecretError(
        `is not a legacy encrypted value for the passphrase at ${etcdKeyOf(client, backend)}; the migration stopped with the file unchanged`,
        `replace it with a value from \`hpe3parencryptor -a - - --backend ${backend}\`, then run the migration again`,
        { file: config.file, line: secret.line, section: backend, option: secret.option },
      );
    }
    edits.push({ span: secret.span, value: sealSecret(key, stored.record.kid, plain) });
  }
  await rewriteConfig(config, edits);
  await hooks.afterStep?.('config-rewritten');
  const { legacyPassphrase: _gone, ...finished } = stored.record;
  await replaceRecord(client, backend, finished, at.modRevision);
  await hooks.afterStep?.('retired-dropped');
  return { kid: stored.record.kid, migrated: edits.length };
}

/** A backend as `hpe3parencryptor status` shows it: its key record, and the form of each password. */
export interface BackendSecretStatus {
  backend: string;
  key:
    | { state: 'absent' }
    | { state: 'legacy' }
    | { state: 'present'; kid: string; created: string; retired: string[]; migrationPending: boolean }
    | { state: 'unreadable'; problem: string };
  passwords: { option: SecretOption; line: number; inheritedFrom?: string; form: SecretForm | { form: 'malformed'; problem: string } }[];
}

/** `hpe3parencryptor status`: per backend, the key's identity and each password's form — never a value. */
export function describeSecretStatus(config: HpeConfig, lookups: KeyLookups): BackendSecretStatus[] {
  return config.backends.map((backend) => {
    const lookup = lookups.get(backend.name) ?? { found: false };
    let key: BackendSecretStatus['key'];
    if (lookup.found) {
      key =
        lookup.stored.format === 'legacy'
          ? { state: 'legacy' }
          : {
              state: 'present',
              kid: lookup.stored.record.kid,
              created: lookup.stored.record.created,
              retired: (lookup.stored.record.retired ?? []).map((r) => r.kid),
              migrationPending: lookup.stored.record.legacyPassphrase !== undefined,
            };
    } else {
      key = 'error' in lookup ? { state: 'unreadable', problem: lookup.error.message } : { state: 'absent' };
    }
    const passwords = backendSecrets(backend).map((s) => {
      let form: BackendSecretStatus['passwords'][number]['form'];
      try {
        form = secretForm(s.raw, lookup);
      } catch (err) {
        form = { form: 'malformed', problem: (err as Error).message };
      }
      return { option: s.option, line: s.line, ...(s.inheritedFrom ? { inheritedFrom: s.inheritedFrom } : {}), form };
    });
    return { backend: backend.name, key, passwords };
  });
}
