/**
 * Array steps shared by the flows: deleting a volume whatever holds it (VV sets, a running copy), and
 * dismantling everything a plugin volume may have on the array (remote copy membership with its secondary,
 * VV set membership, the plugin's own `vvs-` set, the volume). Every step tolerates "already gone" (404), so
 * `dismantle` is idempotent: remove uses it, and repair uses it to roll back a create cut short.
 */
import { RcgRoles, RcgStates, TaskStatuses, WsapiCodes, type RemoteCopyGroup, type WsapiClient } from '../../array/index.js';
import type { Logger } from '../../log.js';
import type { Backends, ReadyBackend, ReplicationTarget } from '../backends/backends.js';
import { VolumeOperationError, describe, failedWith, hasAnyCode, isStatus } from './failures.js';
import { removeScheduleOf } from './schedule.js';

const BUSY_TEXT = 'The volume is currently busy on the 3PAR and cannot be deleted at this time. You can try again later.';

/** Runs `fn`; a 404 (object already gone) counts as done. */
export async function ignoringMissing(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (!isStatus(err, 404)) throw err;
  }
}

export async function getGroup(client: WsapiClient, name: string): Promise<RemoteCopyGroup | undefined> {
  try {
    return await client.getRemoteCopyGroup(name);
  } catch (err) {
    if (isStatus(err, 404)) return undefined;
    throw err;
  }
}

/**
 * The backend's replication target, reached through its own session (one GET /system) before an operation that
 * needs it changes anything: an outage since its last call marks it FAILED here, and the operation is refused
 * with its reason instead of failing half-way on the primary. Undefined when the backend has no target.
 */
export async function reachTarget(backends: Backends, name: string): Promise<ReplicationTarget | undefined> {
  const target = backends.replicationTarget(name);
  if (target === undefined) return undefined;
  try {
    await target.client.getSystem();
  } catch (err) {
    // A transport error or a refused login has just marked the target FAILED: this throws its error.
    backends.replicationTarget(name);
    throw new VolumeOperationError(`replication target ${target.device.backendId} (${target.array}) of backend ${name} did not answer: ${describe(err)}`, 'check the replication target array', { cause: err });
  }
  return target;
}

export function isStarted(group: RemoteCopyGroup): boolean {
  return group.targets.some((t) => t.state === RcgStates.STARTED || t.state === RcgStates.STARTING);
}

export function hasVolume(group: RemoteCopyGroup, arrayName: string): boolean {
  return group.volumes.some((v) => v.localVolumeName === arrayName);
}

/** Cancels the copies writing into `name` (a clone still being copied). */
async function stopCopiesInto(client: WsapiClient, name: string): Promise<void> {
  await client.stopOfflinePhysicalCopy(name).catch(() => undefined);
  const tasks = await client.getTasks();
  for (const t of tasks) {
    if (t.status === TaskStatuses.ACTIVE && (t.name === name || t.name.endsWith(` ${name}`))) await client.cancelTask(t.id).catch(() => undefined);
  }
}

/** Removes `name` from every VV set that holds it (one GET of all sets). */
async function leaveAllSets(client: WsapiClient, name: string): Promise<void> {
  for (const set of await client.getVolumeSets()) {
    if (set.setmembers?.includes(name)) await ignoringMissing(() => client.removeVolumesFromSet(set.name, [name]));
  }
}

/**
 * `DELETE /volumes/<name>`, as upstream: 404 is done; 409 code 34 (in a VV set) → leave the sets and retry;
 * busy (151, or 400 code 29 for an online copy) → stop the copy into it and retry; still busy → upstream's text.
 */
export async function deleteArrayVolume(client: WsapiClient, name: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await client.deleteVolume(name);
      return;
    } catch (err) {
      if (isStatus(err, 404)) return;
      const inSet = hasAnyCode(err, WsapiCodes.IN_USE);
      const busy = hasAnyCode(err, WsapiCodes.VV_BUSY, 29, 32);
      if (attempt === 1 && inSet) {
        await leaveAllSets(client, name);
        continue;
      }
      if (attempt === 1 && busy) {
        await stopCopiesInto(client, name);
        continue;
      }
      if (busy) throw failedWith(BUSY_TEXT, err, { what: `deleting ${name}`, fix: 'wait for the task on the volume to finish, then remove it again', retryable: true });
      throw err;
    }
  }
}

