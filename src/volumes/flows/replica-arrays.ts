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
 */
import { RcgRoles, type RemoteCopyGroup } from '../../array/index.js';
import type { ReadyBackend } from '../backends/backends.js';
import type { ArrayRole } from '../backends/state.js';
import { VolumeRequestError } from '../errors.js';
import type { VolumeRecord } from '../store/records.js';
import { getGroup } from './array-ops.js';
import { describe } from './failures.js';
import type { FlowContext } from './flow.js';

/** One side of the group as read on its array: its role, or why there is none. */
export type GroupSide = Pick<RemoteCopyGroup, 'role' | 'roleReversed'> | { missing: string };

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

export function inTransition(r: VolumeRecord, backend: ReadyBackend, local: GroupSide, remote: GroupSide): VolumeRequestError {
  const rcg = r.rcg_info!;
  const target = backend.config.replication?.backendId ?? 'the replication target';
  return new VolumeRequestError(
    `Remote copy group state is in transition: ${rcg.local_rcg_name} on ${backend.primary.array} is ${sideText(local)}, ${rcg.remote_rcg_name} on ${target} is ${sideText(remote)}; volume ${r.display_name} is mounted only from the array where its group is primary`,
    `finish the failover, recover, restore or switchover of ${rcg.local_rcg_name} (\`showrcopy groups ${rcg.local_rcg_name}\` on both arrays shows the roles), then mount again`,
    { retryable: true },
  );
}

async function sideOf(read: () => Promise<RemoteCopyGroup | undefined>, where: string): Promise<GroupSide> {
  try {
    return (await read()) ?? { missing: `missing on ${where}` };
  } catch (err) {
    return { missing: `unreadable on ${where} (${describe(err)})` };
  }
}

/** The arrays to export from, the one to attach from first. */
export async function exportArrays(ctx: FlowContext, backend: ReadyBackend, r: VolumeRecord): Promise<ArrayRole[]> {
  const rcg = r.rcg_info;
  if (rcg === null || backend.config.replication === undefined) return ['primary'];
  if (backend.config.replication.quorumWitnessIp !== undefined) {
    if (backend.target !== undefined) return ['primary', 'replication target'];
    ctx.logger.warn({ volume: r.display_name, backend: backend.name }, 'Peer Persistence: the replication target is not available; exporting from the backend\'s own array only');
    return ['primary'];
  }
  const target = backend.target;
  const local = await sideOf(() => getGroup(backend.primary.client, rcg.local_rcg_name), backend.primary.array);
  const remote = target === undefined ? { missing: `unknown (replication target ${backend.config.replication.backendId} is not available)` } : await sideOf(() => getGroup(target.client, rcg.remote_rcg_name), target.array);
  const active = activeArray(local, remote);
  if (active === undefined) throw inTransition(r, backend, local, remote);
  return [active];
}
