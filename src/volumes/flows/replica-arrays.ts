/**
 * Which arrays a Mount of a replicated volume exports from (upstream §5 Mount step 4):
 *   Peer Persistence (`quorum_witness_ip` in replication_device) → both: the backend's own array first, then the
 *     replication target (when it is OK), so the host has paths to the volume wherever it is active;
 *   Active/Passive → the one array whose side of the remote copy group is primary now, read on both arrays
 *     (GET /remotecopygroups/<local_rcg_name> here, /<remote_rcg_name> on the target): role 1 primary or
 *     3 primary-rev. Both primary: the reversed side (a failover made it primary; the other has not been
 *     recovered yet). Neither (or both reversed, or both natural): the group is in transition, and the Mount is
 *     refused with both sides' roles and the fix.
 * A plain volume is exported from the backend's own array.
 * While the backend's own array is down (FAILED, or its group read fails in transport) a replicated volume needs only
 * the target: Active/Passive mounts from it when its side was failed over to primary, and otherwise is refused naming
 * the down array, the target's role and the failover that fixes it; Peer Persistence exports from the target alone.
 */
import { RcgRoles, WsapiConnectionError, type RemoteCopyGroup } from '../../array/index.js';
import type { MountArrays } from '../backends/backends.js';
import { backendNotReady, type ArrayRole } from '../backends/state.js';
import { VolumeRequestError } from '../errors.js';
import type { VolumeRecord } from '../store/records.js';
import { getGroup } from './array-ops.js';
import { describe } from './failures.js';
import type { FlowContext } from './flow.js';

/** One side of the group as read on its array: its role, or why there is none (`down`: its array does not answer). */
export type GroupSide = Pick<RemoteCopyGroup, 'role' | 'roleReversed'> | { missing: string; down?: boolean };

const roleNames: Record<number, string> = {
  [RcgRoles.PRIMARY]: 'primary',
  [RcgRoles.SECONDARY]: 'secondary',
  [RcgRoles.PRIMARY_REV]: 'primary-rev',
  [RcgRoles.SECONDARY_REV]: 'secondary-rev',
};

function isPrimary(s: GroupSide): boolean {
  return 'role' in s && (s.role === RcgRoles.PRIMARY || s.role === RcgRoles.PRIMARY_REV);
}

function isReversed(s: GroupSide): boolean {
  return 'role' in s && (s.roleReversed === true || s.role === RcgRoles.PRIMARY_REV || s.role === RcgRoles.SECONDARY_REV);
}

export function sideText(s: GroupSide): string {
  if (!('role' in s)) return s.missing;
  return `${roleNames[s.role] ?? `role ${s.role}`}${s.roleReversed === true && s.role !== RcgRoles.PRIMARY_REV && s.role !== RcgRoles.SECONDARY_REV ? ' (roleReversed)' : ''}`;
}

/** The array whose side is primary now, or undefined while the group is in transition. Pure. */
export function activeArray(local: GroupSide, remote: GroupSide): ArrayRole | undefined {
  const l = isPrimary(local);
  const r = isPrimary(remote);
  if (l && r) {
    if (isReversed(local) === isReversed(remote)) return undefined;
    return isReversed(local) ? 'primary' : 'replication target';
  }
  if (l) return 'primary';
  if (r) return 'replication target';
  return undefined;
}

/** The backend's own array as errors name it (`host:port`, as its session does), also while it is down. */
function ownArray(backend: MountArrays): string {
  return backend.primary?.array ?? new URL(backend.config.apiUrl).host;
}

export function inTransition(r: VolumeRecord, backend: MountArrays, local: GroupSide, remote: GroupSide): VolumeRequestError {
  const rcg = r.rcg_info!;
  const target = backend.config.replication?.backendId ?? 'the replication target';
  return new VolumeRequestError(
    `Remote copy group state is in transition: ${rcg.local_rcg_name} on ${ownArray(backend)} is ${sideText(local)}, ${rcg.remote_rcg_name} on ${target} is ${sideText(remote)}; volume ${r.display_name} is mounted only from the array where its group is primary`,
    `finish the failover, recover, restore or switchover of ${rcg.local_rcg_name} (\`showrcopy groups ${rcg.local_rcg_name}\` on both arrays shows the roles), then mount again`,
    { retryable: true },
  );
}

/** The Mount while the backend's own array is down and the target's side of the group is not primary. */
export function primaryArrayDown(r: VolumeRecord, backend: MountArrays, local: GroupSide, remote: GroupSide): VolumeRequestError {
  const rcg = r.rcg_info!;
  const target = backend.config.replication?.backendId ?? 'the replication target';
  return new VolumeRequestError(
    `Volume ${r.display_name} cannot be mounted: the primary array ${ownArray(backend)} of backend '${backend.name}' (remote copy group ${rcg.local_rcg_name}) is down, ${sideText(local)}; on the replication target ${target} the group ${rcg.remote_rcg_name} is ${sideText(remote)}, not primary (not failed over), so nothing was mounted`,
    `to mount from the replication target, fail the group over there: on ${target}, \`setrcopygroup failover ${rcg.remote_rcg_name}\` (3PAR CLI), then mount again; or bring ${ownArray(backend)} back`,
  );
}

