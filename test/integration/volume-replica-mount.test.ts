/**
 * Mount of replicated volumes, on this machine's real loop devices and ext4, against a real etcd and two WSAPI
 * simulators that are each other's remote copy target (sim1 the group's natural primary, sim2 its secondary).
 * Active/Passive: the volume is exported and attached from the array where its group is primary now; a failover,
 * recover and restore done through the simulators' API move the data and the mount with them; while a restore is
 * half way the Mount is refused with both sides' roles. Peer Persistence: exported from both arrays (only the first
 * array's file is attached as a loop device here: a real host's multipath adds the second array's paths), removed
 * from both by Unmount, and a takeover fences the dead host on both; a device no record holds is released at start on
 * both (a target that does not answer leaves it to the background repair).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { RcgActions, RcgRecoveryActions, RcgRoles } from '../../src/array/index.js';
import { waitFor } from '../../src/clock.js';
import { createEtcdClient } from '../../src/etcd/index.js';
import { createLogger } from '../../src/log.js';
import { freePort } from '../../src/net.js';
import type { VolumeManager, VolumeManagerOptions } from '../../src/volumes/manager.js';
import { MountIntentStore } from '../../src/volumes/store/mount-intents.js';
import { nodeKey } from '../../src/volumes/store/presence.js';
import { VolumeStore } from '../../src/volumes/store/records.js';
import { hostManager, mountsUnder as mountsUnderRoot, releaseHostSide, simLoops as loopsOf, vlunHosts, type TestHost } from '../fixtures/test-hosts.js';
import { PRIMARY_PASSWORD, SECONDARY_PASSWORD, clearArray, clearEtcd, startSim, stopSim, type SimHandle, type VolumeEnv } from '../fixtures/volume-env.js';
import { startEtcd } from '../support/etcd.js';

const PEER_PERSISTENCE = 'replication_mode:synchronous, quorum_witness_ip:10.0.0.9';

let env: Pick<VolumeEnv, 'etcd' | 'client' | 'primary' | 'secondary' | 'logger'>;
let root: string;
let store: VolumeStore;
let intents: MountIntentStore;
const managers: VolumeManager[] = [];

const A: TestHost = { node: 'node-a', hostname: 'host-a' };
const B: TestHost = { node: 'node-b', hostname: 'host-b' };

let port1: number;
/** Starts the primary array again (its state kept) when a test stopped it. */
let primaryBack: (() => Promise<void>) | undefined;

async function plugin(h: TestHost, replication?: string, overrides: Partial<VolumeManagerOptions> = {}): Promise<VolumeManager> {
  const m = await hostManager(env, root, h, replication === undefined ? {} : { replication }, overrides);
  managers.push(m);
  assert.ok(m.backendStates().every((s) => s.state === 'OK' && (s.target === undefined || s.target.state === 'OK')), JSON.stringify(m.backendStates()));
  return m;
}

const mountsUnder = () => mountsUnderRoot(root);
/** Loop devices on either simulator's volume files: `[device, backing file]`. */
const simLoops = () => loopsOf(env.primary, env.secondary);

async function record(name: string) {
  return (await store.getByName(name))!.record;
}

async function recover(h: SimHandle, group: string, action: number, extra: Record<string, unknown> = {}): Promise<void> {
  await h.admin.request('POST', `/remotecopygroups/${encodeURIComponent(group)}`, { action, ...extra });
}

async function role(h: SimHandle, group: string): Promise<[number, boolean | undefined]> {
  const g = await h.admin.getRemoteCopyGroup(group);
  return [g.role, g.roleReversed];
}

/** Every group on both arrays, whatever its role, with its volumes (a test may leave them failed over). */
async function clearGroups(h: SimHandle): Promise<void> {
  for (const g of await h.admin.getRemoteCopyGroups()) {
    for (const v of g.volumes) await h.admin.removeVolumeFromRemoteCopyGroup(g.name, v.localVolumeName).catch(() => undefined);
    await h.admin.deleteRemoteCopyGroup(g.name).catch(() => undefined);
  }
}

