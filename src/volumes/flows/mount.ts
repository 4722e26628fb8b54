/**
 * Mount and Unmount on this node (upstream §5 Mount / Unmount), each under the volume's lock.
 *
 * Mount {Name, ID}: the first ID attaches and mounts —
 *   arrays (flows/replica-arrays.ts: the backend's own; for a replicated volume the one where its group is primary
 *   now, or both for Peer Persistence; while the backend's own array is down, the replication target alone) →
 *   intent → export (this host's entry and VLUNs on each array) → attach from the first array (iSCSI / FC / loop
 *   for the simulator) →
 *   intent + attachment → probe the device: a filesystem is mounted as it is (clones and snapshots carry their
 *   parent's); an empty device gets `fs_type` (never a device holding any signature) → mount under the mount
 *   prefix (snapshots read-only) → on a new filesystem: lost+found removed, fsOwner / fsMode applied →
 *   record (`node_mount_info`, `path_info` with `exported_from`) → intent deleted.
 *   Every further ID only adds a reference (the same ID twice counts once). A volume this node holds whose mount
 *   is gone (the plugin restarted) is attached and mounted again, never formatted.
 *   A failure undoes what was done (no VLUN, device or mount left); an undo that fails leaves the intent.
 * Unmount {Name, ID}: drops that ID; the last one writes an intent, unmounts, detaches, removes this host's
 *   VLUNs on every array it was exported from (only those arrays need to answer), clears the record and deletes the
 *   intent. A failure keeps the intent.
 * A kept intent is settled before the next Mount or Unmount of the volume, by the manager's background repair, or
 * at the next start (flows/mount-repair.ts); intents are deleted before the volume's lock is released.
 */
import type { Connection } from '../../array/index.js';
import { transportFor, type Attachment } from '../../host/index.js';
import type { MountArrays } from '../backends/backends.js';
import type { ArrayRole } from '../backends/state.js';
import { VolumeRequestError } from '../errors.js';
import { DEFAULT_FS_TYPE } from '../request/options.js';
import type { MountIntent, MountIntentStore } from '../store/mount-intents.js';
import type { PathInfo, StoredVolume, VolumeRecord } from '../store/records.js';
import type { DataPath } from './data-path.js';
import { describe, operationFailed } from './failures.js';
import type { FlowContext } from './flow.js';
import { drTakeoverArrays, exportArrays } from './replica-arrays.js';
import { Undo } from './undo.js';

function snapshotWithoutFilesystem(r: VolumeRecord): VolumeRequestError {
  const parent = r.snap_metadata?.parent_name ?? 'its parent';
  return new VolumeRequestError(
    `Snapshot ${r.display_name} holds no filesystem: ${parent} had never been mounted when it was taken`,
    `mount ${parent} once (its first mount makes the filesystem), then take a new snapshot`,
  );
}

/** `uid:gid` as kept in the record. */
function parseOwner(text: string | null): { uid: number; gid: number } | null {
  const m = text === null ? null : /^(\d+):(\d+)$/.exec(text);
  return m ? { uid: Number(m[1]), gid: Number(m[2]) } : null;
}

export interface MountContext extends FlowContext {
  data: DataPath;
  mountIntents: MountIntentStore;
  /** Whether a node's plugin is alive (store/presence.ts): a takeover is settled only while its old holders are not. */
  isNodeAlive(node: string): Promise<boolean>;
  /** Called after each step of a Mount, Unmount or takeover (the crash tests kill the process there). */
  onStep?: (op: MountIntent['op'], step: MountStep) => void;
}

export type MountStep = 'intent' | 'exported' | 'attached' | 'formatted' | 'mounted' | 'recorded' | 'unmounted' | 'detached' | 'unexported' | 'fenced';

export interface MountResult {
  mountpoint: string;
  device: string;
}

/** The nodes that hold the volume, with their reference counts. */
export function mountHolders(r: VolumeRecord): { node: string; mounts: number }[] {
  return Object.entries(r.node_mount_info ?? {}).map(([node, ids]) => ({ node, mounts: ids.length }));
}

export function holdersText(holders: { node: string; mounts: number }[]): string {
  return holders.map((h) => `${h.node} (${h.mounts} container mount${h.mounts === 1 ? '' : 's'})`).join(', ');
}

/**
 * What Docker shows for Mount of a volume that a live node still holds after `waitedSeconds`: this plugin never
 * takes a volume from a node whose plugin is alive (flows/takeover rule in README: only from a dead node).
 */
