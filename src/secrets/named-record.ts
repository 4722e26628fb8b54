import { z } from 'zod';
import { SecretError } from '../errors.js';
import { openSecret, sealSecret } from './box.js';
import { classifySecret, isKid } from './format.js';

/** How many versions a record keeps (the current one included); older ones are dropped on the next put. */
export const MaxSecretVersions = 20;

export interface NamedSecretVersion {
  version: number;
  kid: string;
  /** `enc:v1:<kid>:<data>` under the cluster secrets key; the sealed text binds the secret's name. */
  value: string;
  created: string /* ISO 8601 */;
  /** Set on a version made by `secret rollback`: the version whose value it copies. */
  rolledBackFrom?: number;
}

/** The record at `/secrets/<name>`: the current value (the last version) and its history, oldest first. */
export interface NamedSecretRecordV1 {
  v: 1;
  name: string;
  created: string /* ISO 8601, of the first version ever */;
  versions: NamedSecretVersion[];
}

const RecordVersion = 1;

// Messages written here: zod's defaults quote patterns and values.
const versionSchema = z.object(
  {
    version: z.number({ error: 'must be a number' }).int({ error: 'must be an integer' }).positive({ error: 'must be positive' }),
    kid: z.string({ error: 'must be a string' }).refine(isKid, { error: 'must be 8 lower-case hex characters' }),
    value: z.string({ error: 'must be a string' }).refine(isEncryptedValue, { error: 'must be an enc:v1 value' }),
    created: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date and time' }),
    rolledBackFrom: z.number({ error: 'must be a number' }).int({ error: 'must be an integer' }).positive({ error: 'must be positive' }).optional(),
  },
  { error: 'must be an object' },
);

const recordSchema = z
  .object({
    v: z.literal(RecordVersion, { error: `must be ${RecordVersion}` }),
    name: z.string({ error: 'must be a string' }),
    created: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date and time' }),
    versions: z
      .array(versionSchema, { error: 'must be a list' })
      .min(1, { error: 'must hold at least one version' })
      .max(MaxSecretVersions, { error: `must hold at most ${MaxSecretVersions} versions` }),
  })
  .superRefine((record, ctx) => {
    record.versions.forEach((v, i) => {
      const before = record.versions[i - 1];
      if (before !== undefined && v.version <= before.version) ctx.addIssue({ code: 'custom', path: ['versions', i, 'version'], message: 'must be larger than the one before' });
    });
  });

function isEncryptedValue(text: string): boolean {
  try {
    return classifySecret(text).kind === 'encrypted';
  } catch {
    return false;
  }
}

function damaged(name: string, etcdKey: string, problem: string): SecretError {
  return new SecretError(
    `etcd key ${etcdKey} (secret ${name}) holds a damaged record: ${problem}`,
    `store the value again with \`hpe3parencryptor secret put ${name}\`, or restore ${etcdKey} from a backup`,
  );
}

/**
 * Reads the record at `/secrets/<name>`. It must name itself: a record moved under another key is refused
 * (and the sealed values carry the name too, so an edited name does not help).
 */
export function parseNamedSecretRecord(raw: string, name: string, etcdKey: string): NamedSecretRecordV1 {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw damaged(name, etcdKey, 'it is not valid JSON (cut short?)');
  }
  const v = typeof json === 'object' && json !== null ? (json as { v?: unknown }).v : undefined;
  if (typeof v === 'number' && Number.isInteger(v) && v > RecordVersion) {
    throw new SecretError(
      `etcd key ${etcdKey} (secret ${name}) holds a record of version ${v}, which this version cannot read`,
      'upgrade hpedockerplugin and hpe3parencryptor to the version that wrote it',
    );
  }
  const result = recordSchema.safeParse(json);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => [issue.path.map(String).join('.'), issue.message].filter((x) => x !== '').join(' '));
    throw damaged(name, etcdKey, issues.join('; '));
  }
  const record = result.data;
  if (record.name !== name) throw damaged(name, etcdKey, 'it names another secret: it was copied or moved from another key');
  return {
    v: 1,
    name: record.name,
    created: record.created,
    versions: record.versions.map((x) => ({
      version: x.version,
      kid: x.kid,
      value: x.value,
      created: x.created,
      ...(x.rolledBackFrom === undefined ? {} : { rolledBackFrom: x.rolledBackFrom }),
    })),
  };
}

export function serializeNamedSecretRecord(record: NamedSecretRecordV1): string {
  return JSON.stringify(record);
}

export function currentVersion(record: NamedSecretRecordV1): NamedSecretVersion {
  return record.versions[record.versions.length - 1] as NamedSecretVersion;
}

/** The record with `version` appended as the new current one, keeping at most MaxSecretVersions. */
export function withNewVersion(
  record: NamedSecretRecordV1 | undefined,
  name: string,
  next: Omit<NamedSecretVersion, 'version'>,
): NamedSecretRecordV1 {
  const versions = record?.versions ?? [];
  const version = (versions.at(-1)?.version ?? 0) + 1;
  return {
    v: 1,
    name,
    created: record?.created ?? next.created,
    versions: [...versions, { version, ...next }].slice(-MaxSecretVersions),
  };
}

/** The sealed text is the name, NUL, the value: a value copied into another secret's record does not open as that secret. */
const NameSeparator = '\u0000';

export function sealNamedValue(key: Uint8Array, kid: string, name: string, value: string): string {
  return sealSecret(key, kid, `${name}${NameSeparator}${value}`);
}

/** What opening a version gave: the value, or why there is none. */
export type OpenedNamedValue = { ok: true; value: string } | { ok: false; why: 'does-not-open' | 'other-name' };

export function openNamedValue(key: Uint8Array, name: string, encrypted: string): OpenedNamedValue {
  const classified = classifySecret(encrypted);
  if (classified.kind !== 'encrypted') return { ok: false, why: 'does-not-open' };
  const text = openSecret(key, classified.payload);
  if (text === null) return { ok: false, why: 'does-not-open' };
  const cut = text.indexOf(NameSeparator);
  if (cut < 0 || text.slice(0, cut) !== name) return { ok: false, why: 'other-name' };
  return { ok: true, value: text.slice(cut + 1) };
}
