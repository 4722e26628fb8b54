import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SecretError } from '../../src/errors.js';
import { DefaultKdfCost, deriveKey, kdfParamProblems, newKdfParams, type KdfParams } from '../../src/secrets/kdf.js';

/** Cheapest accepted cost, so the tests stay fast. */
const fast: KdfParams = { name: 'scrypt', N: 2 ** 14, r: 8, p: 1, salt: Buffer.alloc(16, 7).toString('base64') };

describe('newKdfParams', () => {
  it('uses the default cost and a random 16-byte salt', () => {
    const a = newKdfParams();
    const b = newKdfParams();
    assert.equal(a.name, 'scrypt');
    assert.equal(a.N, DefaultKdfCost.N);
    assert.equal(a.r, DefaultKdfCost.r);
    assert.equal(a.p, DefaultKdfCost.p);
    assert.equal(Buffer.from(a.salt, 'base64').length, 16);
    assert.notEqual(a.salt, b.salt);
    assert.deepEqual(kdfParamProblems(a), []);
  });

  it('default cost derives a 32-byte key', async () => {
    const key = await deriveKey('passphrase', newKdfParams());
    assert.equal(key.length, 32);
  });
});

describe('deriveKey', () => {
  it('is deterministic for the same passphrase and params', async () => {
    const a = await deriveKey('my passphrase', fast);
    const b = await deriveKey('my passphrase', fast);
    assert.equal(a.length, 32);
    assert.deepEqual(a, b);
  });

  it('differs with another passphrase or another salt', async () => {
    const base = await deriveKey('my passphrase', fast);
    assert.notDeepEqual(await deriveKey('my passphrase!', fast), base);
    assert.notDeepEqual(await deriveKey('my passphrase', { ...fast, salt: Buffer.alloc(16, 8).toString('base64') }), base);
  });

  it('treats NFC and NFD spellings of a passphrase alike', async () => {
    const nfc = 'café-ñ'.normalize('NFC');
    const nfd = 'café-ñ'.normalize('NFD');
    assert.notEqual(nfc, nfd);
    assert.deepEqual(await deriveKey(nfd, fast), await deriveKey(nfc, fast));
  });

  it('matches node:crypto scrypt on the UTF-8 bytes', async () => {
    const { scryptSync } = await import('node:crypto');
    const expected = scryptSync(Buffer.from('pässword', 'utf8'), Buffer.alloc(16, 7), 32, { N: 2 ** 14, r: 8, p: 1 });
    assert.deepEqual(Buffer.from(await deriveKey('pässword', fast)), expected);
  });

  it('refuses parameters out of bounds before allocating anything', async () => {
    const bad: [Partial<KdfParams>, RegExp][] = [
      [{ N: 2 ** 13 }, /N must be a power of two/],
      [{ N: 2 ** 21 }, /N must be a power of two/],
      [{ N: 3 * 2 ** 14 }, /N must be a power of two/],
      [{ N: 2 ** 30 }, /N must be a power of two/],
      [{ r: 0 }, /r must be/],
      [{ r: 33 }, /r must be/],
      [{ r: 1.5 }, /r must be/],
      [{ p: 0 }, /p must be/],
      [{ p: 17 }, /p must be/],
      [{ N: 2 ** 20, r: 8 }, /MiB/],
      [{ salt: 'not base64!' }, /salt must be/],
      [{ salt: Buffer.alloc(8).toString('base64') }, /salt must be/],
      [{ name: 'argon2' as 'scrypt' }, /name must be "scrypt"/],
    ];
    for (const [change, pattern] of bad) {
      const params = { ...fast, ...change };
      assert.match(kdfParamProblems(params).join('; '), pattern);
      await assert.rejects(deriveKey('x', params), (err: unknown) => err instanceof SecretError && pattern.test(err.message));
    }
  });

  it('accepts the bounds themselves', () => {
    assert.deepEqual(kdfParamProblems({ ...fast, N: 2 ** 20, r: 1, p: 16 }), []);
    assert.deepEqual(kdfParamProblems({ ...fast, N: 2 ** 14, r: 32 }), []);
  });
});
