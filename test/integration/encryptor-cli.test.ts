import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { createEtcdClient, type EtcdClient } from '../../src/etcd/index.js';
import { freePort } from '../../src/net.js';
import { runCli, Transcript } from '../support/cli.js';
import { testPasswords, tempDir, twoBackendConfig, type ArrayUrls, type TempDir } from '../support/configs.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.js';
import { startEtcd, type EtcdCluster } from '../support/etcd.js';

const passphrase = 'correct horse battery staple';
const otherPassphrase = 'not the same passphrase';
const transcript = new Transcript();

let etcd: EtcdCluster;
let dir: TempDir;
let client: EtcdClient;
let port: number;
/** WSAPI simulators for the three arrays of the test config (check logs in to each), and one for the legacy test. */
const simulators: RunningSimulator[] = [];
let arrays: ArrayUrls;
let legacyArrays: ArrayUrls;

async function simulator(password: string): Promise<string> {
  const sim = await startSimulator({ listen: { host: '127.0.0.1', port: 0 }, stateDir: `${dir.path}/sim-${simulators.length}`, users: { '3paradm': password } });
  simulators.push(sim);
  return sim.apiUrl;
}
/** No Docker daemon here: the encryptor must warn once and go on. */
const noDocker = { DOCKER_HOST: 'unix:///nonexistent/docker.sock' };

async function freshConfig(name: string): Promise<{ file: string; env: NodeJS.ProcessEnv }> {
  const file = await dir.file(name, twoBackendConfig('127.0.0.1', port, testPasswords, arrays));
  return { file, env: { ...noDocker, HPEDOCKERPLUGIN_CONFIG: file } };
}

async function clearKeys(): Promise<void> {
  for (const key of (await client.getPrefix('/backend/')).keys()) await client.delete(`/backend/${key}`);
}

/** Every derived key that was in etcd during the tests, for the no-leak assertion. */
const seenKeys = new Set<string>();

async function keyRecord(backend: string): Promise<string | undefined> {
  const value = (await client.get(`/backend/${backend}`))?.value;
  if (value?.startsWith('{')) {
    const record = JSON.parse(value) as { key: string; retired?: { key: string }[] };
    for (const k of [record.key, ...(record.retired ?? []).map((r) => r.key)]) seenKeys.add(k);
  }
  return value;
}

before(async () => {
  etcd = await startEtcd({ members: 1 });
  port = etcd.endpoints[0]!.port;
  dir = await tempDir();
  client = await createEtcdClient({ endpoints: etcd.endpoints });
  arrays = { default: await simulator(testPasswords.defaultArray), second: await simulator(testPasswords.secondArray), remote: await simulator(testPasswords.remoteArray) };
  legacyArrays = { ...arrays, default: await simulator('password') };
});

after(async () => {
  for (const sim of simulators) await sim.stop();
  client?.close();
  await etcd?.stop();
  await dir?.remove();
});

