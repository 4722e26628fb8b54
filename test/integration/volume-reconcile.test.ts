/**
 * The reconcile at start: this node's records against what the kernel has, after the plugin was killed (its mount
 * namespace gone, devices kept, a container's mount still there), after dockerd restarted (no container mount
 * left, no Unmount sent), after a reboot (simulated: everything unmounted and detached behind the plugin's
 * back), at the first start of a new boot with the device back, and with a stray mount under the mount prefix.
 * Real loop devices and ext4, a real etcd, the WSAPI simulator.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { waitFor } from '../../src/clock.js';
import type { VolumeManager, VolumeManagerOptions } from '../../src/volumes/manager.js';
import { hostsWorld, isMounted as mounted, simLoops as loopsOf } from '../fixtures/test-hosts.js';
import { countingListings } from '../support/etcd.js';

const world = hostsWorld('hpe-reconcile-');

function plugin(node = 'node-a', overrides: Partial<VolumeManagerOptions> = {}): Promise<VolumeManager> {
  return world.plugin({ node, hostname: `host-${node}` }, overrides);
}

/** The plugin process dies: no Unmount, no cleanup. */
const killed = (m: VolumeManager) => world.dies(m, { node: 'node-a', hostname: 'host-node-a' });

const simLoops = () => loopsOf(world.env.primary);

/**
 * A volume mounted for container c1 (file `f` = 'kept'), a container's own mount of it (a bind mount standing for
 * the container's namespace), then the plugin killed: its mount namespace goes, the container's mount and the
 * device stay.
 */
async function containerOutlivesPlugin(volume: string): Promise<{ Mountpoint: string; container: string }> {
  const m = await plugin();
  await m.create(volume, { size: '1' });
  const { Mountpoint } = await m.mount(volume, 'c1');
  writeFileSync(join(Mountpoint, 'f'), 'kept');
  const container = join(world.root, `container-${volume}`);
  mkdirSync(container);
  execFileSync('mount', ['--bind', Mountpoint, container]);
  await killed(m);
  execFileSync('umount', [Mountpoint]);
  return { Mountpoint, container };
}

test('plugin killed while a container uses the volume: the next start mounts it again, references kept', async () => {
  const { Mountpoint, container } = await containerOutlivesPlugin('r1');

  const m2 = await plugin();
  const report = await m2.repair();
  assert.deepEqual(report.host.actions.map((a) => [a.volume, a.action]), [['r1', 'mounted again']]);
  assert.ok(mounted(Mountpoint));
  assert.equal(readFileSync(join(Mountpoint, 'f'), 'utf8'), 'kept', 'the same filesystem, never formatted');
  assert.deepEqual((await world.store.getByName('r1'))!.record.node_mount_info, { 'node-a': ['c1'] }, "the container's reference is kept");
  execFileSync('umount', [container]);
  await m2.unmount('r1', 'c1');
  assert.equal(mounted(Mountpoint), false);
  assert.deepEqual(simLoops(), []);
  assert.deepEqual(await world.vlunHosts(), []);
});

test('dockerd restarted after a crash (its containers gone, no Unmount sent): the device, mounted nowhere, is released at start', async () => {
  const m = await plugin();
  await m.create('r4', { size: '1' });
  const { Mountpoint } = await m.mount('r4', 'c4');
  writeFileSync(join(Mountpoint, 'f'), 'kept');
  await killed(m);
  execFileSync('umount', [Mountpoint]); // the plugin's and the container's mounts are gone; the device stays
  assert.equal(simLoops().length, 1);

  const m2 = await plugin();
  const report = await m2.repair();
  assert.deepEqual(report.host.actions.map((a) => [a.volume, a.action]), [['r4', 'released']]);
  assert.match(report.host.actions[0]!.detail, /mounted nowhere on this host/);
  assert.deepEqual((await world.store.getByName('r4'))!.record.node_mount_info ?? {}, {}, "the dead container's reference is gone");
  assert.deepEqual(simLoops(), [], 'detached');
  assert.deepEqual(await world.vlunHosts(), [], "this host's VLUN removed");
  const again = await m2.mount('r4', 'c5');
  assert.equal(readFileSync(join(again.Mountpoint, 'f'), 'utf8'), 'kept');
  await m2.unmount('r4', 'c5');
  assert.deepEqual(simLoops(), []);
});