before(async () => {
  const etcd = await startEtcd({ members: 1 });
  const client = await createEtcdClient({ endpoints: etcd.endpoints });
  // Each array is the other's remote copy target: a failover is issued on the secondary, which reaches back.
  port1 = await freePort();
  const secondary = await startSim({
    systemName: 'sim2',
    cpgs: ['SEC_r1', 'SEC_r5'],
    password: SECONDARY_PASSWORD,
    remoteTarget: { systemName: 'sim1', apiUrl: `http://127.0.0.1:${port1}/api/v1`, password: PRIMARY_PASSWORD },
  });
  const primary = await startSim({ systemName: 'sim1', cpgs: ['FC_r1', 'FC_r5'], password: PRIMARY_PASSWORD, port: port1, remote: secondary });
  env = { etcd, client, primary, secondary, logger: createLogger(process.env['VM_TEST_LOG'] === '1' ? 'DEBUG' : 'ERROR') };
  store = new VolumeStore(client);
  intents = new MountIntentStore(client);
  root = mkdtempSync(join(tmpdir(), 'hpe-replica-mount-'));
});

afterEach(async () => {
  for (const m of managers.splice(0)) await m.close();
  await primaryBack?.();
  await releaseHostSide(root, env.primary, env.secondary);
  await clearGroups(env.primary);
  await clearGroups(env.secondary);
  await clearArray(env.primary);
  await clearArray(env.secondary);
  await clearEtcd(env.client);
});

after(async () => {
  if (env !== undefined) {
    await stopSim(env.primary);
    await stopSim(env.secondary);
    env.client.close();
    await env.etcd.stop();
  }
  const left = mountsUnder();
  rmSync(root, { recursive: true, force: true });
  assert.deepEqual(left, [], 'no mount is left');
});

