/**
 * The array's SSH host key against an OpenSSH known-hosts file: pure parsing and the policy decision. Upstream
 * (paramiko) accepted and remembered an unknown host by default (`strict_ssh_host_key_policy = False`) and
 * refused it when strict; a key that differs from the remembered one is refused under either policy.
 */
import { createHash, createHmac } from 'node:crypto';

/** One usable line of a known-hosts file (marker lines such as `@cert-authority` are skipped). */
export interface KnownHostEntry {
  /** The host field as written: comma-separated names or patterns, or one hashed name `|1|salt|hash`. */
  hosts: string;
  keyType: string;
  /** Base64 of the key blob. */
  key: string;
  line: number;
}

/** A host key as the server sent it. */
export interface HostKey {
  type: string;
  /** Base64 of the key blob. */
  key: string;
}

export type HostKeyDecision =
  | { action: 'accept' }
  | { action: 'remember' }
  | { action: 'refuse-changed'; line: number; knownType: string }
  | { action: 'refuse-unknown' };

/** How the file names a host: `host` on port 22, `[host]:port` otherwise (as OpenSSH writes it). */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/);
    const [hosts, keyType, key] = fields;
    if (hosts === undefined || hosts === '' || hosts.startsWith('#') || hosts.startsWith('@')) return;
    if (keyType === undefined || key === undefined) return;
    entries.push({ hosts, keyType, key, line: i + 1 });
  });
  return entries;
}

function hashedMatches(field: string, name: string): boolean {
  const [, magic, salt, hash] = field.split('|');
  if (magic !== '1' || salt === undefined || hash === undefined) return false;
  return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
}

function patternMatches(pattern: string, name: string): boolean {
  const regex = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return regex.test(name);
}

/** Whether an entry's host field names `name`; a negated pattern (`!host`) that matches excludes it. */
export function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|')) return hashedMatches(field, name);
  let matched = false;
  for (const pattern of field.split(',')) {
    if (pattern.startsWith('!')) {
      if (patternMatches(pattern.slice(1), name)) return false;
    } else if (patternMatches(pattern, name)) {
      matched = true;
    }
  }
  return matched;
}

/**
 * The decision for `key` offered by `name`: accepted when an entry holds exactly it; refused as changed when the
 * file knows the host by another key; otherwise remembered, or refused under the strict policy.
 */
export function decideHostKey(entries: readonly KnownHostEntry[], name: string, key: HostKey, strict: boolean): HostKeyDecision {
  const forHost = entries.filter((e) => hostFieldMatches(e.hosts, name));
  if (forHost.some((e) => e.keyType === key.type && e.key === key.key)) return { action: 'accept' };
  const known = forHost[0];
  if (known !== undefined) return { action: 'refuse-changed', line: known.line, knownType: known.keyType };
  return strict ? { action: 'refuse-unknown' } : { action: 'remember' };
}

/** The host key algorithms ssh2 offers for each key type a known-hosts line may hold. */
const AlgorithmsOfKeyType: Readonly<Record<string, readonly string[]>> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

/**
 * The host key algorithms to ask a known host for: those of the key types the file holds for it (as OpenSSH
 * does), so an array that has an ed25519 key too is not taken for changed when the file, written by upstream's
 * paramiko say, holds only its RSA key. Undefined for a host the file does not know: every algorithm.
 */
export function hostKeyAlgorithmsFor(entries: readonly KnownHostEntry[], name: string): string[] | undefined {
  const algorithms = [...new Set(entries.filter((e) => hostFieldMatches(e.hosts, name)).flatMap((e) => AlgorithmsOfKeyType[e.keyType] ?? []))];
  return algorithms.length === 0 ? undefined : algorithms;
}

/** The line that remembers `key` for `name`. */
export function knownHostsLine(name: string, key: HostKey): string {
  return `${name} ${key.type} ${key.key}\n`;
}

/** The key type is the blob's first SSH string (uint32 length, then the name). */
export function hostKeyOf(blob: Buffer): HostKey {
  const length = blob.length >= 4 ? blob.readUInt32BE(0) : 0;
  const type = blob.subarray(4, 4 + length).toString('latin1');
  return { type: type === '' ? 'unknown' : type, key: blob.toString('base64') };
}

/** `SHA256:…` as `ssh-keygen -lf` prints it. */
export function hostKeyFingerprint(key: HostKey): string {
  return `SHA256:${createHash('sha256').update(Buffer.from(key.key, 'base64')).digest('base64').replace(/=+$/, '')}`;
}
