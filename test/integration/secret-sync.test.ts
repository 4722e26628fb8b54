import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { createEtcdClient, type EtcdClient } from '../../src/etcd/index.js';
import { applySync, loadNamedSecrets, loadSyncState, parseSyncFile, planSync, resolveNamedSecret } from '../../src/secrets/index.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.js';
import { runCli, Transcript } from '../support/cli.js';
import { tempDir, testPasswords, twoBackendConfig, type ArrayUrls, type TempDir } from '../support/configs.js';
import { startEtcd, type EtcdCluster } from '../support/etcd.js';

const passphrase = 'sync cluster passphrase 7';
const backendPassphrase = 'backend passphrase for enc 8';
const otherValue = 'Other-Default-Pw-61';
const transcript = new Transcript();
const noDocker = { DOCKER_HOST: 'unix:///nonexistent/docker.sock' };

/** Two environments: each its own etcd. */
let prod: EtcdCluster;
let staging: EtcdCluster;
let prodClient: EtcdClient;
let stagingClient: EtcdClient;
let dir: TempDir;
let arrays: ArrayUrls;
const simulators: RunningSimulator[] = [];

/** The four passwords the sync file shares, by the name it gives them. */
const shared: Record<string, string> = {
  'default.array': testPasswords.defaultArray,
  default_san: testPasswords.defaultSan,
  'second-array': testPasswords.secondArray,
  'remote.array': testPasswords.remoteArray,
};

const syncFile = {
  version: 1,
  secrets: {
    'default.array': { description: 'array 1 admin', uses: ['[DEFAULT].hpe3par_password', '[backend9].hpe3par_password'] },
    default_san: { uses: ['[DEFAULT].san_password'] },
    'second-array': { uses: ['[3par2].hpe3par_password'] },
    'remote.array': { uses: ['[3par2].replication_device.hpe3par_password'] },
  },
};

/** Where each shared password sits in twoBackendConfig, and what replaces it. */
const rewrites: [string, string][] = [
  [`hpe3par_password = ${testPasswords.defaultArray}`, 'hpe3par_password = $secret{default.array}'],
  [`san_password=${testPasswords.defaultSan}`, 'san_password=$secret{default_san}'],
  [`hpe3par_password:   ${testPasswords.secondArray}`, 'hpe3par_password:   $secret{second-array}'],
  [`hpe3par_password:${testPasswords.remoteArray}`, 'hpe3par_password:$secret{remote.array}'],
];

function rewritten(text: string): string {
  let out = text;
  for (const [from, to] of rewrites) {
    assert.ok(out.includes(from), from);
    out = out.replace(from, to);
  }
  return out;
}

function hostConfig(etcd: EtcdCluster, extra = ''): string {
  return twoBackendConfig('127.0.0.1', etcd.endpoints[0]!.port, testPasswords, arrays) + extra;
}

async function host(name: string, text: string) {
  const file = await dir.file(name, text);
  return { file, env: { ...noDocker, HPEDOCKERPLUGIN_CONFIG: file } };
}

async function sync(env: NodeJS.ProcessEnv, args: string[], stdin = '') {
  return runCli('encryptor', ['secret', 'sync', ...args], { env, stdin, transcript });
}

let syncPath: string;

async function versionsOf(client: EtcdClient): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [key, rec] of await client.getPrefix('/secrets/')) out[key] = (JSON.parse(rec.value) as { versions: unknown[] }).versions.length;
  return out;
}

const seenKeys = new Set<string>();
async function noteClusterKey(client: EtcdClient): Promise<void> {
  const raw = (await client.get('/secrets-key'))?.value;
  if (raw !== undefined) seenKeys.add((JSON.parse(raw) as { key: string }).key);
}

async function clearSecrets(client: EtcdClient): Promise<void> {
  for (const key of (await client.getPrefix('/secrets')).keys()) await client.delete(`/secrets${key}`);
}

/** What the plugin would read: each shared name resolves to its password. */
async function assertSharedValues(client: EtcdClient): Promise<void> {
  const named = await loadNamedSecrets(client);
  for (const [name, value] of Object.entries(shared)) assert.equal(resolveNamedSecret(named, name) === value, true, `secret ${name} holds its password`);
}