describe('hpe3parencryptor -a', () => {
  test('prints upstream\'s SUCCESSFUL line with an enc:v1 value and creates the backend key on first use', async () => {
    await clearKeys();
    const { env } = await freshConfig('a1.conf');
    const r = await runCli('encryptor', ['-a', '-', '-'], { env, stdin: `${passphrase}\n${testPasswords.defaultArray}\n`, transcript });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^SUCCESSFUL: Encrypted password: enc:v1:[0-9a-f]{8}:[A-Za-z0-9+/]+=*\n$/);
    assert.match(r.stderr, /created key [0-9a-f]{8} for backend DEFAULT at \/backend\/DEFAULT/);
    assert.match(r.stderr, /warning: cannot ask Docker whether the hpe plugin is enabled/);
    const record = JSON.parse((await keyRecord('DEFAULT'))!);
    assert.equal(record.v, 1);
    assert.equal(r.stdout.split(':')[4], record.kid);
    assert.equal(JSON.stringify(record).includes(passphrase), false, 'the passphrase is never stored');
  });

  test('the same passphrase again reuses the key; a different one is refused and writes nothing', async () => {
    await clearKeys();
    const { env } = await freshConfig('a2.conf');
    const first = await runCli('encryptor', ['-a', '-', '-'], { env, stdin: `${passphrase}\npw-one\n`, transcript });
    assert.equal(first.code, 0, first.stderr);
    const before = await keyRecord('DEFAULT');
    const again = await runCli('encryptor', ['-a', '-', '-'], { env, stdin: `${passphrase}\npw-two\n`, transcript });
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /created key/);
    const wrong = await runCli('encryptor', ['-a', '-', '-'], { env, stdin: `${otherPassphrase}\npw-three\n`, transcript });
    assert.equal(wrong.code, 1);
    assert.equal(wrong.stdout, '');
    assert.match(wrong.stderr, /ERROR: backend DEFAULT already has key [0-9a-f]{8} \(created .*\), made from a different passphrase; nothing was written/);
    assert.match(wrong.stderr, /Fix: give the passphrase used when key [0-9a-f]{8} was created, or move the backend to a new passphrase with `hpe3parencryptor rotate --backend DEFAULT`/);
    assert.equal(await keyRecord('DEFAULT'), before);
  });

  test('--passphrase-file and a passphrase on the command line (with a warning) both work', async () => {
    await clearKeys();
    const { env } = await freshConfig('a3.conf');
    const pf = await dir.file('pass', `${passphrase}\n`);
    const fromFile = await runCli('encryptor', ['-a', '--passphrase-file', pf, '-', '--backend', '3par2'], { env, stdin: 'x-password\n', transcript });
    assert.equal(fromFile.code, 0, fromFile.stderr);
    assert.doesNotMatch(fromFile.stderr, /shell history/);
    const inArgv = await runCli('encryptor', ['-a', passphrase, 'y-password', '--backend', '3par2'], { env, transcript });
    assert.equal(inArgv.code, 0, inArgv.stderr);
    assert.match(inArgv.stderr, /warning: a passphrase on the command line stays in shell history/);
  });

  test('an unknown backend is an error that lists the backends', async () => {
    const { env } = await freshConfig('a4.conf');
    const r = await runCli('encryptor', ['-a', '-', '-', '--backend', 'nope'], { env, stdin: `${passphrase}\npw\n`, transcript });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ERROR: backend nope is not in .*a4\.conf; its backends are DEFAULT, 3par2/);
    assert.equal(await keyRecord('nope'), undefined);
  });

  test('`-a - <password>` takes the passphrase from standard input and the password from the argument', async () => {
    await clearKeys();
    const { env } = await freshConfig('a6.conf');
    const r = await runCli('encryptor', ['-a', '-', 'argv-password'], { env, stdin: `${passphrase}\n`, transcript });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^SUCCESSFUL: Encrypted password: enc:v1:/);
    assert.doesNotMatch(r.stderr, /shell history/);
  });

  test('a missing hpe.conf is refused before anything else, naming the path and the fix', async () => {
    const missing = `${dir.path}/absent/hpe.conf`;
    const env = { ...noDocker, HPEDOCKERPLUGIN_CONFIG: missing };
    const r = await runCli('encryptor', ['-a', '-', '-'], { env, stdin: `${passphrase}\npw\n`, transcript });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`ERROR: ${missing.replace(/[/.]/g, '\\$&')}: `));
    assert.match(r.stderr, /Fix: .*--config/);
    const check = await runCli('plugin', ['check', '--config', missing], { transcript });
    assert.equal(check.code, 1);
    assert.match(check.stdout, /^FAIL config file: .*absent\/hpe\.conf: does not exist — fix: create it/m);
  });

  test('no passphrase and no terminal is a usage error (exit 2)', async () => {
    const { env } = await freshConfig('a5.conf');
    const r = await runCli('encryptor', ['-a'], { env, transcript });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /ERROR: no passphrase given/);
  });
});

