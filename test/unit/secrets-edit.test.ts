import { runWithFilePermissions } from '../support/unprivileged.js';
import assert from 'node:assert/strict';
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Span } from '../../src/config/types.js';
import { SecretError } from '../../src/errors.js';
import { applySpanEdits, writeFileAtomic } from '../../src/secrets/edit.js';

const isRoot = process.getuid?.() === 0;

/** The span of the `occurrence`-th `needle` in `text`. */
function spanOf(text: string, needle: string, occurrence = 1): Span {
  let start = -1;
  for (let i = 0; i < occurrence; i++) start = text.indexOf(needle, start + 1);
  assert.ok(start >= 0, `${needle} not found`);
  return { start, end: start + needle.length };
}

describe('applySpanEdits', () => {
  it('replaces values in a CRLF file with comments and tabs, byte for byte', () => {
    const text =
      '# hpe.conf\r\n[DEFAULT]\r\n; comment = pw1\r\nhpe3par_password\t=\tpw1  # trailing\r\n' +
      'san_password = pw2\r\n\r\n[B2]\r\nhpe3par_password=pw1\r\n';
    const edits = [
      { span: spanOf(text, 'pw1', 2), value: 'enc:v1:00000001:AAAA' },
      { span: spanOf(text, 'pw2'), value: 'enc:v1:00000002:BBBBBBBB' },
      { span: spanOf(text, 'pw1', 3), value: 'x' },
    ];
    assert.equal(
      applySpanEdits(text, edits),
      '# hpe.conf\r\n[DEFAULT]\r\n; comment = pw1\r\nhpe3par_password\t=\tenc:v1:00000001:AAAA  # trailing\r\n' +
        'san_password = enc:v1:00000002:BBBBBBBB\r\n\r\n[B2]\r\nhpe3par_password=x\r\n',
    );
  });

  it('replaces a value inside a multi-line replication_device', () => {
    const text =
      '[DEFAULT]\nhpe3par_password = a\nreplication_device = backend_id:tgt,\n' +
      '    replication_mode:synchronous,\n    hpe3par_password:pw-target,\n\tsan_password:pw-san\n' +
      'cpg = FC_r1\n';
    const edits = [
      { span: spanOf(text, 'pw-target'), value: 'enc:v1:0000000a:CCCC' },
      { span: spanOf(text, 'pw-san'), value: 'enc:v1:0000000b:DDDD' },
    ];
    assert.equal(
      applySpanEdits(text, edits),
      '[DEFAULT]\nhpe3par_password = a\nreplication_device = backend_id:tgt,\n' +
        '    replication_mode:synchronous,\n    hpe3par_password:enc:v1:0000000a:CCCC,\n\tsan_password:enc:v1:0000000b:DDDD\n' +
        'cpg = FC_r1\n',
    );
  });

  it('keeps non-ASCII text around the edits', () => {
    const text = '# Zürich ☃\r\nhpe3par_password = pw\r\n# 日本\r\n';
    assert.equal(applySpanEdits(text, [{ span: spanOf(text, 'pw'), value: 'neu' }]), '# Zürich ☃\r\nhpe3par_password = neu\r\n# 日本\r\n');
  });

  it('changes nothing without edits, and accepts adjacent spans and edits at the ends', () => {
    const text = 'abcdef';
    assert.equal(applySpanEdits(text, []), text);
    assert.equal(
      applySpanEdits(text, [
        { span: { start: 2, end: 4 }, value: 'X' },
        { span: { start: 0, end: 2 }, value: 'YY' },
        { span: { start: 4, end: 6 }, value: '' },
      ]),
      'YYX',
    );
  });

  it('refuses overlapping or out-of-range spans and line breaks in values', () => {
    const text = 'abcdef';
    assert.throws(() => applySpanEdits(text, [{ span: { start: 0, end: 3 }, value: 'x' }, { span: { start: 2, end: 4 }, value: 'y' }]), RangeError);
    assert.throws(() => applySpanEdits(text, [{ span: { start: 1, end: 1 }, value: 'x' }, { span: { start: 1, end: 1 }, value: 'y' }]), RangeError);
    assert.throws(() => applySpanEdits(text, [{ span: { start: 4, end: 7 }, value: 'x' }]), RangeError);
    assert.throws(() => applySpanEdits(text, [{ span: { start: 3, end: 2 }, value: 'x' }]), RangeError);
    assert.throws(() => applySpanEdits(text, [{ span: { start: -1, end: 2 }, value: 'x' }]), RangeError);
    assert.throws(() => applySpanEdits(text, [{ span: { start: 0, end: 1 }, value: 'a\nb' }]), RangeError);
  });
});

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

  it('fails with a SecretError and leaves no temp file when the target is a directory', async () => {
    const d = await freshDir('isdir');
    const path = join(d, 'hpe.conf');
    await mkdir(path);
    await writeFile(join(path, 'inside'), 'keep');
    await assert.rejects(writeFileAtomic(path, 'new'), (err: unknown) => err instanceof SecretError && /cannot write .*hpe\.conf \(E[A-Z]+\); it was left unchanged/.test(err.message));
    assert.deepEqual(await readdir(d), ['hpe.conf']);
    assert.deepEqual(await readdir(path), ['inside']);
  });

  it('fails with a SecretError when the directory does not exist', async () => {
    await assert.rejects(writeFileAtomic(join(dir, 'no-such-dir', 'hpe.conf'), 'x'), (err: unknown) => err instanceof SecretError && /ENOENT/.test(err.message));
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
          `const { writeFileAtomic } = await import(${JSON.stringify(new URL('../../src/secrets/edit.js', import.meta.url).href)});\n` +
            `try { await writeFileAtomic(${JSON.stringify(path)}, 'new'); console.log('written'); }\n` +
            `catch (err) { console.log(err.constructor.name + ': ' + err.message); }`,
        );
        assert.match(outcome, /^SecretError: cannot write .*hpe\.conf \(EACCES\); it was left unchanged/);
      } else {
        await assert.rejects(writeFileAtomic(path, 'new'), (err: unknown) => err instanceof SecretError && /EACCES/.test(err.message));
      }
    } finally {
      await chmod(d, 0o700);
      await chmod(dir, 0o700);
    }
    assert.equal(await readFile(path, 'utf8'), 'old');
    assert.deepEqual(await readdir(d), ['hpe.conf']);
  });
});

