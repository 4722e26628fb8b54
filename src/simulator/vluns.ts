/**
 * VLUNs. createVLUN stores a template (host + port = matched set, host only, or port only) and answers with
 * `Location: /api/v1/vluns/<vol>,<lun>,<host>[,<n:s:p>]`. Checks: volume 404 23, host 404 17, port 404 20 (or
 * 400 21 if not a target port), LUN 0..16383 (28 above), a LUN another volume already uses for that host or
 * port 409 18, `autoLun` picks the lowest free one. GET lists the templates (`active: false`) and, for hosts
 * with initiators, one `active: true` entry per initiator and port, as a real array shows logged-in paths.
 * Every entry also carries `simulatorVolumeFile`, a field only the simulator has (no array sends it): the volume's
 * backing file relative to the parent of the state folder (see VolumeFiles.relativePath), so a host can attach it.
 */
import { PortModes, PortProtocols, VlunTypes, WsapiCodes, type Port, type PortPos } from '../array/index.js';
import { collection, hostOr404, volumeOr404, type SimContext } from './context.js';
import { badRequest, conflict, notFound } from './errors.js';
import { nspOf, samePort, simPorts } from './ports.js';
import { applyQuery } from './query.js';
import type { Router, SimResponse } from './router.js';
import type { SimVlun } from './state.js';
import { allowOnly, checkName, optionalBool, optionalInt, optionalName, requireBody, requireInt, type Body } from './validate.js';

const maxLun = 16383;

function checkPortPos(value: unknown): PortPos | undefined {
  if (value === undefined) return undefined;
  const p = value as Record<string, unknown>;
  const ok =
    typeof value === 'object' &&
    value !== null &&
    Object.keys(p).every((k) => k === 'node' || k === 'slot' || k === 'cardPort') &&
    [p['node'], p['slot'], p['cardPort']].every((n) => typeof n === 'number' && Number.isInteger(n) && n >= 0);
  if (!ok) throw badRequest(WsapiCodes.INV_INPUT_PORT_SPECIFICATION, 'invalid input: portPos must be {node, slot, cardPort}', 'portPos');
  return { node: p['node'] as number, slot: p['slot'] as number, cardPort: p['cardPort'] as number };
}

function parseNsp(text: string): PortPos {
  const m = /^(\d+):(\d+):(\d+)$/.exec(text);
  if (m === null) throw badRequest(WsapiCodes.INV_INPUT_PORT_SPECIFICATION, `invalid input: bad port '${text}' (n:s:p)`);
  return { node: Number(m[1]), slot: Number(m[2]), cardPort: Number(m[3]) };
}

/** Two templates compete for LUN numbers when one host (or, without hosts, one port) would see both. */
function sameScope(a: SimVlun, hostname: string | undefined, portPos: PortPos | undefined): boolean {
  if (hostname !== undefined) {
    if (a.hostname !== hostname) return false;
    return a.portPos === undefined || portPos === undefined || samePort(a.portPos, portPos);
  }
  return a.hostname === undefined && samePort(a.portPos, portPos);
}

function createVlun(ctx: SimContext, raw: unknown): SimResponse {
  const body: Body = requireBody(raw);
  allowOnly(body, ['volumeName', 'lun', 'hostname', 'portPos', 'noVcn', 'overrideLowerPriority', 'autoLun', 'maxAutoLun']);
  const volumeName = checkName(body['volumeName'], 'volumeName');
  const hostname = optionalName(body, 'hostname');
  const portPos = checkPortPos(body['portPos']);
  const autoLun = optionalBool(body, 'autoLun') ?? false;
  optionalInt(body, 'maxAutoLun', 0, maxLun + 1);
  optionalBool(body, 'noVcn');
  optionalBool(body, 'overrideLowerPriority');
  const lun = body['lun'] === undefined && autoLun ? 0 : requireInt(body, 'lun');
  if (lun < 0) throw badRequest(WsapiCodes.INV_INPUT_EXCEEDS_RANGE, 'invalid input: lun must be at least 0', 'lun');
  if (lun > maxLun) throw badRequest(WsapiCodes.TOO_LARGE, `invalid input: lun must be at most ${maxLun}`, 'lun');
  if (hostname === undefined && portPos === undefined) throw badRequest(WsapiCodes.INV_INPUT_ONE_REQUIRED, 'invalid input: hostname or portPos is required', 'hostname,portPos');
  const volume = volumeOr404(ctx, volumeName);
  if (hostname !== undefined) hostOr404(ctx, hostname);
  if (portPos !== undefined) {
    const port = simPorts(ctx).find((p) => samePort(p.portPos, portPos));
    if (port === undefined) throw notFound(WsapiCodes.NON_EXISTENT_PORT, `port ${nspOf(portPos)} does not exist`);
    if (port.mode !== PortModes.TARGET) throw badRequest(WsapiCodes.BAD_PORT_TYPE, `port ${nspOf(portPos)} is not a target port`);
  }
  // The same volume may share its LUN across ports (multipath); only an exact duplicate competes with itself.
  const duplicate = (v: SimVlun): boolean =>
    v.volumeName === volume.name && v.hostname === hostname && (v.portPos === undefined ? portPos === undefined : samePort(v.portPos, portPos));
  const taken = (n: number): boolean =>
    ctx.state.vluns.some((v) => v.lun === n && sameScope(v, hostname, portPos) && (v.volumeName !== volume.name || duplicate(v)));
  let chosen = lun;
  if (autoLun) {
    while (chosen <= maxLun && taken(chosen)) chosen++;
    if (chosen > maxLun) throw conflict(WsapiCodes.EXISTENT_LUN, 'no free LUN left');
  } else if (taken(chosen)) {
    throw conflict(WsapiCodes.EXISTENT_LUN, `LUN ${chosen} is already in use`);
  }
  const vlun: SimVlun = { volumeName: volume.name, lun: chosen };
  if (hostname !== undefined) vlun.hostname = hostname;
  if (portPos !== undefined) vlun.portPos = portPos;
  ctx.state.vluns.push(vlun);
  const spec = `${volume.name},${chosen},${hostname ?? ''}${portPos === undefined ? '' : `,${nspOf(portPos)}`}`;
  return { status: 201, location: `/api/v1/vluns/${spec}` };
}

