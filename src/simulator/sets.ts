/**
 * Volume sets (create 400 101 if the name is taken; members must exist, 404 23; 404 77 for an unknown set;
 * flashCachePolicy needs the flash-cache build) and their QoS rules (`/qos`, `vvset:<set>` or
 * `sys:all_others`; 404 100 unknown, 400 114 exists). A set with a QoS rule cannot be deleted (409 34): the
 * rule is cleared first, as the reference says. Adding a member twice or removing a non-member is a no-op.
 */
import { randomUUID } from 'node:crypto';
import { WsapiCodes } from '../array/index.js';
import { collection, nextId, volumeOr404, volumeSetOr404, type SimContext } from './context.js';
import { badRequest, conflict, notFound } from './errors.js';
import type { Router, SimResponse } from './router.js';
import type { SimQosRule, SimVolumeSet } from './state.js';
import {
  allowOnly,
  checkName,
  optionalBool,
  optionalEnum,
  optionalInt,
  optionalString,
  optionalStringList,
  requireBody,
  requireInt,
  type Body,
} from './validate.js';

function renderSet(ctx: SimContext, s: SimVolumeSet): Record<string, unknown> {
  const rule = ctx.state.qosRules.get(`vvset:${s.name}`);
  const out: Record<string, unknown> = { id: s.id, uuid: s.uuid, name: s.name, qosEnabled: rule !== undefined && rule.fields['enable'] !== false };
  if (s.comment !== undefined) out['comment'] = s.comment;
  if (s.domain !== undefined) out['domain'] = s.domain;
  if (s.members.length > 0) out['setmembers'] = s.members;
  if (s.flashCachePolicy !== undefined) out['flashCachePolicy'] = s.flashCachePolicy;
  return out;
}

function checkMembers(ctx: SimContext, body: Body): string[] | undefined {
  const members = optionalStringList(body, 'setmembers');
  return members?.map((m) => volumeOr404(ctx, checkName(m, 'setmembers')).name);
}

function createSet(ctx: SimContext, raw: unknown): SimResponse {
  const body = requireBody(raw);
  allowOnly(body, ['name', 'domain', 'comment', 'setmembers']);
  const name = checkName(body['name'], 'name');
  const domain = optionalString(body, 'domain', 31);
  const comment = optionalString(body, 'comment', 255);
  const members = checkMembers(ctx, body);
  if (ctx.state.volumeSets.has(name)) throw badRequest(WsapiCodes.EXISTENT_SET, `volume set '${name}' exists`);
  const set: SimVolumeSet = { id: nextId(ctx, 'set'), uuid: randomUUID(), name, members: [...new Set(members ?? [])] };
  if (domain !== undefined) set.domain = domain;
  if (comment !== undefined) set.comment = comment;
  ctx.state.volumeSets.set(name, set);
  return { status: 201, location: `/api/v1/volumesets/${name}` };
}

function modifySet(ctx: SimContext, set: SimVolumeSet, raw: unknown): SimResponse {
  const body = requireBody(raw);
  allowOnly(body, ['action', 'setmembers', 'newName', 'comment', 'flashCachePolicy']);
  const action = optionalEnum(body, 'action', [1, 2]);
  const members = checkMembers(ctx, body);
  const newName = body['newName'] === undefined ? undefined : checkName(body['newName'], 'newName');
  const comment = optionalString(body, 'comment', 255);
  const flashCachePolicy = optionalEnum(body, 'flashCachePolicy', [1, 2]);
  if (action !== undefined && members === undefined) throw badRequest(WsapiCodes.INV_INPUT_MISSING_REQUIRED, "invalid input: missing required parameter 'setmembers'", 'setmembers');
  if (action === undefined && members !== undefined) throw badRequest(WsapiCodes.INV_INPUT_MISSING_REQUIRED, "invalid input: missing required parameter 'action'", 'action');
  if (newName !== undefined && members !== undefined) throw badRequest(WsapiCodes.INV_INPUT_PARAM_CONFLICT, 'invalid input: newName and setmembers cannot be given together', 'newName,setmembers');
  if (flashCachePolicy !== undefined && !ctx.features.flashCache) {
    throw badRequest(WsapiCodes.INV_INPUT, "invalid input: unknown parameter 'flashCachePolicy' (needs a newer WSAPI build)", 'flashCachePolicy');
  }
  if (newName !== undefined && newName !== set.name && ctx.state.volumeSets.has(newName)) throw badRequest(WsapiCodes.EXISTENT_SET, `volume set '${newName}' exists`);
  if (action === 1) set.members = [...new Set([...set.members, ...members!])];
  if (action === 2) set.members = set.members.filter((m) => !members!.includes(m));
  if (comment !== undefined) set.comment = comment;
  if (flashCachePolicy !== undefined) set.flashCachePolicy = flashCachePolicy;
  if (newName !== undefined && newName !== set.name) {
    const rule = ctx.state.qosRules.get(`vvset:${set.name}`);
    if (rule !== undefined) {
      ctx.state.qosRules.delete(`vvset:${set.name}`);
      rule.name = newName;
      ctx.state.qosRules.set(`vvset:${newName}`, rule);
    }
    ctx.state.volumeSets.delete(set.name);
    set.name = newName;
    ctx.state.volumeSets.set(newName, set);
  }
  return { status: 200 };
}

