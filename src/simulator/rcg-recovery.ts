/**
 * Remote copy groups' disaster-recovery actions, `POST /remotecopygroups/<g> {action}`, with python-3parclient's
 * numbers (RcgRecoveryActions). Roles follow the array's: 1 primary, 2 secondary, 3 primary-rev, 4 secondary-rev
 * (`roleReversed` true for 3 and 4):
 *   failover 7 (change to primary), on a secondary: it becomes primary-rev (read-write), its targets stopped;
 *                                  the old primary is not touched (it may be down);
 *   recover 6 (change direction), on a primary-rev: the peer becomes secondary-rev; replication runs from here,
 *                                  both started;
 *   restore 10 (natural direction), on a primary-rev whose peer is secondary-rev: here secondary, then the peer
 *                                  primary (natural direction again), both started;
 *   switchover 8 (migrate group), on a started primary: here secondary-rev, then the peer primary-rev, both
 *                                  started.
 * Data: the simulator does not mirror writes as they happen. It copies every volume's file from the side that
 * was the source to the other when the roles change (failover pulls from the old primary when it still answers;
 * the others push to the peer) and on sync (PUT action 5), so after a failover the new primary's volumes hold
 * what the old primary's held. Both simulators' state folders must share one parent folder (they find each
 * other's files through `simulatorVolumeFile`, relative to it).
 * The private body field `simulatorTransitionMs` holds restore and reverse between their two halves (answered
 * after the first; timed on the simulator's clock, dropped by stop()): meanwhile neither side is primary, as on an
 * array whose role change is under way. The private
 * field `simulatorPeer: {role, started}` is the peer's own call setting its side.
 */
import { RcgRecoveryActions, RcgRoles, RcgStates, WsapiCodes, type RemoteCopyGroup } from '../array/index.js';
import type { SimContext } from './context.js';
import { copySparse } from './disk.js';
import { badRequest } from './errors.js';
import type { SimResponse } from './router.js';
import type { SimRcg, SimRcgTarget } from './state.js';
import { allowOnly, optionalBool, optionalEnum, optionalInt, optionalObject, optionalString, requireBody, type Body } from './validate.js';

const roleNames: Record<number, string> = { 1: 'primary', 2: 'secondary', 3: 'primary-rev', 4: 'secondary-rev' };

export function isRoleReversed(role: number): boolean {
  return role === RcgRoles.PRIMARY_REV || role === RcgRoles.SECONDARY_REV;
}

/** The file of a peer's group volume entry (`simulatorVolumeFile`, relative to the parent of its state folder). */
function peerFile(peer: RemoteCopyGroup, volume: string | undefined): string | undefined {
  const entry = peer.volumes.find((p) => p.localVolumeName === volume) as { simulatorVolumeFile?: unknown } | undefined;
  return typeof entry?.simulatorVolumeFile === 'string' ? entry.simulatorVolumeFile : undefined;
}

function refuse(g: SimRcg, action: string, needs: string): never {
  throw badRequest(WsapiCodes.INV_INPUT, `invalid operation: remote copy group '${g.name}' is ${roleNames[g.role] ?? g.role}; ${action} needs ${needs}`, 'action');
}

function setSide(g: SimRcg, role: number, started: boolean): void {
  g.role = role;
  for (const t of g.targets) t.state = started ? RcgStates.STARTED : RcgStates.STOPPED;
}

function targetOf(ctx: SimContext, g: SimRcg, name: string | undefined): SimRcgTarget {
  const t = name === undefined ? g.targets[0] : g.targets.find((x) => x.targetName === name);
  if (t === undefined) throw badRequest(WsapiCodes.INV_INPUT, `invalid input: group '${g.name}' has no target '${name ?? ''}'`, 'targetName');
  if (!ctx.peers.has(t.targetName)) throw badRequest(WsapiCodes.INV_INPUT, `invalid input: unknown remote copy target '${t.targetName}' (the simulator was started without it in remoteTargets)`, 'targetName');
  return t;
}

async function peerGroup(ctx: SimContext, g: SimRcg, t: SimRcgTarget): Promise<RemoteCopyGroup> {
  return ctx.peers.call(t.targetName, (c) => c.getRemoteCopyGroup(g.remoteGroupName));
}

async function setPeerSide(ctx: SimContext, g: SimRcg, t: SimRcgTarget, role: number, started: boolean): Promise<void> {
  await ctx.peers.call(t.targetName, (c) => c.request('POST', `/remotecopygroups/${encodeURIComponent(g.remoteGroupName)}`, { simulatorPeer: { role, started } }));
}

/** Copies each volume's data between this side and the peer (`push`: here → peer). */
export async function copyGroupData(ctx: SimContext, g: SimRcg, t: SimRcgTarget, peer: RemoteCopyGroup, direction: 'push' | 'pull'): Promise<void> {
  for (const v of g.volumes) {
    const remoteName = v.remoteVolumes.find((r) => r.targetName === t.targetName)?.remoteVolumeName;
    const file = peerFile(peer, remoteName);
    if (file === undefined) continue;
    const here = ctx.files.path(v.localVolumeName);
    const there = ctx.files.resolveRelative(file);
    if (direction === 'push') await copySparse(here, there);
    else await copySparse(there, here);
  }
}