describe('hpe3parencryptor encrypt-config, status, check', () => {
  test('encrypts all six password values in place, leaving every other byte and the mode unchanged', async () => {
    await clearKeys();
    const { file, env } = await freshConfig('ec.conf');
    const original = await readFile(file, 'utf8');
    const pf = await dir.file('pass-ec', passphrase);
    const r = await runCli('encryptor', ['encrypt-config', '--all', '--passphrase-file', pf], { env, transcript });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\[DEFAULT\] encrypted hpe3par_password, san_password with key [0-9a-f]{8} \(new\)/);
    assert.match(r.stdout, /\[3par2\] encrypted hpe3par_password, san_password, replication_device.hpe3par_password, replication_device.san_password/);
    const edited = await readFile(file, 'utf8');
    const values = edited.match(/enc:v1:[0-9a-f]{8}:[A-Za-z0-9+/=]+/g) ?? [];
    assert.equal(values.length, 6);
    let expected = original;
    for (const pw of Object.values(testPasswords)) expected = expected.replace(pw, '<V>');
    assert.equal(edited.replace(/enc:v1:[0-9a-f]{8}:[A-Za-z0-9+/=]+/g, '<V>'), expected);
    assert.equal((await stat(file)).mode & 0o777, 0o600);

    const again = await runCli('encryptor', ['encrypt-config', '--all', '--passphrase-file', pf], { env, transcript });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /unchanged/);
    assert.equal(await readFile(file, 'utf8'), edited);

    const check = await runCli('plugin', ['check'], { env, transcript });
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /^ok   secrets \[DEFAULT\]: 2 passwords usable \(2 encrypted\)$/m);
    assert.match(check.stdout, /^ok   secrets \[3par2\]: 4 passwords usable \(4 encrypted\)$/m);
    assert.match(check.stdout, /^ok   array \[DEFAULT\]: http:\/\/127\.0\.0\.1:\d+\/api\/v1: reachable, login ok, CPGs exist \(HPE 3PAR Simulator/m);
    assert.match(check.stdout, /^ok   array \[3par2\] replication target remote3par: http:\/\/127\.0\.0\.1:\d+\/api\/v1: reachable, login ok/m);
    assert.match(check.stdout, /^passed: every prerequisite is met/m);

    const status = await runCli('encryptor', ['status', '--json'], { env, transcript });
    assert.equal(status.code, 0, status.stderr);
    const parsed = JSON.parse(status.stdout);
    assert.deepEqual(
      parsed.backends.map((b: { backend: string; key: { state: string } }) => [b.backend, b.key.state]),
      [['DEFAULT', 'present'], ['3par2', 'present']],
    );
    assert.equal(parsed.backends[1].passwords[3].form.form, 'encrypted');
    assert.doesNotMatch(check.stdout, /^warn /m);
  });

  test('check warns once per plain password, naming it and the command that encrypts it, also in a backend that has a key', async () => {
    await clearKeys();
    const { file, env } = await freshConfig('plain-with-key.conf');
    const pf = await dir.file('pass-pk', passphrase);
    const r = await runCli('encryptor', ['encrypt-config', '--backend', 'DEFAULT', '--passphrase-file', pf], { env, transcript });
    assert.equal(r.code, 0, r.stderr);
    const encrypted = await readFile(file, 'utf8');
    const sanLine = encrypted.split('\n').findIndex((l) => /^san_password\s*=\s*enc:v1:/.test(l)) + 1;
    await writeFile(file, encrypted.replace(/^san_password\s*=\s*enc:v1:\S+$/m, `san_password = ${testPasswords.defaultSan}`));
    const check = await runCli('plugin', ['check'], { env, transcript });
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /^ok   secrets \[DEFAULT\]: 2 passwords usable \(1 encrypted, 1 plain\)$/m);
    const warnings = check.stdout.split('\n').filter((l) => l.startsWith('warn secrets'));
    const fix = (b: string) => ` — fix: encrypt it in place with \`hpe3parencryptor encrypt-config --backend ${b}\``;
    assert.deepEqual(warnings, [
      `warn secrets [DEFAULT]: ${file}:${sanLine}: [DEFAULT].san_password: is plain text${fix('DEFAULT')}`,
      `warn secrets [3par2]: ${file}:20: [3par2].hpe3par_password: is plain text${fix('3par2')}`,
      `warn secrets [3par2]: ${file}:23: [3par2].san_password: is plain text${fix('3par2')}`,
      `warn secrets [3par2]: ${file}:29: [3par2].replication_device.hpe3par_password: is plain text${fix('3par2')}`,
      `warn secrets [3par2]: ${file}:30: [3par2].replication_device.san_password: is plain text${fix('3par2')}`,
    ]);
    assert.doesNotMatch(check.stdout, /^warn key/m);
    assert.equal(check.stdout.includes(testPasswords.defaultSan), false);
  });

  test('a wrong passphrase for one backend of --all writes nothing at all', async () => {
    await clearKeys();
    const { file, env } = await freshConfig('ec2.conf');
    const seed = await runCli('encryptor', ['-a', '-', '-', '--backend', '3par2'], { env, stdin: `${otherPassphrase}\nx\n`, transcript });
    assert.equal(seed.code, 0, seed.stderr);
    const original = await readFile(file, 'utf8');
    const r = await runCli('encryptor', ['encrypt-config', '--all', '-', '-'], { env, stdin: `${passphrase}\n`, transcript });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ERROR: this passphrase is not the one the key of backend 3par2 \(key [0-9a-f]{8}\) was made from; it fits DEFAULT\. Nothing was written$/m);
    assert.equal(await readFile(file, 'utf8'), original);
    assert.equal(await keyRecord('DEFAULT'), undefined, 'no key is made for DEFAULT either');
  });

  test('check names a tampered value, a missing key and a value copied from another backend', async () => {
    await clearKeys();
    const { file, env } = await freshConfig('tamper.conf');
    const pf = await dir.file('pass-t', passphrase);
    assert.equal((await runCli('encryptor', ['encrypt-config', '--all', '--passphrase-file', pf], { env, transcript })).code, 0);
    const text = await readFile(file, 'utf8');
    const values = text.match(/enc:v1:[0-9a-f]{8}:[A-Za-z0-9+/=]+/g)!;
    // flip one character of DEFAULT's hpe3par_password ciphertext; copy 3par2's value into DEFAULT's san_password
    const tampered = values[0]!.slice(0, -6) + (values[0]!.at(-6) === 'A' ? 'B' : 'A') + values[0]!.slice(-5);
    await writeFile(file, text.replace(values[0]!, tampered).replace(values[1]!, values[2]!));
    const r = await runCli('plugin', ['check'], { env, transcript });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^FAIL secrets \[DEFAULT\]: .*tamper\.conf:8: \[DEFAULT\]\.hpe3par_password: does not decrypt with key [0-9a-f]{8}: the value was edited or damaged after it was encrypted — fix: /m);
    assert.match(r.stdout, /^FAIL secrets \[DEFAULT\]: .*tamper\.conf:11: \[DEFAULT\]\.san_password: is encrypted with key [0-9a-f]{8}, but backend DEFAULT's key is [0-9a-f]{8}; key [0-9a-f]{8} belongs to backend 3par2: the value was copied from \[3par2\]/m);
    assert.match(r.stdout, /^ok   secrets \[3par2\]/m);
    assert.match(r.stdout, /^failed: 2 prerequisites are not met/m);

    await client.delete('/backend/3par2');
    const missing = await runCli('plugin', ['check', '--json'], { env, transcript });
    assert.equal(missing.code, 1);
    const report = JSON.parse(missing.stdout);
    const keyLine = report.results.find((x: { subject: string }) => x.subject === 'key [3par2]');
    assert.equal(keyLine.status, 'FAIL');
    assert.match(keyLine.detail, /no key record at \/backend\/3par2, but hpe3par_password \(line 20\), san_password \(line 23\), replication_device.hpe3par_password \(line 29\), replication_device.san_password \(line 30\) are encrypted/);
  });

  test('check logs in to every array: a wrong array password is a FAIL line naming the option, the other backend is ok', async () => {
    await clearKeys();
    const text = twoBackendConfig('127.0.0.1', port, { ...testPasswords, defaultArray: 'Not-The-Array-Password' }, arrays);
    const file = await dir.file('wrong-array-pw.conf', text);
    const r = await runCli('plugin', ['check'], { env: { ...noDocker, HPEDOCKERPLUGIN_CONFIG: file }, transcript });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^FAIL array \[DEFAULT\]: http:\/\/127\.0\.0\.1:\d+\/api\/v1: login failed: wrong user or password \(WSAPI code 5\) — check \[DEFAULT\]\.hpe3par_username and \[DEFAULT\]\.hpe3par_password; the plugin starts, but this backend stays FAILED until it passes — fix: /m);
    assert.match(r.stdout, /^ok   array \[3par2\]: /m);
    assert.match(r.stdout, /^failed: 1 array check fails; the plugin starts \(its start-up gate does not log in to arrays\), but that backend stays FAILED until it passes$/m);
    assert.equal(r.stdout.includes('Not-The-Array-Password'), false);
  });

  test('check with a replication target down: that target FAILs, its backend and the others are ok, and the verdict says only replicated operations wait', async () => {
    await clearKeys();
    const dead = await freePort();
    const deadUrl = `http://127.0.0.1:${dead}/api/v1`;
    const file = await dir.file('target-down.conf', twoBackendConfig('127.0.0.1', port, testPasswords, { ...arrays, remote: deadUrl }));
    const r = await runCli('plugin', ['check'], { env: { ...noDocker, HPEDOCKERPLUGIN_CONFIG: file }, transcript });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^ok   array \[DEFAULT\]: /m);
    assert.match(r.stdout, /^ok   array \[3par2\]: /m);
    const line = r.stdout.split('\n').find((l) => l.startsWith('FAIL array [3par2] replication target remote3par: '));
    assert.equal(
      line?.split(' — fix: ')[0],
      `FAIL array [3par2] replication target remote3par: ${deadUrl}: array 127.0.0.1:${dead} refused the connection; only replicated operations of [3par2] are refused until it passes, its plain volumes keep working`,
    );
    assert.match(
      r.stdout,
      /^failed: 1 replication target check fails; the plugin starts \(its start-up gate does not log in to arrays\), but only the replicated operations of its backend are refused until it passes \(plain volumes keep working\)$/m,
    );
    assert.doesNotMatch(r.stdout, /stays FAILED/);
    const json = JSON.parse((await runCli('plugin', ['check', '--json'], { env: { ...noDocker, HPEDOCKERPLUGIN_CONFIG: file }, transcript })).stdout) as { results: { check: string; status: string; subject: string }[] };
    assert.deepEqual(
      json.results.filter((x) => x.check.startsWith('array')).map((x) => [x.check, x.status, x.subject]),
      [
        ['array', 'ok', 'array [DEFAULT]'],
        ['array', 'ok', 'array [3par2]'],
        ['array.replication', 'FAIL', 'array [3par2] replication target remote3par'],
      ],
    );
  });

  test('placeholders resolve from the environment and from files; a missing one fails naming it', async () => {
    await clearKeys();
    const secretFile = await dir.file('array-secret', `${testPasswords.secondArray}\n`);
    const text = twoBackendConfig('127.0.0.1', port, testPasswords, arrays)
      .replace(testPasswords.defaultArray, '$env{HPE_TEST_ARRAY_PW}')
      .replace(testPasswords.secondArray, `$file{${secretFile}}`);
    const file = await dir.file('ph.conf', text);
    const env = { ...noDocker, HPEDOCKERPLUGIN_CONFIG: file, HPE_TEST_ARRAY_PW: testPasswords.defaultArray };
    const ok = await runCli('plugin', ['check'], { env, transcript });
    assert.equal(ok.code, 0, ok.stdout);
    assert.match(ok.stdout, /^ok   secrets \[DEFAULT\]: 2 passwords usable \(1 placeholder, 1 plain\)$/m);
    const { HPE_TEST_ARRAY_PW: _unset, ...withoutVar } = env;
    const bad = await runCli('plugin', ['check'], { env: withoutVar, transcript });
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /^FAIL secrets \[DEFAULT\]: .*ph\.conf:8: \[DEFAULT\]\.hpe3par_password: .*HPE_TEST_ARRAY_PW/m);
  });
});

