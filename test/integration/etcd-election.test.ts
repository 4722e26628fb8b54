/**
 * Riding through etcd's faults: a write whose answer is lost (held back by a proxy until the client gave up) is
 * retried and recognised as applied, and volume requests from four clients keep succeeding while the leader of a
 * three-member cluster is killed with SIGKILL.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createEtcdClient, INTENTS_PREFIX, type EtcdClient } from '../../src/etcd/index.js';
import { EtcdError } from '../../src/errors.js';
import { VolumeExistsError, VolumeStore, newVolumeId, type VolumeManager } from '../../src/volumes/index.js';
import { startEtcd } from '../support/etcd.js';
import { plainRecord } from '../fixtures/records.js';
import { waitFor } from '../../src/clock.js';
import { createLogger } from '../../src/log.js';
import { VolumeCache } from '../../src/volumes/store/volume-cache.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { etcdKeys, managerFor, pluginVolumes, settled, startVolumeEnv } from '../fixtures/volume-env.js';

const REQUEST_TIMEOUT_MS = 500;
/** Longer than one request's deadline: the first attempt gives up, the retry gets the answers. */
const HOLD_MS = 900;

test('a write whose answer is lost is retried and recognised as applied', async (t) => {
  const cluster = await startEtcd({ members: 1 });
  t.after(() => cluster.stop());
  const proxy = new TcpProxy(cluster.endpoints[0]!);
  await proxy.listen();
  t.after(() => proxy.close());
  const direct = await createEtcdClient({ endpoints: cluster.endpoints });
  t.after(() => direct.close());
  const client = await createEtcdClient({ endpoints: [{ host: '127.0.0.1', port: proxy.port }] }, { requestTimeoutMs: REQUEST_TIMEOUT_MS });
  t.after(() => client.close());
  assert.equal(await client.putIfAbsent('/lost/warm', 'up'), true);

  const held = async <T>(what: string, op: () => Promise<T>): Promise<T> => {
    proxy.hold(HOLD_MS);
    const started = performance.now();
    const result = await op();
    const took = performance.now() - started;
    t.diagnostic(`${what}: answered after ${Math.round(took)} ms`);
    assert.ok(took >= REQUEST_TIMEOUT_MS, `${what} was not held (${Math.round(took)} ms): the test would prove nothing`);
    return result;
  };

  assert.equal(await held('putIfAbsent', () => client.putIfAbsent('/lost/a', 'one')), true, 'its own create is no "already exists"');
  const a = await direct.get('/lost/a');
  assert.equal(a?.value, 'one');
  assert.equal(await held('putIfUnchanged', () => client.putIfUnchanged('/lost/a', 'two', a!.modRevision)), true, 'its own update is no conflict');
  assert.equal((await direct.get('/lost/a'))?.value, 'two');
  const b = await direct.get('/lost/a');
  assert.equal(await held('guarded delete', () => client.delete('/lost/a', b!.modRevision)), true);
  assert.equal(await direct.get('/lost/a'), undefined);
  await held('put', () => client.put('/lost/p', 'v'));
  assert.equal((await direct.get('/lost/p'))?.value, 'v');

  // A record create (one transaction over the name and uuid keys) is the create's own, not VolumeExistsError.
  const store = new VolumeStore(client);
  const record = plainRecord('lost-v1');
  const saved = await held('record create', () => store.create(record));
  assert.equal((await new VolumeStore(direct).getByName('lost-v1'))?.modRevision, saved.modRevision);
  const renamed = { ...saved.record, fsOwner: '1000:1000' };
  const updated = await held('record update', () => store.update(renamed, saved.modRevision));
  assert.equal((await new VolumeStore(direct).getByName('lost-v1'))?.record.fsOwner, '1000:1000');
  await held('record remove', () => store.remove(updated.record, updated.modRevision));
  assert.equal(await new VolumeStore(direct).getByName('lost-v1'), undefined);

  // Real conflicts are still conflicts: not retried, not taken for our own write.
  await direct.put('/lost/taken', 'someone else');
  assert.equal(await client.putIfAbsent('/lost/taken', 'mine'), false);
  await store.create(record);
  const otherId = newVolumeId();
  await assert.rejects(store.create({ ...record, id: otherId, name: otherId }), VolumeExistsError);
});

