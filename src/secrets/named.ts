import type { EtcdClient } from '../etcd/index.js';
import { CLUSTER_SECRETS_KEY, namedSecretKey, prefixedKey, readNamedSecretRecords } from '../etcd/index.js';
import { SecretError } from '../errors.js';
import { currentKey, parseClusterKeyRecord, type KeyRecordV1 } from './key-record.js';
import { currentVersion, openNamedValue, parseNamedSecretRecord, type NamedSecretRecordV1 } from './named-record.js';

/** The cluster secrets key as read from etcd, or why it could not be used. */
export type ClusterKeyLookup = { found: true; record: KeyRecordV1 } | { found: false; error?: SecretError };

/** A named secret's record as read from etcd; a damaged one carries why. */
export type NamedSecretEntry = { found: true; record: NamedSecretRecordV1 } | { found: false; error: SecretError };

/** Everything needed to resolve `$secret{}` values, from one etcd read; immutable. */
export interface NamedSecrets {
  /** host_etcd_prefix of the etcd read, for the keys messages name. */
  prefix: string;
  key: ClusterKeyLookup;
  secrets: ReadonlyMap<string, NamedSecretEntry>;
}

/** `raw` read from `prefix` + `/secrets-key` (undefined: absent). */
export function parseClusterKey(raw: string | undefined, prefix: string): ClusterKeyLookup {
  if (raw === undefined) return { found: false };
  try {
    return { found: true, record: parseClusterKeyRecord(raw, prefixedKey(prefix, CLUSTER_SECRETS_KEY)) };
  } catch (err) {
    if (!(err instanceof SecretError)) throw err;
    return { found: false, error: err };
  }
}

/** `raw` read from `prefix` + `/secrets/<name>`. */
export function parseNamedSecretEntry(name: string, raw: string, prefix: string): NamedSecretEntry {
  try {
    return { found: true, record: parseNamedSecretRecord(raw, name, prefixedKey(prefix, namedSecretKey(name))) };
  } catch (err) {
    if (!(err instanceof SecretError)) throw err;
    return { found: false, error: err };
  }
}

/** Builds the store from raw etcd values (the key record's, and each secret's by name) read under `prefix`. */
export function namedSecretsFrom(keyRaw: string | undefined, secretsRaw: ReadonlyMap<string, string>, prefix: string): NamedSecrets {
  const secrets = new Map<string, NamedSecretEntry>();
  for (const [name, raw] of secretsRaw) secrets.set(name, parseNamedSecretEntry(name, raw, prefix));
  return { prefix, key: parseClusterKey(keyRaw, prefix), secrets };
}

/** The store with one secret's record replaced (`raw`) or removed (undefined): what a watch of `/secrets/` feeds. */
export function withNamedSecret(store: NamedSecrets, name: string, raw: string | undefined): NamedSecrets {
  const secrets = new Map(store.secrets);
  if (raw === undefined) secrets.delete(name);
  else secrets.set(name, parseNamedSecretEntry(name, raw, store.prefix));
  return { prefix: store.prefix, key: store.key, secrets };
}

/** The cluster key and every named secret in one etcd round trip. */
export async function loadNamedSecrets(client: EtcdClient): Promise<NamedSecrets> {
  const records = await readNamedSecretRecords(client);
  return namedSecretsFrom(records.key?.raw, new Map([...records.secrets].map(([name, r]) => [name, r.raw])), client.prefix);
}

function putAgain(name: string): string {
  return `store the value again with \`hpe3parencryptor secret put ${name}\``;
}

/**
 * The current value of a named secret. Errors are predicates ("names secret X, which …") without a location,
 * so callers prefix `file:line: [backend].option`; they never hold a value.
 */
export function resolveNamedSecret(store: NamedSecrets, name: string): string {
  const path = prefixedKey(store.prefix, namedSecretKey(name));
  const entry = store.secrets.get(name);
  if (entry === undefined) {
    throw new SecretError(
      `names secret ${name}, which etcd does not hold at ${path}: it was never stored, or was deleted`,
      `store it with \`hpe3parencryptor secret put ${name}\` (names in etcd: \`hpe3parencryptor secret list\`)`,
    );
  }
  if (!entry.found) throw new SecretError(`names secret ${name}, but ${entry.error.message}`, entry.error.fix, undefined, { cause: entry.error });
  if (!store.key.found) {
    const { error } = store.key;
    if (error !== undefined) throw new SecretError(`names secret ${name}, but ${error.message}`, error.fix, undefined, { cause: error });
    throw new SecretError(
      `names secret ${name}, but etcd has no cluster secrets key at ${prefixedKey(store.prefix, CLUSTER_SECRETS_KEY)}: it was deleted, so no named secret can be decrypted`,
      `${putAgain(name)}: the first put makes a new cluster secrets key`,
    );
  }
  const keyRecord = store.key.record;
  const current = currentVersion(entry.record);
  if (current.kid !== keyRecord.kid) {
    throw new SecretError(
      `names secret ${name}, whose version ${current.version} is encrypted with key ${current.kid}, but the cluster secrets key at ${prefixedKey(store.prefix, CLUSTER_SECRETS_KEY)} is ${keyRecord.kid}: the key was replaced`,
      putAgain(name),
    );
  }
  const opened = openNamedValue(currentKey(keyRecord), name, current.value);
  if (!opened.ok) {
    const why =
      opened.why === 'other-name'
        ? 'belongs to another secret: it was copied from another record in etcd'
        : `does not decrypt with key ${keyRecord.kid}: it was edited or damaged in etcd`;
    throw new SecretError(`names secret ${name}, whose value at ${path} (version ${current.version}) ${why}`, putAgain(name));
  }
  return opened.value;
}