export function mountedElsewhere(r: VolumeRecord, holders: { node: string; mounts: number }[], waitedSeconds: number): VolumeRequestError {
  return new VolumeRequestError(
    `Volume ${r.display_name} is mounted on another node: ${holdersText(holders)}; waited ${waitedSeconds} s (mountConflictDelay) and that node's plugin is alive, so it was not taken over; one node mounts a volume at a time`,
    `stop the containers using it on ${holders.map((h) => h.node).join(', ')} (\`docker ps --filter volume=${r.display_name}\` there), then start this one again; a node whose plugin is down (host crashed) is taken over after mountConflictDelay`,
  );
}

function mountIntentOf(ctx: MountContext, r: VolumeRecord, op: MountIntent['op'], arrays: ArrayRole[], attachment?: Attachment): MountIntent {
  return {
    v: 1,
    op,
    id: r.id,
    name: r.display_name,
    backend: r.backend,
    arrayName: r['3par_vol_name'],
    node: ctx.nodeId,
    mountDir: ctx.data.mountDirOf(r),
    arrays,
    ...(attachment === undefined ? {} : { attachment }),
    started: ctx.now().toISOString(),
  };
}

/** The connection as kept in the record: never the CHAP secret (the array keeps it as volume metadata). */
export function storedConnection(c: Connection): Record<string, unknown> {
  const { chap, ...rest } = c as Connection & { chap?: { username: string } };
  return chap === undefined ? rest : { ...rest, chap: { username: chap.username } };
}

/**
 * The volume's record once any intent this node left for it is settled. Under the volume's lock, so no operation
 * of this process owns that intent: a crash or a failed cleanup left it, and it must not outlive a new Mount
 * (a stale Unmount intent settled later would take the new mount down).
 */
async function afterLeftover(ctx: MountContext, stored: StoredVolume): Promise<StoredVolume | undefined> {
  const leftover = await ctx.mountIntents.read(ctx.nodeId, stored.record.id);
  if (leftover === undefined) return stored;
  const action = await settleMountIntent(ctx, leftover);
  ctx.logger.info({ volume: leftover.name, action }, 'mount intent settled before the next request');
  return ctx.store.getById(stored.record.id);
}

/**
 * The volume's record once this node's own leftovers are settled: a crash's intent (afterLeftover), and the local
 * side of a mount another node took over (releaseLost). Undefined if the record is gone.
 */
export async function settledForThisNode(ctx: MountContext, found: StoredVolume): Promise<StoredVolume | undefined> {
  const stored = await afterLeftover(ctx, found);
  return stored === undefined ? undefined : releaseLost(ctx, stored);
}

/** The other nodes that hold the volume. */
export function otherHolders(ctx: MountContext, r: VolumeRecord): { node: string; mounts: number }[] {
  return mountHolders(r).filter((h) => h.node !== ctx.nodeId);
}

/**
 * Mounts on this node. The caller holds the volume's lock, has settled this node's leftovers (settledForThisNode)
 * and made sure no other node holds it (waited, or took it over).
 */
export async function mountHere(ctx: MountContext, stored: StoredVolume, mountId: string): Promise<MountResult> {
  const r = stored.record;
  const node = ctx.nodeId;
  const holders = otherHolders(ctx, r);
  if (holders.length > 0) throw mountedElsewhere(r, holders, 0);
  const mine = r.node_mount_info?.[node];
  if (mine !== undefined && r.path_info !== null && (await ctx.data.fs.isMounted(r.path_info.mount_dir))) {
    if (!mine.includes(mountId)) {
      await ctx.store.update({ ...r, node_mount_info: { ...r.node_mount_info, [node]: [...mine, mountId] } }, stored.modRevision);
    }
    return { mountpoint: r.path_info.mount_dir, device: r.path_info.path };
  }
  // A volume this node held whose mount went away (plugin restart, reboot) starts again from this ID: its
  // containers' references went with the mount.
  return attachAndMount(ctx, ctx.backends.mountArrays(r.backend), stored, mountId);
}