/** The second half of a two-sided role change: at once, or after the transition the caller asked for. */
async function afterTransition(ctx: SimContext, ms: number, step: () => Promise<void>): Promise<void> {
  if (ms === 0) return step();
  // The caller had its answer; a peer that fails here leaves the group in transition, as on an array.
  ctx.later.after(ms, () =>
    step().then(
      () => ctx.save(),
      () => undefined,
    ),
  );
}

export async function recoverGroup(ctx: SimContext, g: SimRcg, raw: unknown): Promise<SimResponse> {
  const body = requireBody(raw);
  if (body['simulatorPeer'] !== undefined) return peerSide(g, body);
  allowOnly(body, ['action', 'targetName', 'skipStart', 'skipSync', 'discardNewData', 'skipPromote', 'noSnapshot', 'stopGroups', 'localGroupsDirection', 'simulatorTransitionMs']);
  const action = optionalEnum(body, 'action', Object.values(RcgRecoveryActions));
  if (action === undefined) throw badRequest(WsapiCodes.INV_INPUT_BAD_ENUM_VALUE, "invalid input: bad enum value for 'action' (the simulator has recover 6, failover 7, switchover 8, restore 10)", 'action');
  const targetName = optionalString(body, 'targetName', 31);
  for (const k of ['skipStart', 'skipSync', 'discardNewData', 'skipPromote', 'noSnapshot', 'stopGroups', 'localGroupsDirection']) optionalBool(body, k);
  const transitionMs = optionalInt(body, 'simulatorTransitionMs', 0, 600_000) ?? 0;

  switch (action) {
    case RcgRecoveryActions.FAILOVER: {
      if (g.role !== RcgRoles.SECONDARY) refuse(g, 'failover', 'a secondary group');
      const t = g.targets.find((x) => targetName === undefined || x.targetName === targetName);
      if (t !== undefined && ctx.peers.has(t.targetName)) {
        // The old primary's data as of now, when it still answers; otherwise what the last copy left here.
        const peer = await peerGroup(ctx, g, t).catch(() => undefined);
        if (peer !== undefined) await copyGroupData(ctx, g, t, peer, 'pull');
      }
      setSide(g, RcgRoles.PRIMARY_REV, false);
      return { status: 200 };
    }
    case RcgRecoveryActions.RECOVER: {
      if (g.role !== RcgRoles.PRIMARY_REV) refuse(g, 'recover', 'a primary-rev group (after failover)');
      const t = targetOf(ctx, g, targetName);
      await copyGroupData(ctx, g, t, await peerGroup(ctx, g, t), 'push');
      await setPeerSide(ctx, g, t, RcgRoles.SECONDARY_REV, true);
      setSide(g, RcgRoles.PRIMARY_REV, true);
      return { status: 200 };
    }
    case RcgRecoveryActions.RESTORE: {
      if (g.role !== RcgRoles.PRIMARY_REV) refuse(g, 'restore', 'a primary-rev group (after failover and recover)');
      const t = targetOf(ctx, g, targetName);
      const peer = await peerGroup(ctx, g, t);
      if (peer.role !== RcgRoles.SECONDARY_REV) refuse(g, 'restore', `its peer '${peer.name}' secondary-rev (recover first); the peer is ${roleNames[peer.role] ?? peer.role}`);
      await copyGroupData(ctx, g, t, peer, 'push');
      setSide(g, RcgRoles.SECONDARY, true);
      await afterTransition(ctx, transitionMs, () => setPeerSide(ctx, g, t, RcgRoles.PRIMARY, true));
      return { status: 200 };
    }
    default: {
      if (g.role !== RcgRoles.PRIMARY) refuse(g, 'switchover (migrate group, 8)', 'a primary group');
      if (!g.targets.some((x) => x.state === RcgStates.STARTED)) refuse(g, 'switchover (migrate group, 8)', 'a started group');
      const t = targetOf(ctx, g, targetName);
      await copyGroupData(ctx, g, t, await peerGroup(ctx, g, t), 'push');
      setSide(g, RcgRoles.SECONDARY_REV, true);
      await afterTransition(ctx, transitionMs, () => setPeerSide(ctx, g, t, RcgRoles.PRIMARY_REV, true));
      return { status: 200 };
    }
  }
}

function peerSide(g: SimRcg, body: Body): SimResponse {
  allowOnly(body, ['simulatorPeer']);
  const side = optionalObject(body, 'simulatorPeer', ['role', 'started'])!;
  const role = optionalEnum(side, 'role', Object.values(RcgRoles));
  if (role === undefined) throw badRequest(WsapiCodes.INV_INPUT_MISSING_REQUIRED, "invalid input: missing required parameter 'role'", 'role');
  setSide(g, role, optionalBool(side, 'started') ?? false);
  return { status: 200 };
}