before(async () => {
  prod = await startEtcd({ members: 1 });
  staging = await startEtcd({ members: 1 });
  prodClient = await createEtcdClient({ endpoints: prod.endpoints });
  stagingClient = await createEtcdClient({ endpoints: staging.endpoints });
  dir = await tempDir('hpe-sync-');
  const sim = async (password: string) => {
    const s = await startSimulator({ listen: { host: '127.0.0.1', port: 0 }, stateDir: `${dir.path}/sim-${simulators.length}`, users: { '3paradm': password } });
    simulators.push(s);
    return s.apiUrl;
  };
  arrays = { default: await sim(testPasswords.defaultArray), second: await sim(testPasswords.secondArray), remote: await sim(testPasswords.remoteArray) };
  syncPath = await dir.file('secrets.json', `${JSON.stringify(syncFile, null, 2)}\n`);
});

after(async () => {
  for (const s of simulators) await s.stop();
  prodClient?.close();
  stagingClient?.close();
  await prod?.stop();
  await staging?.stop();
  await dir?.remove();
});

describe('hpe3parencryptor secret sync', () => {
  test('--dry-run prints the plan, asks for nothing and writes nothing', async () => {
    const text = hostConfig(prod);
    const { file, env } = await host('dry.conf', text);
    const r = await sync(env, ['--file', syncPath, '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      [
        'would create secret default.array from [DEFAULT].hpe3par_password (line 8)',
        'would create secret default_san from [DEFAULT].san_password (line 11)',
        'would create secret second-array from [3par2].hpe3par_password (line 20)',
        'would create secret remote.array from [3par2].replication_device.hpe3par_password (line 29)',
        'would rewrite [DEFAULT].hpe3par_password (line 8) to $secret{default.array}',
        'would rewrite [DEFAULT].san_password (line 11) to $secret{default_san}',
        'would rewrite [3par2].hpe3par_password (line 20) to $secret{second-array}',
        'would rewrite [3par2].replication_device.hpe3par_password (line 29) to $secret{remote.array}',
        'dry run: nothing was written',
        '',
      ].join('\n'),
    );
    assert.match(r.stderr, new RegExp(`^note: skipped \\[backend9\\]\\.hpe3par_password \\(secret default\\.array\\): ${file.replace(/[.]/g, '\\.')} has no \\[backend9\\] section$`, 'm'));
    assert.equal(await readFile(file, 'utf8'), text);
    assert.equal((await prodClient.getPrefix('/secrets')).size, 0);
  });

  test('host 1: creates each secret from the password hpe.conf holds, rewrites the options byte-exact, check passes; a rerun changes nothing', async () => {
    const text = hostConfig(prod);
    const { file, env } = await host('host1.conf', text);
    const r = await sync(env, ['--file', syncPath, '--passphrase-file', '-'], `${passphrase}\n`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^created secret default\.array version 1 \(key [0-9a-f]{8}\) from \[DEFAULT\]\.hpe3par_password \(line 8\)$/m);
    assert.match(r.stdout, /^created secret remote\.array version 1 \(key [0-9a-f]{8}\) from \[3par2\]\.replication_device\.hpe3par_password \(line 29\)$/m);
    assert.match(r.stdout, /^rewrote \[3par2\]\.replication_device\.hpe3par_password \(line 29\) to \$secret\{remote\.array\}$/m);
    assert.equal(r.stdout.split('\n').filter((l) => l.startsWith('rewrote ')).length, 4);
    assert.match(r.stdout, new RegExp(`^wrote ${file}\n$`, 'm'));
    assert.match(r.stderr, /^created the cluster secrets key [0-9a-f]{8} at \/secrets-key$/m);
    assert.equal(await readFile(file, 'utf8'), rewritten(text), 'every byte but the four values is kept');
    await noteClusterKey(prodClient);
    await assertSharedValues(prodClient);

    const check = await runCli('plugin', ['check'], { env, transcript });
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /^ok   array \[3par2\] replication target remote3par: .*login ok/m);

    const versions = await versionsOf(prodClient);
    const again = await sync(env, ['--file', syncPath]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, 'nothing to change\n');
    assert.equal(await readFile(file, 'utf8'), rewritten(text));
    assert.deepEqual(await versionsOf(prodClient), versions, 'no secret got a new version');
  });

  test('host 2, same etcd: the secrets exist, so only its options are rewritten (CRLF and comments kept), with no passphrase', async () => {
    const text = `${hostConfig(prod).replace(/\n/g, '\r\n')}# host 2\r\n`;
    const { file, env } = await host('host2.conf', text);
    const versions = await versionsOf(prodClient);
    const r = await sync(env, ['--file', syncPath]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      r.stdout.trim().split('\n'),
      [
        'rewrote [DEFAULT].hpe3par_password (line 8) to $secret{default.array}',
        'rewrote [DEFAULT].san_password (line 11) to $secret{default_san}',
        'rewrote [3par2].hpe3par_password (line 20) to $secret{second-array}',
        'rewrote [3par2].replication_device.hpe3par_password (line 29) to $secret{remote.array}',
        `wrote ${file}`,
      ],
    );
    assert.equal(await readFile(file, 'utf8'), rewritten(text));
    assert.deepEqual(await versionsOf(prodClient), versions);
    assert.equal((await runCli('plugin', ['check'], { env, transcript })).code, 0);
    assert.equal((await sync(env, ['--file', syncPath])).stdout, 'nothing to change\n');
  });

  test('another environment (its own etcd): the same file creates the secrets there; an hpe.conf already naming them gets the values asked for', async () => {
    const { file, env } = await host('staging.conf', hostConfig(staging));
    const r = await sync(env, ['--file', syncPath, '--json', '--passphrase-file', '-'], `${passphrase}\n`);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { changed: boolean; create: { name: string; from: { use: string } }[]; rewrite: unknown[]; skipped: unknown[] };
    assert.equal(out.changed, true);
    assert.deepEqual(out.create.map((c) => [c.name, c.from.use]), [
      ['default.array', '[DEFAULT].hpe3par_password'],
      ['default_san', '[DEFAULT].san_password'],
      ['second-array', '[3par2].hpe3par_password'],
      ['remote.array', '[3par2].replication_device.hpe3par_password'],
    ]);
    assert.equal(out.rewrite.length, 4);
    assert.deepEqual(out.skipped, [{ name: 'default.array', use: '[backend9].hpe3par_password', why: `${file} has no [backend9] section` }]);
    await noteClusterKey(stagingClient);
    await assertSharedValues(stagingClient);
    assert.equal((await runCli('plugin', ['check'], { env, transcript })).code, 0);

    // A rebuilt staging etcd: hpe.conf already names the secrets, so their values are asked for (standard input here).
    await clearSecrets(stagingClient);
    const without = await sync(env, ['--file', syncPath, '--passphrase-file', '-']);
    assert.equal(without.code, 2);
    assert.match(without.stderr, /^ERROR: no cluster secrets passphrase on standard input$/m);
    const planned = await sync(env, ['--file', syncPath, '--dry-run']);
    assert.match(planned.stdout, /^would create secret remote\.array \(its value will be asked for\)$/m);
    assert.doesNotMatch(planned.stdout, /would rewrite/);
    const values = Object.values(shared).join('\n');
    const asked = await sync(env, ['--file', syncPath, '--passphrase-file', '-', '--value-file', '-'], `${passphrase}\n${values}\n`);
    assert.equal(asked.code, 0, asked.stderr);
    assert.match(asked.stdout, /^created secret default_san version 1 \(key [0-9a-f]{8}\) from the value given$/m);
    assert.doesNotMatch(asked.stdout, /rewrote|wrote /);
    await noteClusterKey(stagingClient);
    await assertSharedValues(stagingClient);
    assert.equal((await runCli('plugin', ['check'], { env, transcript })).code, 0);
  });

  test('an encrypted (enc:v1) password is the natural source: it is decrypted with its backend key and moved to the shared secret', async () => {
    await clearSecrets(stagingClient);
    const { file, env } = await host('encrypted.conf', hostConfig(staging));
    const enc = await runCli('encryptor', ['encrypt-config', '--backend', 'DEFAULT', '-'], { env, stdin: `${backendPassphrase}\n${backendPassphrase}\n`, transcript });
    assert.equal(enc.code, 0, enc.stderr);
    const before = await readFile(file, 'utf8');
    assert.match(before, /hpe3par_password = enc:v1:/);
    const r = await sync(env, ['--file', syncPath, '--passphrase-file', '-'], `${passphrase}\n`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^created secret default\.array version 1 .* from \[DEFAULT\]\.hpe3par_password \(line 8\)$/m);
    await assertSharedValues(stagingClient);
    const after = await readFile(file, 'utf8');
    assert.doesNotMatch(after, /enc:v1:/);
    assert.equal((await runCli('plugin', ['check'], { env, transcript })).code, 0);
  });

  test('a crash between creating the secrets and rewriting hpe.conf: a rerun only rewrites', async () => {
    await clearSecrets(stagingClient);
    const text = hostConfig(staging);
    const { file, env } = await host('crash.conf', text);
    const config = await loadConfig(file);
    const plan = await planSync(parseSyncFile(JSON.stringify(syncFile), 'secrets.json'), config, await loadSyncState(stagingClient));
    await assert.rejects(
      applySync(stagingClient, plan, passphrase, new Map(), {
        afterStep: (step) => {
          if (step === 'secrets-created') throw new Error('simulated crash');
        },
      }),
      /simulated crash/,
    );
    assert.equal(await readFile(file, 'utf8'), text);
    await assertSharedValues(stagingClient);
    await noteClusterKey(stagingClient);
    const r = await sync(env, ['--file', syncPath]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /created/);
    assert.equal(r.stdout.split('\n').filter((l) => l.startsWith('rewrote ')).length, 4);
    assert.equal(await readFile(file, 'utf8'), rewritten(text));
  });

  test('refused, writing nothing: uses that disagree (named, values never shown), an unknown option (located), --strict with a missing backend', async () => {
    await clearSecrets(stagingClient);
    const text = hostConfig(staging).replace(`hpe3par_password:   ${testPasswords.secondArray}`, `hpe3par_password:   ${otherValue}`);
    const { file, env } = await host('disagree.conf', text);
    const both = await dir.file('both.json', JSON.stringify({ version: 1, secrets: { array: { uses: ['[DEFAULT].hpe3par_password', '[3par2].hpe3par_password'] } } }));
    const r = await sync(env, ['--file', both, '--passphrase-file', '-'], `${passphrase}\n`);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(
      r.stderr,
      /^ERROR: secret array would take its value from hpe\.conf, but \[DEFAULT\]\.hpe3par_password \(line 8\) and \[3par2\]\.hpe3par_password \(line 20\) hold different passwords; nothing was written$/m,
    );
    assert.match(r.stderr, /^Fix: make them hold the same password, .*secret put array`$/m);
    assert.equal(await readFile(file, 'utf8'), text);
    assert.equal((await stagingClient.getPrefix('/secrets')).size, 0);

    const typo = await dir.file('typo.json', JSON.stringify({ version: 1, secrets: { array: { uses: ['[DEFAULT].hpe3par_password', '[3par2].replication_device.hpe3par_pasword'] } } }, null, 2));
    const t = await sync(env, ['--file', typo]);
    assert.equal(t.code, 1);
    assert.match(t.stderr, new RegExp(`^ERROR: ${typo.replace(/[.]/g, '\\.')}: secrets\\.array\\.uses\\[1\\] names option replication_device\\.hpe3par_pasword, which is not a password option$`, 'm'));
    assert.match(t.stderr, /^Fix: use one of hpe3par_password, san_password, replication_device\.hpe3par_password, replication_device\.san_password, san_private_key_passphrase$/m);

    const strict = await sync(env, ['--file', syncPath, '--strict', '--passphrase-file', '-'], `${passphrase}\n`);
    assert.equal(strict.code, 1);
    assert.match(strict.stderr, /says \[backend9\]\.hpe3par_password uses secret default\.array, but .* has no \[backend9\] section; nothing was written$/m);
    assert.match(strict.stderr, /^Fix: add it to .*, or run without --strict to skip it$/m);
    assert.equal(await readFile(file, 'utf8'), text);
    assert.equal((await stagingClient.getPrefix('/secrets')).size, 0);

    const misuse = await runCli('encryptor', ['secret', 'put', 'x', '--dry-run'], { env, transcript });
    assert.equal(misuse.code, 2);
    assert.match(misuse.stderr, /--dry-run is only for `secret sync`/);
    const noFile = await sync(env, []);
    assert.equal(noFile.code, 2);
    assert.match(noFile.stderr, /^ERROR: secret sync needs --file FILE$/m);
  });
});

describe('secret sync never leaks', () => {
  test('no password, passphrase or cluster key appeared in any output', async () => {
    assert.ok(transcript.runs.length >= 20, `the transcript covers the runs above (${transcript.runs.length})`);
    assert.ok(seenKeys.size >= 3, `cluster keys of both environments are checked (${seenKeys.size})`);
    const keys = Object.fromEntries([...seenKeys].map((k, i) => [`cluster key #${i}`, k]));
    assert.deepEqual(transcript.leaked({ ...testPasswords, passphrase, backendPassphrase, otherValue, ...keys }), []);
  });
});
