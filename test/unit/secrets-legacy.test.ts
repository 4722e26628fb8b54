import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import { describe, it } from 'node:test';
import { decryptLegacy, legacyAesKey } from '../../src/secrets/legacy.js';

/** What py-3parencryptor wrote, given the already padded key (written out literally below). */
function upstreamEncrypt(paddedKey: string, password: string): string {
  const key = Buffer.from(paddedKey, 'utf8');
  const cipher = createCipheriv(`aes-${key.length * 8}-cfb8`, key, Buffer.from('1234567812345678'));
  return Buffer.concat([cipher.update(password, 'utf8'), cipher.final()]).toString('base64');
}

describe('decryptLegacy', () => {
  it('decrypts the documented upstream example', () => {
    assert.equal(decryptLegacy('@123#', '+CB1E8Je1j8='), 'password');
  });

  const vectors: { name: string; passphrase: string; padded: string }[] = [
    { name: 'exactly 16 (crashed upstream, #518)', passphrase: 'sixteen-chars-pp', padded: 'sixteen-chars-pp' },
    { name: '20, padded to 24', passphrase: 'twenty-character-pp!', padded: 'twenty-character-pp!abcd' },
    { name: 'exactly 24', passphrase: 'twenty-four-characters!!', padded: 'twenty-four-characters!!' },
    { name: '28, padded to 32', passphrase: 'twenty-eight-characters-here', padded: 'twenty-eight-characters-hereabcd' },
    { name: 'exactly 32', passphrase: 'thirty-two-characters-passphrase', padded: 'thirty-two-characters-passphrase' },
    { name: '40, cut to 32', passphrase: 'forty-characters-passphrase-cut-at-32!!!', padded: 'forty-characters-passphrase-cut-' },
    { name: '1, padded to 16', passphrase: 'x', padded: 'xabcdefghijklmno' },
  ];
  for (const { name, passphrase, padded } of vectors) {
    it(`decrypts with a passphrase of length ${name}`, () => {
      assert.equal(legacyAesKey(passphrase).toString(), padded);
      for (const password of ['password', '3PAR-admin-pw!', 'pässwörd']) {
        assert.equal(decryptLegacy(passphrase, upstreamEncrypt(padded, password)), password);
      }
    });
  }

  it('pads with both alphabets when a long pad is needed', () => {
    assert.equal(legacyAesKey('').toString(), 'abcdefghijklmnop');
    assert.equal(legacyAesKey('a'.repeat(17)).toString(), `${'a'.repeat(17)}abcdefg`);
    assert.equal(legacyAesKey('0123456789abcdefghijklmnopqrstuvwxyzABCDEF').length, 32);
  });

  it('returns null for values that are not base64, or empty', () => {
    for (const value of ['plain password', 'pass!', '+CB1E8Je1j8', '', '+CB1E8Je1j8=\n']) {
      assert.equal(decryptLegacy('@123#', value), null, value);
    }
  });

  it('returns null, or at least not the password, under a wrong passphrase', () => {
    const value = upstreamEncrypt('@123#abcdefghijk', 'pässwörd-with-more-text');
    const result = decryptLegacy('wrong', value);
    assert.notEqual(result, 'pässwörd-with-more-text');
  });

  it('returns null when the output is not UTF-8', () => {
    // Ciphertext of bytes 0xff 0xfe: never valid UTF-8.
    const key = Buffer.from('@123#abcdefghijk');
    const cipher = createCipheriv('aes-128-cfb8', key, Buffer.from('1234567812345678'));
    const value = Buffer.concat([cipher.update(Buffer.from([0xff, 0xfe])), cipher.final()]).toString('base64');
    assert.equal(decryptLegacy('@123#', value), null);
  });
});