describe('hpe3parencryptor -d', () => {
  test('refuses while hpe.conf holds values encrypted with the key; --force deletes; then Key not present', async () => {
    await clearKeys();
    const { file, env } = await freshConfig('d.conf');
    const pf = await dir.file('pass-d', passphrase);
    assert.equal((await runCli('encryptor', ['encrypt-config', '--passphrase-file', pf], { env, transcript })).code, 0);
    const text = await readFile(file, 'utf8');
    const refused = await runCli('encryptor', ['-d'], { env, transcript });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /\[DEFAULT\] still has 2 encrypted passwords: hpe3par_password \(line 8\), san_password \(line 11\); deleting the key would make them unreadable/);
    assert.match(refused.stderr, /Fix: .*pass --force/);
    assert.notEqual(await keyRecord('DEFAULT'), undefined);
    const forced = await runCli('encryptor', ['-d', '--force'], { env, transcript });
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(forced.stdout, 'Key Successfully deleted\n');
    assert.equal(await keyRecord('DEFAULT'), undefined);
    const absent = await runCli('encryptor', ['-d', '--backend', '3par2'], { env, transcript });
    assert.equal(absent.stdout, 'Key not present\n');
    assert.equal(await readFile(file, 'utf8'), text);
  });
});

describe('legacy py-3parencryptor values', () => {
  test('decrypt with the raw passphrase record, and migrate rewrites them as enc:v1 keeping the passphrase', async () => {
    await clearKeys();
    // upstream's documented vector: passphrase @123# + password "password" -> +CB1E8Je1j8=
    const text = twoBackendConfig('127.0.0.1', port, testPasswords, legacyArrays)
      .replace(testPasswords.defaultArray, '+CB1E8Je1j8=')
      .replace(testPasswords.defaultSan, '+CB1E8Je1j8=');
    const file = await dir.file('legacy.conf', text);
    const env = { ...noDocker, HPEDOCKERPLUGIN_CONFIG: file };
    await client.putIfAbsent('/backend/DEFAULT', '@123#');
    const check = await runCli('plugin', ['check'], { env, transcript });
    assert.equal(check.code, 0, check.stdout);
    assert.match(check.stdout, /^warn key \[DEFAULT\]: \/backend\/DEFAULT holds a legacy py-3parencryptor passphrase/m);
    assert.match(check.stdout, /^ok   secrets \[DEFAULT\]: 2 passwords usable \(2 legacy\)$/m);

    const add = await runCli('encryptor', ['-a', '-', '-'], { env, stdin: '@123#\nnew\n', transcript });
    assert.equal(add.code, 1);
    assert.match(add.stderr, /Fix: convert it first with `hpe3parencryptor migrate --backend DEFAULT`/);

    const migrate = await runCli('encryptor', ['migrate'], { env, transcript });
    assert.equal(migrate.code, 0, migrate.stderr);
    assert.match(migrate.stdout, /^\[DEFAULT\] migrated 2 values to key [0-9a-f]{8}$/m);
    assert.equal((await readFile(file, 'utf8')).includes('+CB1E8Je1j8='), false);
    assert.equal((await keyRecord('DEFAULT'))!.includes('@123#'), false, 'the legacy passphrase is gone from etcd');
    const after = await runCli('plugin', ['check'], { env, transcript });
    assert.equal(after.code, 0, after.stdout);
    assert.match(after.stdout, /^ok   secrets \[DEFAULT\]: 2 passwords usable \(2 encrypted\)$/m);
    const reuse = await runCli('encryptor', ['-a', '-', '-'], { env, stdin: '@123#\nnew\n', transcript });
    assert.equal(reuse.code, 0, 'the admin keeps the passphrase they knew');
  });
});

