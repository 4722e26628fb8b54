import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { SecretError } from '../../src/errors.js';
import { openSecret, sameKey, sealSecret } from '../../src/secrets/box.js';
import { classifySecret } from '../../src/secrets/format.js';

const key = new Uint8Array(randomBytes(32));
const kid = '1234abcd';

function payloadOf(text: string): Uint8Array {
  const c = classifySecret(text);
  assert.equal(c.kind, 'encrypted');
  return c.kind === 'encrypted' ? c.payload : new Uint8Array();
}

describe('sealSecret / openSecret', () => {
  it('round-trips ASCII, non-ASCII and empty passwords', () => {
    for (const password of ['3parpass', 'pässwörd-日本-🔑', '', 'a,b;c#d e:f']) {
      const text = sealSecret(key, kid, password);
      assert.match(text, /^enc:v1:1234abcd:[A-Za-z0-9+/]+=*$/);
      assert.equal(openSecret(key, payloadOf(text)), password);
    }
  });

  it('gives a different value each time for the same password', () => {
    assert.notEqual(sealSecret(key, kid, 'same'), sealSecret(key, kid, 'same'));
  });

  it('returns null under the wrong key', () => {
    const payload = payloadOf(sealSecret(key, kid, 'password'));
    assert.equal(openSecret(new Uint8Array(randomBytes(32)), payload), null);
  });

  it('returns null when any byte of nonce, tag or ciphertext is changed', () => {
    const payload = payloadOf(sealSecret(key, kid, 'password'));
    for (let i = 0; i < payload.length; i++) {
      const tampered = Uint8Array.from(payload);
      tampered[i] = (tampered[i] ?? 0) ^ 0x01;
      assert.equal(openSecret(key, tampered), null, `byte ${i}`);
    }
  });

  it('never yields the password from a truncated value', () => {
    const text = sealSecret(key, kid, 'password');
    for (let length = 'enc:'.length; length < text.length; length++) {
      const cut = text.slice(0, length);
      try {
        const c = classifySecret(cut);
        assert.equal(c.kind, 'encrypted', `length ${length}`);
        if (c.kind === 'encrypted') assert.equal(openSecret(key, c.payload), null, `length ${length}`);
      } catch (err) {
        assert.ok(err instanceof SecretError, `length ${length}`);
      }
    }
  });

  it('returns null for a payload too short to hold nonce and tag', () => {
    assert.equal(openSecret(key, new Uint8Array(39)), null);
  });

  it('refuses a key that is not 32 bytes', () => {
    assert.throws(() => sealSecret(new Uint8Array(16), kid, 'x'), SecretError);
    assert.throws(() => openSecret(new Uint8Array(31), new Uint8Array(40)), SecretError);
  });

  it('refuses a bad kid', () => {
    assert.throws(() => sealSecret(key, 'NOTAKID', 'x'), RangeError);
  });
});

describe('sameKey', () => {
  it('compares contents, and is false for different lengths', () => {
    assert.ok(sameKey(key, Uint8Array.from(key)));
    const other = Uint8Array.from(key);
    other[31] = (other[31] ?? 0) ^ 0xff;
    assert.ok(!sameKey(key, other));
    assert.ok(!sameKey(key, key.subarray(0, 16)));
  });
});
