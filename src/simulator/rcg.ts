/**
 * Remote copy groups. The primary side talks to each target through the target's own WSAPI (Peers):
 *  - create: name ≤25 characters (57), targets known (400 12), mode 1/2/4 (46), exists 409 237; creates the
 *    mirror group `<name>.r<systemId>` with role 2 (secondary) on every target;
 *  - admit a volume (PUT action 1, or POST .../volumes): volume 404 23, already in a group 403 120; with
 *    volumeAutoCreation the secondary volume is created on the target (same size, the target's userCPG and
 *    snapCPG), otherwise it must exist there with the same size; the target's mirror group admits it too;
 *  - dismiss (DELETE .../volumes/<v>[?removeSecondaryVolume=true], or PUT action 2): the target dismisses its
 *    side, and with removeSecondaryVolume deletes the secondary volume;
 *  - start (3) / stop (4) set the targets' state (3 started, 5 stopped) here and on the mirror group; sync (5)
 *    records the time and copies the volumes' data to the targets; delete (`?keepSnap=`) removes the mirror group
 *    too; disaster recovery (POST: failover, recover, restore, reverse) is in rcg-recovery.ts.
 * A target reaches its mirror group with the same calls; the private body field `simulatorPeer` (only on
 * create) marks the group as the secondary side, which never calls further.
 */
import { RcgRoles, RcgStates, WsapiCodes, type WsapiClient } from '../array/index.js';
import { collection, cpgOr404, isoNow, nextId, rcgOfVolume, rcgOr404, volumeOr404, type SimContext } from './context.js';
import { badRequest, conflict, forbidden, notFound } from './errors.js';
import { copyGroupData, isRoleReversed, recoverGroup } from './rcg-recovery.js';
import type { Router, SimResponse } from './router.js';
import type { SimRcg, SimRcgTarget, SimRcgVolume } from './state.js';
import {
  allowOnly,
  checkName,
  optionalBool,
  optionalEnum,
  optionalInt,
  optionalName,
  optionalObject,
  optionalString,
  queryFlag,
  requireBody,
  requireString,
  type Body,
} from './validate.js';

const maxGroupName = 25;
const modes = [1, 2, 4];
const policyKeys = ['autoRecover', 'overPeriodAlert', 'autoFailover', 'pathManagement'] as const;

function objectList(body: Body, field: string): Body[] {
  const v = body[field];
  if (v === undefined) throw badRequest(WsapiCodes.INV_INPUT_MISSING_REQUIRED, `invalid input: missing required parameter '${field}'`, field);
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'object' || x === null || Array.isArray(x))) {
    throw badRequest(WsapiCodes.INV_INPUT_WRONG_TYPE, `invalid input: '${field}' must be a list of objects`, field);
  }
  if (v.length === 0) throw badRequest(WsapiCodes.INV_INPUT_MISSING_REQUIRED, `invalid input: '${field}' is empty`, field);
  return v as Body[];
}

function groupTarget(g: SimRcg, name: string): SimRcgTarget {
  const t = g.targets.find((x) => x.targetName === name);
  if (t === undefined) throw badRequest(WsapiCodes.INV_INPUT, `invalid input: group '${g.name}' has no target '${name}'`, 'targetName');
  return t;
}

function renderGroup(ctx: SimContext, g: SimRcg): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: g.id,
    name: g.name,
    role: g.role,
    roleReversed: isRoleReversed(g.role),
    remoteGroupName: g.remoteGroupName,
    targets: g.targets.map((t) => ({ ...t, roleReversed: isRoleReversed(g.role) })),
    volumes: g.volumes.map((v) => ({
      localVolumeName: v.localVolumeName,
      localVolumeID: ctx.state.volumes.get(v.localVolumeName)?.id,
      remoteVolumes: v.remoteVolumes,
      simulatorVolumeFile: ctx.files.relativePath(v.localVolumeName),
    })),
  };
  if (g.domain !== undefined) out['domain'] = g.domain;
  if (g.localUserCPG !== undefined) out['localUserCPG'] = g.localUserCPG;
  if (g.localSnapCPG !== undefined) out['localSnapCPG'] = g.localSnapCPG;
  return out;
}