async function sideOf(read: () => Promise<RemoteCopyGroup | undefined>, where: string): Promise<GroupSide> {
  try {
    return (await read()) ?? { missing: `missing on ${where}` };
  } catch (err) {
    return { missing: `unreadable on ${where} (${describe(err)})`, down: err instanceof WsapiConnectionError };
  }
}

/** The arrays to export from, the one to attach from first. */
export async function exportArrays(ctx: FlowContext, backend: MountArrays, r: VolumeRecord): Promise<ArrayRole[]> {
  const rcg = r.rcg_info;
  const replication = backend.config.replication;
  if (rcg === null || replication === undefined) {
    if (backend.primaryDown !== undefined) throw backendNotReady(backend.primaryDown);
    return ['primary'];
  }
  const log = { volume: r.display_name, backend: backend.name };
  if (replication.quorumWitnessIp !== undefined) {
    if (backend.primary === undefined) {
      ctx.logger.warn({ ...log, reason: backend.primaryDown?.reason }, `Peer Persistence: the backend's own array ${ownArray(backend)} is down; exporting from the replication target only, so this host has no paths through ${ownArray(backend)}`);
      return ['replication target'];
    }
    if (backend.target !== undefined) return ['primary', 'replication target'];
    ctx.logger.warn(log, 'Peer Persistence: the replication target is not available; exporting from the backend\'s own array only');
    return ['primary'];
  }
  const { primary, target } = backend;
  const local: GroupSide =
    primary === undefined
      ? { missing: `not answering (${backend.primaryDown?.reason ?? 'backend not OK'})`, down: true }
      : await sideOf(() => getGroup(primary.client, rcg.local_rcg_name), primary.array);
  const remote = target === undefined ? { missing: `unknown (replication target ${replication.backendId} is not available)` } : await sideOf(() => getGroup(target.client, rcg.remote_rcg_name), target.array);
  const active = activeArray(local, remote);
  if (active === undefined) throw 'down' in local && local.down === true ? primaryArrayDown(r, backend, local, remote) : inTransition(r, backend, local, remote);
  if (primary === undefined) ctx.logger.warn({ ...log, reason: backend.primaryDown?.reason }, `the backend's own array ${ownArray(backend)} is down; mounting from the replication target, where the group was failed over`);
  return [active];
}

/**
 * The arrays a takeover fences on while the backend's own array is down (`backend` has no `primary`: mountArrays()),
 * for old holders whose mount used it: the DR case. It goes ahead only for an Active/Passive volume whose group was
 * failed over to the replication target (its side primary there, read now): the target's copy then no longer takes
 * writes from the down array's, so the old holders, whose paths lead there, cannot write to the copy this host mounts.
 * They are fenced on the target (any VLUN of theirs there) and the down array is left as it is. Otherwise (Peer
 * Persistence, where both arrays serve one volume, or no failover) the takeover is refused: they cannot be fenced.
 */
export async function drTakeoverArrays(backend: MountArrays, r: VolumeRecord, from: readonly string[]): Promise<{ arrays: ArrayRole[]; unfenced: string }> {
  const rcg = r.rcg_info;
  const target = backend.target;
  const replication = backend.config.replication;
  const cannot = (why: string): VolumeRequestError =>
    new VolumeRequestError(
      `Volume ${r.display_name} cannot be taken over from ${from.join(', ')}: their mount used the primary array ${ownArray(backend)} of backend '${backend.name}', which is down, and ${why}, so they cannot be fenced and nothing was changed`,
      rcg === null || replication === undefined || target === undefined
        ? `bring ${ownArray(backend)} back, then mount again`
        : `bring ${ownArray(backend)} back, or for DR fail the group over on ${replication.backendId} (\`setrcopygroup failover ${rcg.remote_rcg_name}\`, 3PAR CLI), then mount again`,
      { retryable: true },
    );
  if (rcg === null || replication === undefined || target === undefined) throw cannot('the volume has no replicated copy this host could mount');
  if (replication.quorumWitnessIp !== undefined) throw cannot('Peer Persistence serves the volume from both arrays');
  const remote = await sideOf(() => getGroup(target.client, rcg.remote_rcg_name), target.array);
  if (!isPrimary(remote)) throw cannot(`its remote copy group ${rcg.remote_rcg_name} on ${replication.backendId} is ${sideText(remote)}, not failed over`);
  return { arrays: ['replication target'], unfenced: ownArray(backend) };
}
