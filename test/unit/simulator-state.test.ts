import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { WsapiClient } from '../../src/array/index.js';
import { HpeError } from '../../src/errors.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.js';
import { InstantClock } from '../support/clock.js';

const dirs: string[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'simulator-state-test-'));
  dirs.push(d);
  return d;
}

after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function start(stateDir: string, extra: { remoteTargets?: Record<string, { apiUrl: string; username: string; password: string }>; systemName?: string } = {}): Promise<RunningSimulator> {
  return startSimulator({ listen: { host: '127.0.0.1', port: 0 }, stateDir, ...extra });
}

function client(sim: RunningSimulator): WsapiClient {
  return new WsapiClient({ apiUrl: sim.apiUrl, username: '3paradm', password: '3pardata', clock: new InstantClock() });
}

/** Everything a client can see of the array's objects. */
async function everything(c: WsapiClient): Promise<unknown> {
  const get = async (path: string): Promise<unknown> => (await c.request('GET', path)).body;
  return {
    volumes: await get('/volumes'),
    hosts: await get('/hosts'),
    vluns: await get('/vluns'),
    sets: await get('/volumesets'),
    qos: await get('/qos'),
    tasks: await get('/tasks'),
    rcgs: await get('/remotecopygroups'),
    metadata: await get('/volumes/v1/objectKeyValues'),
  };
}

/** Volumes, snapshots, copies, renames, metadata, hosts with CHAP, VLUNs, sets with QoS, a remote copy group. */
async function buildArray(c: WsapiClient): Promise<void> {
  await c.createVolume({ name: 'v1', cpg: 'FC_r1', sizeMiB: 1024, tpvv: true, comment: 'first' });
  await c.createVolume({ name: 'v2', cpg: 'FC_r1', sizeMiB: 2048, tpvv: true });
  await c.createVolume({ name: 'gone', cpg: 'FC_r1', sizeMiB: 64 });
  await c.deleteVolume('gone');
  await c.createSnapshot('v1', 'v1-snap');
  await c.request('PUT', '/volumes/v2', { newName: 'v2-renamed', comment: 'renamed', snapCPG: 'FC_r5' });
  await c.request('PUT', '/volumes/v2-renamed', { action: 3, sizeMiB: 1024 });
  await c.setVolumeMetadata('v1', 'k1', 'one');
  await c.setVolumeMetadata('v1', 'k2', 'two');
  await c.request('PUT', '/volumes/v1/objectKeyValues/k1', { value: 'uno' });
  await c.request('DELETE', '/volumes/v1/objectKeyValues/k2');
  await c.createHost({ name: 'h1', iSCSINames: ['iqn.2024-01.test:h1'] });
  await c.request('PUT', '/hosts/h1', { chapOperation: 1, chapOperationMode: 1, chapName: 'h1', chapSecret: 'secret-of-h1' });
  await c.createHost({ name: 'h2', iSCSINames: ['iqn.2024-01.test:h2'] });
  await c.request('PUT', '/hosts/h2', { newName: 'h2-renamed' });
  await c.createVlun({ volumeName: 'v2-renamed', hostname: 'h1', lun: 7 });
  await c.createVlun({ volumeName: 'v1', hostname: 'h2-renamed', lun: 3 });
  await c.createVlun({ volumeName: 'v1-snap', hostname: 'h1', lun: 1 });
  await c.request('DELETE', '/vluns/v1-snap,1,h1');
  await c.createVolumeSet({ name: 'set1', setmembers: ['v1'] });
  await c.request('POST', '/qos', { name: 'set1', type: 1, ioMaxLimit: 1000 });
  await c.request('POST', '/volumes/v1', { action: 'createPhysicalCopy', parameters: { destVolume: 'v1-copy', destCPG: 'FC_r1', online: true, tpvv: true } });
  await c.createRemoteCopyGroup({ name: 'g1', targets: [{ targetName: 'peer', mode: 1, userCPG: 'FC_r1', snapCPG: 'FC_r5' }] });
  await c.addVolumeToRemoteCopyGroup('g1', 'v1', { targets: [{ targetName: 'peer', secVolumeName: 'v1' }], volumeAutoCreation: true });
}

