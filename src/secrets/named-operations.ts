import type { HpeConfig } from '../config/index.js';
import type { EtcdClient } from '../etcd/index.js';
import {
  CLUSTER_SECRETS_KEY,
  createClusterKeyRecord,
  deleteNamedSecret,
  namedSecretKey,
  prefixedKey,
  readClusterKeyRecord,
  readNamedSecret,
  readNamedSecretRecords,
  writeNamedSecret,
} from '../etcd/index.js';
import { SecretError } from '../errors.js';
import { sameKey } from './box.js';
import { currentKey, obtainKey, parseClusterKeyRecord, type KeyRecordV1 } from './key-record.js';
import { parseClusterKey, type ClusterKeyLookup } from './named.js';
import {
  currentVersion,
  MaxSecretVersions,
  openNamedValue,
  parseNamedSecretRecord,
  sealNamedValue,
  serializeNamedSecretRecord,
  withNewVersion,
  type NamedSecretRecordV1,
  type NamedSecretVersion,
} from './named-record.js';
import { namedSecretReferences } from './resolve.js';

/** A named secret's record as etcd holds it, for messages. */
export const secretAt = (client: EtcdClient, name: string) => prefixedKey(client.prefix, namedSecretKey(name));
/** The cluster secrets key record as etcd holds it, for messages. */
export const clusterKeyAt = (client: EtcdClient) => prefixedKey(client.prefix, CLUSTER_SECRETS_KEY);

/** Guarded writes that lose to another admin re-read and try again; after this many, the command gives up. */
export const WriteAttempts = 5;

export function concurrentChange(path: string): SecretError {
  return new SecretError(`${path} was changed by someone else on each of ${WriteAttempts} attempts; nothing was written`, 'run the command again');
}

/** A passphrase that does not give the cluster secrets key `record`. */
export function differentClusterPassphrase(client: EtcdClient, record: KeyRecordV1): SecretError {
  return new SecretError(
    `the cluster secrets key ${record.kid} at ${clusterKeyAt(client)} (created ${record.created}) was made from a different passphrase; nothing was written`,
    `give the cluster secrets passphrase used when key ${record.kid} was created`,
  );
}

/** Whether `/secrets-key` exists yet: a first `secret put` asks for the new passphrase twice. */
export async function clusterKeyExists(client: EtcdClient): Promise<boolean> {
  return (await readClusterKeyRecord(client)) !== undefined;
}

/**
 * The cluster secrets key for this passphrase: created on first use, re-derived and compared afterwards, as
 * a backend's key is by `-a`. A different passphrase is refused.
 */
async function obtainClusterKey(client: EtcdClient, passphrase: string, now: Date): Promise<{ kid: string; key: Uint8Array; created: boolean }> {
  return obtainKey(
    {
      read: async () => {
        const found = await readClusterKeyRecord(client);
        return found === undefined ? undefined : parseClusterKeyRecord(found.raw, clusterKeyAt(client));
      },
      create: (raw) => createClusterKeyRecord(client, raw),
      differentPassphrase: (record) => differentClusterPassphrase(client, record),
      changedMeanwhile: () => concurrentChange(clusterKeyAt(client)),
    },
    passphrase,
    now,
  );
}

/** The cluster key to seal with, and the revision of its record that guards the write. */
interface SealingKey {
  kid: string;
  bytes: Uint8Array;
  modRevision: string;
}

/**
 * The cluster key `passphrase` gives (scrypt once), read again before each write for the revision that guards it.
 * A key replaced meanwhile (`secret rotate-key`) is obtained again: the passphrase must give the new one.
 */
async function passphraseKey(client: EtcdClient, passphrase: string, now: Date): Promise<{ created: boolean; sealing: () => Promise<SealingKey> }> {
  let known = await obtainClusterKey(client, passphrase, now);
  const sealing = async (): Promise<SealingKey> => {
    for (let attempt = 0; attempt < WriteAttempts; attempt++) {
      const found = await readClusterKeyRecord(client);
      if (found !== undefined) {
        const record = parseClusterKeyRecord(found.raw, clusterKeyAt(client));
        if (record.kid === known.kid && sameKey(currentKey(record), known.key)) return { kid: known.kid, bytes: known.key, modRevision: found.modRevision };
      }
      known = await obtainClusterKey(client, passphrase, now);
    }
    throw concurrentChange(clusterKeyAt(client));
  };
  return { created: known.created, sealing };
}

async function readRecord(client: EtcdClient, name: string): Promise<{ record: NamedSecretRecordV1; modRevision: string } | undefined> {
  const found = await readNamedSecret(client, name);
  if (found === undefined) return undefined;
  return { record: parseNamedSecretRecord(found.raw, name, secretAt(client, name)), modRevision: found.modRevision };
}

