/**
 * The list-then-watch helper (src/etcd/prefix-watch.ts) on a real etcd: what is committed between the listing and
 * the watch's creation reaches the handlers (etcd replays it from the listing's revision + 1 at once, so a handler
 * attached after the watch is created would miss it and the volume cache would lack that volume until a relist).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { waitFor } from '../../src/clock.js';
import { createEtcdClient, listPrefix, PrefixWatch, type EtcdClient } from '../../src/etcd/index.js';
import { startEtcd, type EtcdCluster } from '../support/etcd.js';

let etcd: EtcdCluster;
let client: EtcdClient;

before(async () => {
  etcd = await startEtcd({ members: 1 });
  client = await createEtcdClient({ endpoints: etcd.endpoints });
});

after(async () => {
  client?.close();
  await etcd?.stop();
});

test('keys written between the listing and the watch are delivered, each time the watch is made', async () => {
  for (let round = 0; round < 5; round++) {
    const prefix = `/pw${round}/`;
    await client.raw.put(`${prefix}before`).value('b');
    const seen = new Map<string, string>();
    let live = false;
    const watch = new PrefixWatch(
      client,
      prefix,
      {
        listed: (l) => l.entries.forEach((e) => seen.set(e.key, e.value)),
        put: (e) => seen.set(e.key, e.value),
        delete: (key) => seen.delete(key),
        live: () => (live = true),
        lost: (why) => assert.fail(`watch lost: ${why}`),
      },
      {
        // Another host writes right after this one listed, before its watch exists.
        list: async () => {
          const listing = await listPrefix(client, prefix);
          for (let i = 0; i < 3; i++) await client.raw.put(`${prefix}gap${i}`).value(String(i));
          await client.raw.delete().key(`${prefix}before`);
          return listing;
        },
      },
    );
    watch.start();
    try {
      await waitFor('the watch is live', async () => live);
      await client.raw.put(`${prefix}after`).value('a');
      await waitFor('the write after the watch is seen', async () => seen.has('after'));
      assert.deepEqual([...seen.keys()].sort(), ['after', 'gap0', 'gap1', 'gap2'], `round ${round}`);
    } finally {
      await watch.stop();
    }
  }
});

test('two prefix watches started together on one client both receive their keys', async () => {
  const seen: Record<string, string[]> = { '/two-a/': [], '/two-b/': [] };
  const live = new Set<string>();
  const watches = Object.keys(seen).map(
    (prefix) =>
      new PrefixWatch(client, prefix, {
        listed: () => undefined,
        put: (e) => seen[prefix]!.push(e.key),
        delete: () => undefined,
        live: () => live.add(prefix),
        lost: (why) => assert.fail(`watch lost: ${why}`),
      }),
  );
  for (const w of watches) w.start();
  try {
    await waitFor('both live', async () => live.size === 2);
    await client.raw.put('/two-a/k').value('1');
    await client.raw.put('/two-b/k').value('1');
    await waitFor('both keys seen', async () => seen['/two-a/']!.length === 1 && seen['/two-b/']!.length === 1, { timeoutMs: 3000 });
  } finally {
    for (const w of watches) await w.stop();
  }
});