test('Active/Passive: mounted from the primary; after a failover from the secondary with the same data; back after recover and restore', async () => {
  const a = await plugin(A);
  await a.create('r1', { replicationGroup: 'grp1', size: '1' });
  const r = await record('r1');
  const vol = r['3par_vol_name'];
  const mirror = r.rcg_info!.remote_rcg_name;

  const first = await a.mount('r1', 'c1');
  assert.deepEqual(simLoops().map(([, file]) => file.startsWith(env.primary.dir)), [true], "attached from the primary array's volume");
  assert.deepEqual(await vlunHosts(env.primary, vol), ['host-a']);
  assert.deepEqual(await vlunHosts(env.secondary, vol), [], 'nothing exported from the secondary');
  assert.deepEqual((await record('r1')).path_info?.exported_from, ['primary']);
  writeFileSync(join(first.Mountpoint, 'data.txt'), 'written while sim1 was primary\n');
  await a.unmount('r1', 'c1');
  assert.deepEqual(await vlunHosts(env.primary, vol), [], 'Unmount removed the VLUN on the primary');

  // The disaster drill: fail the group over to the secondary array (issued there, as on a real array).
  await recover(env.secondary, mirror, RcgRecoveryActions.FAILOVER);
  assert.deepEqual(await role(env.secondary, mirror), [RcgRoles.PRIMARY_REV, true]);
  assert.deepEqual(await role(env.primary, 'grp1'), [RcgRoles.PRIMARY, false], 'the old primary is not touched by a failover');

  const second = await a.mount('r1', 'c2');
  assert.equal(second.Mountpoint, first.Mountpoint);
  assert.deepEqual(simLoops().map(([, file]) => file.startsWith(env.secondary.dir)), [true], "attached from the secondary array's volume");
  assert.equal(readFileSync(join(second.Mountpoint, 'data.txt'), 'utf8'), 'written while sim1 was primary\n', "the primary's data, from the secondary");
  assert.deepEqual(await vlunHosts(env.secondary, vol), ['host-a']);
  assert.deepEqual(await vlunHosts(env.primary, vol), [], 'nothing exported from the failed-over primary');
  assert.deepEqual((await record('r1')).path_info?.exported_from, ['replication target']);
  writeFileSync(join(second.Mountpoint, 'data.txt'), 'written while sim2 was primary\n');
  await a.unmount('r1', 'c2');
  assert.deepEqual(await vlunHosts(env.secondary, vol), [], 'Unmount removed the VLUN on the array it exported from');
  assert.deepEqual(simLoops(), []);

  // Recover: replication runs back to sim1 (secondary-rev); sim2 stays the active array.
  await recover(env.secondary, mirror, RcgRecoveryActions.RECOVER);
  assert.deepEqual(await role(env.primary, 'grp1'), [RcgRoles.SECONDARY_REV, true]);
  const third = await a.mount('r1', 'c3');
  assert.deepEqual(simLoops().map(([, file]) => file.startsWith(env.secondary.dir)), [true]);
  assert.equal(readFileSync(join(third.Mountpoint, 'data.txt'), 'utf8'), 'written while sim2 was primary\n');
  await a.unmount('r1', 'c3');

  // Restore: the natural direction again, with what was written on sim2.
  await recover(env.secondary, mirror, RcgRecoveryActions.RESTORE);
  assert.deepEqual(await role(env.primary, 'grp1'), [RcgRoles.PRIMARY, false]);
  assert.deepEqual(await role(env.secondary, mirror), [RcgRoles.SECONDARY, false]);
  const fourth = await a.mount('r1', 'c4');
  assert.deepEqual(simLoops().map(([, file]) => file.startsWith(env.primary.dir)), [true], 'attached from the primary array again');
  assert.equal(readFileSync(join(fourth.Mountpoint, 'data.txt'), 'utf8'), 'written while sim2 was primary\n');
  await a.unmount('r1', 'c4');
  assert.deepEqual([...(await vlunHosts(env.primary, vol)), ...(await vlunHosts(env.secondary, vol))], []);
});

test('Active/Passive: a switchover (reverse) moves the mount to the other array', async () => {
  const a = await plugin(A);
  await a.create('r2', { replicationGroup: 'grp2', size: '1' });
  const vol = (await record('r2'))['3par_vol_name'];
  const onPrimary = await a.mount('r2', 'c1');
  writeFileSync(join(onPrimary.Mountpoint, 'f'), 'before the switchover\n');
  await a.unmount('r2', 'c1');

  await recover(env.primary, 'grp2', RcgRecoveryActions.SWITCHOVER);
  assert.deepEqual(await role(env.primary, 'grp2'), [RcgRoles.SECONDARY_REV, true]);
  const onSecondary = await a.mount('r2', 'c2');
  assert.deepEqual(simLoops().map(([, file]) => file.startsWith(env.secondary.dir)), [true]);
  assert.equal(readFileSync(join(onSecondary.Mountpoint, 'f'), 'utf8'), 'before the switchover\n');
  assert.deepEqual(await vlunHosts(env.secondary, vol), ['host-a']);
  await a.unmount('r2', 'c2');
  assert.deepEqual(await vlunHosts(env.secondary, vol), []);
});

