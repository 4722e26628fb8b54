import type { EtcdClient } from '../etcd/index.js';
import { keyRecordKey, prefixedKey, readAllKeyRecords } from '../etcd/index.js';
import { SecretError } from '../errors.js';
import { parseKeyRecord } from './key-record.js';
import type { KeyLookup } from './resolve.js';

/** Every backend's key record in one etcd round trip (upstream read one key per backend). */
export async function loadKeyLookups(client: EtcdClient): Promise<Map<string, KeyLookup>> {
  const records = await readAllKeyRecords(client);
  const lookups = new Map<string, KeyLookup>();
  for (const [backend, { raw }] of records) {
    try {
      lookups.set(backend, { found: true, stored: parseKeyRecord(raw, backend, prefixedKey(client.prefix, keyRecordKey(backend))) });
    } catch (err) {
      if (!(err instanceof SecretError)) throw err;
      lookups.set(backend, { found: false, error: err });
    }
  }
  return lookups;
}

export function lookupFor(lookups: ReadonlyMap<string, KeyLookup>, backend: string): KeyLookup {
  return lookups.get(backend) ?? { found: false };
}