test("a removal whose answer was lost: the volume cache never answers with the removed record", async (t) => {
  const cluster = await startEtcd({ members: 1 });
  t.after(() => cluster.stop());
  // The store's answers are lost through one proxy; the cache's watch is held back by another.
  const [toStore, toCache] = [new TcpProxy(cluster.endpoints[0]!), new TcpProxy(cluster.endpoints[0]!)];
  for (const proxy of [toStore, toCache]) {
    await proxy.listen();
    t.after(() => proxy.close());
  }
  const storeClient = await createEtcdClient({ endpoints: [{ host: '127.0.0.1', port: toStore.port }] }, { requestTimeoutMs: REQUEST_TIMEOUT_MS });
  t.after(() => storeClient.close());
  const cacheClient = await createEtcdClient({ endpoints: [{ host: '127.0.0.1', port: toCache.port }] });
  t.after(() => cacheClient.close());
  const store = new VolumeStore(storeClient);
  const cache = new VolumeCache(cacheClient, store, { logger: createLogger('ERROR') });
  cache.start();
  t.after(() => cache.stop());
  await waitFor('the cache is live', () => cache.live);
  const saved = await store.create(plainRecord('lost-rm'));
  assert.equal((await cache.getByName('lost-rm'))?.value?.record.id, saved.record.id, 'the cache has the volume');

  toCache.hold(3 * HOLD_MS);
  toStore.hold(HOLD_MS);
  const started = performance.now();
  await store.remove(saved.record, saved.modRevision);
  assert.ok(performance.now() - started >= REQUEST_TIMEOUT_MS, 'the answer was not lost: the test would prove nothing');
  // The watch has not delivered the delete yet: the cache must not answer (undefined: the caller reads etcd).
  assert.equal(cache.live, true, 'the held watch is still live');
  assert.equal(await cache.getByName('lost-rm'), undefined, 'Get would have answered the removed volume from the cache');
  assert.equal(await cache.listByName(), undefined, 'List would have answered the removed volume from the cache');
  // Once the watch delivers the delete, the cache answers again, without the volume.
  await waitFor('the cache answers again', async () => (await cache.listByName()) !== undefined);
  assert.deepEqual(await cache.getByName('lost-rm'), { value: undefined });
});

test('etcd down everywhere is reported at once, not retried', async (t) => {
  const cluster = await startEtcd({ members: 1 });
  t.after(() => cluster.stop());
  const client = await createEtcdClient({ endpoints: cluster.endpoints });
  t.after(() => client.close());
  await cluster.stopMember(0);
  const started = performance.now();
  await assert.rejects(client.putIfAbsent('/down/a', '1'), (e: unknown) => e instanceof EtcdError && e.reason === 'refused');
  const took = performance.now() - started;
  assert.ok(took < 1000, `refused took ${Math.round(took)} ms`);
});

test('volume requests from four clients ride through a SIGKILL of the etcd leader', async (t) => {
  const env = await startVolumeEnv({ etcdMembers: 3 });
  t.after(() => env.stop());
  const managers: VolumeManager[] = [];
  t.after(async () => {
    for (const m of managers) await m.close();
  });
  for (let i = 0; i < 4; i++) {
    const client: EtcdClient = await createEtcdClient({ endpoints: env.etcd.endpoints });
    t.after(() => client.close());
    managers.push(managerFor({ ...env, client }, { noReplication: true }));
  }
  for (const m of managers) await settled(m);

  const failures: string[] = [];
  let done = 0;
  let afterKill = 0;
  let killed = false;
  let stop = false;
  const call = async (what: string, op: () => Promise<unknown>) => {
    try {
      await op();
      done++;
      if (killed) afterKill++;
    } catch (e) {
      failures.push(`${what}: ${(e as Error).message}`);
    }
  };
  const worker = async (m: VolumeManager, w: number) => {
    for (let n = 0; !stop; n++) {
      const name = `w${w}-${n}`;
      await call(`create ${name}`, () => m.create(name, { size: '1' }));
      await call(`get ${name}`, async () => assert.ok((await m.get(name)) !== undefined, `${name} not found after its create`));
      await call('list', () => m.list());
      await call(`remove ${name}`, () => m.remove(name));
    }
  };
  const workers = managers.map((m, w) => worker(m, w));

  await new Promise((r) => setTimeout(r, 1500));
  const leader = await env.etcd.leaderIndex();
  assert.notEqual(leader, undefined);
  await env.etcd.killMember(leader!);
  killed = true;
  const killedAt = performance.now();
  // Long enough for the election and for requests that were waiting on the dead leader.
  while (performance.now() - killedAt < 8000 || afterKill < 100) {
    await new Promise((r) => setTimeout(r, 200));
    if (performance.now() - killedAt > 60_000) break;
  }
  stop = true;
  await Promise.all(workers);
  t.diagnostic(`${done} requests succeeded (${afterKill} after the kill), ${failures.length} failed`);
  assert.deepEqual(failures, []);
  assert.ok(afterKill >= 100, `only ${afterKill} requests after the kill`);

  // Nothing is left behind: every volume was removed, on the array and in etcd, and no intent stays.
  assert.deepEqual(await etcdKeys(env.client, INTENTS_PREFIX), []);
  assert.deepEqual(await etcdKeys(env.client, '/volumes/'), []);
  assert.deepEqual(await pluginVolumes(env.primary), []);
});
