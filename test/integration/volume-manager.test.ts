/**
 * The volume manager against a real etcd and two WSAPI simulators: every create option, the error texts,
 * snapshot, clone (online and offline), import, QoS and flash cache, Get / List / Path shapes and costs,
 * remove, concurrency, and failures injected mid-create leaving nothing behind.
 */
import assert from 'node:assert/strict';
import { waitFor } from '../../src/clock.js';
import { after, afterEach, before, describe, test } from 'node:test';
import { ProvisioningTypes, type WsapiClient } from '../../src/array/index.js';
import { INTENTS_PREFIX } from '../../src/etcd/index.js';
import type { VolumeManager } from '../../src/volumes/manager.js';
import { arrayVolumeName, CREATE_HELP, EtcdLocks, volumeLock, VolumeStore } from '../../src/volumes/index.js';
import {
  PRIMARY_PASSWORD,
  SECONDARY_PASSWORD,
  WRONG_PASSWORD,
  clearArray,
  clearEtcd,
  etcdKeys,
  managerFor,
  pluginVolumes,
  settled,
  startSim,
  stopSim,
  startVolumeEnv,
  type SimHandle,
  type VolumeEnv,
} from '../fixtures/volume-env.js';

let env: VolumeEnv;
let m: VolumeManager;
let store: VolumeStore;
let old: SimHandle;
let primera: SimHandle;

before(async () => {
  env = await startVolumeEnv();
  old = await startSim({ systemName: 'oldsim', cpgs: ['FC_r1'], password: PRIMARY_PASSWORD, wsapiBuild: 30201000 });
  primera = await startSim({ systemName: 'primsim', cpgs: ['FC_r1'], password: PRIMARY_PASSWORD, wsapiBuild: 40000128 });
  m = managerFor(env, {
    badPassword: true,
    downPort: 1,
    extra: [
      { name: 'old', apiUrl: old.sim.apiUrl, cpg: 'FC_r1', password: PRIMARY_PASSWORD },
      { name: 'primera', apiUrl: primera.sim.apiUrl, cpg: 'FC_r1', password: PRIMARY_PASSWORD },
    ],
  });
  store = new VolumeStore(env.client);
  await settled(m);
});

after(async () => {
  await m?.close();
  await stopSim(old);
  await stopSim(primera);
  // No password ever reached a log line (the wrong one included).
  const logs = env?.logLines.join('') ?? '';
  await env?.stop();
  for (const secret of [PRIMARY_PASSWORD, SECONDARY_PASSWORD, WRONG_PASSWORD]) assert.ok(!logs.includes(secret), `a log line contains a password`);
});

afterEach(async () => {
  await clearArray(env.primary);
  await clearArray(env.secondary);
  await clearArray(primera);
  await clearEtcd(env.client);
});

async function rejects(p: Promise<unknown>, message: string | RegExp): Promise<Error> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof Error);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    for (const secret of [PRIMARY_PASSWORD, SECONDARY_PASSWORD, WRONG_PASSWORD]) assert.ok(!err.message.includes(secret));
    return err;
  }
  assert.fail(`expected an error matching ${message}`);
}

async function record(name: string) {
  const s = await store.getByName(name);
  assert.ok(s, `record of ${name}`);
  return s.record;
}

/** Nothing of a create is left: no plugin volume, no vvs- set, no record, no intent, no group. */
async function assertNothingLeft(name: string): Promise<void> {
  assert.deepEqual(await pluginVolumes(env.primary), [], 'plugin volumes on the primary');
  assert.deepEqual(await pluginVolumes(env.secondary), [], 'plugin volumes on the secondary');
  assert.deepEqual((await env.primary.admin.getVolumeSets()).filter((s) => s.name.startsWith('vvs-')).map((s) => s.name), [], 'vvs- sets');
  assert.equal(await store.getByName(name), undefined, 'record');
  assert.deepEqual(await etcdKeys(env.client, INTENTS_PREFIX), [], 'intents');
}

async function etcdCalls(): Promise<number> {
  const text = await (await fetch(`${env.etcd.clientUrls[0]}/metrics`)).text();
  let total = 0;
  for (const mm of text.matchAll(/^grpc_server_started_total\{[^}]*grpc_type="unary"[^}]*\} (\d+)$/gm)) total += Number(mm[1]);
  return total;
}