describe('simulator state on disk', () => {
  it('keeps volumes, hosts, VLUNs, sets, QoS, tasks, groups and metadata across a restart, one file per object', async (t) => {
    const peer = await start(tempDir(), { systemName: 'peer' });
    t.after(() => peer.stop());
    const dir = tempDir();
    const remoteTargets = { peer: { apiUrl: peer.apiUrl, username: '3paradm', password: '3pardata' } };
    const first = await start(dir, { remoteTargets });
    t.after(() => first.stop());
    const c1 = client(first);
    await buildArray(c1);
    // The copy task finishes in the background; wait so both runs see it done.
    for (let i = 0; i < 100 && ((await c1.request('GET', '/tasks')).body as { members: { status: number }[] }).members.some((t) => t.status === 2); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const before = await everything(c1);
    await c1.close();
    await first.stop();

    assert.ok(!existsSync(join(dir, 'state.json')));
    assert.deepEqual(readdirSync(join(dir, 'objects', 'volumes')).sort(), ['v1-copy.json', 'v1-snap.json', 'v1.json', 'v2-renamed.json']);
    assert.deepEqual(readdirSync(join(dir, 'objects', 'hosts')).sort(), ['h1.json', 'h2-renamed.json']);
    assert.equal(readdirSync(join(dir, 'objects', 'vluns')).length, 2);

    const again = await start(dir, { remoteTargets });
    t.after(() => again.stop());
    const c2 = client(again);
    t.after(() => c2.close());
    assert.deepEqual(await everything(c2), before);
    assert.equal(again.systemId, first.systemId);
    // Ids continue after the highest in use.
    await c2.createVolume({ name: 'v3', cpg: 'FC_r1', sizeMiB: 64 });
    const ids = ((await c2.request('GET', '/volumes')).body as { members: { id: number; name: string }[] }).members;
    assert.equal(new Set(ids.map((v) => v.id)).size, ids.length);
  });

  it('a write that never finished leaves the previous version of the object', async () => {
    const dir = tempDir();
    const first = await start(dir);
    const c1 = client(first);
    await c1.createVolume({ name: 'v1', cpg: 'FC_r1', sizeMiB: 64, comment: 'old' });
    await c1.close();
    await first.stop();
    // What a kill -9 in the middle of writing the next version leaves: a partial temp file beside the old one.
    const partial = join(dir, 'objects', 'volumes', `.v1.json.${process.pid}.0123456789ab.tmp`);
    writeFileSync(partial, readFileSync(join(dir, 'objects', 'volumes', 'v1.json'), 'utf8').replace('old', 'new').slice(0, 40));

    const again = await start(dir);
    const c2 = client(again);
    assert.equal((await c2.getVolume('v1')).comment, 'old');
    assert.ok(!existsSync(partial));
    await c2.close();
    await again.stop();
  });

  it('refuses to start on a damaged object file, naming it, with a fix', async () => {
    const dir = tempDir();
    const first = await start(dir);
    const c1 = client(first);
    await c1.createVolume({ name: 'v1', cpg: 'FC_r1', sizeMiB: 64 });
    await c1.close();
    await first.stop();
    const file = join(dir, 'objects', 'volumes', 'v1.json');
    writeFileSync(file, readFileSync(file, 'utf8').slice(0, 30));

    await assert.rejects(start(dir), (e: unknown) => {
      assert.ok(e instanceof HpeError);
      assert.match(e.message, new RegExp(`the simulator's state file ${file} is not valid JSON`));
      assert.match(e.fix, /restore .* from a backup, or delete it to drop that one object/);
      return true;
    });
  });

  it('converts a state folder of the earlier format (one state.json)', async () => {
    const dir = tempDir();
    const legacy = {
      format: 1,
      systemId: 4321,
      nextId: { volume: 3, host: 2, set: 2, task: 2, rcg: 1, qos: 1 },
      volumes: [
        { name: 'old1', id: 1, uuid: 'u-1', wwn: 'W1', baseId: 1, sizeMiB: 64, provisioningType: 2, copyType: 1, userCPG: 'FC_r1', readOnly: false, policies: {}, compression: false, dedup: false, creationTimeSec: 1_700_000_000, metadata: { k: 'v' } },
        { name: 'old2', id: 2, uuid: 'u-2', wwn: 'W2', baseId: 2, sizeMiB: 64, provisioningType: 2, copyType: 1, userCPG: 'FC_r1', readOnly: false, policies: {}, compression: false, dedup: false, creationTimeSec: 1_700_000_000, metadata: {} },
      ],
      hosts: [{ id: 1, name: 'oldhost', persona: 1, fcWwns: [], iscsiNames: ['iqn.2024-01.test:old'], chap: {} }],
      vluns: [{ volumeName: 'old1', lun: 5, hostname: 'oldhost' }],
      volumeSets: [{ id: 1, uuid: 's-1', name: 'oldset', members: ['old2'] }],
      qosRules: [],
      tasks: [{ id: 1, type: 1, name: 'copy', status: 2, startTime: '2024-01-01T00:00:00.000Z', user: '3paradm', source: 'old1', dest: 'old2', online: false }],
      rcgs: [],
    };
    writeFileSync(join(dir, 'state.json'), JSON.stringify(legacy));

    const sim = await start(dir);
    assert.equal(sim.systemId, 4321);
    assert.ok(!existsSync(join(dir, 'state.json')));
    const c = client(sim);
    assert.deepEqual((await c.queryVolumes()).map((v) => v.name), ['old1', 'old2']);
    assert.equal((await c.getVolumeMetadata('old1', 'k')).value, 'v');
    assert.equal((await c.getHostVluns('oldhost')).find((v) => !v.active)?.lun, 5);
    assert.deepEqual((await c.getVolumeSet('oldset')).setmembers, ['old2']);
    // A copy that was running when the old simulator stopped has failed.
    assert.equal(((await c.request('GET', '/tasks/1')).body as { status: number }).status, 4);
    await c.close();
    await sim.stop();

    const again = await start(dir);
    const c2 = client(again);
    assert.deepEqual((await c2.queryVolumes()).map((v) => v.name), ['old1', 'old2']);
    assert.equal(((await c2.request('GET', '/tasks/1')).body as { status: number }).status, 4);
    await c2.close();
    await again.stop();
  });
});