export interface DismantleSpec {
  arrayName: string;
  /** Docker name, for messages. */
  name: string;
  qosSet?: string | null;
  ownSet?: string | undefined;
  rcg?: { name: string; deleteIfEmpty: boolean } | undefined;
  /** Remove refuses a group that is not primary here (upstream); a rollback does not care. */
  requirePrimary?: boolean;
  /** A scheduled snapshot's schedule, removed first over the array's SSH CLI (upstream's `removesched -f`). */
  schedule?: string;
}

/**
 * Takes `spec.arrayName` off the array with everything the plugin attached to it, in reverse order of
 * creation: a snapshot schedule, remote copy (stop the group, remove the volume and its secondary, then delete the group when empty
 * and allowed, else start it again), VV sets, the plugin's `vvs-` set, the volume. Idempotent.
 * The caller holds the volume's lock and, with `rcg`, the group's.
 */
export async function dismantle(backend: ReadyBackend, spec: DismantleSpec, logger: Pick<Logger, 'warn'>): Promise<void> {
  const client = backend.primary.client;
  if (spec.schedule !== undefined) await removeScheduleOf(backend, spec.schedule, spec.name);
  if (spec.rcg !== undefined) await leaveGroup(backend, spec, spec.rcg, logger);
  if (spec.qosSet) await ignoringMissing(() => client.removeVolumesFromSet(spec.qosSet!, [spec.arrayName]));
  if (spec.ownSet !== undefined) {
    await ignoringMissing(() => client.removeVolumesFromSet(spec.ownSet!, [spec.arrayName]));
    await ignoringMissing(() => client.deleteVolumeSet(spec.ownSet!));
  }
  await deleteArrayVolume(client, spec.arrayName);
}

async function leaveGroup(backend: ReadyBackend, spec: DismantleSpec, rcg: { name: string; deleteIfEmpty: boolean }, logger: Pick<Logger, 'warn'>): Promise<void> {
  const client = backend.primary.client;
  const group = await getGroup(client, rcg.name);
  if (group !== undefined) {
    if (spec.requirePrimary && group.role !== RcgRoles.PRIMARY) {
      const fix = `the group is not primary on ${backend.primary.array} (role ${group.role}): fail it back, or remove the volume on the array that is primary`;
      throw new VolumeOperationError(
        `Error: Failed to delete volume: ${spec.arrayName} as rcg: ${rcg.name} do not have valid role (volume ${spec.name} on backend ${backend.name}; array ${backend.primary.array}: remote copy group ${rcg.name} has role ${group.role}; fix: ${fix})`,
        fix,
      );
    }
    const started = isStarted(group);
    const member = hasVolume(group, spec.arrayName);
    if (member) {
      if (started) await client.stopRemoteCopy(rcg.name);
      await ignoringMissing(() => client.removeVolumeFromRemoteCopyGroup(rcg.name, spec.arrayName, { removeSecondaryVolume: true }));
    }
    const remaining = group.volumes.length - (member ? 1 : 0);
    if (remaining === 0 && rcg.deleteIfEmpty) {
      if (started && !member) await client.stopRemoteCopy(rcg.name).catch(() => undefined);
      await ignoringMissing(() => client.deleteRemoteCopyGroup(rcg.name, { keepSnap: false }));
    } else if (member && started && remaining > 0) {
      await client.startRemoteCopy(rcg.name);
    }
  }
  // A secondary left behind (a crash between its creation and its admission): it carries our uuid, so it is ours.
  const target = backend.target;
  if (target !== undefined) {
    try {
      await target.client.deleteVolume(spec.arrayName);
    } catch (err) {
      if (!isStatus(err, 404)) logger.warn({ volume: spec.name, array: target.array, err: describe(err) }, 'secondary volume left on the replication target');
    }
  }
}
