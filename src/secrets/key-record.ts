import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { SecretError } from '../errors.js';
import { sameKey } from './box.js';
import { decodeBase64Strict, encodeBase64, isKid } from './format.js';
import { deriveKey, DerivedKeyLength, kdfParamProblems, newKdfParams, type KdfParams } from './kdf.js';

export type { KdfParams } from './kdf.js';

export interface RetiredKey {
  kid: string;
  key: string /* base64 32 bytes */;
}

export interface KeyRecordV1 {
  v: 1;
  kid: string;
  kdf: KdfParams;
  key: string /* base64 of the 32-byte derived key */;
  created: string /* ISO 8601 */;
  /** keys still accepted for decryption while a rotation is half done (crash safety) */
  retired?: RetiredKey[];
  /** while a legacy migration is half done: the raw legacy passphrase, so unprefixed legacy values still decrypt */
  legacyPassphrase?: string;
}

export type StoredKey = { format: 'v1'; record: KeyRecordV1 } | { format: 'legacy'; passphrase: string };

const KeyRecordVersion = 1;

function isDerivedKey(text: string): boolean {
  return decodeBase64Strict(text)?.length === DerivedKeyLength;
}

// Messages are written here, not zod's defaults: those quote regex patterns, and must never quote a key.
const kidSchema = z.string({ error: 'must be a string' }).refine(isKid, { error: 'must be 8 lower-case hex characters' });
const keySchema = z.string({ error: 'must be a string' }).refine(isDerivedKey, { error: `must be base64 of ${DerivedKeyLength} bytes` });

const kdfSchema = z
  .object({
    name: z.literal('scrypt', { error: 'must be "scrypt"' }),
    N: z.number({ error: 'must be a number' }),
    r: z.number({ error: 'must be a number' }),
    p: z.number({ error: 'must be a number' }),
    salt: z.string({ error: 'must be a string' }),
  }, { error: 'must be an object' })
  .superRefine((kdf, ctx) => {
    for (const problem of kdfParamProblems(kdf)) ctx.addIssue({ code: 'custom', message: problem });
  });

const keyRecordV1Schema = z
  .object({
    v: z.literal(1, { error: 'must be 1' }),
    kid: kidSchema,
    kdf: kdfSchema,
    key: keySchema,
    created: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date and time' }),
    retired: z.array(z.object({ kid: kidSchema, key: keySchema }, { error: 'must be an object' }), { error: 'must be a list' }).optional(),
    legacyPassphrase: z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }).optional(),
  })
  .superRefine((record, ctx) => {
    const kids = [record.kid, ...(record.retired ?? []).map((r) => r.kid)];
    if (new Set(kids).size !== kids.length) {
      ctx.addIssue({ code: 'custom', path: ['retired'], message: 'repeats a key id' });
    }
  });

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map(String).join('.');
      return path === '' ? issue.message : `${path} ${issue.message}`;
    })
    .join('; ');
}

function recordFix(backend: string, etcdKey: string): string {
  return (
    `restore ${etcdKey} from a backup, or delete it with \`hpe3parencryptor -d --backend ${backend}\` ` +
    `and encrypt the passwords again with \`hpe3parencryptor -a\``
  );
}

/** Where a record sits and what to do when it is damaged, for its error messages. */
interface RecordPlace {
  where: string;
  fix: string;
}

function backendPlace(backend: string, etcdKey: string): RecordPlace {
  return { where: `etcd key ${etcdKey} (backend ${backend})`, fix: recordFix(backend, etcdKey) };
}

function parseV1(json: Record<string, unknown>, place: RecordPlace): KeyRecordV1 {
  const { where, fix } = place;
  const { v } = json;
  if (typeof v === 'number' && Number.isInteger(v) && v > KeyRecordVersion) {
    throw new SecretError(
      `${where} holds a key record of version ${v}, which this version cannot read`,
      'upgrade hpedockerplugin and hpe3parencryptor to the version that wrote it',
    );
  }
  const result = keyRecordV1Schema.safeParse(json);
  if (!result.success) {
    throw new SecretError(`${where} holds a damaged key record: ${describeIssues(result.error)}`, fix);
  }
  const record = result.data;
  // Rebuilt field by field so that fields unknown to this version are not carried along.
  return {
    v: 1,
    kid: record.kid,
    kdf: { name: 'scrypt', N: record.kdf.N, r: record.kdf.r, p: record.kdf.p, salt: record.kdf.salt },
    key: record.key,
    created: record.created,
    ...(record.retired === undefined ? {} : { retired: record.retired.map((r) => ({ kid: r.kid, key: r.key })) }),
    ...(record.legacyPassphrase === undefined ? {} : { legacyPassphrase: record.legacyPassphrase }),
  };
}

