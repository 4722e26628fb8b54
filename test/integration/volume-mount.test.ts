/**
 * Mount and Unmount through the volume manager, on this machine's real loop devices, ext4 and xfs, against a real
 * etcd and the WSAPI simulator (its volumes are sparse files, attached as loop devices because the array says it
 * is the simulator). Crash safety: the state a kill -9 leaves after each step of a Mount (export, attach, mkfs and
 * mount, record) and of an Unmount is built, then the repair at the next start settles it, and Mount and Unmount
 * work again with nothing leaked. Mounts go under a temp folder (hpe.conf `mount_prefix`).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, describe, test } from 'node:test';
import { exportVolume } from '../../src/array/index.js';
import { hostFilesystem, systemHostEnv, transportFor, type Attachment } from '../../src/host/index.js';
import { createVolumeManager, type VolumeManager, type VolumeManagerOptions } from '../../src/volumes/manager.js';
import { arrayVolumeName, newVolumeId } from '../../src/volumes/index.js';
import { DataPath } from '../../src/volumes/flows/data-path.js';
import { newRecord } from '../../src/volumes/request/plan.js';
import type { MountStep } from '../../src/volumes/flows/mount.js';
import { MountIntentStore, type MountIntent } from '../../src/volumes/store/mount-intents.js';
import { VolumeStore } from '../../src/volumes/store/records.js';
import { waitFor } from '../../src/clock.js';
import { NodePresence } from '../../src/volumes/store/presence.js';
import { EtcdSession } from '../../src/volumes/store/session.js';
import { buildConfig, clearArray, clearEtcd, settled, startVolumeEnv, type VolumeEnv } from '../fixtures/volume-env.js';

const NODE = 'node-a';
const hostEnv = systemHostEnv({ simulatorRoot: tmpdir() });
const fs = hostFilesystem(hostEnv);

let env: VolumeEnv;
let mountRoot: string;
let store: VolumeStore;
let intents: MountIntentStore;
const managers: VolumeManager[] = [];

async function manager(nodeId = NODE, onMountStep?: VolumeManagerOptions['onMountStep'], withBadBackend = false): Promise<VolumeManager> {
  const { config, secrets } = buildConfig(env, { noReplication: true, badPassword: withBadBackend });
  config.host.mountPrefix = join(mountRoot, 'hpedocker-');
  const m = createVolumeManager({
    config,
    secrets,
    etcd: env.client,
    logger: env.logger,
    nodeId,
    host: hostEnv,
    lockWaitMs: 20_000,
    sessionTtlSeconds: 2,
    wsapi: { retry: { attempts: 2, baseDelayMs: 20, maxDelayMs: 50 }, timeoutMs: 10_000 },
    taskWait: { pollIntervalMs: 20, timeoutMs: 20_000 },
    repairWait: { backendsMs: 5000, lockMs: 500 },
    ...(onMountStep === undefined ? {} : { onMountStep }),
  });
  managers.push(m);
  await settled(m);
  return m;
}

/** Loop devices whose backing file is one of the primary simulator's volumes. */
function simLoops(): string[] {
  const out = execFileSync('losetup', ['-a', '-O', 'NAME,BACK-FILE', '--noheadings'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes(env.primary.dir));
}

function mountsUnderRoot(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(mountRoot));
}

async function arrayName(name: string): Promise<string> {
  return (await store.getByName(name))!.record['3par_vol_name'];
}

before(async () => {
  env = await startVolumeEnv();
  store = new VolumeStore(env.client);
  intents = new MountIntentStore(env.client);
  mountRoot = mkdtempSync(join(tmpdir(), 'hpe-mount-'));
});

afterEach(async () => {
  for (const m of managers.splice(0)) await m.close();
  // Whatever a failed test left: unmount, detach, clear the arrays and etcd.
  for (const line of mountsUnderRoot()) {
    const dir = line.split(' ')[4];
    if (dir) execFileSync('umount', ['-l', dir]);
  }
  for (const l of simLoops()) execFileSync('losetup', ['-d', l.split(/\s+/)[0]!]);
  for (const v of await env.primary.admin.getVluns()) await env.primary.admin.deleteVlun(v.volumeName, v.lun, v.hostname, v.portPos).catch(() => undefined);
  for (const h of await env.primary.admin.getHosts()) await env.primary.admin.deleteHost(h.name).catch(() => undefined);
  await clearArray(env.primary);
  await clearEtcd(env.client);
});

