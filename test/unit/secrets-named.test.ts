import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { checkConfig } from '../../src/config/index.js';
import { SecretError } from '../../src/errors.js';
import { classifySecret, secretNameProblem, SecretNamePattern } from '../../src/secrets/format.js';
import { currentKey, serializeKeyRecord, type KeyRecordV1 } from '../../src/secrets/key-record.js';
import {
  currentVersion,
  MaxSecretVersions,
  openNamedValue,
  parseNamedSecretRecord,
  sealNamedValue,
  serializeNamedSecretRecord,
  withNewVersion,
  type NamedSecretRecordV1,
} from '../../src/secrets/named-record.js';
import { namedSecretsFrom, resolveNamedSecret, withNamedSecret, type NamedSecrets } from '../../src/secrets/named.js';
import { resealRecord } from '../../src/secrets/named-rotation.js';
import { namedSecretReferences, revealConfigSecrets, secretForm } from '../../src/secrets/resolve.js';
import { twoBackendConfig } from '../support/configs.js';
import { thrownBy } from '../support/thrown.js';

const now = new Date('2026-03-04T05:06:07.000Z');

function keyRecord(kid = 'c0ffee01'): KeyRecordV1 {
  return {
    v: 1,
    kid,
    kdf: { name: 'scrypt', N: 2 ** 14, r: 8, p: 1, salt: Buffer.alloc(16, 7).toString('base64') },
    key: randomBytes(32).toString('base64'),
    created: now.toISOString(),
  };
}

function secretRecord(key: KeyRecordV1, name: string, ...values: string[]): NamedSecretRecordV1 {
  let record: NamedSecretRecordV1 | undefined;
  for (const value of values) {
    record = withNewVersion(record, name, { kid: key.kid, value: sealNamedValue(currentKey(key), key.kid, name, value), created: now.toISOString() });
  }
  return record!;
}

function store(key: KeyRecordV1 | undefined, records: Record<string, string>, prefix = ''): NamedSecrets {
  return namedSecretsFrom(key === undefined ? undefined : serializeKeyRecord(key), new Map(Object.entries(records)), prefix);
}

const secretError = (fn: () => unknown): SecretError => thrownBy(fn, SecretError);

describe('secret names', () => {
  it('accepts 1 to 64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit', () => {
    for (const good of ['a', 'Z9', '3par2.array', 'remote_san-pw', 'x'.repeat(64)]) {
      assert.equal(secretNameProblem(good), undefined, good);
      assert.ok(SecretNamePattern.test(good));
    }
  });

  it('names what is wrong without quoting the name', () => {
    assert.equal(secretNameProblem(''), 'is empty');
    assert.equal(secretNameProblem('x'.repeat(65)), 'is 65 characters long, more than 64');
    assert.equal(secretNameProblem('.hidden'), 'does not start with a letter or digit');
    assert.equal(secretNameProblem('Pa$$word'), 'has a character other than A-Z a-z 0-9 . _ - at position 3');
    assert.equal(secretNameProblem('a/b'), 'has a character other than A-Z a-z 0-9 . _ - at position 2');
  });

  it('$secret{NAME} classifies as named; a malformed one is an error that does not quote it', () => {
    assert.deepEqual(classifySecret('$secret{array.pw}'), { kind: 'named', name: 'array.pw' });
    const open = secretError(() => classifySecret('$secret{array.pw'));
    assert.match(open.message, /starts with \$secret\{ but is not a whole-value placeholder ending in \}/);
    const bad = secretError(() => classifySecret('$secret{my Secret!}'));
    assert.equal(bad.message, 'is a $secret{} placeholder whose name has a character other than A-Z a-z 0-9 . _ - at position 3');
    assert.match(bad.fix, /hpe3parencryptor secret put NAME/);
    assert.equal(`${bad.message} ${bad.fix}`.includes('my Secret!'), false);
  });
});

