import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { wsapiFeatures } from '../../src/array/index.js';
import type { ReplicationDevice } from '../../src/config/index.js';
import { parseIntent } from '../../src/volumes/store/intents.js';
import {
  checkShape,
  createRcgParams,
  createVolumeParams,
  importedShape,
  newRecord,
  onlineCopyParams,
  provisioningParams,
  rcgTargetSettings,
  snapshotMetadata,
  targetCpgs,
  volumeComment,
  withSnapshotEntry,
  withoutSnapshot,
  type ArrayCaps,
  type VolumeShape,
} from '../../src/volumes/request/plan.js';

const licensed = { licenseInfo: { licenses: [{ name: 'Thin Provisioning' }, { name: 'Compression' }] } };
function caps(build: number, system: ArrayCaps['system'] = licensed): ArrayCaps {
  return { build, features: wsapiFeatures(build), system };
}
const modern = caps(30301460);
const shape = (s: Partial<VolumeShape> = {}): VolumeShape => ({ sizeGiB: 100, provisioning: 'thin', compression: null, ...s });

describe('checkShape: upstream texts, before any array call', () => {
  const cases: { title: string; shape: VolumeShape; caps: ArrayCaps; message?: RegExp | string }[] = [
    { title: 'thin', shape: shape(), caps: modern },
    { title: 'compressed 16 GiB thin', shape: shape({ sizeGiB: 16, compression: true }), caps: modern },
    { title: 'compressed dedup', shape: shape({ provisioning: 'dedup', compression: true }), caps: modern },
    {
      title: 'compressed 15 GiB',
      shape: shape({ sizeGiB: 15, compression: true }),
      caps: modern,
      message: 'Invalid input received: To create compression enabled volume, size of the volume should be at least 16GB. Fully provisioned volume cannot be compressed. Please re-enter requested volume size or provisioning type. ',
    },
    { title: 'compressed full', shape: shape({ provisioning: 'full', compression: true }), caps: modern, message: /Fully provisioned volume cannot be compressed/ },
    { title: 'no licence', shape: shape({ compression: true }), caps: caps(30301460, { licenseInfo: { licenses: [{ name: 'Thin Provisioning' }] } }), message: 'Invalid input received: Compression is not supported on underlying hardware' },
    { title: 'Golden License counts', shape: shape({ compression: true }), caps: caps(30301460, { licenseInfo: { licenses: [{ name: 'Golden License' }] } }) },
    { title: 'no licence info at all', shape: shape({ compression: true }), caps: caps(30301460, {}), message: /not supported on underlying hardware/ },
    { title: 'compression on 3.2', shape: shape({ compression: true }), caps: caps(30201300), message: "Compression policy requires WSAPI version '30301215' version '30201300' is installed." },
    { title: 'compression=false on 3.2 is fine', shape: shape({ compression: false }), caps: caps(30201300) },
    { title: 'dedup on 3.1.3', shape: shape({ provisioning: 'dedup' }), caps: caps(30103230), message: "Dedup is a valid provisioning type, but requires WSAPI version '30201120' version '30103230' is installed." },
    { title: 'Primera full', shape: shape({ provisioning: 'full' }), caps: caps(40000128), message: /^Invalid input received: a Primera array has no fully provisioned volumes/ },
    { title: 'Primera dedup alone', shape: shape({ provisioning: 'dedup' }), caps: caps(40000128), message: /exist only together/ },
    { title: 'Primera compression alone', shape: shape({ compression: true }), caps: caps(40000128), message: /exist only together/ },
    { title: 'Primera dedup+compression', shape: shape({ provisioning: 'dedup', compression: true }), caps: caps(40000128) },
  ];
  for (const c of cases) {
    test(c.title, () => {
      if (c.message === undefined) checkShape(c.shape, c.caps);
      else assert.throws(() => checkShape(c.shape, c.caps), { message: c.message });
    });
  }
});

describe('payloads', () => {
  test('createVolumeParams as upstream sent them', () => {
    assert.deepEqual(createVolumeParams({ arrayName: 'dcv-x', cpg: 'FC_r1', snapCpg: 'FC_r5', shape: shape({ sizeGiB: 3 }), comment: 'c' }, modern), {
      name: 'dcv-x',
      cpg: 'FC_r1',
      snapCPG: 'FC_r5',
      sizeMiB: 3072,
      comment: 'c',
      tpvv: true,
    });
  });

  const prov: [VolumeShape, ArrayCaps, ReturnType<typeof provisioningParams>][] = [
    [shape(), modern, { tpvv: true }],
    [shape({ provisioning: 'full' }), modern, { tpvv: false }],
    [shape({ provisioning: 'dedup' }), modern, { tpvv: false, tdvv: true }],
    [shape({ compression: true }), modern, { tpvv: true, compression: true }],
    [shape({ compression: false }), modern, { tpvv: true, compression: false }],
    [shape({ compression: false }), caps(30201300), { tpvv: true }],
    [shape({ provisioning: 'dedup', compression: true }), caps(40000128), { tpvv: false, tdvv: true, compression: true }],
  ];
  for (const [s, c, expected] of prov) {
    test(`provisioningParams ${s.provisioning} compression=${s.compression} build ${c.build}`, () => assert.deepEqual(provisioningParams(s, c), expected));
  }

  test('online copy: destCPG, snapCPG and the provisioning', () => {
    assert.deepEqual(onlineCopyParams({ cpg: 'A', snapCpg: 'B', shape: shape({ provisioning: 'dedup' }) }, modern), { online: true, destCPG: 'A', snapCPG: 'B', tpvv: false, tdvv: true });
  });

  test('comment JSON in upstream key order', () => {
    assert.equal(volumeComment('u', 'v1'), '{"volume_id":"u","name":"u","type":"Docker","display_name":"v1"}');
  });
});

