import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { createEtcdClient, readNamedSecretRecords, replaceClusterKeyAndSecrets, type EtcdClient } from '../../src/etcd/index.js';
import { passGate, readLastReport } from '../../src/preflight/index.js';
import { checkClusterPassphrase, PassphraseKeys, putNamedSecret, rotateClusterKey } from '../../src/secrets/index.js';
import { deriveKey } from '../../src/secrets/kdf.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.js';
import { runCli, Transcript } from '../support/cli.js';
import { InstantClock } from '../support/clock.js';
import { tempDir, testPasswords, twoBackendConfig, type ArrayUrls, type TempDir } from '../support/configs.js';
import { startEtcd, type EtcdCluster } from '../support/etcd.js';

const passphrase = 'cluster secrets passphrase 1';
const otherPassphrase = 'another cluster passphrase';
const newPassphrase = 'the rotated cluster passphrase 2';
const wrongValue = 'Not-The-Right-Pw-77';
const transcript = new Transcript();
/** No Docker daemon here. */
const noDocker = { DOCKER_HOST: 'unix:///nonexistent/docker.sock' };

let etcd: EtcdCluster;
let dir: TempDir;
let client: EtcdClient;
let port: number;
let arrays: ArrayUrls;
const simulators: RunningSimulator[] = [];

async function simulator(password: string): Promise<string> {
  const sim = await startSimulator({ listen: { host: '127.0.0.1', port: 0 }, stateDir: `${dir.path}/sim-${simulators.length}`, users: { '3paradm': password } });
  simulators.push(sim);
  return sim.apiUrl;
}

/** The test config with four of its six passwords as named secrets, replication_device included. */
function namedConfigText(): string {
  return twoBackendConfig('127.0.0.1', port, testPasswords, arrays)
    .replace(`hpe3par_password = ${testPasswords.defaultArray}`, 'hpe3par_password = $secret{default.array}')
    .replace(`san_password=${testPasswords.defaultSan}`, 'san_password=$secret{default_san}')
    .replace(`hpe3par_password:   ${testPasswords.secondArray}`, 'hpe3par_password:   $secret{second-array}')
    .replace(`hpe3par_password:${testPasswords.remoteArray}`, 'hpe3par_password:$secret{remote.array}');
}

/** The value each name stands for in namedConfigText. */
const namedValues: Record<string, string> = {
  'default.array': testPasswords.defaultArray,
  default_san: testPasswords.defaultSan,
  'second-array': testPasswords.secondArray,
  'remote.array': testPasswords.remoteArray,
};

async function namedConfig(name: string): Promise<{ file: string; env: NodeJS.ProcessEnv }> {
  const file = await dir.file(name, namedConfigText());
  return { file, env: { ...noDocker, HPEDOCKERPLUGIN_CONFIG: file } };
}

async function clearSecrets(): Promise<void> {
  for (const key of (await client.getPrefix('/secrets')).keys()) await client.delete(`/secrets${key}`);
}

/** Every cluster key that was in etcd, for the no-leak assertion. */
const seenKeys = new Set<string>();

async function recordOf(path: string): Promise<Record<string, unknown> | undefined> {
  const raw = (await client.get(path))?.value;
  if (raw === undefined) return undefined;
  const parsed = JSON.parse(raw) as Record<string, unknown>;
  if (path === '/secrets-key') seenKeys.add(parsed['key'] as string);
  return parsed;
}

function put(env: NodeJS.ProcessEnv, name: string, value: string, pp = passphrase) {
  return runCli('encryptor', ['secret', 'put', name, '-', '--passphrase-file', '-'], { env, stdin: `${pp}\n${value}\n`, transcript });
}

async function putAll(env: NodeJS.ProcessEnv): Promise<void> {
  for (const [name, value] of Object.entries(namedValues)) {
    const r = await put(env, name, value);
    assert.equal(r.code, 0, r.stderr);
  }
}

before(async () => {
  etcd = await startEtcd({ members: 1 });
  port = etcd.endpoints[0]!.port;
  dir = await tempDir('hpe-named-');
  client = await createEtcdClient({ endpoints: etcd.endpoints });
  arrays = { default: await simulator(testPasswords.defaultArray), second: await simulator(testPasswords.secondArray), remote: await simulator(testPasswords.remoteArray) };
});

after(async () => {
  for (const sim of simulators) await sim.stop();
  client?.close();
  await etcd?.stop();
  await dir?.remove();
});

