/**
 * The simulator's data path for real: a sparse file attached as a loop device, formatted, mounted, written,
 * unmounted, detached. Needs root and loop devices. Everything lives in one temp folder; the after hook
 * unmounts and detaches whatever a failed assertion left behind.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CommandError, FilesystemError, hostFilesystem, parseMountInfo, systemHostEnv, transportFor, type Connection } from '../../src/host/index.js';

const root = mkdtempSync(join(tmpdir(), 'hpe-host-loop-'));
const simulatorRoot = join(root, 'sim');
const env = systemHostEnv({ simulatorRoot });
const loop = transportFor('loop', env);
const fs = hostFilesystem(env);

after(() => {
  const mounted = (): string[] =>
    parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'))
      .map((m) => m.mountPoint)
      .filter((p) => p.startsWith(`${root}/`))
      .reverse();
  for (const dir of mounted()) execFileSync('umount', [dir]);
  const volumes = join(simulatorRoot, 'volumes');
  if (existsSync(volumes)) {
    for (const name of execFileSync('ls', [volumes], { encoding: 'utf8' }).split('\n').filter(Boolean)) {
      const lines = execFileSync('losetup', ['-j', join(volumes, name)], { encoding: 'utf8' });
      for (const device of lines.split('\n').map((l) => /^(\/dev\/loop\d+):/.exec(l)?.[1]).filter(Boolean)) execFileSync('losetup', ['-d', device!]);
    }
  }
  if (mounted().length === 0) rmSync(root, { recursive: true, force: true });
});

const MiB = 1024 * 1024;

function volume(name: string, sizeMiB: number): Connection {
  mkdirSync(join(simulatorRoot, 'volumes'), { recursive: true });
  const file = join(simulatorRoot, 'volumes', `${name}.img`);
  writeFileSync(file, '');
  truncateSync(file, sizeMiB * MiB);
  return {
    transport: 'iscsi',
    wwn: '60002AC0000000000000000A00019D4A',
    lun: 0,
    targets: [{ portal: '127.0.0.1:3260', iqn: 'iqn.2000-05.com.3pardata:sim' }],
    simulatorVolumeFile: `volumes/${name}.img`,
  };
}

function loopDevicesOf(file: string): string {
  return execFileSync('losetup', ['-j', file], { encoding: 'utf8' }).trim();
}

async function roundTrip(name: string, fsType: 'ext4' | 'xfs', sizeMiB: number): Promise<void> {
  const conn = volume(name, sizeMiB);
  const dir = join(root, 'data', name);
  const att = await loop.attach(conn);
  assert.match(att.device, /^\/dev\/loop\d+$/);
  assert.deepEqual(await loop.attach(conn), att, 'a second attach reuses the loop device');

  assert.deepEqual(await fs.formatIfEmpty(att.device, fsType), { formatted: true, fsType });
  assert.deepEqual(await fs.probe(att.device), { empty: false, type: fsType, usage: 'filesystem' });
  await fs.mount(att.device, dir, { fsType });
  await fs.mount(att.device, dir, { fsType });
  assert.equal(await fs.isMounted(dir), true);
  await fs.removeLostAndFound(dir);
  await fs.applyOwnership(dir, { uid: 1000, gid: 1000 }, '0750');
  writeFileSync(join(dir, 'hello.txt'), `kept on ${fsType}`);
  await fs.unmount(dir);
  assert.equal(await fs.isMounted(dir), false);

  assert.deepEqual(await fs.formatIfEmpty(att.device, fsType), { formatted: false, fsType }, 'a second formatIfEmpty keeps the filesystem');
  await fs.mount(att.device, dir, { fsType });
  assert.equal(readFileSync(join(dir, 'hello.txt'), 'utf8'), `kept on ${fsType}`);
  const st = statSync(dir);
  assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [1000, 1000, 0o750]);
  assert.equal(existsSync(join(dir, 'lost+found')), false);
  await fs.unmount(dir, { removeDir: true });
  assert.equal(existsSync(dir), false);

  await loop.detach(att);
  assert.equal(loopDevicesOf(att.file!), '');
  await loop.detach(att);
}

test('loop + ext4: attach, format, mount, write, unmount, reformat refused, data survives, detach', async () => {
  await roundTrip('vol-ext4', 'ext4', 64);
});

test('loop + xfs: the same round trip', async (t) => {
  const hasXfs = await env.runner.run(['mkfs.xfs', '-V']).then(
    () => true,
    (e: unknown) => (e instanceof CommandError && e.notFound ? false : Promise.reject(e)),
  );
  if (!hasXfs) {
    t.skip('mkfs.xfs is not installed here (package xfsprogs); the xfs round trip needs it');
    return;
  }
  await roundTrip('vol-xfs', 'xfs', 512);
});

test('formatIfEmpty never formats a device with another signature (a swap area here)', async () => {
  const conn = volume('vol-swap', 16);
  const att = await loop.attach(conn);
  try {
    execFileSync('mkswap', [att.device], { stdio: 'ignore' });
    const err = await fs.formatIfEmpty(att.device, 'ext4').catch((e: unknown) => e);
    assert.ok(err instanceof FilesystemError);
    assert.match(err.message, /holds a swap signature \(other\), not a filesystem; it is left untouched/);
    assert.deepEqual(await fs.probe(att.device), { empty: false, type: 'swap', usage: 'other' });
  } finally {
    await loop.detach(att);
  }
  assert.equal(loopDevicesOf(att.file!), '');
});
