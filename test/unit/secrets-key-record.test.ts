import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { SecretError } from '../../src/errors.js';
import { keyRecordKey, prefixedKey } from '../../src/etcd/index.js';
import { openSecret, sealSecret } from '../../src/secrets/box.js';
import { deriveKey } from '../../src/secrets/kdf.js';
import { classifySecret } from '../../src/secrets/format.js';
import {
  createKeyRecord,
  currentKey,
  keyForKid,
  newKid,
  parseKeyRecord,
  PassphraseKeys,
  passphraseMatches,
  serializeKeyRecord,
  type KdfParams,
  type KeyRecordV1,
  type StoredKey,
} from '../../src/secrets/key-record.js';

const fast: KdfParams = { name: 'scrypt', N: 2 ** 14, r: 8, p: 1, salt: Buffer.alloc(16, 3).toString('base64') };
const now = new Date('2025-01-02T03:04:05.678Z');

function sampleRecord(): KeyRecordV1 {
  return {
    v: 1,
    kid: 'a1b2c3d4',
    kdf: { ...fast },
    key: randomBytes(32).toString('base64'),
    created: now.toISOString(),
  };
}

function parseError(raw: string, backend = 'B1', prefix = ''): SecretError {
  try {
    parseKeyRecord(raw, backend, prefixedKey(prefix, keyRecordKey(backend)));
  } catch (err) {
    assert.ok(err instanceof SecretError);
    return err;
  }
  assert.fail('expected a SecretError');
}

describe('newKid', () => {
  it('is 8 lower-case hex characters and random', () => {
    const kids = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const kid = newKid();
      assert.match(kid, /^[0-9a-f]{8}$/);
      kids.add(kid);
    }
    assert.ok(kids.size > 195);
  });
});

describe('createKeyRecord / passphraseMatches', () => {
  it('creates a record whose key encrypts, and round-trips through etcd text', async () => {
    const { record, key } = await createKeyRecord('my passphrase', now, fast);
    assert.equal(record.v, 1);
    assert.match(record.kid, /^[0-9a-f]{8}$/);
    assert.equal(record.created, '2025-01-02T03:04:05.678Z');
    assert.deepEqual(record.kdf, fast);
    assert.deepEqual(currentKey(record), key);
    const text = serializeKeyRecord(record);
    assert.ok(!text.includes('my passphrase'));
    const stored = parseKeyRecord(text, 'DEFAULT', keyRecordKey('DEFAULT'));
    assert.deepEqual(stored, { format: 'v1', record });
    const sealed = sealSecret(key, record.kid, 'array-password');
    const c = classifySecret(sealed);
    assert.ok(c.kind === 'encrypted');
    const found = keyForKid(stored, c.kid);
    assert.ok(found !== undefined);
    assert.equal(openSecret(found, c.payload), 'array-password');
  });

  it('uses a fresh kid for each record', async () => {
    const a = await createKeyRecord('p', now, fast);
    const b = await createKeyRecord('p', now, fast);
    assert.notEqual(a.record.kid, b.record.kid);
    assert.deepEqual(a.key, b.key);
  });

  it('defaults to random salt params', async () => {
    const { record } = await createKeyRecord('p', now);
    assert.equal(Buffer.from(record.kdf.salt, 'base64').length, 16);
    assert.ok(record.kdf.N >= 2 ** 15);
  });

  it('matches the same passphrase (also in another Unicode normal form) and refuses another', async () => {
    const { record } = await createKeyRecord('Zürich', now, fast);
    assert.equal(await passphraseMatches(record, 'Zürich'), true);
    assert.equal(await passphraseMatches(record, 'Zürich'.normalize('NFD')), true);
    assert.equal(await passphraseMatches(record, 'Zurich'), false);
    assert.equal(await passphraseMatches(record, ''), false);
  });
});

describe('PassphraseKeys', () => {
  /** deriveKey, counting its calls. */
  function counted(): { derive: typeof deriveKey; calls: () => number } {
    let calls = 0;
    return {
      derive: (passphrase, params) => {
        calls++;
        return deriveKey(passphrase, params);
      },
      calls: () => calls,
    };
  }

  it('derives once for records of the same salt and cost, and each check compares with that record\'s key', async () => {
    const { record } = await createKeyRecord('current one', now, fast);
    const kdf = counted();
    const keys = new PassphraseKeys('current one', kdf.derive);
    assert.equal(await keys.matches(record), true);
    assert.equal(await keys.matches({ ...record }), true, 'the record read again');
    const otherPassphrase = await createKeyRecord('another one', now, fast);
    assert.equal(await keys.matches(otherPassphrase.record), false, 'same salt, another key: refused');
    assert.equal(kdf.calls(), 1);
  });

  it('derives again for a record made with another salt (another rotation meanwhile), and refuses a wrong passphrase', async () => {
    const first = await createKeyRecord('current one', now, fast);
    const resalted = await createKeyRecord('current one', now, { ...fast, salt: Buffer.alloc(16, 4).toString('base64') });
    const kdf = counted();
    const keys = new PassphraseKeys('current one', kdf.derive);
    assert.equal(await keys.matches(first.record), true);
    assert.equal(await keys.matches(resalted.record), true);
    assert.equal(kdf.calls(), 2);
    const byAnother = await createKeyRecord('another one', now, { ...fast, salt: Buffer.alloc(16, 5).toString('base64') });
    assert.equal(await keys.matches(byAnother.record), false);
    assert.equal(kdf.calls(), 3);
  });

  it('shows neither the passphrase nor a key when logged or serialized', async () => {
    const keys = new PassphraseKeys('current one');
    await keys.matches((await createKeyRecord('current one', now, fast)).record);
    const { inspect } = await import('node:util');
    for (const text of [inspect(keys, { showHidden: true, depth: 5 }), JSON.stringify(keys), String(keys)]) assert.ok(!text.includes('current one'), text);
  });
});

