/**
 * host_etcd_prefix and etcd authentication against a real etcd: two plugin clusters on one etcd do not see each
 * other; with auth on, the plugin's role serves volumes and reads key records but may not write key records or
 * secrets, which the admin's role can (by password and by certificate CN); `etcd-roles` prints and applies the
 * roles; `check` says why an identity is refused; a role that lacks a grant is named, with the key and the fix, by
 * whatever was refused (client, volume store, intents, locks).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { HostConfig } from '../../src/config/index.js';
import { createEtcdClient, listPrefix, prefixRangeEnd, readAllKeyRecords, readNamedSecretRecords, type Etcd3Client } from '../../src/etcd/index.js';
import { EtcdError } from '../../src/errors.js';
import { resolveEtcdPassword } from '../../src/secrets/index.js';
import { arrayVolumeName, EtcdLocks, LockError, newVolumeId, volumeLock, VolumeStore, VolumeStoreError, type VolumeManager, type VolumeRecord } from '../../src/volumes/index.js';
import { IntentStore } from '../../src/volumes/store/intents.js';
import { NodePresence } from '../../src/volumes/store/presence.js';
import { EtcdSession } from '../../src/volumes/store/session.js';
import { waitFor } from '../../src/clock.js';
import type { Logger } from '../../src/log.js';
import { runCli, Transcript } from '../support/cli.js';
import { noArrays, tempDir, testPasswords, twoBackendConfig, type TempDir } from '../support/configs.js';
import { enableEtcdAuth, etcdctl, expectEtcdError, issueClientCert, startEtcd, tlsCfg, type EtcdCluster } from '../support/etcd.js';
import { buildConfig, clearArray, managerFor, pluginVolumes, settled, startVolumeEnv, type VolumeEnv } from '../fixtures/volume-env.js';

const passphrase = 'correct horse battery staple';
const ROOT_PASSWORD = 'Root-Etcd-Pw-81';
const PLUGIN_PASSWORD = 'Plugin-Etcd-Pw-82';
const ADMIN_PASSWORD = 'Admin-Etcd-Pw-83';
const NARROW_PASSWORD = 'Narrow-Etcd-Pw-84';
const noDocker = { DOCKER_HOST: 'unix:///nonexistent/docker.sock' };
const transcript = new Transcript();

let env: VolumeEnv;
let dir: TempDir;
/** Sees the whole keyspace (no prefix, no auth until auth is on; then root). */
let whole: Etcd3Client;
const closers: (() => Promise<void> | void)[] = [];

before(async () => {
  env = await startVolumeEnv();
  dir = await tempDir('etcd-auth-');
  whole = await createEtcdClient({ endpoints: env.etcd.endpoints });
});

after(async () => {
  for (const close of closers.reverse()) await close();
  whole?.close();
  await env?.stop();
  await dir?.remove();
  const leaked = transcript.leaked({ root: ROOT_PASSWORD, plugin: PLUGIN_PASSWORD, admin: ADMIN_PASSWORD, passphrase });
  assert.deepEqual(leaked, [], 'a CLI printed a password');
  const logs = env?.logLines.join('') ?? '';
  for (const secret of [ROOT_PASSWORD, PLUGIN_PASSWORD, ADMIN_PASSWORD, NARROW_PASSWORD]) assert.ok(!logs.includes(secret), 'a log line contains an etcd password');
});

/** hpe.conf for the CLIs (two backends; arrays nowhere), with `defaults` added to [DEFAULT]. */
async function cliConfig(name: string, defaults: string): Promise<{ file: string; env: NodeJS.ProcessEnv }> {
  const ep = env.etcd.endpoints[0]!;
  const text = twoBackendConfig(ep.host, ep.port, testPasswords, noArrays).replace('[DEFAULT]\n', `[DEFAULT]\n${defaults}`);
  const file = await dir.file(name, text);
  return { file, env: { ...noDocker, HPEDOCKERPLUGIN_CONFIG: file } };
}

/** A plugin host's view: its etcd client (the volume env's etcd with `etcd` set) and volume manager. */
async function pluginHost(etcd: Partial<HostConfig['etcd']>): Promise<{ client: Etcd3Client; manager: VolumeManager }> {
  const { config } = buildConfig(env, { noReplication: true });
  const host = { ...config.host, etcd: { ...config.host.etcd, ...etcd } };
  const client = await createEtcdClient(host.etcd, { password: await resolveEtcdPassword({ file: config.file, host }) });
  const manager = managerFor(env, { noReplication: true }, { etcd: client });
  closers.push(() => client.close(), () => manager.close());
  await settled(manager);
  return { client, manager };
}