/** Appends a version with guarded writes: two admins putting at once both get their version, one after the other. */
async function appendVersion(
  client: EtcdClient,
  name: string,
  sealing: () => Promise<SealingKey>,
  next: (current: NamedSecretRecordV1 | undefined, key: SealingKey) => Omit<NamedSecretVersion, 'version'>,
  damagedIsNew: boolean,
): Promise<NamedSecretRecordV1> {
  for (let attempt = 0; attempt < WriteAttempts; attempt++) {
    const key = await sealing();
    const found = await readNamedSecret(client, name);
    let at: { record: NamedSecretRecordV1; modRevision: string } | undefined;
    if (found !== undefined) {
      try {
        at = { record: parseNamedSecretRecord(found.raw, name, secretAt(client, name)), modRevision: found.modRevision };
      } catch (err) {
        // A put replaces a damaged record (its fix says so); a rollback cannot.
        if (!(err instanceof SecretError && damagedIsNew)) throw err;
      }
    }
    const record = withNewVersion(at?.record, name, next(at?.record, key));
    if (await writeNamedSecret(client, name, serializeNamedSecretRecord(record), found?.modRevision, key.modRevision)) return record;
  }
  throw concurrentChange(secretAt(client, name));
}

export interface PutResult {
  version: number;
  kid: string;
  createdKey: boolean;
  dropped: number;
}

/** `hpe3parencryptor secret put`: stores `value` as the secret's new current version. */
export async function putNamedSecret(client: EtcdClient, name: string, passphrase: string, value: string, now: Date = new Date()): Promise<PutResult> {
  const { created, sealing } = await passphraseKey(client, passphrase, now);
  let before = 0;
  const record = await appendVersion(
    client,
    name,
    sealing,
    (current, key) => {
      before = current?.versions.length ?? 0;
      return { kid: key.kid, value: sealNamedValue(key.bytes, key.kid, name, value), created: now.toISOString() };
    },
    true,
  );
  const { version, kid } = currentVersion(record);
  return { version, kid, createdKey: created, dropped: before + 1 - record.versions.length };
}

/**
 * Stores each value as version 1 of a secret that does not exist yet; one that exists (made meanwhile by another
 * host) is kept as it is: its `created` is then false. The cluster key is obtained once for all (one scrypt run).
 * `secret sync` never overwrites a value. `createdKey` is true on the first entry when the key was made now.
 */
export async function createNamedSecretsOnce(
  client: EtcdClient,
  passphrase: string,
  secrets: readonly { name: string; value: string }[],
  now: Date = new Date(),
): Promise<{ name: string; created: boolean; kid: string; createdKey: boolean }[]> {
  if (secrets.length === 0) return [];
  const { created: createdKey, sealing } = await passphraseKey(client, passphrase, now);
  const out: { name: string; created: boolean; kid: string; createdKey: boolean }[] = [];
  for (const [i, { name, value }] of secrets.entries()) {
    out.push({ name, ...(await createOnce(client, name, value, sealing, now)), createdKey: createdKey && i === 0 });
  }
  return out;
}

/** Version 1 of `name` unless it exists; a write lost to a key replaced meanwhile is sealed again under the new one. */
async function createOnce(client: EtcdClient, name: string, value: string, sealing: () => Promise<SealingKey>, now: Date): Promise<{ created: boolean; kid: string }> {
  for (let attempt = 0; attempt < WriteAttempts; attempt++) {
    const key = await sealing();
    const record = withNewVersion(undefined, name, { kid: key.kid, value: sealNamedValue(key.bytes, key.kid, name, value), created: now.toISOString() });
    if (await writeNamedSecret(client, name, serializeNamedSecretRecord(record), undefined, key.modRevision)) return { created: true, kid: key.kid };
    if ((await readNamedSecret(client, name)) !== undefined) return { created: false, kid: key.kid };
  }
  throw concurrentChange(clusterKeyAt(client));
}

function noSuchSecret(client: EtcdClient, name: string): SecretError {
  return new SecretError(`etcd holds no secret ${name} at ${secretAt(client, name)}`, 'see the names it holds with `hpe3parencryptor secret list`');
}

/**
 * `hpe3parencryptor secret rollback`: a new current version holding the value of version `to`. It needs no
 * passphrase: the value is copied, after checking that it still decrypts under the cluster key.
 */