const isPrimary = (g: SimRcg): boolean => g.role === RcgRoles.PRIMARY;

async function createGroup(ctx: SimContext, raw: unknown): Promise<SimResponse> {
  const body = requireBody(raw);
  allowOnly(body, ['name', 'targets', 'localUserCPG', 'localSnapCPG', 'domain', 'simulatorPeer']);
  const peer = optionalObject(body, 'simulatorPeer', ['remoteGroupName']);
  const name = checkName(body['name'], 'name', peer === undefined ? maxGroupName : 31);
  const targets = objectList(body, 'targets').map((t): SimRcgTarget => {
    allowOnly(t, ['targetName', 'mode', 'userCPG', 'snapCPG']);
    const target: SimRcgTarget = { targetName: requireString(t, 'targetName', 31), mode: 0, state: RcgStates.NEW };
    const mode = optionalEnum(t, 'mode', modes);
    if (mode === undefined) throw badRequest(WsapiCodes.INV_INPUT_MISSING_REQUIRED, "invalid input: missing required parameter 'mode'", 'mode');
    target.mode = mode;
    const userCPG = optionalString(t, 'userCPG', 31);
    const snapCPG = optionalString(t, 'snapCPG', 31);
    if (userCPG !== undefined) target.userCPG = userCPG;
    if (snapCPG !== undefined) target.snapCPG = snapCPG;
    return target;
  });
  if (new Set(targets.map((t) => t.targetName)).size !== targets.length) throw badRequest(WsapiCodes.INV_INPUT_PARAM_CONFLICT, 'invalid input: a target is named twice', 'targets');
  const localUserCPG = optionalString(body, 'localUserCPG', 31);
  const localSnapCPG = optionalString(body, 'localSnapCPG', 31);
  const domain = optionalString(body, 'domain', 31);
  if (localUserCPG !== undefined) cpgOr404(ctx, localUserCPG);
  if (localSnapCPG !== undefined) cpgOr404(ctx, localSnapCPG);
  if (peer === undefined) {
    for (const t of targets) if (!ctx.peers.has(t.targetName)) throw badRequest(WsapiCodes.INV_INPUT, `invalid input: unknown remote copy target '${t.targetName}'`, 'targetName');
  }
  if (ctx.state.rcgs.has(name)) throw conflict(WsapiCodes.EXISTENT_RCOPY_GROUP, `remote copy group '${name}' exists`);
  const remoteGroupName = peer === undefined ? `${name}.r${ctx.state.systemId}` : requireString(peer, 'remoteGroupName', 31);
  const group: SimRcg = { id: nextId(ctx, 'rcg'), name, role: peer === undefined ? RcgRoles.PRIMARY : RcgRoles.SECONDARY, remoteGroupName, targets, volumes: [] };
  if (localUserCPG !== undefined) group.localUserCPG = localUserCPG;
  if (localSnapCPG !== undefined) group.localSnapCPG = localSnapCPG;
  if (domain !== undefined) group.domain = domain;
  ctx.state.rcgs.set(name, group);
  if (peer === undefined) {
    const done: string[] = [];
    try {
      for (const t of targets) {
        const mirror: Body = { name: remoteGroupName, targets: [{ targetName: ctx.options.systemName, mode: t.mode }], simulatorPeer: { remoteGroupName: name } };
        if (t.userCPG !== undefined) mirror['localUserCPG'] = t.userCPG;
        if (t.snapCPG !== undefined) mirror['localSnapCPG'] = t.snapCPG;
        await ctx.peers.call(t.targetName, (c) => c.request('POST', '/remotecopygroups', mirror));
        done.push(t.targetName);
      }
    } catch (err) {
      ctx.state.rcgs.delete(name);
      for (const t of done) await ctx.peers.callIgnoringMissing(t, (c) => c.deleteRemoteCopyGroup(remoteGroupName)).catch(() => undefined);
      throw err;
    }
  }
  return { status: 201, location: `/api/v1/remotecopygroups/${name}` };
}

