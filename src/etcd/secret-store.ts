/**
 * Named secrets: the cluster secrets key record at `/secrets-key` (the format of a backend key record) and one
 * record per secret at `/secrets/<name>`. Values are raw strings; parsing them is the secrets module's job.
 * Same conflict convention as key-store.ts: guarded writes return `false` when someone else wrote first.
 */
import { checkRevision, type EtcdClient } from './client.js';
import { CLUSTER_SECRETS_KEY, NAMED_SECRETS_PREFIX, SECRETS_PREFIX } from './keyspace.js';
import { ifEveryKeyUnder } from './range-compare.js';

interface StoredRecord {
  raw: string;
  modRevision: string;
}

export interface NamedSecretRecords {
  key: StoredRecord | undefined;
  secrets: Map<string, StoredRecord>;
}

/** The key of a named secret's record (without host_etcd_prefix: `prefixedKey` adds it for messages). */
export function namedSecretKey(name: string): string {
  if (name.length === 0) throw new TypeError('secret name must not be empty');
  return NAMED_SECRETS_PREFIX + name;
}

/** The cluster key record and every named secret in ONE prefix read. */
export async function readNamedSecretRecords(client: EtcdClient): Promise<NamedSecretRecords> {
  const all = await client.getPrefix(SECRETS_PREFIX);
  const keySuffix = CLUSTER_SECRETS_KEY.slice(SECRETS_PREFIX.length);
  const nameStart = NAMED_SECRETS_PREFIX.length - SECRETS_PREFIX.length;
  let key: StoredRecord | undefined;
  const secrets = new Map<string, StoredRecord>();
  for (const [suffix, rec] of all) {
    const stored = { raw: rec.value, modRevision: rec.modRevision };
    if (suffix === keySuffix) key = stored;
    else if (suffix.startsWith('/') && suffix.length > nameStart) secrets.set(suffix.slice(nameStart), stored);
  }
  return { key, secrets };
}

export async function readClusterKeyRecord(client: EtcdClient): Promise<StoredRecord | undefined> {
  const rec = await client.get(CLUSTER_SECRETS_KEY);
  return rec === undefined ? undefined : { raw: rec.value, modRevision: rec.modRevision };
}

export function createClusterKeyRecord(client: EtcdClient, raw: string): Promise<boolean> {
  return client.putIfAbsent(CLUSTER_SECRETS_KEY, raw);
}

export async function readNamedSecret(client: EtcdClient, name: string): Promise<StoredRecord | undefined> {
  const rec = await client.get(namedSecretKey(name));
  return rec === undefined ? undefined : { raw: rec.value, modRevision: rec.modRevision };
}

/**
 * Writes the secret's record only if it is still at `modRevision` (undefined: only if it has none) AND the cluster
 * key record is still at `keyModRevision`: a value sealed under a key replaced meanwhile (`secret rotate-key`) is
 * never written. `false` if either changed.
 */
export function writeNamedSecret(client: EtcdClient, name: string, raw: string, modRevision: string | undefined, keyModRevision: string): Promise<boolean> {
  const key = namedSecretKey(name);
  for (const r of [modRevision ?? '0', keyModRevision]) checkRevision(r);
  return client.writingRaw(
    [key, CLUSTER_SECRETS_KEY].map((k) => ({ key: k, prefix: false })),
    async (attempt) => {
      const txn = client.raw;
      const res = await (modRevision === undefined ? txn.if(key, 'Create', '==', 0) : txn.if(key, 'Mod', '==', modRevision))
        .and(CLUSTER_SECRETS_KEY, 'Mod', '==', keyModRevision)
        .then(txn.put(key).value(raw))
        .else(txn.get(key))
        .commit();
      // After a lost answer the guard fails on our own write: the key then holds what we wrote.
      return res.succeeded || (attempt > 1 && res.responses[0]?.response_range?.kvs?.[0]?.value.toString('utf8') === raw);
    },
  );
}

/** Deletes the record; `true` if it deleted one. With `modRevision`, only if still at that revision. */
export function deleteNamedSecret(client: EtcdClient, name: string, modRevision?: string): Promise<boolean> {
  return client.delete(namedSecretKey(name), modRevision);
}

/** A record to write only if it is still at `modRevision`. */
export interface GuardedRecord {
  raw: string;
  modRevision: string;
}

/**
 * Replaces the cluster key record and the given secrets' records in ONE transaction, only if each of them is still
 * at its `modRevision` and no secret was created since they were read (one made meanwhile would stay sealed under
 * the replaced key): all are written, or none (`false`: someone else changed the secrets meanwhile).
 */
export async function replaceClusterKeyAndSecrets(client: EtcdClient, key: GuardedRecord, secrets: ReadonlyMap<string, GuardedRecord>): Promise<boolean> {
  const records = new Map<string, GuardedRecord>([[CLUSTER_SECRETS_KEY, key], ...[...secrets].map(([name, r]) => [namedSecretKey(name), r] as const)]);
  for (const r of records.values()) checkRevision(r.modRevision);
  const entries = [...records];
  return client.writingRaw(
    entries.map(([k]) => ({ key: k, prefix: false })),
    async (attempt) => {
      const raw = client.raw;
      // Every record was read at or after its revision: a secret created later has a greater create revision.
      const readAt = entries.reduce((max, [, r]) => (BigInt(r.modRevision) > max ? BigInt(r.modRevision) : max), 0n);
      let txn = ifEveryKeyUnder(raw, NAMED_SECRETS_PREFIX, 'Create', '<', (readAt + 1n).toString());
      for (const [k, r] of entries) txn = txn.and(k, 'Mod', '==', r.modRevision);
      const res = await txn
        .then(...entries.map(([k, r]) => raw.put(k).value(r.raw)))
        .else(raw.get(CLUSTER_SECRETS_KEY))
        .commit();
      if (res.succeeded) return true;
      // After a lost answer the guard fails on our own write: the key record then holds ours (a new salt and kid make
      // it unique), and the transaction wrote the rest with it.
      return attempt > 1 && res.responses[0]?.response_range?.kvs?.[0]?.value.toString('utf8') === key.raw;
    },
  );
}
