/**
 * Each volume is backed by a sparse file `<stateDir>/volumes/<name>.img` of the volume's size, so a host-side
 * test can attach it (loop device) and put a filesystem on it. Snapshots, physical copies and remote copy copy the data
 * with `cp --sparse=always` (holes stay holes); where that cp is missing, a JS copy that skips zero blocks.
 */
import { execFile } from 'node:child_process';
import { closeSync, ftruncateSync, mkdirSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, join, posix, resolve } from 'node:path';

const MiB = 1024 * 1024;

export class VolumeFiles {
  readonly dir: string;

  constructor(stateDir: string) {
    this.dir = join(stateDir, 'volumes');
    mkdirSync(this.dir, { recursive: true });
  }

  path(name: string): string {
    return join(this.dir, `${name}.img`);
  }

  /**
   * The simulator's own pointer to a volume's file (`simulatorVolumeFile`), relative to the folder that holds the
   * state folder: `<basename(stateDir)>/volumes/<name>.img`. A host mounts that parent folder once (several
   * simulators' state folders may sit side by side in it) and finds every exported volume's file below it.
   */
  relativePath(name: string): string {
    return posix.join(basename(resolve(this.dir, '..')), 'volumes', `${name}.img`);
  }

  /** Creates (or resets) the file as a hole of `sizeMiB`. Throws EFBIG where the filesystem cannot hold it. */
  create(name: string, sizeMiB: number): void {
    const fd = openSync(this.path(name), 'w', 0o600);
    try {
      ftruncateSync(fd, sizeMiB * MiB);
    } catch (err) {
      closeSync(fd);
      rmSync(this.path(name), { force: true });
      throw err;
    }
    closeSync(fd);
  }

  /** Grows the file (new bytes are a hole); creates it when it went missing. */
  resize(name: string, sizeMiB: number): void {
    const fd = openSync(this.path(name), 'a', 0o600);
    try {
      ftruncateSync(fd, sizeMiB * MiB);
    } finally {
      closeSync(fd);
    }
  }

  remove(name: string): void {
    rmSync(this.path(name), { force: true });
  }

  rename(from: string, to: string): void {
    try {
      renameSync(this.path(from), this.path(to));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  /** Bytes the file really occupies (thin volumes' used space). */
  allocatedMiB(name: string): number {
    try {
      return Math.ceil((statSync(this.path(name)).blocks * 512) / MiB);
    } catch {
      return 0;
    }
  }

  /** Copies the data of `from` into `to`, then sets `to` to `sizeMiB`. */
  async copy(from: string, to: string, sizeMiB: number, signal?: AbortSignal): Promise<void> {
    try {
      statSync(this.path(from));
    } catch {
      this.create(to, sizeMiB);
      return;
    }
    await copySparse(this.path(from), this.path(to), signal);
    this.resize(to, sizeMiB);
  }

  /**
   * The absolute path of a `simulatorVolumeFile` another simulator named: its state folder sits beside this
   * one's (the same parent folder, as a host that attaches them needs anyway).
   */
  resolveRelative(file: string): string {
    return resolve(this.dir, '..', '..', file);
  }
}

/** Copies a volume file, holes kept as holes. */
export async function copySparse(src: string, dst: string, signal?: AbortSignal): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      execFile('cp', ['--sparse=always', src, dst], { signal }, (err) => (err ? reject(err) : resolve()));
    });
  } catch (err) {
    if (signal?.aborted) throw err;
    await copySkippingZeros(src, dst, signal);
  }
}

async function copySkippingZeros(src: string, dst: string, signal?: AbortSignal): Promise<void> {
  const input = await open(src, 'r');
  const output = await open(dst, 'w', 0o600);
  try {
    const size = (await input.stat()).size;
    const buf = Buffer.alloc(MiB);
    for (let pos = 0; pos < size; pos += MiB) {
      signal?.throwIfAborted();
      const { bytesRead } = await input.read(buf, 0, MiB, pos);
      const chunk = buf.subarray(0, bytesRead);
      if (chunk.some((b) => b !== 0)) await output.write(chunk, 0, bytesRead, pos);
    }
    await output.truncate(size);
  } finally {
    await input.close();
    await output.close();
  }
}
