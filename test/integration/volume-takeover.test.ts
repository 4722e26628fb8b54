/**
 * Two hosts, one etcd, one array: two volume managers in this process play host A and host B (distinct node ids,
 * array host names, initiators and mount prefixes), on this machine's real loop devices and ext4, against a real
 * etcd and the WSAPI simulator. A Mount on B of a volume A holds waits `mountConflictDelay`; then B takes it over
 * when A's plugin is not alive (fencing A's VLUNs), or is refused while it is. A takeover cut short at any step is
 * settled by the repair at B's next start. Both hosts share one kernel here, so the simulator's fencing shows on the
 * array (A's VLUN gone), not in A's kernel: a real array cuts A's paths.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { MountIntentStore } from '../../src/volumes/store/mount-intents.js';
import { hostsWorld, isMounted, mountsUnder, type TestHost } from '../fixtures/test-hosts.js';
import { buildConfig } from '../fixtures/volume-env.js';

const world = hostsWorld('hpe-takeover-');

const A: TestHost = { node: 'node-a', hostname: 'host-a' };
const B: TestHost = { node: 'node-b', hostname: 'host-b' };

test('B takes over from a dead A after mountConflictDelay, fencing A; A cleans only its local side later', async (t) => {
  const a = await world.plugin(A);
  const b = await world.plugin(B);
  await a.create('t1', { size: '1', mountConflictDelay: '2' });
  const onA = await a.mount('t1', 'ca');
  writeFileSync(join(onA.Mountpoint, 'from-a.txt'), 'written on host A\n');
  execFileSync('sync');
  assert.deepEqual(await world.vlunHosts(), ['host-a']);

  await world.dies(a, A);
  const started = performance.now();
  const onB = await b.mount('t1', 'cb');
  const took = performance.now() - started;
  t.diagnostic(`takeover (delay 2 s + fence + attach + mount): ${Math.round(took)} ms`);
  assert.ok(took >= 2000, `B waited mountConflictDelay first (${Math.round(took)} ms)`);
  assert.equal(readFileSync(join(onB.Mountpoint, 'from-a.txt'), 'utf8'), 'written on host A\n', "B reads A's data");
  assert.deepEqual(await world.vlunHosts(), ['host-b'], "A's VLUN is gone: A is fenced");
  let r = (await world.store.getByName('t1'))!.record;
  assert.deepEqual(r.node_mount_info, { 'node-b': ['cb'] }, 'no record names A any more as a holder');
  assert.deepEqual(r.old_path_info?.map(([n, p]) => [n, p.mount_dir]), [['node-a', onA.Mountpoint]], "A's old mount, for A's cleanup");
  assert.ok(isMounted(onA.Mountpoint), "A's kernel still has its mount until A's plugin looks (one kernel here)");

  // A's plugin comes back; Docker sends the Unmount of A's dead container.
  const a2 = await world.plugin(A);
  await a2.unmount('t1', 'ca');
  assert.equal(isMounted(onA.Mountpoint), false, "A's local mount is released");
  r = (await world.store.getByName('t1'))!.record;
  assert.deepEqual(r.node_mount_info, { 'node-b': ['cb'] }, "B's ownership is untouched");
  assert.equal(r.old_path_info, undefined, "A's cleanup entry is gone");
  assert.deepEqual(await world.vlunHosts(), ['host-b'], 'A never touched the array');
  assert.equal(readFileSync(join(onB.Mountpoint, 'from-a.txt'), 'utf8'), 'written on host A\n', 'B still reads its volume');
  // A cannot mount it back while B's plugin is alive and holds it.
  await assert.rejects(a2.mount('t1', 'ca2'), /Volume t1 is mounted on another node: node-b \(1 container mount\); waited 2 s/);

  await b.unmount('t1', 'cb');
  assert.deepEqual(await world.vlunHosts(), []);
  assert.deepEqual(mountsUnder(world.root), []);
});

test('a free volume moves between hosts without waiting: A unmounts, B mounts', async (t) => {
  const a = await world.plugin(A);
  const b = await world.plugin(B);
  await a.create('t2', { size: '1' });
  const onA = await a.mount('t2', 'c1');
  writeFileSync(join(onA.Mountpoint, 'f'), 'x');
  await a.unmount('t2', 'c1');
  const started = performance.now();
  const onB = await b.mount('t2', 'c2');
  t.diagnostic(`Mount of a free volume on a second host: ${Math.round(performance.now() - started)} ms`);
  assert.equal(readFileSync(join(onB.Mountpoint, 'f'), 'utf8'), 'x');
  assert.deepEqual(await world.vlunHosts(), ['host-b']);
  await b.unmount('t2', 'c2');
});

test('two hosts mounting one new volume at once: one formats and mounts, the other waits and is refused (A alive)', async () => {
  const a = await world.plugin(A);
  const b = await world.plugin(B);
  await a.create('t3', { size: '1', mountConflictDelay: '1' });
  const results = await Promise.allSettled([a.mount('t3', 'ca'), b.mount('t3', 'cb')]);
  const ok = results.filter((x) => x.status === 'fulfilled');
  const refused = results.filter((x): x is PromiseRejectedResult => x.status === 'rejected');
  assert.equal(ok.length, 1, 'exactly one host mounts it');
  assert.equal(refused.length, 1);
  assert.match((refused[0]!.reason as Error).message, /Volume t3 is mounted on another node: node-[ab] \(1 container mount\); waited 1 s/);
  const holders = Object.keys((await world.store.getByName('t3'))!.record.node_mount_info ?? {});
  assert.equal(holders.length, 1);
  assert.equal(mountsUnder(world.root).length, 1, 'one mount, one filesystem');
  await (holders[0] === 'node-a' ? a : b).unmount('t3', holders[0] === 'node-a' ? 'ca' : 'cb');
});

for (const step of ['intent', 'fenced', 'recorded'] as const) {
  test(`kill -9 of the plugin taking over, after "${step}": B's next start settles it; one owner, mountable`, async () => {
    const a = await world.plugin(A);
    await a.create('t4', { size: '1', mountConflictDelay: '1' });
    await a.mount('t4', 'ca');
    await world.dies(a, A);

    // B's plugin, in a process of its own, is killed with SIGKILL right after the step.
    const { config, secrets } = buildConfig(world.env, { noReplication: true });
    const file = join(world.root, 'hpe.conf');
    writeFileSync(file, config.text, { mode: 0o600 });
    const child = spawn(process.execPath, [fileURLToPath(new URL('../fixtures/takeover-crash-child.js', import.meta.url)), file, B.node, B.hostname, join(world.root, `host-${B.node}`), 't4', step], {
      env: { ...process.env, VM_SECRETS: JSON.stringify([...secrets.entries()]), VM_MOUNT_PREFIX: join(world.root, `${B.node}-`) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
    assert.equal(signal, 'SIGKILL', `the child died at the step: ${output}`);
    await new Promise((r) => setTimeout(r, 1500)); // its locks expire (TTL 1 s)

    // B's plugin starts again: its repair settles the takeover intent (A is still not alive: completed).
    const b2 = await world.plugin(B);
    const report = await b2.repair();
    assert.deepEqual(report.mounts.fixed.map((f) => f.action), ['completed takeover']);
    assert.deepEqual(await new MountIntentStore(world.env.client).listForNode(B.node), { intents: [], unreadable: [] });
    const r = (await world.store.getByName('t4'))!.record;
    assert.equal(r.node_mount_info, undefined, 'A is out of the record, and B had not mounted yet');
    assert.deepEqual(await world.vlunHosts(), [], 'A is fenced');
    const onB = await b2.mount('t4', 'cb');
    assert.ok(isMounted(onB.Mountpoint));
    assert.deepEqual(Object.keys((await world.store.getByName('t4'))!.record.node_mount_info ?? {}), ['node-b'], 'exactly one owner');
    await b2.unmount('t4', 'cb');
  });
}