after(async () => {
  await env?.stop();
  const left = [...mountsUnderRoot(), ...(env ? simLoops() : [])];
  rmSync(mountRoot, { recursive: true, force: true });
  assert.deepEqual(left, [], 'no mount or loop device is left');
});

/** Nothing of a volume left on this host or the array. */
async function assertReleased(name: string): Promise<void> {
  assert.deepEqual(mountsUnderRoot(), [], 'no mount left');
  assert.deepEqual(simLoops(), [], 'no loop device left');
  assert.deepEqual(await env.primary.admin.getVluns(), [], 'no VLUN left');
  assert.deepEqual(await env.primary.admin.getHosts(), [], 'no host entry left');
  const r = (await store.getByName(name))?.record;
  assert.equal(r?.node_mount_info, undefined);
  assert.equal(r?.path_info, null);
  assert.deepEqual((await intents.listForNode(NODE)).intents, []);
}

describe('Mount and Unmount on one node', () => {
  test('the first Mount attaches, makes ext4 and mounts; data survives unmount and a second mount (never formatted twice)', async () => {
    const m = await manager();
    await m.create('v1', { size: '1' });
    const { Mountpoint, Devicename } = await m.mount('v1', 'c1');
    assert.equal(Mountpoint, join(mountRoot, `hpedocker-${await arrayName('v1')}`));
    assert.match(Devicename, /^\/dev\/loop\d+$/);
    assert.equal(await m.path('v1'), Mountpoint);
    const got = await m.get('v1');
    assert.equal(got?.Mountpoint, Mountpoint);
    assert.equal(got?.Devicename, Devicename);
    const listed = async () => (await m.list()).find((v) => v.Name === 'v1');
    assert.deepEqual(await listed(), { Name: 'v1', Devicename, size: 1, Mountpoint, Status: {} }, 'List shows where it is mounted here, as Get does');
    assert.ok(await fs.isMounted(Mountpoint));
    assert.equal(existsSync(join(Mountpoint, 'lost+found')), false, 'lost+found is removed from a new filesystem');
    writeFileSync(join(Mountpoint, 'f'), 'kept');
    await m.unmount('v1', 'c1');
    await assertReleased('v1');
    assert.equal(await m.path('v1'), '');
    assert.deepEqual(await listed(), { Name: 'v1', Devicename: '', size: 1, Mountpoint: '', Status: {} });

    const again = await m.mount('v1', 'c2');
    assert.equal(readFileSync(join(again.Mountpoint, 'f'), 'utf8'), 'kept');
    assert.equal((await store.getByName('v1'))!.record.fs_type, 'ext4');
    await m.unmount('v1', 'c2');
    await assertReleased('v1');
  });

  test('references: each ID counts once; the last Unmount releases; an unknown ID is ignored', async () => {
    const m = await manager();
    await m.create('v2', { size: '1', fsType: 'xfs', fsOwner: '1000:1001', fsMode: '0750' });
    const a = await m.mount('v2', 'c1');
    const b = await m.mount('v2', 'c2');
    await m.mount('v2', 'c2');
    assert.equal(a.Mountpoint, b.Mountpoint);
    assert.deepEqual((await store.getByName('v2'))!.record.node_mount_info, { [NODE]: ['c1', 'c2'] });
    const mounted = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.includes(a.Mountpoint));
    assert.match(mounted ?? '', / - xfs /);
    const st = execFileSync('stat', ['-c', '%u:%g %a', a.Mountpoint], { encoding: 'utf8' }).trim();
    assert.equal(st, '1000:1001 750');
    await m.unmount('v2', 'c1');
    await m.unmount('v2', 'nobody');
    assert.ok(await fs.isMounted(a.Mountpoint), 'still mounted for c2');
    await m.unmount('v2', 'c2');
    await assertReleased('v2');
  });

  test('a clone and a snapshot carry the parent\'s filesystem and data; the snapshot mounts read-only', async () => {
    const m = await manager();
    await m.create('p1', { size: '1' });
    const p = await m.mount('p1', 'c1');
    writeFileSync(join(p.Mountpoint, 'data'), 'parent data');
    await m.unmount('p1', 'c1');
    await m.create('p1clone', { cloneOf: 'p1' });
    await m.create('p1snap', { virtualCopyOf: 'p1' });
    const c = await m.mount('p1clone', 'c2');
    assert.equal(readFileSync(join(c.Mountpoint, 'data'), 'utf8'), 'parent data');
    const s = await m.mount('p1snap', 'c3');
    assert.equal(readFileSync(join(s.Mountpoint, 'data'), 'utf8'), 'parent data');
    assert.throws(() => writeFileSync(join(s.Mountpoint, 'x'), 'x'), /EROFS/);
    await m.unmount('p1clone', 'c2');
    await m.unmount('p1snap', 'c3');
    assert.deepEqual(simLoops(), []);
  });

  test('four volumes mounted and unmounted at once share this host\'s entry without racing on it', async () => {
    const m = await manager();
    const names = ['w1', 'w2', 'w3', 'w4'];
    for (const n of names) await m.create(n, { size: '1' });
    const mounted = await Promise.all(names.map((n) => m.mount(n, 'c1')));
    assert.equal(new Set(mounted.map((x) => x.Devicename)).size, 4);
    assert.equal((await env.primary.admin.getHosts()).length, 1, 'one host entry for this host');
    await Promise.all(names.map((n) => m.unmount(n, 'c1')));
    for (const n of names) await assertReleased(n);
  });

  test('Remove is refused while mounted, naming the node; accepted after the last Unmount', async () => {
    const m = await manager();
    await m.create('v3', { size: '1' });
    await m.mount('v3', 'c1');
    await assert.rejects(m.remove('v3'), /Volume v3 is in use and cannot be removed: mounted on node-a \(1 container mount\)/);
    await m.unmount('v3', 'c1');
    await m.remove('v3');
    assert.equal(await store.getByName('v3'), undefined);
  });

  test('Mount of a volume whose backend is FAILED answers the backend\'s reason and changes nothing', async () => {
    const m = await manager(NODE, undefined, true);
    const id = newVolumeId();
    await store.create(newRecord({ id, displayName: 'onbad', arrayName: arrayVolumeName(id, false), backend: 'badpw', shape: { sizeGiB: 1, provisioning: 'thin', compression: null }, mountConflictDelay: 30, cpg: 'FC_r1', snapCpg: 'FC_r1', now: new Date() }));
    await assert.rejects(m.mount('onbad', 'c1'), /Backend 'badpw' was NOT initialized successfully\. .*Reason: login failed/);
    assert.deepEqual((await intents.listForNode(NODE)).intents, []);
    assert.equal((await store.getByName('onbad'))!.record.node_mount_info, undefined);
    assert.deepEqual(await env.primary.admin.getVluns(), []);
  });

  test('unknown volumes and volumes held by another node get clear errors and change nothing', async () => {
    const m = await manager();
    await assert.rejects(m.mount('nope', 'c1'), /Volume nope does not exist: cannot mount it/);
    await assert.rejects(m.unmount('nope', 'c1'), /Volume nope does not exist: cannot unmount it/);
    await m.create('v4', { size: '1', mountConflictDelay: '1' });
    const stored = (await store.getByName('v4'))!;
    await store.update({ ...stored.record, node_mount_info: { 'node-b': ['x', 'y'] } }, stored.modRevision);
    // node-b's plugin is alive: after the delay, the Mount is refused, never a takeover.
    const sessionB = new EtcdSession(env.client, { owner: 'node-b', ttlSeconds: 2 });
    const nodeB = new NodePresence(env.client, 'node-b', { logger: env.logger, session: sessionB });
    nodeB.start();
    await waitFor('node-b announced', () => nodeB.isAlive('node-b'));
    try {
      const started = performance.now();
      await assert.rejects(m.mount('v4', 'c1'), /Volume v4 is mounted on another node: node-b \(2 container mounts\); waited 1 s \(mountConflictDelay\) and that node's plugin is alive/);
      assert.ok(performance.now() - started >= 1000, 'it waited mountConflictDelay first');
    } finally {
      await nodeB.stop();
      await sessionB.close();
    }
    assert.deepEqual((await store.getByName('v4'))!.record.node_mount_info, { 'node-b': ['x', 'y'] });
    assert.deepEqual(simLoops(), []);
    assert.deepEqual(await env.primary.admin.getVluns(), []);
  });
});

