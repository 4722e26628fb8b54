/**
 * Backend key records at `/backend/<backend>` (the path upstream's etcdutil used for the backend's encryption
 * key). Values are raw strings; parsing them is the secrets module's job.
 *
 * Conflict convention (chosen to fit the read → decide → compare-and-swap loops of the callers):
 * `createKeyRecord` and `replaceKeyRecord` return `false` when someone else got there first (the caller
 * re-reads and decides); they never overwrite. Transport failures reject with `EtcdError`.
 */
import type { EtcdClient } from './client.js';
import { KEY_RECORDS_PREFIX } from './keyspace.js';

interface StoredKeyRecord {
  raw: string;
  modRevision: string;
}

/** The key of a backend's record (without host_etcd_prefix: `prefixedKey` adds it for messages). */
export function keyRecordKey(backend: string): string {
  if (backend.length === 0) throw new TypeError('backend name must not be empty');
  return KEY_RECORDS_PREFIX + backend;
}

/** Every backend's record in ONE prefix read of `/backend/`: backend name → record. */
export async function readAllKeyRecords(client: EtcdClient): Promise<Map<string, StoredKeyRecord>> {
  const all = await client.getPrefix(KEY_RECORDS_PREFIX);
  const out = new Map<string, StoredKeyRecord>();
  for (const [backend, rec] of all) {
    if (backend.length > 0) out.set(backend, { raw: rec.value, modRevision: rec.modRevision });
  }
  return out;
}

export async function readKeyRecord(client: EtcdClient, backend: string): Promise<StoredKeyRecord | undefined> {
  const rec = await client.get(keyRecordKey(backend));
  return rec === undefined ? undefined : { raw: rec.value, modRevision: rec.modRevision };
}

/** Creates the record only if the backend has none; `false` if one exists (possibly created meanwhile). */
export function createKeyRecord(client: EtcdClient, backend: string, raw: string): Promise<boolean> {
  return client.putIfAbsent(keyRecordKey(backend), raw);
}

/** Replaces the record only if it is still at `modRevision`; `false` if it changed or was deleted meanwhile. */
export function replaceKeyRecord(client: EtcdClient, backend: string, raw: string, modRevision: string): Promise<boolean> {
  return client.putIfUnchanged(keyRecordKey(backend), raw, modRevision);
}

/**
 * Deletes the record; `true` if it deleted one, `false` if there was none. With `modRevision`, deletes only if
 * the record is still at that revision (`false` also when it changed meanwhile).
 */
export function deleteKeyRecord(client: EtcdClient, backend: string, modRevision?: string): Promise<boolean> {
  return client.delete(keyRecordKey(backend), modRevision);
}