async function attachAndMount(ctx: MountContext, backend: MountArrays, stored: StoredVolume, mountId: string): Promise<MountResult> {
  const r = stored.record;
  const what = `Failed to mount volume ${r.display_name}`;
  const log = { volume: r.display_name, backend: r.backend, arrayName: r['3par_vol_name'] };
  let intent: MountIntent;
  try {
    intent = mountIntentOf(ctx, r, 'mount', await exportArrays(ctx, backend, r));
    await ctx.mountIntents.write(intent);
  } catch (err) {
    throw err instanceof VolumeRequestError ? err : operationFailed(what, err);
  }
  const arrays = intent.arrays ?? ['primary'];
  ctx.onStep?.('mount', 'intent');
  const undo = new Undo();
  try {
    const connections: Connection[] = [];
    for (const role of arrays) {
      const request = await ctx.data.exportRequest(backend, r['3par_vol_name'], role);
      // Pushed first: an export that fails half way (host made, VLUN refused) is undone too; unexport is idempotent.
      undo.push(`remove this host's VLUNs of ${r['3par_vol_name']} on the ${role} array`, () => ctx.data.unexport(backend, request, role));
      connections.push(await ctx.data.export(backend, request, role));
    }
    ctx.onStep?.('mount', 'exported');
    // Attached from the first array; a second one's (Peer Persistence) VLUNs give multipath its other paths.
    const [connection, remote] = connections as [Connection, Connection | undefined];
    const transport = ctx.data.transportFor(backend, connection, arrays[0]);
    const attachment = await transport.attach(connection);
    undo.push(`detach ${attachment.device}`, () => transport.detach(attachment));
    await ctx.mountIntents.write({ ...intent, attachment });
    ctx.onStep?.('mount', 'attached');

    const fs = ctx.data.fs;
    // A snapshot is never written: one without a filesystem is an error, never a format.
    if (r.is_snap && (await fs.probe(attachment.device)).empty) throw snapshotWithoutFilesystem(r);
    const made = await fs.formatIfEmpty(attachment.device, r.fs_type ?? DEFAULT_FS_TYPE);
    ctx.onStep?.('mount', 'formatted');
    const mountDir = intent.mountDir;
    await fs.mount(attachment.device, mountDir, { fsType: made.fsType, readOnly: r.is_snap });
    undo.push(`unmount ${mountDir}`, () => fs.unmount(mountDir, { removeDir: true }));
    ctx.onStep?.('mount', 'mounted');
    if (made.formatted) {
      await fs.removeLostAndFound(mountDir);
      await fs.applyOwnership(mountDir, parseOwner(r.fsOwner), r.fsMode);
    }

    const pathInfo: PathInfo = {
      name: r.display_name,
      path: attachment.device,
      mount_dir: mountDir,
      device_info: { ...attachment },
      connection_info: storedConnection(connection),
      ...(remote === undefined ? {} : { remote_connection_info: storedConnection(remote) }),
      exported_from: arrays,
    };
    await ctx.store.update(
      { ...r, fs_type: r.fs_type ?? made.fsType, node_mount_info: { ...r.node_mount_info, [ctx.nodeId]: [mountId] }, path_info: pathInfo },
      stored.modRevision,
    );
    ctx.onStep?.('mount', 'recorded');
    ctx.logger.info({ ...log, device: attachment.device, mountDir, formatted: made.formatted, transport: attachment.transport, exportedFrom: arrays }, 'volume mounted');
    await dropMountIntent(ctx, intent);
    return { mountpoint: mountDir, device: attachment.device };
  } catch (err) {
    ctx.logger.warn({ ...log, err: describe(err), undoSteps: undo.size }, 'mount failed; undoing its completed steps');
    const failed = await undo.run(ctx.logger, log);
    if (failed.length === 0) await dropMountIntent(ctx, intent);
    const base = err instanceof VolumeRequestError ? err : operationFailed(what, err);
    if (failed.length === 0) throw base;
    throw operationFailed(`${base.message} (cleanup incomplete: ${failed.join('; ')}; the plugin finishes it in the background)`, err, base.fix);
  }
}

/** Drops `mountId`; the last reference on this node unmounts and detaches. Unknown IDs and nodes are no-ops. */
export async function unmountHere(ctx: MountContext, found: StoredVolume, mountId: string): Promise<void> {
  const stored = await settledForThisNode(ctx, found);
  if (stored === undefined) return;
  const r = stored.record;
  const node = ctx.nodeId;
  const mine = r.node_mount_info?.[node];
  if (mine === undefined) return;
  const rest = mine.filter((id) => id !== mountId);
  if (rest.length > 0) {
    if (rest.length !== mine.length) await ctx.store.update({ ...r, node_mount_info: { ...r.node_mount_info, [node]: rest } }, stored.modRevision);
    return;
  }
  await releaseHere(ctx, stored);
}