test('Active/Passive: while the group is in transition the Mount is refused with both roles and the fix; it mounts once the group settles', async () => {
  const a = await plugin(A);
  await a.create('r3', { replicationGroup: 'grp3', size: '1' });
  const r = await record('r3');
  const mirror = r.rcg_info!.remote_rcg_name;
  await recover(env.secondary, mirror, RcgRecoveryActions.FAILOVER);
  await recover(env.secondary, mirror, RcgRecoveryActions.RECOVER);
  // A restore held half way: sim2 is secondary already, sim1 not yet primary.
  await recover(env.secondary, mirror, RcgRecoveryActions.RESTORE, { simulatorTransitionMs: 4000 });

  await assert.rejects(a.mount('r3', 'c1'), (err: Error & { fix?: string }) => {
    assert.match(err.message, new RegExp(`^Remote copy group state is in transition: grp3 on 127\\.0\\.0\\.1:\\d+ is secondary-rev, ${mirror.replace('.', '\\.')} on sim2 is secondary; volume r3 is mounted only from the array where its group is primary`));
    assert.match(err.fix ?? '', /finish the failover, recover, restore or switchover of grp3 .*then mount again/);
    return true;
  });
  assert.deepEqual(simLoops(), [], 'nothing attached');
  assert.deepEqual([...(await vlunHosts(env.primary, r['3par_vol_name'])), ...(await vlunHosts(env.secondary, r['3par_vol_name']))], [], 'nothing exported');
  assert.deepEqual((await intents.listForNode(A.node)).intents, [], 'no intent left');
  assert.equal((await record('r3')).node_mount_info, undefined);

  await waitFor('the restore to finish', async () => (await role(env.primary, 'grp3'))[0] === RcgRoles.PRIMARY, { timeoutMs: 15_000 });
  await a.mount('r3', 'c2');
  assert.deepEqual(simLoops().map(([, file]) => file.startsWith(env.primary.dir)), [true]);
  await a.unmount('r3', 'c2');
});

test('Peer Persistence: exported from both arrays, removed from both by Unmount; a takeover fences the dead host on both', async () => {
  const a = await plugin(A, PEER_PERSISTENCE);
  const b = await plugin(B, PEER_PERSISTENCE);
  await a.create('pp1', { replicationGroup: 'grppp', size: '1', mountConflictDelay: '1' });
  const vol = (await record('pp1'))['3par_vol_name'];

  const onA = await a.mount('pp1', 'ca');
  assert.deepEqual(await vlunHosts(env.primary, vol), ['host-a']);
  assert.deepEqual(await vlunHosts(env.secondary, vol), ['host-a'], 'the second array exports it too (multipath paths)');
  const p = (await record('pp1')).path_info!;
  assert.deepEqual(p.exported_from, ['primary', 'replication target']);
  assert.ok(p.remote_connection_info !== undefined, "the second array's connection is kept");
  assert.deepEqual(simLoops().map(([, file]) => file.startsWith(env.primary.dir)), [true], "one loop attach (the first array's) here");
  writeFileSync(join(onA.Mountpoint, 'f'), 'pp\n');
  await a.unmount('pp1', 'ca');
  assert.deepEqual([...(await vlunHosts(env.primary, vol)), ...(await vlunHosts(env.secondary, vol))], [], 'Unmount removed the VLUNs on both arrays');

  await a.mount('pp1', 'ca2');
  // A's plugin dies while it holds the volume; B takes it over.
  await a.close();
  managers.splice(managers.indexOf(a), 1);
  await waitFor('node-a gone', async () => (await env.client.get(nodeKey(A.node))) === undefined);
  const onB = await b.mount('pp1', 'cb');
  assert.equal(readFileSync(join(onB.Mountpoint, 'f'), 'utf8'), 'pp\n');
  assert.deepEqual(await vlunHosts(env.primary, vol), ['host-b'], 'A fenced on the primary array');
  assert.deepEqual(await vlunHosts(env.secondary, vol), ['host-b'], 'A fenced on the replication target too');
  await b.unmount('pp1', 'cb');
  // A's own (one-kernel) mount and loop device: released by A's plugin when it comes back.
  const a2 = await plugin(A, PEER_PERSISTENCE);
  await a2.unmount('pp1', 'ca2');
  assert.deepEqual(mountsUnder(), []);
});

