import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { AttachError, CommandError, transportFor, type Connection } from '../../src/host/index.js';
import { InstantClock } from '../support/clock.js';
import { FakeCommands, FakeHostTree, recorded } from '../support/fake-host.js';

const WWN = '60002AC0000000000000000A00019D4A';
const wwn = WWN.toLowerCase();
const IQN1 = 'iqn.2000-05.com.3pardata:20210002ac01db6e';
const IQN2 = 'iqn.2000-05.com.3pardata:21210002ac01db6e';
const P1 = '10.10.1.21:3260';
const P2 = '10.10.2.21:3260';
const SECRET = 'Zx9#kQ2!vL7pR4tW';

const conn: Connection = {
  transport: 'iscsi',
  wwn: WWN,
  lun: 3,
  targets: [
    { portal: P1, iqn: IQN1 },
    { portal: P2, iqn: IQN2 },
  ],
  chap: { username: 'docker-host1', secret: SECRET },
};

let tree: FakeHostTree;
let cmds: FakeCommands;
beforeEach(() => {
  tree = new FakeHostTree();
  cmds = new FakeCommands()
    .on('multipathd show status', { stdout: recorded('multipathd-status.txt') })
    // Discovery writes a node record per portal, as open-iscsi does (tpgt 21 and 121 in the recorded outputs).
    .on(`iscsiadm -m discovery -t sendtargets -p ${P1}`, { stdout: recorded('iscsiadm-discovery-portal1.txt'), effect: () => tree.write(record(IQN1, P1, 21), nodeRecord(IQN1, 21)) })
    .on(`iscsiadm -m discovery -t sendtargets -p ${P2}`, { stdout: recorded('iscsiadm-discovery-portal2.txt'), effect: () => tree.write(record(IQN2, P2, 121), nodeRecord(IQN2, 121)) })
    .on(`iscsiadm -m node -T ${IQN1} -p ${P1} --login`, { stdout: recorded('iscsiadm-login.txt'), effect: () => tree.addScsiDisk('sdb', wwn, { portal: P1, iqn: IQN1, lun: 3 }) })
    .on(`iscsiadm -m node -T ${IQN2} -p ${P2} --login`, {
      stdout: recorded('iscsiadm-login.txt'),
      effect: () => {
        tree.addScsiDisk('sdc', wwn, { portal: P2, iqn: IQN2, lun: 3 });
        tree.addMultipath('dm-3', 'mpathc', wwn, ['sdb', 'sdc']);
      },
    });
});
afterEach(() => tree.remove());

const nodeCmd = (iqn: string, portal: string): string => `iscsiadm -m node -T ${iqn} -p ${portal}`;
const record = (iqn: string, portal: string, tpgt: number): string => `etc/iscsi/nodes/${iqn}/${portal.replace(':', ',')},${tpgt}/default`;
const nodeRecord = (iqn: string, tpgt: number): string =>
  `# BEGIN RECORD 2.1.8\nnode.name = ${iqn}\nnode.tpgt = ${tpgt}\nnode.startup = manual\nnode.session.auth.authmethod = None\nnode.conn[0].port = 3260\n# END RECORD\n`;

test('iSCSI attach discovers, sets CHAP, logs in to each portal and returns the multipath device', async () => {
  const att = await transportFor('iscsi', tree.env(cmds, new InstantClock())).attach(conn);
  assert.deepEqual(att, {
    transport: 'iscsi',
    device: `${tree.dev}/dm-3`,
    wwn,
    paths: ['sdb', 'sdc'],
    multipath: 'mpathc',
    portals: [P1, P2],
    iqns: [IQN1, IQN2],
  });
  assert.deepEqual(cmds.lines, [
    'multipathd show status',
    ...[[IQN1, P1] as const, [IQN2, P2] as const].flatMap(([iqn, p]) => [
      `iscsiadm -m discovery -t sendtargets -p ${p}`,
      `${nodeCmd(iqn, p)} --login`,
    ]),
  ]);
  // CHAP is in the node records, never in a command line (`ps` shows those to every local user).
  for (const [iqn, p, tpgt] of [[IQN1, P1, 21], [IQN2, P2, 121]] as const) {
    const text = readFileSync(join(tree.root, record(iqn, p, tpgt)), 'utf8');
    assert.match(text, /^node\.session\.auth\.authmethod = CHAP$/m);
    assert.match(text, /^node\.session\.auth\.username = docker-host1$/m);
    assert.match(text, new RegExp(`^node\\.session\\.auth\\.password = ${SECRET.replace(/[#!]/g, '\\$&')}\n# END RECORD$`, 'm'));
    assert.equal(statSync(join(tree.root, record(iqn, p, tpgt))).mode & 0o777, 0o600);
  }
  assert.ok(!cmds.lines.some((l) => l.includes(SECRET)), 'no command line holds the CHAP secret');
  assert.equal(JSON.parse(JSON.stringify(att)).device, att.device, 'the attachment is JSON-serialisable');
});