describe('hpe3parencryptor secret put', () => {
  test('from standard input: the first put makes the cluster key; the value lives once, encrypted, at /secrets/NAME', async () => {
    await clearSecrets();
    const { env } = await namedConfig('put.conf');
    const r = await put(env, 'default.array', testPasswords.defaultArray);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^created the cluster secrets key [0-9a-f]{8} at \/secrets-key$/m);
    assert.match(r.stdout, /^stored secret default\.array version 1 \(key [0-9a-f]{8}\) at \/secrets\/default\.array; use it in hpe\.conf as \$secret\{default\.array\}\n$/);
    const key = await recordOf('/secrets-key');
    assert.equal(key?.['v'], 1);
    assert.equal(JSON.stringify(key).includes(passphrase), false, 'the passphrase is never stored');
    const record = await recordOf('/secrets/default.array');
    assert.equal(record?.['name'], 'default.array');
    const versions = record?.['versions'] as { version: number; kid: string; value: string }[];
    assert.deepEqual(versions.map((v) => [v.version, v.kid]), [[1, key?.['kid']]]);
    assert.match(versions[0]!.value, /^enc:v1:[0-9a-f]{8}:/);
    assert.equal(JSON.stringify(record).includes(testPasswords.defaultArray), false);

    const again = await put(env, 'default.array', wrongValue);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /created the cluster secrets key/);
    assert.match(again.stdout, /version 2 /);
  });

  test('a wrong cluster passphrase is refused and writes nothing', async () => {
    const { env } = await namedConfig('put-wrong.conf');
    const before = (await client.get('/secrets/default.array'))?.value;
    const r = await put(env, 'default.array', 'whatever-value', otherPassphrase);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^ERROR: the cluster secrets key [0-9a-f]{8} at \/secrets-key \(created .*\) was made from a different passphrase; nothing was written$/m);
    assert.match(r.stderr, /^Fix: give the cluster secrets passphrase used when key [0-9a-f]{8} was created$/m);
    assert.equal((await client.get('/secrets/default.array'))?.value, before);
    assert.equal(await client.get('/secrets/whatever'), undefined);
  });

  test('from --value-file, with --passphrase-file FILE, and from the command line with a warning', async () => {
    const { env } = await namedConfig('put-sources.conf');
    const valueFile = await dir.file('value', `${testPasswords.defaultSan}\n`);
    const passFile = await dir.file('pass', `${passphrase}\n`);
    const fromFile = await runCli('encryptor', ['secret', 'put', 'default_san', '--value-file', valueFile, '--passphrase-file', passFile], { env, transcript });
    assert.equal(fromFile.code, 0, fromFile.stderr);
    assert.doesNotMatch(fromFile.stderr, /warning/);
    const inArgv = await runCli('encryptor', ['secret', 'put', 'argv-secret', 'Argv-Value-Pw-88', '--passphrase-file', passFile], { env, transcript });
    assert.equal(inArgv.code, 0, inArgv.stderr);
    assert.match(inArgv.stderr, /^warning: a value on the command line stays in shell history and shows in `ps`; prefer `-` \(standard input\) or --value-file$/m);
    assert.equal(inArgv.stderr.includes('Argv-Value-Pw-88'), false);
  });

  test('no passphrase and no terminal, an invalid name, and a bad argument are usage errors (exit 2) that never echo the name', async () => {
    const { env } = await namedConfig('put-usage.conf');
    const noPass = await runCli('encryptor', ['secret', 'put', 'x1', '-'], { env, stdin: 'v\n', transcript });
    assert.equal(noPass.code, 2);
    assert.match(noPass.stderr, /^ERROR: no cluster secrets passphrase given$/m);
    assert.match(noPass.stderr, /^Fix: give --passphrase-file FILE, or --passphrase-file - and send it on standard input \(before the value\)$/m);
    const badName = await runCli('encryptor', ['secret', 'put', 'My$ecretPw', '-', '--passphrase-file', '-'], { env, stdin: `${passphrase}\nv\n`, transcript });
    assert.equal(badName.code, 2);
    assert.match(badName.stderr, /^ERROR: the secret name \(argument 3 of `secret put`\) has a character other than A-Z a-z 0-9 \. _ - at position 3$/m);
    assert.match(badName.stderr, /^Fix: give a name of 1 to 64 characters of A-Z a-z 0-9 \. _ -, starting with a letter or digit$/m);
    assert.equal(badName.stderr.includes('My$ecretPw'), false);
    const toOnPut = await runCli('encryptor', ['secret', 'put', 'x1', '--to', '2'], { env, transcript });
    assert.equal(toOnPut.code, 2);
    assert.match(toOnPut.stderr, /--to is only for `secret rollback`/);
    const unknown = await runCli('encryptor', ['secret', 'show', 'x1'], { env, transcript });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^Fix: use secret put, list, history, rollback, rm, rotate-key, sync; see --help$/m);
  });

  test('concurrent puts never lose a version (guarded writes)', async () => {
    await putNamedSecret(client, 'race', passphrase, 'race-0');
    const results = await Promise.all(Array.from({ length: 4 }, (_, i) => putNamedSecret(client, 'race', passphrase, `race-${i + 1}`)));
    assert.deepEqual(results.map((r) => r.version).sort(), [2, 3, 4, 5]);
    const record = await recordOf('/secrets/race');
    assert.deepEqual((record?.['versions'] as { version: number }[]).map((v) => v.version), [1, 2, 3, 4, 5]);
  });
});

