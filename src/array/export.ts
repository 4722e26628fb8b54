/**
 * The array side of attaching a volume to this host (upstream's create_export + initialize_connection) and of
 * detaching it (terminate_connection), over one WsapiClient session:
 *   export:   GET /volumes/<v>, GET /ports → GET /cpgs/<userCPG> (domain) → GET /hosts/<short hostname>, else
 *             GET /hosts?query=<initiators>, else POST /hosts (persona 2, Generic-ALUA); PUT /hosts (add missing
 *             paths); iSCSI+CHAP: secret from a volume this host already sees (metadata HPQ-docker-CHAP-secret)
 *             or a new one, both keys on the volume, PUT /hosts chapOperation; POST /vluns on each chosen port
 *             (first autoLun, then the same LUN), reusing this host's VLUNs of the volume.
 *   unexport: DELETE this host's VLUNs of the volume, its CHAP keys (iSCSI), and the host once no VLUN remains.
 * Both are idempotent. The CHAP secret never appears in an error: array answers are scrubbed of it.
 */
import { HpeError } from '../errors.js';
import { registerSecret } from '../log.js';
import {
  ChapMetadataKeys,
  chapUsername,
  arrayHostName,
  fcExportPorts,
  iscsiExportPorts,
  missingPaths,
  newChapSecret,
  noInitiatorError,
  samePortPos,
  transportInitiators,
  type ExportTransport,
  type HostInitiators,
} from './export-rules.js';
import type { WsapiClient } from './wsapi-client.js';
import { HostPersonas, PathOperations, type Host, type Port, type PortPos, type Vlun, type Volume } from './wsapi-types.js';
import { WsapiCodes, WsapiError, hasCode, isNotFound } from './wsapi-errors.js';
import { maskSecrets } from '../mask.js';

export * from './export-rules.js';

export interface ExportRequest {
  /** The array volume name (dcv-… / dcs-…). */
  volume: string;
  /** This host's name; the array's host is named after it (arrayHostName) and CHAP uses it whole. */
  hostname: string;
  initiators: HostInitiators;
  /** From the backend's hpedockerplugin_driver. */
  transport: ExportTransport;
  /** hpe3par_iscsi_ips: export only on ready iSCSI target ports with these IPs (none given: every ready one). */
  iscsiIps?: string[];
  /** hpe3par_iscsi_chap_enabled. */
  chap?: boolean;
}

export interface UnexportRequest {
  volume: string;
  hostname: string;
  initiators: HostInitiators;
  transport: ExportTransport;
}

export interface IscsiTarget {
  /** `ip:3260`. */
  portal: string;
  iqn: string;
}

/**
 * What the host needs to attach the volume. `simulatorVolumeFile` comes only from the project's simulator:
 * the volume's backing file, relative to the parent folder of the simulator's state folder.
 */
export type Connection =
  | {
      transport: 'iscsi';
      wwn: string;
      lun: number;
      targets: IscsiTarget[];
      chap?: { username: string; secret: string };
      simulatorVolumeFile?: string;
    }
  | { transport: 'fc'; wwn: string; lun: number; targetWwns: string[]; simulatorVolumeFile?: string };

/** A VLUN entry as the simulator sends it (arrays never send `simulatorVolumeFile`). */
type ListedVlun = Vlun & { simulatorVolumeFile?: unknown };

const iscsiPortalPort = 3260;
const ChapOperations = { SET: 1 } as const;
const ChapModes = { INITIATOR: 1 } as const;

export async function exportVolume(client: WsapiClient, req: ExportRequest): Promise<Connection> {
  const secrets: string[] = [];
  try {
    return await exportSteps(client, req, secrets);
  } catch (err) {
    throw withoutSecrets(err, secrets);
  }
}

async function exportSteps(client: WsapiClient, req: ExportRequest, secrets: string[]): Promise<Connection> {
  const initiators = transportInitiators(req.initiators, req.transport);
  if (initiators.length === 0) throw noInitiatorError(req.volume, req.transport);
  const volume = await client.getVolume(req.volume);
  const allPorts = await client.getPorts();
  // iSCSI ports are chosen before the host is touched, so a wrong hpe3par_iscsi_ips leaves nothing behind.
  const iscsiPorts = req.transport === 'iscsi' ? iscsiExportPorts(volume.name, allPorts, req.iscsiIps) : undefined;
  const host = await hostWithPaths(client, arrayHostName(req.hostname), req.transport, initiators, await volumeDomain(client, volume));
  const chap = req.transport === 'iscsi' && req.chap === true ? await setChap(client, host.name, req, secrets) : undefined;
  const ports = iscsiPorts ?? fcExportPorts(volume.name, allPorts, host);
  const { lun, vluns } = await ensureVluns(client, volume.name, host.name, ports.map((p) => p.portPos));
  const file = simulatorVolumeFile(vluns);
  const sim = file === undefined ? {} : { simulatorVolumeFile: file };
  if (req.transport === 'fc') {
    return { transport: 'fc', wwn: volume.wwn, lun, targetWwns: ports.flatMap((p) => (p.portWWN === undefined ? [] : [p.portWWN])), ...sim };
  }
  return { transport: 'iscsi', wwn: volume.wwn, lun, targets: ports.map(iscsiTarget), ...(chap === undefined ? {} : { chap }), ...sim };
}

