/**
 * Replicated volumes: the primary simulator replicates to the secondary (`sim2`, linked with remoteTargets).
 * Create makes or joins the remote copy group with the configured mode, the secondary volume appears on the
 * target (checked through the target's own session), and remove takes both down with the group when empty.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { RcgModes, RcgStates } from '../../src/array/index.js';
import { VolumeStore } from '../../src/volumes/index.js';
import { INTENTS_PREFIX } from '../../src/etcd/index.js';
import type { VolumeManager } from '../../src/volumes/manager.js';
import { systemClock as realClock, waitFor, type Clock } from '../../src/clock.js';
import { freePort } from '../../src/net.js';
import {
  PRIMARY_PASSWORD,
  SECONDARY_PASSWORD,
  clearArray,
  clearEtcd,
  etcdKeys,
  managerFor,
  pluginVolumes,
  settled,
  startSim,
  startVolumeEnv,
  stopSim,
  type SimHandle,
  type VolumeEnv,
} from '../fixtures/volume-env.js';

let env: VolumeEnv;
let store: VolumeStore;
const managers: VolumeManager[] = [];

before(async () => {
  env = await startVolumeEnv();
  store = new VolumeStore(env.client);
});

after(async () => {
  for (const m of managers) await m.close();
  await env?.stop();
});

afterEach(async () => {
  await clearArray(env.primary);
  await clearArray(env.secondary);
  await clearEtcd(env.client);
});

async function manager(replication?: string): Promise<VolumeManager> {
  const m = managerFor(env, replication === undefined ? {} : { replication });
  managers.push(m);
  await settled(m);
  assert.ok(m.backendStates().every((s) => s.state === 'OK'), JSON.stringify(m.backendStates()));
  return m;
}

const modes = [
  { replication: 'replication_mode:synchronous', mode: RcgModes.SYNC, syncPeriod: undefined, policies: undefined },
  { replication: 'replication_mode:asynchronous, sync_period:600', mode: RcgModes.PERIODIC, syncPeriod: 600, policies: undefined },
  { replication: 'replication_mode:asynchronous', mode: RcgModes.PERIODIC, syncPeriod: 900, policies: undefined },
  { replication: 'replication_mode:streaming, sync_period:300', mode: RcgModes.ASYNC, syncPeriod: 300, policies: undefined },
  {
    replication: 'replication_mode:synchronous, quorum_witness_ip:10.0.0.9',
    mode: RcgModes.SYNC,
    syncPeriod: undefined,
    policies: { autoFailover: true, pathManagement: true, autoRecover: true },
  },
];

describe('replicated create and remove', () => {
  for (const c of modes) {
    test(`${c.replication}: group, secondary volume, Status, remove`, async () => {
      const m = await manager(c.replication);
      await m.create('rep1', { replicationGroup: 'grp1', size: '2', provisioning: 'full' });
      const r = (await store.getByName('rep1'))!.record;
      assert.deepEqual(r.rcg_info, { local_rcg_name: 'grp1', remote_rcg_name: `grp1.r${env.primary.sim.systemId}` });

      const group = await env.primary.admin.getRemoteCopyGroup('grp1');
      assert.equal(group.role, 1);
      assert.equal(group.localUserCPG, 'FC_r1');
      assert.equal(group.localSnapCPG, 'FC_r5');
      const target = group.targets[0]!;
      assert.equal(target.targetName, 'sim2');
      assert.equal(target.mode, c.mode);
      assert.equal(target.state, RcgStates.STARTED);
      assert.equal(target.syncPeriod, c.syncPeriod);
      assert.deepEqual(target.policies, c.policies);
      assert.deepEqual(group.volumes.map((v) => v.localVolumeName), [r['3par_vol_name']]);

      const secondary = await env.secondary.admin.getVolume(r['3par_vol_name']);
      assert.equal(secondary.userCPG, 'SEC_r1');
      assert.equal(secondary.sizeMiB, 2048);
      const mirror = await env.secondary.admin.getRemoteCopyGroup(`grp1.r${env.primary.sim.systemId}`);
      assert.equal(mirror.role, 2);

      const status = (await m.get('rep1'))!.Status;
      assert.deepEqual(status['rcg_detail'], { rcg_name: 'grp1', policies: c.policies ?? null, role: 'Primary' });
      const detail = status['volume_detail'] as Record<string, unknown>;
      assert.equal(detail['secondary_cpg'], 'SEC_r1');
      assert.equal(detail['secondary_snap_cpg'], 'SEC_r5');

      await m.remove('rep1');
      assert.deepEqual(await pluginVolumes(env.primary), []);
      assert.deepEqual(await pluginVolumes(env.secondary), [], 'the secondary volume is removed on the target');
      assert.deepEqual(await env.primary.admin.getRemoteCopyGroups(), [], 'the empty group is deleted');
      assert.deepEqual(await env.secondary.admin.getRemoteCopyGroups(), []);
      assert.deepEqual(await etcdKeys(env.client, INTENTS_PREFIX), []);
    });
  }

  test('a second volume joins the started group (stop, admit, start); removing one restarts the group', async () => {
    const m = await manager();
    await m.create('repA', { replicationGroup: 'grp2', size: '1' });
    await m.create('repB', { replicationGroup: 'grp2', size: '1' });
    const a = (await store.getByName('repA'))!.record['3par_vol_name'];
    const b = (await store.getByName('repB'))!.record['3par_vol_name'];
    let group = await env.primary.admin.getRemoteCopyGroup('grp2');
    assert.deepEqual(group.volumes.map((v) => v.localVolumeName).sort(), [a, b].sort());
    assert.equal(group.targets[0]!.state, RcgStates.STARTED);
    assert.deepEqual((await pluginVolumes(env.secondary)).sort(), [a, b].sort());

    await m.remove('repA');
    group = await env.primary.admin.getRemoteCopyGroup('grp2');
    assert.deepEqual(group.volumes.map((v) => v.localVolumeName), [b]);
    assert.equal(group.targets[0]!.state, RcgStates.STARTED, 'started again');
    assert.deepEqual(await pluginVolumes(env.secondary), [b]);
    await m.remove('repB');
    assert.deepEqual(await env.primary.admin.getRemoteCopyGroups(), []);
  });

  test('concurrent replicated creates into one new group: the group lock serialises them', async () => {
    const m = await manager();
    await Promise.all(['c1', 'c2', 'c3', 'c4'].map((n) => m.create(n, { replicationGroup: 'grp3', size: '1' })));
    const group = await env.primary.admin.getRemoteCopyGroup('grp3');
    assert.equal(group.volumes.length, 4);
    assert.equal((await pluginVolumes(env.secondary)).length, 4);
  });

  test('a group made on the array by hand is joined', async () => {
    const m = await manager();
    await env.primary.admin.createRemoteCopyGroup({ name: 'other', targets: [{ targetName: 'sim2', mode: 1, userCPG: 'SEC_r1' }] });
    await m.create('repC', { replicationGroup: 'other', size: '1' });
    assert.equal((await env.primary.admin.getRemoteCopyGroup('other')).volumes.length, 1, 'an existing group of this target is joined');
  });

  test('the remote copy group is not primary: refused before anything is made', async () => {
    const m = await manager();
    // A secondary-role group on the primary array: the mirror of a group the secondary array would own.
    await env.primary.admin.request('POST', '/remotecopygroups', { name: 'mirrored', targets: [{ targetName: 'sim2', mode: 1 }], simulatorPeer: { remoteGroupName: 'x' } });
    await assert.rejects(m.create('repD', { replicationGroup: 'mirrored', size: '1' }), { message: /^Remote copy group mirrored is not primary on array 127\.0\.0\.1:\d+ \(role 2\)/ });
    assert.deepEqual(await pluginVolumes(env.primary), []);
    await env.primary.admin.deleteRemoteCopyGroup('mirrored');
  });
});

describe('a replication target outage', () => {
  test('plain volumes keep working, replicated operations are refused with the target\'s reason, and the target recovers by itself', async () => {
    const port = await freePort();
    let target: SimHandle | undefined = await startSim({ systemName: 'sim2', cpgs: ['SEC_r1', 'SEC_r5'], password: SECONDARY_PASSWORD, port });
    const primary = await startSim({ systemName: 'sim9', cpgs: ['FC_r1', 'FC_r5'], password: PRIMARY_PASSWORD, remote: target });
    const sleeps: number[] = [];
    const clock: Clock = { now: () => Date.now(), sleep: (ms, signal) => (sleeps.push(ms), realClock.sleep(15, signal)) };
    const m = managerFor({ ...env, primary, secondary: target }, {}, { clock });
    managers.push(m);
    const table = async () => {
      const err = await m.create('helpme', { help: 'backends' }).then(
        () => assert.fail('help answers with an error'),
        (e: unknown) => e as Error,
      );
      return err.message;
    };
    try {
      await settled(m);
      await m.create('rep0', { replicationGroup: 'g0', size: '1' });
      await m.create('plain0', { size: '1' });

      // Stopped as an array goes down: its state stays for the restart below.
      const targetDir = target.dir;
      await target.admin.close();
      await target.sim.stop();
      target = undefined;
      const reason = `array 127.0.0.1:${port} refused the connection`;
      const refused = `ERROR: Replication target sim2 of backend 'DEFAULT' is not available: replicated operations are refused until it is OK; plain volumes of 'DEFAULT' keep working. Reason: ${reason}`;
      const before = await pluginVolumes(primary);
      await assert.rejects(m.create('rep1', { replicationGroup: 'g1', size: '1' }), { message: refused });
      assert.deepEqual(await pluginVolumes(primary), before, 'nothing was made on the primary');
      assert.deepEqual(await primary.admin.getRemoteCopyGroups().then((gs) => gs.map((g) => g.name)), ['g0']);
      assert.deepEqual(await etcdKeys(env.client, INTENTS_PREFIX), []);
      assert.deepEqual(m.backendStates().find((s) => s.name === 'DEFAULT'), { name: 'DEFAULT', state: 'OK', target: { id: 'sim2', state: 'FAILED', reason } });
      // Now that the target is known FAILED, refused without a call.
      await assert.rejects(m.create('rep1', { replicationGroup: 'g1', size: '1' }), { message: refused });
      await assert.rejects(m.remove('rep0'), { message: refused });
      assert.notEqual(await store.getByName('rep0'), undefined, 'the replicated volume is kept');

      // Plain volumes of the same backend: create, get, snapshot, remove.
      await m.create('plain1', { size: '1' });
      assert.equal((await m.get('plain1'))?.Name, 'plain1');
      assert.equal(((await m.get('rep0'))?.Status['rcg_detail'] as { rcg_name: string }).rcg_name, 'g0', 'Get of a replicated volume reads the primary');
      await m.create('plain1s', { virtualCopyOf: 'plain1' });
      await m.remove('plain1s');
      await m.remove('plain1');
      await m.remove('plain0');

      const shown = await table();
      assert.match(shown, /^DEFAULT +OK$/m);
      assert.match(shown, /^ {2}replication target sim2 +FAILED$/m);
      assert.ok(shown.includes(`${'  replication target sim2'.padEnd(45)}  FAILED\n    ${reason}\n`), shown);

      await waitFor('background retries of the target', () => sleeps.length >= 2);
      assert.deepEqual(sleeps.slice(0, 2), [2000, 4000], 'the target is re-initialised with the backends\' backoff');
      target = await startSim({ systemName: 'sim2', cpgs: ['SEC_r1', 'SEC_r5'], password: SECONDARY_PASSWORD, port, dir: targetDir });
      await waitFor('target OK again', () => m.backendStates().find((s) => s.name === 'DEFAULT')?.target?.state === 'OK');
      assert.deepEqual(m.backendStates().find((s) => s.name === 'DEFAULT'), { name: 'DEFAULT', state: 'OK', target: { id: 'sim2', state: 'OK' } });
      assert.match(await table(), /^ {2}replication target sim2 +OK$/m);
      await m.create('rep1', { replicationGroup: 'g1', size: '1' });
      const arrayName = (await store.getByName('rep1'))!.record['3par_vol_name'];
      assert.ok((await pluginVolumes(target)).includes(arrayName), 'the secondary is made on the restarted target');
      await m.remove('rep1');
      await m.remove('rep0');
      assert.deepEqual(await pluginVolumes(target), []);
      assert.deepEqual(await pluginVolumes(primary), []);
    } finally {
      await m.close();
      managers.splice(managers.indexOf(m), 1);
      await clearArray(primary).catch(() => undefined);
      await stopSim(primary);
      await stopSim(target);
    }
  });
});