/** A's plugin dies holding `name`; its mount goes with it and the record loses its hold (cleared by hand): an orphan. */
async function orphanedOnA(a: VolumeManager, name: string): Promise<void> {
  const { Mountpoint } = await a.mount(name, 'ca');
  await a.close();
  managers.splice(managers.indexOf(a), 1);
  execFileSync('umount', [Mountpoint]);
  const stored = (await store.getByName(name))!;
  const { node_mount_info: _held, ...rest } = stored.record;
  await store.update({ ...rest, path_info: null }, stored.modRevision);
}

test("Peer Persistence: a device no record holds is detached at start and this host's VLUNs removed on both arrays", async () => {
  const a = await plugin(A, PEER_PERSISTENCE);
  await a.create('pp2', { replicationGroup: 'grppp2', size: '1' });
  const vol = (await record('pp2'))['3par_vol_name'];
  await orphanedOnA(a, 'pp2');
  assert.deepEqual([await vlunHosts(env.primary, vol), await vlunHosts(env.secondary, vol)], [['host-a'], ['host-a']]);

  const a2 = await plugin(A, PEER_PERSISTENCE);
  const report = await a2.repair();
  assert.deepEqual(report.host.actions.map((x) => [x.volume, x.action]), [[vol, 'detached']]);
  assert.deepEqual(report.host.left, []);
  assert.deepEqual(simLoops(), [], 'detached');
  assert.deepEqual(await vlunHosts(env.primary, vol), [], "this host's VLUN removed on the primary array");
  assert.deepEqual(await vlunHosts(env.secondary, vol), [], "and on the replication target, which exported it too");
  assert.deepEqual((await intents.listForNode(A.node)).intents, []);
});

test('Peer Persistence: a target that does not answer while an orphan is released is reported, and the background repair finishes it', async () => {
  const a = await plugin(A, PEER_PERSISTENCE);
  await a.create('pp3', { replicationGroup: 'grppp3', size: '1' });
  const vol = (await record('pp3'))['3par_vol_name'];
  await orphanedOnA(a, 'pp3');

  const a2 = await plugin(A, PEER_PERSISTENCE);
  // The target's connection drops while this host's VLUNs are looked up there (each try of the client).
  for (let i = 0; i < 2; i++) env.secondary.sim.failNext('GET', /^\/api\/v1\/vluns$/, 'drop');
  const report = await a2.repair();
  assert.deepEqual(report.host.actions, [], 'not counted as detached');
  assert.equal(report.host.left.length, 1, JSON.stringify(report.host.left));
  assert.equal(report.host.left[0]!.volume, vol);
  assert.match(report.host.left[0]!.reason, new RegExp(`^Failed to release ${vol} \\(no record holds it\\) on the primary and the replication target arrays; its Unmount intent is kept`));
  assert.deepEqual((await intents.listForNode(A.node)).intents.map((i) => [i.op, i.arrayName, i.arrays]), [['unmount', vol, ['primary', 'replication target']]], 'recorded for a later repair');
  assert.deepEqual(await vlunHosts(env.secondary, vol), ['host-a'], 'the export on the target is not forgotten: it is still there');

  await waitFor('the background repair to finish the release', async () => (await intents.listForNode(A.node)).intents.length === 0, { timeoutMs: 30_000 });
  assert.deepEqual(simLoops(), [], 'detached');
  assert.deepEqual(await vlunHosts(env.primary, vol), []);
  assert.deepEqual(await vlunHosts(env.secondary, vol), [], 'removed on the replication target too');
});

/**
 * The primary array (sim1) goes down: its simulator stops, its state kept for primaryBack. `m` sees it at its next
 * call of the array (a Get), as a running plugin would at its next request: its backend turns FAILED.
 */
