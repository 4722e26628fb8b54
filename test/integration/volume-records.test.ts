import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { createEtcdClient, type EtcdClient } from '../../src/etcd/index.js';
import {
  arrayVolumeName,
  newVolumeId,
  VolumeExistsError,
  VolumeRecordConflictError,
  VolumeStore,
  VolumeStoreError,
  type VolumeRecord,
} from '../../src/volumes/index.js';
import { freePort } from '../../src/net.js';
import { startEtcd, type EtcdCluster } from '../support/etcd.js';

let etcd: EtcdCluster;
let client: EtcdClient;
let store: VolumeStore;

before(async () => {
  etcd = await startEtcd({ members: 1 });
  client = await createEtcdClient({ endpoints: etcd.endpoints });
  store = new VolumeStore(client);
});

after(async () => {
  client?.close();
  await etcd?.stop();
});

beforeEach(async () => {
  await client.raw.delete().prefix('/volume').exec();
});

function record(name: string, overrides: Partial<VolumeRecord> = {}): VolumeRecord {
  const id = newVolumeId();
  return {
    id,
    name: id,
    display_name: name,
    '3par_vol_name': arrayVolumeName(id, false),
    backend: 'DEFAULT',
    size: 100,
    provisioning: 'thin',
    flash_cache: null,
    compression: null,
    qos_name: null,
    mount_conflict_delay: 30,
    cpg: 'FC_r1',
    snap_cpg: 'FC_r1',
    is_snap: false,
    snapshots: [],
    snap_metadata: null,
    has_schedule: false,
    rcg_info: null,
    fsOwner: null,
    fsMode: null,
    Options: null,
    path_info: null,
    created: new Date().toISOString(),
    ...overrides,
  };
}

/** Unary gRPC calls etcd has started (every service), from its /metrics: the round trips it served. */
async function etcdCalls(): Promise<number> {
  const text = await (await fetch(`${etcd.clientUrls[0]}/metrics`)).text();
  let total = 0;
  for (const m of text.matchAll(/^grpc_server_started_total\{[^}]*grpc_type="unary"[^}]*\} (\d+)$/gm)) total += Number(m[1]);
  return total;
}

/** How many etcd round trips `fn` costs. */
async function roundTrips(fn: () => Promise<unknown>): Promise<number> {
  const before = await etcdCalls();
  await fn();
  return (await etcdCalls()) - before;
}

