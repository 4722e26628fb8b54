import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, beforeEach, describe, test } from 'node:test';
import { createEtcdClient, type EtcdClient } from '../../src/etcd/index.js';
import {
  DEFAULT_LOCK_WAIT_MS,
  EtcdLocks,
  LockError,
  lockPrefix,
  LockTimeoutError,
  rcgLock,
  volumeLock,
} from '../../src/volumes/index.js';
import { freePort } from '../../src/net.js';
import { waitFor } from '../../src/clock.js';
import { EtcdSession } from '../../src/volumes/store/session.js';
import { startEtcd, type EtcdCluster } from '../support/etcd.js';

let etcd: EtcdCluster;
/** Two clients: two nodes of a cluster. */
let nodeA: EtcdClient;
let nodeB: EtcdClient;

before(async () => {
  etcd = await startEtcd({ members: 1 });
  nodeA = await createEtcdClient({ endpoints: etcd.endpoints });
  nodeB = await createEtcdClient({ endpoints: etcd.endpoints });
});

after(async () => {
  nodeA?.close();
  nodeB?.close();
  await etcd?.stop();
});

beforeEach(async () => {
  await nodeA.raw.delete().prefix('/_locks/').exec();
});

async function lockKeys(): Promise<string[]> {
  return nodeA.raw.getAll().prefix('/_locks/').keys();
}