async function primaryGoesDown(m: VolumeManager, volume: string): Promise<void> {
  const down = env.primary;
  await down.admin.close();
  await down.sim.stop();
  primaryBack = async () => {
    primaryBack = undefined;
    env.primary = await startSim({ systemName: 'sim1', cpgs: ['FC_r1', 'FC_r5'], password: PRIMARY_PASSWORD, port: port1, remote: env.secondary, dir: down.dir });
  };
  await m.get(volume);
  await waitFor('the backend FAILED', () => m.backendStates().find((s) => s.name === 'DEFAULT')?.state === 'FAILED');
  assert.deepEqual(m.backendStates().find((s) => s.name === 'DEFAULT')?.target?.state, 'OK');
}

const notInitialized = /^ERROR: Backend 'DEFAULT' was NOT initialized successfully\. Please check hpe\.conf for incorrect entries and rectify it\. Reason: array 127\.0\.0\.1:\d+ refused the connection$/;

test('Active/Passive, primary array down: a group failed over to the target is mounted from the target alone, and unmounted there; Create and Remove stay refused', async () => {
  const a = await plugin(A);
  await a.create('dr1', { replicationGroup: 'grpdr1', size: '1' });
  const r = await record('dr1');
  const vol = r['3par_vol_name'];
  const mirror = r.rcg_info!.remote_rcg_name;
  const before = await a.mount('dr1', 'c1');
  writeFileSync(join(before.Mountpoint, 'data.txt'), 'written before the disaster\n');
  await a.unmount('dr1', 'c1');
  await env.primary.admin.request('PUT', '/remotecopygroups/grpdr1', { action: RcgActions.SYNC });

  await primaryGoesDown(a, 'dr1');
  // The DR failover, issued on the target array while the primary does not answer.
  await recover(env.secondary, mirror, RcgRecoveryActions.FAILOVER);
  assert.deepEqual(await role(env.secondary, mirror), [RcgRoles.PRIMARY_REV, true]);

  const onTarget = await a.mount('dr1', 'c2');
  assert.equal(onTarget.Mountpoint, before.Mountpoint);
  assert.deepEqual(simLoops().map(([, file]) => file.startsWith(env.secondary.dir)), [true], "attached from the target array's volume");
  assert.equal(readFileSync(join(onTarget.Mountpoint, 'data.txt'), 'utf8'), 'written before the disaster\n', 'the synced data, from the target');
  writeFileSync(join(onTarget.Mountpoint, 'data.txt'), 'written during the disaster\n');
  assert.deepEqual(await vlunHosts(env.secondary, vol), ['host-a']);
  const held = await record('dr1');
  assert.deepEqual(held.path_info?.exported_from, ['replication target']);
  assert.deepEqual(held.node_mount_info, { [A.node]: ['c2'] });

  // What needs the primary array stays refused, with the backend's error.
  await assert.rejects(a.create('dr2', { replicationGroup: 'grpdr1', size: '1' }), { message: notInitialized });
  await assert.rejects(a.create('dr1s', { virtualCopyOf: 'dr1' }), { message: notInitialized });
  await assert.rejects(a.create('dr1c', { cloneOf: 'dr1' }), { message: notInitialized });

  await a.unmount('dr1', 'c2');
  assert.deepEqual(await vlunHosts(env.secondary, vol), [], 'Unmount removed the VLUN on the target');
  assert.deepEqual(simLoops(), [], 'detached');
  assert.deepEqual(mountsUnder(), [], 'unmounted');
  assert.deepEqual((await intents.listForNode(A.node)).intents, [], 'no intent left');
  const after = await record('dr1');
  assert.equal(after.node_mount_info, undefined);
  assert.equal(after.path_info, null);
  await assert.rejects(a.remove('dr1'), { message: notInitialized });

  await primaryBack!();
  assert.deepEqual(await vlunHosts(env.primary, vol), [], 'nothing was ever exported from the primary array');
});

