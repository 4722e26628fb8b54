import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { newRecord, snapshotMetadata, withSnapshotEntry } from '../../src/volumes/request/plan.js';
import { qosDetail, rcgDetail, snapshotSettingsView, snapshotStatus, volumeStatus } from '../../src/volumes/request/status.js';

const id = '6c471ac5-7165-4b1d-9b8f-d657e4f2ca65';
const record = (over: Partial<Parameters<typeof newRecord>[0]> = {}) =>
  newRecord({
    id,
    displayName: 'v1',
    arrayName: 'dcv-bEcaxXFlSx2bj9ZX5PLKZQ',
    backend: 'DEFAULT',
    shape: { sizeGiB: 2, provisioning: 'thin', compression: true },
    mountConflictDelay: 30,
    cpg: 'A',
    snapCpg: 'B',
    now: new Date(0),
    ...over,
  });

describe('Status shapes (upstream getvolume_tester.py)', () => {
  test('volume_detail: option values as upstream strings; Options only for clone/import', () => {
    const s = volumeStatus(record({ flashCache: false, options: { cloneOf: 'x' } }), { domain: 'D1' });
    assert.deepEqual(s, {
      volume_detail: {
        id,
        size: 2,
        flash_cache: 'false',
        compression: 'true',
        provisioning: 'thin',
        fsOwner: null,
        fsMode: null,
        mountConflictDelay: 30,
        cpg: 'A',
        snap_cpg: 'B',
        backend: 'DEFAULT',
        domain: 'D1',
        '3par_vol_name': 'dcv-bEcaxXFlSx2bj9ZX5PLKZQ',
        Options: { cloneOf: 'x' },
      },
    });
  });

  test('Snapshots, qos_detail, rcg_detail, secondary CPGs', () => {
    const parent = record({ qosName: 'gold', rcg: { local_rcg_name: 'g', remote_rcg_name: 'g.r1' } });
    const withSnap = withSnapshotEntry(parent, snapshotMetadata({ id: 'a1b2c3d4-0000-4000-8000-000000000000', name: 's1', parent, expirationHours: 3, retentionHours: 1 }));
    const s = volumeStatus(withSnap, {
      domain: null,
      secondary: { cpg: 'TA', snapCpg: undefined },
      qos: { name: 'gold', type: 1, enabled: true, ioMinGoal: 10, ioMaxLimit: 100, bwMinGoalKB: 512, bwMaxLimitKB: 2048, latencyGoal: 8, priority: 2 },
      rcg: { name: 'g', role: 1, targets: [{ targetName: 't', state: 3, mode: 1, policies: { autoFailover: true } }], volumes: [] },
    });
    assert.deepEqual(s['Snapshots'], [{ Name: 's1', ParentName: 'v1' }]);
    assert.deepEqual(s['qos_detail'], { enabled: true, maxBWS: '2.0 MB/sec', minBWS: '0.5 MB/sec', maxIOPS: '100 IOs/sec', minIOPS: '10 IOs/sec', Latency: '8 ms', priority: 'Normal', vvset_name: 'gold' });
    assert.deepEqual(s['rcg_detail'], { rcg_name: 'g', policies: { autoFailover: true }, role: 'Primary' });
    const d = s['volume_detail'] as Record<string, unknown>;
    assert.equal(d['secondary_cpg'], 'TA');
    assert.equal(d['secondary_snap_cpg'], null);
  });

  test('QoS or group unreadable: upstream error strings', () => {
    const s = volumeStatus(record({ qosName: 'gold', rcg: { local_rcg_name: 'g', remote_rcg_name: '' } }), { domain: null, qos: { error: 'x' }, rcg: { error: 'y' } });
    assert.equal(s['qos_detail'], "ERROR: Failed to retrieve QoS 'gold' from 3PAR (x)");
    assert.equal(s['rcg_detail'], "ERROR: Failed to retrieve RCG 'g' from 3PAR (y)");
    assert.deepEqual(rcgDetail({ name: 'g', role: 2, targets: [], volumes: [] }), { rcg_name: 'g', policies: null, role: 'Secondary' });
    assert.deepEqual(qosDetail({ name: 'q', type: 1 }, 'q'), { enabled: true, vvset_name: 'q' });
  });

  test("flash_cache: the set's policy read at this Get wins over what was stored; else the stored value", () => {
    const detail = (s: Record<string, unknown>) => (s['volume_detail'] as Record<string, unknown>)['flash_cache'];
    assert.equal(detail(volumeStatus(record({ qosName: 'gold', flashCache: true }), { domain: null, flashCache: false })), 'false');
    assert.equal(detail(volumeStatus(record({ qosName: 'gold' }), { domain: null, flashCache: true })), 'true');
    assert.equal(detail(volumeStatus(record({ qosName: 'gold', flashCache: true }), { domain: null, flashCache: null })), null);
    assert.equal(detail(volumeStatus(record({ flashCache: true }), { domain: null })), 'true');
  });

  test('qos_detail: bandwidths as Python printed KB/1024, latency in ms', () => {
    assert.deepEqual(qosDetail({ name: 'q', type: 1, bwMaxLimitKB: 40960, bwMinGoalKB: 30720, latencyGoal: 10 }, 'q'), {
      enabled: true,
      maxBWS: '40.0 MB/sec',
      minBWS: '30.0 MB/sec',
      Latency: '10 ms',
      vvset_name: 'q',
    });
    assert.equal(qosDetail({ name: 'q', type: 1, bwMaxLimitKB: 100 }, 'q')['maxBWS'], '0.09765625 MB/sec');
    assert.equal(qosDetail({ name: 'q', type: 1, bwMaxLimitKB: 1536 }, 'q')['maxBWS'], '1.5 MB/sec');
  });

  test('snap_detail and vol/snap Settings', () => {
    const parent = record();
    const meta = snapshotMetadata({ id: 'a1b2c3d4-0000-4000-8000-000000000000', name: 's1', parent, expirationHours: 3, retentionHours: null });
    const snap = record({ id: meta.id, displayName: 's1', arrayName: 'dcs-x', snapMetadata: meta });
    assert.deepEqual(snapshotStatus(snap), {
      snap_detail: {
        id: meta.id,
        size: 2,
        compression: 'true',
        provisioning: 'thin',
        is_snap: true,
        parent_volume: 'v1',
        parent_id: id,
        fsOwner: null,
        fsMode: null,
        expiration_hours: 3,
        retention_hours: null,
        mountConflictDelay: 30,
        snap_cpg: 'B',
        backend: 'DEFAULT',
        '3par_vol_name': 'dcs-x',
      },
    });
    assert.deepEqual(snapshotSettingsView(parent, meta), { Name: 'v1/s1', Mountpoint: '', Status: { Settings: { expirationHours: 3, retentionHours: null } } });
  });
});
