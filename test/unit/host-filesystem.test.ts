import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { FilesystemError, hostFilesystem, parseMountInfo, type Filesystem } from '../../src/host/index.js';
import { probeFromBlkid } from '../../src/host/filesystem.js';
import { InstantClock } from '../support/clock.js';
import { FakeCommands, FakeHostTree, recorded } from '../support/fake-host.js';

let tree: FakeHostTree;
let cmds: FakeCommands;
let fs: Filesystem;
/** A block device node (loop major 7, minor 3) in the temp tree: stat sees a block device, nothing is behind it. */
let dev: string | undefined;
beforeEach(() => {
  tree = new FakeHostTree();
  cmds = new FakeCommands();
  fs = hostFilesystem(tree.env(cmds, new InstantClock()));
  tree.write('proc/self/mountinfo', recorded('mountinfo.txt'));
  try {
    execFileSync('mknod', [join(tree.dev, 'loop3'), 'b', '7', '3'], { stdio: 'ignore' });
    dev = join(tree.dev, 'loop3');
  } catch {
    dev = undefined;
  }
});
afterEach(() => tree.remove());

function device(t: { skip(msg: string): void }): string | undefined {
  if (dev === undefined) t.skip('mknod is not permitted here (needs root with CAP_MKNOD)');
  return dev;
}

test('blkid output: a filesystem, a partition table, an LVM member', () => {
  assert.deepEqual(probeFromBlkid(recorded('blkid-ext4.txt')), { empty: false, type: 'ext4', usage: 'filesystem' });
  assert.deepEqual(probeFromBlkid(recorded('blkid-xfs.txt')), { empty: false, type: 'xfs', usage: 'filesystem' });
  assert.deepEqual(probeFromBlkid(recorded('blkid-gpt.txt')), { empty: false, type: 'gpt partition table', usage: 'partition table' });
  assert.deepEqual(probeFromBlkid(recorded('blkid-lvm.txt')), { empty: false, type: 'LVM2_member', usage: 'raid' });
  assert.deepEqual(probeFromBlkid('DEVNAME=/dev/sdb\n'), { empty: false, type: 'unknown signature' });
});

test('mountinfo: fields, optional fields and escaped paths', () => {
  const entries = parseMountInfo(recorded('mountinfo.txt'));
  assert.equal(entries.length, 5);
  assert.deepEqual(entries[3], {
    id: 412,
    parentId: 27,
    majorMinor: '253:3',
    root: '/',
    mountPoint: '/opt/hpe/data/hpedocker-dm-uuid-mpath-360002ac0000000000000000a00019d4a',
    options: ['rw', 'relatime'],
    fsType: 'ext4',
    source: '/dev/mapper/360002ac0000000000000000a00019d4a',
    superOptions: ['rw'],
  });
  assert.equal(entries[4]?.mountPoint, '/var/lib/docker/my data\ttab');
  assert.equal(entries[4]?.fsType, 'xfs');
});

test('formatIfEmpty makes ext4 (-F only after an empty probe) and xfs on an empty device', async (t) => {
  const d = device(t);
  if (d === undefined) return;
  cmds.on(`blkid -p -o export ${d}`, { exitCode: 2 }).on(/^mkfs\./, {});
  assert.deepEqual(await fs.formatIfEmpty(d, 'ext4'), { formatted: true, fsType: 'ext4' });
  assert.deepEqual(await fs.formatIfEmpty(d, 'xfs'), { formatted: true, fsType: 'xfs' });
  assert.deepEqual(cmds.lines, [`blkid -p -o export ${d}`, `mkfs.ext4 -q -F ${d}`, `blkid -p -o export ${d}`, `mkfs.xfs -q ${d}`]);
});

test('formatIfEmpty keeps a filesystem it finds and never runs mkfs', async (t) => {
  const d = device(t);
  if (d === undefined) return;
  cmds.on(`blkid -p -o export ${d}`, { stdout: recorded('blkid-xfs.txt') });
  assert.deepEqual(await fs.formatIfEmpty(d, 'ext4'), { formatted: false, fsType: 'xfs' });
  assert.ok(!cmds.lines.some((l) => l.startsWith('mkfs')));
});

test('formatIfEmpty refuses a device with any other signature, leaving it untouched', async (t) => {
  const d = device(t);
  if (d === undefined) return;
  for (const [reply, what] of [
    [{ stdout: recorded('blkid-gpt.txt') }, /holds a gpt partition table signature \(partition table\), not a filesystem; it is left untouched/],
    [{ stdout: recorded('blkid-lvm.txt') }, /holds a LVM2_member signature \(raid\)/],
    [{ exitCode: 8, stderr: '' }, /holds a ambivalent \(several signatures\) signature/],
  ] as const) {
    cmds.on(`blkid -p -o export ${d}`, reply);
    const err = await fs.formatIfEmpty(d, 'ext4').catch((e: unknown) => e);
    assert.ok(err instanceof FilesystemError);
    assert.match(err.message, what);
    assert.match(err.fix, /wipefs/);
  }
  assert.ok(!cmds.lines.some((l) => l.startsWith('mkfs')));
});

