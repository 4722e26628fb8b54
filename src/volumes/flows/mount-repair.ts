/**
 * The repair of this node's Mount and Unmount intents (store/mount-intents.ts), at start and in the background
 * after a failure, each under the volume's lock with a short wait: an intent found while holding the lock belongs
 * to no running operation (they delete theirs before releasing it). A busy lock defers the intent.
 */
import { LockTimeoutError } from '../errors.js';
import { volumeLock, type EtcdLocks } from '../store/locks.js';
import { describe } from './failures.js';
import { settleMountIntent, type MountContext } from './mount.js';

export interface MountRepairReport {
  /** `rolled back mount` / `completed mount` / `completed unmount`, one per intent settled. */
  fixed: { volume: string; action: string }[];
  /** Intents left for a later pass, with why. */
  left: { volume: string; reason: string }[];
}

export async function repairMounts(ctx: MountContext, locks: EtcdLocks, lockWaitMs: number): Promise<MountRepairReport> {
  const report: MountRepairReport = { fixed: [], left: [] };
  const { intents, unreadable } = await ctx.mountIntents.listForNode(ctx.nodeId);
  for (const u of unreadable) report.left.push({ volume: u.key, reason: `unreadable intent: ${u.problem}; inspect it with \`etcdctl get ${u.key}\`` });
  for (const intent of intents) {
    try {
      const action = await locks.withLocks([volumeLock(intent.name)], () => settleMountIntent(ctx, intent), { waitMs: lockWaitMs });
      report.fixed.push({ volume: intent.name, action });
      ctx.logger.info({ volume: intent.name, action }, 'mount intent settled');
    } catch (err) {
      const reason = err instanceof LockTimeoutError ? 'lock busy' : describe(err);
      report.left.push({ volume: intent.name, reason });
      ctx.logger.warn({ volume: intent.name, op: intent.op, reason }, 'mount intent left for a later repair');
    }
  }
  return report;
}