const qosNumberKeys = ['bwMinGoalKB', 'bwMaxLimitKB', 'ioMinGoal', 'ioMaxLimit', 'latencyGoal', 'latencyGoaluSecs'] as const;
const qosOpKeys = ['bwMinGoalOP', 'bwMaxLimitOP', 'ioMinGoalOP', 'ioMaxLimitOP'] as const;

/** The rule's settings: numbers ≥0, priority 1..3, *OP 1 (zero) / 2 (no limit), enable, defaultLatency. */
function checkQosFields(body: Body): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of qosNumberKeys) {
    const v = optionalInt(body, k, 0);
    if (v !== undefined) out[k] = v;
  }
  for (const k of qosOpKeys) {
    const v = optionalEnum(body, k, [1, 2]);
    if (v !== undefined) out[k] = v;
  }
  const priority = optionalEnum(body, 'priority', [1, 2, 3]);
  if (priority !== undefined) out['priority'] = priority;
  for (const k of ['enable', 'defaultLatency'] as const) {
    const v = optionalBool(body, k);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

function renderRule(r: SimQosRule): Record<string, unknown> {
  const { enable, ...rest } = r.fields;
  return { id: r.id, name: r.name, type: r.type, enabled: enable !== false, ...rest };
}

function ruleOr404(ctx: SimContext, target: string): SimQosRule {
  const r = ctx.state.qosRules.get(target);
  if (r === undefined) throw notFound(WsapiCodes.NON_EXISTENT_QOS_RULE, `QoS rule '${target}' does not exist`);
  return r;
}

function createRule(ctx: SimContext, raw: unknown): SimResponse {
  const body = requireBody(raw);
  allowOnly(body, ['name', 'type', 'priority', 'enable', 'defaultLatency', ...qosNumberKeys, ...qosOpKeys]);
  const name = checkName(body['name'], 'name');
  const type = requireInt(body, 'type');
  if (type !== 1 && type !== 2) throw badRequest(WsapiCodes.INV_INPUT_BAD_ENUM_VALUE, "invalid input: bad enum value for 'type'", 'type');
  const fields = checkQosFields(body);
  if (type === 1) volumeSetOr404(ctx, name);
  if (type === 2 && name !== 'all_others') throw badRequest(WsapiCodes.INV_INPUT, "invalid input: a system rule is named 'all_others'", 'name');
  const key = `${type === 1 ? 'vvset' : 'sys'}:${name}`;
  if (ctx.state.qosRules.has(key)) throw badRequest(WsapiCodes.EXISTENT_QOS_RULE, `QoS rule '${key}' exists`);
  ctx.state.qosRules.set(key, { id: nextId(ctx, 'qos'), name, type, fields });
  return { status: 201, location: `/api/v1/qos/${key}` };
}

export function registerSets(router: Router, ctx: SimContext): void {
  const set = (params: Record<string, string>) => volumeSetOr404(ctx, checkName(params['name'], 'name'));

  router.on('GET', '/volumesets', () => ({ status: 200, body: collection([...ctx.state.volumeSets.values()].map((s) => renderSet(ctx, s))) }));
  router.on('GET', '/volumesets/:name', (req) => ({ status: 200, body: renderSet(ctx, set(req.params)) }));
  router.on('POST', '/volumesets', (req) => createSet(ctx, req.body));
  router.on('PUT', '/volumesets/:name', (req) => modifySet(ctx, set(req.params), req.body));
  router.on('DELETE', '/volumesets/:name', (req) => {
    const s = set(req.params);
    if (ctx.state.qosRules.has(`vvset:${s.name}`)) throw conflict(WsapiCodes.IN_USE, `volume set '${s.name}' has a QoS rule; delete the rule first`);
    ctx.state.volumeSets.delete(s.name);
    return { status: 200 };
  });

  router.on('GET', '/qos', () => ({ status: 200, body: collection([...ctx.state.qosRules.values()].map(renderRule)) }));
  router.on('GET', '/qos/:target', (req) => ({ status: 200, body: renderRule(ruleOr404(ctx, req.params['target']!)) }));
  router.on('POST', '/qos', (req) => createRule(ctx, req.body));
  router.on('PUT', '/qos/:target', (req) => {
    const rule = ruleOr404(ctx, req.params['target']!);
    const body = requireBody(req.body);
    allowOnly(body, ['priority', 'enable', 'defaultLatency', ...qosNumberKeys, ...qosOpKeys]);
    rule.fields = { ...rule.fields, ...checkQosFields(body) };
    return { status: 200 };
  });
  router.on('DELETE', '/qos/:target', (req) => {
    ruleOr404(ctx, req.params['target']!);
    ctx.state.qosRules.delete(req.params['target']!);
    return { status: 200 };
  });
}
