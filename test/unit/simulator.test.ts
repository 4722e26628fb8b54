import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RcgRecoveryActions, RcgRoles, WsapiClient, WsapiCodes as C, WsapiError } from '../../src/array/index.js';
import { waitFor } from '../../src/clock.js';
import { simulatorDefaults, startSimulator, type RunningSimulator, type SimulatorOptions } from '../../src/simulator/index.js';
import { InstantClock, ManualClock } from '../support/clock.js';
import { HpeError } from '../../src/errors.js';

const MiB = 1024 * 1024;
const dirs: string[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'simulator-test-'));
  dirs.push(d);
  return d;
}

const simDirs = new Map<RunningSimulator, string>();

async function simulator(options: Partial<SimulatorOptions> = {}): Promise<RunningSimulator> {
  const stateDir = tempDir();
  const sim = await startSimulator({ listen: { host: '127.0.0.1', port: 0 }, stateDir, ...options });
  simDirs.set(sim, stateDir);
  return sim;
}

function dirOf(sim: RunningSimulator): string {
  const d = simDirs.get(sim);
  assert.ok(d !== undefined);
  return d;
}

function client(sim: { apiUrl: string; certPem?: string }): WsapiClient {
  return new WsapiClient({ apiUrl: sim.apiUrl, username: '3paradm', password: '3pardata', caCert: sim.certPem, clock: new InstantClock() });
}