function vlunType(v: SimVlun): number {
  if (v.hostname !== undefined && v.portPos !== undefined) return VlunTypes.MATCHED_SET;
  return v.hostname !== undefined ? VlunTypes.HOST : VlunTypes.PORT;
}

function renderVluns(ctx: SimContext): Record<string, unknown>[] {
  const ports = simPorts(ctx);
  const out: Record<string, unknown>[] = [];
  for (const v of ctx.state.vluns) {
    const base: Record<string, unknown> = {
      lun: v.lun,
      volumeName: v.volumeName,
      type: vlunType(v),
      multipathing: 1,
      failedPathPol: 1,
      failedPathInterval: 0,
      simulatorVolumeFile: ctx.files.relativePath(v.volumeName),
    };
    if (v.hostname !== undefined) base['hostname'] = v.hostname;
    const wwn = ctx.state.volumes.get(v.volumeName)?.wwn;
    if (wwn !== undefined) base['volumeWWN'] = wwn;
    out.push({ ...base, ...(v.portPos === undefined ? {} : { portPos: v.portPos }), active: false });
    const host = v.hostname === undefined ? undefined : ctx.state.hosts.get(v.hostname);
    if (host === undefined) continue;
    const usable = (p: Port): boolean => (v.portPos === undefined || samePort(p.portPos, v.portPos));
    for (const p of ports.filter(usable)) {
      const initiators = p.protocol === PortProtocols.FC ? host.fcWwns : p.protocol === PortProtocols.ISCSI ? host.iscsiNames : [];
      for (const remoteName of initiators) out.push({ ...base, portPos: p.portPos, remoteName, active: true });
    }
  }
  return out;
}

function deleteVlun(ctx: SimContext, spec: string): SimResponse {
  const parts = spec.split(',');
  if (parts.length < 2 || parts.length > 4) throw badRequest(WsapiCodes.INV_INPUT, `invalid input: bad VLUN '${spec}' (vol,lun[,host][,n:s:p])`);
  const [vol = '', lunText = ''] = parts;
  let host = parts[2] ?? '';
  let port = parts[3];
  if (parts.length === 3 && host.includes(':')) {
    port = host;
    host = '';
  }
  if (!/^\d+$/.test(lunText)) throw badRequest(WsapiCodes.INV_INPUT_WRONG_TYPE, `invalid input: LUN '${lunText}' is not a number`);
  const lun = Number(lunText);
  const portPos = port === undefined ? undefined : parseNsp(port);
  volumeOr404(ctx, checkName(vol, 'volumeName'));
  if (host !== '') hostOr404(ctx, host);
  const i = ctx.state.vluns.findIndex(
    (v) => v.volumeName === vol && v.lun === lun && (v.hostname ?? '') === host && (portPos === undefined ? v.portPos === undefined : samePort(v.portPos, portPos)),
  );
  if (i < 0) throw notFound(WsapiCodes.NON_EXISTENT_VLUN, `VLUN '${spec}' does not exist`);
  ctx.state.vluns.splice(i, 1);
  return { status: 200 };
}

export function registerVluns(router: Router, ctx: SimContext): void {
  router.on('GET', '/vluns', (req) => ({ status: 200, body: collection(applyQuery(renderVluns(ctx), req.query)) }));
  router.on('POST', '/vluns', (req) => createVlun(ctx, req.body));
  router.on('DELETE', '/vluns/:spec', (req) => deleteVlun(ctx, req.params['spec']!));
}
