import { randomBytes, scrypt, type ScryptOptions } from 'node:crypto';
import { promisify } from 'node:util';
import { SecretError } from '../errors.js';
import { decodeBase64Strict } from './format.js';

export interface KdfParams {
  name: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string /* base64 */;
}

export const DerivedKeyLength = 32;
const SaltLength = 16;

/**
 * N=2^16, r=8 (64 MiB): measured ~140 ms per derivation on the 2-core build machine, versus ~70 ms
 * for 2^15 — the margin keeps it above 50 ms on faster hosts. It runs only in the CLI
 * (`-a`, re-derive to compare); the plugin reads the derived key from the record.
 */
export const DefaultKdfCost = { N: 2 ** 16, r: 8, p: 1 } as const;

/** Bounds for parameters read from etcd, so a tampered record cannot make us allocate gigabytes. */
const KdfLimits = {
  minLog2N: 14,
  maxLog2N: 20,
  maxR: 32,
  maxP: 16,
  /** scrypt's working memory is 128·N·r bytes. */
  maxMemoryBytes: 256 * 1024 * 1024,
  minSaltBytes: 16,
  maxSaltBytes: 64,
} as const;

const scryptAsync = promisify(scrypt) as (
  password: Uint8Array,
  salt: Uint8Array,
  keylen: number,
  options: ScryptOptions,
) => Promise<Buffer>;

function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/** What is wrong with the parameters, as `field problem` phrases; empty when they are usable. */
export function kdfParamProblems(params: KdfParams): string[] {
  const problems: string[] = [];
  if (params.name !== 'scrypt') problems.push('name must be "scrypt"');
  const { N, r, p } = params;
  if (!isPowerOfTwo(N) || N < 2 ** KdfLimits.minLog2N || N > 2 ** KdfLimits.maxLog2N) {
    problems.push(`N must be a power of two from 2^${KdfLimits.minLog2N} to 2^${KdfLimits.maxLog2N}`);
  }
  if (!Number.isInteger(r) || r < 1 || r > KdfLimits.maxR) problems.push(`r must be an integer from 1 to ${KdfLimits.maxR}`);
  if (!Number.isInteger(p) || p < 1 || p > KdfLimits.maxP) problems.push(`p must be an integer from 1 to ${KdfLimits.maxP}`);
  if (problems.length === 0 && 128 * N * r > KdfLimits.maxMemoryBytes) {
    problems.push(`N and r need more than ${KdfLimits.maxMemoryBytes / 2 ** 20} MiB (128·N·r)`);
  }
  const salt = typeof params.salt === 'string' ? decodeBase64Strict(params.salt) : undefined;
  if (salt === undefined || salt.length < KdfLimits.minSaltBytes || salt.length > KdfLimits.maxSaltBytes) {
    problems.push(`salt must be base64 of ${KdfLimits.minSaltBytes} to ${KdfLimits.maxSaltBytes} bytes`);
  }
  return problems;
}

export function newKdfParams(): KdfParams {
  return { name: 'scrypt', ...DefaultKdfCost, salt: randomBytes(SaltLength).toString('base64') };
}

/**
 * NFC first: the same passphrase typed on macOS (often NFD) and on Linux (NFC) is different
 * code points, and would otherwise derive a different key.
 */
function passphraseBytes(passphrase: string): Uint8Array {
  return new TextEncoder().encode(passphrase.normalize('NFC'));
}

export async function deriveKey(passphrase: string, params: KdfParams): Promise<Uint8Array> {
  const problems = kdfParamProblems(params);
  if (problems.length > 0) {
    throw new SecretError(
      `the key derivation parameters are not usable: ${problems.join('; ')}`,
      'recreate the key record with `hpe3parencryptor -d` then `hpe3parencryptor -a`',
    );
  }
  const salt = decodeBase64Strict(params.salt) as Uint8Array;
  const { N, r, p } = params;
  const key = await scryptAsync(passphraseBytes(passphrase), salt, DerivedKeyLength, {
    N,
    r,
    p,
    maxmem: 128 * N * r * 2,
  });
  return new Uint8Array(key.buffer, key.byteOffset, key.byteLength);
}
