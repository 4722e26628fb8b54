/**
 * The repair of this node's Mount and Unmount intents (store/mount-intents.ts), at start, each under the
 * volume's lock with a short wait (a lock still held means a live request of this node's previous process
 * cannot exist — it died — so only another node's operation on the volume holds it: deferred).
 */
import { LockTimeoutError } from '../errors.js';
import { volumeLock, type EtcdLocks } from '../store/locks.js';
import type { MountIntent } from '../store/mount-intents.js';
import { describe } from './failures.js';
import { tearDown, withoutNode, type MountContext } from './mount.js';

export interface MountRepairReport {
  /** `rolled back mount` / `completed mount` / `completed unmount`, one per intent settled. */
  fixed: { volume: string; action: string }[];
  /** Intents left for a later start, with why. */
  left: { volume: string; reason: string }[];
}

export async function repairMounts(ctx: MountContext, locks: EtcdLocks, lockWaitMs: number): Promise<MountRepairReport> {
  const report: MountRepairReport = { fixed: [], left: [] };
  const { intents, unreadable } = await ctx.mountIntents.listForNode(ctx.nodeId);
  for (const u of unreadable) report.left.push({ volume: u.key, reason: `unreadable intent: ${u.problem}; inspect it with \`etcdctl get ${u.key}\`` });
  for (const intent of intents) {
    try {
      const action = await locks.withLocks([volumeLock(intent.name)], () => settle(ctx, intent), { waitMs: lockWaitMs });
      report.fixed.push({ volume: intent.name, action });
      ctx.logger.info({ volume: intent.name, action }, 'mount intent settled');
    } catch (err) {
      const reason = err instanceof LockTimeoutError ? 'lock busy' : describe(err);
      report.left.push({ volume: intent.name, reason });
      ctx.logger.warn({ volume: intent.name, op: intent.op, reason }, 'mount intent left for the next start');
    }
  }
  return report;
}

async function settle(ctx: MountContext, intent: MountIntent): Promise<string> {
  const stored = await ctx.store.getById(intent.id);
  const held = stored?.record.node_mount_info?.[ctx.nodeId] !== undefined && stored.record.path_info !== null;
  if (intent.op === 'mount' && held) {
    await ctx.mountIntents.remove(intent);
    return 'completed mount';
  }
  // A mount that never reached its record is rolled back; an unmount is finished (Docker was told it was done,
  // or will ask again and find nothing to do).
  await tearDown(ctx, intent);
  if (intent.op === 'unmount' && stored?.record.node_mount_info?.[ctx.nodeId] !== undefined) {
    await ctx.store.update(withoutNode(stored.record, ctx.nodeId), stored.modRevision);
  }
  await ctx.mountIntents.remove(intent);
  return intent.op === 'mount' ? 'rolled back mount' : 'completed unmount';
}