describe('crash safety: the repair at start settles what a kill -9 left after each step', () => {
  /** Makes v and builds the state of a Mount killed after `step`, as the real steps make it. */
  async function crashedMount(name: string, step: 'export' | 'attach' | 'mkfs+mount' | 'record'): Promise<void> {
    const m = await manager();
    await m.create(name, { size: '1' });
    const stored = (await store.getByName(name))!;
    const r = stored.record;
    const client = env.primary.admin;
    // The plugin's own host name and initiators (the simulator's stand-ins where this host has none).
    const data = new DataPath({ host: hostEnv });
    const request = { volume: r['3par_vol_name'], hostname: data.hostname, initiators: await data.initiators(true), transport: 'fc' as const };
    const mountDir = join(mountRoot, `hpedocker-${r['3par_vol_name']}`);
    const intent: MountIntent = { v: 1, op: 'mount', id: r.id, name, backend: r.backend, arrayName: r['3par_vol_name'], node: NODE, mountDir, started: new Date().toISOString() };
    await intents.write(intent);
    const connection = await exportVolume(client, request);
    if (step === 'export') return;
    const attachment: Attachment = await transportFor('loop', hostEnv).attach(connection);
    await intents.write({ ...intent, attachment });
    if (step === 'attach') return;
    await fs.formatIfEmpty(attachment.device, 'ext4');
    await fs.mount(attachment.device, mountDir, { fsType: 'ext4' });
    if (step === 'mkfs+mount') return;
    await store.update({ ...r, fs_type: 'ext4', node_mount_info: { [NODE]: ['c1'] }, path_info: { name, path: attachment.device, mount_dir: mountDir, device_info: { ...attachment } } }, stored.modRevision);
  }

  for (const step of ['export', 'attach', 'mkfs+mount'] as const) {
    test(`Mount killed after ${step}: rolled back, then Mount and Unmount work`, async () => {
      await crashedMount(`k-${step.replace('+', '-')}`, step);
      const name = `k-${step.replace('+', '-')}`;
      await managers.splice(0).reduce((p, m) => p.then(() => m.close()), Promise.resolve());
      const m = await manager();
      const report = await m.repair();
      assert.deepEqual(report.mounts.fixed, [{ volume: name, action: 'rolled back mount' }]);
      await assertReleased(name);
      const again = await m.mount(name, 'c9');
      assert.ok(await fs.isMounted(again.Mountpoint));
      await m.unmount(name, 'c9');
      await assertReleased(name);
    });
  }

  test('Mount killed after its record: the intent is dropped, the lost mount is mounted again at start, references kept', async () => {
    await crashedMount('k-record', 'record');
    // kill -9 of a managed plugin ends its mount namespace: its mounts go with it (the containers' stay, and so
    // does the device they use).
    const dir = (await store.getByName('k-record'))!.record.path_info!.mount_dir;
    const container = join(mountRoot, 'container-c1'); // a container's own mount of the volume, in its namespace
    mkdirSync(container);
    execFileSync('mount', ['--bind', dir, container]);
    await fs.unmount(dir);
    for (const m of managers.splice(0)) await m.close();
    const m = await manager();
    const report = await m.repair();
    assert.deepEqual(report.mounts.fixed, [{ volume: 'k-record', action: 'completed mount' }]);
    assert.deepEqual(report.host.actions.map((a) => [a.volume, a.action]), [['k-record', 'mounted again']]);
    const again = await m.mount('k-record', 'c2');
    assert.equal(again.Mountpoint, dir);
    assert.deepEqual((await store.getByName('k-record'))!.record.node_mount_info, { [NODE]: ['c1', 'c2'] }, 'a container that may still run keeps its reference');
    await m.unmount('k-record', 'c2');
    assert.ok(await fs.isMounted(dir), 'still mounted for the older container');
    execFileSync('umount', [container]);
    await m.unmount('k-record', 'c1');
    await assertReleased('k-record');
  });

  test('Unmount killed half way (unmounted, still attached and exported): finished at start', async () => {
    const m = await manager();
    await m.create('k-unmount', { size: '1' });
    const mounted = await m.mount('k-unmount', 'c1');
    const r = (await store.getByName('k-unmount'))!.record;
    await intents.write({
      v: 1, op: 'unmount', id: r.id, name: 'k-unmount', backend: r.backend, arrayName: r['3par_vol_name'], node: NODE,
      mountDir: mounted.Mountpoint, attachment: r.path_info!.device_info as unknown as Attachment, started: new Date().toISOString(),
    });
    await fs.unmount(mounted.Mountpoint);
    for (const old of managers.splice(0)) await old.close();
    const report = await (await manager()).repair();
    assert.deepEqual(report.mounts.fixed, [{ volume: 'k-unmount', action: 'completed unmount' }]);
    await assertReleased('k-unmount');
  });

  test('a failed Unmount leaves its intent; the running plugin settles it in the background', async () => {
    let failAt: string | undefined = 'detached';
    const m = await manager(NODE, (op, step) => {
      if (op === 'unmount' && step === failAt) throw new Error(`injected failure after ${step}`);
    });
    await m.create('bg1', { size: '1' });
    await m.mount('bg1', 'c1');
    await assert.rejects(m.unmount('bg1', 'c1'), /Failed to unmount volume bg1: injected failure after detached/);
    assert.equal((await intents.listForNode(NODE)).intents.length, 1, 'the intent stays for the repair');
    failAt = undefined;
    await waitFor('the background repair', async () => (await intents.listForNode(NODE)).intents.length === 0, { timeoutMs: 15_000 });
    await assertReleased('bg1');
  });

  test('an intent left by a failed Unmount is settled before the next Mount, and never takes that mount down later', async () => {
    // Failing right after its intent: still mounted, the record still holding c1, the intent left behind.
    let failAt: string | undefined = 'intent';
    const m = await manager(NODE, (op, step) => {
      if (op === 'unmount' && step === failAt) throw new Error(`injected failure after ${step}`);
    });
    await m.create('bg2', { size: '1' });
    await m.mount('bg2', 'c1');
    await assert.rejects(m.unmount('bg2', 'c1'), /injected failure after intent/);
    failAt = undefined;
    const again = await m.mount('bg2', 'c2');
    assert.deepEqual((await intents.listForNode(NODE)).intents, [], 'the leftover was settled first');
    await new Promise((r) => setTimeout(r, 2500)); // the background pass the failure scheduled has run
    assert.ok(await fs.isMounted(again.Mountpoint), 'the new mount is still there');
    assert.deepEqual((await store.getByName('bg2'))!.record.node_mount_info, { [NODE]: ['c2'] });
    await m.unmount('bg2', 'c2');
    await assertReleased('bg2');
  });

  test('an array error during Mount leaves nothing behind', async () => {
    const m = await manager();
    await m.create('v5', { size: '1' });
    env.primary.sim.failNext('POST', /^\/api\/v1\/vluns$/, 500, { code: 1, desc: 'injected VLUN failure' });
    await assert.rejects(m.mount('v5', 'c1'), /Failed to mount volume v5: .*injected VLUN failure/);
    await assertReleased('v5');
  });
});