describe('keyForKid', () => {
  it('finds the current key and retired keys, nothing else', () => {
    const retiredKey = randomBytes(32);
    const record: KeyRecordV1 = { ...sampleRecord(), retired: [{ kid: '0000beef', key: retiredKey.toString('base64') }] };
    const stored: StoredKey = { format: 'v1', record };
    assert.deepEqual(Buffer.from(keyForKid(stored, 'a1b2c3d4') ?? []), Buffer.from(record.key, 'base64'));
    assert.deepEqual(Buffer.from(keyForKid(stored, '0000beef') ?? []), retiredKey);
    assert.equal(keyForKid(stored, 'ffffffff'), undefined);
  });

  it('finds nothing in a legacy passphrase', () => {
    assert.equal(keyForKid({ format: 'legacy', passphrase: '@123#' }, 'a1b2c3d4'), undefined);
  });
});

describe('parseKeyRecord', () => {
  it('reads a raw upstream passphrase as legacy', () => {
    for (const raw of ['@123#', 'my pass phrase', ' padded ', '{not json', '"quoted"', '123', '[1,2]', 'null', '{}', '{"kid":"x"}']) {
      assert.deepEqual(parseKeyRecord(raw, 'B1', keyRecordKey('B1')), { format: 'legacy', passphrase: raw }, raw);
    }
  });

  it('reads a v1 record with retired keys and a legacy passphrase', () => {
    const record: KeyRecordV1 = {
      ...sampleRecord(),
      retired: [{ kid: '00000001', key: randomBytes(32).toString('base64') }],
      legacyPassphrase: '@123#',
    };
    assert.deepEqual(parseKeyRecord(serializeKeyRecord(record), 'B1', keyRecordKey('B1')), { format: 'v1', record });
  });

  it('drops fields this version does not know', () => {
    const record = sampleRecord();
    const parsed = parseKeyRecord(JSON.stringify({ ...record, note: 'x', kdf: { ...record.kdf, extra: 1 } }), 'B1', keyRecordKey('B1'));
    assert.deepEqual(parsed, { format: 'v1', record });
  });

  it('refuses a record cut short, naming the backend and the etcd key', () => {
    const text = serializeKeyRecord(sampleRecord());
    const err = parseError(text.slice(0, text.length - 10), 'B1');
    assert.match(err.message, /etcd key \/backend\/B1 \(backend B1\) holds a damaged key record: it is not valid JSON/);
    assert.match(err.fix, /hpe3parencryptor -d --backend B1/);
  });

  it('refuses a damaged v1 record field by field, without quoting any key', () => {
    const good = sampleRecord();
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...good, kid: 'XYZ' }, /kid must be 8 lower-case hex/],
      [{ ...good, key: 'c2hvcnQ=' }, /key must be base64 of 32 bytes/],
      [{ ...good, key: undefined }, /key must be a string/],
      [{ ...good, created: 'yesterday' }, /created must be an ISO 8601/],
      [{ ...good, kdf: { ...good.kdf, N: 2 ** 30 } }, /kdf N must be a power of two/],
      [{ ...good, kdf: { ...good.kdf, name: 'pbkdf2' } }, /kdf.name must be "scrypt"/],
      [{ ...good, kdf: 'scrypt' }, /kdf must be an object/],
      [{ ...good, retired: [{ kid: good.kid, key: good.key }] }, /retired repeats a key id/],
      [{ ...good, retired: [{ kid: '00000001', key: 'AAAA' }] }, /retired.0.key must be base64 of 32 bytes/],
      [{ ...good, legacyPassphrase: '' }, /legacyPassphrase must not be empty/],
      [{ ...good, v: '1' }, /^etcd key \/backend\/B1 \(backend B1\) holds a damaged key record: v must be 1$/],
    ];
    for (const [json, pattern] of cases) {
      const err = parseError(JSON.stringify(json));
      assert.match(err.message, pattern);
      assert.ok(!err.message.includes(good.key), 'the key must not appear in the message');
    }
  });

  it('never quotes a legacy passphrase kept in a damaged record', () => {
    const err = parseError(JSON.stringify({ ...sampleRecord(), kid: 'bad', legacyPassphrase: 'hunter2-secret' }));
    assert.ok(!err.message.includes('hunter2-secret'));
  });

  it('refuses a newer record version and says to upgrade', () => {
    const err = parseError(JSON.stringify({ ...sampleRecord(), v: 2 }));
    assert.match(err.message, /key record of version 2, which this version cannot read/);
    assert.match(err.fix, /upgrade/);
  });

  it('refuses an empty value', () => {
    assert.match(parseError('', 'DEFAULT').message, /\/backend\/DEFAULT \(backend DEFAULT\) is empty/);
  });

  it('names the etcd key upstream used, under host_etcd_prefix when one is set', () => {
    assert.equal(keyRecordKey('DEFAULT'), '/backend/DEFAULT');
    const err = parseError('', 'DEFAULT', '/cluster-a');
    assert.match(err.message, /^etcd key \/cluster-a\/backend\/DEFAULT \(backend DEFAULT\) is empty/);
    assert.match(err.fix, /restore \/cluster-a\/backend\/DEFAULT from a backup/);
  });
});