/**
 * Takes this node's hold of the volume down, whatever its references: intent → unmount, detach, remove this host's
 * VLUNs → record without this node → intent deleted. The last Unmount, and the reconcile at start (device gone).
 */
export async function releaseHere(ctx: MountContext, stored: StoredVolume): Promise<void> {
  const r = stored.record;
  const intent = mountIntentOf(ctx, r, 'unmount', exportedFrom(r.path_info), attachmentOf(r.path_info));
  try {
    await ctx.mountIntents.write(intent);
    ctx.onStep?.('unmount', 'intent');
    await tearDown(ctx, intent);
    await ctx.store.update(withoutNode(r, ctx.nodeId), stored.modRevision);
    ctx.onStep?.('unmount', 'recorded');
  } catch (err) {
    throw operationFailed(`Failed to unmount volume ${r.display_name}`, err, 'the plugin finishes it in the background (and before the next Mount of this volume); its log names the step that failed');
  }
  ctx.logger.info({ volume: r.display_name, mountDir: intent.mountDir }, 'volume unmounted');
  await dropMountIntent(ctx, intent);
}

/** A device of this host that no record holds (reconcile at start), and the arrays that may export it here. */
export interface OrphanDevice {
  id: string;
  /** The Docker name, or the array name when no record is left. */
  name: string;
  backend: string;
  arrayName: string;
  attachment: Attachment;
  arrays: ArrayRole[];
}

/**
 * Detaches an orphan and removes this host's VLUNs of it on every array it names, behind an Unmount intent: an
 * array that does not answer (a Peer Persistence target that is down) fails it and leaves the intent, which the
 * background repair and the next start finish (settleMountIntent) once it answers.
 */
export async function releaseOrphan(ctx: MountContext, o: OrphanDevice): Promise<void> {
  const intent: MountIntent = { v: 1, op: 'unmount', ...o, node: ctx.nodeId, mountDir: ctx.data.mountDirOf({ '3par_vol_name': o.arrayName }), started: ctx.now().toISOString() };
  await ctx.mountIntents.write(intent);
  try {
    await tearDown(ctx, intent);
  } catch (err) {
    throw operationFailed(`Failed to release ${o.arrayName} (no record holds it) on the ${o.arrays.join(' and the ')} array${o.arrays.length === 1 ? '' : 's'}; its Unmount intent is kept`, err, 'the plugin finishes it in the background once the arrays answer, and at its next start');
  }
  await dropMountIntent(ctx, intent);
}

export function withoutNode(r: VolumeRecord, node: string): VolumeRecord {
  const { [node]: _gone, ...others } = r.node_mount_info ?? {};
  const next: VolumeRecord = { ...r, path_info: null };
  if (Object.keys(others).length > 0) next.node_mount_info = others;
  else delete next.node_mount_info;
  return next;
}

/** The arrays a mount was exported from (records written before `exported_from`: the backend's own). */
function exportedFrom(p: PathInfo | null): ArrayRole[] {
  const arrays = typeof p === 'object' && p !== null && Array.isArray(p.exported_from) ? p.exported_from.filter((a) => a === 'primary' || a === 'replication target') : [];
  return arrays.length > 0 ? arrays : ['primary'];
}

export function attachmentOf(p: PathInfo | null): Attachment | undefined {
  const a = p?.device_info as Attachment | undefined;
  return a !== undefined && typeof a.device === 'string' && typeof a.transport === 'string' ? a : undefined;
}

/**
 * Takes down what an intent names on this host and the arrays, each step idempotent: unmount (when mounted),
 * detach, remove this host's VLUNs on each array it names (and the host entry when it has none left there).
 */