async function allKeys(): Promise<string[]> {
  return [...(await whole.getPrefix('')).keys()];
}

describe('host_etcd_prefix, auth off', () => {
  test('two plugin clusters with different prefixes on one etcd see neither the other\'s volumes nor its key records', async () => {
    const a = await pluginHost({ prefix: '/cluster-a' });
    const b = await pluginHost({ prefix: '/cluster-b' });
    await a.manager.create('shared-name', undefined);
    assert.deepEqual((await a.manager.list()).map((v) => v.Name), ['shared-name']);
    assert.deepEqual(await b.manager.list(), [], 'cluster b lists no volume of cluster a');
    assert.equal(await b.manager.get('shared-name'), undefined);
    const raw = a.client.raw;
    const txn = await raw.if('/volumes/none', 'Create', '==', 0).then(raw.getAll().prefix('/volume-names/')).commit();
    const read = txn.responses[0]?.response_range?.kvs.map((kv) => kv.key.toString('utf8'));
    assert.deepEqual(read, ['/volume-names/shared-name'], 'a transaction through raw reads keys without the prefix too');
    await b.manager.create('shared-name', undefined);
    assert.equal((await pluginVolumes(env.primary)).length, 2, 'two array volumes: one per cluster');

    const encA = await cliConfig('a.conf', 'host_etcd_prefix = /cluster-a\n');
    const r = await runCli('encryptor', ['-a', '-', '-'], { env: encA.env, stdin: `${passphrase}\n${testPasswords.defaultArray}\n`, transcript });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /at \/cluster-a\/backend\/DEFAULT/);
    const noKey = await runCli('encryptor', ['rotate', '--backend', '3par2', '--passphrase-file', '-'], { env: encA.env, stdin: `${passphrase}\n`, transcript });
    assert.equal(noKey.code, 1, noKey.stderr);
    assert.match(noKey.stderr, /backend 3par2 has no key at \/cluster-a\/backend\/3par2, so there is nothing to rotate/, 'messages name the key with the prefix');
    assert.ok(await whole.get('/cluster-a/backend/DEFAULT'), 'the key record is under the prefix');
    assert.equal(await whole.get('/backend/DEFAULT'), undefined, 'nothing at upstream\'s path');
    assert.deepEqual([...(await readAllKeyRecords(a.client)).keys()], ['DEFAULT']);
    assert.deepEqual([...(await readAllKeyRecords(b.client)).keys()], [], 'cluster b reads no key record of cluster a');

    const outside = (await allKeys()).filter((k) => !k.startsWith('/cluster-a/') && !k.startsWith('/cluster-b/'));
    assert.deepEqual(outside, [], 'every key (records, names, locks, nodes, intents) is under a prefix');

    await a.manager.remove('shared-name');
    assert.deepEqual(await a.manager.list(), []);
    assert.deepEqual((await b.manager.list()).map((v) => v.Name), ['shared-name'], 'removing in a leaves b\'s volume');
    await b.manager.remove('shared-name');
    await clearArray(env.primary);
  });

  test('a prefix that does not start with / or ends with / is a located config error', async () => {
    for (const [value, problem] of [
      ['cluster-a', /\[DEFAULT\]\.host_etcd_prefix.*must start with \//],
      ['/cluster-a/', /\[DEFAULT\]\.host_etcd_prefix.*must not end with \//],
    ] as const) {
      const { env: cliEnv } = await cliConfig(`bad-prefix-${value.length}.conf`, `host_etcd_prefix = ${value}\n`);
      const r = await runCli('plugin', ['etcd-roles'], { env: cliEnv, transcript });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, problem);
      assert.match(r.stderr, /\/hpe-cluster-a/, 'the fix shows a valid prefix');
    }
  });
});

