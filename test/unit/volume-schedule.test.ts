import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ArrayCliError, type ArrayCli, type ArrayCliOptions, type ScheduleSpec, type SnapSchedule } from '../../src/array/index.js';
import { createschedLine } from '../../src/array/array-cli-ssh.js';
import { parseConfig } from '../../src/config/index.js';
import { arrayCliOptionsOf, LazyArrayCli, noSshError } from '../../src/volumes/backends/array-cli.js';
import { VolumeRequestError } from '../../src/volumes/errors.js';
import { mayHaveRun, removeUnclaimedSchedule, scheduleFailed } from '../../src/volumes/flows/schedule.js';
import { parseCreateRequest, type BackendView } from '../../src/volumes/index.js';
import { isUnclaimedSchedule, newRecord, scheduleNameOf, scheduleSpec, snapScheduleOf, snapshotMetadata, withSnapshotEntry } from '../../src/volumes/request/plan.js';
import { snapshotStatus, volumeStatus } from '../../src/volumes/request/status.js';
import { parseIntent } from '../../src/volumes/store/intents.js';
import { thrownBy } from '../support/thrown.js';

const backends: BackendView[] = [{ name: 'DEFAULT', state: 'OK' }];
const parentArray = 'dcv-bEcaxXFlSx2bj9ZX5PLKZQ';
const parentId = '6c471ac5-7165-4b1d-9b8f-d657e4f2ca65';
const snapId = 'a1b2c3d4-0000-4000-8000-000000000000';

/** A recorded-lines fake: what the flows asked the array, and schedules it holds. */
class FakeCli implements ArrayCli {
  readonly lines: string[] = [];
  readonly schedules = new Map<string, SnapSchedule>();
  closed = 0;
  async createSchedule(spec: ScheduleSpec): Promise<void> {
    const line = createschedLine(spec);
    this.lines.push(line);
    const task = /^createsched "([^"]+)"/.exec(line)![1]!;
    this.schedules.set(spec.scheduleName, { name: spec.scheduleName, command: task, when: spec.frequency });
  }
  async removeSchedule(name: string): Promise<boolean> {
    this.lines.push(`removesched -f ${name}`);
    return this.schedules.delete(name);
  }
  async getSchedule(name: string): Promise<SnapSchedule | undefined> {
    this.lines.push(`showsched ${name}`);
    return this.schedules.get(name);
  }
  async close(): Promise<void> {
    this.closed++;
  }
}

function scheduleOf(opts: Record<string, string>) {
  const req = parseCreateRequest('snap1', { virtualCopyOf: 'v1', ...opts }, backends);
  assert.equal(req.kind, 'snapshot');
  assert.ok(req.kind === 'snapshot' && req.schedule !== undefined);
  return req.schedule;
}

const parent = newRecord({
  id: parentId,
  displayName: 'v1',
  arrayName: parentArray,
  backend: 'DEFAULT',
  shape: { sizeGiB: 2, provisioning: 'thin', compression: null },
  mountConflictDelay: 30,
  cpg: 'FC_r1',
  snapCpg: 'FC_r5',
  now: new Date(0),
});