test('iSCSI attach without multipathd uses the single path device, without CHAP commands when the array gave none', async () => {
  cmds.on('multipathd show status', { exitCode: 1, stderr: recorded('multipathd-status-down.stderr') });
  const single: Connection = { transport: 'iscsi', wwn: WWN, lun: 3, targets: [{ portal: P1, iqn: IQN1 }] };
  const att = await transportFor('iscsi', tree.env(cmds, new InstantClock())).attach(single);
  assert.equal(att.device, `${tree.dev}/sdb`);
  assert.deepEqual(att.paths, ['sdb']);
  assert.equal(att.multipath, undefined);
  assert.ok(!cmds.lines.some((l) => l.includes('--op update')));
});

test('iSCSI attach to a target already logged in rescans its session, so the new LUN shows up (exit 15 is fine)', async () => {
  cmds.on(`${nodeCmd(IQN1, P1)} --login`, { exitCode: 15, stderr: recorded('iscsiadm-login-exists.stderr') });
  cmds.on(`${nodeCmd(IQN1, P1)} --rescan`, { stdout: recorded('iscsiadm-rescan.txt'), effect: () => tree.addScsiDisk('sdb', wwn) });
  cmds.on('multipathd show status', { notFound: true });
  const att = await transportFor('iscsi', tree.env(cmds, new InstantClock())).attach({ ...conn, targets: [{ portal: P1, iqn: IQN1 }] });
  assert.equal(att.device, `${tree.dev}/sdb`);
  assert.ok(cmds.lines.includes(`${nodeCmd(IQN1, P1)} --rescan`));
});

test('iSCSI attach twice gives the same attachment', async () => {
  const transport = transportFor('iscsi', tree.env(cmds, new InstantClock()));
  const first = await transport.attach(conn);
  cmds.on(/--login$/, { exitCode: 15, stderr: recorded('iscsiadm-login-exists.stderr') }).on(/--rescan$/, { stdout: recorded('iscsiadm-rescan.txt') });
  assert.deepEqual(await transport.attach(conn), first);
});

test('a device that never appears fails after the bounded wait, naming WWN, transport, portals and the fix', async () => {
  cmds.on(/--login$/, { stdout: recorded('iscsiadm-login.txt') });
  const clock = new InstantClock();
  const err = await transportFor('iscsi', tree.env(cmds, clock, { deviceMs: 10_000, pollMs: 1000 })).attach(conn).catch((e: unknown) => e);
  assert.ok(err instanceof AttachError);
  assert.match(err.message, new RegExp(`WWN ${wwn} did not appear on this host within 10 s \\(iSCSI LUN 3 via ${P1} ${IQN1}, ${P2} ${IQN2}\\)`));
  assert.match(err.fix, /iscsiadm -m session/);
  assert.match(err.fix, /multipath -ll/);
  assert.equal(clock.sleeps.reduce((a, b) => a + b, 0), 10_000);
  assert.ok(!err.message.includes(SECRET) && !err.fix.includes(SECRET));
});

test('multipathd running but making no map fails with the multipath fix', async () => {
  cmds.on(/--login$/, { stdout: recorded('iscsiadm-login.txt'), effect: () => tree.addScsiDisk('sdb', wwn) });
  const err = await transportFor('iscsi', tree.env(cmds, new InstantClock(), { multipathMs: 3000 })).attach(conn).catch((e: unknown) => e);
  assert.ok(err instanceof AttachError);
  assert.match(err.message, /multipathd runs but made no multipath map for WWN 60002ac0000000000000000a00019d4a within 3 s/);
  assert.match(err.fix, /multipath -ll/);
});

