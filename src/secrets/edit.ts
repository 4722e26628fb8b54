import { randomBytes } from 'node:crypto';
import { open, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Span } from '../config/types.js';
import { SecretError } from '../errors.js';

/*
 * In-place edits of hpe.conf. Written by hand because no INI library writes a file back byte for
 * byte: comments, CRLF line ends, tabs and the layout of `replication_device` must survive.
 */

export interface SpanEdit {
  span: Span;
  value: string;
}

function checkSpan(span: Span, length: number): void {
  const { start, end } = span;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || start > end || end > length) {
    throw new RangeError(`span ${start}..${end} is not inside a text of ${length} characters`);
  }
}

/** Replaces each span with its value; every byte outside the spans is kept. Spans must not overlap. */
export function applySpanEdits(text: string, edits: readonly SpanEdit[]): string {
  const ordered = [...edits].sort((a, b) => a.span.start - b.span.start);
  ordered.forEach((edit, i) => {
    checkSpan(edit.span, text.length);
    if (/[\r\n]/.test(edit.value)) throw new RangeError('a replacement value must not contain a line break');
    const previous = ordered[i - 1];
    if (previous !== undefined && (previous.span.end > edit.span.start || previous.span.start === edit.span.start)) {
      throw new RangeError(`edits at ${previous.span.start}..${previous.span.end} and ${edit.span.start}..${edit.span.end} overlap`);
    }
  });
  // From the end, so that offsets of the edits still to apply stay valid.
  let result = text;
  for (const { span, value } of ordered.reverse()) {
    result = result.slice(0, span.start) + value + result.slice(span.end);
  }
  return result;
}

function errnoCode(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : 'unknown error';
}

function writeError(path: string, err: unknown): SecretError {
  const code = errnoCode(err);
  const fix =
    code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
      ? `run as root on a host where ${dirname(path)} is writable`
      : `check that ${path} is a regular file in a writable directory with free space`;
  return new SecretError(`cannot write ${path} (${code}); it was left unchanged`, fix, undefined, { cause: err });
}

async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch (err) {
    // Some file systems cannot fsync a directory; the rename is done either way.
    if (errnoCode(err) !== 'EINVAL') throw err;
  } finally {
    await handle.close();
  }
}

/**
 * Replaces the file so that a crash leaves either the old or the new text, never a mix: a temp file
 * next to it (same file system, so rename is atomic) with the original's mode and owner, fsynced,
 * renamed over, then the directory fsynced so the rename itself is durable. A symlinked hpe.conf is
 * followed, so the link stays a link.
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  let target = path;
  let original: { mode: number; uid: number; gid: number } | undefined;
  try {
    target = await realpath(path);
    const s = await stat(target);
    original = { mode: s.mode & 0o7777, uid: s.uid, gid: s.gid };
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw writeError(path, err);
  }
  const dir = dirname(target);
  const temp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let created = false;
  try {
    const handle = await open(temp, 'wx', 0o600);
    created = true;
    try {
      if (original !== undefined && process.getuid?.() === 0) await handle.chown(original.uid, original.gid);
      // Explicit, because open's mode is reduced by the umask; after chown, which clears setuid/setgid.
      await handle.chmod(original?.mode ?? 0o600);
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
    created = false;
  } catch (err) {
    if (created) await rm(temp, { force: true });
    throw writeError(path, err);
  }
  try {
    await fsyncDirectory(dir);
  } catch (err) {
    throw new SecretError(
      `wrote ${path} but could not flush its directory (${errnoCode(err)}); a power loss now may undo the change`,
      `check the file system of ${dir}, then run the command again`,
      undefined,
      { cause: err },
    );
  }
}