test("containers gone without their Unmount after a start that mounted the volume again: Remove releases their references, never while one still mounts it or right after a Mount", async () => {
  const { Mountpoint, container } = await containerOutlivesPlugin('r5');

  const m2 = await plugin('node-a', { staleReferences: { graceMs: 0, checksAfterStartMs: [] } });
  assert.deepEqual((await m2.repair()).host.actions.map((a) => [a.volume, a.action]), [['r5', 'mounted again']]);
  // The container still mounts it: refused, and the plugin's mount is back.
  await assert.rejects(m2.remove('r5'), /Volume r5 is in use and cannot be removed: mounted on node-a \(1 container mount\)/);
  assert.ok(mounted(Mountpoint));
  assert.equal(readFileSync(join(Mountpoint, 'f'), 'utf8'), 'kept');
  assert.equal(readFileSync(join(container, 'f'), 'utf8'), 'kept', "the container's mount is untouched");

  // dockerd stops the container without its Unmount (docker/for-linux#404).
  execFileSync('umount', [container]);
  await m2.remove('r5');
  assert.equal(await world.store.getByName('r5'), undefined);
  assert.equal(mounted(Mountpoint), false);
  assert.deepEqual(simLoops(), [], 'detached');
  assert.deepEqual(await world.vlunHosts(), [], "this host's VLUN removed");
});

test('right after a Mount, a dead reference is not checked: a container may be about to bind the folder', async () => {
  const { Mountpoint, container } = await containerOutlivesPlugin('r7');
  const m2 = await plugin('node-a', { staleReferences: { graceMs: 60_000, checksAfterStartMs: [] } });
  await m2.repair();
  execFileSync('umount', [container]);
  // A new container mounts and unmounts it: c1's reference stays, and within the grace time it is not checked.
  await m2.mount('r7', 'c2');
  await m2.unmount('r7', 'c2');
  await assert.rejects(m2.remove('r7'), /is in use and cannot be removed/);
  assert.deepEqual((await world.store.getByName('r7'))!.record.node_mount_info, { 'node-a': ['c1'] });
  assert.ok(mounted(Mountpoint), 'left mounted as it was');
});

test('after a start that mounted a volume again, it is checked by itself later: released once no container mounts it', async () => {
  const { Mountpoint, container } = await containerOutlivesPlugin('r6');

  const m2 = await plugin('node-a', { staleReferences: { graceMs: 0, checksAfterStartMs: [200, 1500] } });
  assert.deepEqual((await m2.repair()).host.actions.map((a) => [a.volume, a.action]), [['r6', 'mounted again']]);
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual((await world.store.getByName('r6'))!.record.node_mount_info, { 'node-a': ['c1'] }, 'the first check found the container still mounting it');
  assert.ok(mounted(Mountpoint));
  execFileSync('umount', [container]);
  await waitFor('released by the second check', async () => (await world.store.getByName('r6'))!.record.node_mount_info === undefined, { timeoutMs: 5000 });
  assert.equal(mounted(Mountpoint), false);
  assert.deepEqual(simLoops(), [], 'detached');
  await m2.remove('r6');
});

test('reboot (everything unmounted and detached behind the plugin): released at start, and another host mounts it at once', async (t) => {
  const m = await plugin();
  await m.create('r2', { size: '1' });
  const { Mountpoint } = await m.mount('r2', 'c1');
  writeFileSync(join(Mountpoint, 'f'), 'survives');
  execFileSync('sync');
  await killed(m);
  execFileSync('umount', [Mountpoint]);
  for (const [device] of simLoops()) execFileSync('losetup', ['-d', device]);

  const m2 = await plugin();
  const report = await m2.repair({ newBoot: true });
  assert.deepEqual(report.host.actions.map((a) => [a.volume, a.action]), [['r2', 'released']]);
  const r = (await world.store.getByName('r2'))!.record;
  assert.equal(r.node_mount_info, undefined, 'no stale reference holds the volume');
  assert.deepEqual(await world.vlunHosts(), [], "this host's VLUN is removed");

  // Free now: another host's Mount does not wait mountConflictDelay (30 s by default).
  const b = await plugin('node-b');
  const started = performance.now();
  const onB = await b.mount('r2', 'cb');
  t.diagnostic(`Mount on another host right after the reconcile: ${Math.round(performance.now() - started)} ms`);
  assert.ok(performance.now() - started < 5000);
  assert.equal(readFileSync(join(onB.Mountpoint, 'f'), 'utf8'), 'survives');
  await b.unmount('r2', 'cb');
});