test('one unreachable portal is tolerated; all unreachable fails with the command, exit code and stderr', async () => {
  cmds.on(`iscsiadm -m discovery -t sendtargets -p ${P2}`, { exitCode: 4, stderr: recorded('iscsiadm-discovery-noroute.stderr') });
  cmds.on(`${nodeCmd(IQN1, P1)} --login`, {
    stdout: recorded('iscsiadm-login.txt'),
    effect: () => {
      tree.addScsiDisk('sdb', wwn);
      tree.addMultipath('dm-3', 'mpathc', wwn, ['sdb']);
    },
  });
  const att = await transportFor('iscsi', tree.env(cmds, new InstantClock())).attach(conn);
  assert.deepEqual(att.paths, ['sdb']);

  cmds.on(`iscsiadm -m discovery -t sendtargets -p ${P1}`, { exitCode: 4, stderr: recorded('iscsiadm-discovery-noroute.stderr') });
  const err = await transportFor('iscsi', tree.env(cmds, new InstantClock())).attach(conn).catch((e: unknown) => e);
  assert.ok(err instanceof CommandError);
  assert.equal(err.exitCode, 4);
  assert.match(err.message, /^`iscsiadm -m discovery -t sendtargets -p 10\.10\.1\.21:3260` exited with code 4: iscsiadm: cannot make connection/);
  assert.match(err.fix, /reaches the array's iSCSI port 10\.10\.1\.21:3260/);
});

test('a portal that does not offer the target is named with what it offers', async () => {
  const err = await transportFor('iscsi', tree.env(cmds, new InstantClock()))
    .attach({ ...conn, targets: [{ portal: P1, iqn: IQN2 }] })
    .catch((e: unknown) => e);
  assert.ok(err instanceof AttachError);
  assert.equal(err.message, `the iSCSI portal ${P1} does not offer target ${IQN2} (it offers: ${IQN1})`);
});

test('a CHAP login failure names CHAP in its fix and never shows the secret; a missing node record is a clear error', async () => {
  cmds.on(/--login$/, { exitCode: 24, stdout: recorded('iscsiadm-login-authfail.txt'), stderr: `${recorded('iscsiadm-login-authfail.stderr')} ${SECRET}` });
  const login = await transportFor('iscsi', tree.env(cmds, new InstantClock())).attach({ ...conn, targets: [{ portal: P1, iqn: IQN1 }] }).catch((e: unknown) => e);
  assert.ok(login instanceof CommandError);
  assert.match(login.message, /exited with code 24: .*authorization failure/s);
  assert.match(login.fix, /CHAP/);
  assert.ok(!JSON.stringify({ m: login.message, f: login.fix, c: login.command, s: login.stderr }).includes(SECRET));

  cmds.on(`iscsiadm -m discovery -t sendtargets -p ${P1}`, { stdout: recorded('iscsiadm-discovery-portal1.txt') });
  tree.remove();
  tree = new FakeHostTree();
  const none = await transportFor('iscsi', tree.env(cmds, new InstantClock())).attach({ ...conn, targets: [{ portal: P1, iqn: IQN1 }] }).catch((e: unknown) => e);
  assert.ok(none instanceof AttachError);
  assert.match(none.message, /^no iSCSI node record .*10\.10\.1\.21,3260,21 after discovering 10\.10\.1\.21:3260, so CHAP cannot be set/);
});

test('iSCSI detach flushes the map, deletes each path and logs out of targets with no LUN left', async () => {
  const transport = transportFor('iscsi', tree.env(cmds, new InstantClock()));
  const att = await transport.attach(conn);
  // Another volume's LUN 4 still uses the second target.
  tree.addScsiDisk('sdd', '60002ac0000000000000000b00019d4a', { portal: P2, iqn: IQN2, lun: 4 });
  cmds
    .on('multipath -f mpathc', { effect: () => tree.removeMultipath('dm-3', wwn) })
    .on(`${nodeCmd(IQN1, P1)} --logout`, { stdout: recorded('iscsiadm-logout.txt') });
  cmds.calls.length = 0;
  await transport.detach(att);
  assert.deepEqual(cmds.lines, ['multipath -f mpathc', `${nodeCmd(IQN1, P1)} --logout`]);
  assert.equal(tree.read('sys/block/sdb/device/delete'), '1');
  assert.equal(tree.read('sys/block/sdc/device/delete'), '1');
  assert.equal(tree.read('sys/block/sdd/device/delete'), '', 'the other volume\'s path is untouched');
});

test('iSCSI detach of what is already gone succeeds (no map, no paths, no session: exit 21)', async () => {
  cmds.on(/--logout$/, { exitCode: 21, stderr: recorded('iscsiadm-logout-none.stderr') });
  await transportFor('iscsi', tree.env(cmds, new InstantClock())).detach({
    transport: 'iscsi',
    device: '/dev/dm-3',
    wwn,
    paths: ['sdb', 'sdc'],
    multipath: 'mpathc',
    portals: [P1, P2],
    iqns: [IQN1, IQN2],
  });
  assert.deepEqual(cmds.lines, [`${nodeCmd(IQN1, P1)} --logout`, `${nodeCmd(IQN2, P2)} --logout`]);
});

test('detach never deletes a path whose name now belongs to another LUN', async () => {
  tree.addScsiDisk('sdb', '60002ac0000000000000000b00019d4a');
  cmds.on(/--logout$/, { stdout: recorded('iscsiadm-logout.txt') });
  await transportFor('iscsi', tree.env(cmds, new InstantClock())).detach({ transport: 'iscsi', device: '/dev/sdb', wwn, paths: ['sdb'], portals: [P1], iqns: [IQN1] });
  assert.equal(tree.read('sys/block/sdb/device/delete'), '');
});

test('an attachment naming a path outside sysfs is refused', async () => {
  await assert.rejects(
    transportFor('iscsi', tree.env(cmds, new InstantClock())).detach({ transport: 'iscsi', device: '/dev/sdb', wwn, paths: ['../../etc'], portals: [], iqns: [] }),
    AttachError,
  );
});

test('an aborted attach stops waiting for the device', async () => {
  const ac = new AbortController();
  cmds.on(/--login$/, { stdout: recorded('iscsiadm-login.txt'), effect: () => ac.abort(new Error('request cancelled')) });
  const clock = new InstantClock();
  await assert.rejects(transportFor('iscsi', tree.env(cmds, clock)).attach(conn, ac.signal), /request cancelled/);
  assert.deepEqual(clock.sleeps, []);
});
