import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { AttachError, normaliseWwn, presentLun, presentWwns, transportFor, type Connection } from '../../src/host/index.js';
import { InstantClock } from '../support/clock.js';
import { FakeCommands, FakeHostTree, recorded } from '../support/fake-host.js';

const wwn = '60002ac0000000000000000c00019d4a';
const conn: Connection = { transport: 'fc', wwn: wwn.toUpperCase(), lun: 5, targetWwns: ['20210002AC01DB6E', '21210002AC01DB6E'] };

let tree: FakeHostTree;
let cmds: FakeCommands;
beforeEach(() => {
  tree = new FakeHostTree();
  for (const h of ['host7', 'host8']) {
    tree.write(`sys/class/fc_host/${h}/port_name`, '0x10000090fa1b2c3d\n');
    tree.write(`sys/class/scsi_host/${h}/scan`, '');
  }
  tree.write('sys/class/scsi_host/host0/scan', '');
  cmds = new FakeCommands().on('multipathd show status', { stdout: recorded('multipathd-status.txt') });
});
afterEach(() => tree.remove());

test('FC attach rescans the FC hosts for the LUN, then takes the multipath map of the WWN', async () => {
  tree.addScsiDisk('sde', wwn);
  tree.addScsiDisk('sdf', wwn);
  tree.addMultipath('dm-5', '360002ac0000000000000000c00019d4a', wwn, ['sde', 'sdf']);
  const att = await transportFor('fc', tree.env(cmds, new InstantClock())).attach(conn);
  assert.deepEqual(att, { transport: 'fc', device: `${tree.dev}/dm-5`, wwn, paths: ['sde', 'sdf'], multipath: '360002ac0000000000000000c00019d4a' });
  assert.equal(tree.read('sys/class/scsi_host/host7/scan'), '- - 5');
  assert.equal(tree.read('sys/class/scsi_host/host8/scan'), '- - 5');
  assert.equal(tree.read('sys/class/scsi_host/host0/scan'), '', 'non-FC SCSI hosts are not scanned');
});

test('FC attach rescans again while waiting and fails after the bound with the array ports named', async () => {
  // A clock that, at each wait, notes whether the hosts were rescanned since the last one.
  const clock = new InstantClock();
  const rescannedAt: number[] = [];
  const sleep = clock.sleep.bind(clock);
  clock.sleep = async (ms: number) => {
    if (tree.read('sys/class/scsi_host/host7/scan') === '- - 5') rescannedAt.push(clock.now());
    tree.write('sys/class/scsi_host/host7/scan', '');
    await sleep(ms);
  };
  const start = clock.now();
  const err = await transportFor('fc', tree.env(cmds, clock, { deviceMs: 12_000, pollMs: 1000, fcRescanMs: 5000 })).attach(conn).catch((e: unknown) => e);
  assert.ok(err instanceof AttachError);
  assert.match(err.message, /WWN 60002ac0000000000000000c00019d4a did not appear on this host within 12 s \(FC LUN 5 from array ports 20210002AC01DB6E, 21210002AC01DB6E via host7, host8\)/);
  assert.deepEqual(rescannedAt.map((t) => t - start), [0, 5000, 10_000]);
  assert.equal(clock.sleeps.length, 12, 'one look per poll interval');
});

test('FC attach on a host without HBAs says so', async () => {
  const bare = new FakeHostTree();
  try {
    await assert.rejects(transportFor('fc', bare.env(cmds, new InstantClock())).attach(conn), /no Fibre Channel HBA/);
  } finally {
    bare.remove();
  }
});

test('FC detach flushes the map and deletes the paths; again is a no-op', async () => {
  tree.addScsiDisk('sde', wwn);
  tree.addScsiDisk('sdf', wwn);
  tree.addMultipath('dm-5', 'mpathe', wwn, ['sde', 'sdf']);
  const transport = transportFor('fc', tree.env(cmds, new InstantClock()));
  const att = await transport.attach(conn);
  cmds.on('multipath -f mpathe', {
    effect: () => {
      tree.removeMultipath('dm-5', wwn);
    },
  });
  cmds.calls.length = 0;
  await transport.detach(att);
  assert.deepEqual(cmds.lines, ['multipath -f mpathe']);
  assert.equal(tree.read('sys/block/sde/device/delete'), '1');
  assert.equal(tree.read('sys/block/sdf/device/delete'), '1');
  tree.removeScsiDisk('sde');
  tree.removeScsiDisk('sdf');
  cmds.calls.length = 0;
  await transport.detach(att);
  assert.deepEqual(cmds.lines, []);
});

test('a map that stays busy fails after three flush attempts with the fix', async () => {
  tree.addScsiDisk('sde', wwn);
  tree.addMultipath('dm-5', 'mpathe', wwn, ['sde']);
  cmds.on('multipath -f mpathe', { exitCode: 1, stderr: 'Nov 30 15:40:01 | mpathe: map in use' });
  const clock = new InstantClock();
  const err = await transportFor('fc', tree.env(cmds, clock))
    .detach({ transport: 'fc', device: '/dev/dm-5', wwn, paths: ['sde'], multipath: 'mpathe' })
    .catch((e: unknown) => e);
  assert.match(String(err), /`multipath -f mpathe` exited with code 1: .*map in use/);
  assert.equal(cmds.lines.filter((l) => l === 'multipath -f mpathe').length, 3);
  assert.equal(tree.read('sys/block/sde/device/delete'), '', 'paths are kept while the map holds them');
});

test('presentLun and locate: a LUN present now (multipath map, else its disk), nothing when it has no path here', async () => {
  const env = tree.env(cmds, new InstantClock());
  assert.equal(await presentLun(env, wwn), undefined);
  assert.deepEqual([...(await presentWwns(env))], []);
  tree.addScsiDisk('sde', wwn);
  assert.deepEqual(await presentLun(env, wwn.toUpperCase()), { device: `${tree.dev}/sde`, paths: ['sde'] });
  assert.deepEqual([...(await presentWwns(env))], [normaliseWwn(wwn)], 'the set presentLun draws from, read once');
  tree.addScsiDisk('sdf', wwn);
  tree.addMultipath('dm-5', 'mpathe', wwn, ['sde', 'sdf']);
  assert.deepEqual(await presentLun(env, wwn), { device: `${tree.dev}/dm-5`, multipath: 'mpathe', paths: ['sde', 'sdf'] });
  assert.deepEqual([...(await presentWwns(env))], [normaliseWwn(wwn)]);
  const fc = transportFor('fc', env);
  assert.equal(await fc.locate({ transport: 'fc', device: '/dev/dm-1', wwn, paths: [] }), `${tree.dev}/dm-5`, 'the map as it is now, not the stored name');
  assert.equal(cmds.calls.length, 0, 'looking runs no command: no rescan, no login');
});
