import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { join } from 'node:path';
import { AttachError, listLoopDevices, transportFor, type Connection, type HostEnv } from '../../src/host/index.js';
import { InstantClock } from '../support/clock.js';
import { FakeCommands, FakeHostTree, recorded } from '../support/fake-host.js';

const rel = 'volumes/dcv-7P-DD5jLTPWF7tcwnMF80g.img';
let tree: FakeHostTree;
let cmds: FakeCommands;
let env: HostEnv;
let file: string;
beforeEach(() => {
  tree = new FakeHostTree();
  cmds = new FakeCommands();
  env = { ...tree.env(cmds, new InstantClock()), simulatorRoot: join(tree.root, 'sim') };
  file = tree.write(`sim/${rel}`, '');
});
afterEach(() => tree.remove());

const conn = (simulatorVolumeFile?: string): Connection => ({
  transport: 'iscsi',
  wwn: '60002AC0000000000000000A00019D4A',
  lun: 0,
  targets: [{ portal: '127.0.0.1:3260', iqn: 'iqn.2000-05.com.3pardata:sim' }],
  ...(simulatorVolumeFile === undefined ? {} : { simulatorVolumeFile }),
});

test('loop attach sets up a new loop device for the simulator volume file', async () => {
  cmds.on(`losetup -j ${file}`, {}).on(`losetup --find --show ${file}`, { stdout: '/dev/loop4\n' });
  assert.deepEqual(await transportFor('loop', env).attach(conn(rel)), {
    transport: 'loop',
    device: '/dev/loop4',
    wwn: '60002ac0000000000000000a00019d4a',
    paths: [],
    file,
  });
});

test('loop attach reuses the loop device already backed by the file', async () => {
  cmds.on(`losetup -j ${file}`, { stdout: recorded('losetup-j.txt') });
  const att = await transportFor('loop', env).attach(conn(rel));
  assert.equal(att.device, '/dev/loop3');
  assert.deepEqual(cmds.lines, [`losetup -j ${file}`]);
});

test('loop attach refuses absolute paths, "..", a missing root or file', async () => {
  const loop = transportFor('loop', env);
  for (const bad of ['/etc/shadow', '../x.img', 'volumes/../../x.img', '']) {
    await assert.rejects(loop.attach(conn(bad)), (e: unknown) => e instanceof AttachError && /not a path inside the simulators' root/.test(e.message), bad);
  }
  await assert.rejects(loop.attach(conn()), /needs a simulator volume file/);
  await assert.rejects(transportFor('loop', { ...env, simulatorRoot: undefined }).attach(conn(rel)), /needs a simulator volume file and root/);
  await assert.rejects(loop.attach(conn('volumes/missing.img')), /does not exist/);
  assert.deepEqual(cmds.calls, []);
});

test('loop detach detaches every device still backed by the file, and only those', async () => {
  cmds.on(`losetup -j ${file}`, { stdout: recorded('losetup-j.txt') }).on('losetup -d /dev/loop3', {});
  await transportFor('loop', env).detach({ transport: 'loop', device: '/dev/loop9', wwn: 'x', paths: [], file });
  assert.deepEqual(cmds.lines, [`losetup -j ${file}`, 'losetup -d /dev/loop3']);
  cmds.on(`losetup -j ${file}`, {});
  cmds.calls.length = 0;
  await transportFor('loop', env).detach({ transport: 'loop', device: '/dev/loop3', wwn: 'x', paths: [], file });
  assert.deepEqual(cmds.lines, [`losetup -j ${file}`]);
});

test('listLoopDevices reads losetup --list: device and backing file, a deleted file and a space in a path', async () => {
  const cmds = new FakeCommands().on('losetup --list --noheadings --raw -O NAME,BACK-FILE', {
    stdout: '/dev/loop0 /sims/sim1/volumes/dcv-a.img\n/dev/loop3 /sims/my\\x20dir/volumes/dcv-b.img (deleted)\n',
  });
  const tree = new FakeHostTree();
  try {
    assert.deepEqual(await listLoopDevices(tree.env(cmds, new InstantClock())), [
      { device: '/dev/loop0', file: '/sims/sim1/volumes/dcv-a.img' },
      { device: '/dev/loop3', file: '/sims/my dir/volumes/dcv-b.img' },
    ]);
  } finally {
    tree.remove();
  }
});

test('locate: the loop device still backed by the attachment\'s file; none when the file is gone', async () => {
  const tree = new FakeHostTree();
  try {
    const file = tree.write('sims/sim1/volumes/dcv-a.img', '');
    const cmds = new FakeCommands().on(`losetup -j ${file}`, { stdout: `/dev/loop7: [2049]:12 (${file})\n` });
    const loop = transportFor('loop', tree.env(cmds, new InstantClock()));
    assert.equal(await loop.locate({ transport: 'loop', device: '/dev/loop0', wwn: '', paths: [], file }), '/dev/loop7');
    assert.equal(await loop.locate({ transport: 'loop', device: '/dev/loop0', wwn: '', paths: [], file: join(tree.root, 'gone.img') }), undefined);
  } finally {
    tree.remove();
  }
});