describe('the named secret record', () => {
  const key = keyRecord();

  it('round-trips; the current version is the last; no value is stored in clear', () => {
    const record = secretRecord(key, 'pw', 'first-value', 'second-value');
    const raw = serializeNamedSecretRecord(record);
    assert.equal(raw.includes('first-value') || raw.includes('second-value'), false);
    const parsed = parseNamedSecretRecord(raw, 'pw', '/secrets/pw');
    assert.deepEqual(parsed, record);
    assert.equal(currentVersion(parsed).version, 2);
    assert.deepEqual(openNamedValue(currentKey(key), 'pw', currentVersion(parsed).value), { ok: true, value: 'second-value' });
  });

  it(`keeps the last ${MaxSecretVersions} versions, numbering on`, () => {
    const values = Array.from({ length: MaxSecretVersions + 3 }, (_, i) => `v${i + 1}`);
    const record = secretRecord(key, 'pw', ...values);
    assert.equal(record.versions.length, MaxSecretVersions);
    assert.equal(record.versions[0]!.version, 4);
    assert.equal(currentVersion(record).version, MaxSecretVersions + 3);
    assert.equal(record.created, now.toISOString());
  });

  it('refuses damaged records, naming the key and the field, never a value', () => {
    const good = JSON.parse(serializeNamedSecretRecord(secretRecord(key, 'pw', 'value-1', 'value-2'))) as NamedSecretRecordV1;
    const cases: [string, RegExp][] = [
      ['{"v":1,', /holds a damaged record: it is not valid JSON \(cut short\?\)/],
      [JSON.stringify({ ...good, versions: [] }), /versions must hold at least one version/],
      [JSON.stringify({ ...good, versions: [good.versions[1], good.versions[0]] }), /versions\.1\.version must be larger than the one before/],
      [JSON.stringify({ ...good, versions: [{ ...good.versions[0], value: 'plain-text' }] }), /versions\.0\.value must be an enc:v1 value/],
      [JSON.stringify({ ...good, name: 'other' }), /it names another secret: it was copied or moved from another key/],
    ];
    for (const [raw, pattern] of cases) {
      const err = secretError(() => parseNamedSecretRecord(raw, 'pw', '/secrets/pw'));
      assert.match(err.message, /^etcd key \/secrets\/pw \(secret pw\) holds a damaged record: /);
      assert.match(err.message, pattern);
      assert.match(err.fix, /hpe3parencryptor secret put pw/);
      assert.equal(err.message.includes('plain-text'), false);
    }
    const future = secretError(() => parseNamedSecretRecord(JSON.stringify({ ...good, v: 2 }), 'pw', '/secrets/pw'));
    assert.match(future.message, /record of version 2, which this version cannot read/);
  });

  it('a sealed value opens only as the secret it was sealed for', () => {
    const sealed = sealNamedValue(currentKey(key), key.kid, 'alpha', 'the-value');
    assert.deepEqual(openNamedValue(currentKey(key), 'beta', sealed), { ok: false, why: 'other-name' });
    assert.deepEqual(openNamedValue(currentKey(keyRecord()), 'alpha', sealed), { ok: false, why: 'does-not-open' });
  });
});

describe('re-sealing a record under a new cluster key (secret rotate-key)', () => {
  const oldKey = keyRecord('0a0a0a0a');
  const newKey = keyRecord('0b0b0b0b');
  const sealing = (k: KeyRecordV1) => ({ kid: k.kid, bytes: currentKey(k) });

  it('keeps every version number, date, rollback mark and value; only the sealing changes', () => {
    const record = withNewVersion(secretRecord(oldKey, 'pw', 'value-1', 'value-2'), 'pw', {
      kid: oldKey.kid,
      value: sealNamedValue(currentKey(oldKey), oldKey.kid, 'pw', 'value-1'),
      created: now.toISOString(),
      rolledBackFrom: 1,
    });
    const out = resealRecord(record, sealing(oldKey), sealing(newKey));
    assert.equal(out.resealed, 3);
    assert.deepEqual(out.kept, []);
    assert.deepEqual(
      out.record.versions.map(({ value: _v, ...rest }) => rest),
      record.versions.map(({ value: _v, ...rest }) => ({ ...rest, kid: newKey.kid })),
    );
    assert.deepEqual(
      out.record.versions.map((v) => openNamedValue(currentKey(newKey), 'pw', v.value)),
      ['value-1', 'value-2', 'value-1'].map((value) => ({ ok: true, value })),
    );
    assert.deepEqual(openNamedValue(currentKey(oldKey), 'pw', currentVersion(out.record).value), { ok: false, why: 'does-not-open' });
    // What the plugin resolves after the rotation: the same current value under the new key.
    assert.equal(resolveNamedSecret(store(newKey, { pw: serializeNamedSecretRecord(out.record) }), 'pw'), 'value-1');
    assert.equal(serializeNamedSecretRecord(out.record).includes('value-'), false);
  });

  it('leaves versions that do not open under the old key as they are, and lists them', () => {
    const earlier = keyRecord('0c0c0c0c');
    const first = secretRecord(earlier, 'pw', 'lost-value');
    const record = withNewVersion(first, 'pw', { kid: oldKey.kid, value: sealNamedValue(currentKey(oldKey), oldKey.kid, 'pw', 'kept-value'), created: now.toISOString() });
    const out = resealRecord(record, sealing(oldKey), sealing(newKey));
    assert.equal(out.resealed, 1);
    assert.deepEqual(out.kept, [1]);
    assert.deepEqual(out.record.versions[0], record.versions[0]);
    assert.deepEqual(openNamedValue(currentKey(newKey), 'pw', out.record.versions[1]!.value), { ok: true, value: 'kept-value' });
  });
});

