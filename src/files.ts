/**
 * The one way the project writes a file: so that a crash leaves either the old or the new content, never a mix.
 * A temp file next to the target (same file system, so rename is atomic) with the target's mode and owner, fsynced,
 * renamed over it, then the folder fsynced so the rename itself is durable. A symlinked target is followed, so the
 * link stays a link. The sync variant is for callers that must not yield in between (the simulator's state).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fchownSync, fsyncSync, openSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { FileWriteError } from './errors.js';

export interface AtomicWriteOptions {
  /** The file's mode. Default: an existing file keeps its own; a new one gets 0600. */
  mode?: number;
  /**
   * Whether the data and the rename reach the disk before the call returns (fsync of the file and its folder).
   * Default true. Without it the write is still atomic and survives the process being killed (the kernel holds
   * it), not a machine crash.
   */
  flush?: boolean;
}

interface Target {
  file: string;
  /** The existing file's mode and owner, kept (the owner only when running as root, who alone may set it). */
  existing?: { mode: number; uid: number; gid: number };
}

function errnoCode(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : 'unknown error';
}

function tempPath(file: string): string {
  return join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

function modeOf(target: Target, options: AtomicWriteOptions): number {
  return options.mode ?? target.existing?.mode ?? 0o600;
}

function keepsOwner(target: Target): target is Target & { existing: NonNullable<Target['existing']> } {
  return target.existing !== undefined && process.getuid?.() === 0;
}

function writeFailure(path: string, err: unknown): FileWriteError {
  const code = errnoCode(err);
  const fix =
    code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
      ? `run as root on a host where ${dirname(path)} is writable`
      : `check that ${path} is a regular file in a writable directory with free space`;
  return new FileWriteError(path, code, `cannot write ${path} (${code}); it was left unchanged`, fix, { cause: err });
}

function flushFailure(path: string, dir: string, err: unknown): FileWriteError {
  const code = errnoCode(err);
  return new FileWriteError(
    path,
    code,
    `wrote ${path} but could not flush its directory (${code}); a power loss now may undo the change`,
    `check the file system of ${dir}, then run the command again`,
    { cause: err },
  );
}

/** Some file systems cannot fsync a directory; the rename is done either way. */
function ignorableFlushError(err: unknown): boolean {
  return errnoCode(err) === 'EINVAL';
}

async function resolveTarget(path: string): Promise<Target> {
  try {
    const file = await realpath(path);
    const s = await stat(file);
    return { file, existing: { mode: s.mode & 0o7777, uid: s.uid, gid: s.gid } };
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw writeFailure(path, err);
    return { file: path };
  }
}

async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch (err) {
    if (!ignorableFlushError(err)) throw err;
  } finally {
    await handle.close();
  }
}

/** Replaces (or creates) `path` with `data` atomically and durably; fails with a FileWriteError. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const target = await resolveTarget(path);
  const temp = tempPath(target.file);
  let created = false;
  try {
    const handle = await open(temp, 'wx', 0o600);
    created = true;
    try {
      if (keepsOwner(target)) await handle.chown(target.existing.uid, target.existing.gid);
      // Explicit, because open's mode is reduced by the umask; after chown, which clears setuid/setgid.
      await handle.chmod(modeOf(target, options));
      await handle.writeFile(data);
      if (options.flush !== false) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target.file);
    created = false;
  } catch (err) {
    if (created) await rm(temp, { force: true });
    throw writeFailure(path, err);
  }
  if (options.flush === false) return;
  await fsyncDirectory(dirname(target.file)).catch((err: unknown) => {
    throw flushFailure(path, dirname(target.file), err);
  });
}

function resolveTargetSync(path: string): Target {
  try {
    const file = realpathSync(path);
    const s = statSync(file);
    return { file, existing: { mode: s.mode & 0o7777, uid: s.uid, gid: s.gid } };
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw writeFailure(path, err);
    return { file: path };
  }
}

function fsyncDirectorySync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } catch (err) {
    if (!ignorableFlushError(err)) throw err;
  } finally {
    closeSync(fd);
  }
}

/** writeFileAtomic without yielding to the event loop. */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): void {
  const target = resolveTargetSync(path);
  const temp = tempPath(target.file);
  let created = false;
  try {
    const fd = openSync(temp, 'wx', 0o600);
    created = true;
    try {
      if (keepsOwner(target)) fchownSync(fd, target.existing.uid, target.existing.gid);
      fchmodSync(fd, modeOf(target, options));
      writeFileSync(fd, data);
      if (options.flush !== false) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, target.file);
    created = false;
  } catch (err) {
    if (created) rmSync(temp, { force: true });
    throw writeFailure(path, err);
  }
  if (options.flush === false) return;
  try {
    fsyncDirectorySync(dirname(target.file));
  } catch (err) {
    throw flushFailure(path, dirname(target.file), err);
  }
}
