/**
 * At start (after the mount intents are settled): this node's records against what this host's kernel has. Each
 * volume the record says this node holds, under its lock:
 *   mounted here                                   → kept;
 *   not mounted, device present, same boot         → mounted again at its folder (the plugin restarted; its
 *                                                    mount namespace went, its containers' mounts did not);
 *                                                    never formatted: a device without a filesystem is left alone;
 *   not mounted, device present, first start of a  → released: the containers of the last boot are gone (dockerd
 *   new boot                                         mounts again for those it restarts);
 *   device absent (reboot, detached behind our     → released: no container here can use it; the volume is free
 *   back)                                            for the other hosts at once.
 * A release is the last Unmount's path (intent, unmount, detach, this host's VLUNs, record). Mounts under this
 * plugin's mount prefix that no record held here names are unmounted (this host only). One log line per action.
 */
import { transportFor } from '../../host/index.js';
import { LockTimeoutError } from '../errors.js';
import { volumeLock, type EtcdLocks } from '../store/locks.js';
import type { StoredVolume } from '../store/records.js';
import { describe } from './failures.js';
import { attachmentOf, releaseHere, settledForThisNode, type MountContext } from './mount.js';

export interface ReconcileReport {
  actions: { volume: string; action: 'mounted again' | 'released' | 'unmounted'; detail: string }[];
  /** Volumes left as they were, with why (lock busy, a failure). */
  left: { volume: string; reason: string }[];
}

export interface ReconcileOptions {
  locks: EtcdLocks;
  lockWaitMs: number;
  /** The first start in a new boot of this host (serve knows it from the boot id). */
  newBoot: boolean;
}

export async function reconcileNode(ctx: MountContext, options: ReconcileOptions): Promise<ReconcileReport> {
  const report: ReconcileReport = { actions: [], left: [] };
  const node = ctx.nodeId;
  const { volumes } = await ctx.store.list();
  const relevant = volumes.filter(({ record: r }) => r.node_mount_info?.[node] !== undefined || (r.old_path_info ?? []).some(([n]) => n === node));
  for (const { record } of relevant) {
    try {
      await options.locks.withLocks(
        [volumeLock(record.display_name)],
        async () => {
          const found = await ctx.store.getById(record.id);
          const current = found === undefined ? undefined : await settledForThisNode(ctx, found);
          if (current !== undefined && current.record.node_mount_info?.[node] !== undefined) await reconcileHeld(ctx, current, options, report);
        },
        { waitMs: options.lockWaitMs },
      );
    } catch (err) {
      const reason = err instanceof LockTimeoutError ? 'lock busy (a request on it is running)' : describe(err);
      report.left.push({ volume: record.display_name, reason });
      ctx.logger.warn({ volume: record.display_name, reason }, 'reconcile at start left the volume as it was');
    }
  }
  await unmountOrphans(ctx, report);
  return report;
}

async function reconcileHeld(ctx: MountContext, stored: StoredVolume, options: ReconcileOptions, report: ReconcileReport): Promise<void> {
  const r = stored.record;
  const mountDir = r.path_info?.mount_dir ?? ctx.data.mountDirOf(r);
  if (await ctx.data.fs.isMounted(mountDir)) return;
  const attachment = attachmentOf(r.path_info);
  const device = attachment === undefined ? undefined : await transportFor(attachment.transport, ctx.data.env).locate(attachment);
  const act = (action: ReconcileReport['actions'][number]['action'], detail: string) => {
    report.actions.push({ volume: r.display_name, action, detail });
    ctx.logger.info({ volume: r.display_name, action, detail }, 'reconcile at start');
  };
  if (device !== undefined && !options.newBoot) {
    const probe = await ctx.data.fs.probe(device);
    if (probe.empty) {
      report.left.push({ volume: r.display_name, reason: `${device} holds no filesystem; not mounted, never formatted here` });
      return;
    }
    await ctx.data.fs.mount(device, mountDir, { fsType: r.fs_type ?? probe.type, readOnly: r.is_snap });
    if (r.path_info !== null && r.path_info.path !== device) {
      await ctx.store.update({ ...r, path_info: { ...r.path_info, path: device, device_info: { ...r.path_info.device_info, device } } }, stored.modRevision);
    }
    act('mounted again', `${device} at ${mountDir} (the plugin restarted; its containers' references are kept)`);
    return;
  }
  await releaseHere(ctx, stored);
  act('released', device === undefined ? 'its device is gone from this host (reboot?); no container here can use it' : `first start of a new boot: the containers of the last boot are gone (${device} detached)`);
}

async function unmountOrphans(ctx: MountContext, report: ReconcileReport): Promise<void> {
  const prefix = ctx.data.mountPrefix;
  const orphans = (await ctx.data.fs.listMounts()).filter((m) => m.mountPoint.startsWith(prefix));
  if (orphans.length === 0) return;
  // Read after the mounts: a Mount that finished meanwhile has its record by now.
  const { volumes } = await ctx.store.list();
  const held = new Set(volumes.filter(({ record: r }) => r.node_mount_info?.[ctx.nodeId] !== undefined).map(({ record: r }) => r.path_info?.mount_dir ?? ctx.data.mountDirOf(r)));
  for (const m of orphans) {
    if (held.has(m.mountPoint)) continue;
    try {
      await ctx.data.fs.unmount(m.mountPoint, { removeDir: true });
      report.actions.push({ volume: m.mountPoint, action: 'unmounted', detail: `${m.source} at ${m.mountPoint}: under this plugin's mount prefix, and no record held here names it` });
      ctx.logger.info({ mountDir: m.mountPoint, device: m.source }, 'reconcile at start: unmounted a mount no record names');
    } catch (err) {
      report.left.push({ volume: m.mountPoint, reason: describe(err) });
    }
  }
}
