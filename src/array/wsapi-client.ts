/**
 * `WsapiClient`: the session and the volume endpoints, plus the endpoints of the mount data path: volume
 * metadata (objectKeyValues), hosts, VLUNs and ports.
 */
import { HpeError } from '../errors.js';
import { WsapiError } from './wsapi-errors.js';
import { queryString, wsapiPath } from './wsapi-session.js';
import { WsapiVolumeEndpoints } from './wsapi-volume-endpoints.js';
import {
  PortLinkStates,
  PortModes,
  PortProtocols,
  PortTypes,
  type CreateHostParams,
  type CreateVlunParams,
  type Host,
  type KeyValue,
  type ModifyHostParams,
  type Port,
  type PortPos,
  type Vlun,
  type VlunLocation,
} from './wsapi-types.js';

/** Parses `/api/v1/vluns/vol,lun,host[,n:s:p]` (host empty for a port-only VLUN). */
export function parseVlunLocation(location: string): VlunLocation {
  const spec = decodeURIComponent(location.replace(/^.*\/vluns\//, ''));
  const [volumeName = '', lunText = '', hostname = '', port] = spec.split(',');
  const lun = Number(lunText);
  if (volumeName === '' || !Number.isInteger(lun)) {
    throw new HpeError(`unexpected VLUN location "${location}"`, 'report this as a bug of hpedockerplugin');
  }
  const out: VlunLocation = { volumeName, lun, location: spec };
  if (hostname !== '') out.hostname = hostname;
  const m = port === undefined ? null : /^(\d+):(\d+):(\d+)$/.exec(port);
  if (m) out.portPos = { node: Number(m[1]), slot: Number(m[2]), cardPort: Number(m[3]) };
  return out;
}

/** Ready iSCSI target ports: where the host's initiator logs in (portal `IPAddr`:3260, target `iSCSIName`). */
export function readyIscsiTargetPorts(ports: readonly Port[]): Port[] {
  return ports.filter(
    (p) => p.mode === PortModes.TARGET && p.linkState === PortLinkStates.READY && p.protocol === PortProtocols.ISCSI,
  );
}

/** Ready FC host-facing target ports. */
export function readyFcTargetPorts(ports: readonly Port[]): Port[] {
  return ports.filter(
    (p) =>
      p.mode === PortModes.TARGET &&
      p.linkState === PortLinkStates.READY &&
      p.protocol === PortProtocols.FC &&
      (p.type === undefined || p.type === PortTypes.HOST),
  );
}

export class WsapiClient extends WsapiVolumeEndpoints {
  // ----- volume metadata ------------------------------------------------------------------------------------

  /** Sets a key (≤31 characters) to a value (≤31): POST, or PUT when the key exists. */
  async setVolumeMetadata(volume: string, key: string, value: string): Promise<void> {
    try {
      await this.request('POST', wsapiPath`/volumes/${volume}/objectKeyValues`, { key, value });
    } catch (err) {
      if (!(err instanceof WsapiError) || err.status !== 409) throw err;
      await this.request('PUT', wsapiPath`/volumes/${volume}/objectKeyValues/${key}`, { value });
    }
  }

  getVolumeMetadata(volume: string, key: string): Promise<KeyValue> {
    return this.getObject<KeyValue>(wsapiPath`/volumes/${volume}/objectKeyValues/${key}`);
  }

  getAllVolumeMetadata(volume: string): Promise<KeyValue[]> {
    return this.getMembers<KeyValue>(wsapiPath`/volumes/${volume}/objectKeyValues`);
  }

  async deleteVolumeMetadata(volume: string, key: string): Promise<void> {
    await this.request('DELETE', wsapiPath`/volumes/${volume}/objectKeyValues/${key}`);
  }

  // ----- hosts ----------------------------------------------------------------------------------------------

  getHost(name: string): Promise<Host> {
    return this.getObject<Host>(wsapiPath`/hosts/${name}`);
  }

  getHosts(): Promise<Host[]> {
    return this.getMembers<Host>('/hosts');
  }

  /** The hosts owning any of these initiators (`FCPaths[wwn==a OR wwn==b] OR iSCSIPaths[name==iqn]`). */
  queryHosts(initiators: { iscsiNames?: readonly string[]; fcWwns?: readonly string[] }): Promise<Host[]> {
    const parts: string[] = [];
    if (initiators.fcWwns?.length) parts.push(`FCPaths[${initiators.fcWwns.map((w) => `wwn==${w}`).join(' OR ')}]`);
    if (initiators.iscsiNames?.length) parts.push(`iSCSIPaths[${initiators.iscsiNames.map((n) => `name==${n}`).join(' OR ')}]`);
    if (parts.length === 0) return Promise.resolve([]);
    return this.getMembers<Host>(`/hosts${queryString(parts.join(' OR '))}`);
  }

  /** Creates the host and returns it as the array now describes it. */
  async createHost(params: CreateHostParams): Promise<Host> {
    await this.request('POST', '/hosts', params);
    return this.getHost(params.name);
  }

  async modifyHost(name: string, changes: ModifyHostParams): Promise<void> {
    await this.request('PUT', wsapiPath`/hosts/${name}`, changes);
  }

  async deleteHost(name: string): Promise<void> {
    await this.request('DELETE', wsapiPath`/hosts/${name}`);
  }

  // ----- VLUNs and ports ------------------------------------------------------------------------------------

  async createVlun(params: CreateVlunParams): Promise<VlunLocation> {
    const { lun, ...rest } = params;
    const body = lun === 'auto' ? { ...rest, lun: 0, autoLun: true, maxAutoLun: 0 } : { ...rest, lun };
    const res = await this.request('POST', '/vluns', body);
    const location = res.headers.location;
    if (typeof location !== 'string') throw this.protocolError('POST /vluns', 'the answer has no Location header', true);
    return parseVlunLocation(location);
  }

  /** `DELETE /vluns/vol,lun[,host][,n:s:p]` (host empty for a port-only VLUN). */
  async deleteVlun(volumeName: string, lun: number, hostname?: string, portPos?: PortPos): Promise<void> {
    let path = wsapiPath`/vluns/${volumeName},${lun}`;
    if (hostname !== undefined || portPos !== undefined) path += wsapiPath`,${hostname ?? ''}`;
    if (portPos !== undefined) path += `,${portPos.node}:${portPos.slot}:${portPos.cardPort}`;
    await this.request('DELETE', path);
  }

  /** All VLUNs, templates (`active: false`) and active paths alike. */
  getVluns(): Promise<Vlun[]> {
    return this.getMembers<Vlun>('/vluns');
  }

  /** The VLUNs of a volume; empty when it has none (the python client raised its own 404). */
  async getVolumeVluns(volumeName: string): Promise<Vlun[]> {
    if ((await this.features()).vlunQuery) return this.getMembers<Vlun>(`/vluns${queryString(`volumeName EQ ${volumeName}`)}`);
    return (await this.getVluns()).filter((v) => v.volumeName === volumeName);
  }

  /** The VLUNs of a host; empty when it has none. */
  async getHostVluns(hostname: string): Promise<Vlun[]> {
    if ((await this.features()).vlunQuery) return this.getMembers<Vlun>(`/vluns${queryString(`hostname EQ ${hostname}`)}`);
    return (await this.getVluns()).filter((v) => v.hostname === hostname);
  }

  getPorts(): Promise<Port[]> {
    return this.getMembers<Port>('/ports');
  }
}
