/**
 * Drop-in, proven: the answers HPE's own test suite expects (test/*_tester.py of python-hpedockerplugin) hold
 * against this plugin, request by request over its unix socket, with the simulator as the array and array
 * errors injected where a case needs one. Where this plugin answers differently on purpose, the test says so
 * and asserts our answer (README, "Differences from HPE's plugin").
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { FlashCachePolicies } from '../../src/array/index.js';
import { createVolumeDriverApp, listenOnSocket } from '../../src/server/index.js';
import type { VolumeManager } from '../../src/volumes/manager.js';
import { VolumeStore } from '../../src/volumes/index.js';
import {
  PRIMARY_PASSWORD,
  SECONDARY_PASSWORD,
  clearArray,
  clearEtcd,
  managerFor,
  pluginVolumes,
  settled,
  startVolumeEnv,
  type VolumeEnv,
} from '../fixtures/volume-env.js';

let env: VolumeEnv;
let m: VolumeManager;
let store: VolumeStore;
let closeSocket: () => Promise<void>;
const socket = join(tmpdir(), `hpe-upstream-texts-${process.pid}.sock`);
/** QoS VV sets made by a test, removed after it. */
const madeSets: string[] = [];

before(async () => {
  env = await startVolumeEnv();
  m = managerFor(env);
  store = new VolumeStore(env.client);
  await settled(m);
  closeSocket = (await listenOnSocket(createVolumeDriverApp(m, env.logger), socket)).close;
});

after(async () => {
  await closeSocket?.();
  await m?.close();
  await env?.stop();
});

afterEach(async () => {
  for (const set of madeSets.splice(0)) {
    await env.primary.admin.deleteQosRule(set).catch(() => undefined);
    await env.primary.admin.deleteVolumeSet(set).catch(() => undefined);
  }
  await clearArray(env.primary);
  await clearArray(env.secondary);
  await clearEtcd(env.client);
});