export async function unexportVolume(client: WsapiClient, req: UnexportRequest): Promise<void> {
  const hostName = await existingHostName(client, req);
  if (hostName !== undefined) {
    for (const v of templatesOf(await client.getVolumeVluns(req.volume), hostName)) {
      await ignoring(client.deleteVlun(v.volumeName, v.lun, hostName, v.portPos), isNotFound);
    }
  }
  if (req.transport === 'iscsi') {
    for (const key of Object.values(ChapMetadataKeys)) await ignoring(client.deleteVolumeMetadata(req.volume, key), isNotFound);
  }
  if (hostName !== undefined && (await client.getHostVluns(hostName)).length === 0) {
    // Another export may have put a VLUN on the host since: then the host stays.
    await ignoring(client.deleteHost(hostName), (err) => isNotFound(err) || hasCode(err, WsapiCodes.EXPORTED_VLUN));
  }
}

/**
 * Fencing for a takeover: removes the volume's VLUNs of every host but this one (`req` names this host), so a host
 * that held the volume can no longer reach it. Returns the hosts whose VLUNs were removed. Their host entries stay:
 * those hosts' own plugins remove them with their last volume.
 */
export async function fenceVolume(client: WsapiClient, req: UnexportRequest): Promise<string[]> {
  const mine = await existingHostName(client, req);
  const others = (await client.getVolumeVluns(req.volume)).filter((v): v is Vlun & { hostname: string } => !v.active && v.hostname !== undefined && v.hostname !== mine);
  for (const v of others) await ignoring(client.deleteVlun(v.volumeName, v.lun, v.hostname, v.portPos), isNotFound);
  return [...new Set(others.map((v) => v.hostname))];
}

async function volumeDomain(client: WsapiClient, volume: Volume): Promise<string | undefined> {
  if (volume.userCPG === undefined) return volume.domain;
  return (await client.getCpg(volume.userCPG)).domain;
}