describe('rotate', () => {
  test('moves a backend to a new passphrase and re-encrypts its four values in place', async () => {
    await clearKeys();
    const { file, env } = await freshConfig('rot.conf');
    const pf = await dir.file('pass-r', passphrase);
    assert.equal((await runCli('encryptor', ['encrypt-config', '--all', '--passphrase-file', pf], { env, transcript })).code, 0);
    const oldKid = JSON.parse((await keyRecord('3par2'))!).kid;
    const r = await runCli('encryptor', ['rotate', '--backend', '3par2', '-', '-'], { env, stdin: `${otherPassphrase}\n`, transcript });
    assert.equal(r.code, 0, r.stderr);
    const newKid = JSON.parse((await keyRecord('3par2'))!).kid;
    assert.notEqual(newKid, oldKid);
    assert.match(r.stdout, new RegExp(`\\[3par2\\] key ${oldKid} replaced by ${newKid}; 4 values re-encrypted`));
    const text = await readFile(file, 'utf8');
    assert.equal(text.split(`enc:v1:${newKid}:`).length - 1, 4);
    const check = await runCli('plugin', ['check'], { env, transcript });
    assert.equal(check.code, 0, check.stdout);
    const oldAgain = await runCli('encryptor', ['-a', '-', '-', '--backend', '3par2'], { env, stdin: `${passphrase}\nz\n`, transcript });
    assert.equal(oldAgain.code, 1, 'the old passphrase no longer matches');
  });
});