/** The call fails with this HTTP status and WSAPI code (and the answer had both). */
async function fails(p: Promise<unknown>, status: number, code: number): Promise<WsapiError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof WsapiError, String(err));
    assert.equal(err.status, status, err.message);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected HTTP ${status} code ${code}, but the call succeeded`);
}

function volumeFile(dir: string, name: string): string {
  return join(dir, 'volumes', `${name}.img`);
}

after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('simulator basics', () => {
  let sim: RunningSimulator;
  let c: WsapiClient;
  before(async () => {
    sim = await simulator();
    c = client(sim);
  });
  after(async () => {
    await c.close();
    await sim.stop();
  });

  it('says it is a simulator and reports the default build', async () => {
    const system = await c.getSystem();
    assert.match(system.model, /Simulator/);
    assert.equal(system.name, simulatorDefaults.systemName);
    assert.equal(system.id, sim.systemId);
    assert.equal((await c.getApiVersion()).build, simulatorDefaults.wsapiBuild);
    assert.deepEqual((await c.getCpgs()).map((x) => x.name), ['FC_r1', 'FC_r5']);
    await fails(c.getCpg('nope'), 404, C.NON_EXISTENT_CPG);
  });

  it('answers every error as JSON {code, desc}; no session key means 403 code 6', async () => {
    const res = await fetch(`${sim.apiUrl}/volumes`);
    assert.equal(res.status, 403);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    const body = (await res.json()) as { code: number; desc: string };
    assert.equal(body.code, C.INV_SESS_KEY);
    assert.equal(typeof body.desc, 'string');
    await fails(c.request('GET', '/nothing-here'), 404, C.URI_RES_NOT_FOUND);
  });

  it('sets a Location header on creates', async () => {
    const res = await c.request('POST', '/volumes', { name: 'loc1', cpg: 'FC_r1', sizeMiB: 256, tpvv: true });
    assert.equal(res.status, 201);
    assert.equal(res.headers.location, '/api/v1/volumes/loc1');
    const host = await c.request('POST', '/hosts', { name: 'lochost', FCWWNs: ['10:00:00:00:c9:aa:cc:01'] });
    assert.equal(host.headers.location, '/api/v1/hosts/lochost');
    const set = await c.request('POST', '/volumesets', { name: 'locset' });
    assert.equal(set.headers.location, '/api/v1/volumesets/locset');
  });

  it('enforces volume names: ≤31 characters (57), legal characters (69)', async () => {
    await c.createVolume({ name: 'a'.repeat(31), cpg: 'FC_r1', sizeMiB: 256 });
    await fails(c.createVolume({ name: 'a'.repeat(32), cpg: 'FC_r1', sizeMiB: 256 }), 400, C.INV_INPUT_EXCEEDS_LENGTH);
    await fails(c.createVolume({ name: 'bad name!', cpg: 'FC_r1', sizeMiB: 256 }), 400, C.INV_INPUT_ILLEGAL_CHAR);
    await fails(c.getVolume('b'.repeat(32)), 400, C.INV_INPUT_EXCEEDS_LENGTH);
    await fails(c.getVolume('bad*name'), 400, C.INV_INPUT_ILLEGAL_CHAR);
    await fails(c.createHost({ name: 'h'.repeat(32) }), 400, C.INV_INPUT_EXCEEDS_LENGTH);
  });

  it('enforces CPGs (404 15), duplicates (409 22, 59) and parameters (12, 39, 40)', async () => {
    await fails(c.createVolume({ name: 'v-cpg', cpg: 'NO_SUCH', sizeMiB: 256 }), 404, C.NON_EXISTENT_CPG);
    await fails(c.createVolume({ name: 'v-cpg', cpg: 'FC_r1', snapCPG: 'NO_SUCH', sizeMiB: 256 }), 404, C.NON_EXISTENT_CPG);
    await c.createVolume({ name: 'dup1', cpg: 'FC_r1', sizeMiB: 256, id: 4000 });
    await fails(c.createVolume({ name: 'dup1', cpg: 'FC_r1', sizeMiB: 256 }), 409, C.EXISTENT_VOL);
    await fails(c.createVolume({ name: 'dup2', cpg: 'FC_r1', sizeMiB: 256, id: 4000 }), 409, C.EXISTENT_ID);
    await fails(c.request('POST', '/volumes', { name: 'p1', cpg: 'FC_r1', sizeMiB: 256, thin: true }), 400, C.INV_INPUT);
    await fails(c.request('POST', '/volumes', { name: 'p1', cpg: 'FC_r1', sizeMiB: '256' }), 400, C.INV_INPUT_WRONG_TYPE);
    await fails(c.request('POST', '/volumes', { name: 'p1', cpg: 'FC_r1' }), 400, C.INV_INPUT_MISSING_REQUIRED);
    await fails(c.request('POST', '/volumes', { cpg: 'FC_r1', sizeMiB: 1 }), 400, C.INV_INPUT_MISSING_REQUIRED);
  });

  it('enforces sizes: 0 (43), above 16 TiB (28); compression rules (43, 44)', async () => {
    await fails(c.createVolume({ name: 'size0', cpg: 'FC_r1', sizeMiB: 0 }), 400, C.INV_INPUT_EXCEEDS_RANGE);
    await fails(c.createVolume({ name: 'sizeBig', cpg: 'FC_r1', sizeMiB: 16 * 1024 * 1024 + 1, tpvv: true }), 400, C.TOO_LARGE);
    await fails(c.createVolume({ name: 'cmp1', cpg: 'FC_r1', sizeMiB: 1024, tpvv: true, compression: true }), 400, C.INV_INPUT_EXCEEDS_RANGE);
    await fails(c.createVolume({ name: 'cmp2', cpg: 'FC_r1', sizeMiB: 16384, compression: true }), 400, C.INV_INPUT_PARAM_CONFLICT);
    await fails(c.createVolume({ name: 'tt', cpg: 'FC_r1', sizeMiB: 1024, tpvv: true, tdvv: true }), 400, C.INV_INPUT_PARAM_CONFLICT);
    await c.createVolume({ name: 'cmp3', cpg: 'FC_r1', sizeMiB: 16384, tdvv: true, compression: true });
    const v = await c.getVolume('cmp3');
    assert.deepEqual([v.provisioningType, v.compressionState, v.deduplicationState], [6, 1, 1]);
  });

  it('grows by an increment (152 for ≤0, 28 past 16 TiB) and grows the sparse file', async () => {
    await c.createVolume({ name: 'grow1', cpg: 'FC_r1', sizeMiB: 256, tpvv: true });
    await c.growVolume('grow1', 256);
    assert.equal((await c.getVolume('grow1')).sizeMiB, 512);
    assert.equal(statSync(volumeFile(dirOf(sim), 'grow1')).size, 512 * MiB);
    await fails(c.growVolume('grow1', 0), 400, C.INV_INPUT_VV_GROW_SIZE);
    await fails(c.growVolume('grow1', 16 * 1024 * 1024), 400, C.TOO_LARGE);
    await fails(c.growVolume('nope', 1), 404, C.NON_EXISTENT_VOL);
  });

  it('refuses to delete a volume with a snapshot (409 25), a VLUN or a set (409 34); unknown is 404 23', async () => {
    await c.createVolume({ name: 'del1', cpg: 'FC_r1', sizeMiB: 256, tpvv: true, snapCPG: 'FC_r5' });
    await c.createSnapshot('del1', 'del1-s', { readOnly: true });
    await fails(c.deleteVolume('del1'), 409, C.HAS_RO_CHILD);
    await c.deleteVolume('del1-s');
    await c.createHost({ name: 'delhost', iSCSINames: ['iqn.2024-01.test:del'] });
    const vlun = await c.createVlun({ volumeName: 'del1', hostname: 'delhost', lun: 'auto' });
    await fails(c.deleteVolume('del1'), 409, C.IN_USE);
    await fails(c.deleteHost('delhost'), 409, C.EXPORTED_VLUN);
    await c.deleteVlun('del1', vlun.lun, 'delhost');
    await c.createVolumeSet({ name: 'delset', setmembers: ['del1'] });
    await fails(c.deleteVolume('del1'), 409, C.IN_USE);
    await c.removeVolumesFromSet('delset', ['del1']);
    await c.deleteVolume('del1');
    await fails(c.deleteVolume('del1'), 404, C.NON_EXISTENT_VOL);
    await fails(c.getVolume('del1'), 404, C.NON_EXISTENT_VOL);
  });

  it('answers the query forms the driver uses', async () => {
    await c.createVolume({ name: 'q-base', cpg: 'FC_r1', sizeMiB: 256, tpvv: true, snapCPG: 'FC_r5' });
    await c.createSnapshot('q-base', 'q-snap1');
    await c.createSnapshot('q-base', 'q-snap2');
    assert.deepEqual((await c.getVolumeSnapshots('q-base')).map((v) => v.name).sort(), ['q-snap1', 'q-snap2']);
    const bySnapCpg = await c.queryVolumes('snapCPG EQ FC_r5');
    assert.ok(bySnapCpg.some((v) => v.name === 'q-snap1') && bySnapCpg.every((v) => v.snapCPG === 'FC_r5'));
    assert.deepEqual((await c.queryVolumes('copyOf EQ q-base AND name EQ q-snap2')).map((v) => v.name), ['q-snap2']);

    await c.createHost({ name: 'q-fc', FCWWNs: ['10000000C9AABB01', '10:00:00:00:c9:aa:bb:02'] });
    await c.createHost({ name: 'q-iscsi', iSCSINames: ['iqn.2024-01.test:q'] });
    assert.deepEqual((await c.queryHosts({ fcWwns: ['10000000c9aabb02', '2000000000000000'] })).map((h) => h.name), ['q-fc']);
    assert.deepEqual((await c.queryHosts({ fcWwns: ['10000000c9aabb01'], iscsiNames: ['iqn.2024-01.test:q'] })).map((h) => h.name).sort(), ['q-fc', 'q-iscsi']);
    assert.deepEqual(await c.queryHosts({ iscsiNames: ['iqn.2024-01.test:none'] }), []);

    await c.createVlun({ volumeName: 'q-base', hostname: 'q-iscsi', lun: 'auto' });
    assert.deepEqual([...new Set((await c.getVolumeVluns('q-base')).map((v) => v.hostname))], ['q-iscsi']);
    assert.deepEqual([...new Set((await c.getHostVluns('q-iscsi')).map((v) => v.volumeName))], ['q-base']);
    await fails(c.request('GET', `/volumes?query=${encodeURIComponent('copyOf EQ q-base')}`), 400, C.INV_INPUT);
    await fails(c.request('GET', `/volumes?query=${encodeURIComponent('"copyOf LIKE q"')}`), 400, C.INV_INPUT);
  });

  it('copies online (creates the destination) and offline (needs it, at least as large), with tasks that complete', async () => {
    const dir = dirOf(sim);
    await c.createVolume({ name: 'cp-src', cpg: 'FC_r1', sizeMiB: 64, tpvv: true });
    const fd = openSync(volumeFile(dir, 'cp-src'), 'r+');
    writeSync(fd, Buffer.from('hello clone'), 0, 11, 10 * MiB);
    closeSync(fd);

    await fails(c.copyVolume('cp-src', 'cp-on', { online: true }), 400, C.INV_INPUT_MISSING_REQUIRED);
    const t1 = await c.copyVolume('cp-src', 'cp-on', { online: true, destCPG: 'FC_r5', tpvv: true });
    const task = await c.waitForTask(t1.taskid, { pollIntervalMs: 5 });
    assert.equal(task.status, 1);
    const clone = await c.getVolume('cp-on');
    assert.deepEqual([clone.sizeMiB, clone.userCPG, clone.copyType], [64, 'FC_r5', 1]);
    assert.equal(readAt(volumeFile(dir, 'cp-on'), 10 * MiB, 11), 'hello clone');
    await fails(c.copyVolume('cp-src', 'cp-on', { online: true, destCPG: 'FC_r1' }), 409, C.EXISTENT_VOL);

    await fails(c.copyVolume('cp-src', 'cp-off', { online: false }), 404, C.NON_EXISTENT_VOL);
    await c.createVolume({ name: 'cp-small', cpg: 'FC_r1', sizeMiB: 32, tpvv: true });
    await fails(c.copyVolume('cp-src', 'cp-small', { online: false }), 400, C.INV_INPUT_EXCEEDS_RANGE);
    await c.createVolume({ name: 'cp-off', cpg: 'FC_r1', sizeMiB: 128, tpvv: true });
    const t2 = await c.copyVolume('cp-src', 'cp-off', { online: false, priority: 1 });
    await c.waitForTask(t2.taskid, { pollIntervalMs: 5 });
    assert.equal(readAt(volumeFile(dir, 'cp-off'), 10 * MiB, 11), 'hello clone');
    assert.equal(statSync(volumeFile(dir, 'cp-off')).size, 128 * MiB);
    assert.equal((await c.getVolume('cp-off')).sizeMiB, 128);
    assert.ok((await c.getTasks()).some((t) => t.id === t2.taskid && t.status === 1));
    await fails(c.getTask(99999), 404, C.NON_EXISTENT_TASK);
  });

  it('renames a volume with everything that refers to it', async () => {
    const dir = dirOf(sim);
    await c.createVolume({ name: 'ren1', cpg: 'FC_r1', sizeMiB: 64, tpvv: true });
    await c.createSnapshot('ren1', 'ren1-s');
    await c.createHost({ name: 'renhost', iSCSINames: ['iqn.2024-01.test:ren'] });
    await c.createVlun({ volumeName: 'ren1', hostname: 'renhost', lun: 5 });
    await c.createVolume({ name: 'ren-taken', cpg: 'FC_r1', sizeMiB: 64 });
    await fails(c.renameVolume('ren1', 'ren-taken'), 409, C.EXISTENT_VOL);
    await c.modifyVolume('ren1', { newName: 'ren2', comment: '{"display_name":"x"}' });
    assert.ok(existsSync(volumeFile(dir, 'ren2')) && !existsSync(volumeFile(dir, 'ren1')));
    assert.equal((await c.getVolume('ren1-s')).copyOf, 'ren2');
    const renVluns = await c.getHostVluns('renhost');
    assert.deepEqual(renVluns.filter((v) => !v.active).map((v) => v.volumeName), ['ren2']);
    assert.deepEqual(renVluns.filter((v) => v.active).map((v) => [v.volumeName, v.portPos?.node]), [['ren2', 0], ['ren2', 1]]);
    await fails(c.request('PUT', '/volumes/ren2', { size: 1 }), 400, C.INV_INPUT);
  });

  it('keeps metadata per volume (≤31 characters; 409 181, 404 180)', async () => {
    await c.createVolume({ name: 'meta1', cpg: 'FC_r1', sizeMiB: 64 });
    await c.request('POST', '/volumes/meta1/objectKeyValues', { key: 'k1', value: 'v1' });
    await fails(c.request('POST', '/volumes/meta1/objectKeyValues', { key: 'k1', value: 'v2' }), 409, C.EXISTENT_OBJECT_KEY);
    await fails(c.request('POST', '/volumes/meta1/objectKeyValues', { key: 'k2', value: 'x'.repeat(32) }), 400, C.INV_INPUT_EXCEEDS_LENGTH);
    await fails(c.getVolumeMetadata('meta1', 'k9'), 404, C.NON_EXISTENT_OBJECT_KEY);
    assert.deepEqual(await c.getAllVolumeMetadata('meta1'), [{ key: 'k1', value: 'v1' }]);
    await fails(c.getAllVolumeMetadata('nope'), 404, C.NON_EXISTENT_VOL);
  });
});

describe('simulator hosts, VLUNs, ports, sets', () => {
  let sim: RunningSimulator;
  let c: WsapiClient;
  before(async () => {
    sim = await simulator();
    c = client(sim);
  });
  after(async () => {
    await c.close();
    await sim.stop();
  });

  it('offers ready iSCSI target ports on loopback portals and FC target ports', async () => {
    const ports = await c.getPorts();
    const iscsi = ports.filter((p) => p.protocol === 2);
    assert.deepEqual(iscsi.map((p) => [p.IPAddr, p.mode, p.linkState]), [['127.0.0.1', 2, 4], ['127.0.0.2', 2, 4]]);
    assert.ok(iscsi.every((p) => p.iSCSIName?.startsWith('iqn.2000-05.com.3pardata:')));
    const fc = ports.filter((p) => p.protocol === 1);
    assert.equal(fc.length, 2);
    assert.ok(fc.every((p) => /^[0-9A-F]{16}$/.test(p.portWWN ?? '') && p.type === 1));
  });

  it('enforces host rules: 409 16, 409 73, 400 44, 404 80, CHAP secret length', async () => {
    await c.createHost({ name: 'h1', FCWWNs: ['10000000C9000001'], persona: 2 });
    await fails(c.createHost({ name: 'h1', FCWWNs: ['10000000C9000009'] }), 409, C.EXISTENT_HOST);
    await fails(c.createHost({ name: 'h2', FCWWNs: ['10:00:00:00:c9:00:00:01'] }), 409, C.EXISTENT_PATH);
    await fails(c.createHost({ name: 'h2', FCWWNs: ['1000'] }), 400, C.INV_INPUT_WRONG_TYPE);
    await fails(c.createHost({ name: 'h2', FCWWNs: ['10000000C9000002'], iSCSINames: ['iqn.x'] }), 400, C.INV_INPUT_PARAM_CONFLICT);
    await fails(c.modifyHost('h1', { pathOperation: 2, FCWWNs: ['10000000C9000077'] }), 404, C.NON_EXISTENT_PATH);
    const h1 = await c.getHost('h1');
    assert.deepEqual(new Set(h1.FCPaths.map((p) => p.wwn)), new Set(['10000000C9000001']));
    assert.ok(h1.FCPaths.every((p) => p.portPos !== undefined));
    await c.createHost({ name: 'h3', iSCSINames: ['iqn.2024-01.test:h3'] });
    await fails(c.modifyHost('h3', { chapOperation: 1, chapOperationMode: 1, chapName: 'h3', chapSecret: 'short' }), 400, C.INV_INPUT_EXCEEDS_RANGE);
    await c.modifyHost('h3', { pathOperation: 1, iSCSINames: ['iqn.2024-01.test:h3b'] });
    await fails(c.modifyHost('h1', { pathOperation: 1, iSCSINames: ['iqn.2024-01.test:h3b'] }), 409, C.EXISTENT_PATH);
    assert.equal((await c.getHost('h3')).iSCSIPaths.length, 2);
    await fails(c.getHost('nohost'), 404, C.NON_EXISTENT_HOST);
  });

  it('enforces VLUN rules: 404 23/17/20, 409 18, 404 19; auto LUN; port-only VLUNs', async () => {
    await c.createVolume({ name: 'lv1', cpg: 'FC_r1', sizeMiB: 64 });
    await c.createVolume({ name: 'lv2', cpg: 'FC_r1', sizeMiB: 64 });
    await c.createHost({ name: 'lhost', iSCSINames: ['iqn.2024-01.test:l'] });
    const port = { node: 0, slot: 2, cardPort: 1 };
    await fails(c.createVlun({ volumeName: 'nope', hostname: 'lhost', lun: 0 }), 404, C.NON_EXISTENT_VOL);
    await fails(c.createVlun({ volumeName: 'lv1', hostname: 'nohost', lun: 0 }), 404, C.NON_EXISTENT_HOST);
    await fails(c.createVlun({ volumeName: 'lv1', hostname: 'lhost', lun: 0, portPos: { node: 7, slot: 7, cardPort: 7 } }), 404, C.NON_EXISTENT_PORT);
    await fails(c.createVlun({ volumeName: 'lv1', hostname: 'lhost', lun: 16384 }), 400, C.TOO_LARGE);
    const a = await c.createVlun({ volumeName: 'lv1', hostname: 'lhost', lun: 0, portPos: port });
    await fails(c.createVlun({ volumeName: 'lv2', hostname: 'lhost', lun: 0, portPos: port }), 409, C.EXISTENT_LUN);
    const b = await c.createVlun({ volumeName: 'lv2', hostname: 'lhost', lun: 'auto', portPos: port });
    assert.deepEqual([a.lun, b.lun], [0, 1]);
    const vluns = await c.getHostVluns('lhost');
    assert.equal(vluns.filter((v) => !v.active).length, 2);
    assert.ok(vluns.filter((v) => v.active).every((v) => v.remoteName === 'iqn.2024-01.test:l'));
    const portOnly = await c.createVlun({ volumeName: 'lv1', portPos: { node: 1, slot: 2, cardPort: 1 }, lun: 3 });
    assert.equal(portOnly.location, 'lv1,3,,1:2:1');
    await c.deleteVlun('lv1', 3, undefined, { node: 1, slot: 2, cardPort: 1 });
    await fails(c.deleteVlun('lv1', 0, 'lhost'), 404, C.NON_EXISTENT_VLUN);
    await c.deleteVlun('lv1', 0, 'lhost', port);
    await fails(c.deleteVlun('lv1', 0, 'lhost', port), 404, C.NON_EXISTENT_VLUN);
  });

  it('enforces volume set and QoS rules: 400 101, 404 77, 404 100, 400 114, 409 34', async () => {
    await c.createVolume({ name: 'sv1', cpg: 'FC_r1', sizeMiB: 64 });
    await c.createVolumeSet({ name: 'set1', comment: 'c' });
    await fails(c.createVolumeSet({ name: 'set1' }), 400, C.EXISTENT_SET);
    await fails(c.getVolumeSet('noset'), 404, C.NON_EXISTENT_SET);
    await fails(c.addVolumesToSet('set1', ['nope']), 404, C.NON_EXISTENT_VOL);
    await c.addVolumesToSet('set1', ['sv1']);
    await c.setFlashCachePolicy('set1', 2);
    assert.deepEqual([(await c.getVolumeSet('set1')).setmembers, (await c.getVolumeSet('set1')).flashCachePolicy], [['sv1'], 2]);
    await fails(c.getQosRule('set1'), 404, C.NON_EXISTENT_QOS_RULE);
    await fails(c.createQosRule({ name: 'noset', ioMaxLimit: 1 }), 404, C.NON_EXISTENT_SET);
    await c.createQosRule({ name: 'set1', ioMaxLimit: 500, priority: 2 });
    await fails(c.createQosRule({ name: 'set1', ioMaxLimit: 1 }), 400, C.EXISTENT_QOS_RULE);
    assert.equal((await c.getVolumeSet('set1')).qosEnabled, true);
    await fails(c.deleteVolumeSet('set1'), 409, C.IN_USE);
    await c.deleteQosRule('set1');
    await c.deleteVolumeSet('set1');
  });

  it('gates flash cache by build', async () => {
    const old = await simulator({ wsapiBuild: 30201120 });
    const oc = client(old);
    await oc.createVolumeSet({ name: 'fc-set' });
    await fails(oc.setFlashCachePolicy('fc-set', 1), 400, C.INV_INPUT);
    await fails(oc.createVolume({ name: 'cmp', cpg: 'FC_r1', sizeMiB: 16384, tpvv: true, compression: true }), 400, C.INV_INPUT);
    await oc.close();
    await old.stop();
  });
});

describe('simulator state', () => {
  it('keeps volumes, hosts, VLUNs, sets and its identity across a restart; old sessions are gone', async () => {
    const dir = tempDir();
    const listen = { host: '127.0.0.1', port: 0 };
    const first = await startSimulator({ listen, stateDir: dir, tls: true });
    let c = client(first);
    await c.createVolume({ name: 'keep1', cpg: 'FC_r1', sizeMiB: 128, tpvv: true, comment: 'kept' });
    await c.createHost({ name: 'keephost', iSCSINames: ['iqn.2024-01.test:keep'] });
    await c.createVlun({ volumeName: 'keep1', hostname: 'keephost', lun: 4 });
    await c.createVolumeSet({ name: 'keepset', setmembers: ['keep1'] });
    await c.setVolumeMetadata('keep1', 'k', 'v');
    const { systemId, certPem } = first;
    await first.stop();
    const again = await startSimulator({ listen: { host: '127.0.0.1', port: first.port }, stateDir: dir, tls: true });
    assert.equal(again.systemId, systemId);
    assert.equal(again.certPem, certPem);
    c = new WsapiClient({ apiUrl: again.apiUrl, username: '3paradm', password: '3pardata', caCert: again.certPem, clock: new InstantClock() });
    assert.equal((await c.getVolume('keep1')).comment, 'kept');
    assert.equal((await c.getHostVluns('keephost')).find((v) => !v.active)?.lun, 4);
    assert.deepEqual((await c.getVolumeSet('keepset')).setmembers, ['keep1']);
    assert.equal((await c.getVolumeMetadata('keep1', 'k')).value, 'v');
    await c.close();
    await again.stop();
  });

  it('a busy port is refused saying the port is in use, with a fix, never as a bug', async () => {
    const first = await startSimulator({ listen: { host: '127.0.0.1', port: 0 }, stateDir: tempDir() });
    try {
      await assert.rejects(startSimulator({ listen: { host: '127.0.0.1', port: first.port }, stateDir: tempDir() }), (e: unknown) => {
        assert.ok(e instanceof HpeError);
        assert.equal(e.message, `the simulator cannot listen on 127.0.0.1:${first.port}: port ${first.port} is already in use by another process`);
        assert.match(e.fix, /choose another port with --listen 127\.0\.0\.1:<port>/);
        return true;
      });
    } finally {
      await first.stop();
    }
  });

  it('an existing client re-logs in after the simulator restarts', async () => {
    const dir = tempDir();
    const first = await startSimulator({ listen: { host: '127.0.0.1', port: 0 }, stateDir: dir });
    const c = client(first);
    await c.createVolume({ name: 'r1', cpg: 'FC_r1', sizeMiB: 64 });
    await first.stop();
    const again = await startSimulator({ listen: { host: '127.0.0.1', port: first.port }, stateDir: dir });
    assert.equal((await c.getVolume('r1')).sizeMiB, 64);
    assert.deepEqual(again.requestLog.map((r) => `${r.method} ${r.path} ${r.status}`), [
      'GET /api/v1/volumes/r1 403',
      'POST /api/v1/credentials 201',
      'GET /api/v1/volumes/r1 200',
    ]);
    await c.close();
    await again.stop();
  });

  it('backs each volume with a sparse file of its size, removed with the volume', async () => {
    const dir = tempDir();
    const sim = await startSimulator({ listen: { host: '127.0.0.1', port: 0 }, stateDir: dir });
    const c = client(sim);
    await c.createVolume({ name: 'sparse1', cpg: 'FC_r1', sizeMiB: 10240, tpvv: true });
    const st = statSync(volumeFile(dir, 'sparse1'));
    assert.equal(st.size, 10240 * MiB);
    assert.ok(st.blocks * 512 < MiB, `allocated ${st.blocks * 512} bytes`);
    await c.createSnapshot('sparse1', 'sparse1-s');
    assert.ok(statSync(volumeFile(dir, 'sparse1-s')).blocks * 512 < MiB);
    await c.deleteVolume('sparse1-s');
    await c.deleteVolume('sparse1');
    assert.ok(!existsSync(volumeFile(dir, 'sparse1')) && !existsSync(volumeFile(dir, 'sparse1-s')));
    await c.close();
    await sim.stop();
  });
});

/** arrayA replicating to arrayB, started before the suite's tests and stopped after them, with a client for each. */
function linkedPair(options: { clock?: ManualClock } = {}) {
  const pair = {} as { primary: RunningSimulator; secondary: RunningSimulator; p: WsapiClient; s: WsapiClient };
  before(async () => {
    pair.secondary = await simulator({ systemName: 'arrayB', ...options });
    pair.primary = await simulator({
      systemName: 'arrayA',
      ...options,
      remoteTargets: { arrayB: { apiUrl: pair.secondary.apiUrl, username: '3paradm', password: '3pardata' } },
    });
    pair.p = client(pair.primary);
    pair.s = client(pair.secondary);
  });
  after(async () => {
    await pair.p.close();
    await pair.s.close();
    await pair.primary.stop();
    await pair.secondary.stop();
  });
  return pair;
}

describe('two linked simulators: remote copy', () => {
  const pair = linkedPair();

  const target = { targetName: 'arrayB', mode: 1, userCPG: 'FC_r1', snapCPG: 'FC_r5' };

  it('creates the group here and its pair.secondary mirror on the target', async () => {
    await fails(pair.p.createRemoteCopyGroup({ name: 'g'.repeat(26), targets: [target] }), 400, C.INV_INPUT_EXCEEDS_LENGTH);
    await fails(pair.p.createRemoteCopyGroup({ name: 'rcg1', targets: [{ ...target, targetName: 'nowhere' }] }), 400, C.INV_INPUT);
    await fails(pair.p.createRemoteCopyGroup({ name: 'rcg1', targets: [{ ...target, mode: 3 }] }), 400, C.INV_INPUT_BAD_ENUM_VALUE);
    await fails(pair.p.createRemoteCopyGroup({ name: 'rcg1', targets: [{ ...target, userCPG: 'NO_CPG' }] }), 404, C.NON_EXISTENT_CPG);
    assert.deepEqual(await pair.s.getRemoteCopyGroups(), []);
    await pair.p.createRemoteCopyGroup({ name: 'rcg1', targets: [target], localUserCPG: 'FC_r1', localSnapCPG: 'FC_r5' });
    await fails(pair.p.createRemoteCopyGroup({ name: 'rcg1', targets: [target] }), 409, C.EXISTENT_RCOPY_GROUP);
    const g = await pair.p.getRemoteCopyGroup('rcg1');
    const mirrorName = `rcg1.r${pair.primary.systemId}`;
    assert.deepEqual([g.role, g.remoteGroupName, g.targets[0]?.targetName], [1, mirrorName, 'arrayB']);
    const mirror = await pair.s.getRemoteCopyGroup(mirrorName);
    assert.deepEqual([mirror.role, mirror.remoteGroupName, mirror.targets[0]?.targetName, mirror.localUserCPG], [2, 'rcg1', 'arrayA', 'FC_r1']);
    await fails(pair.p.getRemoteCopyGroup('nogroup'), 404, C.NON_EXISTENT_RCOPY_GROUP);
  });

  it('modifies targets (sync period, Peer Persistence only in sync mode)', async () => {
    await pair.p.modifyRemoteCopyGroup('rcg1', { targets: [{ targetName: 'arrayB', policies: { autoFailover: true, pathManagement: true, autoRecover: true } }] });
    assert.equal((await pair.p.getRemoteCopyGroup('rcg1')).targets[0]?.policies?.autoFailover, true);
    await fails(
      pair.p.modifyRemoteCopyGroup('rcg1', { targets: [{ targetName: 'arrayB', mode: 2, policies: { autoFailover: true } }] }),
      400,
      C.INV_INPUT_PARAM_CONFLICT,
    );
    await fails(pair.p.modifyRemoteCopyGroup('rcg1', { targets: [{ targetName: 'arrayC', syncPeriod: 900 }] }), 400, C.INV_INPUT);
  });

  it('admits a volume, creating the pair.secondary volume on the target', async () => {
    await pair.p.createVolume({ name: 'rv1', cpg: 'FC_r1', sizeMiB: 1024, tpvv: true, snapCPG: 'FC_r5' });
    await fails(pair.p.addVolumeToRemoteCopyGroup('rcg1', 'rv1', { targets: [{ targetName: 'arrayB', secVolumeName: 'rv1' }] }), 404, C.NON_EXISTENT_VOL);
    await pair.p.addVolumeToRemoteCopyGroup('rcg1', 'rv1', { targets: [{ targetName: 'arrayB', secVolumeName: 'rv1' }], volumeAutoCreation: true });
    const sec = await pair.s.getVolume('rv1');
    assert.deepEqual([sec.sizeMiB, sec.userCPG, sec.snapCPG, sec.provisioningType], [1024, 'FC_r1', 'FC_r5', 2]);
    const g = await pair.p.getRemoteCopyGroup('rcg1');
    assert.deepEqual(g.volumes.map((v) => [v.localVolumeName, v.remoteVolumes[0]?.remoteVolumeName]), [['rv1', 'rv1']]);
    const mirror = await pair.s.getRemoteCopyGroup(`rcg1.r${pair.primary.systemId}`);
    assert.deepEqual(mirror.volumes.map((v) => [v.localVolumeName, v.remoteVolumes[0]?.targetName]), [['rv1', 'arrayA']]);
    await fails(pair.p.addVolumeToRemoteCopyGroup('rcg1', 'rv1', { targets: [{ targetName: 'arrayB', secVolumeName: 'rv1' }] }), 403, C.INV_OPERATION_VV_IN_REMOTE_COPY);
    await fails(pair.p.deleteVolume('rv1'), 403, C.INV_OPERATION_VV_IN_REMOTE_COPY);
    await fails(pair.s.deleteVolume('rv1'), 403, C.INV_OPERATION_VV_IN_REMOTE_COPY);
  });

  it('starts and stops the group on both arrays', async () => {
    await pair.p.startRemoteCopy('rcg1');
    assert.equal((await pair.p.getRemoteCopyGroup('rcg1')).targets[0]?.state, 3);
    assert.equal((await pair.s.getRemoteCopyGroup(`rcg1.r${pair.primary.systemId}`)).targets[0]?.state, 3);
    await pair.p.stopRemoteCopy('rcg1');
    assert.equal((await pair.p.getRemoteCopyGroup('rcg1')).targets[0]?.state, 5);
    assert.equal((await pair.s.getRemoteCopyGroup(`rcg1.r${pair.primary.systemId}`)).targets[0]?.state, 5);
  });

  it('removes the volume with its pair.secondary, then deletes the group on both arrays', async () => {
    await pair.p.removeVolumeFromRemoteCopyGroup('rcg1', 'rv1', { removeSecondaryVolume: true });
    await fails(pair.s.getVolume('rv1'), 404, C.NON_EXISTENT_VOL);
    assert.deepEqual((await pair.p.getRemoteCopyGroup('rcg1')).volumes, []);
    assert.deepEqual((await pair.s.getRemoteCopyGroup(`rcg1.r${pair.primary.systemId}`)).volumes, []);
    await fails(pair.p.removeVolumeFromRemoteCopyGroup('rcg1', 'rv1'), 404, C.NON_EXISTENT_VOL);
    await pair.p.deleteVolume('rv1');
    await pair.p.deleteRemoteCopyGroup('rcg1', { keepSnap: false });
    await fails(pair.p.getRemoteCopyGroup('rcg1'), 404, C.NON_EXISTENT_RCOPY_GROUP);
    await fails(pair.s.getRemoteCopyGroup(`rcg1.r${pair.primary.systemId}`), 404, C.NON_EXISTENT_RCOPY_GROUP);
  });
});

describe("two linked simulators: a role change held half way runs on the simulators' clock", () => {
  const clock = new ManualClock();
  const pair = linkedPair({ clock });

  async function startedGroup(name: string): Promise<string> {
    await pair.p.createRemoteCopyGroup({ name, targets: [{ targetName: 'arrayB', mode: 1, userCPG: 'FC_r1', snapCPG: 'FC_r5' }], localUserCPG: 'FC_r1', localSnapCPG: 'FC_r5' });
    await pair.p.startRemoteCopy(name);
    return `${name}.r${pair.primary.systemId}`;
  }

  const switchover = (group: string) => pair.p.request('POST', `/remotecopygroups/${group}`, { action: RcgRecoveryActions.SWITCHOVER, simulatorTransitionMs: 60_000 });

  it('finishes a switchover once the clock has moved past the transition', async () => {
    const mirror = await startedGroup('hold1');
    await switchover('hold1');
    assert.equal((await pair.p.getRemoteCopyGroup('hold1')).role, RcgRoles.SECONDARY_REV);
    await clock.advance(59_000);
    assert.equal((await pair.s.getRemoteCopyGroup(mirror)).role, RcgRoles.SECONDARY, 'the peer waits for the clock, not for real time');
    await clock.advance(1_000);
    await waitFor('the peer to become pair.primary-rev', async () => (await pair.s.getRemoteCopyGroup(mirror)).role === RcgRoles.PRIMARY_REV);
  });

  it('stop() ends the wait: no timer is left and the second half never runs', async () => {
    const mirror = await startedGroup('hold2');
    const before = clock.pending;
    await switchover('hold2');
    assert.equal(clock.pending, before + 1, 'the second half waits on the clock');
    await pair.primary.stop();
    assert.equal(clock.pending, before - 1, "stop() ended the transition's wait and the schedule loop's");
    await clock.advance(120_000);
    assert.equal((await pair.s.getRemoteCopyGroup(mirror)).role, RcgRoles.SECONDARY, 'nothing ran after stop()');
    await pair.secondary.stop();
    assert.equal(clock.pending, 0, 'both simulators stopped: nothing waits');
  });
});

function readAt(file: string, pos: number, length: number): string {
  const fd = openSync(file, 'r');
  const buf = Buffer.alloc(length);
  readSync(fd, buf, 0, length, pos);
  closeSync(fd);
  return buf.toString('utf8');
}