describe('the schedule on the array: upstream createsched line and record fields', () => {
  test("upstream's TestCreateSnpSchedule: createsv -exp 4h -retain 2h on the parent, prefix pqrst", () => {
    const spec = scheduleSpec(scheduleOf({ scheduleName: '3parsched1', scheduleFrequency: '10 * * * *', snapshotPrefix: 'pqrst', expHrs: '4', retHrs: '2' }), '3parsched1', parentArray);
    assert.equal(createschedLine(spec), `createsched "createsv -f -exp 4h -retain 2h pqrst.@y@@m@@d@@H@@M@@S@ ${parentArray}" "10 * * * *" 3parsched1`);
    // fake_3par_data.py snap4_schedule
    assert.deepEqual(snapScheduleOf(spec), { schedule_name: '3parsched1', snap_name_prefix: 'pqrst', sched_frequency: '10 * * * *', sched_snap_exp_hrs: 4, sched_snap_ret_hrs: 2 });
  });

  test('without hours: no -exp, no -retain, and null hours in the record', () => {
    const spec = scheduleSpec(scheduleOf({ scheduleName: 'hourly', scheduleFrequency: '0 * * * *', snapshotPrefix: 'hr' }), 'hourly', parentArray);
    assert.equal(createschedLine(spec), `createsched "createsv -f hr.@y@@m@@d@@H@@M@@S@ ${parentArray}" "0 * * * *" hourly`);
    assert.deepEqual(snapScheduleOf(spec), { schedule_name: 'hourly', snap_name_prefix: 'hr', sched_frequency: '0 * * * *', sched_snap_exp_hrs: null, sched_snap_ret_hrs: null });
  });

  test("scheduleName=auto: upstream's str(datetime.now()) with _ for ' ', ':' and '-'", () => {
    const now = new Date(2024, 4, 1, 13, 4, 5, 123);
    assert.equal(scheduleNameOf('auto', now), '2024_05_01_13_04_05.123000');
    assert.ok(scheduleNameOf('auto', now).length <= 31);
    assert.equal(scheduleNameOf('nightly', now), 'nightly');
  });

  test('the snapshot record: has_schedule and snap_metadata.snap_schedule; the parent lists it with snap_schedule', () => {
    const spec = scheduleSpec(scheduleOf({ scheduleName: 's1', scheduleFrequency: '* * * * *', snapshotPrefix: 'p', expHrs: '3' }), 's1', parentArray);
    const meta = snapshotMetadata({ id: snapId, name: 'snap1', parent, expirationHours: null, retentionHours: null, schedule: snapScheduleOf(spec) });
    const snap = newRecord({ ...recordFields(), snapMetadata: meta });
    assert.equal(snap.has_schedule, true);
    assert.equal(parent.has_schedule, false, 'upstream set has_schedule on the snapshot, not its parent');
    const schedule = { schedule_name: 's1', snap_name_prefix: 'p', sched_frequency: '* * * * *', sched_snap_exp_hrs: 3, sched_snap_ret_hrs: null };
    assert.deepEqual((snapshotStatus(snap)['snap_detail'] as Record<string, unknown>)['snap_schedule'], schedule);
    const listed = volumeStatus(withSnapshotEntry(parent, meta), { domain: null })['Snapshots'];
    assert.deepEqual(listed, [{ Name: 'snap1', ParentName: 'v1', snap_schedule: schedule }]);
  });

  test('a plain snapshot shows no snap_schedule', () => {
    const meta = snapshotMetadata({ id: snapId, name: 'snap1', parent, expirationHours: 2, retentionHours: null });
    const snap = newRecord({ ...recordFields(), snapMetadata: meta });
    assert.equal(snap.has_schedule, false);
    assert.equal('snap_schedule' in (snapshotStatus(snap)['snap_detail'] as object), false);
    assert.deepEqual(volumeStatus(withSnapshotEntry(parent, meta), { domain: null })['Snapshots'], [{ Name: 'snap1', ParentName: 'v1' }]);
  });
});

function recordFields() {
  return {
    id: snapId,
    displayName: 'snap1',
    arrayName: 'dcs-obLD1AAAQACAAAAAAAAAAA',
    backend: 'DEFAULT',
    shape: { sizeGiB: 2, provisioning: 'thin' as const, compression: null },
    mountConflictDelay: 30,
    cpg: 'FC_r1',
    snapCpg: 'FC_r5',
    now: new Date(0),
  };
}

describe('rollback: only a schedule the create provably made is removed', () => {
  const made = { name: 's1', prefix: 'p', parentArrayName: parentArray };
  const ours = { name: 's1', command: `createsv -f -exp 3h p.@y@@m@@d@@H@@M@@S@ ${parentArray}` };

  test('runs createsv with the prefix on the parent, unclaimed → ours', () => {
    assert.equal(isUnclaimedSchedule(ours, made, parent), true);
    assert.equal(isUnclaimedSchedule(ours, made, undefined), true);
  });

  test('another parent, another prefix, another command → not ours', () => {
    assert.equal(isUnclaimedSchedule({ name: 's1', command: 'createsv -f p.@y@@m@@d@@H@@M@@S@ dcv-other' }, made, parent), false);
    assert.equal(isUnclaimedSchedule({ name: 's1', command: `createsv -f q.@y@@m@@d@@H@@M@@S@ ${parentArray}` }, made, parent), false);
    assert.equal(isUnclaimedSchedule({ name: 's1', command: `removevv -f ${parentArray}` }, made, parent), false);
  });

  test("claimed by a snapshot in the parent's list → not ours", () => {
    const meta = snapshotMetadata({
      id: snapId,
      name: 'other',
      parent,
      expirationHours: null,
      retentionHours: null,
      schedule: { schedule_name: 's1', snap_name_prefix: 'p', sched_frequency: '* * * * *', sched_snap_exp_hrs: null, sched_snap_ret_hrs: null },
    });
    assert.equal(isUnclaimedSchedule(ours, made, withSnapshotEntry(parent, meta)), false);
  });

  test('removeUnclaimedSchedule asks showsched, then removes only its own', async () => {
    const cli = new FakeCli();
    assert.equal(await removeUnclaimedSchedule(cli, made, parent), false, 'none on the array');
    cli.schedules.set('s1', { ...ours, when: '* * * * *' });
    assert.equal(await removeUnclaimedSchedule(cli, made, parent), true);
    cli.schedules.set('s1', { name: 's1', command: 'createsv -f p.@y@@m@@d@@H@@M@@S@ dcv-other', when: '* * * * *' });
    assert.equal(await removeUnclaimedSchedule(cli, made, parent), false);
    assert.deepEqual(cli.lines, ['showsched s1', 'showsched s1', 'removesched -f s1', 'showsched s1']);
  });
});

