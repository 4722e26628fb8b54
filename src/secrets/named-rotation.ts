/**
 * `hpe3parencryptor secret rotate-key`: a new cluster secrets key from a new passphrase, and every version of every
 * named secret sealed again under it, written with the new key record in one guarded etcd transaction.
 */
import type { EtcdClient } from '../etcd/index.js';
import { readClusterKeyRecord, readNamedSecretRecords, replaceClusterKeyAndSecrets, type GuardedRecord } from '../etcd/index.js';
import { SecretError } from '../errors.js';
import { createKeyRecord, currentKey, newKid, parseClusterKeyRecord, PassphraseKeys, serializeKeyRecord, type KeyRecordV1 } from './key-record.js';
import { clusterKeyAt, concurrentChange, differentClusterPassphrase, secretAt, WriteAttempts } from './named-operations.js';
import { openNamedValue, parseNamedSecretRecord, sealNamedValue, serializeNamedSecretRecord, type NamedSecretRecordV1 } from './named-record.js';

interface SealingKey {
  kid: string;
  bytes: Uint8Array;
}

/**
 * The record with every version that opens under `from` sealed again under `to` (same value, number, dates).
 * Versions that do not open under `from` (another, earlier key; edited in etcd) cannot be read by anyone: they are
 * kept as they are, and listed in `kept`.
 */
export function resealRecord(record: NamedSecretRecordV1, from: SealingKey, to: SealingKey): { record: NamedSecretRecordV1; resealed: number; kept: number[] } {
  let resealed = 0;
  const kept: number[] = [];
  const versions = record.versions.map((v) => {
    const opened = v.kid === from.kid ? openNamedValue(from.bytes, record.name, v.value) : undefined;
    if (opened === undefined || !opened.ok) {
      kept.push(v.version);
      return v;
    }
    resealed++;
    return { ...v, kid: to.kid, value: sealNamedValue(to.bytes, to.kid, record.name, opened.value) };
  });
  return { record: { ...record, versions }, resealed, kept };
}

export interface RotateClusterKeyResult {
  oldKid: string;
  newKid: string;
  /** Secrets with at least one version sealed again. */
  secrets: number;
  versions: number;
  /** Versions left as they were (they did not open under the old key), and damaged records, by secret name. */
  kept: { name: string; versions: number[] }[];
  damaged: string[];
}

function noClusterKey(client: EtcdClient): SecretError {
  return new SecretError(
    `etcd has no cluster secrets key at ${clusterKeyAt(client)}: there is nothing to rotate; nothing was written`,
    'the first `hpe3parencryptor secret put NAME` makes the key from the passphrase it is given',
  );
}

function passphraseKeys(passphrase: string | PassphraseKeys): PassphraseKeys {
  return typeof passphrase === 'string' ? new PassphraseKeys(passphrase) : passphrase;
}

/**
 * Reads the cluster key record and checks `passphrase` against it (the CLI asks for the new one only after).
 * Given PassphraseKeys, the key derived here serves rotateClusterKey too.
 */
export async function checkClusterPassphrase(client: EtcdClient, passphrase: string | PassphraseKeys): Promise<KeyRecordV1> {
  const found = await readClusterKeyRecord(client);
  if (found === undefined) throw noClusterKey(client);
  const record = parseClusterKeyRecord(found.raw, clusterKeyAt(client));
  if (!(await passphraseKeys(passphrase).matches(record))) throw differentClusterPassphrase(client, record);
  return record;
}

/**
 * Replaces the cluster secrets key made from `current` by one made from `next` (new salt, new kid) and seals every
 * version of every named secret again under it: one transaction guarded by the revision of the key record and of
 * each secret record, retried on a change made meanwhile. Values are never returned.
 */
export async function rotateClusterKey(client: EtcdClient, current: string | PassphraseKeys, next: string, now: Date = new Date()): Promise<RotateClusterKeyResult> {
  const currentKeys = passphraseKeys(current);
  const made = await createKeyRecord(next, now);
  for (let attempt = 0; attempt < WriteAttempts; attempt++) {
    const store = await readNamedSecretRecords(client);
    if (store.key === undefined) throw noClusterKey(client);
    const old = parseClusterKeyRecord(store.key.raw, clusterKeyAt(client));
    // Checked against the record as it is now: scrypt runs again only for a record made with another salt or cost.
    if (!(await currentKeys.matches(old))) throw differentClusterPassphrase(client, old);
    while (made.record.kid === old.kid) made.record.kid = newKid();
    const from = { kid: old.kid, bytes: currentKey(old) };
    const to = { kid: made.record.kid, bytes: made.key };
    const writes = new Map<string, GuardedRecord>();
    const result: RotateClusterKeyResult = { oldKid: old.kid, newKid: made.record.kid, secrets: 0, versions: 0, kept: [], damaged: [] };
    for (const [name, stored] of [...store.secrets].sort(([a], [b]) => a.localeCompare(b))) {
      // Every record read is written, those with nothing to seal as they were: a put meanwhile then fails the guard.
      writes.set(name, stored);
      let record: NamedSecretRecordV1;
      try {
        record = parseNamedSecretRecord(stored.raw, name, secretAt(client, name));
      } catch (err) {
        if (!(err instanceof SecretError)) throw err;
        result.damaged.push(name);
        continue;
      }
      const sealed = resealRecord(record, from, to);
      if (sealed.kept.length > 0) result.kept.push({ name, versions: sealed.kept });
      if (sealed.resealed === 0) continue;
      result.secrets++;
      result.versions += sealed.resealed;
      writes.set(name, { raw: serializeNamedSecretRecord(sealed.record), modRevision: stored.modRevision });
    }
    const keyWrite = { raw: serializeKeyRecord(made.record), modRevision: store.key.modRevision };
    if (await replaceClusterKeyAndSecrets(client, keyWrite, writes)) return result;
  }
  throw concurrentChange(`${clusterKeyAt(client)} or a secret under it`);
}