function modifyGroup(ctx: SimContext, g: SimRcg, body: Body): SimResponse {
  allowOnly(body, ['targets', 'localUserCPG', 'localSnapCPG']);
  const localUserCPG = optionalString(body, 'localUserCPG', 31);
  const localSnapCPG = optionalString(body, 'localSnapCPG', 31);
  if (localUserCPG !== undefined) cpgOr404(ctx, localUserCPG);
  if (localSnapCPG !== undefined) cpgOr404(ctx, localSnapCPG);
  const changes = body['targets'] === undefined ? [] : objectList(body, 'targets');
  const apply: (() => void)[] = [];
  for (const t of changes) {
    allowOnly(t, ['targetName', 'remoteUserCPG', 'remoteSnapCPG', 'syncPeriod', 'rmSyncPeriod', 'mode', 'policies']);
    const target = groupTarget(g, requireString(t, 'targetName', 31));
    const userCPG = optionalString(t, 'remoteUserCPG', 31);
    const snapCPG = optionalString(t, 'remoteSnapCPG', 31);
    const syncPeriod = optionalInt(t, 'syncPeriod', 300, 31622400);
    const rmSyncPeriod = optionalBool(t, 'rmSyncPeriod');
    const mode = optionalEnum(t, 'mode', modes);
    const p = optionalObject(t, 'policies', policyKeys);
    const policies: Record<string, boolean> = {};
    for (const k of policyKeys) {
      const v = p === undefined ? undefined : optionalBool(p, k);
      if (v !== undefined) policies[k] = v;
    }
    if ((policies['autoFailover'] === true || policies['pathManagement'] === true) && (mode ?? target.mode) !== 1) {
      throw badRequest(WsapiCodes.INV_INPUT_PARAM_CONFLICT, 'invalid input: autoFailover and pathManagement (Peer Persistence) need synchronous mode', 'policies');
    }
    apply.push(() => {
      if (userCPG !== undefined) target.userCPG = userCPG;
      if (snapCPG !== undefined) target.snapCPG = snapCPG;
      if (syncPeriod !== undefined) target.syncPeriod = syncPeriod;
      if (rmSyncPeriod === true) delete target.syncPeriod;
      if (mode !== undefined) target.mode = mode;
      if (p !== undefined) target.policies = { ...target.policies, ...policies };
    });
  }
  for (const f of apply) f();
  if (localUserCPG !== undefined) g.localUserCPG = localUserCPG;
  if (localSnapCPG !== undefined) g.localSnapCPG = localSnapCPG;
  return { status: 200 };
}

/** The client calls for a secondary volume on a target, matching the primary's provisioning. */
function createSecondary(
  client: WsapiClient,
  name: string,
  cpg: string,
  snapCPG: string | undefined,
  v: { sizeMiB: number; provisioningType: number; compression: boolean },
): Promise<void> {
  return client.createVolume({
    name,
    cpg,
    sizeMiB: v.sizeMiB,
    ...(snapCPG === undefined ? {} : { snapCPG }),
    ...(v.provisioningType === 2 ? { tpvv: true } : v.provisioningType === 6 ? { tdvv: true } : {}),
    ...(v.compression ? { compression: true } : {}),
  });
}

