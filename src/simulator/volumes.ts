/**
 * Volumes and virtual copies: create, get, query, modify (rename, comment, CPGs, policies), grow, delete,
 * createSnapshot. Strict where an array is: name ≤31 characters (57) of [A-Za-z0-9_.-] (69), unknown CPG (404
 * 15), duplicate name (409 22) or id (409 59), size 0 (43) or above 16 TiB (28), deletion refused while the
 * volume has a child (409 25), a VLUN or a VV set (409 34), a running copy (409 151) or a remote copy group
 * (403 120).
 */
import { CopyTypes, ProvisioningTypes, WsapiCodes, type VolumePolicies } from '../array/index.js';
import { addVolume, provisioningFrom } from './add-volume.js';
import { collection, cpgOr404, dropVolume, rcgOfVolume, volumeIdInUse, volumeOr404, type SimContext } from './context.js';
import { createPhysicalCopy } from './copies.js';
import { SimError, badRequest, conflict, forbidden } from './errors.js';
import { applyQuery } from './query.js';
import type { Router, SimResponse } from './router.js';
import type { SimVolume } from './state.js';
import { freeCapacityMiB } from './system.js';
import {
  allowOnly,
  checkName,
  optionalBool,
  optionalInt,
  optionalObject,
  optionalString,
  requireBody,
  requireInt,
  requireString,
  type Body,
} from './validate.js';

const maxVolumeSizeMiB = 16 * 1024 * 1024;
const maxHours = 43800;
const policyKeys = ['staleSS', 'oneHost', 'zeroDetect', 'system', 'caching'] as const;
const spaceLimitKeys = ['ssSpcAllocWarningPct', 'ssSpcAllocLimitPct', 'usrSpcAllocWarningPct', 'usrSpcAllocLimitPct'] as const;

function checkSize(body: Body, field = 'sizeMiB'): number {
  const size = requireInt(body, field);
  if (size <= 0) throw badRequest(WsapiCodes.INV_INPUT_EXCEEDS_RANGE, `invalid input: '${field}' must be at least 1`, field);
  if (size > maxVolumeSizeMiB) throw badRequest(WsapiCodes.TOO_LARGE, `volume size ${size} MiB exceeds the maximum of ${maxVolumeSizeMiB} MiB (16 TiB)`, field);
  return size;
}

