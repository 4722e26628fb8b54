import { runWithFilePermissions } from '../support/unprivileged.js';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SecretError } from '../../src/errors.js';
import { MaxSecretFileBytes, resolvePlaceholder } from '../../src/secrets/placeholders.js';

const isRoot = process.getuid?.() === 0;

async function rejection(promise: Promise<unknown>): Promise<SecretError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof SecretError, String(err));
    return err;
  }
  assert.fail('expected a SecretError');
}

describe('resolvePlaceholder $env{}', () => {
  it('returns the variable as set', async () => {
    assert.equal(await resolvePlaceholder({ source: 'env', ref: 'PW' }, { PW: ' s3cret\n' }), ' s3cret\n');
  });

  it('names an unset or empty variable', async () => {
    const unset = await rejection(resolvePlaceholder({ source: 'env', ref: 'HPE_PW' }, { OTHER: 'x' }));
    assert.match(unset.message, /environment variable HPE_PW, which is not set/);
    assert.match(unset.fix, /HPE_PW/);
    const empty = await rejection(resolvePlaceholder({ source: 'env', ref: 'HPE_PW' }, { HPE_PW: '' }));
    assert.match(empty.message, /HPE_PW, which is empty/);
  });
});

describe('resolvePlaceholder $file{}', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hpe-placeholder-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function fileWith(name: string, content: string | Buffer): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, content, { mode: 0o600 });
    return path;
  }

  it('strips exactly one trailing newline', async () => {
    const cases: [string, string][] = [
      ['pw', 'pw'],
      ['pw\n', 'pw'],
      ['pw\r\n', 'pw'],
      ['pw\n\n', 'pw\n'],
      [' pw \t\n', ' pw \t'],
    ];
    for (const [i, [content, expected]] of cases.entries()) {
      assert.equal(await resolvePlaceholder({ source: 'file', ref: await fileWith(`f${i}`, content) }, {}), expected);
    }
  });

  it('refuses a relative path', async () => {
    const err = await rejection(resolvePlaceholder({ source: 'file', ref: 'secrets/pw' }, {}));
    assert.match(err.message, /secrets\/pw, which is not an absolute path/);
  });

  it('names a missing file with ENOENT and a fix', async () => {
    const path = join(dir, 'missing');
    const err = await rejection(resolvePlaceholder({ source: 'file', ref: path }, {}));
    assert.equal(err.message, `names file ${path}, which does not exist (ENOENT)`);
    assert.match(err.fix, /create/);
  });

  it('names an unreadable file with EACCES', async () => {
    const path = await fileWith('unreadable', 'top-secret');
    await chmod(path, 0o000);
    let message: string;
    if (isRoot) {
      // Root reads any file, so the read runs without root's power to bypass file permissions.
      await chmod(dir, 0o755);
      try {
        message = runWithFilePermissions(
          `const { resolvePlaceholder } = await import(${JSON.stringify(new URL('../../src/secrets/placeholders.js', import.meta.url).href)});\n` +
            `try { await resolvePlaceholder({ source: 'file', ref: ${JSON.stringify(path)} }, {}); console.log('read'); }\n` +
            `catch (err) { console.log(err.constructor.name + ': ' + err.message); }`,
        );
      } finally {
        await chmod(dir, 0o700);
      }
    } else {
      message = `SecretError: ${(await rejection(resolvePlaceholder({ source: 'file', ref: path }, {}))).message}`;
    }
    assert.equal(message, `SecretError: names file ${path}, which cannot be read (permission denied) (EACCES)`);
  });

  it('refuses a directory, an empty file, a too large file and non-UTF-8 content, never quoting it', async () => {
    assert.match((await rejection(resolvePlaceholder({ source: 'file', ref: dir }, {}))).message, /not a regular file/);
    for (const content of ['', '\n', '\r\n']) {
      const err = await rejection(resolvePlaceholder({ source: 'file', ref: await fileWith('empty', content) }, {}));
      assert.match(err.message, /which is empty$/);
    }
    const big = await fileWith('big', 'top-secret'.repeat(MaxSecretFileBytes));
    const bigErr = await rejection(resolvePlaceholder({ source: 'file', ref: big }, {}));
    assert.match(bigErr.message, /larger than 64 KiB/);
    assert.ok(!bigErr.message.includes('top-secret'));
    const binary = await fileWith('binary', Buffer.from([0x74, 0x6f, 0x70, 0xff, 0xfe]));
    assert.match((await rejection(resolvePlaceholder({ source: 'file', ref: binary }, {}))).message, /not UTF-8 text/);
  });

  it('refuses a device that never ends', async () => {
    assert.match((await rejection(resolvePlaceholder({ source: 'file', ref: '/dev/zero' }, {}))).message, /not a regular file/);
  });
});

