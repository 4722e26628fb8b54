/**
 * Snapshot schedules (issue 13) end to end against the simulator's SSH server: `-o scheduleName=...` makes the
 * Docker snapshot and a schedule on the array that really runs on the simulator's clock; Get shows the schedule;
 * Remove removes it first; repair settles a create cut short between createsched and the record; a backend without
 * SSH settings and an SSH outage (the array's WSAPI still up) fail only the schedule operations, naming what to fix.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { createArrayCli, WsapiClient, type ArrayCli } from '../../src/array/index.js';
import { loadConfig } from '../../src/config/index.js';
import { freePort } from '../../src/net.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.js';
import { arrayVolumeName, newVolumeId, VolumeRequestError, VolumeStore, type VolumeManager } from '../../src/volumes/index.js';
import { INTENTS_PREFIX } from '../../src/etcd/index.js';
import { IntentStore } from '../../src/volumes/store/intents.js';
import { snapshotComment } from '../../src/volumes/request/plan.js';
import { ManualClock } from '../support/clock.js';
import { rejectionOf } from '../support/thrown.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { SAN_PASSWORD, buildConfig, clearEtcd, etcdKeys, managerFor, settled, startVolumeEnv, type VolumeEnv } from '../fixtures/volume-env.js';

const minute = 60_000;
let env: VolumeEnv;
let dir: string;
let clock: ManualClock;
/** The array with an SSH server (backend `sched`); its SSH port is reached through `ssh`, which the tests close. */
let sim: RunningSimulator;
let admin: WsapiClient;
let ssh: TcpProxy;
let sshPort: number;
/** The test's own look at the array's schedules, straight to the simulator's SSH port. */
let cli: ArrayCli;
let store: VolumeStore;
const managers: VolumeManager[] = [];

before(async () => {
  env = await startVolumeEnv();
  dir = mkdtempSync(join(tmpdir(), 'vm-sched-'));
  clock = new ManualClock(Date.UTC(2026, 0, 5, 10, 0, 0));
  sim = await startSimulator({
    listen: { host: '127.0.0.1', port: 0 },
    stateDir: join(dir, 'sim'),
    systemName: 'sim3',
    cpgs: ['FC_r1', 'FC_r5'],
    users: { '3paradm': SAN_PASSWORD },
    sshPort: 0,
    clock,
  });
  admin = new WsapiClient({ apiUrl: sim.apiUrl, username: '3paradm', password: SAN_PASSWORD, retry: { attempts: 1 } });
  sshPort = await freePort();
  ssh = new TcpProxy({ host: '127.0.0.1', port: sim.sshPort! });
  await ssh.listen(sshPort);
  cli = createArrayCli({ arrayLabel: 'sim3', host: '127.0.0.1', port: sim.sshPort!, user: '3paradm', auth: { password: SAN_PASSWORD }, knownHostsFile: join(dir, 'test_known_hosts'), strictHostKeyPolicy: false });
  store = new VolumeStore(env.client);
});