describe('check, status and the start-up gate resolve $secret{}', () => {
  test('check logs in to every array with the named values, replication_device included; status shows the form only', async () => {
    await clearSecrets();
    const { env } = await namedConfig('check.conf');
    await putAll(env);
    const check = await runCli('plugin', ['check'], { env, transcript });
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /^ok   etcd named secrets: 4 read in one request \(cluster secrets key [0-9a-f]{8}\); hpe\.conf uses 4: default\.array, default_san, second-array, remote\.array$/m);
    assert.match(check.stdout, /^ok   secrets \[DEFAULT\]: 2 passwords usable \(2 named\)$/m);
    assert.match(check.stdout, /^ok   secrets \[3par2\]: 4 passwords usable \(2 named, 2 plain\)$/m);
    assert.match(check.stdout, /^ok   array \[DEFAULT\]: .*login ok/m);
    assert.match(check.stdout, /^ok   array \[3par2\]: .*login ok/m);
    assert.match(check.stdout, /^ok   array \[3par2\] replication target remote3par: .*login ok/m);

    const status = await runCli('encryptor', ['status'], { env, transcript });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^  replication_device\.hpe3par_password +line 29 +named secret \(\$secret\{remote\.array\}\)$/m);
    const json = JSON.parse((await runCli('encryptor', ['status', '--json'], { env, transcript })).stdout);
    assert.deepEqual(json.backends[0].passwords[0].form, { form: 'named', name: 'default.array' });
  });

  test('encrypt-config encrypts the plain passwords and leaves $secret{} values alone', async () => {
    const { file, env } = await namedConfig('encrypt.conf');
    const pf = await dir.file('pass-ec', passphrase);
    const r = await runCli('encryptor', ['encrypt-config', '--all', '--passphrase-file', pf], { env, transcript });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\[DEFAULT\] nothing to encrypt$/m);
    assert.match(r.stdout, /^\[3par2\] encrypted san_password, replication_device\.san_password with key/m);
    const text = await readFile(file, 'utf8');
    for (const name of Object.keys(namedValues)) assert.ok(text.includes(`$secret{${name}}`), name);
    assert.equal((await runCli('plugin', ['check'], { env, transcript })).code, 0);
    for (const key of (await client.getPrefix('/backend/')).keys()) await client.delete(`/backend/${key}`);
  });

  test('the gate resolves $secret{} into the config it returns, and a missing name refuses at once, located', async () => {
    const { file } = await namedConfig('gate.conf');
    const outcome = await passGate({ configFile: file, waitMs: 5000, clock: new InstantClock(), stateDir: `${dir.path}/state-ok` });
    assert.ok(outcome.ready, JSON.stringify(outcome.report.results.filter((x) => x.status === 'FAIL')));
    assert.equal(outcome.ready.secrets.get('DEFAULT')?.hpe3par_password, testPasswords.defaultArray);
    assert.equal(outcome.ready.secrets.get('3par2')?.['replication_device.hpe3par_password'], testPasswords.remoteArray);

    await client.delete('/secrets/second-array');
    const state = `${dir.path}/state-missing`;
    const refused = await passGate({ configFile: file, waitMs: 5000, clock: new InstantClock(), stateDir: state });
    assert.equal(refused.ready, undefined);
    assert.equal(refused.attempts, 1, 'a missing secret needs the admin: no retry');
    const failed = refused.report.results.filter((x) => x.status === 'FAIL');
    assert.deepEqual(failed.map((x) => x.subject), ['secrets [3par2]']);
    assert.equal(failed[0]!.detail, `${file}:20: [3par2].hpe3par_password: names secret second-array, which etcd does not hold at /secrets/second-array: it was never stored, or was deleted`);
    assert.match(failed[0]!.fix!, /^store it with `hpe3parencryptor secret put second-array`/);
    const saved = JSON.stringify(await readLastReport(state));
    for (const value of Object.values(testPasswords)) assert.equal(saved.includes(value), false, 'the saved report holds no value');
  });

  test('check names each bad input: a name used before put, a deleted secret, a tampered value, a value copied from another secret, a replaced key', async () => {
    await clearSecrets();
    const { file, env } = await namedConfig('bad.conf');
    const before = await runCli('plugin', ['check'], { env, transcript });
    assert.equal(before.code, 1);
    assert.match(before.stdout, new RegExp(`^FAIL secrets \\[DEFAULT\\]: ${file}:8: \\[DEFAULT\\]\\.hpe3par_password: names secret default\\.array, which etcd does not hold at /secrets/default\\.array: it was never stored, or was deleted — fix: store it with \`hpe3parencryptor secret put default\\.array\``, 'm'));

    await putAll(env);
    const rm = await runCli('encryptor', ['secret', 'rm', 'default_san', '--force'], { env, transcript });
    assert.equal(rm.code, 0, rm.stderr);
    const deleted = await runCli('plugin', ['check'], { env, transcript });
    assert.match(deleted.stdout, /^FAIL secrets \[DEFAULT\]: .*bad\.conf:11: \[DEFAULT\]\.san_password: names secret default_san, which etcd does not hold/m);
    assert.equal((await put(env, 'default_san', testPasswords.defaultSan)).code, 0);

    const record = (await recordOf('/secrets/second-array')) as { versions: { value: string }[] };
    const value = record.versions[0]!.value;
    record.versions[0]!.value = value.slice(0, -6) + (value.at(-6) === 'A' ? 'B' : 'A') + value.slice(-5);
    await client.put('/secrets/second-array', JSON.stringify(record));
    const copied = (await recordOf('/secrets/remote.array')) as { name: string };
    const remoteOriginal = (await client.get('/secrets/remote.array'))!.value;
    await client.put('/secrets/remote.array', JSON.stringify({ ...(await recordOf('/secrets/default_san')), name: copied.name }));
    const tampered = await runCli('plugin', ['check'], { env, transcript });
    assert.equal(tampered.code, 1);
    assert.match(tampered.stdout, /^FAIL secrets \[3par2\]: .*bad\.conf:20: \[3par2\]\.hpe3par_password: names secret second-array, whose value at \/secrets\/second-array \(version 1\) does not decrypt with key [0-9a-f]{8}: it was edited or damaged in etcd — fix: store the value again with `hpe3parencryptor secret put second-array`$/m);
    assert.match(tampered.stdout, /^FAIL secrets \[3par2\]: .*bad\.conf:29: \[3par2\]\.replication_device\.hpe3par_password: names secret remote\.array, whose value at \/secrets\/remote\.array \(version 1\) belongs to another secret/m);
    assert.match(tampered.stdout, /^ok   secrets \[DEFAULT\]/m);
    await client.put('/secrets/remote.array', remoteOriginal);

    // The key replaced: deleted, and made again from another passphrase by a later put.
    await client.delete('/secrets-key');
    const noKey = await runCli('plugin', ['check'], { env, transcript });
    assert.match(noKey.stdout, /^FAIL secrets \[DEFAULT\]: .*\[DEFAULT\]\.hpe3par_password: names secret default\.array, but etcd has no cluster secrets key at \/secrets-key: it was deleted/m);
    assert.equal((await put(env, 'default_san', testPasswords.defaultSan, otherPassphrase)).code, 0);
    const replaced = await runCli('plugin', ['check'], { env, transcript });
    assert.match(replaced.stdout, /^FAIL secrets \[DEFAULT\]: .*bad\.conf:8: \[DEFAULT\]\.hpe3par_password: names secret default\.array, whose version 1 is encrypted with key [0-9a-f]{8}, but the cluster secrets key at \/secrets-key is [0-9a-f]{8}: the key was replaced — fix: store the value again with `hpe3parencryptor secret put default\.array`$/m);
    assert.doesNotMatch(replaced.stdout, /\[DEFAULT\]\.san_password/, 'the secret put with the new key resolves');
    await recordOf('/secrets-key');
  });
});