describe('VolumeStore', () => {
  test('getByName, getById: one etcd round trip each, found or not', async () => {
    const r = await store.create(record('vol1'));
    assert.equal(await roundTrips(() => store.getByName('vol1')), 1);
    assert.equal(await roundTrips(() => store.getByName('missing')), 1);
    assert.equal(await roundTrips(() => store.getById(r.record.id)), 1);
    assert.deepEqual(await store.getByName('vol1'), r);
    assert.deepEqual(await store.getById(r.record.id), r);
    assert.equal(await store.getByName('missing'), undefined);
    assert.equal(await store.getByName('vol'), undefined, 'no prefix matching (upstream skipped names that merely start with the query)');
  });

  test('the metrics counter sees our calls (the round-trip counts above are real)', async () => {
    assert.equal(await roundTrips(() => Promise.all([store.getByName('a'), store.getByName('b'), store.getByName('c')])), 3);
  });

  test('records sit at /volumes/<uuid> with the name index /volume-names/<name>', async () => {
    const r = record('vol1', { flash_cache: false });
    await store.create(r);
    const byId = await client.get(`/volumes/${r.id}`);
    const byName = await client.get('/volume-names/vol1');
    assert.ok(byId && byName);
    assert.deepEqual(JSON.parse(byId.value), r);
    assert.equal(byName.value, byId.value);
    assert.equal(byName.modRevision, byId.modRevision);
    assert.equal(JSON.parse(byId.value).flash_cache, false);
  });

  test('create is one transaction; 10 concurrent creates of one name give exactly one winner', async () => {
    assert.equal(await roundTrips(() => store.create(record('solo'))), 1);
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => store.create(record('race'))));
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(won.length, 1);
    assert.equal(lost.length, 9);
    for (const l of lost) {
      assert.ok(l.reason instanceof VolumeExistsError);
      assert.equal(l.reason.message, 'volume race already exists');
    }
    const stored = await store.getByName('race');
    assert.deepEqual(stored, (won[0] as PromiseFulfilledResult<unknown>).value);
    assert.equal((await store.list()).volumes.filter((v) => v.record.display_name === 'race').length, 1, 'no orphan /volumes/<uuid> of a loser');
  });

  test('a uuid already in use is named as such', async () => {
    const first = record('one');
    await store.create(first);
    await assert.rejects(store.create({ ...first, display_name: 'two' }), (e: unknown) => e instanceof VolumeExistsError && /uuid .* of new volume two is already in use/.test(e.message));
    assert.equal(await store.getByName('two'), undefined);
  });

  test('update is compare-and-swap on the mod revision, in one round trip', async () => {
    const v1 = await store.create(record('vol1'));
    let v2: Awaited<ReturnType<VolumeStore['update']>> | undefined;
    assert.equal(await roundTrips(async () => (v2 = await store.update({ ...v1.record, size: 200 }, v1.modRevision))), 1);
    assert.ok(v2 && BigInt(v2.modRevision) > BigInt(v1.modRevision));
    assert.deepEqual(await store.getByName('vol1'), v2);
    assert.deepEqual(await store.getById(v1.record.id), v2);

    // A writer holding the old revision loses, and nothing of its change is written.
    await assert.rejects(store.update({ ...v1.record, size: 300 }, v1.modRevision), (e: unknown) => e instanceof VolumeRecordConflictError && e.retryable && e.message === 'volume vol1 was changed or removed by another request while this one ran');
    assert.equal((await store.getByName('vol1'))!.record.size, 200);
  });

  test('concurrent updates from one revision: exactly one wins', async () => {
    const v1 = await store.create(record('vol1'));
    const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => store.update({ ...v1.record, mount_conflict_delay: i }, v1.modRevision)));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  });

  test('update of a removed record, or with a changed name, is a conflict', async () => {
    const v1 = await store.create(record('vol1'));
    await assert.rejects(store.update({ ...v1.record, display_name: 'renamed' }, v1.modRevision), VolumeRecordConflictError);
    await store.remove(v1.record, v1.modRevision);
    await assert.rejects(store.update(v1.record, v1.modRevision), VolumeRecordConflictError);
    assert.equal(await store.getById(v1.record.id), undefined);
  });

  test('remove deletes both keys in one round trip, only at the expected revision', async () => {
    const v1 = await store.create(record('vol1'));
    const v2 = await store.update({ ...v1.record, size: 5 }, v1.modRevision);
    await assert.rejects(store.remove(v1.record, v1.modRevision), VolumeRecordConflictError);
    assert.ok(await store.getByName('vol1'));
    assert.equal(await roundTrips(() => store.remove(v2.record, v2.modRevision)), 1);
    assert.equal(await client.get('/volume-names/vol1'), undefined);
    assert.equal(await client.get(`/volumes/${v1.record.id}`), undefined);
    await assert.rejects(store.remove(v2.record, v2.modRevision), VolumeRecordConflictError);
  });

  test('a removed name can be created again, with a new uuid', async () => {
    const v1 = await store.create(record('vol1'));
    await store.remove(v1.record, v1.modRevision);
    const again = await store.create(record('vol1'));
    assert.notEqual(again.record.id, v1.record.id);
    assert.deepEqual(await store.getByName('vol1'), again);
  });

  test('commit: a snapshot and its parent change together, or not at all', async () => {
    const parent = await store.create(record('vol1'));
    const snapId = newVolumeId();
    const meta = { name: 'snap1', id: snapId, parent_name: 'vol1', parent_id: parent.record.id, fsOwner: null, fsMode: null, expiration_hours: 24, retention_hours: null };
    const snap = record('snap1', { id: snapId, name: snapId, '3par_vol_name': arrayVolumeName(snapId, true), is_snap: true, snap_metadata: meta });
    const updatedParent = { record: { ...parent.record, snapshots: [meta] }, modRevision: parent.modRevision };

    // Stale parent: nothing is written, not even the snapshot.
    await store.update({ ...parent.record, size: 150 }, parent.modRevision);
    await assert.rejects(store.commit({ create: [snap], update: [updatedParent] }), (e: unknown) => e instanceof VolumeRecordConflictError && e.volumeName === 'vol1');
    assert.equal(await store.getByName('snap1'), undefined);

    const fresh = (await store.getByName('vol1'))!;
    let revision = '';
    assert.equal(
      await roundTrips(async () => (revision = await store.commit({ create: [snap], update: [{ record: { ...fresh.record, snapshots: [meta] }, modRevision: fresh.modRevision }] }))),
      1,
    );
    assert.equal((await store.getByName('snap1'))!.modRevision, revision);
    assert.deepEqual((await store.getByName('vol1'))!.record.snapshots, [meta]);
  });

  test('list: 1000 records in ONE etcd read', async () => {
    const records = Array.from({ length: 1000 }, (_, i) => record(`vol${i}`));
    for (let i = 0; i < records.length; i += 100) await Promise.all(records.slice(i, i + 100).map((r) => store.create(r)));
    let listed: Awaited<ReturnType<VolumeStore['list']>> | undefined;
    assert.equal(await roundTrips(async () => (listed = await store.list())), 1);
    assert.equal(listed!.volumes.length, 1000);
    assert.deepEqual(listed!.unreadable, []);
    assert.deepEqual(new Set(listed!.volumes.map((v) => v.record.display_name)), new Set(records.map((r) => r.display_name)));
    let named: Awaited<ReturnType<VolumeStore['listByName']>> | undefined;
    assert.equal(await roundTrips(async () => (named = await store.listByName())), 1, 'List reads the name index with its records in one request');
    assert.equal(named!.length, 1000);
    assert.ok(named!.every((v) => v.record?.size === 100));
    assert.deepEqual(new Set(named!.map((v) => v.name)), new Set(records.map((r) => r.display_name)));
  });

  test('list: past one page it reads further pages of one consistent snapshot', async () => {
    const records = Array.from({ length: 1201 }, (_, i) => record(`v${i}`));
    for (let i = 0; i < records.length; i += 100) await Promise.all(records.slice(i, i + 100).map((r) => store.create(r)));
    let listed: Awaited<ReturnType<VolumeStore['list']>> | undefined;
    assert.equal(await roundTrips(async () => (listed = await store.list())), 2);
    assert.equal(listed!.volumes.length, 1201);
    assert.equal(new Set(listed!.volumes.map((v) => v.record.id)).size, 1201);
    let named: Awaited<ReturnType<VolumeStore['listByName']>> | undefined;
    assert.equal(await roundTrips(async () => (named = await store.listByName())), 2);
    assert.equal(new Set(named!.map((v) => v.name)).size, 1201);
  });

  test('list: an empty store, and an unreadable record listed apart', async () => {
    assert.deepEqual(await store.list(), { volumes: [], unreadable: [] });
    await store.create(record('good'));
    await client.raw.put('/volumes/garbage').value('{not json').exec();
    await client.raw.put('/volumes/partial').value('{"id":"x"}').exec();
    const listed = await store.list();
    assert.deepEqual(listed.volumes.map((v) => v.record.display_name), ['good']);
    assert.deepEqual(listed.unreadable.map((u) => u.key).sort(), ['/volumes/garbage', '/volumes/partial']);
    assert.match(listed.unreadable.find((u) => u.key === '/volumes/partial')!.problem, /display_name/);
  });

  test('lastKnownRevision (what the volume cache waits for) only takes revisions of the name index, which its watch delivers', async () => {
    const fresh = new VolumeStore(client);
    const made = await fresh.create(record('known'));
    assert.equal(fresh.lastKnownRevision, BigInt(made.modRevision), 'its own write');
    const other = await store.create(record('read-back'));
    assert.deepEqual((await fresh.getByName('read-back'))?.modRevision, other.modRevision);
    assert.equal(fresh.lastKnownRevision, BigInt(other.modRevision), 'a record read by name');
    // A record at /volumes/ without its name-index copy (written by hand, or by HPE's plugin), then a lock's write.
    const loose = record('loose');
    await client.raw.put(`/volumes/${loose.id}`).value(JSON.stringify(loose)).exec();
    await client.raw.put('/_locks/volume/x/1').value('{}').exec();
    await fresh.list();
    await fresh.getById(loose.id);
    assert.equal(fresh.lastKnownRevision, BigInt(other.modRevision), 'reads of /volumes/ alone do not count');
    await fresh.listByName();
    assert.equal(fresh.lastKnownRevision, BigInt(other.modRevision), 'a List of the name index counts its newest entry');
    await client.raw.delete().key('/_locks/volume/x/1').exec();
  });

  test('an unreadable record read by name is a clear error', async () => {
    await client.raw.put('/volume-names/broken').value('[]').exec();
    await assert.rejects(store.getByName('broken'), (e: unknown) => e instanceof VolumeStoreError && e.message === 'volume record /volume-names/broken in etcd is unreadable: not a JSON object');
  });

  test('records that are not writable are refused before etcd', async () => {
    await assert.rejects(store.create(record('x1', { id: 'not-a-uuid' })), TypeError);
    await assert.rejects(store.create(record('')), TypeError);
    const v = await store.create(record('x2'));
    await assert.rejects(store.update(v.record, 'abc'), TypeError);
  });

  test('etcd down: each operation fails with a clear error naming the volume and the cause', async () => {
    const port = await freePort();
    const dead = await createEtcdClient({ endpoints: [{ host: '127.0.0.1', port }] });
    try {
      const s = new VolumeStore(dead);
      const r = record('vol1');
      const check = (prefix: string) => (e: unknown) => {
        assert.ok(e instanceof VolumeStoreError, String(e));
        assert.ok(e.message.startsWith(prefix), e.message);
        assert.match(e.message, /refused/);
        assert.equal(e.retryable, true);
        assert.match(e.fix, /start etcd/);
        return true;
      };
      await assert.rejects(s.create(r), check('ETCD data save failed: vol1: etcd 127.0.0.1:'));
      await assert.rejects(s.update(r, '5'), check('ETCD data save failed: vol1: '));
      await assert.rejects(s.remove(r, '5'), check('ETCD data delete failed: vol1: '));
      await assert.rejects(s.getByName('vol1'), check('ETCD data read failed: vol1: '));
      await assert.rejects(s.getById(r.id), check(`ETCD data read failed: ${r.id}: `));
      await assert.rejects(s.list(), check('ETCD volume list failed: '));
    } finally {
      dead.close();
    }
  });
});
