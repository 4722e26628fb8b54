import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

/** Keeps the servers a test starts (etcd, dockerd) from outliving it, however the test process ends. */

export const SETPRIV = '/usr/bin/setpriv';
let setprivWorks: boolean | undefined;

/** Whether `setpriv --pdeathsig` is usable here (util-linux ≥ 2.33): a child then dies with the test process. Checked once. */
export async function canUsePdeathsig(): Promise<boolean> {
  if (setprivWorks !== undefined) return setprivWorks;
  setprivWorks = false;
  if (existsSync(SETPRIV)) {
    try {
      await promisify(execFile)(SETPRIV, ['--pdeathsig', 'KILL', '--', 'true'], { timeout: 5000 });
      setprivWorks = true;
    } catch {
      // old util-linux or no permission: rely on the exit hooks only
    }
  }
  return setprivWorks;
}

/** Runs `cleanup` (synchronous) when the process exits or gets SIGINT/SIGTERM/SIGHUP; then the signal takes its default effect. */
export function onProcessEnd(cleanup: () => void): void {
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      cleanup();
      // If nobody else handles the signal, restore its default effect (the process dies by it).
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    });
  }
}
