/**
 * Hosts: create (409 16 name taken, 409 73 initiator owned by another host, 400 44 both FC and iSCSI),
 * get/query (`FCPaths[wwn==..] OR iSCSIPaths[name==..]`), modify (rename, add/remove paths, CHAP), delete
 * (409 26 while it has VLUNs). WWNs are kept upper-case without colons. A host's FC WWNs show one path per FC
 * target port (as logged-in initiators do), so the FC driver finds its ports from `portPos`.
 */
import { PortProtocols, WsapiCodes } from '../array/index.js';
import { collection, hostOr404, nextId, type SimContext } from './context.js';
import { badRequest, conflict, notFound } from './errors.js';
import { simPorts } from './ports.js';
import { applyQuery } from './query.js';
import type { Router, SimResponse } from './router.js';
import type { SimHost } from './state.js';
import {
  allowOnly,
  checkName,
  optionalBool,
  optionalEnum,
  optionalInt,
  optionalObject,
  optionalString,
  optionalStringList,
  requireBody,
  requireString,
  type Body,
} from './validate.js';

const descriptorKeys = ['location', 'IPAddr', 'os', 'model', 'contact', 'comment'] as const;

function normalizeWwns(list: string[] | undefined): string[] | undefined {
  return list?.map((w) => {
    const n = w.replace(/:/g, '').toUpperCase();
    if (!/^[0-9A-F]{16}$/.test(n)) throw badRequest(WsapiCodes.INV_INPUT_WRONG_TYPE, `invalid input: WWN '${w}' is not 16 hex digits`, 'FCWWNs');
    return n;
  });
}

function checkIqns(list: string[] | undefined): string[] | undefined {
  return list?.map((n) => {
    if (n === '') throw badRequest(WsapiCodes.INV_INPUT_EMPTY_STR, 'invalid input: empty iSCSI name', 'iSCSINames');
    if (n.length > 223) throw badRequest(WsapiCodes.INV_INPUT_EXCEEDS_LENGTH, 'invalid input: iSCSI name exceeds 223 characters', 'iSCSINames');
    return n;
  });
}