describe('schedule errors: upstream texts first', () => {
  const ctx = { backend: 'DEFAULT', volume: 'snap1' };
  test("the array's error line: Creation of snapshot schedule failed: Create snapschedule failed Error is '<line>' ", () => {
    const err = new ArrayCliError({ array: '10.0.0.5', command: 'createsched', failure: 'command', message: 'x', fix: 'correct it', arrayText: 'Error: Invalid schedule format' });
    const e = scheduleFailed('create', err, ctx);
    assert.ok(e.message.startsWith("Creation of snapshot schedule failed: Create snapschedule failed Error is 'Error: Invalid schedule format'  ("), e.message);
    assert.match(e.message, /creating the snapshot schedule of snap1 on backend DEFAULT; fix: correct it\)$/);
  });

  test('removal: Removal of snapshot schedule failed: Removing snapschedule failed. Error is ...', () => {
    const err = new ArrayCliError({ array: '10.0.0.5', command: 'removesched', failure: 'command', message: 'x', fix: 'f', arrayText: 'Error: permission denied' });
    assert.ok(scheduleFailed('remove', err, ctx).message.startsWith("Removal of snapshot schedule failed: Removing snapschedule failed. Error is 'Error: permission denied' "));
  });

  test('an SSH outage names the array and is worth retrying', () => {
    const err = new ArrayCliError({ array: '10.0.0.5:2222', command: 'connect', failure: 'unreachable', message: 'connection refused', fix: 'check the array' });
    const e = scheduleFailed('create', err, ctx);
    assert.ok(e.message.startsWith('Creation of snapshot schedule failed: array 10.0.0.5:2222: connect: connection refused ('), e.message);
    assert.equal(e.retryable, true);
  });

  test('mayHaveRun: only a command cut short may have changed the array', () => {
    const mk = (command: string, failure: 'unreachable' | 'timeout' | 'command' | 'auth') => new ArrayCliError({ array: 'a', command, failure, message: 'm', fix: 'f' });
    assert.equal(mayHaveRun(mk('connect', 'unreachable')), false);
    assert.equal(mayHaveRun(mk('connect', 'auth')), false);
    assert.equal(mayHaveRun(mk('createsched', 'command')), false);
    assert.equal(mayHaveRun(mk('createsched', 'timeout')), true);
    assert.equal(mayHaveRun(mk('createsched', 'unreachable')), true);
    assert.equal(mayHaveRun(new Error('other')), true);
  });
});

