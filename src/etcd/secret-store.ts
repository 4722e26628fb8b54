/**
 * Named secrets: the cluster secrets key record at `/secrets-key` (the format of a backend key record) and one
 * record per secret at `/secrets/<name>`. Values are raw strings; parsing them is the secrets module's job.
 * Same conflict convention as key-store.ts: guarded writes return `false` when someone else wrote first.
 */
import type { EtcdClient } from './client.js';
import { CLUSTER_SECRETS_KEY, NAMED_SECRETS_PREFIX, SECRETS_PREFIX } from './keyspace.js';

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

/** Creates the secret's record only if it has none; `false` if one exists (possibly created meanwhile). */
export function createNamedSecret(client: EtcdClient, name: string, raw: string): Promise<boolean> {
  return client.putIfAbsent(namedSecretKey(name), raw);
}

/** Replaces the record only if it is still at `modRevision`; `false` if it changed or was deleted meanwhile. */
export function replaceNamedSecret(client: EtcdClient, name: string, raw: string, modRevision: string): Promise<boolean> {
  return client.putIfUnchanged(namedSecretKey(name), raw, modRevision);
}

/** Deletes the record; `true` if it deleted one. With `modRevision`, only if still at that revision. */
export function deleteNamedSecret(client: EtcdClient, name: string, modRevision?: string): Promise<boolean> {
  return client.delete(namedSecretKey(name), modRevision);
}