describe('kill -9 of a real plugin process after each step of Mount and of Unmount', () => {
  const cases: { op: 'mount' | 'unmount'; step: MountStep }[] = [
    ...(['intent', 'exported', 'attached', 'formatted', 'mounted', 'recorded'] as const).map((step) => ({ op: 'mount' as const, step })),
    ...(['intent', 'unmounted', 'detached', 'unexported', 'recorded'] as const).map((step) => ({ op: 'unmount' as const, step })),
  ];
  for (const c of cases) {
    test(`${c.op} killed after ${c.step}: after the restart's repair, Mount and Unmount work and nothing is leaked`, async () => {
      const name = `kill-${c.op}-${c.step}`;
      const { config, secrets } = buildConfig(env, { noReplication: true });
      const file = join(mountRoot, 'hpe.conf');
      writeFileSync(file, config.text, { mode: 0o600 });
      const child = spawn(process.execPath, [fileURLToPath(new URL('../fixtures/mount-crash-child.js', import.meta.url)), file, NODE, name, c.op === 'mount' ? 'mount' : 'mount+unmount', c.step, c.op], {
        env: { ...process.env, VM_SECRETS: JSON.stringify([...secrets.entries()]), VM_MOUNT_PREFIX: join(mountRoot, 'hpedocker-') },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
      const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
      assert.equal(signal, 'SIGKILL', `the child died at the step: ${output}`);
      await new Promise((r) => setTimeout(r, 1500)); // its locks expire (TTL 1 s)

      const m = await manager();
      const report = await m.repair();
      assert.deepEqual(report.mounts.left, []);
      const mountedRecord = c.op === 'mount' && c.step === 'recorded';
      const unmountDone = c.op === 'unmount' && c.step === 'recorded';
      if (mountedRecord) {
        // Completed: the volume is still mounted here (no namespace died with this process), c1 still counted.
        const again = await m.mount(name, 'c2');
        assert.ok(await fs.isMounted(again.Mountpoint));
        await m.unmount(name, 'c1');
        await m.unmount(name, 'c2');
      } else if (!unmountDone) {
        assert.deepEqual(report.mounts.fixed.map((f) => f.volume), [name], 'its intent was settled');
      }
      await assertReleased(name);
      const again = await m.mount(name, 'c3');
      writeFileSync(join(again.Mountpoint, 'after'), 'ok');
      await m.unmount(name, 'c3');
      await assertReleased(name);
    });
  }
});