describe('resolveNamedSecret', () => {
  const key = keyRecord();
  const raw = (name: string, ...values: string[]) => serializeNamedSecretRecord(secretRecord(key, name, ...values));

  it('gives the current value', () => {
    assert.equal(resolveNamedSecret(store(key, { pw: raw('pw', 'old', 'new') }), 'pw'), 'new');
  });

  it('names each way it can fail, with the fix', () => {
    const unknown = secretError(() => resolveNamedSecret(store(key, {}), 'pw'));
    assert.equal(unknown.message, 'names secret pw, which etcd does not hold at /secrets/pw: it was never stored, or was deleted');
    assert.match(unknown.fix, /^store it with `hpe3parencryptor secret put pw`/);

    const noKey = secretError(() => resolveNamedSecret(store(undefined, { pw: raw('pw', 'v') }), 'pw'));
    assert.match(noKey.message, /etcd has no cluster secrets key at \/secrets-key/);

    const replaced = secretError(() => resolveNamedSecret(store(keyRecord('0badbeef'), { pw: raw('pw', 'v') }), 'pw'));
    assert.match(replaced.message, /is encrypted with key c0ffee01, but the cluster secrets key at \/secrets-key is 0badbeef: the key was replaced/);
    assert.equal(replaced.fix, 'store the value again with `hpe3parencryptor secret put pw`');

    const record = JSON.parse(raw('pw', 'v')) as NamedSecretRecordV1;
    const value = record.versions[0]!.value;
    record.versions[0]!.value = value.slice(0, -6) + (value.at(-6) === 'A' ? 'B' : 'A') + value.slice(-5);
    const tampered = secretError(() => resolveNamedSecret(store(key, { pw: JSON.stringify(record) }), 'pw'));
    assert.match(tampered.message, /whose value at \/secrets\/pw \(version 1\) does not decrypt with key c0ffee01: it was edited or damaged in etcd/);

    const copied = JSON.parse(raw('other', 'v')) as NamedSecretRecordV1;
    const swapped = secretError(() => resolveNamedSecret(store(key, { pw: JSON.stringify({ ...copied, name: 'pw' }) }), 'pw'));
    assert.match(swapped.message, /belongs to another secret: it was copied from another record in etcd/);

    const damagedKey = secretError(() => resolveNamedSecret(namedSecretsFrom('not json', new Map([['pw', raw('pw', 'v')]]), ''), 'pw'));
    assert.match(damagedKey.message, /^names secret pw, but etcd key \/secrets-key \(the cluster secrets key\) holds a damaged key record/);
  });

  it('names the keys as etcd holds them, under host_etcd_prefix', () => {
    const unknown = secretError(() => resolveNamedSecret(store(key, {}, '/cluster-a'), 'pw'));
    assert.match(unknown.message, /which etcd does not hold at \/cluster-a\/secrets\/pw:/);
    const noKey = secretError(() => resolveNamedSecret(store(undefined, { pw: raw('pw', 'v') }, '/cluster-a'), 'pw'));
    assert.match(noKey.message, /etcd has no cluster secrets key at \/cluster-a\/secrets-key:/);
    const damaged = secretError(() => resolveNamedSecret(store(key, { pw: 'not json' }, '/cluster-a'), 'pw'));
    assert.match(damaged.message, /etcd key \/cluster-a\/secrets\/pw \(secret pw\) holds a damaged record/);
    const replaced = withNamedSecret(store(key, {}, '/cluster-a'), 'pw', 'not json');
    assert.match(secretError(() => resolveNamedSecret(replaced, 'pw')).message, /etcd key \/cluster-a\/secrets\/pw/);
  });

  it('withNamedSecret replaces or removes one record (what a watch of /secrets/ feeds)', () => {
    const first = store(key, { pw: raw('pw', 'one') });
    const second = withNamedSecret(first, 'pw', raw('pw', 'two'));
    assert.equal(resolveNamedSecret(second, 'pw'), 'two');
    assert.equal(resolveNamedSecret(first, 'pw'), 'one', 'the old store is unchanged');
    assert.throws(() => resolveNamedSecret(withNamedSecret(second, 'pw', undefined), 'pw'), /does not hold/);
  });
});

describe('$secret{} in hpe.conf', () => {
  const key = keyRecord();
  const text = twoBackendConfig('127.0.0.1', 2379)
    .replace(/^hpe3par_password = .*$/m, 'hpe3par_password = $secret{default.array}')
    .replace('hpe3par_password:Remote-Array-Pw-45', 'hpe3par_password:$secret{remote-array}');
  const config = checkConfig(text, '/etc/hpe.conf').config!;

  it('is found in every password option, replication_device included', () => {
    assert.deepEqual(
      [...namedSecretReferences(config)],
      [
        ['default.array', ['[DEFAULT].hpe3par_password']],
        ['remote-array', ['[3par2].replication_device.hpe3par_password']],
      ],
    );
    assert.deepEqual(secretForm('$secret{default.array}', undefined), { form: 'named', name: 'default.array' });
  });

  it('resolves with the other forms; a missing one fails located, the others still resolve', async () => {
    const named = store(key, { 'default.array': raw('default.array', 'A-value') });
    const { secrets, failures } = await revealConfigSecrets(config, new Map(), {}, named);
    assert.equal(secrets.get('DEFAULT')?.hpe3par_password, 'A-value');
    assert.equal(secrets.has('3par2'), false);
    assert.equal(failures.length, 1);
    assert.equal(
      failures[0]!.message,
      '/etc/hpe.conf:29: [3par2].replication_device.hpe3par_password: names secret remote-array, which etcd does not hold at /secrets/remote-array: it was never stored, or was deleted',
    );
  });

  function raw(name: string, value: string): string {
    return serializeNamedSecretRecord(secretRecord(key, name, value));
  }
});