describe('etcd auth by user and password', () => {
  let pluginFile: string;
  let adminFile: string;

  before(async () => {
    pluginFile = await dir.file('plugin-etcd-password', `${PLUGIN_PASSWORD}\n`);
    adminFile = await dir.file('admin-etcd-password', `${ADMIN_PASSWORD}\n`);
  });

  test('etcd-roles prints the etcdctl lines for the prefix, without any password', async () => {
    const { env: cliEnv } = await cliConfig('roles.conf', 'host_etcd_prefix = /cluster-a\n');
    const r = await runCli('plugin', ['etcd-roles'], { env: cliEnv, transcript });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    for (const expected of [
      'etcdctl role add hpe-plugin-cluster-a',
      'etcdctl role grant-permission hpe-plugin-cluster-a read /cluster-a/backend/ --prefix=true',
      'etcdctl role grant-permission hpe-plugin-cluster-a read /cluster-a/secrets --prefix=true',
      'etcdctl role grant-permission hpe-plugin-cluster-a readwrite /cluster-a/volumes/ --prefix=true',
      'etcdctl role grant-permission hpe-plugin-cluster-a readwrite /cluster-a/_locks/ --prefix=true',
      'etcdctl role add hpe-admin-cluster-a',
      'etcdctl role grant-permission hpe-admin-cluster-a readwrite /cluster-a/ --prefix=true',
      'etcdctl user grant-role hpe-plugin-cluster-a hpe-plugin-cluster-a',
    ]) {
      assert.ok(lines.includes(expected), `missing line: ${expected}\n${r.stdout}`);
    }
    assert.ok(!lines.some((l) => /^etcdctl .*(:\S*pw|--new-user-password)/i.test(l)), 'no password in the commands');
  });

  test('--apply creates the roles and users as root, and a second run changes nothing', async () => {
    const { env: cliEnv } = await cliConfig('apply.conf', 'host_etcd_prefix = /cluster-a\n');
    const first = await runCli('plugin', ['etcd-roles', '--apply'], { env: cliEnv, transcript });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /role hpe-plugin-cluster-a: created/);
    assert.match(first.stdout, /role hpe-plugin-cluster-a: read \/cluster-a\/backend\/ \(prefix\): granted/);
    assert.match(first.stdout, /user hpe-admin-cluster-a: created \(certificate CN auth works now; for password auth set its password with `etcdctl user passwd hpe-admin-cluster-a`\)/);
    const second = await runCli('plugin', ['etcd-roles', '--apply'], { env: cliEnv, transcript });
    assert.equal(second.code, 0, second.stderr);
    assert.doesNotMatch(second.stdout, /: created|: granted$/m);
    assert.match(second.stdout, /role hpe-plugin-cluster-a: exists/);
    assert.match(second.stdout, /readwrite \/cluster-a\/volumes\/ \(prefix\): granted already/);
    assert.match(second.stdout, /user hpe-plugin-cluster-a: role hpe-plugin-cluster-a held already/);
    const perms = await etcdctl(env.etcd, ['role', 'get', 'hpe-plugin-cluster-a']);
    assert.match(perms, /\[\/cluster-a\/backend\/, \/cluster-a\/backend0\)/);

    // The admin gives the users their passwords, then turns authentication on.
    await whole.root.user('hpe-plugin-cluster-a').setPassword(PLUGIN_PASSWORD);
    await whole.root.user('hpe-admin-cluster-a').setPassword(ADMIN_PASSWORD);
    whole.close();
    await enableEtcdAuth(env.etcd, ROOT_PASSWORD);
    whole = await createEtcdClient({ endpoints: env.etcd.endpoints, user: 'root', password: { raw: '$env{ROOT}', line: 1 } }, { password: ROOT_PASSWORD });
  });

  test('the plugin\'s role serves volumes and reads key records, but may not write a key record or a secret', async () => {
    const plugin = await pluginHost({ prefix: '/cluster-a', user: 'hpe-plugin-cluster-a', password: { raw: `$file{${pluginFile}}`, line: 1 } });
    assert.equal(plugin.client.readsViaGateway, false, 'reads go over gRPC with a user and password');
    await plugin.manager.create('authed', undefined);
    assert.deepEqual((await plugin.manager.list()).map((v) => v.Name), ['authed']);
    await plugin.manager.remove('authed');
    assert.deepEqual(await plugin.manager.list(), []);
    assert.deepEqual([...(await readAllKeyRecords(plugin.client)).keys()], ['DEFAULT'], 'reads the key record the admin wrote');
    // The named secrets and their key are read (and watched) in one range read of /secrets.
    await whole.put('/cluster-a/secrets/s1', 'a record');
    assert.deepEqual([...(await readNamedSecretRecords(plugin.client)).secrets.keys()], ['s1'], 'reads the named secrets in one range');
    await whole.delete('/cluster-a/secrets/s1');

    for (const key of ['/backend/x', '/secrets/x', '/secrets-key']) {
      const { err } = await expectEtcdError(() => plugin.client.putIfAbsent(key, 'forged'), 'permission');
      assert.match(err.message, new RegExp(`etcd user hpe-plugin-cluster-a \\(host_etcd_user\\) may not do writing /cluster-a${key}`));
      assert.match(err.fix, /write them as the admin/);
      assert.match(err.fix, /hpedockerplugin etcd-roles/);
      assert.equal(err.retryable, false);
    }
    assert.equal(await whole.get('/cluster-a/backend/x'), undefined);

    // A listing (what a prefix watch starts with) is explained as a read is.
    const { err: listed } = await expectEtcdError(() => listPrefix(plugin.client, '/elsewhere/'), 'permission');
    assert.match(listed.message, /etcd user hpe-plugin-cluster-a \(host_etcd_user\) may not do reading \/cluster-a\/elsewhere\/\*/);
    assert.match(listed.fix, /the role of etcd user hpe-plugin-cluster-a \(host_etcd_user\) lacks a grant for this key: compare it with `hpedockerplugin etcd-roles`/);
  });

  test('a role that lacks a grant: the volume store, the intents and the locks say who was refused which key, and the fix', async () => {
    // A role narrower than etcd-roles' plugin role: the volume records, but not the name index, intents or locks.
    const auth = whole.root.auth;
    await auth.roleAdd({ name: 'hpe-narrow' });
    const volumes = Buffer.from('/cluster-a/volumes/');
    await auth.roleGrantPermission({ name: 'hpe-narrow', perm: { permType: 'Readwrite', key: volumes, range_end: prefixRangeEnd(volumes) } });
    await auth.userAdd({ name: 'hpe-narrow', password: NARROW_PASSWORD });
    await auth.userGrantRole({ user: 'hpe-narrow', role: 'hpe-narrow' });
    const narrow = await createEtcdClient(
      { endpoints: env.etcd.endpoints, prefix: '/cluster-a', user: 'hpe-narrow', password: { raw: '$env{NARROW}', line: 1 } },
      { password: NARROW_PASSWORD },
    );
    closers.push(() => narrow.close());
    const who = 'etcd user hpe-narrow \\(host_etcd_user\\)';
    const lacksGrant = new RegExp(`^the role of ${who} lacks a grant for this key: compare it with \`hpedockerplugin etcd-roles\` \\(--apply adds what is missing\\)$`);
    const refused = (prefix: string, what: string, ErrorClass: typeof VolumeStoreError | typeof LockError) => (e: unknown) => {
      assert.ok(e instanceof ErrorClass, String(e));
      assert.match(e.message, new RegExp(`^${prefix}: etcd [^ ]+: permission: ${who} may not do ${what}: `));
      assert.match(e.fix, lacksGrant);
      assert.equal(e.retryable, false);
      return true;
    };

    const store = new VolumeStore(narrow);
    assert.equal(await store.getById(newVolumeId()), undefined, 'what the role grants is read');
    await assert.rejects(store.getByName('narrow-vol'), refused('ETCD data read failed: narrow-vol', 'reading /cluster-a/volume-names/narrow-vol', VolumeStoreError));
    await assert.rejects(store.listByName(), refused('ETCD volume list failed', 'reading /cluster-a/volume-names/\\*', VolumeStoreError));
    const id = newVolumeId();
    const record = {
      id, name: id, display_name: 'narrow-vol', '3par_vol_name': arrayVolumeName(id, false), backend: 'DEFAULT', size: 1,
      provisioning: 'thin', flash_cache: null, compression: null, qos_name: null, mount_conflict_delay: 30, cpg: null, snap_cpg: null,
      is_snap: false, snapshots: [], snap_metadata: null, has_schedule: false, rcg_info: null, fsOwner: null, fsMode: null,
      Options: null, path_info: null, created: new Date().toISOString(),
    } satisfies VolumeRecord;
    await assert.rejects(
      store.create(record),
      refused('ETCD data save failed: narrow-vol', `writing /cluster-a/volume-names/narrow-vol and /cluster-a/volumes/${id}`, VolumeStoreError),
    );

    const intent = { op: 'create', flow: 'volume', id, name: 'narrow-vol', backend: 'DEFAULT', arrayName: record['3par_vol_name'], v: 1, node: 'n1', started: record.created } as const;
    await assert.rejects(new IntentStore(narrow).write(intent), refused('ETCD data save failed: narrow-vol', `writing /cluster-a/volume-intents/${id}`, VolumeStoreError));

    const locks = new EtcdLocks(narrow, { waitMs: 1000 });
    closers.push(() => locks.close());
    await assert.rejects(locks.acquire(volumeLock('narrow-vol')), refused('ETCD lock failed: volume narrow-vol', 'writing /cluster-a/_locks/volume/narrow-vol/\\*', LockError));

    // Node presence retries in the background: its log line says who was refused which key, and the fix.
    const warnings: { fields: Record<string, unknown>; msg: string }[] = [];
    const logger = { warn: (fields: Record<string, unknown>, msg: string) => warnings.push({ fields, msg }), info: () => undefined } as unknown as Logger;
    const session = new EtcdSession(narrow, { owner: 'narrow', ttlSeconds: 2 });
    const presence = new NodePresence(narrow, 'narrow-node', { session, logger });
    presence.start();
    try {
      await waitFor('the presence refusal logged', () => warnings.length > 0);
    } finally {
      await presence.stop();
      await session.close();
    }
    assert.equal(warnings[0]!.msg, "could not announce this node's presence in etcd; retrying");
    assert.match(String(warnings[0]!.fields['err']), new RegExp(`permission: ${who} may not do writing /cluster-a/nodes/narrow-node`));
    assert.match(String(warnings[0]!.fields['fix']), lacksGrant);
    assert.deepEqual((await allKeys()).filter((k) => k.includes('narrow-vol') || k.includes(id)), [], 'nothing was written');
  });

  test('the encryptor with the admin\'s identity writes a key record; with the plugin\'s it is refused', async () => {
    const admin = await cliConfig('admin.conf', `host_etcd_prefix = /cluster-a\nhost_etcd_user = hpe-admin-cluster-a\nhost_etcd_password = $file{${adminFile}}\n`);
    const ok = await runCli('encryptor', ['-a', '-', '-', '--backend', '3par2'], { env: admin.env, stdin: `${passphrase}\n${testPasswords.secondArray}\n`, transcript });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^SUCCESSFUL: Encrypted password: enc:v1:/);
    assert.ok(await whole.get('/cluster-a/backend/3par2'));

    const asPlugin = await cliConfig('as-plugin.conf', `host_etcd_prefix = /cluster-a\nhost_etcd_user = hpe-plugin-cluster-a\nhost_etcd_password = $env{PLUGIN_ETCD_PW}\n`);
    const refused = await runCli('encryptor', ['-d', '--backend', '3par2', '--force'], { env: { ...asPlugin.env, PLUGIN_ETCD_PW: PLUGIN_PASSWORD }, transcript });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /ERROR: etcd .*: permission: etcd user hpe-plugin-cluster-a \(host_etcd_user\) may not do writing \/cluster-a\/backend\/3par2/);
    assert.match(refused.stderr, /Fix: .*etcd-roles/);
    assert.ok(await whole.get('/cluster-a/backend/3par2'), 'the record is still there');
  });

  test('check reports a wrong password, an unknown user and a missing password variable, each with its fix', async () => {
    const wrongFile = await dir.file('wrong-etcd-password', 'not-the-password\n');
    const cases = [
      { name: 'wrong', lines: `host_etcd_user = hpe-plugin-cluster-a\nhost_etcd_password = $file{${wrongFile}}\n`, extra: {}, detail: /auth: etcd user hpe-plugin-cluster-a \(host_etcd_user\): authentication failed/, fix: /etcdctl user passwd hpe-plugin-cluster-a/ },
      { name: 'unknown', lines: `host_etcd_user = nobody\nhost_etcd_password = $file{${pluginFile}}\n`, extra: {}, detail: /auth: etcd user nobody \(host_etcd_user\): authentication failed/, fix: /etcd must have user nobody/ },
      { name: 'unset', lines: `host_etcd_user = hpe-plugin-cluster-a\nhost_etcd_password = $env{NOT_SET_HERE}\n`, extra: {}, detail: /host_etcd_password: names environment variable NOT_SET_HERE, which is not set/, fix: /set NOT_SET_HERE/ },
    ];
    for (const c of cases) {
      const { env: cliEnv } = await cliConfig(`check-${c.name}.conf`, `host_etcd_prefix = /cluster-a\n${c.lines}`);
      const r = await runCli('plugin', ['check', '--state', dir.path], { env: { ...cliEnv, ...c.extra }, transcript });
      assert.equal(r.code, 1, `${c.name}: ${r.stdout}${r.stderr}`);
      const line = r.stdout.split('\n').find((l) => l.startsWith('FAIL') && c.detail.test(l));
      assert.ok(line, `${c.name}: no FAIL line matching ${c.detail}\n${r.stdout}`);
      assert.match(line, c.fix);
    }
  });

  test('check says where and as whom it read the key records', async () => {
    const { env: cliEnv } = await cliConfig('check-ok.conf', `host_etcd_prefix = /cluster-a\nhost_etcd_user = hpe-plugin-cluster-a\nhost_etcd_password = $file{${pluginFile}}\n`);
    const r = await runCli('plugin', ['check', '--state', dir.path], { env: cliEnv, transcript });
    assert.match(r.stdout, /^ok +etcd key records: 2 read in one request under \/cluster-a as etcd user hpe-plugin-cluster-a$/m, r.stdout);
  });

  test('a plain host_etcd_password is refused with where and how to write it', async () => {
    const { env: cliEnv } = await cliConfig('plain.conf', `host_etcd_user = hpe-plugin-cluster-a\nhost_etcd_password = ${PLUGIN_PASSWORD}\n`);
    const r = await runCli('plugin', ['check', '--state', dir.path], { env: cliEnv, transcript });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /\[DEFAULT\]\.host_etcd_password.*is written in plain text/);
    assert.match(r.stdout, /\$file\{\/etc\/hpedockerplugin\/etcd-password\}/);
  });
});