async function hostOrUndefined(client: WsapiClient, name: string): Promise<Host | undefined> {
  try {
    return await client.getHost(name);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

function initiatorQuery(transport: ExportTransport, initiators: readonly string[]): { iscsiNames?: readonly string[]; fcWwns?: readonly string[] } {
  return transport === 'iscsi' ? { iscsiNames: initiators } : { fcWwns: initiators };
}

/** The host by its short name, else the host owning one of the initiators (another name), else a new one. */
async function findOrCreateHost(client: WsapiClient, name: string, transport: ExportTransport, initiators: string[], domain: string | undefined): Promise<Host> {
  const byName = await hostOrUndefined(client, name);
  if (byName !== undefined) return byName;
  const owner = (await client.queryHosts(initiatorQuery(transport, initiators)))[0];
  if (owner !== undefined) return owner;
  try {
    return await client.createHost({
      name,
      ...(transport === 'iscsi' ? { iSCSINames: initiators } : { FCWWNs: initiators }),
      persona: HostPersonas.GENERIC_ALUA,
      ...(domain === undefined ? {} : { domain }),
    });
  } catch (err) {
    // A concurrent export on this host created it first.
    if (hasCode(err, WsapiCodes.EXISTENT_HOST)) return client.getHost(name);
    const raced = hasCode(err, WsapiCodes.EXISTENT_PATH) ? (await client.queryHosts(initiatorQuery(transport, initiators)))[0] : undefined;
    if (raced !== undefined) return raced;
    throw err;
  }
}

/** The host, with every initiator of the transport added as a path (re-read, so FC paths show their ports). */
async function hostWithPaths(client: WsapiClient, name: string, transport: ExportTransport, initiators: string[], domain: string | undefined): Promise<Host> {
  const host = await findOrCreateHost(client, name, transport, initiators, domain);
  const missing = missingPaths(host, transport, initiators);
  if (missing.length === 0) return host;
  await client.modifyHost(host.name, { pathOperation: PathOperations.ADD, ...(transport === 'iscsi' ? { iSCSINames: missing } : { FCWWNs: missing }) });
  return client.getHost(host.name);
}

/** All volumes exported to one host share its CHAP secret: reuse the one stored on any of them. */
async function existingChapSecret(client: WsapiClient, hostName: string): Promise<string | undefined> {
  const volumes = [...new Set((await client.getHostVluns(hostName)).map((v) => v.volumeName))];
  for (const volume of volumes) {
    try {
      return (await client.getVolumeMetadata(volume, ChapMetadataKeys.SECRET)).value;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  return undefined;
}

async function setChap(client: WsapiClient, hostName: string, req: ExportRequest, secrets: string[]): Promise<{ username: string; secret: string }> {
  const secret = (await existingChapSecret(client, hostName)) ?? newChapSecret();
  secrets.push(secret);
  registerSecret(secret);
  const username = chapUsername(req.hostname);
  await client.setVolumeMetadata(req.volume, ChapMetadataKeys.NAME, username);
  await client.setVolumeMetadata(req.volume, ChapMetadataKeys.SECRET, secret);
  await client.modifyHost(hostName, { chapOperation: ChapOperations.SET, chapOperationMode: ChapModes.INITIATOR, chapName: username, chapSecret: secret });
  return { username, secret };
}

/** The VLUN templates (not the active paths) that give this host the volume. */
function templatesOf(vluns: readonly Vlun[], hostName: string): Vlun[] {
  return vluns.filter((v) => !v.active && v.hostname === hostName);
}

/**
 * One VLUN per port for this host, reusing those that exist; the first new one takes the array's lowest free
 * LUN unless the host already sees the volume, and the others take the same LUN. Returns the LUN and the
 * volume's VLUN entries as the array lists them afterwards.
 */
async function ensureVluns(client: WsapiClient, volumeName: string, hostName: string, ports: readonly PortPos[]): Promise<{ lun: number; vluns: ListedVlun[] }> {
  let vluns: ListedVlun[] = await client.getVolumeVluns(volumeName);
  const existing = templatesOf(vluns, hostName);
  let lun = existing[0]?.lun;
  let created = false;
  for (const portPos of ports) {
    if (existing.some((v) => samePortPos(v.portPos, portPos))) continue;
    const made = await client.createVlun({ volumeName, hostname: hostName, portPos, lun: lun ?? 'auto' });
    lun ??= made.lun;
    created = true;
  }
  if (lun === undefined) throw new HpeError(`no VLUN of volume ${volumeName} was created for host ${hostName}`, 'report this as a bug of hpedockerplugin');
  if (created) vluns = await client.getVolumeVluns(volumeName);
  return { lun, vluns };
}

function simulatorVolumeFile(vluns: readonly ListedVlun[]): string | undefined {
  const file = vluns.find((v) => typeof v.simulatorVolumeFile === 'string')?.simulatorVolumeFile;
  return typeof file === 'string' ? file : undefined;
}

function iscsiTarget(p: Port): IscsiTarget {
  return { portal: `${p.IPAddr ?? ''}:${iscsiPortalPort}`, iqn: p.iSCSIName ?? '' };
}

/** The host this host's initiators belong to on the array, else the one with its short name, if any. */
async function existingHostName(client: WsapiClient, req: UnexportRequest): Promise<string | undefined> {
  const initiators = transportInitiators(req.initiators, req.transport);
  const owner = initiators.length === 0 ? undefined : (await client.queryHosts(initiatorQuery(req.transport, initiators)))[0];
  return owner?.name ?? (await hostOrUndefined(client, arrayHostName(req.hostname)))?.name;
}

async function ignoring(call: Promise<void>, expected: (err: unknown) => boolean): Promise<void> {
  try {
    await call;
  } catch (err) {
    if (!expected(err)) throw err;
  }
}

/** An array may echo request text in its error description; the CHAP secret must not travel on in it. */
function withoutSecrets(err: unknown, secrets: readonly string[]): unknown {
  if (secrets.length === 0 || !(err instanceof Error)) return err;
  if (err instanceof WsapiError) {
    const texts = [err.desc, err.ref, err.debug1, err.debug2];
    if (!secrets.some((s) => texts.some((t) => t?.includes(s)))) return err;
    const scrub = (t: string | undefined) => (t === undefined ? undefined : maskSecrets(t, secrets));
    return new WsapiError(
      { array: err.array, call: err.call, status: err.status, code: err.code, desc: maskSecrets(err.desc, secrets), ref: scrub(err.ref), debug1: scrub(err.debug1), debug2: scrub(err.debug2) },
      err.fix,
    );
  }
  if (!secrets.some((s) => err.message.includes(s))) return err;
  return new HpeError(maskSecrets(err.message, secrets), err instanceof HpeError ? err.fix : 'see the message; retry the mount');
}