describe('hpe3parencryptor secret list, history, rollback, rm', () => {
  test('list: every stored secret with key id, version, dates and the [backend].option that use it; names hpe.conf uses but etcd lacks', async () => {
    await clearSecrets();
    const { file, env } = await namedConfig('list.conf');
    await putAll(env);
    assert.equal((await put(env, 'default.array', wrongValue)).code, 0);
    assert.equal((await put(env, 'unused', 'Unused-Value-Pw-90')).code, 0);
    await client.delete('/secrets/remote.array');
    const json = await runCli('encryptor', ['secret', 'list', '--json'], { env, transcript });
    assert.equal(json.code, 0, json.stderr);
    const listing = JSON.parse(json.stdout) as {
      config: string;
      key: { kid: string; created: string };
      secrets: { name: string; kid: string; version: number; created: string; updated: string; uses: string[] }[];
      missing: { name: string; uses: string[] }[];
    };
    assert.equal(listing.config, file);
    assert.match(listing.key.kid, /^[0-9a-f]{8}$/);
    assert.deepEqual(
      listing.secrets.map((s) => [s.name, s.version, s.kid === listing.key.kid, s.uses]),
      [
        ['default_san', 1, true, ['[DEFAULT].san_password']],
        ['default.array', 2, true, ['[DEFAULT].hpe3par_password']],
        ['second-array', 1, true, ['[3par2].hpe3par_password']],
        ['unused', 1, true, []],
      ],
    );
    const array = listing.secrets[1]!;
    assert.ok(Date.parse(array.updated) >= Date.parse(array.created));
    assert.deepEqual(listing.missing, [{ name: 'remote.array', uses: ['[3par2].replication_device.hpe3par_password'] }]);

    const text = await runCli('encryptor', ['secret', 'list'], { env, transcript });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^cluster secrets key [0-9a-f]{8} \(created .*\)$/m);
    assert.match(text.stdout, /^default\.array +version 2  key [0-9a-f]{8}  created \S+  updated \S+  used by \[DEFAULT\]\.hpe3par_password$/m);
    assert.match(text.stdout, new RegExp(`^unused +version 1 .* not used in ${file}$`, 'm'));
    assert.match(text.stdout, /^missing remote\.array: used by \[3par2\]\.replication_device\.hpe3par_password but not in etcd — fix: `hpe3parencryptor secret put remote\.array`$/m);
    assert.equal((await put(env, 'remote.array', testPasswords.remoteArray)).code, 0);
  });

  test('history lists the kept versions and their dates; rollback makes an earlier value current as a new version, and check uses it', async () => {
    const { env } = await namedConfig('rollback.conf');
    const wrong = await runCli('plugin', ['check'], { env, transcript });
    assert.equal(wrong.code, 1, 'version 2 of default.array is the wrong password');
    assert.match(wrong.stdout, /^FAIL array \[DEFAULT\]: .*login failed/m);

    const history = await runCli('encryptor', ['secret', 'history', 'default.array'], { env, transcript });
    assert.equal(history.code, 0, history.stderr);
    assert.match(history.stdout, /^secret default\.array: created \S+; 2 versions kept \(at most 20\)$/m);
    assert.match(history.stdout, /^  version 1    key [0-9a-f]{8}  created \S+$/m);
    assert.match(history.stdout, /^  version 2    key [0-9a-f]{8}  created \S+  \(current\)$/m);

    const r = await runCli('encryptor', ['secret', 'rollback', 'default.array', '--to', '1'], { env, transcript });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'secret default.array: version 3 is now current, with the value of version 1\n');
    const check = await runCli('plugin', ['check'], { env, transcript });
    assert.equal(check.code, 0, check.stdout);

    const json = JSON.parse((await runCli('encryptor', ['secret', 'history', 'default.array', '--json'], { env, transcript })).stdout);
    assert.equal(json.current, 3);
    assert.deepEqual(json.versions.map((v: { version: number; rolledBackFrom?: number }) => [v.version, v.rolledBackFrom]), [[1, undefined], [2, undefined], [3, 1]]);
    assert.equal(JSON.stringify(json).includes('enc:v1'), false, 'history shows no value, not even encrypted');

    const gone = await runCli('encryptor', ['secret', 'rollback', 'default.array', '--to', '9'], { env, transcript });
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /^ERROR: secret default\.array has no version 9; it keeps versions 1, 2, 3 \(the last 20 at most\)$/m);
    const current = await runCli('encryptor', ['secret', 'rollback', 'default.array', '--to', '3'], { env, transcript });
    assert.match(current.stderr, /^ERROR: version 3 is already the current version of secret default\.array; nothing was written$/m);
    const noTo = await runCli('encryptor', ['secret', 'rollback', 'default.array'], { env, transcript });
    assert.equal(noTo.code, 2);
    const unknown = await runCli('encryptor', ['secret', 'history', 'nope'], { env, transcript });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^ERROR: etcd holds no secret nope at \/secrets\/nope$/m);
  });

  test('rm is refused while hpe.conf uses the secret, naming where; --force deletes it; an unknown name is an error', async () => {
    const { env } = await namedConfig('rm.conf');
    const before = (await client.get('/secrets/second-array'))?.value;
    const refused = await runCli('encryptor', ['secret', 'rm', 'second-array'], { env, transcript });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^ERROR: .*rm\.conf uses secret second-array in \[3par2\]\.hpe3par_password; removing it would keep the plugin from starting\. Nothing was deleted$/m);
    assert.match(refused.stderr, /^Fix: .*pass --force/m);
    assert.equal((await client.get('/secrets/second-array'))?.value, before);
    const unused = await runCli('encryptor', ['secret', 'rm', 'unused'], { env, transcript });
    assert.equal(unused.code, 0, unused.stderr);
    assert.equal(unused.stdout, 'deleted secret unused (/secrets/unused)\n');
    const forced = await runCli('encryptor', ['secret', 'rm', 'second-array', '--force'], { env, transcript });
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(await client.get('/secrets/second-array'), undefined);
    const again = await runCli('encryptor', ['secret', 'rm', 'second-array', '--force'], { env, transcript });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^ERROR: etcd holds no secret second-array at \/secrets\/second-array$/m);
  });
});