describe('etcd auth by certificate CN', () => {
  let cluster: EtcdCluster;

  before(async () => {
    cluster = await startEtcd({ members: 1, tls: true });
    closers.push(() => cluster.stop());
  });

  test('etcd-roles --apply as CN root, then the plugin\'s certificate serves its keys and the admin\'s writes key records', async () => {
    const certs = cluster.certs!;
    const ep = cluster.endpoints[0]!;
    const tls = `host_etcd_client_cert = ${certs.clientCert}\nhost_etcd_client_key = ${certs.clientKey}\nhost_etcd_ca_cert = ${certs.ca}\n`;
    const rootConf = await dir.file('cn-root.conf', twoBackendConfig(ep.host, ep.port).replace('[DEFAULT]\n', `[DEFAULT]\n${tls}`));
    await enableEtcdAuth(cluster, ROOT_PASSWORD);
    const applied = await runCli('plugin', ['etcd-roles', '--apply', '--plugin-user', 'plugin-host', '--admin-user', 'storage-admin'], {
      env: { ...noDocker, HPEDOCKERPLUGIN_CONFIG: rootConf },
      transcript,
    });
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /user plugin-host: role hpe-plugin granted/);

    const pluginCert = await issueClientCert(certs, 'plugin-host');
    const adminCert = await issueClientCert(certs, 'storage-admin');
    const plugin = await createEtcdClient(tlsCfg(cluster, { clientCert: pluginCert.cert, clientKey: pluginCert.key }));
    const admin = await createEtcdClient(tlsCfg(cluster, { clientCert: adminCert.cert, clientKey: adminCert.key }));
    closers.push(() => plugin.close(), () => admin.close());

    assert.equal(await admin.putIfAbsent('/backend/b', 'record'), true, 'the admin writes a key record');
    assert.equal((await readAllKeyRecords(plugin)).get('b')?.raw, 'record', 'the plugin reads it');
    assert.equal(plugin.readsViaGateway, false, 'the gateway refuses CN certificates with auth on: reads moved to gRPC');
    assert.equal(await plugin.putIfAbsent('/volumes/v', '{}'), true, 'the plugin writes its volume records');
    const { err } = await expectEtcdError(() => plugin.putIfAbsent('/backend/forged', 'x'), 'permission');
    assert.match(err.message, /etcd user plugin-host \(the CN of host_etcd_client_cert\) may not do writing \/backend\/forged/);
    await expectEtcdError(() => plugin.put('/secrets/forged', 'x'), 'permission');

    const stranger = await issueClientCert(certs, 'nobody-at-all');
    const unknown = await createEtcdClient(tlsCfg(cluster, { clientCert: stranger.cert, clientKey: stranger.key }));
    closers.push(() => unknown.close());
    const res = await unknown.get('/backend/b').then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(res instanceof EtcdError && (res.reason === 'auth' || res.reason === 'permission'), String(res));
    assert.match(res.fix, /etcd-roles/);
  });
});
