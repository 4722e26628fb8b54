import { timingSafeEqual } from 'node:crypto';
import nacl from 'tweetnacl';
import { SecretError } from '../errors.js';
import { formatEncrypted, MinPayloadLength, NonceLength } from './format.js';

const KeyLength = nacl.secretbox.keyLength;

function checkKeyLength(key: Uint8Array): void {
  if (key.length !== KeyLength) {
    throw new SecretError(
      `the encryption key has ${key.length} bytes instead of ${KeyLength}`,
      'recreate the key record with `hpe3parencryptor -d` then `hpe3parencryptor -a`',
    );
  }
}

/** Encrypts under a fresh random nonce, so equal passwords give different values (upstream's did not). */
export function sealSecret(key: Uint8Array, kid: string, plaintext: string): string {
  checkKeyLength(key);
  const nonce = nacl.randomBytes(NonceLength);
  const box = nacl.secretbox(new TextEncoder().encode(plaintext), nonce, key);
  const payload = new Uint8Array(NonceLength + box.length);
  payload.set(nonce, 0);
  payload.set(box, NonceLength);
  return formatEncrypted(kid, payload);
}

/** The plaintext, or null when the payload does not authenticate under this key (wrong key or altered). */
export function openSecret(key: Uint8Array, payload: Uint8Array): string | null {
  checkKeyLength(key);
  if (payload.length < MinPayloadLength) return null;
  const opened = nacl.secretbox.open(payload.subarray(NonceLength), payload.subarray(0, NonceLength), key);
  if (opened === null) return null;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(opened);
  } catch (err) {
    // Authenticated, so written by someone holding the key: not damage but a foreign writer.
    throw new SecretError(
      'decrypts to bytes that are not UTF-8 text; it was not written by hpe3parencryptor',
      'encrypt the password again with `hpe3parencryptor -a`',
      undefined,
      { cause: err },
    );
  }
}

/** Compares two keys without leaking, through timing, how many leading bytes agree. */
export function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