test('Active/Passive, primary array down and no failover made: the Mount is refused naming the down array, the group, the target\'s role and the failover; nothing changes', async () => {
  const a = await plugin(A);
  await a.create('dr3', { replicationGroup: 'grpdr3', size: '1' });
  const r = await record('dr3');
  const vol = r['3par_vol_name'];
  const mirror = r.rcg_info!.remote_rcg_name;
  await primaryGoesDown(a, 'dr3');
  const stored = await store.getByName('dr3');

  await assert.rejects(a.mount('dr3', 'c1'), (err: Error & { fix?: string }) => {
    assert.match(
      err.message,
      new RegExp(
        `^Volume dr3 cannot be mounted: the primary array 127\\.0\\.0\\.1:${port1} of backend 'DEFAULT' \\(remote copy group grpdr3\\) is down, not answering \\(array 127\\.0\\.0\\.1:${port1} refused the connection\\); on the replication target sim2 the group ${mirror.replace('.', '\\.')} is secondary, not primary \\(not failed over\\), so nothing was mounted$`,
      ),
    );
    assert.equal(err.fix, `to mount from the replication target, fail the group over there: on sim2, \`setrcopygroup failover ${mirror}\` (3PAR CLI), then mount again; or bring 127.0.0.1:${port1} back`);
    return true;
  });
  assert.deepEqual(simLoops(), [], 'nothing attached');
  assert.deepEqual(mountsUnder(), [], 'nothing mounted');
  assert.deepEqual(await vlunHosts(env.secondary, vol), [], 'nothing exported from the target');
  assert.deepEqual((await intents.listForNode(A.node)).intents, [], 'no intent');
  assert.equal((await store.getByName('dr3'))?.modRevision, stored?.modRevision, 'the record is untouched');
  assert.deepEqual(await role(env.secondary, mirror), [RcgRoles.SECONDARY, false], 'the group is untouched');
  await primaryBack!();
  assert.deepEqual(await vlunHosts(env.primary, vol), []);
});

test('Active/Passive, primary array down: an Unmount whose last step failed on a target-side mount is finished by the background repair on the target alone', async () => {
  let failOnce = true;
  const a = await plugin(A, undefined, {
    onMountStep: (op, step) => {
      if (op === 'unmount' && step === 'detached' && failOnce) {
        failOnce = false;
        throw new Error('injected: the plugin stops before removing the VLUN');
      }
    },
  });
  await a.create('dr4', { replicationGroup: 'grpdr4', size: '1' });
  const r = await record('dr4');
  const vol = r['3par_vol_name'];
  await primaryGoesDown(a, 'dr4');
  await recover(env.secondary, r.rcg_info!.remote_rcg_name, RcgRecoveryActions.FAILOVER);
  await a.mount('dr4', 'c1');
  assert.deepEqual(await vlunHosts(env.secondary, vol), ['host-a']);

  await assert.rejects(a.unmount('dr4', 'c1'), { message: /^Failed to unmount volume dr4: injected/ });
  assert.deepEqual((await intents.listForNode(A.node)).intents.map((i) => [i.op, i.arrays]), [['unmount', ['replication target']]], 'its intent names the target alone');
  assert.deepEqual(await vlunHosts(env.secondary, vol), ['host-a'], 'the VLUN is still there');

  await waitFor('the background repair to finish the Unmount', async () => (await intents.listForNode(A.node)).intents.length === 0, { timeoutMs: 30_000 });
  assert.equal(a.backendStates().find((s) => s.name === 'DEFAULT')?.state, 'FAILED', 'finished while the primary array is still down');
  assert.deepEqual(await vlunHosts(env.secondary, vol), [], 'removed on the target');
  assert.deepEqual(simLoops(), []);
  assert.equal((await record('dr4')).node_mount_info, undefined);
});