function parseJsonObject(raw: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Text that starts like a record we wrote: if it does not parse, it is a damaged record, not a passphrase. */
const RecordOpening = /^\s*\{\s*"v"\s*:/;

/**
 * Reads the value at `/backend/<backend>` (`etcdKey`: that key as etcd holds it, for messages). Upstream stored
 * the passphrase there raw, as typed, so anything that is not one of our JSON records is a legacy passphrase.
 */
export function parseKeyRecord(raw: string, backend: string, etcdKey: string): StoredKey {
  const json = parseJsonObject(raw);
  if (json !== undefined && Object.hasOwn(json, 'v')) return { format: 'v1', record: parseV1(json, backendPlace(backend, etcdKey)) };
  if (json === undefined && RecordOpening.test(raw)) {
    throw new SecretError(
      `etcd key ${etcdKey} (backend ${backend}) holds a damaged key record: it is not valid JSON (cut short?)`,
      recordFix(backend, etcdKey),
    );
  }
  if (raw === '') {
    throw new SecretError(
      `etcd key ${etcdKey} (backend ${backend}) is empty: neither a key record nor a passphrase`,
      recordFix(backend, etcdKey),
    );
  }
  return { format: 'legacy', passphrase: raw };
}

/**
 * Reads the cluster secrets key record (`/secrets-key`): the format of a backend's record, but never a
 * legacy passphrase, as py-3parencryptor had no named secrets.
 */
export function parseClusterKeyRecord(raw: string, etcdKey: string): KeyRecordV1 {
  const place = {
    where: `etcd key ${etcdKey} (the cluster secrets key)`,
    fix: `restore ${etcdKey} from a backup; or delete it and store every named secret again with \`hpe3parencryptor secret put NAME\` (the first put makes a new key)`,
  };
  const json = parseJsonObject(raw);
  if (json === undefined || !Object.hasOwn(json, 'v')) throw new SecretError(`${place.where} holds a damaged key record: it is not a JSON key record`, place.fix);
  return parseV1(json, place);
}

export function serializeKeyRecord(r: KeyRecordV1): string {
  return JSON.stringify(r);
}

export function newKid(): string {
  return randomBytes(4).toString('hex');
}

export async function createKeyRecord(
  passphrase: string,
  now: Date,
  params: KdfParams = newKdfParams(),
): Promise<{ record: KeyRecordV1; key: Uint8Array }> {
  const key = await deriveKey(passphrase, params);
  const record: KeyRecordV1 = { v: 1, kid: newKid(), kdf: { ...params }, key: encodeBase64(key), created: now.toISOString() };
  return { record, key };
}

function decodeKey(text: string): Uint8Array {
  const key = decodeBase64Strict(text);
  if (key === undefined || key.length !== DerivedKeyLength) {
    // Only reachable for records built in code without parseKeyRecord.
    throw new SecretError(`a key record holds a key that is not base64 of ${DerivedKeyLength} bytes`, 'recreate the key record');
  }
  return key;
}

/** The current key of a record, to encrypt with. */
export function currentKey(record: KeyRecordV1): Uint8Array {
  return decodeKey(record.key);
}

/** Re-derives with the record's own salt and cost, so the same passphrase gives the same key. */
export async function passphraseMatches(record: KeyRecordV1, passphrase: string): Promise<boolean> {
  const derived = await deriveKey(passphrase, record.kdf);
  return sameKey(derived, currentKey(record));
}

/**
 * A passphrase and the keys it derived, by KDF parameters: checked against records with the same salt and cost (the
 * record read again, or replaced by one made with the same salt), it is derived (scrypt) once. Each check still
 * compares with the record's own key. The passphrase and keys are kept in private fields, out of logs and errors.
 */
export class PassphraseKeys {
  readonly #passphrase: string;
  readonly #derive: typeof deriveKey;
  readonly #derived = new Map<string, Uint8Array>();

  /** `derive`: the KDF (tests count its calls). */
  constructor(passphrase: string, derive: typeof deriveKey = deriveKey) {
    this.#passphrase = passphrase;
    this.#derive = derive;
  }

  /** Whether the passphrase gives `record`'s current key. */
  async matches(record: KeyRecordV1): Promise<boolean> {
    return sameKey(await this.#keyFor(record.kdf), currentKey(record));
  }

  async #keyFor(kdf: KdfParams): Promise<Uint8Array> {
    const params = JSON.stringify([kdf.name, kdf.N, kdf.r, kdf.p, kdf.salt]);
    let key = this.#derived.get(params);
    if (key === undefined) {
      key = await this.#derive(this.#passphrase, kdf);
      this.#derived.set(params, key);
    }
    return key;
  }
}

/** Where one key record lives, for obtainKey: read it, create it only if absent, and the errors to give. */
export interface KeyRecordPlace {
  /** The record there now (undefined: none); throws for one that cannot serve (damaged, legacy). */
  read(): Promise<KeyRecordV1 | undefined>;
  /** Writes a new record only if there is none; false when another admin got there first. */
  create(raw: string): Promise<boolean>;
  differentPassphrase(record: KeyRecordV1): SecretError;
  changedMeanwhile(): SecretError;
}

/**
 * The key a passphrase gives at `place`: created on first use, re-derived with the record's salt and compared
 * afterwards (a different passphrase is refused). A record another admin creates meanwhile is checked, not replaced.
 */
export async function obtainKey(place: KeyRecordPlace, passphrase: string, now: Date): Promise<{ kid: string; key: Uint8Array; created: boolean }> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const record = await place.read();
    if (record === undefined) {
      const made = await createKeyRecord(passphrase, now);
      if (await place.create(serializeKeyRecord(made.record))) return { kid: made.record.kid, key: made.key, created: true };
      continue;
    }
    if (!(await passphraseMatches(record, passphrase))) throw place.differentPassphrase(record);
    return { kid: record.kid, key: currentKey(record), created: false };
  }
  throw place.changedMeanwhile();
}

/** The key that decrypts values tagged `kid`: the current one or one retired by an unfinished rotation. */
export function keyForKid(stored: StoredKey, kid: string): Uint8Array | undefined {
  if (stored.format !== 'v1') return undefined;
  const { record } = stored;
  if (record.kid === kid) return decodeKey(record.key);
  const retired = record.retired?.find((r) => r.kid === kid);
  return retired === undefined ? undefined : decodeKey(retired.key);
}
