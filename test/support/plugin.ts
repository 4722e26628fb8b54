import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './cli.js';
import type { Dockerd } from './dockerd.js';

const execFileP = promisify(execFile);

export interface PluginConfig {
  entrypoint: string[];
  linux: { capabilities: string[] };
  mounts: { name: string; source?: string; type?: string; settable?: string[] }[];
  env: { name: string; value?: string; settable?: string[] }[];
  [k: string]: unknown;
}

/** Capability names by bit number (linux/capability.h), for reading CapBnd. */
const capNames = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP',
  'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER',
  'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE',
  'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
  'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
  'CHECKPOINT_RESTORE',
].map((n) => `CAP_${n}`);

async function boundingCapabilities(): Promise<Set<string>> {
  const status = await readFile('/proc/self/status', 'utf8');
  const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? 'ffffffffff';
  const bits = BigInt(`0x${hex}`);
  return new Set(capNames.filter((_, i) => (bits >> BigInt(i)) & 1n));
}

/** The real config.json less what this host cannot grant (a capability outside the bounding set, a missing non-settable mount source); each change noted. */
async function adaptToHost(real: PluginConfig, adaptations: string[]): Promise<PluginConfig> {
  const cfg = structuredClone(real);
  const bounding = await boundingCapabilities();
  for (const c of cfg.linux.capabilities.filter((c) => !bounding.has(c))) {
    adaptations.push(`dropped ${c}: not in this machine's capability bounding set (runc: "unable to apply caps")`);
  }
  cfg.linux.capabilities = cfg.linux.capabilities.filter((c) => bounding.has(c));
  cfg.mounts = cfg.mounts.filter((m) => {
    const keep = m.type !== 'bind' || m.settable?.includes('source') || m.source === undefined || existsSync(m.source);
    if (!keep) adaptations.push(`dropped mount ${m.name}: its source ${m.source} does not exist on this machine and is not settable`);
    return keep;
  });
  return cfg;
}

export interface PluginFolder {
  dir: string;
  rootfs: string;
  real: PluginConfig;
  adaptations: string[];
}

/** The plugin folder as `make plugin` makes it (plugin/build-rootfs.sh), its config adapted to this host, optionally changed further. */
export async function buildPluginFolder(d: Dockerd, change?: (cfg: PluginConfig) => void): Promise<PluginFolder> {
  const dir = await d.scratch('plugin');
  await execFileP('bash', [path.join(repoRoot, 'plugin', 'build-rootfs.sh'), dir], { timeout: 120_000 });
  const real = JSON.parse(await readFile(path.join(repoRoot, 'config.json'), 'utf8')) as PluginConfig;
  const built = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8')) as PluginConfig;
  if (JSON.stringify(built) !== JSON.stringify(real)) throw new Error('build-rootfs.sh must copy config.json as it is');
  const adaptations: string[] = [];
  const cfg = await adaptToHost(real, adaptations);
  change?.(cfg);
  await writeFile(path.join(dir, 'config.json'), JSON.stringify(cfg, null, 2));
  return { dir, rootfs: path.join(dir, 'rootfs'), real, adaptations };
}

/**
 * `docker plugin set` arguments for the host folders an admin points the plugin at, and (testing aid) the folder
 * holding the WSAPI simulators' state folders, whose volume files the plugin attaches as loop devices.
 */
export function hostMountSettings(configDir: string, stateDir: string, simulatorsDir?: string): string[] {
  return [`config.source=${configDir}`, `state.source=${stateDir}`, ...(simulatorsDir === undefined ? [] : [`simulators.source=${simulatorsDir}`])];
}

/** POSTs to a plugin socket as dockerd does (no Content-Type, empty body for Activate). */
export function postToPlugin(socketPath: string, urlPath: string, body = '', timeoutMs = 5000): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath, path: urlPath, method: 'POST', headers: { Accept: 'application/vnd.docker.plugins.v1.2+json' }, timeout: timeoutMs },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as unknown }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}