const device = (over: Partial<ReplicationDevice> = {}): ReplicationDevice => ({
  line: 1,
  backendId: 'tgt',
  mode: 'asynchronous',
  cpgMap: [
    { source: 'A', target: 'TA' },
    { source: 'B', target: 'TB' },
  ],
  snapCpgMap: [{ source: 'SA', target: 'TSA' }],
  apiUrl: 'https://t:8080/api/v1',
  username: 'u',
  sanIp: 't',
  sanLogin: 'u',
  password: { option: 'replication_device.hpe3par_password', raw: 'x', line: 1 },
  sanPassword: { option: 'replication_device.san_password', raw: 'x', line: 1 },
  iscsiIps: [],
  pairs: {},
  ...over,
});

describe('replication payloads', () => {
  test('modes: synchronous 1, asynchronous 2 (periodic), streaming 4', () => {
    assert.equal(createRcgParams('g', device({ mode: 'synchronous' }), 'A', 'SA').targets[0]!.mode, 1);
    assert.equal(createRcgParams('g', device({ mode: 'asynchronous' }), 'A', 'SA').targets[0]!.mode, 2);
    assert.equal(createRcgParams('g', device({ mode: 'streaming' }), 'A', 'SA').targets[0]!.mode, 4);
  });

  test('target CPGs from cpg_map / snap_cpg_map, else their first pair', () => {
    assert.deepEqual(createRcgParams('g', device(), 'B', 'SA'), {
      name: 'g',
      targets: [{ targetName: 'tgt', mode: 2, userCPG: 'TB', snapCPG: 'TSA' }],
      localUserCPG: 'B',
      localSnapCPG: 'SA',
    });
    assert.deepEqual(targetCpgs(device(), 'X', 'Y'), { userCPG: 'TA', snapCPG: 'TSA' });
    assert.deepEqual(targetCpgs(device({ snapCpgMap: [] }), 'B', 'B'), { userCPG: 'TB', snapCPG: 'TB' });
  });

  test('settings: sync period (default 900) for async/streaming, Peer Persistence policies, none for sync', () => {
    assert.deepEqual(rcgTargetSettings(device()), { targets: [{ targetName: 'tgt', syncPeriod: 900 }] });
    assert.deepEqual(rcgTargetSettings(device({ mode: 'streaming', syncPeriod: 300 })), { targets: [{ targetName: 'tgt', syncPeriod: 300 }] });
    assert.equal(rcgTargetSettings(device({ mode: 'synchronous' })), undefined);
    assert.deepEqual(rcgTargetSettings(device({ mode: 'synchronous', quorumWitnessIp: '10.0.0.9' })), {
      targets: [{ targetName: 'tgt', policies: { autoFailover: true, pathManagement: true, autoRecover: true } }],
    });
  });
});

describe('records', () => {
  const base = () =>
    newRecord({
      id: '6c471ac5-7165-4b1d-9b8f-d657e4f2ca65',
      displayName: 'v1',
      arrayName: 'dcv-bEcaxXFlSx2bj9ZX5PLKZQ',
      backend: 'DEFAULT',
      shape: shape({ sizeGiB: 2 }),
      mountConflictDelay: 30,
      cpg: 'A',
      snapCpg: 'B',
      fsOwner: '1:2',
      now: new Date(0),
    });

  test('newRecord: upstream fields', () => {
    const r = base();
    assert.equal(r.name, r.id);
    assert.equal(r.is_snap, false);
    assert.equal(r.flash_cache, null);
    assert.equal(r.has_schedule, false);
    assert.equal(r.created, '1970-01-01T00:00:00.000Z');
  });

  test('snapshot entries in the parent: add, replace, remove', () => {
    const parent = base();
    const meta = snapshotMetadata({ id: 'a1b2c3d4-0000-4000-8000-000000000000', name: 's1', parent, expirationHours: 5, retentionHours: null });
    assert.equal(meta.fsOwner, '1:2');
    const withOne = withSnapshotEntry(parent, meta);
    assert.deepEqual(withSnapshotEntry(withOne, meta).snapshots, [meta]);
    assert.deepEqual(withoutSnapshot(withOne, meta.id).snapshots, []);
    assert.deepEqual(parent.snapshots, [], 'pure');
  });

  test('importedShape: size rounded up, provisioning and compression from the array', () => {
    const v = { sizeMiB: 1500, provisioningType: 6, compressionState: 1 } as Parameters<typeof importedShape>[0];
    assert.deepEqual(importedShape(v), { sizeGiB: 2, provisioning: 'dedup', compression: true });
    assert.deepEqual(importedShape({ ...v, provisioningType: 1, compressionState: undefined }), { sizeGiB: 2, provisioning: 'full', compression: null });
  });
});

describe('intents', () => {
  test('parseIntent accepts what flows write and names what is wrong otherwise', () => {
    const ok = { v: 1, op: 'create', flow: 'volume', id: '6c471ac5-7165-4b1d-9b8f-d657e4f2ca65', name: 'v', backend: 'B', arrayName: 'dcv-x', node: 'n', started: 't' };
    assert.deepEqual(parseIntent(JSON.stringify(ok)), ok);
    assert.match(String(parseIntent('{')), /^not JSON \(/);
    assert.equal(parseIntent(JSON.stringify({ ...ok, op: 'x' })), 'op is not create or remove');
    assert.equal(parseIntent(JSON.stringify({ ...ok, id: 'nope' })), 'id is not a uuid');
    assert.equal(parseIntent(JSON.stringify({ ...ok, arrayName: undefined })), 'field arrayName is missing');
  });
});