function checkDescriptors(body: Body): Record<string, string> | undefined {
  const d = optionalObject(body, 'descriptors', descriptorKeys);
  if (d === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const k of descriptorKeys) {
    const v = optionalString(d, k, 255);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** Refuses initiators another host already has (409 73, naming that host). */
function refuseOwnedPaths(ctx: SimContext, self: string | undefined, wwns: string[], iqns: string[]): void {
  for (const h of ctx.state.hosts.values()) {
    if (h.name === self) continue;
    const owned = wwns.find((w) => h.fcWwns.includes(w)) ?? iqns.find((n) => h.iscsiNames.some((m) => m.toLowerCase() === n.toLowerCase()));
    if (owned !== undefined) throw conflict(WsapiCodes.EXISTENT_PATH, `initiator '${owned}' already belongs to host '${h.name}'`);
  }
}

function renderHost(ctx: SimContext, h: SimHost): Record<string, unknown> {
  const fcPorts = simPorts(ctx).filter((p) => p.protocol === PortProtocols.FC);
  const out: Record<string, unknown> = {
    id: h.id,
    name: h.name,
    persona: h.persona,
    FCPaths: h.fcWwns.flatMap((wwn) => fcPorts.map((p) => ({ wwn, portPos: p.portPos }))),
    iSCSIPaths: h.iscsiNames.map((name) => ({ name })),
    initiatorChapEnabled: h.chap.initiatorName !== undefined,
    targetChapEnabled: h.chap.targetName !== undefined,
  };
  if (h.domain !== undefined) out['domain'] = h.domain;
  if (h.descriptors !== undefined) out['descriptors'] = h.descriptors;
  if (h.chap.initiatorName !== undefined) out['initiatorChapName'] = h.chap.initiatorName;
  if (h.chap.targetName !== undefined) out['targetChapName'] = h.chap.targetName;
  return out;
}

function createHost(ctx: SimContext, raw: unknown): SimResponse {
  const body = requireBody(raw);
  allowOnly(body, ['name', 'iSCSINames', 'FCWWNs', 'NQN', 'persona', 'domain', 'forceTearDown', 'descriptors', 'id']);
  const name = checkName(body['name'], 'name');
  if (body['NQN'] !== undefined) throw badRequest(WsapiCodes.INV_INPUT, 'invalid input: NVMe hosts are not simulated', 'NQN');
  const wwns = normalizeWwns(optionalStringList(body, 'FCWWNs'));
  const iqns = checkIqns(optionalStringList(body, 'iSCSINames'));
  if (wwns !== undefined && iqns !== undefined) throw badRequest(WsapiCodes.INV_INPUT_PARAM_CONFLICT, 'invalid input: FCWWNs and iSCSINames cannot both be given', 'FCWWNs,iSCSINames');
  const persona = optionalInt(body, 'persona', 1, 15) ?? 1;
  const domain = optionalString(body, 'domain', 31);
  const descriptors = checkDescriptors(body);
  optionalBool(body, 'forceTearDown');
  const id = optionalInt(body, 'id', 0, 65535);
  if (ctx.state.hosts.has(name)) throw conflict(WsapiCodes.EXISTENT_HOST, `host '${name}' exists`);
  if (id !== undefined && [...ctx.state.hosts.values()].some((h) => h.id === id)) throw conflict(WsapiCodes.EXISTENT_ID, `host id ${id} is in use`);
  refuseOwnedPaths(ctx, undefined, wwns ?? [], iqns ?? []);
  const host: SimHost = {
    id: id ?? nextId(ctx, 'host'),
    name,
    persona,
    fcWwns: [...new Set(wwns ?? [])],
    iscsiNames: [...new Set(iqns ?? [])],
    chap: {},
  };
  if (domain !== undefined) host.domain = domain;
  if (descriptors !== undefined) host.descriptors = descriptors;
  ctx.state.hosts.set(name, host);
  return { status: 201, location: `/api/v1/hosts/${name}` };
}

function changePaths(ctx: SimContext, host: SimHost, body: Body): void {
  const wwns = normalizeWwns(optionalStringList(body, 'FCWWNs'));
  const iqns = checkIqns(optionalStringList(body, 'iSCSINames'));
  const op = optionalEnum(body, 'pathOperation', [1, 2]);
  if (wwns === undefined && iqns === undefined) return;
  if (wwns !== undefined && iqns !== undefined) throw badRequest(WsapiCodes.INV_INPUT_PARAM_CONFLICT, 'invalid input: FCWWNs and iSCSINames cannot both be given', 'FCWWNs,iSCSINames');
  if (op === undefined) throw badRequest(WsapiCodes.INV_INPUT_MISSING_REQUIRED, "invalid input: missing required parameter 'pathOperation'", 'pathOperation');
  if (op === 1) {
    refuseOwnedPaths(ctx, host.name, wwns ?? [], iqns ?? []);
    host.fcWwns = [...new Set([...host.fcWwns, ...(wwns ?? [])])];
    host.iscsiNames = [...new Set([...host.iscsiNames, ...(iqns ?? [])])];
    return;
  }
  for (const w of wwns ?? []) if (!host.fcWwns.includes(w)) throw notFound(WsapiCodes.NON_EXISTENT_PATH, `host '${host.name}' has no path '${w}'`);
  for (const n of iqns ?? []) if (!host.iscsiNames.includes(n)) throw notFound(WsapiCodes.NON_EXISTENT_PATH, `host '${host.name}' has no path '${n}'`);
  host.fcWwns = host.fcWwns.filter((w) => !wwns?.includes(w));
  host.iscsiNames = host.iscsiNames.filter((n) => !iqns?.includes(n));
}

function changeChap(host: SimHost, body: Body): void {
  const op = optionalEnum(body, 'chapOperation', [1, 2]);
  const mode = optionalEnum(body, 'chapOperationMode', [1, 2]);
  const hexSecret = optionalBool(body, 'chapSecretHex') ?? false;
  const targetOnly = optionalBool(body, 'chapRemoveTargetOnly') ?? false;
  if (op === undefined) {
    if (body['chapName'] !== undefined || body['chapSecret'] !== undefined) {
      throw badRequest(WsapiCodes.INV_INPUT_MISSING_REQUIRED, "invalid input: missing required parameter 'chapOperation'", 'chapOperation');
    }
    return;
  }
  if (host.iscsiNames.length === 0 && host.fcWwns.length > 0) throw badRequest(WsapiCodes.INV_INPUT, 'invalid input: CHAP applies to iSCSI hosts only', 'chapOperation');
  if (op === 2) {
    delete host.chap.targetName;
    delete host.chap.targetSecret;
    if (!targetOnly) {
      delete host.chap.initiatorName;
      delete host.chap.initiatorSecret;
    }
    return;
  }
  if (mode === undefined) throw badRequest(WsapiCodes.INV_INPUT_MISSING_REQUIRED, "invalid input: missing required parameter 'chapOperationMode'", 'chapOperationMode');
  const name = requireString(body, 'chapName', 255);
  const secret = requireString(body, 'chapSecret', 64);
  const ok = hexSecret ? /^[0-9a-fA-F]{24,32}$/.test(secret) : secret.length >= 12 && secret.length <= 16;
  if (!ok) throw badRequest(WsapiCodes.INV_INPUT_EXCEEDS_RANGE, 'invalid input: a CHAP secret has 12 to 16 characters (24 to 32 hex digits)', 'chapSecret');
  if (mode === 1) host.chap = { ...host.chap, initiatorName: name, initiatorSecret: secret };
  else host.chap = { ...host.chap, targetName: name, targetSecret: secret };
}

function modifyHost(ctx: SimContext, host: SimHost, raw: unknown): SimResponse {
  const body = requireBody(raw);
  allowOnly(body, [
    'newName', 'pathOperation', 'iSCSINames', 'FCWWNs', 'forcePathRemoval', 'persona', 'descriptors', 'domain',
    'chapOperation', 'chapOperationMode', 'chapName', 'chapSecret', 'chapSecretHex', 'chapRemoveTargetOnly',
  ]);
  const newName = body['newName'] === undefined ? undefined : checkName(body['newName'], 'newName');
  const persona = optionalInt(body, 'persona', 1, 15);
  const descriptors = checkDescriptors(body);
  const domain = optionalString(body, 'domain', 31);
  optionalBool(body, 'forcePathRemoval');
  if (newName !== undefined && newName !== host.name && ctx.state.hosts.has(newName)) throw conflict(WsapiCodes.EXISTENT_HOST, `host '${newName}' exists`);
  changePaths(ctx, host, body);
  changeChap(host, body);
  if (persona !== undefined) host.persona = persona;
  if (descriptors !== undefined) host.descriptors = { ...host.descriptors, ...descriptors };
  if (domain !== undefined) host.domain = domain;
  if (newName !== undefined && newName !== host.name) {
    const old = host.name;
    ctx.state.hosts.delete(old);
    host.name = newName;
    ctx.state.hosts.set(newName, host);
    for (const l of ctx.state.vluns) if (l.hostname === old) l.hostname = newName;
  }
  return { status: 200 };
}

export function registerHosts(router: Router, ctx: SimContext): void {
  const host = (params: Record<string, string>) => hostOr404(ctx, checkName(params['name'], 'name'));

  router.on('GET', '/hosts', (req) => {
    const all = [...ctx.state.hosts.values()].sort((a, b) => a.id - b.id).map((h) => renderHost(ctx, h));
    return { status: 200, body: collection(applyQuery(all, req.query)) };
  });
  router.on('GET', '/hosts/:name', (req) => ({ status: 200, body: renderHost(ctx, host(req.params)) }));
  router.on('POST', '/hosts', (req) => createHost(ctx, req.body));
  router.on('PUT', '/hosts/:name', (req) => modifyHost(ctx, host(req.params), req.body));
  router.on('DELETE', '/hosts/:name', (req) => {
    const h = host(req.params);
    if (ctx.state.vluns.some((l) => l.hostname === h.name)) throw conflict(WsapiCodes.EXPORTED_VLUN, `host '${h.name}' has exported VLUNs`);
    ctx.state.hosts.delete(h.name);
    return { status: 200 };
  });
}