async function tearDown(ctx: MountContext, intent: MountIntent): Promise<void> {
  const env = ctx.data.env;
  await ctx.data.fs.unmount(intent.mountDir, { removeDir: true });
  ctx.onStep?.(intent.op, 'unmounted');
  const arrays = intent.arrays ?? ['primary'];
  const backend = ctx.backends.arraysFor(intent.backend, arrays);
  const requests = await Promise.all(arrays.map((role) => ctx.data.exportRequest(backend, intent.arrayName, role)));
  if (intent.attachment !== undefined) {
    await transportFor(intent.attachment.transport, env).detach(intent.attachment);
  } else {
    // Crashed between the attach and the intent's update: attach is idempotent (it finds a device already there
    // and makes none when the export is gone), so attaching again names the device to detach.
    const connection = await ctx.data.export(backend, requests[0]!, arrays[0]);
    const transport = ctx.data.transportFor(backend, connection, arrays[0]);
    await transport.detach(await transport.attach(connection));
  }
  ctx.onStep?.(intent.op, 'detached');
  for (const [i, role] of arrays.entries()) await ctx.data.unexport(backend, requests[i]!, role);
  ctx.onStep?.(intent.op, 'unexported');
}

/** Awaited inside the lock: an intent still there when the lock is released would look abandoned. */
async function dropMountIntent(ctx: MountContext, intent: MountIntent): Promise<void> {
  try {
    await ctx.mountIntents.remove(intent);
  } catch (err) {
    ctx.logger.warn({ volume: intent.name, err: describe(err) }, 'mount intent not deleted; the next request on the volume or a repair settles it');
  }
}

/**
 * Settles an intent no running operation owns (the caller holds the volume's lock): a Mount that reached its record
 * is complete; any other Mount is rolled back; an Unmount is finished (Docker was told it was done, or will ask again
 * and find nothing to do).
 */
export async function settleMountIntent(ctx: MountContext, intent: MountIntent): Promise<string> {
  if (intent.op === 'takeover') {
    const from = intent.from ?? [];
    const alive = (await Promise.all(from.map((n) => ctx.isNodeAlive(n)))).some(Boolean);
    // An old holder that is alive again keeps the volume: its plugin mounts it again (exporting anew) if it must.
    if (!alive) await completeTakeover(ctx, intent);
    await ctx.mountIntents.remove(intent);
    return alive ? 'dropped takeover (old holder alive again)' : 'completed takeover';
  }
  const stored = await ctx.store.getById(intent.id);
  const held = stored?.record.node_mount_info?.[ctx.nodeId] !== undefined && stored.record.path_info !== null;
  if (intent.op === 'mount' && held) {
    await ctx.mountIntents.remove(intent);
    return 'completed mount';
  }
  await tearDown(ctx, intent);
  if (intent.op === 'unmount' && stored?.record.node_mount_info?.[ctx.nodeId] !== undefined) {
    await ctx.store.update(withoutNode(stored.record, ctx.nodeId), stored.modRevision);
  }
  await ctx.mountIntents.remove(intent);
  return intent.op === 'mount' ? 'rolled back mount' : 'completed unmount';
}

// ----- takeover -------------------------------------------------------------------------------------------------

/**
 * Takes the volume from nodes whose plugins are dead (the caller checked, holding the volume's lock): intent →
 * fence (their VLUNs removed on every array their mount was exported from, so they can no longer write) → record (they leave `node_mount_info`,
 * their `path_info` moves to `old_path_info` for their own cleanup) → intent deleted. The Mount then proceeds as a
 * first mount. A crash at any step is settled by settleMountIntent.
 */
export async function takeOver(ctx: MountContext, stored: StoredVolume, from: string[]): Promise<StoredVolume> {
  const intent: MountIntent = { ...mountIntentOf(ctx, stored.record, 'takeover', exportedFrom(stored.record.path_info)), from };
  // A takeover that cannot fence is refused before its intent is written: nothing is left to settle.
  const plan = await fencePlan(ctx, intent, stored);
  try {
    await ctx.mountIntents.write(intent);
    ctx.onStep?.('takeover', 'intent');
    const taken = await completeTakeover(ctx, intent, plan);
    await dropMountIntent(ctx, intent);
    if (taken === undefined) throw new VolumeRequestError(`Volume ${stored.record.display_name} does not exist: cannot mount it`, 'check the name with `docker volume ls`');
    return taken;
  } catch (err) {
    if (err instanceof VolumeRequestError) throw err;
    throw operationFailed(`Failed to take volume ${stored.record.display_name} over from ${from.join(', ')}`, err, 'the plugin finishes or drops the takeover in the background; mount again');
  }
}

/**
 * Fences on every array the old holders' mount was exported from; while the backend's own array is down, on the
 * replication target of a group failed over there (drTakeoverArrays), or refused.
 */