describe('create', () => {
  test('a plain volume: POST /volumes with upstream fields, then the record', async () => {
    const before = env.primary.sim.requestLog.length;
    await m.create('plain1', undefined);
    const calls = env.primary.sim.requestLog.slice(before).map((e) => `${e.method} ${e.path}`);
    const r = await record('plain1');
    assert.equal(r['3par_vol_name'], arrayVolumeName(r.id, false));
    assert.equal(r.backend, 'DEFAULT');
    assert.equal(r.size, 100);
    assert.equal(r.provisioning, 'thin');
    assert.equal(r.cpg, 'FC_r1');
    assert.equal(r.snap_cpg, 'FC_r5');
    assert.equal(r.mount_conflict_delay, 30);
    const v = await env.primary.admin.getVolume(r['3par_vol_name']);
    assert.equal(v.sizeMiB, 100 * 1024);
    assert.equal(v.provisioningType, ProvisioningTypes.TPVV);
    assert.equal(v.userCPG, 'FC_r1');
    assert.equal(v.snapCPG, 'FC_r5');
    assert.deepEqual(JSON.parse(v.comment ?? ''), { volume_id: r.id, name: r.id, type: 'Docker', display_name: 'plain1' });
    // One array call for a plain create on a warm session.
    assert.deepEqual(calls, ['POST /api/v1/volumes']);
    assert.deepEqual(await etcdKeys(env.client, INTENTS_PREFIX), []);
  });

  const optionCases: { title: string; opts: Record<string, string>; check: (r: Awaited<ReturnType<typeof record>>, v: Awaited<ReturnType<WsapiClient['getVolume']>>) => void }[] = [
    { title: 'size', opts: { size: '3' }, check: (r, v) => (assert.equal(r.size, 3), assert.equal(v.sizeMiB, 3072)) },
    { title: 'provisioning=full', opts: { size: '1', provisioning: 'full' }, check: (r, v) => (assert.equal(r.provisioning, 'full'), assert.equal(v.provisioningType, ProvisioningTypes.FULL)) },
    { title: 'provisioning=dedup', opts: { size: '1', provisioning: 'dedup' }, check: (r, v) => (assert.equal(r.provisioning, 'dedup'), assert.equal(v.provisioningType, ProvisioningTypes.TDVV)) },
    { title: 'compression=true', opts: { size: '16', compression: 'true' }, check: (r, v) => (assert.equal(r.compression, true), assert.equal(v.compressionState, 1)) },
    { title: 'compression=false', opts: { size: '1', compression: 'false' }, check: (r, v) => (assert.equal(r.compression, false), assert.equal(v.compressionState, 2)) },
    { title: 'cpg and snapcpg', opts: { size: '1', cpg: 'FC_r6', snapcpg: 'FC_r1' }, check: (r, v) => (assert.equal(r.cpg, 'FC_r6'), assert.equal(v.userCPG, 'FC_r6'), assert.equal(v.snapCPG, 'FC_r1')) },
    { title: 'cpg alone: snapcpg from the config', opts: { size: '1', cpg: 'FC_r6' }, check: (r) => assert.equal(r.snap_cpg, 'FC_r5') },
    { title: 'fsOwner, fsMode', opts: { size: '1', fsOwner: '1000:1001', fsMode: '0750' }, check: (r) => (assert.equal(r.fsOwner, '1000:1001'), assert.equal(r.fsMode, '0750')) },
    { title: 'mountConflictDelay', opts: { size: '1', mountConflictDelay: '7' }, check: (r) => assert.equal(r.mount_conflict_delay, 7) },
    { title: 'backend=second', opts: { size: '1', backend: 'second' }, check: (r, v) => (assert.equal(r.backend, 'second'), assert.equal(v.userCPG, 'SEC_r1')) },
    { title: 'flash-cache=false: recorded, no VV set', opts: { size: '1', 'flash-cache': 'false' }, check: (r) => assert.equal(r.flash_cache, false) },
  ];
  for (const c of optionCases) {
    test(`option ${c.title}`, async () => {
      await m.create('opt1', c.opts);
      const r = await record('opt1');
      const admin = r.backend === 'second' ? env.secondary.admin : env.primary.admin;
      c.check(r, await admin.getVolume(r['3par_vol_name']));
      assert.deepEqual((await admin.getVolumeSets()).map((s) => s.name), []);
    });
  }

  test('flash-cache=true: a vvs- set with flashCachePolicy 1 holding the volume', async () => {
    await m.create('fc1', { size: '1', 'flash-cache': 'true' });
    const r = await record('fc1');
    assert.equal(r.flash_cache, true);
    const set = await env.primary.admin.getVolumeSet(`vvs-${r['3par_vol_name'].slice(4)}`);
    assert.equal(set.flashCachePolicy, 1);
    assert.deepEqual(set.setmembers, [r['3par_vol_name']]);
    await m.remove('fc1');
    assert.deepEqual(await env.primary.admin.getVolumeSets(), [], 'the plugin set is deleted with the volume');
  });

  test('qos-name: the volume joins the VV set; its QoS rule shows in Get; flash cache from the set', async () => {
    const a = env.primary.admin;
    await a.createVolumeSet({ name: 'gold' });
    await a.createQosRule({ name: 'gold', ioMaxLimit: 5000, bwMaxLimitKB: 102400, latencyGoal: 5, priority: 3 });
    await a.setFlashCachePolicy('gold', 1);
    await m.create('q1', { size: '1', 'qos-name': 'gold' });
    const r = await record('q1');
    assert.equal(r.qos_name, 'gold');
    assert.equal(r.flash_cache, true);
    assert.deepEqual((await a.getVolumeSet('gold')).setmembers, [r['3par_vol_name']]);
    const got = await m.get('q1');
    assert.deepEqual(got?.Status['qos_detail'], { enabled: true, maxBWS: '100.0 MB/sec', maxIOPS: '5000 IOs/sec', Latency: '5 ms', priority: 'High', vvset_name: 'gold' });
    await m.remove('q1');
    assert.deepEqual((await a.getVolumeSet('gold')).setmembers, undefined, 'left the set');
    await a.deleteQosRule('gold');
    await a.deleteVolumeSet('gold');
  });

  test('a name or option longer than the array keeps is refused before anything is written, with the limit', async () => {
    const before = env.primary.sim.requestLog.length;
    for (const n of [1000, 200_000]) {
      await rejects(m.create(`v${'x'.repeat(n - 1)}`, { size: '1' }), new RegExp(`has ${n} characters; at most 379 fit, since the array keeps the name in the volume's comment \\(at most 511 characters\\)\\.$`));
    }
    await rejects(m.create('cpglong', { cpg: 'c'.repeat(32) }), /for cpg\. A CPG name has at most 31 characters on the array; this one has 32\.$/);
    await rejects(m.create('snaplong', { virtualCopyOf: `v${'x'.repeat(378)}` }), /a snapshot of 'vx+\.\.\.' may have at most 0, since the array keeps both names in the snapshot's comment/);
    assert.equal(env.primary.sim.requestLog.length, before, 'no request reached the array');
    await assertNothingLeft(`v${'x'.repeat(999)}`);
    const longest = `v${'x'.repeat(378)}`;
    await m.create(longest, { size: '1' });
    const stored = await store.getByName(longest);
    assert.equal((await env.primary.admin.getVolume(stored!.record['3par_vol_name'])).comment?.length, 511, 'the longest name fills the comment exactly');
  });

  test('an existing name succeeds at once, before validation', async () => {
    await m.create('same1', { size: '1' });
    const before = env.primary.sim.requestLog.length;
    await m.create('same1', { size: 'not-a-number', bogus: 'x' });
    assert.equal(env.primary.sim.requestLog.length, before);
  });

  test('-o help and -o help=backends return their text as the error', async () => {
    await rejects(m.create('h1', { help: '' }), CREATE_HELP);
    const err = await rejects(m.create('h1', { help: 'backends' }), /NAME {42}STATUS/);
    assert.match(err.message, /^DEFAULT {38} {2}OK$/m);
    assert.match(err.message, /^badpw {40} {2}FAILED\n {4}login failed: wrong user or password \(WSAPI code 5\) — check \[badpw\]\.hpe3par_username and \[badpw\]\.hpe3par_password$/m);
    assert.match(err.message, /^down {41} {2}FAILED\n {4}array 127\.0\.0\.1:1 refused the connection$/m);
  });

  const errorCases: { title: string; name?: string; opts: Record<string, string>; message: string | RegExp; setup?: () => Promise<void> }[] = [
    { title: 'unknown backend', opts: { backend: 'nope' }, message: 'Backend: nope not present in config.' },
    {
      title: 'FAILED backend (wrong password): upstream text plus the reason',
      opts: { backend: 'badpw' },
      message:
        "ERROR: Backend 'badpw' was NOT initialized successfully. Please check hpe.conf for incorrect entries and rectify it. Reason: login failed: wrong user or password (WSAPI code 5) — check [badpw].hpe3par_username and [badpw].hpe3par_password",
    },
    {
      title: 'FAILED backend (unreachable)',
      opts: { backend: 'down' },
      message: "ERROR: Backend 'down' was NOT initialized successfully. Please check hpe.conf for incorrect entries and rectify it. Reason: array 127.0.0.1:1 refused the connection",
    },
    {
      title: 'compression below 16 GiB',
      opts: { size: '15', compression: 'true' },
      message:
        'Invalid input received: To create compression enabled volume, size of the volume should be at least 16GB. Fully provisioned volume cannot be compressed. Please re-enter requested volume size or provisioning type. ',
    },
    {
      title: 'compression with full provisioning',
      opts: { size: '20', compression: 'true', provisioning: 'full' },
      message: /^Invalid input received: To create compression enabled volume/,
    },
    { title: 'compression on an old WSAPI', opts: { backend: 'old', size: '20', compression: 'true' }, message: "Compression policy requires WSAPI version '30301215' version '30201000' is installed." },
    { title: 'dedup on an old WSAPI', opts: { backend: 'old', size: '1', provisioning: 'dedup' }, message: "Dedup is a valid provisioning type, but requires WSAPI version '30201120' version '30201000' is installed." },
    { title: 'flash cache on an old WSAPI', opts: { backend: 'old', size: '1', 'flash-cache': 'true' }, message: "Flash Cache policy requires WSAPI version '30201200' version '30201000' is installed." },
    { title: 'Primera: full provisioning', opts: { backend: 'primera', size: '1', provisioning: 'full' }, message: /^Invalid input received: a Primera array has no fully provisioned volumes/ },
    { title: 'Primera: dedup without compression', opts: { backend: 'primera', size: '20', provisioning: 'dedup' }, message: /^Invalid input received: on a Primera array deduplication and compression exist only together/ },
    { title: 'qos-name of a missing VV set', opts: { size: '1', 'qos-name': 'nosuch' }, message: /^Failed to retrieve QOS from VV-Set nosuch: Not found \(HTTP 404\) 100 - .* \(array 127\.0\.0\.1:\d+: GET \/qos\/vvset:nosuch, WSAPI code NON_EXISTENT_QOS_RULE; fix: create the VV set nosuch with a QoS rule on the array, or correct -o qos-name\)$/ },
    { title: 'a CPG the array does not have: WSAPI code named', opts: { size: '1', cpg: 'FC_r9' }, message: /^Not found \(HTTP 404\) 15 - .* \(Failed to create volume e1 on backend DEFAULT; array 127\.0\.0\.1:\d+: POST \/volumes, WSAPI code NON_EXISTENT_CPG; fix: create the CPG/ },
    { title: 'replicationGroup on a backend without replication_device', opts: { backend: 'second', replicationGroup: 'g' }, message: /^Invalid input received: Request to create replicated volume cannot be fulfilled without defining 'replication_device' entry defined in hpe\.conf for the backend 'second'/ },
    { title: 'replicationGroup name too long', opts: { replicationGroup: 'g'.repeat(26) }, message: /^Invalid input received: replicationGroup name 'g{26}' is too long: at most 25 characters$/ },
    { title: 'snapshot of a missing volume', opts: { virtualCopyOf: 'ghost' }, message: 'source volume: ghost does not exist' },
    { title: 'clone of a missing volume', opts: { cloneOf: 'ghost' }, message: 'source volume: ghost does not exist' },
    { title: 'invalid name (upstream regex)', name: 'x', opts: {}, message: 'Invalid input received: Invalid volume name: x is passed.' },
    { title: 'import of a plugin-named volume', opts: { importVol: 'dcv-abc' }, message: 'target: dcv-abc is already in-use' },
    { title: 'import of a missing volume', opts: { importVol: 'legacy9' }, message: /^Volume:legacy9 does not exists Error: Not found \(HTTP 404\) 23 - .* \(array 127\.0\.0\.1:\d+: GET \/volumes\/legacy9, WSAPI code NON_EXISTENT_VOL; fix: check the name with showvv/ },
  ];
  for (const c of errorCases) {
    test(`error: ${c.title}`, async () => {
      await c.setup?.();
      await rejects(m.create(c.name ?? 'e1', c.opts), c.message);
      assert.equal(await store.getByName(c.name ?? 'e1'), undefined);
      assert.deepEqual(await pluginVolumes(env.primary), []);
      assert.deepEqual(await etcdKeys(env.client, INTENTS_PREFIX), []);
    });
  }

  test('the good backends work while others are FAILED; List covers every backend', async () => {
    await m.create('lb1', { size: '1' });
    await m.create('lb2', { size: '3', backend: 'second' });
    const names = (await m.list()).map((v) => v.Name).sort();
    assert.deepEqual(names, ['lb1', 'lb2']);
    assert.deepEqual((await m.list())[0]?.Status, {});
  });

  test('List entries carry upstream\'s fields: Name, Devicename, size, Mountpoint, Status; an unreadable record is still listed', async () => {
    await m.create('lf1', { size: '1' });
    await m.create('lf2', { size: '3', backend: 'second' });
    await env.client.raw.put('/volume-names/broken').value('{not json').exec();
    // Written straight to etcd, as another host would: List sees it once the watch delivers it.
    await waitFor('the cache has it', async () => (await m.list()).some((v) => v.Name === 'broken'));
    const byName = new Map((await m.list()).map((v) => [v.Name, v]));
    assert.deepEqual(Object.keys(byName.get('lf1')!), ['Name', 'Devicename', 'size', 'Mountpoint', 'Status']);
    assert.deepEqual(byName.get('lf1'), { Name: 'lf1', Devicename: '', size: 1, Mountpoint: '', Status: {} });
    assert.deepEqual(byName.get('lf2'), { Name: 'lf2', Devicename: '', size: 3, Mountpoint: '', Status: {} });
    assert.deepEqual(byName.get('broken'), { Name: 'broken', Devicename: '', Mountpoint: '', Status: {} });
    await env.client.raw.delete().key('/volume-names/broken').exec();
    // Mounted on another node: its device and mount point are that node's, not this one's (as Get and Path).
    const stored = (await store.getByName('lf1'))!;
    await store.update({ ...stored.record, node_mount_info: { 'node-b': ['c1'] }, path_info: { name: 'x', path: '/dev/dm-9', mount_dir: '/opt/hpe/data/x' } }, stored.modRevision);
    await m.create('lf3', { size: '1' }); // a later write of this process: List reflects everything before it
    assert.deepEqual((await m.list()).find((v) => v.Name === 'lf1'), { Name: 'lf1', Devicename: '', size: 1, Mountpoint: '', Status: {} });
  });
});

describe('snapshot', () => {
  test('virtualCopyOf with expiration and retention; parent lists it; Get shapes', async () => {
    await m.create('base1', { size: '2', fsOwner: '1:2' });
    await m.create('snap1', { virtualCopyOf: 'base1', expirationHours: '10', retentionHours: '2' });
    const parent = await record('base1');
    const snap = await record('snap1');
    assert.equal(snap.is_snap, true);
    assert.equal(snap['3par_vol_name'], arrayVolumeName(snap.id, true));
    assert.deepEqual(snap.snap_metadata, {
      name: 'snap1',
      id: snap.id,
      parent_name: 'base1',
      parent_id: parent.id,
      fsOwner: '1:2',
      fsMode: null,
      expiration_hours: 10,
      retention_hours: 2,
    });
    assert.deepEqual(parent.snapshots, [snap.snap_metadata]);
    const v = await env.primary.admin.getVolume(snap['3par_vol_name']);
    assert.equal(v.copyOf, parent['3par_vol_name']);
    assert.equal(v.copyType, 3);
    assert.ok(v.expirationTime8601 && v.retentionTime8601);
    assert.equal(JSON.parse(v.comment ?? '').description, 'snapshot of volume base1');

    const got = await m.get('base1');
    assert.deepEqual(got?.Status['Snapshots'], [{ Name: 'snap1', ParentName: 'base1' }]);
    const snapView = await m.get('snap1');
    assert.deepEqual(Object.keys(snapView?.Status ?? {}), ['snap_detail']);
    assert.equal((snapView?.Status['snap_detail'] as Record<string, unknown>)['parent_volume'], 'base1');
    assert.deepEqual(await m.get('base1/snap1'), { Name: 'base1/snap1', Mountpoint: '', Status: { Settings: { expirationHours: 10, retentionHours: 2 } } });
    assert.equal(await m.get('base1/nosnap'), undefined);
    await rejects(m.get('a/b/c'), 'invalid volume or snapshot name a/b/c');

    await rejects(m.create('snap2', { virtualCopyOf: 'snap1' }), 'source volume: snap1 is a snapshot, creating hierarchy of snapshots is not allowed.');
    await rejects(m.remove('base1'), 'Err: Volume base1 has one or more child snapshots - volume cannot be deleted!');
  });

  test('removing a snapshot updates the parent in the same transaction; an expired one leaves at Get', async () => {
    await m.create('base2', { size: '1' });
    await m.create('snapA', { virtualCopyOf: 'base2' });
    await m.create('snapB', { virtualCopyOf: 'base2' });
    await m.remove('snapA');
    assert.deepEqual((await record('base2')).snapshots.map((s) => s.name), ['snapB']);
    // snapB disappears on the array (expired): Get drops it from etcd.
    const snapB = await record('snapB');
    await env.primary.admin.deleteVolume(snapB['3par_vol_name']);
    const got = await m.get('base2');
    assert.equal(got?.Status['Snapshots'], undefined);
    assert.deepEqual((await record('base2')).snapshots, []);
    assert.equal(await store.getByName('snapB'), undefined);
    await m.remove('base2');
    assert.deepEqual(await pluginVolumes(env.primary), []);
  });
});

describe('clone', () => {
  test('same size: online physical copy with a comment; sets and fs settings follow the source', async () => {
    await m.create('src1', { size: '2', 'flash-cache': 'true', fsMode: '0700' });
    const before = env.primary.sim.requestLog.length;
    await m.create('cl1', { cloneOf: 'src1' });
    const calls = env.primary.sim.requestLog.slice(before).map((e) => `${e.method} ${e.path}`);
    const src = await record('src1');
    const cl = await record('cl1');
    assert.equal(calls[0], `POST /api/v1/volumes/${src['3par_vol_name']}`);
    assert.ok(!calls.includes('POST /api/v1/volumes'), 'an online copy makes the destination itself');
    assert.equal(cl.size, 2);
    assert.equal(cl.fsMode, '0700');
    assert.equal(cl.flash_cache, true);
    assert.deepEqual(cl.Options, { cloneOf: 'src1' });
    const v = await env.primary.admin.getVolume(cl['3par_vol_name']);
    assert.equal(JSON.parse(v.comment ?? '').display_name, 'cl1');
    assert.equal((await env.primary.admin.getVolumeSet(`vvs-${cl['3par_vol_name'].slice(4)}`)).flashCachePolicy, 1);
    assert.deepEqual((await m.get('cl1'))?.Status['volume_detail'] && ((await m.get('cl1'))!.Status['volume_detail'] as Record<string, unknown>)['Options'], { cloneOf: 'src1' });
    await m.remove('cl1');
    await m.remove('src1');
    assert.deepEqual(await pluginVolumes(env.primary), []);
  });

  test('larger: create, offline copy, wait for the task', async () => {
    await m.create('src2', { size: '1' });
    await m.create('cl2', { cloneOf: 'src2', size: '3', cpg: 'FC_r6' });
    const src = await record('src2');
    const cl = await record('cl2');
    const calls = env.primary.sim.requestLog.map((e) => `${e.method} ${e.path}`);
    assert.ok(calls.includes(`POST /api/v1/volumes/${src['3par_vol_name']}`));
    assert.ok(calls.some((c) => /^GET \/api\/v1\/tasks\/\d+$/.test(c)));
    const v = await env.primary.admin.getVolume(cl['3par_vol_name']);
    assert.equal(v.sizeMiB, 3072);
    assert.equal(v.userCPG, 'FC_r6');
    assert.equal(v.copyType, 1, 'the copy has finished');
    await rejects(m.create('cl3', { cloneOf: 'src2', size: '0' }), 'Please enter the valid integer value for size parameter: the size is a whole number of GiB, 1 or more; 0 is not');
    await rejects(m.create('cl3', { cloneOf: 'cl2', size: '2' }), 'clone volume size 2 is less than source volume size 3');
    await m.create('snapc', { virtualCopyOf: 'src2' });
    await rejects(m.create('cl3', { cloneOf: 'snapc' }), 'cloning a snapshot snapc is not allowed');
  });
});

describe('import', () => {
  test('renames to dcv-, takes size and provisioning from the array; a snapshot of it joins its parent', async () => {
    const a = env.primary.admin;
    await a.createVolume({ name: 'legacy1', cpg: 'FC_r6', sizeMiB: 1500, tpvv: true, comment: 'made by hand' });
    await m.create('imp1', { importVol: 'legacy1' });
    const r = await record('imp1');
    assert.equal(r.size, 2);
    assert.equal(r.provisioning, 'thin');
    assert.equal(r.cpg, 'FC_r6');
    assert.equal(r.snap_cpg, 'FC_r6');
    assert.deepEqual(r.Options, { importVol: 'legacy1' });
    const v = await a.getVolume(r['3par_vol_name']);
    assert.equal(v.snapCPG, 'FC_r6');
    assert.equal(JSON.parse(v.comment ?? '').display_name, 'imp1');
    await rejects(a.getVolume('legacy1'), /HTTP 404/);

    await a.createSnapshot(r['3par_vol_name'], 'legacysnap');
    await m.create('impsnap', { importVol: 'legacysnap' });
    const s = await record('impsnap');
    assert.equal(s.is_snap, true);
    assert.ok(s['3par_vol_name'].startsWith('dcs-'));
    assert.deepEqual((await record('imp1')).snapshots.map((x) => x.name), ['impsnap']);
  });

  test('refused: exported volume, volume in a remote copy group, snapshot of an unmanaged parent', async () => {
    const a = env.primary.admin;
    await a.createVolume({ name: 'legacy2', cpg: 'FC_r1', sizeMiB: 1024, tpvv: true });
    await a.createHost({ name: 'host1', iSCSINames: ['iqn.1993-08.org.debian:01:abc'] });
    await a.createVlun({ volumeName: 'legacy2', hostname: 'host1', lun: 'auto' });
    await rejects(
      m.create('imp2', { importVol: 'legacy2' }),
      'Manage volume failed Error: Failed to manage volume/snapshot because its attached:Managing volume legacy2 failed because it is attached.',
    );
    await a.deleteVlun('legacy2', 0, 'host1');
    await a.deleteHost('host1');

    await a.createVolume({ name: 'legacy3', cpg: 'FC_r1', sizeMiB: 1024, tpvv: true });
    await a.createRemoteCopyGroup({ name: 'hand', targets: [{ targetName: 'sim2', mode: 1, userCPG: 'SEC_r1' }] });
    await a.addVolumeToRemoteCopyGroup('hand', 'legacy3', { targets: [{ targetName: 'sim2', secVolumeName: 'legacy3' }], volumeAutoCreation: true });
    await rejects(m.create('imp3', { importVol: 'legacy3' }), 'ERROR: Volume associated with a replication group cannot be imported');

    await a.createSnapshot('legacy2', 'legacy2snap');
    await rejects(m.create('imp4', { importVol: 'legacy2snap' }), 'Manage snapshot failed because parent volume: legacy2 is unmanaged.');
    assert.equal(await store.getByName('imp2'), undefined);
    await a.getVolume('legacy2');
  });
});

describe('the etcd session', () => {
  test('one lease per plugin process: its node presence and its locks hang on it; close ends them together', async () => {
    const leaseIds = async () => new Set((await env.client.raw.leaseClient.leaseLeases()).leases.map((l) => String(l.ID)));
    const before = await leaseIds();
    const node = 'session-node';
    const fresh = managerFor(env, {}, { nodeId: node });
    try {
      await settled(fresh);
      await waitFor('the node announced', async () => (await env.client.get(`/nodes/${node}`)) !== undefined);
      // Locks taken and released by Creates, and one held by a Create still waiting on the array's answer.
      await fresh.create('sess-a', { size: '1' });
      await fresh.create('sess-b', { size: '1' });
      const fresher = [...(await leaseIds())].filter((id) => !before.has(id));
      assert.equal(fresher.length, 1, `leases granted by one plugin process: ${fresher.length}`);
      const [lease] = fresher;
      const other = new EtcdLocks(env.client);
      const held = await other.acquire(volumeLock('sess-a'));
      const waiting = fresh.remove('sess-a');
      await waitFor('the Remove queued for its lock', async () => (await etcdKeys(env.client, '/_locks/volume/sess-a/')).length === 2);
      const keys = (await env.client.raw.leaseClient.leaseTimeToLive({ ID: lease, keys: true })).keys.map((k) => k.toString());
      assert.ok(keys.includes(`/nodes/${node}`), `the presence is on the lease: ${keys.join(', ')}`);
      assert.ok(keys.some((k) => k.startsWith('/_locks/volume/sess-a/')), `the queued lock is on the lease: ${keys.join(', ')}`);
      await held.release();
      await other.close();
      await waiting;
    } finally {
      await fresh.close();
    }
    assert.equal(await env.client.get(`/nodes/${node}`), undefined, 'the presence goes when the plugin stops');
    assert.deepEqual(await etcdKeys(env.client, '/_locks/'), []);
    assert.deepEqual([...(await leaseIds())].filter((id) => !before.has(id)), [], 'its lease is revoked');
  });
});

describe('remove, get, path, list', () => {
  test('remove of an unknown name: upstream text', async () => {
    await rejects(m.remove('nobody'), 'Volume name to remove not found: nobody');
  });

  test('Get, Path and List of a known volume cost no etcd round trip (the volume cache) and no array call; an unknown name one read', async () => {
    await m.create('cost1', { size: '1' });
    await m.create('cost2', { size: '1', backend: 'second' });
    await m.get('cost1'); // warms the CPG domain cache
    await waitFor('the volume cache is live', async () => {
      const before = await etcdCalls();
      await m.get('cost1');
      return (await etcdCalls()) === before;
    });
    let calls = await etcdCalls();
    const got = await m.get('cost1');
    assert.equal((await etcdCalls()) - calls, 0, 'Get: no etcd round trip');
    assert.equal(got?.Name, 'cost1');
    assert.equal(got?.Mountpoint, '');
    calls = await etcdCalls();
    assert.equal(await m.path('cost1'), '');
    assert.equal((await etcdCalls()) - calls, 0, 'Path: no etcd round trip');
    const arrayBefore = env.primary.sim.requestLog.length + env.secondary.sim.requestLog.length;
    calls = await etcdCalls();
    assert.equal((await m.list()).length, 2);
    assert.equal((await etcdCalls()) - calls, 0, 'List: no etcd round trip');
    assert.equal(env.primary.sim.requestLog.length + env.secondary.sim.requestLog.length, arrayBefore, 'List: no array call');
    calls = await etcdCalls();
    assert.equal(await m.get('nosuch'), undefined);
    assert.equal((await etcdCalls()) - calls, 1, 'an absent name is confirmed in etcd: one round trip');
    await rejects(m.path('nosuch'), 'No Mount Point: volume nosuch does not exist');
  });

  test('Get Status of a volume: volume_detail in upstream shape', async () => {
    await m.create('shape1', { size: '16', compression: 'true', fsOwner: '5:6', fsMode: '0755', mountConflictDelay: '9' });
    const r = await record('shape1');
    const got = await m.get('shape1');
    assert.deepEqual(got, {
      Name: 'shape1',
      Mountpoint: '',
      Devicename: '',
      CreatedAt: r.created,
      Status: {
        volume_detail: {
          id: r.id,
          size: 16,
          flash_cache: null,
          compression: 'true',
          provisioning: 'thin',
          fsOwner: '5:6',
          fsMode: '0755',
          mountConflictDelay: 9,
          cpg: 'FC_r1',
          snap_cpg: 'FC_r5',
          backend: 'DEFAULT',
          domain: null,
          '3par_vol_name': r['3par_vol_name'],
        },
      },
    });
  });

  test('remove of a volume in a hand-made VV set: it leaves the set first', async () => {
    await m.create('inset', { size: '1' });
    const r = await record('inset');
    await env.primary.admin.createVolumeSet({ name: 'byhand', setmembers: [r['3par_vol_name']] });
    await m.remove('inset');
    assert.deepEqual(await pluginVolumes(env.primary), []);
    assert.deepEqual((await env.primary.admin.getVolumeSet('byhand')).setmembers, undefined);
  });
});

describe('concurrency', () => {
  test('50 concurrent creates of different names all land', async () => {
    const names = Array.from({ length: 50 }, (_, i) => `many${i}`);
    await Promise.all(names.map((n) => m.create(n, { size: '1' })));
    assert.equal((await pluginVolumes(env.primary)).length, 50);
    const list = await store.list();
    assert.deepEqual(list.volumes.map((v) => v.record.display_name).sort(), [...names].sort());
    assert.deepEqual(await etcdKeys(env.client, INTENTS_PREFIX), []);
  });

  test('10 concurrent creates of one name: one array volume, one record, all succeed', async () => {
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => m.create('one', { size: '1' })));
    assert.deepEqual(results.map((r) => r.status), Array(10).fill('fulfilled'));
    assert.equal((await pluginVolumes(env.primary)).length, 1);
    assert.equal((await store.list()).volumes.length, 1);
  });
});

describe('locks', () => {
  test('a lock not obtained is an error naming the holder, never a silent success', async () => {
    const other = new EtcdLocks(env.client, { ttlSeconds: 5, owner: 'node-b pid 7' });
    const held = await other.acquire(volumeLock('locked1'));
    const quick = managerFor(env, {}, { lockWaitMs: 200 });
    try {
      await settled(quick);
      await rejects(quick.create('locked1', { size: '1' }), /^volume locked1 is busy: another operation on it did not finish within 0\.2 s \(held by node-b pid 7 since /);
      assert.equal(await store.getByName('locked1'), undefined);
      assert.deepEqual(await pluginVolumes(env.primary), []);
    } finally {
      await held.release();
      await quick.close();
    }
  });

  test('names that cannot be locks are refused cleanly', async () => {
    await rejects(m.create('bad1', { virtualCopyOf: 'a/b' }), 'source volume: a/b does not exist');
    await rejects(m.create('bad1', { replicationGroup: 'g{x}' }), /^Invalid input received: replicationGroup name 'g\{x\}' is not a valid remote copy group name$/);
  });
});

describe('failures mid-create leave nothing behind', () => {
  type Inject = { sim?: 'primary' | 'secondary'; method: string; path: RegExp; status: number | 'drop'; body?: unknown };
  const cases: { title: string; opts: Record<string, string>; inject: Inject[]; message: RegExp; setup?: () => Promise<void> }[] = [
    { title: 'POST /volumes fails', opts: { size: '1' }, inject: [{ method: 'POST', path: /^\/api\/v1\/volumes$/, status: 500 }], message: /^Internal Server Error \(HTTP 500\) 1 - HTTP 500 injected by a test hook of the simulator \(Failed to create volume f1 on backend DEFAULT; array 127\.0\.0\.1:\d+: POST \/volumes, WSAPI code INT_SERV_ERR; fix: /},
    { title: 'POST /volumes answer lost', opts: { size: '1' }, inject: [{ method: 'POST', path: /^\/api\/v1\/volumes$/, status: 'drop' }], message: /may or may not have applied it/ },
    { title: 'flash cache set creation fails', opts: { size: '1', 'flash-cache': 'true' }, inject: [{ method: 'POST', path: /^\/api\/v1\/volumesets$/, status: 500 }], message: /^Internal Server Error \(HTTP 500\) 1 - HTTP 500 injected by a test hook of the simulator \(creating VV set vvs-\S+ with dcv-\S+ for flash cache; array 127\.0\.0\.1:\d+: POST \/volumesets, WSAPI code INT_SERV_ERR; fix: /},
    { title: 'flash cache policy fails', opts: { size: '1', 'flash-cache': 'true' }, inject: [{ method: 'PUT', path: /^\/api\/v1\/volumesets\/vvs-/, status: 500 }], message: /^Driver: Failed to set flash cache policy - Internal Server Error \(HTTP 500\) 1 - HTTP 500 injected by a test hook of the simulator \(VV set vvs-\S+; array 127\.0\.0\.1:\d+: PUT \/volumesets\/vvs-\S+, WSAPI code INT_SERV_ERR; fix: /},
    {
      title: 'joining the QoS set fails',
      opts: { size: '1', 'qos-name': 'silver' },
      inject: [{ method: 'PUT', path: /^\/api\/v1\/volumesets\/silver$/, status: 500 }],
      message: /^Internal Server Error \(HTTP 500\) 1 - HTTP 500 injected by a test hook of the simulator \(adding volume dcv-\S+ to VV-Set silver; array 127\.0\.0\.1:\d+: PUT \/volumesets\/silver, WSAPI code INT_SERV_ERR; fix: check the VV set silver on array /,
      setup: async () => {
        await env.primary.admin.createVolumeSet({ name: 'silver' });
        await env.primary.admin.createQosRule({ name: 'silver', ioMaxLimit: 100 });
      },
    },
    { title: 'replicated: creating the group fails', opts: { size: '1', replicationGroup: 'gf' }, inject: [{ method: 'POST', path: /^\/api\/v1\/remotecopygroups$/, status: 500 }], message: /^Bad or unexpected response from the RCG backend API: Error encountered while creating remote copy group: Internal Server Error \(HTTP 500\) 1 - HTTP 500 injected by a test hook of the simulator \(Failed to create volume f1 on backend DEFAULT; array 127\.0\.0\.1:\d+: POST \/remotecopygroups, WSAPI code INT_SERV_ERR; fix: /},
    {
      title: 'replicated: admitting the volume fails',
      opts: { size: '1', replicationGroup: 'gf' },
      // The sync-period PUT is answered 200 without effect; the next PUT (the admission) fails.
      inject: [
        { method: 'PUT', path: /^\/api\/v1\/remotecopygroups\/gf$/, status: 200, body: {} },
        { method: 'PUT', path: /^\/api\/v1\/remotecopygroups\/gf$/, status: 500 },
      ],
      message: /^Internal Server Error \(HTTP 500\) 1 - HTTP 500 injected by a test hook of the simulator \(Failed to create volume f1 on backend DEFAULT; array 127\.0\.0\.1:\d+: PUT \/remotecopygroups\/gf, WSAPI code INT_SERV_ERR; fix: /,
    },
    {
      title: 'replicated: the secondary cannot be verified on the target',
      opts: { size: '1', replicationGroup: 'gf' },
      inject: [{ sim: 'secondary', method: 'GET', path: /^\/api\/v1\/volumes\/dcv-/, status: 500 }],
      message: /^secondary volume dcv-\S+ of f1 was not created on replication target sim2 \(127\.0\.0\.1:\d+\): .*HTTP 500/,
    },
  ];
  for (const c of cases) {
    test(c.title, async () => {
      await c.setup?.();
      for (const i of c.inject) (i.sim === 'secondary' ? env.secondary : env.primary).sim.failNext(i.method, i.path, i.status, i.body);
      await rejects(m.create('f1', c.opts), c.message);
      await assertNothingLeft('f1');
      assert.deepEqual((await env.primary.admin.getRemoteCopyGroups()).map((g) => g.name), []);
      assert.deepEqual((await env.secondary.admin.getRemoteCopyGroups()).map((g) => g.name), []);
      if (c.opts['qos-name'] !== undefined) {
        assert.deepEqual((await env.primary.admin.getVolumeSet(c.opts['qos-name'])).setmembers, undefined);
        await env.primary.admin.deleteQosRule(c.opts['qos-name']);
      }
    });
  }

  test('a snapshot whose create fails leaves the parent untouched', async () => {
    await m.create('par1', { size: '1' });
    const p = await record('par1');
    env.primary.sim.failNext('POST', new RegExp(`^/api/v1/volumes/${p['3par_vol_name']}$`), 500);
    await rejects(m.create('sn1', { virtualCopyOf: 'par1' }), /^Internal Server Error \(HTTP 500\) 1 - HTTP 500 injected by a test hook of the simulator \(Failed to create snapshot sn1 of volume par1 on backend DEFAULT; array 127\.0\.0\.1:\d+: POST \/volumes\/dcv-\S+, WSAPI code INT_SERV_ERR; fix: /);
    assert.deepEqual((await record('par1')).snapshots, []);
    assert.equal(await store.getByName('sn1'), undefined);
    assert.deepEqual(await pluginVolumes(env.primary), [p['3par_vol_name']]);
  });

  test('an offline clone whose copy fails: the destination is deleted', async () => {
    await m.create('par2', { size: '1' });
    const p = await record('par2');
    env.primary.sim.failNext('POST', new RegExp(`^/api/v1/volumes/${p['3par_vol_name']}$`), 500);
    await rejects(m.create('cl9', { cloneOf: 'par2', size: '2' }), /^Internal Server Error \(HTTP 500\) 1 - HTTP 500 injected by a test hook of the simulator \(Failed to clone volume par2 to cl9 on backend DEFAULT; array 127\.0\.0\.1:\d+: POST \/volumes\/dcv-\S+, WSAPI code INT_SERV_ERR; fix: /);
    assert.deepEqual(await pluginVolumes(env.primary), [p['3par_vol_name']]);
    assert.deepEqual(await etcdKeys(env.client, INTENTS_PREFIX), []);
  });

  test('an import whose rename answer is lost keeps its original name', async () => {
    await env.primary.admin.createVolume({ name: 'legacy5', cpg: 'FC_r1', sizeMiB: 1024, tpvv: true, comment: 'orig' });
    env.primary.sim.failNext('PUT', /^\/api\/v1\/volumes\/legacy5$/, 'drop');
    await rejects(m.create('imp5', { importVol: 'legacy5' }), /^Failed to import legacy5 as volume imp5 on backend DEFAULT: .*may or may not have applied it/);
    assert.equal((await env.primary.admin.getVolume('legacy5')).comment, 'orig');
    assert.deepEqual(await pluginVolumes(env.primary), []);
    assert.deepEqual(await etcdKeys(env.client, INTENTS_PREFIX), []);
  });
});
