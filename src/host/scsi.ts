/**
 * The SCSI part shared by iSCSI and FC: find a LUN by its WWN (udev's /dev/disk/by-id links, the kernel's
 * sysfs `wwid`), prefer the multipath map when multipathd runs, and release a LUN (flush the map, delete each
 * path device). Paths and names are checked against the WWN before anything is deleted, because an attachment
 * read back after a crash may name an `sdX` the kernel has since given to another LUN.
 */
import { readdir, readFile, realpath, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { retry, systemClock } from '../clock.js';
import { AttachError, CommandError } from './errors.js';
import { defaultHostTimeouts, type Attachment, type HostEnv, type HostTimeouts } from './types.js';

/** The WWN as udev and sysfs spell it: lower-case hex without `0x`. */
export function normaliseWwn(wwn: string): string {
  const w = wwn.trim().toLowerCase().replace(/^0x/, '');
  if (!/^[0-9a-f]{16}$|^[0-9a-f]{32}$/.test(w)) {
    throw new AttachError(`invalid volume WWN "${wwn}"`, 'the array reports WWNs as 16 or 32 hex digits; check the volume with the WSAPI (GET /volumes/<name>)');
  }
  return w;
}

export function timeoutsOf(env: HostEnv): HostTimeouts {
  return { ...defaultHostTimeouts, ...env.timeouts };
}

/** Looks with `look` until it finds something or `timeoutMs` has passed (then `undefined`); sleeps on the env's clock. */
export async function pollFor<T>(
  env: HostEnv,
  timeoutMs: number,
  look: (elapsedMs: number) => Promise<T | undefined>,
  signal?: AbortSignal,
): Promise<T | undefined> {
  const clock = env.clock ?? systemClock;
  const { pollMs } = timeoutsOf(env);
  const start = clock.now();
  for (;;) {
    signal?.throwIfAborted();
    const elapsed = clock.now() - start;
    const found = await look(elapsed);
    if (found !== undefined) return found;
    if (elapsed >= timeoutMs) return undefined;
    await clock.sleep(Math.min(pollMs, timeoutMs - elapsed), signal);
  }
}

/** Whether multipathd answers on its socket. Not installed or not running: false. */
export async function multipathdRunning(env: HostEnv, signal?: AbortSignal): Promise<boolean> {
  try {
    const out = await env.runner.run(['multipathd', 'show', 'status'], { timeoutMs: 10_000, signal });
    return !/error|refused|can't|cannot/i.test(out.stdout);
  } catch (err) {
    if (err instanceof CommandError) return false;
    throw err;
  }
}

/** What to mount for a LUN, and what makes it up. */
export interface LocatedLun {
  device: string;
  paths: string[];
  multipath?: string;
}

export interface LunWait {
  wwn: string;
  multipath: boolean;
  /** Names the transport and where the LUN should come from, for the error when it never appears. */
  describe: string;
  /** Runs before each look, e.g. to rescan; gets the ms waited so far. */
  beforeLook?: (elapsedMs: number) => Promise<void>;
  signal?: AbortSignal;
}

const SESSIONS_FIX = 'check the sessions and paths on this host with `iscsiadm -m session` (iSCSI), `ls /dev/disk/by-id`, `multipath -ll` and `dmesg`, and that the array exports the volume to this host (its VLUNs)';

/** Waits (bounded) for the LUN's SCSI device, then for its multipath map when multipathd runs. */
export async function waitForLun(env: HostEnv, wait: LunWait): Promise<LocatedLun> {
  const timeouts = timeoutsOf(env);
  const path = await pollFor(
    env,
    timeouts.deviceMs,
    async (elapsed) => {
      await wait.beforeLook?.(elapsed);
      return findByIdLink(env, [`wwn-0x${wait.wwn}`, `scsi-3${wait.wwn}`]);
    },
    wait.signal,
  );
  if (path === undefined) {
    throw new AttachError(
      `the volume with WWN ${wait.wwn} did not appear on this host within ${Math.round(timeouts.deviceMs / 1000)} s (${wait.describe})`,
      SESSIONS_FIX,
      { retryable: true },
    );
  }
  if (wait.multipath) {
    const map = await pollFor(env, timeouts.multipathMs, () => findMultipathMap(env, wait.wwn), wait.signal);
    if (map === undefined) {
      throw new AttachError(
        `multipathd runs but made no multipath map for WWN ${wait.wwn} within ${Math.round(timeouts.multipathMs / 1000)} s (${wait.describe})`,
        `run \`multipath -ll\` and \`multipathd show paths\`; check that /etc/multipath.conf does not blacklist the array's volumes (vendor 3PARdata) and that find_multipaths lets a new WWN be mapped`,
        { retryable: true },
      );
    }
    return { device: map.device, multipath: map.name, paths: union(map.slaves, await scsiPathsOf(env, wait.wwn)) };
  }
  return { device: path, paths: union(isScsiDisk(basename(path)) ? [basename(path)] : [], await scsiPathsOf(env, wait.wwn)) };
}

/** Flushes the multipath map, then deletes every SCSI path device of the WWN; returns the names deleted. Already gone: nothing to do. */
export async function releaseLun(env: HostEnv, att: Pick<Attachment, 'wwn' | 'paths' | 'multipath'>): Promise<string[]> {
  const wwn = normaliseWwn(att.wwn);
  if (att.multipath !== undefined && (await findDmByName(env, checkedDmName(att.multipath))) !== undefined) {
    const name = att.multipath;
    await retry(
      () =>
        env.runner.run(['multipath', '-f', name], {
          fix: `something still holds ${name}: unmount it (\`findmnt /dev/mapper/${name}\`), check \`dmsetup info ${name}\` for its open count, then retry`,
        }),
      { attempts: 3, delay: 1000, clock: env.clock ?? systemClock },
    );
  }
  const stored = att.paths.map(checkedPathName);
  const deleted: string[] = [];
  for (const name of union(stored, await scsiPathsOf(env, wwn))) {
    if ((await wwidOf(env, name)) !== `naa.${wwn}`) continue;
    await writeFile(join(env.sysRoot, 'block', name, 'device', 'delete'), '1');
    deleted.push(name);
  }
  return deleted;
}

/** The `sdX` devices whose SCSI wwid is this WWN (every path, whatever udev has linked yet). */
export async function scsiPathsOf(env: HostEnv, wwn: string): Promise<string[]> {
  const names = (await readdirOrEmpty(join(env.sysRoot, 'block'))).filter(isScsiDisk);
  const matches: string[] = [];
  for (const name of names) if ((await wwidOf(env, name)) === `naa.${wwn}`) matches.push(name);
  return matches.sort();
}

async function wwidOf(env: HostEnv, name: string): Promise<string | undefined> {
  try {
    return (await readFile(join(env.sysRoot, 'block', name, 'device', 'wwid'), 'utf8')).trim().toLowerCase();
  } catch {
    return undefined;
  }
}

/** The device to mount for a LUN that is present now (its multipath map, else its SCSI disk); undefined if absent. */
export async function locateLun(env: HostEnv, wwn: string): Promise<string | undefined> {
  const w = normaliseWwn(wwn);
  return (await findMultipathMap(env, w))?.device ?? (await findByIdLink(env, [`wwn-0x${w}`, `scsi-3${w}`]));
}

/**
 * The WWNs (normalised) of every LUN with a SCSI disk, a by-id link or a multipath map on this host now: one read
 * of each disk's wwid and one listing of by-id, however many volumes the arrays hold. presentLun() finds nothing
 * for a WWN outside this set.
 */
export async function presentWwns(env: HostEnv): Promise<Set<string>> {
  const out = new Set<string>();
  for (const name of (await readdirOrEmpty(join(env.sysRoot, 'block'))).filter(isScsiDisk)) {
    const id = await wwidOf(env, name);
    if (id?.startsWith('naa.')) out.add(id.slice('naa.'.length));
  }
  for (const link of await readdirOrEmpty(join(env.devRoot, 'disk', 'by-id'))) {
    const m = /^(?:wwn-0x|scsi-3|dm-uuid-mpath-3)([0-9a-f]+)$/i.exec(link);
    if (m !== null) out.add(normaliseWwn(m[1]!));
  }
  return out;
}

/** A LUN present on this host now, as an attachment would name it; undefined if it has no path here. */
export async function presentLun(env: HostEnv, wwn: string): Promise<LocatedLun | undefined> {
  const w = normaliseWwn(wwn);
  const paths = await scsiPathsOf(env, w);
  const map = await findMultipathMap(env, w);
  if (map !== undefined) return { device: map.device, multipath: map.name, paths: union(map.slaves, paths) };
  const device = await findByIdLink(env, [`wwn-0x${w}`, `scsi-3${w}`]);
  if (device === undefined && paths.length === 0) return undefined;
  return { device: device ?? join(env.devRoot, paths[0]!), paths };
}

/** The real device behind the first of `links` that exists under <devRoot>/disk/by-id. */
async function findByIdLink(env: HostEnv, links: string[]): Promise<string | undefined> {
  for (const link of links) {
    try {
      return await realpath(join(env.devRoot, 'disk', 'by-id', link));
    } catch {
      // not (yet) there
    }
  }
  return undefined;
}

async function findMultipathMap(env: HostEnv, wwn: string): Promise<{ device: string; name: string; slaves: string[] } | undefined> {
  const device = await findByIdLink(env, [`dm-uuid-mpath-3${wwn}`]);
  if (device === undefined) return undefined;
  const dm = join(env.sysRoot, 'block', basename(device));
  try {
    const name = (await readFile(join(dm, 'dm', 'name'), 'utf8')).trim();
    return { device, name, slaves: (await readdirOrEmpty(join(dm, 'slaves'))).filter(isScsiDisk) };
  } catch {
    return undefined;
  }
}

async function findDmByName(env: HostEnv, name: string): Promise<string | undefined> {
  for (const dm of (await readdirOrEmpty(join(env.sysRoot, 'block'))).filter((n) => n.startsWith('dm-'))) {
    try {
      if ((await readFile(join(env.sysRoot, 'block', dm, 'dm', 'name'), 'utf8')).trim() === name) return dm;
    } catch {
      // removed while looking
    }
  }
  return undefined;
}

function isScsiDisk(name: string): boolean {
  return /^sd[a-z]+$/.test(name);
}

/** A stored record is input: its names must not lead outside sysfs. */
function checkedPathName(name: string): string {
  if (!isScsiDisk(name)) throw new AttachError(`invalid SCSI path device "${name}" in the attachment`, 'repair the volume record in etcd: paths hold names like sdb');
  return name;
}

function checkedDmName(name: string): string {
  if (!/^[\w.+-]+$/.test(name) || name.startsWith('-') || name.startsWith('.')) {
    throw new AttachError(`invalid multipath map name "${name}" in the attachment`, 'repair the volume record in etcd: multipath holds a device-mapper name like mpatha');
  }
  return name;
}

export async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])].sort();
}