describe('one passphrase per backend, and standard input as a passphrase file', () => {
  test('rotate --passphrase-file - reads the new passphrase from standard input', async () => {
    await clearKeys();
    const { env } = await freshConfig('rot-stdin.conf');
    const pf = await dir.file('pass-rs', passphrase);
    assert.equal((await runCli('encryptor', ['encrypt-config', '--backend', '3par2', '--passphrase-file', pf], { env, transcript })).code, 0);
    const oldKid = JSON.parse((await keyRecord('3par2'))!).kid;
    const r = await runCli('encryptor', ['rotate', '--backend', '3par2', '--passphrase-file', '-'], { env, stdin: `${otherPassphrase}\n`, transcript });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^\\[3par2\\] key ${oldKid} replaced by [0-9a-f]{8}; 4 values re-encrypted`, 'm'));
    const same = await runCli('encryptor', ['-a', '-', '-', '--backend', '3par2'], { env, stdin: `${otherPassphrase}\nz\n`, transcript });
    assert.equal(same.code, 0, `the new passphrase is the one from standard input: ${same.stderr}`);
  });

  test('encrypt-config --all with backends on different passphrases names which backend needs which, and writes nothing', async () => {
    await clearKeys();
    const { file, env } = await freshConfig('two-passphrases.conf');
    const pf = await dir.file('pass-2p', passphrase);
    assert.equal((await runCli('encryptor', ['encrypt-config', '--backend', 'DEFAULT', '--passphrase-file', pf], { env, transcript })).code, 0);
    const defaultKid = JSON.parse((await keyRecord('DEFAULT'))!).kid;
    await writeFile(file, (await readFile(file, 'utf8')).replace(/^(hpe3par_password\s*=\s*)enc:v1:\S+$/m, `$1${testPasswords.defaultArray}`));
    const before = await readFile(file, 'utf8');
    const other = await dir.file('pass-2p-other', otherPassphrase);
    const r = await runCli('encryptor', ['encrypt-config', '--all', '--passphrase-file', other], { env, transcript });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^ERROR: this passphrase is not the one the key of backend DEFAULT \\(key ${defaultKid}\\) was made from; it fits 3par2\\. Nothing was written$`, 'm'));
    assert.match(r.stderr, /^Fix: encrypt one backend at a time, each with its own passphrase: `hpe3parencryptor encrypt-config --backend DEFAULT`, and with this passphrase `--backend 3par2`$/m);
    assert.equal(await readFile(file, 'utf8'), before);
    assert.equal(await keyRecord('3par2'), undefined, 'no key is made for 3par2 when the command is refused');

    assert.equal((await runCli('encryptor', ['encrypt-config', '--backend', 'DEFAULT', '--passphrase-file', pf], { env, transcript })).code, 0);
    assert.equal((await runCli('encryptor', ['encrypt-config', '--backend', '3par2', '--passphrase-file', other], { env, transcript })).code, 0);
    assert.equal((await runCli('plugin', ['check'], { env, transcript })).code, 0);
  });

  test('encrypt-config with nothing plain asks for no passphrase and makes no key', async () => {
    await clearKeys();
    const { file, env } = await freshConfig('nothing-plain.conf');
    const pf = await dir.file('pass-np', passphrase);
    assert.equal((await runCli('encryptor', ['encrypt-config', '--all', '--passphrase-file', pf], { env, transcript })).code, 0);
    const encrypted = await readFile(file, 'utf8');
    const r = await runCli('encryptor', ['encrypt-config', '--all'], { env, transcript });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\[DEFAULT\] nothing to encrypt$/m);
    assert.match(r.stdout, /^\[3par2\] nothing to encrypt$/m);
    assert.match(r.stdout, /unchanged$/m);
    assert.equal(await readFile(file, 'utf8'), encrypted);
  });
});

