/**
 * The filesystem on an attached device: probe, make (only on an empty device), mount, unmount, and the first-mount
 * preparation (fsOwner, fsMode, lost+found). Formatting is reachable only through `formatIfEmpty`, which probes
 * first and never writes to a device that holds a filesystem or any other signature (partition table, LVM, LUKS).
 */
import { constants } from 'node:fs';
import { chmod, chown, mkdir, open, readFile, realpath, rmdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { FilesystemError } from './errors.js';
import { mountAt, parseMountInfo, type MountEntry } from './mountinfo.js';
import type { HostEnv } from './types.js';

export const FsTypes = ['ext4', 'xfs'] as const;
export type FsType = (typeof FsTypes)[number];

/** What `blkid -p` found: nothing, or the first signature's TYPE (or PTTYPE) and USAGE (`filesystem`, `raid`, `crypto`, `other`). */
export type Probe = { empty: true } | { empty: false; type: string; usage?: string };

export interface FormatResult {
  /** False when the device already held a filesystem, which was kept. */
  formatted: boolean;
  /** The type now on the device: the one made, or the one found. */
  fsType: string;
}

export interface MountOptions {
  fsType: string;
  readOnly?: boolean;
}

export interface Filesystem {
  probe(device: string, signal?: AbortSignal): Promise<Probe>;
  /** Makes an `fsType` filesystem only when the probe finds nothing; keeps a filesystem found; refuses any other signature. */
  formatIfEmpty(device: string, fsType: string, signal?: AbortSignal): Promise<FormatResult>;
  /** `mkdir -p dir`, then mounts; the same device already mounted there is success. */
  mount(device: string, dir: string, options: MountOptions): Promise<void>;
  /** Unmounts when mounted; `removeDir` then removes the directory if it is empty. */
  unmount(dir: string, options?: { removeDir?: boolean }): Promise<void>;
  isMounted(dir: string): Promise<boolean>;
  /**
   * Whether a filesystem on the device is mounted anywhere on this host, in any mount namespace (a container's
   * too), or something else holds it exclusively: the kernel then refuses an exclusive open (EBUSY).
   */
  inUse(device: string): Promise<boolean>;
  listMounts(): Promise<MountEntry[]>;
  /** fsOwner (`{uid,gid}`) and fsMode (octal text such as `0755`) on the filesystem's root directory; `null` leaves it. */
  applyOwnership(dir: string, owner: { uid: number; gid: number } | null, mode: string | null): Promise<void>;
  /** Removes `lost+found` after a new filesystem's first mount, as upstream did; kept when it holds anything (fsck's finds). */
  removeLostAndFound(dir: string): Promise<void>;
}

/** blkid's exit codes: 2 nothing found, 8 several signatures disagree (ambivalent). */
const BLKID_NOTHING = 2;
const BLKID_AMBIVALENT = 8;

const mkfsArgv: Readonly<Record<FsType, (device: string) => string[]>> = {
  // -F: mke2fs otherwise asks before writing to a whole disk; safe only because the probe found it empty.
  ext4: (device) => ['mkfs.ext4', '-q', '-F', device],
  xfs: (device) => ['mkfs.xfs', '-q', device],
};

export function hostFilesystem(env: HostEnv): Filesystem {
  const fs: Filesystem = {
    async probe(device, signal) {
      await requireBlockDevice(device);
      const out = await env.runner.run(['blkid', '-p', '-o', 'export', device], { okExitCodes: [BLKID_NOTHING, BLKID_AMBIVALENT], signal });
      if (out.exitCode === BLKID_NOTHING) return { empty: true };
      if (out.exitCode === BLKID_AMBIVALENT) return { empty: false, type: 'ambivalent (several signatures)' };
      return probeFromBlkid(out.stdout);
    },

    async formatIfEmpty(device, fsType, signal) {
      if (!isFsType(fsType)) {
        throw new FilesystemError(`filesystem type "${fsType}" is not supported`, `choose one of ${FsTypes.join(', ')}`);
      }
      const found = await fs.probe(device, signal);
      if (!found.empty) {
        if (found.usage === 'filesystem') return { formatted: false, fsType: found.type };
        throw new FilesystemError(
          `${device} holds a ${found.type} signature${found.usage === undefined ? '' : ` (${found.usage})`}, not a filesystem; it is left untouched`,
          `inspect it with \`blkid -p ${device}\` and \`wipefs ${device}\`; wipe it yourself only if its data is not needed`,
        );
      }
      await env.runner.run(mkfsArgv[fsType](device), { signal, timeoutMs: 600_000 });
      return { formatted: true, fsType };
    },

    async mount(device, dir, { fsType, readOnly = false }) {
      if (!/^[a-z0-9_.]+$/.test(fsType)) throw new FilesystemError(`invalid filesystem type "${fsType}"`, 'give a type such as ext4 or xfs');
      await mkdir(dir, { recursive: true });
      const target = await canonical(dir);
      const current = mountAt(await fs.listMounts(), target);
      if (current !== undefined) {
        if (current.majorMinor === (await majorMinorOf(device))) return;
        throw new FilesystemError(`${target} already has ${current.source} (${current.fsType}) mounted, not ${device}`, `unmount it (\`umount ${target}\`) if nothing uses it`);
      }
      const options = mountOptions(fsType, readOnly);
      await env.runner.run(['mount', '-t', fsType, ...(options.length > 0 ? ['-o', options.join(',')] : []), device, target], {
        fix: `see \`dmesg | tail\` for the kernel's reason, and \`blkid -p ${device}\` for what the device holds`,
      });
    },

    async unmount(dir, options = {}) {
      const target = await canonical(dir);
      if (await fs.isMounted(target)) {
        await env.runner.run(['umount', target], { fix: `a process still uses files under ${target}: find it with \`fuser -vm ${target}\`` });
      }
      if (options.removeDir === true) await removeEmptyDir(target);
    },

    async isMounted(dir) {
      return mountAt(await fs.listMounts(), await canonical(dir)) !== undefined;
    },

    async inUse(device) {
      await requireBlockDevice(device);
      try {
        await (await open(device, constants.O_RDONLY | constants.O_EXCL)).close();
        return false;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EBUSY') return true;
        throw err;
      }
    },

    async listMounts() {
      return parseMountInfo(await readFile(join(env.procRoot, 'self', 'mountinfo'), 'utf8'));
    },

    async applyOwnership(dir, owner, mode) {
      if (owner !== null) await chown(dir, owner.uid, owner.gid);
      if (mode !== null) {
        if (!/^0?[0-7]{1,4}$/.test(mode)) throw new FilesystemError(`invalid fsMode "${mode}"`, 'give the mode as octal digits, e.g. 0755');
        await chmod(dir, parseInt(mode, 8));
      }
    },

    async removeLostAndFound(dir) {
      await removeEmptyDir(join(dir, 'lost+found'));
    },
  };
  return fs;
}

/**
 * Read-only mounts never write, not even a journal replay (a snapshot taken while its parent was mounted needs
 * one): ext4 `noload`, xfs `norecovery`. xfs refuses a second filesystem with the same UUID (a clone or snapshot
 * mounted beside its parent): `nouuid`.
 */
export function mountOptions(fsType: string, readOnly: boolean): string[] {
  const options = readOnly ? ['ro'] : [];
  if (readOnly && fsType === 'ext4') options.push('noload');
  if (readOnly && fsType === 'xfs') options.push('norecovery');
  if (fsType === 'xfs') options.push('nouuid');
  return options;
}

/** `blkid -p -o export` output: KEY=value lines (DEVNAME, UUID, TYPE, USAGE, PTTYPE, ...). */
export function probeFromBlkid(stdout: string): Probe {
  const tags = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) tags.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  const type = tags.get('TYPE');
  if (type !== undefined) return { empty: false, type, ...(tags.has('USAGE') ? { usage: tags.get('USAGE')! } : {}) };
  const pt = tags.get('PTTYPE');
  if (pt !== undefined) return { empty: false, type: `${pt} partition table`, usage: 'partition table' };
  // blkid said it found something (exit 0) without naming it: treat as occupied, never as empty.
  return { empty: false, type: 'unknown signature' };
}

function isFsType(t: string): t is FsType {
  return (FsTypes as readonly string[]).includes(t);
}

async function requireBlockDevice(device: string): Promise<void> {
  let isBlock = false;
  try {
    isBlock = (await stat(device)).isBlockDevice();
  } catch {
    // missing: reported below
  }
  if (!isBlock) throw new FilesystemError(`${device} is not a block device on this host`, 'attach the volume first; check it with `lsblk`');
}

/** `major:minor` as mountinfo writes it, from the device node's rdev (Linux's dev_t layout). */
async function majorMinorOf(device: string): Promise<string> {
  const rdev = (await stat(device, { bigint: true })).rdev;
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & 0xfffff000n);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & 0xffffff00n);
  return `${major}:${minor}`;
}

async function canonical(dir: string): Promise<string> {
  try {
    return await realpath(dir);
  } catch {
    return resolve(dir);
  }
}

async function removeEmptyDir(dir: string): Promise<void> {
  try {
    await rmdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ENOTEMPTY: files written there (or found by fsck) are never deleted here.
    if (code !== 'ENOENT' && code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
  }
}
