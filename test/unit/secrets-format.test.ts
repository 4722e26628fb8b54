import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { SecretError } from '../../src/errors.js';
import {
  classifySecret,
  decodeBase64Strict,
  formatEncrypted,
  isKid,
  MinPayloadLength,
} from '../../src/secrets/format.js';

function assertSecretError(raw: string, pattern: RegExp): SecretError {
  let caught: unknown;
  try {
    classifySecret(raw);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof SecretError, `expected a SecretError for a value starting ${raw.slice(0, 12)}`);
  assert.match(caught.message, pattern);
  assert.ok(caught.fix.length > 0);
  return caught;
}

const payload = new Uint8Array(randomBytes(MinPayloadLength + 8));
const data = Buffer.from(payload).toString('base64');

describe('classifySecret', () => {
  it('takes anything without a marker as plain text', () => {
    for (const raw of ['', 'password', 'p@ss:word', 'enc', 'ENC:v1:abcd1234:xx', ' enc:v1:x', '$env', '$ENV{X}', 'x$env{X}']) {
      assert.deepEqual(classifySecret(raw), { kind: 'plain' });
    }
  });

  it('reads a well-formed encrypted value', () => {
    const c = classifySecret(`enc:v1:0a1b2c3d:${data}`);
    assert.equal(c.kind, 'encrypted');
    if (c.kind !== 'encrypted') return;
    assert.equal(c.kid, '0a1b2c3d');
    assert.deepEqual(Buffer.from(c.payload), Buffer.from(payload));
  });

  it('round-trips formatEncrypted', () => {
    const text = formatEncrypted('ffffffff', payload);
    assert.equal(text, `enc:v1:ffffffff:${data}`);
    const c = classifySecret(text);
    assert.ok(c.kind === 'encrypted' && c.kid === 'ffffffff');
  });

  it('has no character that would break a replication_device pair', () => {
    for (let i = 0; i < 50; i++) {
      const text = formatEncrypted('01234567', new Uint8Array(randomBytes(40 + i)));
      assert.doesNotMatch(text, /[,;#\s]/);
    }
  });

  it('reads whole-value placeholders', () => {
    assert.deepEqual(classifySecret('$env{HPE_PASSWORD_1}'), { kind: 'placeholder', source: 'env', ref: 'HPE_PASSWORD_1' });
    assert.deepEqual(classifySecret('$file{/run/secrets/3par}'), { kind: 'placeholder', source: 'file', ref: '/run/secrets/3par' });
  });

  it('refuses a newer format version and says to upgrade', () => {
    const err = assertSecretError(`enc:v2:0a1b2c3d:${data}`, /uses format enc:v2, which this version cannot read/);
    assert.match(err.fix, /upgrade hpedockerplugin/);
  });

  it('refuses malformed encrypted values instead of using them as plain text', () => {
    assertSecretError('enc:', /no format version/);
    assertSecretError('enc:v1', /cut short/);
    assertSecretError('enc:v1:0a1b2c3d', /cut short/);
    assertSecretError('enc:v1:0a1b2c3d:', /cut short/);
    assertSecretError(`enc:vx:0a1b2c3d:${data}`, /not an encrypted value of the form/);
    assertSecretError(`enc:0a1b2c3d:${data}`, /not an encrypted value of the form/);
    assertSecretError(`enc:v1:0a1b2c3d:${data}:x`, /more than four/);
  });

  it('refuses a key id that is not 8 lower-case hex characters', () => {
    for (const kid of ['0A1B2C3D', '0a1b2c3', '0a1b2c3d4', 'ghijklmn', '']) {
      assertSecretError(`enc:v1:${kid}:${data}`, /malformed key id/);
    }
  });

  it('refuses data that is not standard base64', () => {
    assertSecretError(`enc:v1:0a1b2c3d:${data.slice(0, -1)}`, /not valid base64; it was probably cut short/);
    assertSecretError(`enc:v1:0a1b2c3d:${data.replace(/.$/, '!')}`, /not valid base64/);
    assertSecretError(`enc:v1:0a1b2c3d:${data.replace(/\+/g, '-').replace(/\//g, '_')}A-_B`, /not valid base64/);
    assertSecretError(`enc:v1:0a1b2c3d: ${data}`, /not valid base64/);
  });

  it('refuses a payload shorter than nonce and tag', () => {
    const short = Buffer.from(randomBytes(MinPayloadLength - 1)).toString('base64');
    assertSecretError(`enc:v1:0a1b2c3d:${short}`, /cut short: its data has 39 bytes/);
  });

  it('never quotes the value in an error', () => {
    const secretData = Buffer.from('sixteen-byte-pw!').toString('base64');
    const err = assertSecretError(`enc:v1:0a1b2c3d:${secretData}`, /cut short/);
    assert.ok(!err.message.includes(secretData));
    assert.ok(!err.fix.includes(secretData));
  });

  it('refuses malformed placeholders', () => {
    assertSecretError('$env{}', /variable name/);
    assertSecretError('$env{A-B}', /variable name/);
    assertSecretError('$env{1A}', /variable name/);
    assertSecretError('$env{A}suffix', /whole-value placeholder/);
    assertSecretError('$env{A', /whole-value placeholder/);
    assertSecretError('$file{}', /empty path/);
  });
});

describe('kid and base64 helpers', () => {
  it('accepts only 8 lower-case hex characters as a kid', () => {
    assert.ok(isKid('deadbeef'));
    assert.ok(isKid('00000000'));
    assert.ok(!isKid('DEADBEEF'));
    assert.ok(!isKid('deadbee'));
    assert.ok(!isKid(' deadbeef'));
  });

  it('formatEncrypted refuses a bad kid or a short payload', () => {
    assert.throws(() => formatEncrypted('XYZ', payload), RangeError);
    assert.throws(() => formatEncrypted('deadbeef', new Uint8Array(39)), RangeError);
  });

  it('decodes only canonical standard base64', () => {
    assert.deepEqual(decodeBase64Strict('aGk='), new Uint8Array([0x68, 0x69]));
    assert.deepEqual(decodeBase64Strict(''), new Uint8Array());
    for (const bad of ['aGk', 'aGl=', 'aG k=', 'a-_b', 'aGk==', '====']) assert.equal(decodeBase64Strict(bad), undefined, bad);
  });
});