async function completeTakeover(ctx: MountContext, intent: MountIntent, planned?: FencePlan): Promise<StoredVolume | undefined> {
  const stored = await ctx.store.getById(intent.id);
  const { backend, arrays, unfenced } = planned ?? (await fencePlan(ctx, intent, stored));
  const fenced: string[] = [];
  for (const role of arrays) fenced.push(...(await ctx.data.fence(backend, await ctx.data.exportRequest(backend, intent.arrayName, role), role)));
  ctx.onStep?.('takeover', 'fenced');
  if (stored === undefined) return undefined;
  const r = stored.record;
  const leaving = (intent.from ?? []).filter((n) => r.node_mount_info?.[n] !== undefined);
  if (leaving.length === 0) return stored;
  let next: VolumeRecord = r;
  const old: [string, PathInfo][] = [...(r.old_path_info ?? []).filter(([n]) => !leaving.includes(n))];
  for (const n of leaving) {
    if (r.path_info !== null) old.push([n, r.path_info]);
    next = withoutNode(next, n);
  }
  const taken = await ctx.store.update({ ...next, old_path_info: old }, stored.modRevision);
  ctx.onStep?.('takeover', 'recorded');
  ctx.logger.warn({ volume: r.display_name, from: leaving, fencedHosts: [...new Set(fenced)], arrays, by: ctx.nodeId }, 'volume taken over from a node whose plugin is not alive');
  if (unfenced !== undefined) {
    ctx.logger.warn(
      { volume: r.display_name, from: leaving, unfenced },
      `taken over while the array their mount used (${unfenced}) is down: its remote copy group was failed over to the replication target, which this host mounts; their paths to ${unfenced} were left as they are`,
    );
  }
  return taken;
}

/** The arrays a takeover fences on: those the old holders' mount was exported from, or in the DR case the target. */
interface FencePlan {
  backend: MountArrays;
  arrays: ArrayRole[];
  /** The down array the old holders' paths lead to, left unfenced (the DR case). */
  unfenced?: string;
}

async function fencePlan(ctx: MountContext, intent: MountIntent, stored: StoredVolume | undefined): Promise<FencePlan> {
  const arrays = intent.arrays ?? ['primary'];
  try {
    return { backend: ctx.backends.arraysFor(intent.backend, arrays), arrays };
  } catch (err) {
    const mountable = arrays.includes('primary') ? mountableWithoutPrimary(ctx, intent.backend) : undefined;
    if (mountable === undefined || stored === undefined) throw err;
    return { backend: mountable, ...(await drTakeoverArrays(mountable, stored.record, intent.from ?? [])) };
  }
}

/** The backend's arrays for a Mount while its own array is down and its replication target answers; else undefined. */
function mountableWithoutPrimary(ctx: MountContext, backend: string): MountArrays | undefined {
  try {
    const arrays = ctx.backends.mountArrays(backend);
    return arrays.primary === undefined ? arrays : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The local side of a mount another node took over: unmount and detach on this host only (the array side was
 * fenced by the new owner; the array volume and the owner's fields are never touched), then drop this node's
 * `old_path_info` entry. The caller holds the volume's lock.
 */
async function releaseLost(ctx: MountContext, stored: StoredVolume): Promise<StoredVolume> {
  const r = stored.record;
  const lost = (r.old_path_info ?? []).filter(([n]) => n === ctx.nodeId);
  if (lost.length === 0) return stored;
  for (const [, p] of lost) {
    if (typeof p !== 'object' || p === null) continue; // the Python plugin kept path_info as a JSON string
    await ctx.data.fs.unmount(p.mount_dir, { removeDir: true });
    const attachment = attachmentOf(p);
    if (attachment !== undefined) await transportFor(attachment.transport, ctx.data.env).detach(attachment);
  }
  const rest = (r.old_path_info ?? []).filter(([n]) => n !== ctx.nodeId);
  const next: VolumeRecord = { ...r };
  if (rest.length > 0) next.old_path_info = rest;
  else delete next.old_path_info;
  const updated = await ctx.store.update(next, stored.modRevision);
  ctx.logger.warn({ volume: r.display_name, mountDirs: lost.map(([, p]) => p.mount_dir) }, 'volume was taken over by another node; its mount here was released (unmounted and detached on this host only)');
  return updated;
}

/** Whether this node has a takeover's local cleanup to do for the volume. */
export function lostHere(ctx: MountContext, r: VolumeRecord): boolean {
  return (r.old_path_info ?? []).some(([n]) => n === ctx.nodeId);
}