test('formatIfEmpty refuses other types by name and non-devices, before running anything', async () => {
  await assert.rejects(fs.formatIfEmpty('/dev/sdb', 'btrfs'), (e: unknown) => e instanceof FilesystemError && e.message === 'filesystem type "btrfs" is not supported' && /ext4, xfs/.test(e.fix));
  const file = tree.write('dev/sdz', '');
  await assert.rejects(fs.formatIfEmpty(file, 'ext4'), /is not a block device on this host/);
  await assert.rejects(fs.formatIfEmpty(join(tree.dev, 'missing'), 'ext4'), /is not a block device on this host/);
  assert.deepEqual(cmds.calls, []);
});

test('mount makes the directory and mounts, read-only when asked', async (t) => {
  const d = device(t);
  if (d === undefined) return;
  cmds.on(/^mount /, {});
  const dir = join(tree.root, 'data', 'vol1');
  await fs.mount(d, dir, { fsType: 'ext4' });
  await fs.mount(d, dir, { fsType: 'xfs', readOnly: true });
  assert.ok(statSync(dir).isDirectory());
  assert.deepEqual(cmds.lines, [`mount -t ext4 ${d} ${dir}`, `mount -t xfs -o ro,norecovery,nouuid ${d} ${dir}`]);
});

test('mount is a no-op when the device is already mounted there, and refuses another device there', async (t) => {
  const d = device(t);
  if (d === undefined) return;
  const dir = join(tree.root, 'data', 'my vol');
  mkdirSync(dir, { recursive: true });
  const escaped = dir.replaceAll(' ', '\\040');
  tree.write('proc/self/mountinfo', `${recorded('mountinfo.txt')}430 27 7:3 / ${escaped} rw,relatime shared:220 - ext4 /dev/loop3 rw\n`);
  await fs.mount(d, dir, { fsType: 'ext4' });
  assert.deepEqual(cmds.calls, []);
  assert.equal(await fs.isMounted(dir), true);

  tree.write('proc/self/mountinfo', `430 27 253:3 / ${escaped} rw - ext4 /dev/mapper/mpathc rw\n`);
  await assert.rejects(fs.mount(d, dir, { fsType: 'ext4' }), /already has \/dev\/mapper\/mpathc \(ext4\) mounted, not/);
});

test('unmount unmounts only what is mounted; removeDir removes an empty directory only', async () => {
  const dir = join(tree.root, 'data', 'vol1');
  mkdirSync(dir, { recursive: true });
  tree.write('proc/self/mountinfo', `430 27 7:3 / ${dir} rw - ext4 /dev/loop3 rw\n`);
  cmds.on(`umount ${dir}`, { effect: () => tree.write('proc/self/mountinfo', '') });
  await fs.unmount(dir, { removeDir: true });
  assert.deepEqual(cmds.lines, [`umount ${dir}`]);
  assert.equal(existsSync(dir), false);

  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'written-while-unmounted'), 'x');
  await fs.unmount(dir, { removeDir: true });
  assert.equal(existsSync(join(dir, 'written-while-unmounted')), true);
  assert.deepEqual(cmds.lines, [`umount ${dir}`]);
});

test('a busy unmount fails with the fuser fix', async () => {
  const dir = join(tree.root, 'data', 'vol1');
  mkdirSync(dir, { recursive: true });
  tree.write('proc/self/mountinfo', `430 27 7:3 / ${dir} rw - ext4 /dev/loop3 rw\n`);
  cmds.on(`umount ${dir}`, { exitCode: 32, stderr: `umount: ${dir}: target is busy.` });
  const err = await fs.unmount(dir, { removeDir: true }).catch((e: unknown) => e);
  assert.match(String(err), /exited with code 32: umount: .*target is busy/);
  assert.match((err as FilesystemError).fix, /fuser -vm/);
  assert.equal(existsSync(dir), true);
});

test('applyOwnership sets fsOwner and fsMode; lost+found goes only when empty', async () => {
  const dir = join(tree.root, 'mnt');
  mkdirSync(join(dir, 'lost+found'), { recursive: true });
  await fs.applyOwnership(dir, { uid: 1000, gid: 1001 }, '0750');
  const st = statSync(dir);
  assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [1000, 1001, 0o750]);
  await assert.rejects(fs.applyOwnership(dir, null, '0999'), /invalid fsMode "0999"/);
  await fs.removeLostAndFound(dir);
  assert.equal(existsSync(join(dir, 'lost+found')), false);
  mkdirSync(join(dir, 'lost+found'));
  writeFileSync(join(dir, 'lost+found', '#12'), 'recovered');
  await fs.removeLostAndFound(dir);
  assert.equal(existsSync(join(dir, 'lost+found', '#12')), true);
});