/** One VolumeDriver call over the socket, as dockerd makes it; the JSON answer. */
function call(endpoint: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, path: `/VolumeDriver.${endpoint}`, method: 'POST' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        try {
          assert.equal(res.statusCode, 200, text);
          resolve(JSON.parse(text) as Record<string, unknown>);
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** The Err of an answer, with no password in it. */
function errOf(answer: Record<string, unknown>): string {
  const err = answer['Err'];
  assert.equal(typeof err, 'string');
  for (const secret of [PRIMARY_PASSWORD, SECONDARY_PASSWORD]) assert.ok(!(err as string).includes(secret), 'a password in Err');
  return err as string;
}

/** Upstream's text verbatim at the start, then ours in parentheses (array, call, fix). */
function assertUpstreamFirst(err: string, upstream: string, ours: RegExp): void {
  assert.ok(err.startsWith(`${upstream} (`), `expected to start with upstream's text:\n  ${upstream}\ngot:\n  ${err}`);
  assert.match(err.slice(upstream.length), ours);
  assert.match(err, /; fix: .+\)$/);
}

async function create(name: string, opts: Record<string, string>): Promise<string> {
  return errOf(await call('Create', { Name: name, Opts: opts }));
}

async function arrayName(name: string): Promise<string> {
  const s = await store.getByName(name);
  assert.ok(s, `record of ${name}`);
  return s.record['3par_vol_name'];
}

async function qosSet(name: string, flashCachePolicy?: number): Promise<void> {
  const a = env.primary.admin;
  await a.createVolumeSet({ name });
  madeSets.push(name);
  await a.createQosRule({ name, ioMaxLimit: 2000000, ioMinGoal: 10000, bwMaxLimitKB: 40960, bwMinGoalKB: 30720, latencyGoal: 10, priority: 2 });
  if (flashCachePolicy !== undefined) await a.setFlashCachePolicy(name, flashCachePolicy);
}

describe("array errors: upstream's text verbatim, then ours", () => {
  test('qos-name whose set cannot be joined (createvolume_tester TestCreateVolumeWithInvalidQOS)', async () => {
    await qosSet('soni_vvset');
    env.primary.sim.failNext('PUT', /^\/api\/v1\/volumesets\/soni_vvset$/, 404, { desc: 'fake' });
    const err = await create('test-vol-001', { 'qos-name': 'soni_vvset', provisioning: 'thin', size: '2' });
    assertUpstreamFirst(err, 'Not found (HTTP 404) - fake', /^ \(adding volume dcv-\S+ to VV-Set soni_vvset; array 127\.0\.0\.1:\d+: PUT \/volumesets\/soni_vvset; fix: check the VV set soni_vvset/);
    assert.deepEqual(await pluginVolumes(env.primary), [], 'rolled back');
  });

  test('flash-cache=true whose VV set cannot be made (TestCreateVolumeFlashCacheAddToVVSFails)', async () => {
    env.primary.sim.failNext('POST', /^\/api\/v1\/volumesets$/, 404, { desc: 'fake' });
    const err = await create('test-vol-001', { 'flash-cache': 'true', provisioning: 'thin', size: '20' });
    assertUpstreamFirst(err, 'Not found (HTTP 404) - fake', /^ \(creating VV set vvs-\S+ with dcv-\S+ for flash cache; array 127\.0\.0\.1:\d+: POST \/volumesets; fix: /);
    assert.deepEqual(await pluginVolumes(env.primary), []);
  });

  test("flash-cache=true whose policy cannot be set: upstream's wrapper `Driver: Failed to set flash cache policy - `", async () => {
    env.primary.sim.failNext('PUT', /^\/api\/v1\/volumesets\/vvs-/, 404, { desc: 'fake' });
    const err = await create('test-vol-001', { 'flash-cache': 'true', size: '20' });
    assertUpstreamFirst(err, 'Driver: Failed to set flash cache policy - Not found (HTTP 404) - fake', /^ \(VV set vvs-\S+; array 127\.0\.0\.1:\d+: PUT \/volumesets\/vvs-\S+; fix: /);
    assert.deepEqual((await env.primary.admin.getVolumeSets()).map((s) => s.name).filter((n) => n.startsWith('vvs-')), [], 'the vvs- set is undone');
  });

  test('clone of a flash-cache volume whose VV set cannot be made (clonevolume_tester)', async () => {
    assert.equal(await create('src1', { 'flash-cache': 'true', size: '1' }), '');
    env.primary.sim.failNext('POST', /^\/api\/v1\/volumesets$/, 404, { desc: 'fake' });
    const err = await create('clone-vol-001', { cloneOf: 'src1' });
    assertUpstreamFirst(err, 'Not found (HTTP 404) - fake', /^ \(creating VV set vvs-\S+ with dcv-\S+ for flash cache; array 127\.0\.0\.1:\d+: POST \/volumesets; fix: /);
    assert.deepEqual(await pluginVolumes(env.primary), [await arrayName('src1')]);
  });

  test('the remote copy group cannot be created (createreplicatedvolume_tester)', async () => {
    env.primary.sim.failNext('POST', /^\/api\/v1\/remotecopygroups$/, 400, { desc: 'Create RCG failed: TEST-RCG' });
    const err = await create('test-vol-001', { replicationGroup: 'TEST-RCG', size: '1' });
    assertUpstreamFirst(
      err,
      'Bad or unexpected response from the RCG backend API: Error encountered while creating remote copy group: Bad request (HTTP 400) - Create RCG failed: TEST-RCG',
      /^ \(Failed to create volume test-vol-001 on backend DEFAULT; array 127\.0\.0\.1:\d+: POST \/remotecopygroups; fix: /,
    );
    assert.deepEqual(await pluginVolumes(env.primary), []);
  });

  test('a WSAPI code is printed as hpe3parclient printed it, and named in our part', async () => {
    env.primary.sim.failNext('POST', /^\/api\/v1\/volumes$/, 400, { code: 24, desc: 'no space left in CPG FC_r1' });
    const err = await create('v-nospace', { size: '1' });
    assertUpstreamFirst(err, 'Bad request (HTTP 400) 24 - no space left in CPG FC_r1', /^ \(Failed to create volume v-nospace on backend DEFAULT; array 127\.0\.0\.1:\d+: POST \/volumes, WSAPI code NO_SPACE; fix: free space in the CPG/);
  });

  test('remove while the group is not primary here (removevolume_tester): names the array volume', async () => {
    assert.equal(await create('rep1', { replicationGroup: 'TEST-RCG', size: '1' }), '');
    const dcv = await arrayName('rep1');
    const group = await env.primary.admin.getRemoteCopyGroup('TEST-RCG');
    env.primary.sim.failNext('GET', /^\/api\/v1\/remotecopygroups\/TEST-RCG$/, 200, { ...group, role: 2 });
    const err = errOf(await call('Remove', { Name: 'rep1' }));
    assertUpstreamFirst(err, `Error: Failed to delete volume: ${dcv} as rcg: TEST-RCG do not have valid role`, /^ \(volume rep1 on backend DEFAULT; array 127\.0\.0\.1:\d+: remote copy group TEST-RCG has role 2; fix: /);
    assert.ok(await store.getByName('rep1'), 'nothing removed');
    assert.equal(errOf(await call('Remove', { Name: 'rep1' })), '');
  });

  test('Get while the group cannot be read (getvolume_tester TestGetRcgVolumeFails)', async () => {
    assert.equal(await create('rep2', { replicationGroup: 'TEST-RCG', size: '1' }), '');
    env.primary.sim.failNext('GET', /^\/api\/v1\/remotecopygroups\/TEST-RCG$/, 404, { desc: 'RCG TEST-RCG not found' });
    const got = await call('Get', { Name: 'rep2' });
    const status = (got['Volume'] as { Status: Record<string, unknown> }).Status;
    assert.match(status['rcg_detail'] as string, /^ERROR: Failed to retrieve RCG 'TEST-RCG' from 3PAR \(Not found \(HTTP 404\) - RCG TEST-RCG not found \(array 127\.0\.0\.1:\d+: GET \/remotecopygroups\/TEST-RCG\)\)$/);
  });

  test('Get while the QoS rule cannot be read (TestGetVolumeWithGetQoSFails)', async () => {
    await qosSet('vvk_vvset');
    assert.equal(await create('q1', { 'qos-name': 'vvk_vvset', size: '2' }), '');
    env.primary.sim.failNext('GET', /^\/api\/v1\/qos\/vvset:vvk_vvset$/, 404, { desc: 'QoS vvk_vvset not found' });
    const status = ((await call('Get', { Name: 'q1' }))['Volume'] as { Status: Record<string, unknown> }).Status;
    assert.match(status['qos_detail'] as string, /^ERROR: Failed to retrieve QoS 'vvk_vvset' from 3PAR \(Not found \(HTTP 404\) - QoS vvk_vvset not found \(array /);
  });
});

describe('flash-cache with qos-name: the set takes the requested policy, as upstream', () => {
  test('flash-cache=true on a set whose flash cache is disabled: created, the set enabled, Get says true', async () => {
    await qosSet('silver', FlashCachePolicies.DISABLED);
    assert.equal(await create('fc1', { 'qos-name': 'silver', 'flash-cache': 'true', size: '1' }), '');
    const set = await env.primary.admin.getVolumeSet('silver');
    assert.equal(set.flashCachePolicy, FlashCachePolicies.ENABLED);
    assert.deepEqual(set.setmembers, [await arrayName('fc1')]);
    const detail = ((await call('Get', { Name: 'fc1' }))['Volume'] as { Status: { volume_detail: Record<string, unknown> } }).Status.volume_detail;
    assert.equal(detail['flash_cache'], 'true');
  });

  test('flash-cache=false on a set whose flash cache is enabled: the set disabled', async () => {
    await qosSet('bronze', FlashCachePolicies.ENABLED);
    assert.equal(await create('fc2', { 'qos-name': 'bronze', 'flash-cache': 'false', size: '1' }), '');
    assert.equal((await env.primary.admin.getVolumeSet('bronze')).flashCachePolicy, FlashCachePolicies.DISABLED);
  });

  test("a create that fails after changing the set's policy puts the policy back", async () => {
    await qosSet('iron', FlashCachePolicies.DISABLED);
    // The simulator fails the next matching call only: the policy PUT is answered 200 (without effect), the
    // join fails, and the undo must send a third PUT that sets the policy back.
    env.primary.sim.failNext('PUT', /^\/api\/v1\/volumesets\/iron$/, 200, {});
    env.primary.sim.failNext('PUT', /^\/api\/v1\/volumesets\/iron$/, 404, { desc: 'fake' });
    const before = env.primary.sim.requestLog.length;
    const err = await create('fc3', { 'qos-name': 'iron', 'flash-cache': 'true', size: '1' });
    assertUpstreamFirst(err, 'Not found (HTTP 404) - fake', /^ \(adding volume dcv-\S+ to VV-Set iron; /);
    const puts = env.primary.sim.requestLog.slice(before).filter((e) => e.method === 'PUT' && e.path === '/api/v1/volumesets/iron');
    assert.deepEqual(puts.map((e) => e.status), [200, 404, 200], 'policy, join, policy restored');
    assert.equal((await env.primary.admin.getVolumeSet('iron')).flashCachePolicy, FlashCachePolicies.DISABLED);
    assert.deepEqual(await pluginVolumes(env.primary), []);
  });
});

describe('small texts', () => {
  test('compressed volume below 16 GiB: the trailing space of upstream', async () => {
    assert.equal(
      await create('c1', { compression: 'true', size: '2' }),
      'Invalid input received: To create compression enabled volume, size of the volume should be at least 16GB. Fully provisioned volume cannot be compressed. Please re-enter requested volume size or provisioning type. ',
    );
  });

  test('remove of a volume with snapshots: the `Err: ` prefix of upstream', async () => {
    assert.equal(await create('base1', { size: '1' }), '');
    assert.equal(await create('snap1', { virtualCopyOf: 'base1' }), '');
    assert.equal(errOf(await call('Remove', { Name: 'base1' })), 'Err: Volume base1 has one or more child snapshots - volume cannot be deleted!');
  });
});

describe('Get of a volume with QoS (TestGetVolumeWithQos)', () => {
  test("bandwidths as upstream (40.0 MB/sec); latency in ms (upstream's `sec` is wrong); flash_cache read from the set at each Get", async () => {
    await qosSet('vvk_vvset', FlashCachePolicies.DISABLED);
    assert.equal(await create('q2', { 'qos-name': 'vvk_vvset', provisioning: 'thin', size: '2' }), '');
    const volume = async () => (await call('Get', { Name: 'q2' }))['Volume'] as { Status: { qos_detail: unknown; volume_detail: Record<string, unknown> } };
    const got = await volume();
    assert.deepEqual(got.Status.qos_detail, {
      enabled: true,
      maxBWS: '40.0 MB/sec',
      minBWS: '30.0 MB/sec',
      maxIOPS: '2000000 IOs/sec',
      minIOPS: '10000 IOs/sec',
      Latency: '10 ms',
      priority: 'Normal',
      vvset_name: 'vvk_vvset',
    });
    assert.equal(got.Status.volume_detail['flash_cache'], 'false');
    await env.primary.admin.setFlashCachePolicy('vvk_vvset', FlashCachePolicies.ENABLED);
    assert.equal((await volume()).Status.volume_detail['flash_cache'], 'true', 'changed on the array: the next Get shows it');
  });

  test('a volume in no VV set shows what was stored', async () => {
    assert.equal(await create('plain', { size: '1' }), '');
    assert.equal(((await call('Get', { Name: 'plain' }))['Volume'] as { Status: { volume_detail: Record<string, unknown> } }).Status.volume_detail['flash_cache'], null);
  });
});

describe('List and Get shapes (documented differences; dockerd reads them the same)', () => {
  test('an empty List is {"Err":"","Volumes":[]}; entries have upstream\'s fields in upstream\'s order', async () => {
    assert.deepEqual(await call('List', {}), { Err: '', Volumes: [] });
    assert.equal(await create('l1', { size: '1' }), '');
    const listed = await call('List', {});
    assert.deepEqual(listed, { Err: '', Volumes: [{ Name: 'l1', Devicename: '', size: 1, Mountpoint: '', Status: {} }] });
    assert.deepEqual(Object.keys((listed['Volumes'] as object[])[0]!), ['Name', 'Devicename', 'size', 'Mountpoint', 'Status']);
  });

  test('Get of an unknown name answers an Err (dockerd: "no such volume" either way)', async () => {
    assert.deepEqual(await call('Get', { Name: 'ghost' }), { Err: 'volume ghost does not exist' });
  });
});
