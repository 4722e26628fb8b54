import { open } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { SecretError } from '../errors.js';
import type { Placeholder } from './format.js';

/** A password file holds one line; the cap stops `$file{/dev/zero}` from eating memory. */
export const MaxSecretFileBytes = 64 * 1024;

function resolveEnv(name: string, env: NodeJS.ProcessEnv): string {
  const value = env[name];
  if (value === undefined || value === '') {
    throw new SecretError(
      `names environment variable ${name}, which is ${value === undefined ? 'not set' : 'empty'}`,
      `set ${name} in the plugin's environment (\`docker plugin set <plugin> ${name}=...\` for a managed plugin) or write the password in hpe.conf`,
    );
  }
  return value;
}

function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

function fileReadError(path: string, err: unknown): SecretError {
  const code = errnoCode(err) ?? 'unknown error';
  const reasons: Record<string, [string, string]> = {
    ENOENT: ['does not exist', `create ${path} holding the password, or correct the path (a managed plugin sees only its mounts)`],
    EACCES: ['cannot be read (permission denied)', `make ${path} readable by the user the plugin runs as (root), e.g. \`chmod 0400 ${path}\``],
    EPERM: ['cannot be read (operation not permitted)', `make ${path} readable by the user the plugin runs as (root)`],
    EISDIR: ['is a directory', `point $file{} at the file holding the password, not at ${path}`],
    ENOTDIR: ['has a path component that is not a directory', `correct the path in hpe.conf`],
  };
  const [reason, fix] = reasons[code] ?? ['cannot be read', `check that ${path} is a readable file`];
  return new SecretError(`names file ${path}, which ${reason} (${code})`, fix, undefined, { cause: err });
}

/** One trailing newline is what `echo pw > file` adds; more than one is taken as part of the password. */
function stripOneNewline(text: string): string {
  if (text.endsWith('\r\n')) return text.slice(0, -2);
  if (text.endsWith('\n')) return text.slice(0, -1);
  return text;
}

async function readSecretFile(path: string): Promise<string> {
  if (!isAbsolute(path)) {
    throw new SecretError(
      `names file ${path}, which is not an absolute path`,
      'write the full path starting with /, as the plugin does not run in the directory of hpe.conf',
    );
  }
  let bytes: Buffer;
  try {
    const handle = await open(path, 'r');
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) {
        throw new SecretError(`names file ${path}, which is not a regular file`, `point $file{} at a regular file holding the password`);
      }
      if (stat.size > MaxSecretFileBytes) {
        throw new SecretError(
          `names file ${path}, which is larger than ${MaxSecretFileBytes / 1024} KiB, too large for a password`,
          `point $file{} at a file holding only the password`,
        );
      }
      bytes = await handle.readFile();
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (err instanceof SecretError) throw err;
    throw fileReadError(path, err);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new SecretError(`names file ${path}, which is not UTF-8 text`, `write the password to ${path} as plain text`);
  }
  const value = stripOneNewline(text);
  if (value === '') {
    throw new SecretError(`names file ${path}, which is empty`, `write the password to ${path}`);
  }
  return value;
}

/** The value a `$env{}` or `$file{}` placeholder stands for. Errors name the variable or path, never the content. */
export async function resolvePlaceholder(p: Placeholder, env: NodeJS.ProcessEnv): Promise<string> {
  return p.source === 'env' ? resolveEnv(p.ref, env) : readSecretFile(p.ref);
}
