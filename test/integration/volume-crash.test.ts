/**
 * Crash safety: repair() settles every state a crash can leave (built by hand, one per case), and after a
 * child process running creates and removes is killed with SIGKILL, repair() leaves nothing lost or orphaned:
 * every record has its array volume (and secondary), every plugin volume, vvs- set and group member has a record.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, afterEach, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { systemClock as realClock, waitFor, type Clock } from '../../src/clock.js';
import { arrayVolumeName, newVolumeId, vvSetName, VolumeStore, volumeLock, EtcdLocks } from '../../src/volumes/index.js';
import { INTENTS_PREFIX } from '../../src/etcd/index.js';
import { IntentStore, type VolumeIntent } from '../../src/volumes/store/intents.js';
import type { RepairReport, VolumeManager } from '../../src/volumes/index.js';
import { volumeComment } from '../../src/volumes/request/plan.js';
import { freePort } from '../../src/net.js';
import { plainRecord } from '../fixtures/records.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import {
  PRIMARY_PASSWORD,
  buildConfig,
  clearArray,
  clearEtcd,
  etcdKeys,
  managerFor,
  pluginVolumes,
  startSim,
  startVolumeEnv,
  stopSim,
  type VolumeEnv,
} from '../fixtures/volume-env.js';

let env: VolumeEnv;
let store: VolumeStore;
let intents: IntentStore;
const managers: VolumeManager[] = [];

before(async () => {
  env = await startVolumeEnv();
  store = new VolumeStore(env.client);
  intents = new IntentStore(env.client);
});

after(async () => {
  for (const m of managers) await m.close();
  await env?.stop();
});

afterEach(async () => {
  for (const m of managers.splice(0)) await m.close();
  await clearArray(env.primary);
  await clearArray(env.secondary);
  await clearEtcd(env.client);
});

function manager(...args: Parameters<typeof managerFor> extends [unknown, ...infer R] ? R : never): VolumeManager {
  const m = managerFor(env, ...args);
  managers.push(m);
  return m;
}

function intent(fields: Partial<VolumeIntent> & Pick<VolumeIntent, 'id' | 'name' | 'arrayName'>): VolumeIntent {
  return { v: 1, op: 'create', flow: 'volume', backend: 'DEFAULT', node: 'crashed-node', started: new Date().toISOString(), ...fields };
}

function recordFor(id: string, name: string, extra: Partial<Parameters<typeof plainRecord>[1]> = {}) {
  return plainRecord(name, { id, snapCpg: 'FC_r5', ...extra });
}

async function arrayVolume(name: string, id: string): Promise<void> {
  await env.primary.admin.createVolume({ name, cpg: 'FC_r1', snapCPG: 'FC_r5', sizeMiB: 1024, tpvv: true, comment: volumeComment(id, 'x') });
}

function only<T>(list: T[]): T {
  assert.equal(list.length, 1, JSON.stringify(list));
  return list[0]!;
}

describe('repair of hand-made crash states', () => {
  test('create cut short after the array steps: rolled back (volume and vvs- set)', async () => {
    const id = newVolumeId();
    const arrayName = arrayVolumeName(id, false);
    await intents.write(intent({ id, name: 'cut1', arrayName, ownSet: vvSetName(id) }));
    await arrayVolume(arrayName, id);
    await env.primary.admin.createVolumeSet({ name: vvSetName(id), setmembers: [arrayName] });
    const report = await manager().repair();
    assert.equal(only(report.fixed).action, 'rolled back create');
    assert.deepEqual(report.needsAdmin, []);
    assert.deepEqual(await pluginVolumes(env.primary), []);
    assert.deepEqual(await env.primary.admin.getVolumeSets(), []);
    assert.deepEqual(await etcdKeys(env.client, INTENTS_PREFIX), []);
  });

  test('create cut short before its array call: the intent is dropped', async () => {
    const id = newVolumeId();
    await intents.write(intent({ id, name: 'cut0', arrayName: arrayVolumeName(id, false) }));
    const report = await manager().repair();
    assert.equal(only(report.fixed).action, 'rolled back create');
    assert.deepEqual(await etcdKeys(env.client, INTENTS_PREFIX), []);
  });

  test('create whose intent deletion was lost: completed, the volume stays', async () => {
    const id = newVolumeId();
    const arrayName = arrayVolumeName(id, false);
    await intents.write(intent({ id, name: 'done1', arrayName }));
    await arrayVolume(arrayName, id);
    await store.create(recordFor(id, 'done1'));
    const m = manager();
    const report = await m.repair();
    assert.equal(only(report.fixed).action, 'completed create');
    assert.deepEqual(await pluginVolumes(env.primary), [arrayName]);
    assert.ok(await m.get('done1'));
  });

  test('remove cut short: finished (set left, volume deleted, record deleted)', async () => {
    const id = newVolumeId();
    const arrayName = arrayVolumeName(id, false);
    await arrayVolume(arrayName, id);
    await env.primary.admin.createVolumeSet({ name: 'qos1', setmembers: [arrayName] });
    await store.create(recordFor(id, 'gone1', { qosName: 'qos1' }));
    await intents.write(intent({ id, name: 'gone1', arrayName, op: 'remove', qosSet: 'qos1' }));
    const report = await manager().repair();
    assert.equal(only(report.fixed).action, 'completed remove');
    assert.deepEqual(await pluginVolumes(env.primary), []);
    assert.equal(await store.getByName('gone1'), undefined);
    assert.deepEqual((await env.primary.admin.getVolumeSet('qos1')).setmembers, undefined);
  });

  test('import cut short after the rename: renamed back with its comment', async () => {
    const id = newVolumeId();
    const arrayName = arrayVolumeName(id, false);
    await env.primary.admin.createVolume({ name: arrayName, cpg: 'FC_r1', sizeMiB: 1024, tpvv: true, comment: volumeComment(id, 'imp') });
    await intents.write(intent({ id, name: 'imp', arrayName, flow: 'import', importedFrom: { name: 'oldname', comment: 'the original' } }));
    const report = await manager().repair();
    assert.equal(only(report.fixed).action, 'rolled back create');
    assert.equal((await env.primary.admin.getVolume('oldname')).comment, 'the original');
    assert.deepEqual(await pluginVolumes(env.primary), []);
  });

  test('replicated create cut short: out of the group with its secondary, the new group deleted', async () => {
    const id = newVolumeId();
    const arrayName = arrayVolumeName(id, false);
    await intents.write(intent({ id, name: 'rep', arrayName, flow: 'replicated', rcg: { name: 'cutgrp', created: true } }));
    await arrayVolume(arrayName, id);
    const a = env.primary.admin;
    await a.createRemoteCopyGroup({ name: 'cutgrp', targets: [{ targetName: 'sim2', mode: 1, userCPG: 'SEC_r1' }] });
    await a.addVolumeToRemoteCopyGroup('cutgrp', arrayName, { targets: [{ targetName: 'sim2', secVolumeName: arrayName }], volumeAutoCreation: true });
    await a.startRemoteCopy('cutgrp');
    assert.deepEqual(await pluginVolumes(env.secondary), [arrayName]);
    const report = await manager().repair();
    assert.equal(only(report.fixed).action, 'rolled back create');
    assert.deepEqual(await pluginVolumes(env.primary), []);
    assert.deepEqual(await pluginVolumes(env.secondary), []);
    assert.deepEqual(await a.getRemoteCopyGroups(), []);
  });

  test('replicated create cut short while the replication target is down: deferred, then rolled back by itself once the target is back', async () => {
    const id = newVolumeId();
    const arrayName = arrayVolumeName(id, false);
    await intents.write(intent({ id, name: 'rep2', arrayName, flow: 'replicated', rcg: { name: 'cutgrp2', created: true } }));
    await arrayVolume(arrayName, id);
    const a = env.primary.admin;
    await a.createRemoteCopyGroup({ name: 'cutgrp2', targets: [{ targetName: 'sim2', mode: 1, userCPG: 'SEC_r1' }] });
    await a.addVolumeToRemoteCopyGroup('cutgrp2', arrayName, { targets: [{ targetName: 'sim2', secVolumeName: arrayName }], volumeAutoCreation: true });
    // The plugin reaches the target through a proxy that is closed for now (the arrays' own link is up).
    const port = await freePort();
    const proxy = new TcpProxy({ host: '127.0.0.1', port: Number(new URL(env.secondary.sim.apiUrl).port) });
    const viaProxy = { ...env.secondary, sim: { ...env.secondary.sim, apiUrl: `http://127.0.0.1:${port}/api/v1` } };
    const m = managerFor({ ...env, secondary: viaProxy }, {}, { backoff: { initialMs: 50, maxMs: 100 } });
    managers.push(m);
    try {
      const report = await m.repair();
      assert.equal(only(report.deferred).reason, 'replication target not OK');
      assert.deepEqual(report.fixed, []);
      assert.deepEqual(await pluginVolumes(env.primary), [arrayName], 'nothing is undone while the target is down');
      await proxy.listen(port);
      await waitFor('the background repair once the target is OK', async () => (await etcdKeys(env.client, INTENTS_PREFIX)).length === 0);
      assert.deepEqual(await pluginVolumes(env.primary), []);
      assert.deepEqual(await pluginVolumes(env.secondary), []);
      assert.deepEqual(await a.getRemoteCopyGroups(), []);
    } finally {
      await proxy.close();
    }
  });

  test('a plugin-named array volume without record or intent is reported, not deleted; so is a record without its volume', async () => {
    const orphanId = newVolumeId();
    const orphan = arrayVolumeName(orphanId, false);
    await arrayVolume(orphan, orphanId);
    await env.primary.admin.createVolume({ name: 'not-ours', cpg: 'FC_r1', sizeMiB: 1024, tpvv: true });
    const lostId = newVolumeId();
    await store.create(recordFor(lostId, 'lost1'));
    const report = await manager().repair();
    assert.deepEqual(report.fixed, []);
    assert.deepEqual(
      report.needsAdmin.map((n) => [n.problem, n.arrayName, n.volume]).sort(),
      [
        ['array volume without record', orphan, undefined],
        ['record without array volume', arrayVolumeName(lostId, false), 'lost1'],
      ].sort(),
    );
    assert.match(report.needsAdmin.find((n) => n.volume === 'lost1')!.detail, /docker volume rm lost1/);
    assert.deepEqual(await pluginVolumes(env.primary), [orphan]);
    assert.deepEqual(report.scanned.backends, ['DEFAULT', 'second']);
  });

  test('an intent whose lock is held is deferred, then settled in the background once the lock is free', async () => {
    const id = newVolumeId();
    const arrayName = arrayVolumeName(id, false);
    await intents.write(intent({ id, name: 'busy1', arrayName }));
    await arrayVolume(arrayName, id);
    const other = new EtcdLocks(env.client, { ttlSeconds: 2 });
    const held = await other.acquire(volumeLock('busy1'));
    const clock: Clock = { now: () => Date.now(), sleep: (ms, signal) => realClock.sleep(Math.min(ms, 50), signal) };
    const m = manager({}, { clock });
    const report = await m.repair();
    assert.equal(only(report.deferred).reason, 'lock busy');
    assert.deepEqual(await pluginVolumes(env.primary), [arrayName], 'left alone while locked');
    await held.release();
    await waitFor('background repair', async () => (await pluginVolumes(env.primary)).length === 0);
    await waitFor('intent gone', async () => (await etcdKeys(env.client, INTENTS_PREFIX)).length === 0);
  });

  test('a failed create whose cleanup failed too is finished by the running plugin within seconds', async () => {
    const m = manager();
    await m.repair();
    // The flash cache set fails, then the undo's DELETE of the new volume is refused: the intent stays.
    env.primary.sim.failNext('POST', /^\/api\/v1\/volumesets$/, 500);
    env.primary.sim.failNext('DELETE', /^\/api\/v1\/volumes\/dcv-/, 400, { code: 1, desc: 'injected: delete refused' });
    const failedAt = performance.now();
    await assert.rejects(m.create('left1', { size: '1', 'flash-cache': 'true' }), /cleanup incomplete: .*the plugin finishes it in the background/);
    assert.equal((await etcdKeys(env.client, INTENTS_PREFIX)).length, 1, 'the intent stays after the failed cleanup');
    assert.equal((await pluginVolumes(env.primary)).length, 1);
    // No restart and no other request: the running plugin's background pass settles it (first after 2 s).
    await waitFor('the leftover volume removed', async () => (await pluginVolumes(env.primary)).length === 0, { timeoutMs: 10_000 });
    await waitFor('the intent dropped', async () => (await etcdKeys(env.client, INTENTS_PREFIX)).length === 0, { timeoutMs: 10_000 });
    const took = performance.now() - failedAt;
    assert.ok(took < 8000, `settled after ${Math.round(took)} ms`);
    assert.equal(await store.getByName('left1'), undefined);
  });

  test('an intent of a backend that is down is deferred, and settled when the backend turns OK', async () => {
    const port = await freePort();
    const id = newVolumeId();
    const arrayName = arrayVolumeName(id, false);
    await intents.write(intent({ id, name: 'later1', arrayName, backend: 'down' }));
    const clock: Clock = { now: () => Date.now(), sleep: (ms, signal) => realClock.sleep(Math.min(ms, 30), signal) };
    const m = manager({ downPort: port }, { clock, repairWait: { backendsMs: 200, lockMs: 500 } });
    const report = await m.repair();
    assert.equal(only(report.deferred).reason, 'backend not OK');
    assert.deepEqual(report.scanned.backends, ['DEFAULT', 'second']);
    const late = await startSim({ systemName: 'late', cpgs: ['FC_r1'], password: PRIMARY_PASSWORD, port });
    try {
      await late.admin.createVolume({ name: arrayName, cpg: 'FC_r1', sizeMiB: 1024, tpvv: true });
      await waitFor('background repair of [down]', async () => (await pluginVolumes(late)).length === 0);
      await waitFor('intent gone', async () => (await etcdKeys(env.client, INTENTS_PREFIX)).length === 0);
    } finally {
      await m.close();
      await stopSim(late);
    }
  });
});

describe('kill -9 during creates and removes', () => {
  test('repair() at the next start leaves nothing lost or orphaned', async (t) => {
    const { secrets } = buildConfig(env);
    const { config } = buildConfig(env);
    const file = join(env.primary.dir, 'hpe.conf');
    writeFileSync(file, config.text, { mode: 0o600 });
    const child = spawn(process.execPath, [fileURLToPath(new URL('../fixtures/volume-crash-child.js', import.meta.url)), file], {
      env: { ...process.env, VM_SECRETS: JSON.stringify([...secrets.entries()]) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines: string[] = [];
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l));
    try {
      await waitFor('child ready', () => lines.includes('ready'), { timeoutMs: 20_000 });
      await waitFor('40 operations done', () => lines.filter((l) => l.startsWith('done ')).length >= 40, { timeoutMs: 30_000 });
      // Kill while an operation is between its intent and its end.
      await waitFor('an operation in flight', async () => (await etcdKeys(env.client, INTENTS_PREFIX)).length > 0, { timeoutMs: 10_000 });
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    const errors = lines.filter((l) => l.startsWith('error '));
    assert.deepEqual(errors, [], 'the child ran without errors until killed');
    const inFlight = await etcdKeys(env.client, INTENTS_PREFIX);
    // Let the simulator finish what the dead child sent, and the child's locks expire (TTL 1 s).
    await new Promise((r) => setTimeout(r, 2500));

    const m = manager({}, { repairWait: { backendsMs: 5000, lockMs: 3000 } });
    const report: RepairReport = await m.repair();
    t.diagnostic(`operations done: ${lines.filter((l) => l.startsWith('done ')).length}; intents at the kill: ${inFlight.length}; repair: ${report.fixed.map((f) => `${f.action} (${f.volume})`).join(', ') || 'nothing to fix'}`);
    assert.deepEqual(report.needsAdmin, [], 'nothing for the admin');
    assert.deepEqual(report.deferred, []);
    assert.equal(report.fixed.length >= inFlight.length || inFlight.length === 0, true, `intents at the kill: ${inFlight.length}, fixed: ${report.fixed.length}`);
    assert.deepEqual(await etcdKeys(env.client, INTENTS_PREFIX), []);
    await assertConsistent();

    // Everything left is fully manageable: remove it all through the manager, snapshots first.
    const { volumes } = await store.list();
    for (const v of volumes.filter((x) => x.record.is_snap)) await m.remove(v.record.display_name);
    for (const v of volumes.filter((x) => !x.record.is_snap)) await m.remove(v.record.display_name);
    assert.deepEqual(await pluginVolumes(env.primary), []);
    assert.deepEqual(await pluginVolumes(env.secondary), []);
    assert.deepEqual(await env.primary.admin.getRemoteCopyGroups(), []);
    assert.deepEqual((await env.primary.admin.getVolumeSets()).filter((s) => s.name.startsWith('vvs-')), []);
  });
});

/** Records ↔ array: each record's volume (and secondary, group membership, vvs- set) exists, and nothing else does. */
async function assertConsistent(): Promise<void> {
  const { volumes, unreadable } = await store.list();
  assert.deepEqual(unreadable, []);
  const a = env.primary.admin;
  const onPrimary = new Set(await pluginVolumes(env.primary));
  const onSecondary = new Set(await pluginVolumes(env.secondary));
  const groups = await a.getRemoteCopyGroups();
  const sets = (await a.getVolumeSets()).filter((s) => s.name.startsWith('vvs-'));
  const names = new Set(volumes.map((v) => v.record['3par_vol_name']));
  for (const { record: r } of volumes) {
    const name = r['3par_vol_name'];
    assert.ok(onPrimary.has(name), `record ${r.display_name}: array volume ${name}`);
    if (r.rcg_info !== null) {
      assert.ok(onSecondary.has(name), `record ${r.display_name}: secondary ${name}`);
      assert.ok(groups.find((g) => g.name === r.rcg_info!.local_rcg_name)?.volumes.some((v) => v.localVolumeName === name), `record ${r.display_name}: group member`);
    }
    if (r.flash_cache === true) assert.deepEqual(sets.find((s) => s.name === vvSetName(r.id))?.setmembers, [name], `record ${r.display_name}: vvs- set`);
  }
  for (const name of onPrimary) assert.ok(names.has(name), `array volume ${name} has a record`);
  for (const name of onSecondary) assert.ok(volumes.some((v) => v.record.rcg_info !== null && v.record['3par_vol_name'] === name), `secondary ${name} has a replicated record`);
  for (const s of sets) assert.ok(volumes.some((v) => vvSetName(v.record.id) === s.name), `vvs- set ${s.name} has a record`);
  for (const g of groups) {
    assert.ok(g.volumes.length > 0, `group ${g.name} is not left empty`);
    for (const v of g.volumes) assert.ok(names.has(v.localVolumeName), `group member ${v.localVolumeName} has a record`);
  }
}