describe("the backend's SSH settings", () => {
  const parse = (lines: string) =>
    parseConfig(
      `[DEFAULT]
host_etcd_ip_address = 127.0.0.1
hpedockerplugin_driver = hpedockerplugin.hpe.hpe_3par_fc.HPE3PARFCDriver
hpe3par_api_url = https://10.0.0.5:8080/api/v1
hpe3par_username = 3paradm
hpe3par_password = x
hpe3par_cpg = FC_r1
${lines}
`,
      '/etc/hpedockerplugin/hpe.conf',
    );
  const conf = (lines: string) => parse(lines).backends[0]!;
  /** Host options of an hpe.conf that sets none of the SSH ones: the config's defaults. */
  const unsetHost = parse('san_ip = 10.0.0.6\nsan_password = y').host;

  test('san_ip, san_login, san_password (and san_ssh_port) make the client options', () => {
    const o = arrayCliOptionsOf(conf('san_ip = 10.0.0.6\nsan_login = admin\nsan_password = y\nsan_ssh_port = 2222'), { san_password: 'pw' }, unsetHost, { knownHostsFile: '/tmp/kh' }) as ArrayCliOptions;
    assert.deepEqual(
      { host: o.host, port: o.port, user: o.user, auth: o.auth, knownHostsFile: o.knownHostsFile, strict: o.strictHostKeyPolicy, label: o.arrayLabel, timeouts: o.timeouts },
      { host: '10.0.0.6', port: 2222, user: 'admin', auth: { password: 'pw' }, knownHostsFile: '/tmp/kh', strict: false, label: '10.0.0.6:2222', timeouts: { connectMs: 30_000 } },
    );
  });

  test("san_private_key (with its passphrase), ssh_conn_timeout, and [DEFAULT]'s known-hosts file and host key policy", () => {
    const backend = conf('san_ip = 10.0.0.6\nsan_password = y\nsan_private_key = /etc/hpedockerplugin/id_ed25519\nsan_private_key_passphrase = z\nssh_conn_timeout = 7');
    const o = arrayCliOptionsOf(backend, { san_password: 'pw', san_private_key_passphrase: 'kp' }, { ssh: { knownHostsFile: '/var/kh', strictHostKeyPolicy: true } }, {}) as ArrayCliOptions;
    assert.deepEqual(
      { auth: o.auth, label: o.arrayLabel, knownHostsFile: o.knownHostsFile, strict: o.strictHostKeyPolicy, timeouts: o.timeouts },
      { auth: { privateKeyPath: '/etc/hpedockerplugin/id_ed25519', passphrase: 'kp' }, label: '10.0.0.6', knownHostsFile: '/var/kh', strict: true, timeouts: { connectMs: 7000 } },
    );
    const defaults = arrayCliOptionsOf(backend, { san_password: 'pw' }, unsetHost, {}) as ArrayCliOptions;
    assert.equal(defaults.knownHostsFile, '/var/lib/hpedockerplugin/ssh_known_hosts');
    assert.equal(defaults.strictHostKeyPolicy, false);
  });

  test('no SSH password: refused naming the options to set, before any connection', () => {
    const backend = conf('san_ip = 10.0.0.6\nsan_password = y');
    const options = arrayCliOptionsOf(backend, {}, unsetHost, {});
    assert.deepEqual(options, { missing: ['san_password (or san_private_key)'] });
    let made = 0;
    const lazy = new LazyArrayCli('DEFAULT', '/srv/hpe/other.conf', options, () => {
      made++;
      return new FakeCli();
    });
    const refused = thrownBy(() => lazy.get(), VolumeRequestError);
    assert.equal(refused.message, noSshError('DEFAULT', ['san_password (or san_private_key)'], '/srv/hpe/other.conf').message);
    assert.match(refused.fix, /^set \[DEFAULT\]\.san_password \(or san_private_key\) in \/srv\/hpe\/other\.conf \(/, 'the fix names the hpe.conf loaded');
    assert.equal(made, 0);
    assert.equal(
      noSshError('b2', ['san_ip', 'san_password (or san_private_key)'], '/etc/hpedockerplugin/hpe.conf').message,
      "snapshot schedules need the array's SSH CLI, and backend 'b2' has no SSH settings: set [b2].san_ip, [b2].san_password (or san_private_key) in hpe.conf",
    );
  });

  test('the client is made once, on first use, and closed with the backend', async () => {
    const fake = new FakeCli();
    let made = 0;
    const lazy = new LazyArrayCli('DEFAULT', '/etc/hpedockerplugin/hpe.conf', arrayCliOptionsOf(conf('san_ip = 10.0.0.6\nsan_password = y'), { san_password: 'pw' }, unsetHost, {}), () => {
      made++;
      return fake;
    });
    assert.equal(made, 0);
    assert.equal(lazy.get(), lazy.get());
    assert.equal(made, 1);
    await lazy.close();
    assert.equal(fake.closed, 1);
    await lazy.close();
    assert.equal(fake.closed, 1);
  });

  test('a rotated san_password ($secret{}) closes the connection; the next operation connects with the new value', async () => {
    const made: { password?: string; closed: () => number }[] = [];
    const lazy = new LazyArrayCli('DEFAULT', '/etc/hpedockerplugin/hpe.conf', arrayCliOptionsOf(conf('san_ip = 10.0.0.6\nsan_password = y'), { san_password: 'old-pw' }, unsetHost, {}), (o) => {
      const fake = new FakeCli();
      made.push({ ...('password' in o.auth ? { password: o.auth.password } : {}), closed: () => fake.closed });
      return fake;
    });
    lazy.get();
    await lazy.rotate('san_password', 'new-pw');
    assert.equal(made[0]!.closed(), 1, 'the connection of the old value is closed');
    lazy.get();
    assert.deepEqual(made.map((m) => m.password), ['old-pw', 'new-pw']);
  });
});

test('an intent naming a schedule round-trips; a damaged schedule field is named', () => {
  const intent = {
    v: 1,
    op: 'create',
    flow: 'snapshot',
    id: snapId,
    name: 'snap1',
    backend: 'DEFAULT',
    arrayName: 'dcs-x',
    parent: 'v1',
    schedule: { name: 's1', prefix: 'p', parentArrayName: parentArray },
    node: 'n1',
    started: new Date(0).toISOString(),
  };
  assert.deepEqual(parseIntent(JSON.stringify(intent)), intent);
  assert.match(String(parseIntent(JSON.stringify({ ...intent, schedule: { name: 's1' } }))), /schedule\.prefix/);
});
