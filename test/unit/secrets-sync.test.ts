import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/index.js';
import { SecretError } from '../../src/errors.js';
import { currentKey, serializeKeyRecord, type KeyRecordV1 } from '../../src/secrets/key-record.js';
import { sealNamedValue, serializeNamedSecretRecord, withNewVersion } from '../../src/secrets/named-record.js';
import { namedSecretsFrom } from '../../src/secrets/named.js';
import { jsonPath, parseSyncFile } from '../../src/secrets/sync-file.js';
import { planIsEmpty, planSync, type SyncState } from '../../src/secrets/sync.js';
import { testPasswords, twoBackendConfig } from '../support/configs.js';
import { rejectionOf, thrownBy } from '../support/thrown.js';

const secretError = (fn: () => unknown): SecretError => thrownBy(fn, SecretError);

const rejected = (promise: Promise<unknown>): Promise<SecretError> => rejectionOf(promise, SecretError);

const parse = (json: unknown) => parseSyncFile(typeof json === 'string' ? json : JSON.stringify(json), 'secrets.json');

describe('the sync file', () => {
  it('reads secrets in file order, each with its uses as [backend].option, replication_device included', () => {
    const file = parse({
      version: 1,
      secrets: {
        'array1.admin': { description: 'primary array', uses: ['[DEFAULT].hpe3par_password', ' [ 3par2 ].replication_device.hpe3par_password '] },
        san_pw: { uses: ['[DEFAULT].san_password'] },
        unused: { uses: [] },
      },
    });
    assert.deepEqual(file, {
      path: 'secrets.json',
      secrets: [
        {
          name: 'array1.admin',
          description: 'primary array',
          uses: [
            { backend: 'DEFAULT', option: 'hpe3par_password', text: '[DEFAULT].hpe3par_password' },
            { backend: '3par2', option: 'replication_device.hpe3par_password', text: '[3par2].replication_device.hpe3par_password' },
          ],
        },
        { name: 'san_pw', uses: [{ backend: 'DEFAULT', option: 'san_password', text: '[DEFAULT].san_password' }] },
        { name: 'unused', uses: [] },
      ],
    });
  });

  it('an unknown option is located by JSON path, with the options that exist as the fix', () => {
    const err = secretError(() => parse({ version: 1, secrets: { a1: { uses: ['[DEFAULT].hpe3par_password', '[b2].hpe3par_pasword'] } } }));
    assert.equal(err.message, 'secrets.json: secrets.a1.uses[1] names option hpe3par_pasword, which is not a password option');
    assert.equal(err.fix, 'use one of hpe3par_password, san_password, replication_device.hpe3par_password, replication_device.san_password, san_private_key_passphrase');
  });

  it('reports every problem at once, each with its path and fix', () => {
    const err = secretError(() =>
      parse({
        version: 1,
        secrets: {
          'a.b': { uses: ['DEFAULT.hpe3par_password', '[x].san_password'] },
          c: { uses: ['[x].san_password'], colour: 'blue' },
          d: { uses: 'nope' },
        },
      }),
    );
    assert.match(err.message, /^secrets\.json has 2 errors:$/m);
    assert.match(err.message, /^ {2}secrets\.json: secrets\.c has the unknown key colour\. Fix: remove it: a secret has "uses" and optionally "description"$/m);
    assert.match(err.message, /^ {2}secrets\.json: secrets\.d\.uses must be a list of "\[backend\]\.option" strings\. Fix: write it as "\[backend\]\.option"/m);
    assert.equal(err.fix, 'correct secrets.json as each line above says, then run the sync again');
    // With the schema satisfied, the uses themselves are checked: a use in two secrets, a malformed use.
    const uses = secretError(() => parse({ version: 1, secrets: { 'a.b': { uses: ['DEFAULT.hpe3par_password', '[x].san_password'] }, c: { uses: ['[x].san_password'] } } }));
    assert.match(uses.message, /^ {2}secrets\.json: secrets\.a\.b\.uses\[0\] is not of the form \[backend\]\.option\. Fix: write it as/m);
    assert.match(uses.message, /^ {2}secrets\.json: secrets\.c\.uses\[0\] names \[x\]\.san_password again, already used at secrets\.a\.b\.uses\[1\]\. Fix: an option uses one secret/m);
  });

  it('never quotes what an admin may have typed a password into: an invalid name, a malformed use, a value key, bad JSON', () => {
    const pw = 'Hunter2-Secret!';
    const name = secretError(() => parse({ version: 1, secrets: { ok: { uses: [] }, [pw]: { uses: [] } } }));
    assert.equal(name.message, 'secrets.json: secrets[entry 2] is a secret name that has a character other than A-Z a-z 0-9 . _ - at position 15');
    const use = secretError(() => parse({ version: 1, secrets: { a: { uses: [pw] } } }));
    assert.equal(use.message, 'secrets.json: secrets.a.uses[0] is not of the form [backend].option');
    const option = secretError(() => parse({ version: 1, secrets: { a: { uses: [`[DEFAULT].${pw}`] } } }));
    assert.equal(option.message, 'secrets.json: secrets.a.uses[0] names an option, which is not a password option');
    const value = secretError(() => parse({ version: 1, secrets: { a: { uses: [], value: pw } } }));
    assert.equal(value.message, 'secrets.json: secrets.a has the unknown key value');
    assert.match(value.fix, /values are never written in this file/);
    const json = secretError(() => parse(`{"version": 1,\n  "secrets": {"a": ${pw}}}`));
    assert.match(json.message, /^secrets\.json is not valid JSON( \(the fault is at line 2, column \d+\))?$/);
    for (const err of [name, use, option, value, json]) assert.equal(`${err.message} ${err.fix}`.includes(pw), false, err.message);
  });

  it('a missing or newer version, and a file that is not an object', () => {
    assert.equal(secretError(() => parse({ secrets: {} })).message, 'secrets.json: version is missing');
    const newer = secretError(() => parse({ version: 2, secrets: {} }));
    assert.equal(newer.message, 'secrets.json: version 2 is newer than this hpe3parencryptor reads (1)');
    assert.equal(secretError(() => parse({ version: '1', secrets: {} })).message, 'secrets.json: version must be 1');
    assert.equal(secretError(() => parse([])).message, 'secrets.json: (the whole file) must be a JSON object with "version" and "secrets"');
  });

  it('JSON paths: identifiers with dots, quoted keys, indexes', () => {
    assert.equal(jsonPath(['secrets', 'default.array', 'uses', 3]), 'secrets.default.array.uses[3]');
    assert.equal(jsonPath(['secrets', 'bad name', 'uses'], ['x', 'bad name']), 'secrets[entry 2].uses');
    assert.equal(jsonPath([]), '(the whole file)');
  });
});