function checkPolicies(body: Body): VolumePolicies | undefined {
  const p = optionalObject(body, 'policies', policyKeys);
  if (p === undefined) return undefined;
  const out: VolumePolicies = {};
  for (const k of policyKeys) {
    const v = optionalBool(p, k);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** Checks the fields createVolume, createSnapshot and modifyVolume share. */
function checkCommonFields(body: Body): { comment?: string; expirationHours?: number; retentionHours?: number } {
  const out: { comment?: string; expirationHours?: number; retentionHours?: number } = {};
  const comment = optionalString(body, 'comment', 511);
  if (comment !== undefined) out.comment = comment;
  const exp = optionalInt(body, 'expirationHours', 1, maxHours);
  if (exp !== undefined) out.expirationHours = exp;
  const ret = optionalInt(body, 'retentionHours', 1, maxHours);
  if (ret !== undefined) out.retentionHours = ret;
  for (const k of spaceLimitKeys) optionalInt(body, k, 0, 100);
  return out;
}

function iso(sec: number): string {
  return new Date(sec * 1000).toISOString();
}

function renderVolume(ctx: SimContext, v: SimVolume): Record<string, unknown> {
  const full = v.provisioningType === ProvisioningTypes.FULL;
  const used = full ? v.sizeMiB : ctx.files.allocatedMiB(v.name);
  const reserved = full ? v.sizeMiB : used;
  const out: Record<string, unknown> = {
    id: v.id,
    name: v.name,
    uuid: v.uuid,
    wwn: v.wwn,
    sizeMiB: v.sizeMiB,
    provisioningType: v.provisioningType,
    copyType: v.copyType,
    baseId: v.baseId,
    readOnly: v.readOnly,
    state: 1,
    policies: v.policies,
    userSpace: { reservedMiB: reserved, rawReservedMiB: reserved * 2, usedMiB: used, freeMiB: reserved - used },
    snapshotSpace: { reservedMiB: 0, rawReservedMiB: 0, usedMiB: 0, freeMiB: 0 },
    adminSpace: { reservedMiB: 0, rawReservedMiB: 0, usedMiB: 0, freeMiB: 0 },
    creationTime8601: iso(v.creationTimeSec),
    creationTimeSec: v.creationTimeSec,
  };
  if (v.copyOf !== undefined) out['copyOf'] = v.copyOf;
  if (v.userCPG !== undefined) out['userCPG'] = v.userCPG;
  if (v.snapCPG !== undefined) out['snapCPG'] = v.snapCPG;
  if (v.comment !== undefined) out['comment'] = v.comment;
  if (ctx.features.compression) out['compressionState'] = v.compression ? 1 : 2;
  if (ctx.features.dedup) out['deduplicationState'] = v.dedup ? 1 : 2;
  if (v.expirationTimeSec !== undefined) out['expirationTime8601'] = iso(v.expirationTimeSec);
  if (v.retentionTimeSec !== undefined) out['retentionTime8601'] = iso(v.retentionTimeSec);
  return out;
}

const createKeys = [
  'name', 'cpg', 'sizeMiB', 'id', 'comment', 'policies', 'snapCPG', 'tpvv', 'tdvv', 'reduce', 'compression',
  'expirationHours', 'retentionHours', ...spaceLimitKeys,
];

function createVolume(ctx: SimContext, raw: unknown): SimResponse {
  const body = requireBody(raw);
  allowOnly(body, createKeys);
  const name = checkName(body['name'], 'name');
  const cpg = requireString(body, 'cpg', 31);
  const sizeMiB = checkSize(body);
  const snapCPG = optionalString(body, 'snapCPG', 31);
  const id = optionalInt(body, 'id', 0, 65535);
  const policies = checkPolicies(body);
  const common = checkCommonFields(body);
  const prov = provisioningFrom(ctx, body, sizeMiB);
  cpgOr404(ctx, cpg);
  if (snapCPG !== undefined) cpgOr404(ctx, snapCPG);
  if (ctx.state.volumes.has(name)) throw conflict(WsapiCodes.EXISTENT_VOL, `volume '${name}' exists`);
  if (id !== undefined && volumeIdInUse(ctx, id)) throw conflict(WsapiCodes.EXISTENT_ID, `volume id ${id} is in use`);
  if (prov.provisioningType === ProvisioningTypes.FULL && sizeMiB > freeCapacityMiB(ctx)) throw badRequest(WsapiCodes.NO_SPACE, 'not enough free space for a full volume of this size');
  addVolume(ctx, {
    name,
    sizeMiB,
    ...prov,
    copyType: CopyTypes.BASE,
    userCPG: cpg,
    ...(snapCPG === undefined ? {} : { snapCPG }),
    readOnly: false,
    ...(policies === undefined ? {} : { policies }),
    ...(id === undefined ? {} : { id }),
    ...common,
  });
  return { status: 201, location: `/api/v1/volumes/${name}` };
}

export async function createSnapshot(ctx: SimContext, parentName: string, params: Body): Promise<SimResponse> {
  allowOnly(params, ['name', 'id', 'comment', 'readOnly', 'expirationHours', 'retentionHours']);
  const name = checkName(params['name'], 'name');
  const id = optionalInt(params, 'id', 0, 65535);
  const readOnly = optionalBool(params, 'readOnly') ?? false;
  const common = checkCommonFields(params);
  const parent = volumeOr404(ctx, parentName);
  if (ctx.state.volumes.has(name)) throw conflict(WsapiCodes.EXISTENT_VOL, `volume '${name}' exists`);
  if (id !== undefined && volumeIdInUse(ctx, id)) throw conflict(WsapiCodes.EXISTENT_ID, `volume id ${id} is in use`);
  const snap = addVolume(ctx, {
    name,
    sizeMiB: parent.sizeMiB,
    provisioningType: ProvisioningTypes.SNP,
    compression: parent.compression,
    dedup: parent.dedup,
    copyType: CopyTypes.VIRTUAL_COPY,
    copyOf: parent.name,
    baseId: parent.baseId,
    ...(parent.userCPG === undefined ? {} : { userCPG: parent.userCPG }),
    ...(parent.snapCPG === undefined ? {} : { snapCPG: parent.snapCPG }),
    readOnly,
    ...(id === undefined ? {} : { id }),
    ...common,
  });
  try {
    await ctx.files.copy(parent.name, snap.name, snap.sizeMiB);
  } catch (err) {
    dropVolume(ctx, snap);
    ctx.files.remove(snap.name);
    throw new SimError(500, WsapiCodes.INT_SERV_ERR, `copying the data of '${parent.name}' failed: ${(err as Error).message}`);
  }
  return { status: 201, location: `/api/v1/volumes/${name}` };
}

function refuseIfBusy(ctx: SimContext, name: string): void {
  if (ctx.copies.isBusy(name)) throw conflict(WsapiCodes.VV_BUSY, `volume '${name}' is busy: a physical copy is running`);
}

function growVolume(ctx: SimContext, v: SimVolume, body: Body): SimResponse {
  allowOnly(body, ['action', 'sizeMiB']);
  const add = requireInt(body, 'sizeMiB');
  if (add <= 0) throw badRequest(WsapiCodes.INV_INPUT_VV_GROW_SIZE, 'invalid input: the grow size must be positive', 'sizeMiB');
  if (v.copyType === CopyTypes.VIRTUAL_COPY) throw badRequest(WsapiCodes.INV_INPUT, `volume '${v.name}' is a virtual copy and cannot grow`);
  refuseIfBusy(ctx, v.name);
  const newSize = v.sizeMiB + add;
  if (newSize > maxVolumeSizeMiB) throw badRequest(WsapiCodes.TOO_LARGE, `new size ${newSize} MiB exceeds the maximum of ${maxVolumeSizeMiB} MiB (16 TiB)`, 'sizeMiB');
  if (v.provisioningType === ProvisioningTypes.FULL && add > freeCapacityMiB(ctx)) throw badRequest(WsapiCodes.NO_SPACE, 'not enough free space to grow this full volume');
  try {
    ctx.files.resize(v.name, newSize);
  } catch (err) {
    throw new SimError(400, WsapiCodes.NO_SPACE, `the simulator cannot back ${newSize} MiB with a file here (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  v.sizeMiB = newSize;
  ctx.volumeChanged(v.name);
  return { status: 200 };
}

/** Renames a volume and every reference to it (children, VLUNs, sets, groups, tasks, its file). */
function renameVolume(ctx: SimContext, v: SimVolume, newName: string): void {
  const old = v.name;
  const s = ctx.state;
  s.volumes.delete(old);
  v.name = newName;
  s.volumes.set(newName, v);
  ctx.volumeChanged(old);
  ctx.volumeChanged(newName);
  for (const o of s.volumes.values()) {
    if (o.copyOf !== old) continue;
    o.copyOf = newName;
    ctx.volumeChanged(o.name);
  }
  for (const l of s.vluns) if (l.volumeName === old) l.volumeName = newName;
  for (const set of s.volumeSets.values()) set.members = set.members.map((m) => (m === old ? newName : m));
  for (const g of s.rcgs.values()) for (const rv of g.volumes) if (rv.localVolumeName === old) rv.localVolumeName = newName;
  for (const t of s.tasks) {
    if (t.source === old) t.source = newName;
    if (t.dest === old) t.dest = newName;
  }
  ctx.files.rename(old, newName);
}

const modifyKeys = [
  'newName', 'comment', 'snapCPG', 'userCPG', 'policies', 'expirationHours', 'retentionHours', ...spaceLimitKeys,
  'rmSsSpcAllocWarning', 'rmUsrSpcAllocWarning', 'rmExpTime', 'rmSsSpcAllocLimit', 'rmUsrSpcAllocLimit',
];

function modifyVolume(ctx: SimContext, v: SimVolume, body: Body): SimResponse {
  allowOnly(body, modifyKeys);
  const newName = body['newName'] === undefined ? undefined : checkName(body['newName'], 'newName');
  const snapCPG = optionalString(body, 'snapCPG', 31);
  const userCPG = optionalString(body, 'userCPG', 31);
  const policies = checkPolicies(body);
  const common = checkCommonFields(body);
  for (const k of ['rmSsSpcAllocWarning', 'rmUsrSpcAllocWarning', 'rmExpTime', 'rmSsSpcAllocLimit', 'rmUsrSpcAllocLimit']) optionalBool(body, k);
  if (snapCPG !== undefined) cpgOr404(ctx, snapCPG);
  if (userCPG !== undefined) cpgOr404(ctx, userCPG);
  if (newName !== undefined && newName !== v.name) {
    if (ctx.state.volumes.has(newName)) throw conflict(WsapiCodes.EXISTENT_VOL, `volume '${newName}' exists`);
    refuseIfBusy(ctx, v.name);
  }
  const now = Math.floor(ctx.clock.now() / 1000);
  if (snapCPG !== undefined) v.snapCPG = snapCPG;
  if (userCPG !== undefined) v.userCPG = userCPG;
  if (policies !== undefined) v.policies = { ...v.policies, ...policies };
  if (common.comment !== undefined) v.comment = common.comment;
  if (common.expirationHours !== undefined) v.expirationTimeSec = now + common.expirationHours * 3600;
  if (common.retentionHours !== undefined) v.retentionTimeSec = now + common.retentionHours * 3600;
  if (body['rmExpTime'] === true) delete v.expirationTimeSec;
  ctx.volumeChanged(v.name);
  if (newName !== undefined && newName !== v.name) renameVolume(ctx, v, newName);
  return { status: 200 };
}

export function deleteVolume(ctx: SimContext, name: string): SimResponse {
  const v = volumeOr404(ctx, name);
  refuseIfBusy(ctx, name);
  const s = ctx.state;
  const child = [...s.volumes.values()].find((o) => o.copyOf === name);
  if (child !== undefined) throw conflict(WsapiCodes.HAS_RO_CHILD, `volume '${name}' has a child volume ('${child.name}')`);
  if (s.vluns.some((l) => l.volumeName === name)) throw conflict(WsapiCodes.IN_USE, `volume '${name}' is in use: it is exported by a VLUN`);
  const set = [...s.volumeSets.values()].find((vs) => vs.members.includes(name));
  if (set !== undefined) throw conflict(WsapiCodes.IN_USE, `volume '${name}' is in use: it is a member of volume set '${set.name}'`);
  const group = rcgOfVolume(ctx, name);
  if (group !== undefined) throw forbidden(WsapiCodes.INV_OPERATION_VV_IN_REMOTE_COPY, `volume '${name}' is in remote copy group '${group.name}'`);
  dropVolume(ctx, v);
  ctx.files.remove(v.name);
  return { status: 200 };
}

export function registerVolumes(router: Router, ctx: SimContext): void {
  const name = (params: Record<string, string>): string => checkName(params['name'], 'name');

  router.on('GET', '/volumes', (req) => {
    const all = [...ctx.state.volumes.values()].sort((a, b) => a.id - b.id).map((v) => renderVolume(ctx, v));
    return { status: 200, body: collection(applyQuery(all, req.query)) };
  });

  router.on('GET', '/volumes/:name', (req) => ({ status: 200, body: renderVolume(ctx, volumeOr404(ctx, name(req.params))) }));

  router.on('POST', '/volumes', (req) => createVolume(ctx, req.body));

  router.on('POST', '/volumes/:name', async (req) => {
    const src = name(req.params);
    const body = requireBody(req.body);
    allowOnly(body, ['action', 'parameters']);
    const action = requireString(body, 'action', 64);
    const params = body['parameters'];
    if (params === undefined) throw badRequest(WsapiCodes.INV_INPUT_MISSING_REQUIRED, "invalid input: missing required parameter 'parameters'", 'parameters');
    if (typeof params !== 'object' || params === null || Array.isArray(params)) {
      throw badRequest(WsapiCodes.INV_INPUT_WRONG_TYPE, "invalid input: 'parameters' must be an object", 'parameters');
    }
    if (action === 'createSnapshot') return createSnapshot(ctx, src, params as Body);
    if (action === 'createPhysicalCopy') return createPhysicalCopy(ctx, src, params as Body, req.user);
    throw badRequest(WsapiCodes.INV_INPUT_BAD_ENUM_VALUE, `invalid input: bad enum value for 'action': ${action}`, 'action');
  });

  router.on('PUT', '/volumes/:name', (req) => {
    const v = volumeOr404(ctx, name(req.params));
    const body = requireBody(req.body);
    if (body['action'] === undefined) return modifyVolume(ctx, v, body);
    if (body['action'] === 3) return growVolume(ctx, v, body);
    if (body['action'] === 1) {
      allowOnly(body, ['action']);
      ctx.copies.cancelCopyInto(v.name);
      return { status: 200 };
    }
    throw badRequest(WsapiCodes.INV_INPUT_BAD_ENUM_VALUE, "invalid input: bad enum value for 'action'", 'action');
  });

  router.on('DELETE', '/volumes/:name', (req) => deleteVolume(ctx, name(req.params)));
}