describe('etcd unreachable', () => {
  test('-a and check name the endpoint and the fix, and nothing is written', async () => {
    const dead = await dir.file('dead.conf', twoBackendConfig('127.0.0.1', 1));
    const env = { ...noDocker, HPEDOCKERPLUGIN_CONFIG: dead };
    const text = await readFile(dead, 'utf8');
    const a = await runCli('encryptor', ['-a', '-', '-'], { env, stdin: `${passphrase}\npw\n`, transcript });
    assert.equal(a.code, 1);
    assert.match(a.stderr, /ERROR: etcd 127\.0\.0\.1:1: refused/);
    assert.match(a.stderr, /Fix: .*host_etcd_ip_address/);
    const check = await runCli('plugin', ['check'], { env, transcript });
    assert.equal(check.code, 1);
    assert.match(check.stdout, /^FAIL etcd 127\.0\.0\.1:1: /m);
    assert.equal(await readFile(dead, 'utf8'), text);
  });
});

describe('secrets never leak', () => {
  test('no password or passphrase used in this file appeared in any output of the CLIs', async () => {
    assert.ok(transcript.runs.length >= 20, `the transcript covers the runs above (${transcript.runs.length})`);
    assert.ok(seenKeys.size >= 5, `the derived keys seen in etcd are checked too (${seenKeys.size})`);
    const keys = Object.fromEntries([...seenKeys].map((k, i) => [`derived key #${i}`, k]));
    const leaked = transcript.leaked({ ...testPasswords, passphrase, otherPassphrase, legacyPassphrase: '@123#', ...keys });
    assert.deepEqual(leaked, []);
  });
});
