import { SecretError } from '../errors.js';

/*
 * How a password is written in hpe.conf. Error messages here are predicates ("is an encrypted
 * value cut short") so callers can prefix the location: `hpe.conf:12: [b].hpe3par_password: ...`.
 * They never quote the value, not even the encrypted one.
 */

const EncryptedPrefix = 'enc:';
const CurrentFormatVersion = 'v1';
export const NonceLength = 24;
/** Poly1305 tag length of tweetnacl's secretbox. */
const MacLength = 16;
export const MinPayloadLength = NonceLength + MacLength;

const KidPattern = /^[0-9a-f]{8}$/;
const Base64Pattern = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const EnvNamePattern = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A named secret's name: also its etcd key below `/secrets/`, so no `/`, and nothing that needs quoting. */
export const SecretNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const SecretNameRule = '1 to 64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit';

export type PlaceholderSource = 'env' | 'file';

export interface Placeholder {
  source: PlaceholderSource;
  ref: string;
}

export type ClassifiedSecret =
  | { kind: 'encrypted'; kid: string; payload: Uint8Array }
  | ({ kind: 'placeholder' } & Placeholder)
  | { kind: 'named'; name: string }
  | { kind: 'plain' };

export function isKid(text: string): boolean {
  return KidPattern.test(text);
}

/**
 * Standard base64 with `=` padding, canonical form only. Node's own decoder skips unknown
 * characters and accepts the URL alphabet, which would let a damaged value decode to something.
 */
export function decodeBase64Strict(text: string): Uint8Array | undefined {
  if (!Base64Pattern.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) return undefined;
  return new Uint8Array(bytes);
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function formatEncrypted(kid: string, payload: Uint8Array): string {
  if (!isKid(kid)) throw new RangeError('a key id must be 8 lower-case hex characters');
  if (payload.length < MinPayloadLength) throw new RangeError(`an encrypted payload has at least ${MinPayloadLength} bytes`);
  return `${EncryptedPrefix}${CurrentFormatVersion}:${kid}:${encodeBase64(payload)}`;
}

const reencryptFix =
  'paste the complete value printed by `hpe3parencryptor -a`, or write the plain password and run `hpe3parencryptor encrypt-config`';

function parseEncrypted(raw: string): { kind: 'encrypted'; kid: string; payload: Uint8Array } {
  const [, version, kid, data, ...rest] = raw.split(':');
  if (version === undefined || version === '') {
    throw new SecretError('starts with enc: but has no format version (expected enc:v1:<key id>:<data>)', reencryptFix);
  }
  if (version !== CurrentFormatVersion) {
    if (/^v[0-9]{1,4}$/.test(version)) {
      throw new SecretError(
        `uses format enc:${version}, which this version cannot read`,
        'upgrade hpedockerplugin (and hpe3parencryptor) to the version that wrote this value',
      );
    }
    throw new SecretError('starts with enc: but is not an encrypted value of the form enc:v1:<key id>:<data>', reencryptFix);
  }
  if (kid === undefined || data === undefined) {
    throw new SecretError('is an encrypted value cut short: the key id or the data is missing', reencryptFix);
  }
  if (rest.length > 0) {
    throw new SecretError('is not a well-formed encrypted value: it has more than four `:`-separated parts', reencryptFix);
  }
  if (!isKid(kid)) {
    throw new SecretError('is an encrypted value with a malformed key id (expected 8 lower-case hex characters)', reencryptFix);
  }
  if (data === '') {
    throw new SecretError('is an encrypted value cut short: the data after the key id is empty', reencryptFix);
  }
  const payload = decodeBase64Strict(data);
  if (payload === undefined) {
    const hint = /^[A-Za-z0-9+/]*$/.test(data) && data.length % 4 !== 0 ? 'it was probably cut short' : 'it was altered';
    throw new SecretError(`is an encrypted value whose data is not valid base64; ${hint}`, reencryptFix);
  }
  if (payload.length < MinPayloadLength) {
    throw new SecretError(
      `is an encrypted value cut short: its data has ${payload.length} bytes, fewer than the ${MinPayloadLength} of nonce and authentication tag`,
      reencryptFix,
    );
  }
  return { kind: 'encrypted', kid, payload };
}

const placeholderFix =
  'write the whole value as $env{VARIABLE_NAME} or $file{/absolute/path}; if this is literally the password, encrypt it with `hpe3parencryptor -a`';

function parsePlaceholder(raw: string, source: PlaceholderSource): Placeholder {
  const opening = `$${source}{`;
  if (!raw.endsWith('}')) {
    throw new SecretError(`starts with ${opening} but is not a whole-value placeholder ending in }`, placeholderFix);
  }
  const ref = raw.slice(opening.length, -1);
  if (source === 'env' && !EnvNamePattern.test(ref)) {
    throw new SecretError('is a $env{} placeholder whose variable name is empty or not a valid name', placeholderFix);
  }
  if (source === 'file' && ref === '') {
    throw new SecretError('is a $file{} placeholder with an empty path', placeholderFix);
  }
  return { source, ref };
}

/**
 * What is wrong with a secret name, as a predicate; undefined when it is valid. Never quotes the name: a
 * password typed where the name belongs would otherwise be printed.
 */
export function secretNameProblem(name: string): string | undefined {
  if (name === '') return 'is empty';
  if (name.length > 64) return `is ${name.length} characters long, more than 64`;
  if (SecretNamePattern.test(name)) return undefined;
  if (!/^[A-Za-z0-9]/.test(name)) return 'does not start with a letter or digit';
  const at = [...name].findIndex((c) => !/[A-Za-z0-9._-]/.test(c));
  return `has a character other than A-Z a-z 0-9 . _ - at position ${at + 1}`;
}

const NamedOpening = '$secret{';

function parseNamed(raw: string): { kind: 'named'; name: string } {
  const fix = `write the whole value as $secret{NAME}, NAME being ${SecretNameRule}; store it with \`hpe3parencryptor secret put NAME\``;
  if (!raw.endsWith('}')) throw new SecretError(`starts with ${NamedOpening} but is not a whole-value placeholder ending in }`, fix);
  const name = raw.slice(NamedOpening.length, -1);
  const problem = secretNameProblem(name);
  if (problem !== undefined) throw new SecretError(`is a $secret{} placeholder whose name ${problem}`, fix);
  return { kind: 'named', name };
}

/**
 * Tells the four forms of a password apart. Anything that claims to be encrypted or a placeholder
 * and is malformed throws: falling back to plain text would send the text to the array as the
 * password and could lock the account.
 */
export function classifySecret(raw: string): ClassifiedSecret {
  if (raw.startsWith(EncryptedPrefix)) return parseEncrypted(raw);
  if (raw.startsWith('$env{')) return { kind: 'placeholder', ...parsePlaceholder(raw, 'env') };
  if (raw.startsWith('$file{')) return { kind: 'placeholder', ...parsePlaceholder(raw, 'file') };
  if (raw.startsWith(NamedOpening)) return parseNamed(raw);
  return { kind: 'plain' };
}
