import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * Runs an ES module script in a child node whose file-permission checks apply: root bypasses them, so as
 * root the child runs without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (it stays root, so it can still read
 * a checkout that only root may enter). Returns its trimmed stdout; fails the test if it exits non-zero.
 */
export function runWithFilePermissions(script: string): string {
  const node = [process.execPath, '--input-type=module', '-e', script];
  const [command, ...args] =
    process.getuid?.() === 0 && existsSync('/usr/bin/setpriv') ? ['/usr/bin/setpriv', '--bounding-set', '-dac_override,-dac_read_search', '--', ...node] : node;
  const result = spawnSync(command!, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`the unprivileged child failed: ${result.stderr}`);
  return result.stdout.trim();
}