const now = new Date('2026-03-04T05:06:07.000Z');
const key: KeyRecordV1 = {
  v: 1,
  kid: 'c0ffee01',
  kdf: { name: 'scrypt', N: 2 ** 14, r: 8, p: 1, salt: Buffer.alloc(16, 7).toString('base64') },
  key: randomBytes(32).toString('base64'),
  created: now.toISOString(),
};

function state(values: Record<string, string> = {}): SyncState {
  const records = Object.entries(values).map(([name, value]) => {
    const record = withNewVersion(undefined, name, { kid: key.kid, value: sealNamedValue(currentKey(key), key.kid, name, value), created: now.toISOString() });
    return [name, serializeNamedSecretRecord(record)] as const;
  });
  return { named: namedSecretsFrom(serializeKeyRecord(key), new Map(records), ''), lookups: new Map() };
}

const config = (text = twoBackendConfig('127.0.0.1', 2379)) => parseConfig(text, '/etc/hpe.conf');

describe('planning a sync', () => {
  it('a missing secret takes the value its uses hold; every use is rewritten; the plan carries no value in what it prints', async () => {
    const text = twoBackendConfig('127.0.0.1', 2379, { ...testPasswords, remoteArray: testPasswords.secondArray });
    const file = parse({ version: 1, secrets: { second: { uses: ['[3par2].hpe3par_password', '[3par2].replication_device.hpe3par_password'] } } });
    const plan = await planSync(file, config(text), state());
    assert.deepEqual(plan.creates, [{ name: 'second', from: { use: '[3par2].hpe3par_password', line: 20 } }]);
    assert.deepEqual(
      plan.rewrites.map((r) => [r.use, r.line, text.slice(r.span.start, r.span.end)]),
      [
        ['[3par2].hpe3par_password', 20, testPasswords.secondArray],
        ['[3par2].replication_device.hpe3par_password', 29, testPasswords.secondArray],
      ],
    );
    assert.equal(plan.values.get('second'), testPasswords.secondArray);
    const { config: _c, values: _v, ...printable } = plan;
    assert.equal(JSON.stringify(printable).includes(testPasswords.secondArray), false);
  });

  it('uses that disagree are refused, naming both places and neither value', async () => {
    const file = parse({ version: 1, secrets: { second: { uses: ['[3par2].hpe3par_password', '[3par2].replication_device.hpe3par_password'] } } });
    const err = await rejected(planSync(file, config(), state()));
    assert.equal(
      err.message,
      'secret second would take its value from hpe.conf, but [3par2].hpe3par_password (line 20) and [3par2].replication_device.hpe3par_password (line 29) hold different passwords; nothing was written',
    );
    assert.match(err.fix, /secret put second/);
    assert.equal(`${err.message}${err.fix}`.includes(testPasswords.secondArray), false);
  });

  it('an existing secret is never re-created; an option holding another value is marked; an option already naming it is left alone', async () => {
    const text = config().text.replace(`hpe3par_password = ${testPasswords.defaultArray}`, 'hpe3par_password = $secret{shared}');
    const file = parse({ version: 1, secrets: { shared: { uses: ['[DEFAULT].hpe3par_password', '[3par2].hpe3par_password', '[3par2].san_password'] } } });
    const plan = await planSync(file, config(text), state({ shared: testPasswords.secondArray }));
    assert.deepEqual(plan.creates, []);
    assert.deepEqual(plan.rewrites.map((r) => [r.use, r.differed]), [['[3par2].hpe3par_password', false], ['[3par2].san_password', true]]);
  });

  it('uses this hpe.conf lacks are skipped with the reason; --strict refuses them', async () => {
    const file = parse({
      version: 1,
      secrets: { s: { uses: ['[DEFAULT].hpe3par_password', '[backend9].san_password', '[DEFAULT].replication_device.san_password'] } },
    });
    const plan = await planSync(file, config(), state({ s: testPasswords.defaultArray }));
    assert.deepEqual(plan.skipped, [
      { name: 's', use: '[backend9].san_password', why: '/etc/hpe.conf has no [backend9] section' },
      { name: 's', use: '[DEFAULT].replication_device.san_password', why: '[DEFAULT] has no replication_device' },
    ]);
    assert.deepEqual(plan.rewrites.map((r) => r.use), ['[DEFAULT].hpe3par_password']);
    const strict = await rejected(planSync(file, config(), state({ s: testPasswords.defaultArray }), { strict: true }));
    assert.match(strict.message, /^secret sync found 2 problems; nothing was written:$/m);
    assert.match(strict.message, /secrets\.json says \[backend9\]\.san_password uses secret s, but \/etc\/hpe\.conf has no \[backend9\] section/);
  });

  it('a replication password not written in the section (inherited) is skipped, not rewritten', async () => {
    const text = config().text.replace(/hpe3par_password:Remote-Array-Pw-45,\n/, '\n');
    const file = parse({ version: 1, secrets: { s: { uses: ['[3par2].replication_device.hpe3par_password'] } } });
    const plan = await planSync(file, config(text), state({ s: 'x' }));
    assert.deepEqual(plan.skipped.map((s) => s.why), ['it is not written in /etc/hpe.conf: it inherits [3par2].hpe3par_password']);
  });

  it('an existing secret that cannot be used is refused; a second plan of an applied sync is empty', async () => {
    const broken = state();
    const named = namedSecretsFrom(undefined, new Map([['s', serializeNamedSecretRecord(withNewVersion(undefined, 's', { kid: key.kid, value: sealNamedValue(currentKey(key), key.kid, 's', 'v'), created: now.toISOString() }))]]), '');
    const file = parse({ version: 1, secrets: { s: { uses: ['[DEFAULT].hpe3par_password'] } } });
    const err = await rejected(planSync(file, config(), { ...broken, named }));
    assert.match(err.message, /^secret s is in etcd but cannot be used \(an option that names secret s, but etcd has no cluster secrets key at \/secrets-key/);
    const done = config().text.replace(`hpe3par_password = ${testPasswords.defaultArray}`, 'hpe3par_password = $secret{s}');
    assert.ok(planIsEmpty(await planSync(file, config(done), state({ s: testPasswords.defaultArray }))));
  });
});