async function admitVolume(ctx: SimContext, g: SimRcg, body: Body): Promise<SimResponse> {
  allowOnly(body, ['action', 'volumeName', 'targets', 'snapshotName', 'volumeAutoCreation', 'skipInitialSync']);
  const volumeName = checkName(body['volumeName'], 'volumeName');
  optionalName(body, 'snapshotName');
  const auto = optionalBool(body, 'volumeAutoCreation') ?? false;
  optionalBool(body, 'skipInitialSync');
  const pairs = objectList(body, 'targets').map((t) => {
    allowOnly(t, ['targetName', 'secVolumeName']);
    const target = groupTarget(g, requireString(t, 'targetName', 31));
    return { target, secVolumeName: checkName(t['secVolumeName'], 'secVolumeName') };
  });
  const vol = volumeOr404(ctx, volumeName);
  const refuseIfGrouped = (): void => {
    const other = rcgOfVolume(ctx, vol.name);
    if (other !== undefined) throw forbidden(WsapiCodes.INV_OPERATION_VV_IN_REMOTE_COPY, `volume '${vol.name}' is already in remote copy group '${other.name}'`);
  };
  refuseIfGrouped();
  if (isPrimary(g)) {
    for (const { target, secVolumeName } of pairs) {
      if (auto && target.userCPG === undefined) {
        throw badRequest(WsapiCodes.INV_INPUT_MISSING_REQUIRED, `invalid input: volumeAutoCreation needs the group's userCPG for target '${target.targetName}'`, 'volumeAutoCreation');
      }
      const peerName = target.targetName;
      if (auto) {
        await ctx.peers.call(peerName, (c) => createSecondary(c, secVolumeName, target.userCPG!, target.snapCPG, vol));
      } else {
        const remote = await ctx.peers.call(peerName, (c) => c.getVolume(secVolumeName));
        if (remote.sizeMiB !== vol.sizeMiB) {
          throw badRequest(WsapiCodes.INV_INPUT_EXCEEDS_RANGE, `secondary volume '${secVolumeName}' on '${peerName}' has ${remote.sizeMiB} MiB, the primary ${vol.sizeMiB} MiB`);
        }
      }
      try {
        await ctx.peers.call(peerName, (c) =>
          c.addVolumeToRemoteCopyGroup(g.remoteGroupName, secVolumeName, { targets: [{ targetName: ctx.options.systemName, secVolumeName: vol.name }] }),
        );
      } catch (err) {
        if (auto) await ctx.peers.callIgnoringMissing(peerName, (c) => c.deleteVolume(secVolumeName)).catch(() => undefined);
        throw err;
      }
    }
    refuseIfGrouped();
  }
  const entry: SimRcgVolume = { localVolumeName: vol.name, remoteVolumes: pairs.map((p) => ({ targetName: p.target.targetName, remoteVolumeName: p.secVolumeName })) };
  g.volumes.push(entry);
  return { status: 200 };
}

async function dismissVolume(ctx: SimContext, g: SimRcg, volumeName: string, removeSecondary: boolean): Promise<SimResponse> {
  const entry = g.volumes.find((v) => v.localVolumeName === volumeName);
  if (entry === undefined) throw notFound(WsapiCodes.NON_EXISTENT_VOL, `volume '${volumeName}' is not in remote copy group '${g.name}'`);
  if (isPrimary(g)) {
    for (const rv of entry.remoteVolumes) {
      await ctx.peers.callIgnoringMissing(rv.targetName, (c) => c.removeVolumeFromRemoteCopyGroup(g.remoteGroupName, rv.remoteVolumeName));
      if (removeSecondary) await ctx.peers.callIgnoringMissing(rv.targetName, (c) => c.deleteVolume(rv.remoteVolumeName));
    }
  }
  g.volumes = g.volumes.filter((v) => v.localVolumeName !== volumeName);
  return { status: 200 };
}

async function setState(ctx: SimContext, g: SimRcg, body: Body, state: number): Promise<SimResponse> {
  allowOnly(body, ['action', 'targetName', 'skipInitialSync', 'startingSnapshots', 'noSnapshot']);
  const targetName = optionalString(body, 'targetName', 31);
  optionalBool(body, 'skipInitialSync');
  optionalBool(body, 'noSnapshot');
  const targets = targetName === undefined ? g.targets : [groupTarget(g, targetName)];
  if (isPrimary(g)) {
    for (const t of targets) {
      await ctx.peers.call(t.targetName, (c) => c.request('PUT', `/remotecopygroups/${encodeURIComponent(g.remoteGroupName)}`, { action: state === RcgStates.STARTED ? 3 : 4 }));
    }
  }
  for (const t of targets) {
    t.state = state;
    if (state === RcgStates.STARTED) t.groupLastSyncTime = isoNow();
  }
  return { status: 200 };
}

