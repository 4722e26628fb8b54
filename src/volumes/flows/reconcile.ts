/**
 * At start (after the mount intents are settled): this node's records against what this host's kernel has. Each
 * volume the record says this node holds, under its lock:
 *   mounted here                                   → kept;
 *   not mounted here, device present and its       → mounted again at its folder (the plugin restarted, or was
 *   filesystem still mounted in another mount        disabled and enabled: its mount namespace went, its
 *   namespace (a container's), same boot             containers' mounts did not); never formatted: a device
 *                                                    without a filesystem is left alone;
 *   not mounted here, device present but its       → released: no container on this host uses it any more
 *   filesystem mounted nowhere, same boot            (dockerd restarted after a crash or a kill: it stops the
 *                                                    containers it finds and never sends their Unmount,
 *                                                    docker/for-linux#404);
 *   not mounted, device present, first start of a  → released: the containers of the last boot are gone (dockerd
 *   new boot                                         mounts again for those it restarts);
 *   device absent (reboot, detached behind our     → released: no container here can use it; the volume is free
 *   back)                                            for the other hosts at once.
 * A release is the last Unmount's path (intent, unmount, detach, this host's VLUNs, record). Then what no record
 * owns, on this host only: mounts under this plugin's mount prefix that no record held here names are unmounted;
 * devices of this plugin's array volumes (matched by the arrays' WWNs of dcv-/dcs- volumes, or for the simulator by
 * the loop device's backing file) that no record holds and no Mount is making (checked under the volume's lock) are
 * detached, and this host's VLUNs of them removed on every array that may export them (both arrays of a replicated
 * volume: Peer Persistence exports from both), behind an Unmount intent that an array not answering leaves for the
 * background repair (reported in `left`). One log line per action.
 */
import { isSimulator } from '../../array/index.js';
import { listLoopDevices, normaliseWwn, presentLun, presentWwns, transportFor, type Attachment } from '../../host/index.js';
import { parseArrayName } from '../request/naming.js';
import { LockTimeoutError } from '../errors.js';
import { volumeLock, type EtcdLocks } from '../store/locks.js';
import type { StoredVolume, VolumeRecord } from '../store/records.js';
import type { ArrayRole } from '../backends/state.js';
import { describe } from './failures.js';
import { attachmentOf, releaseHere, releaseOrphan, settledForThisNode, type MountContext } from './mount.js';

export interface ReconcileReport {
  actions: { volume: string; action: 'mounted again' | 'released' | 'unmounted' | 'detached'; detail: string }[];
  /** Volumes left as they were, with why (lock busy, a failure). */
  left: { volume: string; reason: string }[];
}

export interface ReconcileOptions {
  locks: EtcdLocks;
  lockWaitMs: number;
  /** The first start in a new boot of this host (serve knows it from the boot id). */
  newBoot: boolean;
  /** Every record, listed once by the caller (the repair at start passes the same list on to the array scan). */
  volumes: readonly StoredVolume[];
}