after(async () => {
  for (const m of managers) await m.close();
  await cli?.close();
  await ssh?.close();
  await admin?.close();
  await sim?.stop();
  await env?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

afterEach(async () => {
  for (const m of managers.splice(0)) await m.close();
  await ssh.close();
  await ssh.listen(sshPort);
  for (const v of await admin.queryVolumes()) if (v.copyType === 3) await admin.deleteVolume(v.name).catch(() => undefined);
  for (const v of await admin.queryVolumes()) await admin.deleteVolume(v.name).catch(() => undefined);
  for (const name of ['s1', 's2', 'cut', 'kept', 'gone']) await cli.removeSchedule(name).catch(() => undefined);
  await clearEtcd(env.client);
});

const schedBackend = () => ({ name: 'sched', apiUrl: sim.apiUrl, cpg: 'FC_r1', password: SAN_PASSWORD, lines: `san_ssh_port = ${sshPort}\nhpe3par_snapcpg = FC_r5` });

/** `configFile`: the config is written there and loaded from it, as `serve --config` does. */
async function manager(options: { noSshPassword?: boolean; configFile?: string } = {}): Promise<VolumeManager> {
  const choice = { noReplication: true, extra: [schedBackend()] };
  const { config, secrets } = buildConfig(env, choice);
  if (options.noSshPassword) secrets.set('sched', { hpe3par_password: SAN_PASSWORD });
  if (options.configFile !== undefined) writeFileSync(options.configFile, config.text);
  const m = managerFor(env, choice, {
    ...(options.configFile === undefined ? {} : { config: await loadConfig(options.configFile) }),
    secrets,
    ssh: { knownHostsFile: join(dir, 'known_hosts'), timeouts: { connectMs: 2_000, commandMs: 5_000 } },
  });
  managers.push(m);
  await settled(m);
  return m;
}

const scheduleOpts = { virtualCopyOf: 'v1', scheduleName: 's1', scheduleFrequency: '* * * * *', snapshotPrefix: 'pfx', expHrs: '2', retHrs: '1' };
const s1Record = { schedule_name: 's1', snap_name_prefix: 'pfx', sched_frequency: '* * * * *', sched_snap_exp_hrs: 2, sched_snap_ret_hrs: 1 };

async function parentArrayName(): Promise<string> {
  return (await store.getByName('v1'))!.record['3par_vol_name'];
}

/** The array's snapshots of `parent` that its schedules made (`<prefix>.<yymmddHHMMSS>`). */
async function scheduledSnapshots(parent: string): Promise<string[]> {
  return (await admin.queryVolumes()).filter((v) => v.copyOf === parent && !v.name.startsWith('dcs-')).map((v) => v.name).sort();
}

async function advance(ms: number): Promise<void> {
  await clock.advance(ms);
  await sim.runSchedules();
}

async function refusal(run: Promise<unknown>): Promise<string> {
  try {
    await run;
  } catch (err) {
    return (err as Error).message;
  }
  assert.fail('expected a refusal');
}

describe('scheduled snapshots on the simulator', () => {
  test('create, the array takes snapshots on schedule, Get shows snap_schedule, Remove removes the schedule first', async () => {
    const m = await manager();
    await m.create('v1', { backend: 'sched', size: '1' });
    await m.create('snap1', scheduleOpts);
    const parent = await parentArrayName();

    const shown = await cli.getSchedule('s1');
    assert.ok(shown, 'the schedule exists on the array');
    assert.equal(shown.command, `createsv -f -exp 2h -retain 1h pfx.@y@@m@@d@@H@@M@@S@ ${parent}`);
    assert.equal(shown.when, '* * * * *');
    const snap = (await store.getByName('snap1'))!.record;
    assert.equal(snap.has_schedule, true);
    assert.deepEqual(snap.snap_metadata?.snap_schedule, s1Record);
    assert.deepEqual((await admin.getVolume(snap['3par_vol_name'])).copyOf, parent, 'the Docker snapshot is a snapshot of v1');

    await advance(minute);
    await advance(minute);
    const made = await scheduledSnapshots(parent);
    assert.ok(made.length >= 2, `the array made a snapshot each minute: ${made.join(', ')}`);
    assert.ok(made.every((n) => /^pfx\.\d{12}$/.test(n)), made.join(', '));

    const v1 = await m.get('v1');
    assert.deepEqual(v1?.Status['Snapshots'], [{ Name: 'snap1', ParentName: 'v1', snap_schedule: s1Record }], 'only Docker volumes are listed, as upstream');
    const detail = (await m.get('snap1'))?.Status['snap_detail'] as Record<string, unknown>;
    assert.deepEqual(detail['snap_schedule'], s1Record);
    assert.equal(detail['is_snap'], true);
    // Get of the scheduled snapshot shows what its schedule made on the array, with their expiry (-exp 2h).
    const listed = detail['scheduled_snapshots'] as { name: string; created?: string; expires?: string }[];
    assert.deepEqual(listed.map((s) => s.name), [...made].sort());
    for (const s of listed) assert.equal(Date.parse(s.expires!) - Date.parse(s.created!), 2 * 3600_000, JSON.stringify(s));

    // A scheduled snapshot becomes a Docker volume by import, as with HPE's plugin.
    await m.create('kept1', { importVol: made[0]!, backend: 'sched' });
    assert.deepEqual(((await m.get('kept1'))?.Status['snap_detail'] as Record<string, unknown>)['parent_volume'], 'v1');
    await m.remove('kept1');

    await m.remove('snap1');
    assert.equal(await cli.getSchedule('s1'), undefined, 'showsched finds none');
    assert.equal(await m.get('snap1'), undefined);
    assert.equal((await admin.queryVolumes()).some((v) => v.name === snap['3par_vol_name']), false);
    assert.deepEqual((await m.get('v1'))?.Status['Snapshots'], undefined);
    const before = (await scheduledSnapshots(parent)).length;
    await advance(minute);
    assert.equal((await scheduledSnapshots(parent)).length, before, 'no snapshot after the schedule went');
  });

  test('scheduleName=auto names the schedule from the time; a taken name is refused before anything is made', async () => {
    const m = await manager();
    await m.create('v1', { backend: 'sched', size: '1' });
    await m.create('snap1', { ...scheduleOpts, scheduleName: 'auto' });
    const name = (await store.getByName('snap1'))!.record.snap_metadata!.snap_schedule!.schedule_name;
    assert.match(name, /^\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\d{6}$/);
    assert.ok(await cli.getSchedule(name));

    await m.create('snap2', scheduleOpts);
    const volumesBefore = (await admin.queryVolumes()).length;
    const message = await refusal(m.create('snap3', scheduleOpts));
    assert.match(message, /^Creation of snapshot schedule failed: a schedule named s1 already exists on array 127\.0\.0\.1:\d+ /);
    assert.equal((await admin.queryVolumes()).length, volumesBefore);
    assert.equal(await m.get('snap3'), undefined);
    assert.deepEqual(await etcdKeys(env.client, INTENTS_PREFIX), []);
    assert.ok(await cli.getSchedule('s1'), "snap2's schedule stays");
    await m.remove('snap1');
    assert.equal(await cli.getSchedule(name), undefined);
    await m.remove('snap2');
  });

  test("the array's refusal of createsched: upstream's text, nothing left behind", async () => {
    const m = await manager();
    await m.create('v1', { backend: 'sched', size: '1' });
    const volumesBefore = (await admin.queryVolumes()).length;
    const message = await refusal(m.create('snap1', { ...scheduleOpts, scheduleFrequency: '99 * * * *' }));
    assert.match(message, /^Creation of snapshot schedule failed: Create snapschedule failed Error is 'The schedule format is .+'  \(/);
    assert.equal((await admin.queryVolumes()).length, volumesBefore);
    assert.equal(await cli.getSchedule('s1'), undefined);
    assert.deepEqual(await etcdKeys(env.client, INTENTS_PREFIX), []);
  });

  test('a backend without SSH settings: schedules refused naming the options to set and the hpe.conf loaded; plain snapshots work', async () => {
    const configFile = join(dir, 'other.conf');
    const m = await manager({ noSshPassword: true, configFile });
    await m.create('v1', { backend: 'sched', size: '1' });
    const refused = await rejectionOf(m.create('snap1', scheduleOpts), VolumeRequestError);
    assert.equal(refused.message, "snapshot schedules need the array's SSH CLI, and backend 'sched' has no SSH settings: set [sched].san_password (or san_private_key) in hpe.conf");
    assert.ok(refused.fix.startsWith(`set [sched].san_password (or san_private_key) in ${configFile} (`), `the fix names the hpe.conf loaded: ${refused.fix}`);
    assert.equal(await m.get('snap1'), undefined);
    await m.create('plain', { virtualCopyOf: 'v1' });
    assert.ok(await m.get('plain'));
  });

  test("an SSH outage fails only the schedule operations, naming the array; the backend's volumes keep working", async () => {
    const m = await manager();
    await m.create('v1', { backend: 'sched', size: '1' });
    await m.create('snap1', scheduleOpts);
    await ssh.close();

    const created = await refusal(m.create('snap2', { ...scheduleOpts, scheduleName: 's2' }));
    assert.match(created, new RegExp(`^Creation of snapshot schedule failed: array 127\\.0\\.0\\.1:${sshPort}: `));
    const removed = await refusal(m.remove('snap1'));
    assert.match(removed, new RegExp(`^Removal of snapshot schedule failed: array 127\\.0\\.0\\.1:${sshPort}: `));
    assert.ok(await m.get('snap1'), 'the scheduled snapshot stays while its schedule cannot be removed');
    assert.deepEqual(await etcdKeys(env.client, INTENTS_PREFIX), []);

    assert.deepEqual(m.backendStates().find((s) => s.name === 'sched')?.state, 'OK');
    await m.create('plain', { virtualCopyOf: 'v1' });
    await m.create('v2', { backend: 'sched', size: '1' });
    assert.deepEqual((await m.get('v1'))?.Status['Snapshots'], [
      { Name: 'snap1', ParentName: 'v1', snap_schedule: s1Record },
      { Name: 'plain', ParentName: 'v1' },
    ]);
    await m.remove('plain');

    await ssh.listen(sshPort);
    await m.remove('snap1');
    assert.equal(await cli.getSchedule('s1'), undefined);
  });
});

describe('repair of a scheduled snapshot cut short', () => {
  const intents = () => new IntentStore(env.client);

  /** What a create left when it was killed after createsched and the snapshot, before the record. */
  async function cutShort(name: string, schedule: string, parent: string): Promise<string> {
    const id = newVolumeId();
    const arrayName = arrayVolumeName(id, true);
    await intents().write({
      v: 1,
      op: 'create',
      flow: 'snapshot',
      id,
      name,
      backend: 'sched',
      arrayName,
      parent: 'v1',
      schedule: { name: schedule, prefix: 'cp', parentArrayName: parent },
      node: 'crashed-node',
      started: new Date().toISOString(),
    });
    await cli.createSchedule({ scheduleName: schedule, frequency: '* * * * *', snapshotPrefix: 'cp', parentVolume: parent });
    await admin.createSnapshot(parent, arrayName, { comment: snapshotComment((await store.getByName('v1'))!.record, name) });
    return arrayName;
  }

  test('create cut short after createsched: rolled back, the schedule removed with the snapshot', async () => {
    const m = await manager();
    await m.create('v1', { backend: 'sched', size: '1' });
    const parent = await parentArrayName();
    const arrayName = await cutShort('cut1', 'cut', parent);
    const report = await (await manager()).repair();
    assert.deepEqual(report.fixed.map((f) => [f.volume, f.action]), [['cut1', 'rolled back create']]);
    assert.deepEqual(report.needsAdmin.filter((n) => n.backend === 'sched'), []);
    assert.equal(await cli.getSchedule('cut'), undefined);
    assert.equal((await admin.queryVolumes()).some((v) => v.name === arrayName), false);
    assert.deepEqual(await etcdKeys(env.client, INTENTS_PREFIX), []);
  });

  test("a schedule of that name that another snapshot of the parent claims is not the cut-short create's: kept", async () => {
    const m = await manager();
    await m.create('v1', { backend: 'sched', size: '1' });
    await m.create('owner', { ...scheduleOpts, scheduleName: 'kept', snapshotPrefix: 'cp' });
    const parent = await parentArrayName();
    const id = newVolumeId();
    await intents().write({
      v: 1,
      op: 'create',
      flow: 'snapshot',
      id,
      name: 'cut2',
      backend: 'sched',
      arrayName: arrayVolumeName(id, true),
      parent: 'v1',
      schedule: { name: 'kept', prefix: 'cp', parentArrayName: parent },
      node: 'crashed-node',
      started: new Date().toISOString(),
    });
    const report = await (await manager()).repair();
    assert.deepEqual(report.fixed.map((f) => [f.volume, f.action]), [['cut2', 'rolled back create']]);
    assert.ok(await cli.getSchedule('kept'), "owner's schedule stays");
    assert.ok(await m.get('owner'));
  });

  test('remove cut short: finished, the schedule removed first', async () => {
    const m = await manager();
    await m.create('v1', { backend: 'sched', size: '1' });
    await m.create('snap1', { ...scheduleOpts, scheduleName: 'gone' });
    const snap = (await store.getByName('snap1'))!.record;
    await intents().write({
      v: 1,
      op: 'remove',
      flow: 'snapshot',
      id: snap.id,
      name: 'snap1',
      backend: 'sched',
      arrayName: snap['3par_vol_name'],
      parent: 'v1',
      schedule: { name: 'gone', prefix: 'pfx', parentArrayName: await parentArrayName() },
      node: 'crashed-node',
      started: new Date().toISOString(),
    });
    const report = await (await manager()).repair();
    assert.deepEqual(report.fixed.map((f) => [f.volume, f.action]), [['snap1', 'completed remove']]);
    assert.equal(await cli.getSchedule('gone'), undefined);
    assert.equal(await store.getByName('snap1'), undefined);
    assert.deepEqual((await store.getByName('v1'))!.record.snapshots, []);
  });
});