describe('hpe3parencryptor secret rotate-key', () => {
  /** Every key under /secrets with its value and revision: what "nothing was written" compares. */
  const snapshot = async () => [...(await client.getPrefix('/secrets'))].map(([k, r]) => [k, r.value, r.modRevision]);
  const rotate = (env: NodeJS.ProcessEnv, current: string, next: string) =>
    runCli('encryptor', ['secret', 'rotate-key', '-', '--passphrase-file', '-'], { env, stdin: `${current}\n${next}\n`, transcript });

  test('re-encrypts every version of every secret under a new key: list, history, check and put follow it; a wrong current passphrase writes nothing', async () => {
    await clearSecrets();
    const { env } = await namedConfig('rotate.conf');
    await putAll(env);
    assert.equal((await put(env, 'default.array', testPasswords.defaultArray)).code, 0);
    const oldKid = (await recordOf('/secrets-key'))?.['kid'] as string;

    const before = await snapshot();
    const wrong = await rotate(env, otherPassphrase, newPassphrase);
    assert.equal(wrong.code, 1);
    assert.equal(wrong.stdout, '');
    assert.match(wrong.stderr, new RegExp(`^ERROR: the cluster secrets key ${oldKid} at /secrets-key \\(created .*\\) was made from a different passphrase; nothing was written$`, 'm'));
    assert.match(wrong.stderr, new RegExp(`^Fix: give the cluster secrets passphrase used when key ${oldKid} was created$`, 'm'));
    assert.deepEqual(await snapshot(), before);

    const r = await rotate(env, passphrase, newPassphrase);
    assert.equal(r.code, 0, r.stderr);
    const line = new RegExp(`^cluster secrets key ${oldKid} replaced by ([0-9a-f]{8}) at /secrets-key; re-encrypted 5 versions of 4 secrets\n$`);
    assert.match(r.stdout, line);
    const newKid = line.exec(r.stdout)![1]!;
    assert.notEqual(newKid, oldKid);
    assert.equal(r.stderr, '');
    const key = await recordOf('/secrets-key');
    assert.equal(key?.['kid'], newKid);
    for (const name of Object.keys(namedValues)) {
      const versions = (await recordOf(`/secrets/${name}`))?.['versions'] as { kid: string; value: string }[];
      assert.deepEqual(versions.map((v) => v.kid), versions.map(() => newKid), name);
      assert.ok(versions.every((v) => v.value.startsWith(`enc:v1:${newKid}:`)), name);
    }

    const list = await runCli('encryptor', ['secret', 'list'], { env, transcript });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`^cluster secrets key ${newKid} \\(created .*\\)$`, 'm'));
    assert.match(list.stdout, new RegExp(`^default\\.array +version 2  key ${newKid}  `, 'm'));
    const history = await runCli('encryptor', ['secret', 'history', 'default.array'], { env, transcript });
    assert.equal(history.code, 0, history.stderr);
    assert.match(history.stdout, new RegExp(`^  version 1    key ${newKid}  created \\S+$`, 'm'));
    assert.match(history.stdout, new RegExp(`^  version 2    key ${newKid}  created \\S+  \\(current\\)$`, 'm'));

    const check = await runCli('plugin', ['check'], { env, transcript });
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, new RegExp(`^ok   etcd named secrets: 4 read in one request \\(cluster secrets key ${newKid}\\)`, 'm'));
    assert.match(check.stdout, /^ok   array \[3par2\] replication target remote3par: .*login ok/m);

    const oldPut = await put(env, 'default.array', testPasswords.defaultArray);
    assert.equal(oldPut.code, 1);
    assert.match(oldPut.stderr, new RegExp(`^ERROR: the cluster secrets key ${newKid} at /secrets-key \\(created .*\\) was made from a different passphrase; nothing was written$`, 'm'));
    const newPut = await put(env, 'default.array', testPasswords.defaultArray, newPassphrase);
    assert.equal(newPut.code, 0, newPut.stderr);
    assert.match(newPut.stdout, new RegExp(`^stored secret default\\.array version 3 \\(key ${newKid}\\)`));
    const rollback = await runCli('encryptor', ['secret', 'rollback', 'default.array', '--to', '1'], { env, transcript });
    assert.equal(rollback.code, 0, 'a version sealed before the rotation can be rolled back to');
  });

  test('a secret created after the rotation read the records makes it write nothing (that secret would stay sealed under the replaced key)', async () => {
    await clearSecrets();
    await putNamedSecret(client, 'early', passphrase, 'early-1');
    const read = await readNamedSecretRecords(client);
    await putNamedSecret(client, 'late', passphrase, 'late-1');
    const before = await snapshot();
    const written = await replaceClusterKeyAndSecrets(client, { raw: '{"stands for":"a new key record"}', modRevision: read.key!.modRevision }, read.secrets);
    assert.equal(written, false);
    assert.deepEqual(await snapshot(), before, 'nothing was written');
  });

  test('puts racing a rotation: each is refused or stored under the key etcd holds afterwards, never under a replaced one; the current passphrase is derived once', async () => {
    await clearSecrets();
    await putNamedSecret(client, 'race', passphrase, 'race-0');
    let derivations = 0;
    const current = new PassphraseKeys(passphrase, (p, params) => {
      derivations++;
      return deriveKey(p, params);
    });
    // As the CLI does: checked before the new passphrase is asked for, then the same keys serve every attempt.
    await checkClusterPassphrase(client, current);
    const puts = Array.from({ length: 6 }, (_, i) => putNamedSecret(client, i % 2 === 0 ? 'race' : `race-${i}`, passphrase, `race-${i + 1}`));
    const results = await Promise.allSettled([rotateClusterKey(client, current, newPassphrase), ...puts]);
    assert.equal(results[0]!.status, 'fulfilled', String((results[0] as PromiseRejectedResult).reason));
    assert.equal(derivations, 1, 'the check derived the current key; the attempts (retried after the puts) reused it');
    for (const r of results.slice(1)) {
      if (r.status === 'rejected') assert.match(String(r.reason), /was made from a different passphrase; nothing was written/);
    }
    const kid = (await recordOf('/secrets-key'))?.['kid'];
    for (const [name, { value }] of await client.getPrefix('/secrets/')) {
      const versions = (JSON.parse(value) as { versions: { kid: string }[] }).versions;
      assert.deepEqual(versions.map((v) => v.kid), versions.map(() => kid), name);
    }
  });

  test('a key replaced after the check: the rotation checks the record etcd holds then (another salt: derived again), never seals under the replaced key', async () => {
    await clearSecrets();
    await putNamedSecret(client, 'between', passphrase, 'between-1');
    let derivations = 0;
    const counted = (phrase: string) =>
      new PassphraseKeys(phrase, (p, params) => {
        derivations++;
        return deriveKey(p, params);
      });
    const current = counted(passphrase);
    await checkClusterPassphrase(client, current);
    await rotateClusterKey(client, passphrase, passphrase); // another admin: the same passphrase, a new salt and kid
    const replaced = (await recordOf('/secrets-key'))?.['kid'];
    const r = await rotateClusterKey(client, current, newPassphrase);
    assert.equal(r.oldKid, replaced);
    assert.equal(derivations, 2, 'the new salt is derived; the check kept nothing stale');
    const versions = (await recordOf('/secrets/between'))?.['versions'] as { kid: string }[];
    assert.deepEqual(versions.map((v) => v.kid), [r.newKid]);

    const stale = counted(newPassphrase);
    await checkClusterPassphrase(client, stale);
    await rotateClusterKey(client, newPassphrase, otherPassphrase); // another admin, to another passphrase
    const before = await snapshot();
    await assert.rejects(rotateClusterKey(client, stale, passphrase), /was made from a different passphrase; nothing was written/);
    assert.deepEqual(await snapshot(), before, 'nothing was written');
    await rotateClusterKey(client, otherPassphrase, newPassphrase);
  });

  test('with passphrase files; with no named secrets it still replaces the key; without a key there is nothing to rotate', async () => {
    const { env } = await namedConfig('rotate-files.conf');
    const current = await dir.file('rotate-current', `${newPassphrase}\n`);
    const next = await dir.file('rotate-next', `${passphrase}\n`);
    const files = ['secret', 'rotate-key', '--passphrase-file', current, '--new-passphrase-file', next];
    for (const name of (await client.getPrefix('/secrets/')).keys()) await client.delete(`/secrets/${name}`);
    const oldKid = (await recordOf('/secrets-key'))?.['kid'] as string;
    const r = await runCli('encryptor', files, { env, transcript });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^cluster secrets key ${oldKid} replaced by [0-9a-f]{8} at /secrets-key; re-encrypted 0 versions of 0 secrets\n$`));
    assert.notEqual((await recordOf('/secrets-key'))?.['kid'], oldKid);
    assert.equal((await put(env, 'after', 'Unused-Value-Pw-90')).code, 0, 'the new key is the one made from the new passphrase');

    const twice = await runCli('encryptor', [...files, '-'], { env, transcript });
    assert.equal(twice.code, 2);
    assert.match(twice.stderr, /^ERROR: the new passphrase is given twice \(argument and --new-passphrase-file\)$/m);
    const noNew = await runCli('encryptor', ['secret', 'rotate-key', '--passphrase-file', next], { env, transcript });
    assert.equal(noNew.code, 2);
    assert.match(noNew.stderr, /^ERROR: no new cluster secrets passphrase given$/m);
    const onPut = await runCli('encryptor', ['secret', 'put', 'x1', '--new-passphrase-file', next], { env, transcript });
    assert.equal(onPut.code, 2);
    assert.match(onPut.stderr, /--new-passphrase-file is only for `secret rotate-key`/);

    await clearSecrets();
    const none = await runCli('encryptor', files, { env, transcript });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^ERROR: etcd has no cluster secrets key at \/secrets-key: there is nothing to rotate; nothing was written$/m);
    assert.equal(await client.get('/secrets-key'), undefined);
  });
});

describe('secrets never leak', () => {
  test('no value, passphrase or cluster key appeared in any output of the secret commands, check or status', async () => {
    assert.ok(transcript.runs.length >= 40, `the transcript covers the runs above (${transcript.runs.length})`);
    assert.ok(seenKeys.size >= 2, `the cluster keys seen in etcd are checked too (${seenKeys.size})`);
    const keys = Object.fromEntries([...seenKeys].map((k, i) => [`cluster key #${i}`, k]));
    const leaked = transcript.leaked({
      ...testPasswords,
      passphrase,
      otherPassphrase,
      newPassphrase,
      wrongValue,
      argvValue: 'Argv-Value-Pw-88',
      unusedValue: 'Unused-Value-Pw-90',
      ...keys,
    });
    assert.deepEqual(leaked, []);
  });
});