export async function reconcileNode(ctx: MountContext, options: ReconcileOptions): Promise<ReconcileReport> {
  const report: ReconcileReport = { actions: [], left: [] };
  const node = ctx.nodeId;
  const relevant = options.volumes.filter(({ record: r }) => r.node_mount_info?.[node] !== undefined || (r.old_path_info ?? []).some(([n]) => n === node));
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
  await unmountOrphans(ctx, options.volumes, report);
  await detachOrphans(ctx, options, report);
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
  if (device !== undefined && !options.newBoot && !(await ctx.data.fs.inUse(device))) {
    await releaseHere(ctx, stored);
    act('released', `${device} is mounted nowhere on this host: the containers that held it are gone (dockerd restarted without sending their Unmount)`);
    return;
  }
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

async function unmountOrphans(ctx: MountContext, volumes: readonly StoredVolume[], report: ReconcileReport): Promise<void> {
  const prefix = ctx.data.mountPrefix;
  const orphans = (await ctx.data.fs.listMounts()).filter((m) => m.mountPoint.startsWith(prefix));
  if (orphans.length === 0) return;
  const heldAt = (r: VolumeRecord | undefined): string | undefined => (r?.node_mount_info?.[ctx.nodeId] === undefined ? undefined : (r.path_info?.mount_dir ?? ctx.data.mountDirOf(r)));
  const held = new Set(volumes.map(({ record }) => heldAt(record)));
  for (const m of orphans) {
    if (held.has(m.mountPoint)) continue;
    try {
      // The list was read before the mounts: a Mount that finished meanwhile shows only in a read of its record.
      const named = parseArrayName(m.mountPoint.slice(prefix.length));
      if (named !== undefined && heldAt((await ctx.store.getById(named.id))?.record) === m.mountPoint) continue;
      await ctx.data.fs.unmount(m.mountPoint, { removeDir: true });
      report.actions.push({ volume: m.mountPoint, action: 'unmounted', detail: `${m.source} at ${m.mountPoint}: under this plugin's mount prefix, and no record held here names it` });
      ctx.logger.info({ mountDir: m.mountPoint, device: m.source }, 'reconcile at start: unmounted a mount no record names');
    } catch (err) {
      report.left.push({ volume: m.mountPoint, reason: describe(err) });
    }
  }
}

interface DeviceCandidate {
  arrayName: string;
  /** The backend whose array exports it (undefined: a simulator file whose backend is not known here). */
  backend?: string;
  attachment: Attachment;
}

/** This plugin's array volumes that have a device on this host now. */
async function attachedHere(ctx: MountContext): Promise<DeviceCandidate[]> {
  const out: DeviceCandidate[] = [];
  const env = ctx.data.env;
  const root = env.simulatorRoot;
  if (root !== undefined) {
    for (const { device, file } of await listLoopDevices(env)) {
      const m = /\/volumes\/([^/]+)\.img$/.exec(file);
      if (!file.startsWith(`${root}/`) || m === null || parseArrayName(m[1]!) === undefined) continue;
      out.push({ arrayName: m[1]!, attachment: { transport: 'loop', device, wwn: '', paths: [], file } });
    }
  }
  let present: Set<string> | undefined;
  for (const name of ctx.backends.names()) {
    const b = ctx.backends.get(name);
    if (b === undefined || isSimulator(b.primary.system)) continue;
    present ??= await presentWwns(env);
    for (const v of await b.primary.client.queryVolumes()) {
      if (parseArrayName(v.name) === undefined || !v.wwn || !present.has(normaliseWwn(v.wwn))) continue;
      const lun = await presentLun(env, v.wwn);
      if (lun === undefined) continue;
      const transport = b.config.driver === 'fc' ? 'fc' : 'iscsi';
      out.push({ arrayName: v.name, backend: name, attachment: { transport, device: lun.device, wwn: v.wwn, paths: lun.paths, ...(lun.multipath === undefined ? {} : { multipath: lun.multipath }) } });
    }
  }
  return out;
}

async function detachOrphans(ctx: MountContext, options: ReconcileOptions, report: ReconcileReport): Promise<void> {
  let candidates: DeviceCandidate[];
  try {
    candidates = await attachedHere(ctx);
  } catch (err) {
    report.left.push({ volume: '(devices)', reason: `listing this host's devices failed: ${describe(err)}` });
    return;
  }
  const mountedSources = new Set((await ctx.data.fs.listMounts()).map((m) => m.source));
  for (const c of candidates) {
    if (mountedSources.has(c.attachment.device)) continue;
    const id = parseArrayName(c.arrayName)!.id;
    const detach = async (record: VolumeRecord | undefined): Promise<void> => {
      const backend = c.backend ?? record?.backend;
      if (backend === undefined) await transportFor(c.attachment.transport, ctx.data.env).detach(c.attachment);
      else await releaseOrphan(ctx, { id, name: record?.display_name ?? c.arrayName, backend, arrayName: c.arrayName, attachment: c.attachment, arrays: orphanArrays(ctx, backend, c.arrayName, record) });
      report.actions.push({ volume: c.arrayName, action: 'detached', detail: `${c.attachment.device}: a device of ${c.arrayName} that no record holds` });
      ctx.logger.info({ arrayName: c.arrayName, device: c.attachment.device }, 'reconcile at start: detached a device no record holds');
    };
    try {
      const record = await ctx.store.getById(id);
      // Without a record no Mount can be making it; with one, its lock keeps a Mount in progress safe.
      if (record === undefined) {
        await detach(undefined);
        continue;
      }
      await options.locks.withLocks(
        [volumeLock(record.record.display_name)],
        async () => {
          const now = (await ctx.store.getById(id))?.record;
          if (now === undefined) return detach(undefined);
          const held = Object.keys(now.node_mount_info ?? {}).length > 0 || (now.old_path_info ?? []).length > 0;
          if (held || (await ctx.mountIntents.read(ctx.nodeId, id)) !== undefined) return;
          await detach(now);
        },
        { waitMs: options.lockWaitMs },
      );
    } catch (err) {
      const reason = err instanceof LockTimeoutError ? 'lock busy (a request on it is running)' : describe(err);
      report.left.push({ volume: c.arrayName, reason });
      ctx.logger.warn({ arrayName: c.arrayName, device: c.attachment.device, reason }, 'reconcile at start left a device no record holds');
    }
  }
}

/**
 * The arrays that may export the orphan to this host: a replicated volume's on both, as a Peer Persistence mount
 * exports it and an Active/Passive one from either side; removing this host's VLUNs where there are none does
 * nothing. Without a record (nothing says how it was exported) a backend's replication target is included only
 * while it answers: a target that is down must not keep a device that may be a plain volume's attached here.
 */
function orphanArrays(ctx: MountContext, backend: string, arrayName: string, record: VolumeRecord | undefined): ArrayRole[] {
  const replicated = ctx.backends.views().some((v) => v.name === backend && v.replication !== undefined);
  if (!replicated || (record !== undefined && record.rcg_info === null)) return ['primary'];
  if (record !== undefined) return ['primary', 'replication target'];
  try {
    ctx.backends.replicationTarget(backend);
    return ['primary', 'replication target'];
  } catch (err) {
    ctx.logger.warn({ backend, arrayName, err: describe(err) }, 'reconcile at start: releasing a device no record holds on the primary array only; the replication target does not answer, so a VLUN of it there for this host, if any, is left');
    return ['primary'];
  }
}
