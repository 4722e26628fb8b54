/**
 * The pure rules of exporting a volume to this host (no I/O): the array's name for this host, the CHAP
 * credentials, which target ports a volume is exported on, and the error when there is none.
 */
import { randomInt } from 'node:crypto';
import { HpeError } from '../errors.js';
import { readyFcTargetPorts, readyIscsiTargetPorts } from './wsapi-client.js';
import { PortProtocols, type Host, type Port, type PortPos, type SystemInfo } from './wsapi-types.js';

export type ExportTransport = 'iscsi' | 'fc';

/** This host's initiators: iSCSI names (IQNs) and FC HBA port WWNs. */
export interface HostInitiators {
  iscsiNames: string[];
  fcWwns: string[];
}

/** Volume metadata keys where upstream kept a volume's CHAP credentials (so volumes it exported stay readable). */
export const ChapMetadataKeys = { NAME: 'HPQ-docker-CHAP-name', SECRET: 'HPQ-docker-CHAP-secret' } as const;

/** The part of `GET /system`'s model that only the project's simulator reports (not HPE's own 3PAR simulator). */
export const SimulatorModelMarker = 'Simulator (hpedockerplugin)';

const maxNameLength = 31;
const chapSecretLength = 16;
const chapSecretAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Upstream's `_safe_hostname`: the hostname cut at its first `.`, then to 31 characters. */
export function arrayHostName(hostname: string): string {
  const dot = hostname.indexOf('.');
  return (dot < 0 ? hostname : hostname.slice(0, dot)).slice(0, maxNameLength);
}

/**
 * The CHAP user name: the full hostname, as upstream. It is also stored as volume metadata, whose values hold
 * at most 31 characters, so a longer hostname falls back to the array's host name (upstream failed there).
 */
export function chapUsername(hostname: string): string {
  return hostname.length <= maxNameLength ? hostname : arrayHostName(hostname);
}

/** A new random CHAP secret of 16 letters and digits (the array accepts 12 to 16 characters). */
export function newChapSecret(): string {
  let out = '';
  for (let i = 0; i < chapSecretLength; i++) out += chapSecretAlphabet[randomInt(chapSecretAlphabet.length)];
  return out;
}

/** The initiators the transport uses; an array keeps WWNs upper-case without colons. */
export function transportInitiators(initiators: HostInitiators, transport: ExportTransport): string[] {
  return transport === 'iscsi' ? [...initiators.iscsiNames] : initiators.fcWwns.map(normalizeWwn);
}

function normalizeWwn(wwn: string): string {
  return wwn.replace(/:/g, '').toUpperCase();
}

/** The initiators the host does not have yet (IQNs compared without case, WWNs without colons or case). */
export function missingPaths(host: Host, transport: ExportTransport, initiators: readonly string[]): string[] {
  if (transport === 'iscsi') {
    const have = new Set(host.iSCSIPaths.map((p) => p.name.toLowerCase()));
    return initiators.filter((n) => !have.has(n.toLowerCase()));
  }
  const have = new Set(host.FCPaths.map((p) => normalizeWwn(p.wwn)));
  return initiators.filter((w) => !have.has(normalizeWwn(w)));
}

export function samePortPos(a: PortPos | undefined, b: PortPos | undefined): boolean {
  return a !== undefined && b !== undefined && a.node === b.node && a.slot === b.slot && a.cardPort === b.cardPort;
}

function nspText(p: PortPos): string {
  return `${p.node}:${p.slot}:${p.cardPort}`;
}

/** Why a volume cannot be exported to this host; names the volume and what was seen. */
export class ExportError extends HpeError {
  readonly volume: string;

  constructor(volume: string, message: string, fix: string) {
    super(message, fix);
    this.volume = volume;
  }
}

function describePorts(ports: readonly Port[], protocol: 'iSCSI' | 'FC'): string {
  if (ports.length === 0) return `the array has no ${protocol} port`;
  const state = (p: Port): string => (readyIscsiTargetPorts([p]).length + readyFcTargetPorts([p]).length > 0 ? 'ready target' : `mode ${p.mode} linkState ${p.linkState}`);
  const id = (p: Port): string => (protocol === 'iSCSI' ? (p.IPAddr ?? 'no IP') : (p.portWWN ?? 'no WWN'));
  return `${protocol} ports seen: ${ports.map((p) => `${nspText(p.portPos)} ${id(p)} (${state(p)})`).join(', ')}`;
}

/**
 * The ready iSCSI target ports whose IP is one of `hpe3par_iscsi_ips`; with no IPs configured, every ready
 * iSCSI target port. None → ExportError naming the volume, the IPs and the ports seen.
 */
export function iscsiExportPorts(volume: string, ports: readonly Port[], iscsiIps: readonly string[] | undefined): Port[] {
  const ready = readyIscsiTargetPorts(ports);
  const configured = iscsiIps ?? [];
  const chosen = configured.length === 0 ? ready : ready.filter((p) => p.IPAddr !== undefined && configured.includes(p.IPAddr));
  if (chosen.length > 0) return chosen;
  const wanted = configured.length === 0 ? 'no ready iSCSI target port' : `no ready iSCSI target port has an IP in hpe3par_iscsi_ips (${configured.join(', ')})`;
  throw new ExportError(
    volume,
    `cannot export volume ${volume} over iSCSI: ${wanted}; ${describePorts(ports.filter((p) => p.protocol === PortProtocols.ISCSI), 'iSCSI')}`,
    "set hpe3par_iscsi_ips in hpe.conf to the IPs of the array's ready iSCSI target ports (showport -iscsi), or bring those ports online, then restart the plugin",
  );
}

/**
 * The ready FC target ports this host's initiators are logged in to (the nsp of the host's FCPaths, as
 * upstream). None → ExportError naming the volume, the initiators and the ports seen.
 */
export function fcExportPorts(volume: string, ports: readonly Port[], host: Host): Port[] {
  const seen = host.FCPaths.flatMap((p) => (p.portPos === undefined ? [] : [p.portPos]));
  const chosen = readyFcTargetPorts(ports).filter((p) => seen.some((s) => samePortPos(s, p.portPos)));
  if (chosen.length > 0) return chosen;
  const wwns = host.FCPaths.map((p) => p.wwn).join(', ') || 'none';
  throw new ExportError(
    volume,
    `cannot export volume ${volume} over FC: no ready FC target port sees host ${host.name} (its WWNs: ${wwns}); ${describePorts(ports.filter((p) => p.protocol === PortProtocols.FC), 'FC')}`,
    "zone this host's HBA ports with the array's FC target ports and check that they are logged in (showhost -d on the array)",
  );
}

/** The request has no initiator for its transport, so the array cannot be told who this host is. */
export function noInitiatorError(volume: string, transport: ExportTransport): ExportError {
  return transport === 'iscsi'
    ? new ExportError(volume, `cannot export volume ${volume} over iSCSI: this host has no iSCSI initiator name`, 'install open-iscsi and set InitiatorName in /etc/iscsi/initiatorname.iscsi')
    : new ExportError(volume, `cannot export volume ${volume} over FC: this host has no FC HBA port`, 'check the HBA and its driver (ls /sys/class/fc_host), or use the iSCSI driver in hpe.conf');
}

/** `GET /system` says this is the project's simulator (its volumes are files a host attaches, not LUNs). */
export function isSimulator(system: Pick<SystemInfo, 'model'>): boolean {
  return system.model.includes(SimulatorModelMarker);
}