/** Whether `p` settles within `ms`. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([p.then(() => true, () => true), sleep(ms).then(() => false)]);
}

describe('EtcdLocks', () => {
  test('the default wait is 30 s', () => {
    assert.equal(DEFAULT_LOCK_WAIT_MS, 30_000);
  });

  test('mutual exclusion across nodes: a waiter gets the lock when the holder releases it', async () => {
    const a = new EtcdLocks(nodeA, { owner: 'node-a' });
    const b = new EtcdLocks(nodeB, { owner: 'node-b' });
    const held = await a.acquire(volumeLock('vol1'));
    assert.match(held.key, /^\/_locks\/volume\/vol1\/[0-9a-f]+-[0-9a-z]+$/, 'the session lease (hex) and a sequence number');
    const waiting = b.acquire(volumeLock('vol1'), { waitMs: 10_000 });
    assert.equal(await settlesWithin(waiting, 500), false, 'B must wait while A holds the lock');
    const released = Date.now();
    await held.release();
    const got = await waiting;
    assert.ok(Date.now() - released < 1000, 'the waiter is woken by the release, not by polling');
    assert.deepEqual(await lockKeys(), [got.key]);
    await got.release();
    await got.release(); // twice is harmless
    assert.deepEqual(await lockKeys(), []);
  });

  test('an uncontended lock costs one transaction to take and one delete to release (the first also grants the session lease)', async () => {
    const calls = async () => {
      const text = await (await fetch(`${etcd.clientUrls[0]}/metrics`)).text();
      let total = 0;
      for (const m of text.matchAll(/^grpc_server_started_total\{[^}]*grpc_type="unary"[^}]*\} (\d+)$/gm)) total += Number(m[1]);
      return total;
    };
    const locks = new EtcdLocks(nodeA);
    let start = await calls();
    const first = await locks.acquire(volumeLock('cheap'));
    let taken = await calls();
    await first.release();
    assert.equal(taken - start, 2, 'session lease grant + one transaction');
    assert.equal((await calls()) - taken, 1, 'one delete');
    start = await calls();
    const second = await locks.acquire(volumeLock('cheap2'));
    taken = await calls();
    await second.release();
    assert.equal(taken - start, 1, 'one transaction on the session lease');
    assert.equal((await calls()) - taken, 1, 'one delete');
    await locks.close();
  });

  test('withLocks: 12 concurrent operations on one volume from two nodes never overlap, and are served in order', async () => {
    const locks = [new EtcdLocks(nodeA), new EtcdLocks(nodeB)];
    let inside = 0;
    let maxInside = 0;
    const order: number[] = [];
    const ops = Array.from({ length: 12 }, (_, i) =>
      (async () => {
        await sleep(i * 40); // arrival order
        await locks[i % 2]!.withLocks([volumeLock('shared')], async () => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          order.push(i);
          await sleep(20);
          inside--;
        });
      })(),
    );
    await Promise.all(ops);
    assert.equal(maxInside, 1);
    assert.deepEqual(order, [...order].sort((x, y) => x - y), 'first come, first served');
    assert.deepEqual(await lockKeys(), []);
  });

  test('different volumes, and a volume and a replication group of the same name, do not block each other', async () => {
    const a = new EtcdLocks(nodeA);
    const b = new EtcdLocks(nodeB, { waitMs: 300 });
    const held = await a.acquire(volumeLock('vol1'));
    const other = await b.acquire(volumeLock('vol2'));
    const group = await b.acquire(rcgLock('vol1'));
    assert.match(group.key, /^\/_locks\/rcg\/vol1\//);
    // 'vol' is a prefix of 'vol1' but another lock
    const prefixName = await b.acquire(volumeLock('vol'));
    for (const h of [held, other, group, prefixName]) await h.release();
  });

  test('bounded wait: a lock not obtained in time is a clear error naming the holder, and leaves nothing behind', async () => {
    const a = new EtcdLocks(nodeA, { owner: 'node-a pid 1' });
    const b = new EtcdLocks(nodeB, { waitMs: 600, ttlSeconds: 15 });
    const held = await a.acquire(volumeLock('vol1'));
    const started = Date.now();
    await assert.rejects(b.acquire(volumeLock('vol1')), (e: unknown) => {
      assert.ok(e instanceof LockTimeoutError, String(e));
      assert.match(e.message, /^volume vol1 is busy: another operation on it did not finish within 0\.6 s \(held by node-a pid 1 since \d{4}-\d\d-\d\dT[\d:.]+Z\)$/);
      assert.equal(e.fix, 'retry when the other operation has finished; a lock whose holder stopped expires by itself within 15 s');
      assert.equal(e.retryable, true);
      return true;
    });
    const waited = Date.now() - started;
    assert.ok(waited >= 550 && waited < 2500, `waited ${waited} ms`);
    assert.deepEqual(await lockKeys(), [held.key], "the timed-out waiter's queue entry is gone");
    await held.release();
    const next = await b.acquire(volumeLock('vol1'));
    await next.release();
  });

  test('a timed-out waiter in the middle of the queue does not strand the ones behind it', async () => {
    const a = new EtcdLocks(nodeA);
    const held = await a.acquire(volumeLock('q'));
    const impatient = new EtcdLocks(nodeB, { waitMs: 300 }).acquire(volumeLock('q'));
    await sleep(50);
    const patient = new EtcdLocks(nodeB, { waitMs: 10_000 }).acquire(volumeLock('q'));
    await assert.rejects(impatient, LockTimeoutError);
    await sleep(200);
    await held.release();
    const got = await patient;
    await got.release();
  });

  test('withLocks takes several locks in a fixed order: opposite orders do not deadlock', async () => {
    const a = new EtcdLocks(nodeA, { waitMs: 5000 });
    const b = new EtcdLocks(nodeB, { waitMs: 5000 });
    const work = () => sleep(50);
    const runs = [];
    for (let i = 0; i < 4; i++) {
      runs.push(a.withLocks([volumeLock('src'), volumeLock('clone')], work));
      runs.push(b.withLocks([volumeLock('clone'), volumeLock('src')], work));
    }
    await Promise.all(runs);
    assert.deepEqual(await lockKeys(), []);
  });

  test('firstWrite goes with a free lock in its transaction, and never while another holds the lock or its guard changed', async () => {
    const a = new EtcdLocks(nodeA, { owner: 'node-a' });
    const b = new EtcdLocks(nodeB, { owner: 'node-b' });
    const intentKey = '/test-intents/i1';
    await nodeA.raw.delete().key(intentKey).exec();
    await nodeA.raw.put('/test-records/r1').value('v1').exec();
    const modRevision = (await nodeA.raw.get('/test-records/r1').exec()).kvs[0]!.mod_revision;
    const firstWrite = { ifModRevision: { key: '/test-records/r1', modRevision }, put: { key: intentKey, value: 'remove r1' } };

    // Free lock, guard true: written with the lock, one revision for both.
    await a.withLocks([volumeLock('r1')], async (_s, locks) => {
      assert.equal(locks.firstWritten, true);
      const [lock, intent] = await Promise.all([nodeA.raw.get(locks.keys[0]!).exec(), nodeA.raw.get(intentKey).exec()]);
      assert.equal(intent.kvs[0]?.value.toString(), 'remove r1');
      assert.equal(intent.kvs[0]?.create_revision, lock.kvs[0]?.create_revision, 'one transaction');
    }, { firstWrite });
    await nodeA.raw.delete().key(intentKey).exec();

    // Held by B: nothing of it is written while A waits, nor after.
    const held = await b.acquire(volumeLock('r1'));
    const waiting = a.withLocks([volumeLock('r1')], async (_s, locks) => locks.firstWritten, { firstWrite, waitMs: 10_000 });
    await sleep(300);
    assert.equal((await nodeA.raw.get(intentKey).exec()).kvs.length, 0, 'no intent while another node holds the lock');
    await held.release();
    assert.equal(await waiting, false);
    assert.equal((await nodeA.raw.get(intentKey).exec()).kvs.length, 0);

    // Guard changed (the record was written meanwhile): nothing of it is written.
    await nodeA.raw.put('/test-records/r1').value('v2').exec();
    assert.equal(await a.withLocks([volumeLock('r1')], async (_s, locks) => locks.firstWritten, { firstWrite }), false);
    assert.equal((await nodeA.raw.get(intentKey).exec()).kvs.length, 0);
    assert.deepEqual(await lockKeys(), []);
  });

  test('withLocks releases its locks when the work fails', async () => {
    const a = new EtcdLocks(nodeA);
    await assert.rejects(
      a.withLocks([volumeLock('v1'), rcgLock('g1')], async () => {
        assert.equal((await lockKeys()).length, 2);
        throw new Error('array said no');
      }),
      /array said no/,
    );
    assert.deepEqual(await lockKeys(), []);
  });

  test('the lease is kept alive while the lock is held, beyond its TTL', async () => {
    const a = new EtcdLocks(nodeA, { ttlSeconds: 1 });
    const held = await a.acquire(volumeLock('long'));
    await sleep(3500);
    assert.deepEqual(await lockKeys(), [held.key]);
    assert.equal(held.signal.aborted, false);
    await assert.rejects(new EtcdLocks(nodeB, { waitMs: 300 }).acquire(volumeLock('long')), LockTimeoutError);
    await held.release();
  });

  test('a holder that dies without releasing: its lease expires and the waiter gets the lock', async () => {
    const doomed = await createEtcdClient({ endpoints: etcd.endpoints });
    const held = await new EtcdLocks(doomed, { ttlSeconds: 2 }).acquire(volumeLock('orphan'));
    const waiting = new EtcdLocks(nodeB, { waitMs: 15_000 }).acquire(volumeLock('orphan'));
    await sleep(200);
    const died = Date.now();
    doomed.close(); // no release: keep-alives stop
    const got = await waiting;
    const after = Date.now() - died;
    assert.ok(after >= 500 && after < 6000, `the lock passed ${after} ms after the holder died (TTL 2 s)`);
    assert.deepEqual(await lockKeys(), [got.key]);
    assert.notEqual(got.key, held.key);
    await sleep(Math.max(0, 3000 - after));
    assert.equal(held.signal.aborted, true, 'the closed holder is told its lock is lost');
    assert.match(String((held.signal.reason as Error).message), /^the locks of .+ were lost: their etcd lease was not renewed for 2 s$/);
    await got.release();
  });

  test('a lease etcd no longer has (revoked elsewhere): the holder is told at its next renewal, not a TTL later', async () => {
    const session = new EtcdSession(nodeA, { owner: 'node-a', ttlSeconds: 6 });
    const locks = new EtcdLocks(nodeA, { session });
    const held = await locks.acquire(volumeLock('revoked'));
    const { id } = await session.current();
    const revoked = Date.now();
    await nodeB.raw.leaseClient.leaseRevoke({ ID: BigInt(`0x${id}`).toString() });
    await waitFor('the holder told', () => held.signal.aborted, { timeoutMs: 10_000 });
    const after = Date.now() - revoked;
    assert.ok(after < 4000, `told ${after} ms after the revoke: renewals every 2 s, TTL 6 s`);
    assert.match(String((held.signal.reason as Error).message), /^the locks of node-a were lost: etcd says their lease expired$/);
    await session.close();
  });

  test('a holder process killed with SIGKILL: its lock expires within the TTL', async () => {
    const script = `
      const { createEtcdClient } = await import(${JSON.stringify(new URL('../../src/etcd/index.js', import.meta.url).href)});
      const { EtcdLocks, volumeLock } = await import(${JSON.stringify(new URL('../../src/volumes/index.js', import.meta.url).href)});
      const client = await createEtcdClient({ endpoints: JSON.parse(process.env.ENDPOINTS) });
      const held = await new EtcdLocks(client, { ttlSeconds: 2, owner: 'child' }).acquire(volumeLock('killed'));
      console.log(held.key);
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, ENDPOINTS: JSON.stringify(etcd.endpoints) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const [line] = (await once(child.stdout!, 'data')) as [Buffer];
      assert.match(line.toString(), /^\/_locks\/volume\/killed\//);
      const waiting = new EtcdLocks(nodeB, { waitMs: 15_000 }).acquire(volumeLock('killed'));
      assert.equal(await settlesWithin(waiting, 300), false);
      const killed = Date.now();
      child.kill('SIGKILL');
      const got = await waiting;
      const after = Date.now() - killed;
      assert.ok(after < 6000, `the lock passed ${after} ms after the holder was killed (TTL 2 s)`);
      await got.release();
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('a waiter keeps its place in the queue while waiting longer than its TTL', async () => {
    const held = await new EtcdLocks(nodeA).acquire(volumeLock('slow'));
    const waiting = new EtcdLocks(nodeB, { ttlSeconds: 1, waitMs: 10_000 }).acquire(volumeLock('slow'));
    await sleep(3000);
    assert.equal((await lockKeys()).length, 2, "the waiter's queue entry is renewed");
    await held.release();
    const got = await waiting;
    assert.equal(got.signal.aborted, false);
    await got.release();
  });

  test('lock names are the real names: a template left unexpanded (upstream #748) is refused', () => {
    assert.equal(lockPrefix(volumeLock('vol1')), '/_locks/volume/vol1/');
    assert.equal(lockPrefix(rcgLock('rg1')), '/_locks/rcg/rg1/');
    for (const bad of ['{volname}', '{src_vol_name}', '', 'a/b']) {
      assert.throws(() => lockPrefix(volumeLock(bad)), TypeError, bad);
    }
  });

  test('etcd down: a clear error naming the lock and the cause', async () => {
    const dead = await createEtcdClient({ endpoints: [{ host: '127.0.0.1', port: await freePort() }] });
    try {
      await assert.rejects(new EtcdLocks(dead).acquire(volumeLock('vol1')), (e: unknown) => {
        assert.ok(e instanceof LockError, String(e));
        assert.match(e.message, /^ETCD lock failed: volume vol1: etcd 127\.0\.0\.1:\d+: refused/);
        assert.equal(e.retryable, true);
        return true;
      });
    } finally {
      dead.close();
    }
  });
});
