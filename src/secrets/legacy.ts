import { createDecipheriv } from 'node:crypto';
import { decodeBase64Strict } from './format.js';

/*
 * Reads values written by upstream's py-3parencryptor, so existing deployments keep working until
 * they migrate. There is deliberately no encrypt here: we never write this format.
 */

const PadChars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const FixedIv = Buffer.from('1234567812345678', 'latin1');
const AesKeyLengths = [16, 24, 32] as const;

/**
 * Upstream's `key_check`: pad with `abc…` up to the next AES key length, or cut to 32. Counted in
 * UTF-8 bytes: upstream counted characters, which agree for ASCII, and a non-ASCII passphrase could
 * only ever have worked where characters were bytes.
 */
export function legacyAesKey(passphrase: string): Buffer {
  const bytes = Buffer.from(passphrase, 'utf8');
  if (bytes.length >= 32) return bytes.subarray(0, 32);
  const target = AesKeyLengths.find((n) => n >= bytes.length) ?? 32;
  return Buffer.concat([bytes, Buffer.from(PadChars.slice(0, target - bytes.length), 'latin1')]);
}

/**
 * The password, or null when the value is not base64 or does not decrypt to UTF-8 text.
 * The format has no MAC: a wrong passphrase usually yields invalid UTF-8 (null), but may yield
 * valid garbage, which only the array's login rejects.
 */
export function decryptLegacy(passphrase: string, value: string): string | null {
  const ciphertext = decodeBase64Strict(value);
  if (ciphertext === undefined || ciphertext.length === 0) return null;
  const key = legacyAesKey(passphrase);
  const decipher = createDecipheriv(`aes-${key.length * 8}-cfb8`, key, FixedIv);
  const plain = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(plain);
  } catch {
    return null;
  }
}
