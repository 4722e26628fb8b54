import assert from 'node:assert/strict';
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FileWriteError } from '../../src/errors.js';
import { writeFileAtomic, writeFileAtomicSync } from '../../src/files.js';
import { runWithFilePermissions } from '../support/unprivileged.js';

const isRoot = process.getuid?.() === 0;

describe('writeFileAtomic', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hpe-edit-'));
  });
  after(async () => {
    await chmod(dir, 0o700).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  async function freshDir(name: string): Promise<string> {
    const d = join(dir, name);
    await mkdir(d);
    return d;
  }

  it('replaces the content, keeps mode 0600 and leaves no temp file', async () => {
    const d = await freshDir('mode600');
    const path = join(d, 'hpe.conf');
    await writeFile(path, 'old\r\n', { mode: 0o600 });
    await chmod(path, 0o600);
    await writeFileAtomic(path, 'new\r\ncontent ☃\r\n');
    assert.equal(await readFile(path, 'utf8'), 'new\r\ncontent ☃\r\n');
    assert.equal((await stat(path)).mode & 0o7777, 0o600);
    assert.deepEqual(await readdir(d), ['hpe.conf']);
  });

  it('keeps another mode despite the umask', async () => {
    const d = await freshDir('mode640');
    const path = join(d, 'hpe.conf');
    await writeFile(path, 'old');
    await chmod(path, 0o640);
    const previous = process.umask(0o077);
    try {
      await writeFileAtomic(path, 'new');
    } finally {
      process.umask(previous);
    }
    assert.equal((await stat(path)).mode & 0o7777, 0o640);
  });

  it('keeps the owner when running as root', { skip: isRoot ? false : 'needs root to chown' }, async () => {
    const d = await freshDir('owner');
    const path = join(d, 'hpe.conf');
    await writeFile(path, 'old');
    await chown(path, 1234, 2345);
    await writeFileAtomic(path, 'new');
    const s = await stat(path);
    assert.deepEqual([s.uid, s.gid], [1234, 2345]);
  });

  it('creates a missing file with mode 0600', async () => {
    const d = await freshDir('create');
    const path = join(d, 'hpe.conf');
    await writeFileAtomic(path, 'text');
    assert.equal(await readFile(path, 'utf8'), 'text');
    assert.equal((await stat(path)).mode & 0o7777, 0o600);
  });

  it('sets a given mode on an existing file', async () => {
    const d = await freshDir('setmode');
    const path = join(d, 'report.json');
    await writeFile(path, 'old');
    await chmod(path, 0o644);
    await writeFileAtomic(path, 'new', { mode: 0o600 });
    assert.equal((await stat(path)).mode & 0o7777, 0o600);
  });

  it('the sync variant replaces the content, keeps the mode and leaves no temp file', async () => {
    const d = await freshDir('sync');
    const path = join(d, 'state.json');
    writeFileAtomicSync(path, '{"a":1}');
    assert.equal((await stat(path)).mode & 0o7777, 0o600);
    await chmod(path, 0o640);
    writeFileAtomicSync(path, '{"a":2}');
    assert.equal(await readFile(path, 'utf8'), '{"a":2}');
    assert.equal((await stat(path)).mode & 0o7777, 0o640);
    assert.deepEqual(await readdir(d), ['state.json']);
    writeFileAtomicSync(path, '{"a":3}', { flush: false });
    assert.equal(await readFile(path, 'utf8'), '{"a":3}', 'without fsync: the same atomic replacement');
    assert.deepEqual(await readdir(d), ['state.json']);
    await writeFileAtomic(path, '{"a":4}', { flush: false });
    assert.equal(await readFile(path, 'utf8'), '{"a":4}', 'the async writer takes the same option');
    assert.deepEqual(await readdir(d), ['state.json']);
    assert.throws(() => writeFileAtomicSync(join(d, 'no-such-dir', 'state.json'), 'x'), (err: unknown) => err instanceof FileWriteError && err.code === 'ENOENT');
  });

  it('writes through a symlink and keeps the link', async () => {
    const d = await freshDir('link');
    const real = join(d, 'real.conf');
    const link = join(d, 'hpe.conf');
    await writeFile(real, 'old', { mode: 0o600 });
    await symlink(real, link);
    await writeFileAtomic(link, 'new');
    assert.ok((await lstat(link)).isSymbolicLink());
    assert.equal(await readFile(real, 'utf8'), 'new');
    assert.deepEqual((await readdir(d)).sort(), ['hpe.conf', 'real.conf']);
  });

  it('fails with a FileWriteError and leaves no temp file when the target is a directory', async () => {
    const d = await freshDir('isdir');
    const path = join(d, 'hpe.conf');
    await mkdir(path);
    await writeFile(join(path, 'inside'), 'keep');
    await assert.rejects(writeFileAtomic(path, 'new'), (err: unknown) => err instanceof FileWriteError && /cannot write .*hpe\.conf \(E[A-Z]+\); it was left unchanged/.test(err.message));
    assert.deepEqual(await readdir(d), ['hpe.conf']);
    assert.deepEqual(await readdir(path), ['inside']);
  });

  it('fails with a FileWriteError when the directory does not exist', async () => {
    await assert.rejects(writeFileAtomic(join(dir, 'no-such-dir', 'hpe.conf'), 'x'), (err: unknown) => err instanceof FileWriteError && /ENOENT/.test(err.message));
  });

  it('leaves the original untouched when the directory is not writable', async () => {
    const d = await freshDir('readonly');
    const path = join(d, 'hpe.conf');
    await writeFile(path, 'old', { mode: 0o600 });
    await chmod(d, 0o555);
    try {
      if (isRoot) {
        // Root writes any directory, so the write runs without root's power to bypass file permissions.
        await chmod(dir, 0o755);
        const outcome = runWithFilePermissions(
          `const { writeFileAtomic } = await import(${JSON.stringify(new URL('../../src/files.js', import.meta.url).href)});\n` +
            `try { await writeFileAtomic(${JSON.stringify(path)}, 'new'); console.log('written'); }\n` +
            `catch (err) { console.log(err.constructor.name + ': ' + err.message); }`,
        );
        assert.match(outcome, /^FileWriteError: cannot write .*hpe\.conf \(EACCES\); it was left unchanged/);
      } else {
        await assert.rejects(writeFileAtomic(path, 'new'), (err: unknown) => err instanceof FileWriteError && /EACCES/.test(err.message));
      }
    } finally {
      await chmod(d, 0o700);
      await chmod(dir, 0o700);
    }
    assert.equal(await readFile(path, 'utf8'), 'old');
    assert.deepEqual(await readdir(d), ['hpe.conf']);
  });
});