test('first start of a new boot with the device back (iSCSI logs in by itself): released, containers of the last boot are gone', async () => {
  const m = await plugin();
  await m.create('r3', { size: '1' });
  const { Mountpoint } = await m.mount('r3', 'c1');
  await killed(m);
  execFileSync('umount', [Mountpoint]);
  assert.equal(simLoops().length, 1, 'the device is still there');

  const m2 = await plugin();
  const report = await m2.repair({ newBoot: true });
  assert.deepEqual(report.host.actions.map((a) => [a.volume, a.action]), [['r3', 'released']]);
  assert.deepEqual(simLoops(), [], 'detached');
  assert.equal((await world.store.getByName('r3'))!.record.node_mount_info, undefined);
  const again = await m2.mount('r3', 'c2');
  assert.ok(mounted(again.Mountpoint));
  await m2.unmount('r3', 'c2');
});

test('a mount under the mount prefix that no record names is unmounted; others are left alone', async () => {
  const m = await plugin();
  const stray = join(world.root, 'node-a-dcv-stray');
  const foreign = join(world.root, 'elsewhere');
  for (const dir of [stray, foreign]) {
    mkdirSync(dir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', dir]);
  }
  try {
    const report = await m.repair();
    assert.deepEqual(report.host.actions.map((a) => [a.volume, a.action]), [[stray, 'unmounted']]);
    assert.equal(mounted(stray), false);
    assert.ok(mounted(foreign), 'outside the mount prefix: not ours');
  } finally {
    execFileSync('umount', [foreign]);
  }
});

test('a device of a plugin volume that no record holds is detached at start, and this host\'s VLUN removed', async () => {
  const m = await plugin();
  await m.create('r5', { size: '1' });
  const { Mountpoint } = await m.mount('r5', 'c1');
  await killed(m);
  execFileSync('umount', [Mountpoint]);
  // The record lost its hold (e.g. cleared by hand) while the device and the export stayed.
  const stored = (await world.store.getByName('r5'))!;
  const { node_mount_info: _held, ...rest } = stored.record;
  await world.store.update({ ...rest, path_info: null }, stored.modRevision);
  assert.equal(simLoops().length, 1);
  assert.deepEqual(await world.vlunHosts(), ['host-node-a']);

  const m2 = await plugin();
  const report = await m2.repair();
  assert.deepEqual(report.host.actions.map((a) => a.action), ['detached']);
  assert.deepEqual(simLoops(), [], 'detached');
  assert.deepEqual(await world.vlunHosts(), [], "this host's VLUN is removed");
  const again = await m2.mount('r5', 'c2');
  assert.ok(mounted(again.Mountpoint), 'mountable again');
  await m2.unmount('r5', 'c2');
});

test('the repair at start lists the volume records once, for the reconcile and the array scan', async () => {
  const m = await plugin();
  await m.create('r6', { size: '1' });
  const { Mountpoint } = await m.mount('r6', 'c1');
  await killed(m);
  execFileSync('umount', [Mountpoint]);
  const stray = join(world.root, 'node-a-dcv-stray');
  mkdirSync(stray, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', stray]);

  const counted = countingListings(world.env.client, '/volumes/');
  const m2 = await plugin('node-a', { etcd: counted.client });
  const before = counted.listings();
  const report = await m2.repair();
  assert.deepEqual(report.host.actions.map((a) => [a.volume, a.action]), [['r6', 'released'], [stray, 'unmounted']], 'the reconcile saw the records');
  assert.equal(report.scanned.records, 1, 'and so did the array scan');
  assert.equal(counted.listings() - before, 1, 'one listing of /volumes/');
});