export async function rollbackNamedSecret(client: EtcdClient, name: string, to: number, now: Date = new Date()): Promise<{ version: number; from: number }> {
  const sealing = async (): Promise<SealingKey> => {
    const found = await readClusterKeyRecord(client);
    return { ...requireKey(client, parseClusterKey(found?.raw, client.prefix)), modRevision: found?.modRevision ?? '0' };
  };
  const record = await appendVersion(
    client,
    name,
    sealing,
    (current, key) => {
      if (current === undefined) throw noSuchSecret(client, name);
      const target = current.versions.find((v) => v.version === to);
      if (target === undefined) {
        throw new SecretError(
          `secret ${name} has no version ${to}; it keeps versions ${current.versions.map((v) => v.version).join(', ')} (the last ${MaxSecretVersions} at most)`,
          `pick one of them: \`hpe3parencryptor secret history ${name}\``,
        );
      }
      if (target.version === currentVersion(current).version) {
        throw new SecretError(`version ${to} is already the current version of secret ${name}; nothing was written`, `pick an earlier version: \`hpe3parencryptor secret history ${name}\``);
      }
      if (target.kid !== key.kid || !openNamedValue(key.bytes, name, target.value).ok) {
        throw new SecretError(
          `version ${to} of secret ${name} does not decrypt with the cluster secrets key ${key.kid}${target.kid === key.kid ? ' (it was edited in etcd)' : ` (it was encrypted with key ${target.kid}, since replaced)`}; nothing was written`,
          `store the value again with \`hpe3parencryptor secret put ${name}\``,
        );
      }
      return { kid: target.kid, value: target.value, created: now.toISOString(), rolledBackFrom: to };
    },
    false,
  );
  return { version: currentVersion(record).version, from: to };
}

function requireKey(client: EtcdClient, lookup: ClusterKeyLookup): { kid: string; bytes: Uint8Array } {
  if (lookup.found) return { kid: lookup.record.kid, bytes: currentKey(lookup.record) };
  if (lookup.error !== undefined) throw lookup.error;
  throw new SecretError(
    `etcd has no cluster secrets key at ${clusterKeyAt(client)}, so no stored version can be decrypted; nothing was written`,
    'store the value again with `hpe3parencryptor secret put NAME` (the first put makes a new key)',
  );
}

/** `hpe3parencryptor secret rm`: refused while this host's hpe.conf uses the secret, unless forced. */
export async function removeNamedSecret(client: EtcdClient, name: string, config: HpeConfig, force: boolean): Promise<void> {
  const uses = namedSecretReferences(config).get(name) ?? [];
  if (uses.length > 0 && !force) {
    throw new SecretError(
      `${config.file} uses secret ${name} in ${uses.join(', ')}; removing it would keep the plugin from starting. Nothing was deleted`,
      `write another value there first (e.g. another $secret{}), or pass --force to delete it anyway`,
    );
  }
  if (!(await deleteNamedSecret(client, name))) throw noSuchSecret(client, name);
}

/** `hpe3parencryptor secret history`: the record, every kept version (never a value). */
export async function namedSecretHistory(client: EtcdClient, name: string): Promise<NamedSecretRecordV1> {
  const at = await readRecord(client, name);
  if (at === undefined) throw noSuchSecret(client, name);
  return at.record;
}

export interface NamedSecretRow {
  name: string;
  /** Absent for a damaged record, which has `problem` instead. */
  kid?: string;
  version?: number;
  created?: string;
  updated?: string;
  problem?: string;
  /** `[backend].option` of this host's hpe.conf that use it. */
  uses: string[];
}

export interface NamedSecretsListing {
  key: { kid: string; created: string } | { problem: string } | null;
  secrets: NamedSecretRow[];
  /** Names hpe.conf uses that etcd does not hold. */
  missing: { name: string; uses: string[] }[];
}

/** `hpe3parencryptor secret list`: every stored secret and who uses it, in one etcd read. Never a value. */
export async function listNamedSecrets(client: EtcdClient, config: HpeConfig): Promise<NamedSecretsListing> {
  const store = await readNamedSecretRecords(client);
  const references = namedSecretReferences(config);
  let key: NamedSecretsListing['key'] = null;
  if (store.key !== undefined) {
    try {
      const record = parseClusterKeyRecord(store.key.raw, clusterKeyAt(client));
      key = { kid: record.kid, created: record.created };
    } catch (err) {
      if (!(err instanceof SecretError)) throw err;
      key = { problem: err.message };
    }
  }
  const secrets: NamedSecretRow[] = [...store.secrets]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, { raw }]) => {
      const uses = references.get(name) ?? [];
      try {
        const record = parseNamedSecretRecord(raw, name, secretAt(client, name));
        const current = currentVersion(record);
        return { name, kid: current.kid, version: current.version, created: record.created, updated: current.created, uses };
      } catch (err) {
        if (!(err instanceof SecretError)) throw err;
        return { name, problem: err.message, uses };
      }
    });
  const missing = [...references].filter(([name]) => !store.secrets.has(name)).map(([name, uses]) => ({ name, uses }));
  return { key, secrets, missing };
}
