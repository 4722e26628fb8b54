/**
 * A container image without any registry (for the demo and the tests): Debian's busybox-static `/bin/busybox`
 * plus one symlink per applet, `docker import`ed with `CMD ["/bin/sh"]` and `PATH=/bin` (about 2 MB).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PrerequisiteError } from '../errors.js';

const execFileP = promisify(execFile);
const BUSYBOX = '/bin/busybox';

export interface BusyboxImport {
  /** A folder for the image's files; a temp folder inside it is made and removed. */
  workDir: string;
  tag: string;
  /** Runs the docker CLI (with the caller's DOCKER_HOST); rejects when it fails. */
  docker(args: string[]): Promise<unknown>;
}

/** Imports the image and resolves to its tag. */
export async function importBusyboxImage(o: BusyboxImport): Promise<string> {
  if (!existsSync(BUSYBOX)) throw new PrerequisiteError('busybox', `${BUSYBOX} is missing`, 'run `make deps` (it installs the Debian package busybox-static)');
  const ldd = await execFileP('ldd', [BUSYBOX]).then((r) => r.stdout + r.stderr, (e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ''}${e.stderr ?? ''}`);
  if (!/not a dynamic executable|statically linked/.test(ldd)) {
    throw new PrerequisiteError('busybox', `${BUSYBOX} is dynamically linked (Debian package busybox)`, 'install busybox-static instead: `apt-get install busybox-static`');
  }
  await mkdir(o.workDir, { recursive: true });
  const work = await mkdtemp(join(o.workDir, 'busybox-'));
  try {
    const root = join(work, 'rootfs');
    for (const d of ['bin', 'tmp', 'etc', 'data']) await mkdir(join(root, d), { recursive: true });
    await chmod(join(root, 'tmp'), 0o1777);
    await copyFile(BUSYBOX, join(root, 'bin', 'busybox'));
    const { stdout } = await execFileP(BUSYBOX, ['--list'], { timeout: 10_000 });
    for (const applet of stdout.split('\n').map((s) => s.trim())) {
      if (applet && applet !== 'busybox' && !applet.includes('/')) await symlink('busybox', join(root, 'bin', applet)).catch(() => undefined);
    }
    const tar = join(work, 'busybox.tar');
    await execFileP('tar', ['-C', root, '-cf', tar, '.'], { timeout: 30_000 });
    await o.docker(['import', '-c', 'CMD ["/bin/sh"]', '-c', 'ENV PATH=/bin', tar, o.tag]);
    return o.tag;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