/** Sync: the group's source side copies its volumes' data to its targets (rcg-recovery.ts). */
async function syncGroup(ctx: SimContext, g: SimRcg, body: Body): Promise<SimResponse> {
  allowOnly(body, ['action', 'noResyncSnapshot', 'targetName', 'fullSync']);
  if (g.role === RcgRoles.PRIMARY || g.role === RcgRoles.PRIMARY_REV) {
    for (const t of g.targets) {
      if (!ctx.peers.has(t.targetName)) continue;
      const peer = await ctx.peers.call(t.targetName, (c) => c.getRemoteCopyGroup(g.remoteGroupName));
      await copyGroupData(ctx, g, t, peer, 'push');
    }
  }
  for (const t of g.targets) t.groupLastSyncTime = isoNow();
  return { status: 200 };
}

async function deleteGroup(ctx: SimContext, g: SimRcg, keepSnap: boolean): Promise<SimResponse> {
  if (isPrimary(g)) {
    for (const t of g.targets) await ctx.peers.callIgnoringMissing(t.targetName, (c) => c.deleteRemoteCopyGroup(g.remoteGroupName, { keepSnap }));
  }
  ctx.state.rcgs.delete(g.name);
  return { status: 200 };
}

export function registerRcgs(router: Router, ctx: SimContext): void {
  const group = (params: Record<string, string>) => rcgOr404(ctx, checkName(params['name'], 'name'));

  router.on('GET', '/remotecopygroups', () => ({ status: 200, body: collection([...ctx.state.rcgs.values()].map((g) => renderGroup(ctx, g))) }));
  router.on('GET', '/remotecopygroups/:name', (req) => ({ status: 200, body: renderGroup(ctx, group(req.params)) }));
  router.on('POST', '/remotecopygroups', (req) => createGroup(ctx, req.body));

  router.on('PUT', '/remotecopygroups/:name', (req) => {
    const g = group(req.params);
    const body = requireBody(req.body);
    switch (body['action']) {
      case undefined:
        return modifyGroup(ctx, g, body);
      case 1:
        return admitVolume(ctx, g, body);
      case 2: {
        allowOnly(body, ['action', 'volumeName', 'keepSnap', 'removeFromTarget']);
        optionalBool(body, 'keepSnap');
        const removeFromTarget = optionalBool(body, 'removeFromTarget') ?? false;
        return dismissVolume(ctx, g, checkName(body['volumeName'], 'volumeName'), removeFromTarget);
      }
      case 3:
        return setState(ctx, g, body, RcgStates.STARTED);
      case 4:
        return setState(ctx, g, body, RcgStates.STOPPED);
      case 5:
        return syncGroup(ctx, g, body);
      default:
        throw badRequest(WsapiCodes.INV_INPUT_BAD_ENUM_VALUE, "invalid input: bad enum value for 'action' (disaster recovery actions are POST)", 'action');
    }
  });

  router.on('POST', '/remotecopygroups/:name', (req) => recoverGroup(ctx, group(req.params), req.body));

  router.on('POST', '/remotecopygroups/:name/volumes', (req) => admitVolume(ctx, group(req.params), { action: 1, ...requireBody(req.body) }));

  router.on('DELETE', '/remotecopygroups/:name/volumes/:volume', (req) => {
    queryFlag(req.query, 'keepSnap');
    const removeSecondary = queryFlag(req.query, 'removeSecondaryVolume') ?? false;
    return dismissVolume(ctx, group(req.params), checkName(req.params['volume'], 'volume'), removeSecondary);
  });

  router.on('DELETE', '/remotecopygroups/:name', (req) => deleteGroup(ctx, group(req.params), queryFlag(req.query, 'keepSnap') ?? false));
}