test('Active/Passive, a whole site lost (node-a\'s plugin and the primary array): node-b takes the volume over on the failed-over target; before the failover it is refused and nothing changes', async () => {
  const a = await plugin(A);
  const b = await plugin(B);
  await a.create('dr5', { replicationGroup: 'grpdr5', size: '1', mountConflictDelay: '1' });
  const r = await record('dr5');
  const vol = r['3par_vol_name'];
  const mirror = r.rcg_info!.remote_rcg_name;
  const onA = await a.mount('dr5', 'ca');
  writeFileSync(join(onA.Mountpoint, 'site.txt'), 'written at site A\n');
  execFileSync('sync');
  await env.primary.admin.request('PUT', '/remotecopygroups/grpdr5', { action: RcgActions.SYNC });
  // Site A is lost: node-a's plugin (its presence goes) and the primary array; node-a's record still holds the volume.
  await a.close();
  managers.splice(managers.indexOf(a), 1);
  await waitFor('node-a gone', async () => (await env.client.get(nodeKey(A.node))) === undefined);
  await primaryGoesDown(b, 'dr5');

  const before = await store.getByName('dr5');
  await assert.rejects(b.mount('dr5', 'cb'), (err: Error & { fix?: string }) => {
    assert.equal(
      err.message,
      `Volume dr5 cannot be taken over from node-a: their mount used the primary array 127.0.0.1:${port1} of backend 'DEFAULT', which is down, and its remote copy group ${mirror} on sim2 is secondary, not failed over, so they cannot be fenced and nothing was changed`,
    );
    assert.equal(err.fix, `bring 127.0.0.1:${port1} back, or for DR fail the group over on sim2 (\`setrcopygroup failover ${mirror}\`, 3PAR CLI), then mount again`);
    return true;
  });
  assert.equal((await store.getByName('dr5'))?.modRevision, before?.modRevision, 'the record is untouched');
  assert.deepEqual((await intents.listForNode(B.node)).intents, [], 'no takeover intent is left');
  assert.deepEqual(await vlunHosts(env.secondary, vol), [], 'nothing exported from the target');

  // The DR failover on the target array: node-b takes the volume over there and reads site A's synced data.
  await recover(env.secondary, mirror, RcgRecoveryActions.FAILOVER);
  const onB = await b.mount('dr5', 'cb');
  assert.equal(readFileSync(join(onB.Mountpoint, 'site.txt'), 'utf8'), 'written at site A\n');
  assert.deepEqual(await vlunHosts(env.secondary, vol), ['host-b']);
  const held = await record('dr5');
  assert.deepEqual(held.node_mount_info, { [B.node]: ['cb'] });
  assert.deepEqual(held.path_info?.exported_from, ['replication target']);
  assert.deepEqual(held.old_path_info?.map(([node]) => node), [A.node], "node-a's side is kept for its own cleanup");
  assert.deepEqual((await intents.listForNode(B.node)).intents, []);
  await b.unmount('dr5', 'cb');
  assert.deepEqual(await vlunHosts(env.secondary, vol), []);
});

test('Peer Persistence, primary array down: exported from the target alone, removed there by Unmount', async () => {
  const a = await plugin(A, PEER_PERSISTENCE);
  await a.create('drpp', { replicationGroup: 'grpdrpp', size: '1' });
  const vol = (await record('drpp'))['3par_vol_name'];
  await primaryGoesDown(a, 'drpp');

  const onTarget = await a.mount('drpp', 'c1');
  assert.deepEqual(simLoops().map(([, file]) => file.startsWith(env.secondary.dir)), [true], "attached from the target array's volume");
  assert.deepEqual(await vlunHosts(env.secondary, vol), ['host-a']);
  assert.deepEqual((await record('drpp')).path_info?.exported_from, ['replication target']);
  writeFileSync(join(onTarget.Mountpoint, 'f'), 'pp during the outage\n');
  await a.unmount('drpp', 'c1');
  assert.deepEqual(await vlunHosts(env.secondary, vol), []);
  assert.deepEqual(simLoops(), []);
  assert.deepEqual((await intents.listForNode(A.node)).intents, []);
  await primaryBack!();
  assert.deepEqual(await vlunHosts(env.primary, vol), [], 'nothing exported from the primary array');
});
