/**
 * WSAPI client for HPE 3PAR / Primera arrays (and our simulator), over node:http / node:https.
 *
 * Session. One session per client, reused by every call (upstream logged in and out around each step). The
 * login is lazy (`POST /credentials`) and shared: concurrent calls wait for the same login. A call answered
 * 403 with code 6 (INV_SESS_KEY: the key expired or the array restarted) logs in again (once, shared with any
 * other call that hit the same stale key) and is sent again ONCE. Other 403s (13 PERM_DENIED, ...) go straight
 * to the caller: upstream re-logged in and retried on every 401/403, which only doubled the failing calls.
 *
 * Retries. Each call has its own attempt counter (upstream kept one on the instance and never reset it).
 * Retried, with capped exponential backoff (base·2^n, at most maxDelayMs; injectable `sleep`):
 *  - HTTP 503, for every method: the array refused the request without processing it;
 *  - a connection that could not be opened (ECONNREFUSED, EHOSTUNREACH, ...), for every method: nothing was sent;
 *  - a connection dropped after the request went out (ECONNRESET, EPIPE, socket hang up), for GET and DELETE
 *    only. A POST or PUT may then have been applied (a create, a grow by an increment, an RCG action), so it is
 *    not sent again: the caller gets a WsapiConnectionError with `outcomeUnknown` and decides (e.g. GET the
 *    object). A DELETE sent twice at worst answers 404 the second time, which callers already tolerate.
 * A timeout (no complete answer within timeoutMs) is not retried inside the call: waiting timeoutMs again
 * five times would stall the caller for minutes.
 *
 * TLS. With `caCert` (PEM) the array's certificate is verified against it (and against the URL's host name or
 * IP). Without it nothing is verified, as upstream did by default; `verifiesTls` tells callers, so a check can
 * warn about it.
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { TLSSocket } from 'node:tls';
import { HpeError } from '../errors.js';
import {
  WsapiCodes,
  WsapiConnectionError,
  WsapiError,
  WsapiTaskError,
  scrubSecrets,
  type ConnectionFailureReason,
} from './wsapi-errors.js';

// ---------------------------------------------------------------------------------------------------------------
// Constants of the protocol

/** WSAPI builds (from `GET /api`) at which features appear, as upstream and the references gate them. */
export const WsapiFeatureBuilds = {
  /** 3PAR OS 3.1.3 MU1: the oldest build the python client accepts. */
  minimum: 30103230,
  /** Deduplicated volumes (`tdvv`). */
  dedup: 30201120,
  /** Adaptive flash cache policy on VV sets. */
  flashCache: 30201200,
  /** `GET /vluns?query=` (older builds: list all and filter). */
  vlunQuery: 30201292,
  /** Compressed volumes (WSAPI 1.6). */
  compression: 30301215,
  /** Primera: `tpvv` or `reduce`, no `tdvv`/`compression` keys. */
  primera: 40000128,
} as const;

export interface WsapiFeatures {
  supported: boolean;
  dedup: boolean;
  flashCache: boolean;
  vlunQuery: boolean;
  compression: boolean;
  primera: boolean;
}

export function wsapiFeatures(build: number): WsapiFeatures {
  return {
    supported: build >= WsapiFeatureBuilds.minimum,
    dedup: build >= WsapiFeatureBuilds.dedup,
    flashCache: build >= WsapiFeatureBuilds.flashCache,
    vlunQuery: build >= WsapiFeatureBuilds.vlunQuery,
    compression: build >= WsapiFeatureBuilds.compression,
    primera: build >= WsapiFeatureBuilds.primera,
  };
}

export const SessionKeyHeader = 'X-HP3PAR-WSAPI-SessionKey';

export const ProvisioningTypes = { FULL: 1, TPVV: 2, SNP: 3, PEER: 4, UNKNOWN: 5, TDVV: 6, DDS: 7 } as const;
export const CopyTypes = { BASE: 1, PHYSICAL_COPY: 2, VIRTUAL_COPY: 3 } as const;
/** compressionState / deduplicationState of a volume. */
export const FeatureStates = { YES: 1, NO: 2, OFF: 3, NA: 4 } as const;
export const TaskStatuses = { DONE: 1, ACTIVE: 2, CANCELLED: 3, FAILED: 4 } as const;
export const PortModes = { SUSPENDED: 1, TARGET: 2, INITIATOR: 3, PEER: 4 } as const;
export const PortLinkStates = { READY: 4, OFFLINE: 10 } as const;
export const PortProtocols = { FC: 1, ISCSI: 2, FCOE: 3, IP: 4, SAS: 5, NVME: 6 } as const;
export const PortTypes = { HOST: 1, DISK: 2, FREE: 3, IPORT: 4, RCFC: 5, PEER: 6, RCIP: 7, ISCSI: 8, CNA: 9, FS: 10 } as const;
export const VlunTypes = { EMPTY: 1, PORT: 2, HOST: 3, MATCHED_SET: 4, HOST_SET: 5 } as const;
export const HostPersonas = { GENERIC: 1, GENERIC_ALUA: 2 } as const;
export const FlashCachePolicies = { ENABLED: 1, DISABLED: 2 } as const;
export const VolumeSetActions = { ADD_MEMBERS: 1, REMOVE_MEMBERS: 2 } as const;
export const PathOperations = { ADD: 1, REMOVE: 2 } as const;
export const RcgModes = { SYNC: 1, PERIODIC: 2, ASYNC: 4 } as const;
export const RcgRoles = { PRIMARY: 1, SECONDARY: 2, PRIMARY_REV: 3, SECONDARY_REV: 4 } as const;
export const RcgStates = { NEW: 1, STARTING: 2, STARTED: 3, RESTART: 4, STOPPED: 5, BACKUP: 6, FAILSAFE: 7, UNKNOWN: 8 } as const;
export const RcgActions = { ADMIT_VV: 1, DISMISS_VV: 2, START: 3, STOP: 4, SYNC: 5 } as const;

// ---------------------------------------------------------------------------------------------------------------
// What the driver reads (fields the WSAPI documents; arrays send more)

export interface WsapiVersion {
  major: number;
  minor: number;
  revision?: number;
  build: number;
}

export interface SystemInfo {
  id: number;
  name: string;
  systemVersion: string;
  model: string;
  serialNumber: string;
  IPv4Addr?: string;
  totalNodes: number;
  onlineNodes?: number[];
  clusterNodes?: number[];
  chunkletSizeMiB?: number;
  totalCapacityMiB?: number;
  allocatedCapacityMiB?: number;
  freeCapacityMiB?: number;
  licenseInfo?: { licenses?: { name: string; expiryTime8601?: string }[] };
}

export interface SpaceUsage {
  totalMiB?: number;
  usedMiB?: number;
  rawTotalMiB?: number;
  rawUsedMiB?: number;
}

export interface Cpg {
  id: number;
  uuid?: string;
  name: string;
  domain?: string;
  numFPVVs?: number;
  numTPVVs?: number;
  numTDVVs?: number;
  UsrUsage?: SpaceUsage;
  SAUsage?: SpaceUsage;
  SDUsage?: SpaceUsage;
  SDGrowth?: { incrementMiB?: number; limitMiB?: number; warningMiB?: number };
  state?: number;
}

export interface VolumePolicies {
  staleSS?: boolean;
  oneHost?: boolean;
  zeroDetect?: boolean;
  system?: boolean;
  caching?: boolean;
}

export interface VolumeSpace {
  reservedMiB?: number;
  rawReservedMiB?: number;
  usedMiB?: number;
  freeMiB?: number;
}

export interface Volume {
  id: number;
  name: string;
  uuid: string;
  wwn: string;
  sizeMiB: number;
  /** ProvisioningTypes: 1 full, 2 thin, 3 snapshot, 6 dedup. */
  provisioningType: number;
  /** CopyTypes: 1 base, 2 physical copy, 3 virtual copy (snapshot). */
  copyType: number;
  copyOf?: string;
  baseId: number;
  userCPG?: string;
  snapCPG?: string;
  readOnly: boolean;
  state: number;
  domain?: string;
  comment?: string;
  policies?: VolumePolicies;
  compressionState?: number;
  deduplicationState?: number;
  userSpace?: VolumeSpace;
  snapshotSpace?: VolumeSpace;
  adminSpace?: VolumeSpace;
  creationTime8601?: string;
  creationTimeSec?: number;
  expirationTime8601?: string;
  retentionTime8601?: string;
}

export interface Task {
  id: number;
  type: number;
  name: string;
  /** TaskStatuses: 1 done, 2 active, 3 cancelled, 4 failed. */
  status: number;
  startTime?: string;
  finishTime?: string;
  priority?: number;
  user?: string;
}

export interface PortPos {
  node: number;
  slot: number;
  cardPort: number;
}

export interface HostFcPath {
  wwn: string;
  portPos?: PortPos;
}

export interface HostIscsiPath {
  name: string;
  IPAddr?: string;
  portPos?: PortPos;
}

export interface HostDescriptors {
  location?: string;
  IPAddr?: string;
  os?: string;
  model?: string;
  contact?: string;
  comment?: string;
}

export interface Host {
  id: number;
  name: string;
  persona?: number;
  domain?: string;
  FCPaths: HostFcPath[];
  iSCSIPaths: HostIscsiPath[];
  descriptors?: HostDescriptors;
  initiatorChapEnabled?: boolean;
  initiatorChapName?: string;
  targetChapEnabled?: boolean;
  targetChapName?: string;
}

export interface Vlun {
  lun: number;
  volumeName: string;
  hostname?: string;
  portPos?: PortPos;
  /** VlunTypes: 3 host sees, 4 matched set (host + port), ... */
  type: number;
  volumeWWN?: string;
  /** The initiator (WWN or IQN) of an active VLUN. */
  remoteName?: string;
  /** false: the template (what createVLUN made); true: a path currently using it. */
  active: boolean;
  multipathing?: number;
}

/** A created VLUN as its Location header names it. */
export interface VlunLocation {
  volumeName: string;
  lun: number;
  hostname?: string;
  portPos?: PortPos;
  /** `vol,lun,host[,n:s:p]` — the Location without `/api/v1/vluns/`, as the python client returned it. */
  location: string;
}

export interface Port {
  portPos: PortPos;
  /** PortModes: 2 target. */
  mode: number;
  /** PortLinkStates: 4 ready. */
  linkState: number;
  /** PortProtocols: 1 FC, 2 iSCSI. */
  protocol: number;
  type?: number;
  label?: string;
  nodeWWN?: string;
  portWWN?: string;
  IPAddr?: string;
  iSCSIName?: string;
  iSCSIPortInfo?: { vlan?: number; iSNSAddr?: string; iSNSPort?: number; mtu?: number };
}

export interface VolumeSet {
  id: number;
  uuid?: string;
  name: string;
  comment?: string;
  domain?: string;
  setmembers?: string[];
  flashCachePolicy?: number;
  qosEnabled?: boolean;
}

export interface QosRule {
  id?: number;
  name: string;
  /** 1 vvset, 2 sys. */
  type: number;
  enabled?: boolean;
  priority?: number;
  ioMinGoal?: number;
  ioMaxLimit?: number;
  bwMinGoalKB?: number;
  bwMaxLimitKB?: number;
  latencyGoal?: number;
  defaultLatency?: boolean;
}

export interface KeyValue {
  key: string;
  value: string;
}

export interface RcgPolicies {
  autoRecover?: boolean;
  overPeriodAlert?: boolean;
  autoFailover?: boolean;
  pathManagement?: boolean;
}

export interface RcgTarget {
  targetName: string;
  /** RcgStates: 3 started, 5 stopped. */
  state: number;
  /** RcgModes: 1 sync, 2 periodic, 4 async. */
  mode: number;
  roleReversed?: boolean;
  syncPeriod?: number;
  policies?: RcgPolicies;
  groupLastSyncTime?: string;
}

export interface RcgRemoteVolume {
  targetName: string;
  remoteVolumeName: string;
  remoteVolumeID?: number;
}

export interface RcgVolume {
  localVolumeName: string;
  localVolumeID?: number;
  remoteVolumes: RcgRemoteVolume[];
}

export interface RemoteCopyGroup {
  id?: number;
  name: string;
  domain?: string;
  localUserCPG?: string;
  localSnapCPG?: string;
  /** The group's name on the target array(s). */
  remoteGroupName?: string;
  /** RcgRoles: 1 primary, 2 secondary. */
  role: number;
  roleReversed?: boolean;
  targets: RcgTarget[];
  volumes: RcgVolume[];
}

// ---------------------------------------------------------------------------------------------------------------
// What the driver sends

export interface CreateVolumeParams {
  name: string;
  cpg: string;
  sizeMiB: number;
  comment?: string;
  snapCPG?: string;
  /** Thin. The array's default (no key) is a full volume. */
  tpvv?: boolean;
  /** Deduplicated thin (3PAR; on Primera only together with compression, sent as `reduce`). */
  tdvv?: boolean;
  compression?: boolean;
  /** Primera's dedup+compression. */
  reduce?: boolean;
  id?: number;
  policies?: VolumePolicies;
  expirationHours?: number;
  retentionHours?: number;
  ssSpcAllocWarningPct?: number;
  ssSpcAllocLimitPct?: number;
  usrSpcAllocWarningPct?: number;
  usrSpcAllocLimitPct?: number;
}

export interface ModifyVolumeParams {
  newName?: string;
  comment?: string;
  snapCPG?: string;
  userCPG?: string;
  policies?: VolumePolicies;
  expirationHours?: number;
  retentionHours?: number;
}

export interface SnapshotParams {
  id?: number;
  comment?: string;
  readOnly?: boolean;
  expirationHours?: number;
  retentionHours?: number;
}

export interface PhysicalCopyParams {
  /** Online: the array creates the destination and it is usable at once. Offline: it must exist, at least as large. */
  online: boolean;
  /** Required for an online copy; dropped for an offline one (as the python client did). */
  destCPG?: string;
  snapCPG?: string;
  tpvv?: boolean;
  tdvv?: boolean;
  reduce?: boolean;
  compression?: boolean;
  saveSnapshot?: boolean;
  /** 1 high .. 3 low (offline copies). */
  priority?: number;
}

export interface CreateHostParams {
  name: string;
  iSCSINames?: string[];
  FCWWNs?: string[];
  persona?: number;
  domain?: string;
  forceTearDown?: boolean;
  descriptors?: HostDescriptors;
}

export interface ModifyHostParams {
  newName?: string;
  pathOperation?: number;
  iSCSINames?: string[];
  FCWWNs?: string[];
  forcePathRemoval?: boolean;
  persona?: number;
  descriptors?: HostDescriptors;
  /** 1 add/modify, 2 remove. */
  chapOperation?: number;
  /** 1 initiator, 2 target. */
  chapOperationMode?: number;
  chapName?: string;
  chapSecret?: string;
  chapSecretHex?: boolean;
  chapRemoveTargetOnly?: boolean;
}

export interface CreateVlunParams {
  volumeName: string;
  hostname?: string;
  portPos?: PortPos;
  /** A LUN number, or `auto` for the array's lowest free one (sent as autoLun, maxAutoLun 0, lun 0). */
  lun: number | 'auto';
  noVcn?: boolean;
  overrideLowerPriority?: boolean;
}

export interface ModifyVolumeSetParams {
  action?: number;
  setmembers?: string[];
  newName?: string;
  comment?: string;
  flashCachePolicy?: number;
}

export interface CreateRcgTarget {
  targetName: string;
  mode: number;
  userCPG?: string;
  snapCPG?: string;
}

export interface CreateRcgParams {
  /** At most 25 characters: the target's group is named `<name>.r<systemId>`. */
  name: string;
  targets: CreateRcgTarget[];
  localUserCPG?: string;
  localSnapCPG?: string;
  domain?: string;
}

export interface ModifyRcgParams {
  targets?: {
    targetName: string;
    remoteUserCPG?: string;
    remoteSnapCPG?: string;
    syncPeriod?: number;
    mode?: number;
    policies?: RcgPolicies;
  }[];
  localUserCPG?: string;
  localSnapCPG?: string;
}

export interface AddVolumeToRcgParams {
  targets: { targetName: string; secVolumeName: string }[];
  snapshotName?: string;
  volumeAutoCreation?: boolean;
  skipInitialSync?: boolean;
}

// ---------------------------------------------------------------------------------------------------------------
// The client

export interface RetryPolicy {
  /** Tries per call, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { attempts: 5, baseDelayMs: 1000, maxDelayMs: 15000 };
export const defaultTimeoutMs = 30_000;

export interface WsapiClientOptions {
  /** `https://10.0.0.5:8080/api/v1` (or `http://...:8008/api/v1` where HTTP is enabled on the array). */
  apiUrl: string;
  username: string;
  password: string;
  /** PEM text of the CA (or the array's own certificate) to verify against. Without it TLS is not verified. */
  caCert?: string;
  /** Bound on each HTTP exchange, connect and TLS handshake included. Default 30 s. */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** How the client waits between retries and task polls; tests inject a recorder. */
  sleep?: (ms: number) => Promise<void>;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface WsapiResponse<T> {
  status: number;
  headers: IncomingHttpHeaders;
  body: T;
}

export interface WaitForTaskOptions {
  /** Default 1000 ms. */
  pollIntervalMs?: number;
  /** Default 1 hour: large offline copies take long. */
  timeoutMs?: number;
}

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** One failed HTTP exchange, before it becomes a WsapiConnectionError. */
class TransportFailure extends Error {
  constructor(
    readonly reason: ConnectionFailureReason,
    readonly detail: string,
    /** The connection was established, so the request may have reached the array. */
    readonly reached: boolean,
    readonly original: unknown,
  ) {
    super(detail);
  }
}

const refusedCodes = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'EHOSTDOWN', 'ENETDOWN']);
const dnsCodes = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME']);
const idleSocketMs = 4000;

const resetCodes = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);
const tlsCodePattern = /^(ERR_TLS_|ERR_SSL_|ERR_OSSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH|EPROTO$)/;

function classify(err: unknown, reached: boolean): TransportFailure {
  const e = err as NodeJS.ErrnoException;
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = e instanceof Error ? e.message : String(err);
  const detail = code !== '' && !message.includes(code) ? `${message} (${code})` : message;
  if (refusedCodes.has(code)) return new TransportFailure('refused', detail, false, err);
  if (dnsCodes.has(code)) return new TransportFailure('dns', detail, false, err);
  if (tlsCodePattern.test(code)) return new TransportFailure('tls', detail, reached, err);
  if (resetCodes.has(code) || message === 'socket hang up') return new TransportFailure('reset', detail, reached, err);
  return new TransportFailure('other', detail, reached, err);
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The WSAPI code of an error body; numeric strings too (some front ends send them). */
function codeOf(body: unknown): number | undefined {
  if (!isRecord(body)) return undefined;
  const c = body['code'];
  if (typeof c === 'number') return c;
  if (typeof c === 'string' && /^\d+$/.test(c)) return Number(c);
  return undefined;
}

const enc = encodeURIComponent;

function queryString(expr: string): string {
  return `?query=${enc(`"${expr}"`)}`;
}

function nsp(p: PortPos): string {
  return `${p.node}:${p.slot}:${p.cardPort}`;
}

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

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class WsapiClient {
  /** The API URL as given, e.g. `https://10.0.0.5:8080/api/v1`. */
  readonly apiUrl: string;
  /** `host:port`, the name errors use for this array. */
  readonly array: string;
  /** False when the array's certificate is not checked (no caCert, or plain http). */
  readonly verifiesTls: boolean;
  readonly username: string;

  readonly #password: string;
  readonly #base: string;
  readonly #apiRoot: string;
  readonly #timeoutMs: number;
  readonly #retry: RetryPolicy;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #agent: http.Agent;
  #sessionKey: string | undefined;
  #login: Promise<string> | undefined;
  #version: WsapiVersion | undefined;
  /** Set by close(): a call cut off by it is not retried (it would re-send on a fresh socket and wait again). */
  #closed = false;

  constructor(options: WsapiClientOptions) {
    let url: URL;
    try {
      url = new URL(options.apiUrl);
    } catch {
      throw new HpeError(`"${options.apiUrl}" is not a URL`, 'write the WSAPI URL as https://<array>:8080/api/v1');
    }
    if ((url.protocol !== 'https:' && url.protocol !== 'http:') || !/\/api\/v\d+\/?$/.test(url.pathname)) {
      throw new HpeError(`"${options.apiUrl}" is not a WSAPI URL`, 'write the WSAPI URL as https://<array>:8080/api/v1');
    }
    url.username = '';
    url.password = '';
    url.search = '';
    url.hash = '';
    this.#base = url.toString().replace(/\/$/, '');
    this.apiUrl = this.#base;
    this.array = url.host;
    this.#apiRoot = this.#base.replace(/\/api\/v\d+$/, '/api');
    this.username = options.username;
    this.#password = options.password;
    this.#timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
    this.#retry = { ...defaultRetryPolicy, ...options.retry };
    this.#sleep = options.sleep ?? defaultSleep;
    const https_ = url.protocol === 'https:';
    this.verifiesTls = https_ && options.caCert !== undefined;
    // A kept-alive connection idle for 4 s is closed by us rather than reused: servers close idle connections
    // (Node's after 5 s), and a request written onto one the server just closed fails with a reset that a POST
    // cannot safely be retried after. Node only honours the server's Keep-Alive hint when a timeout is set.
    const agentOptions = { keepAlive: true, timeout: idleSocketMs };
    this.#agent = https_
      ? new https.Agent({ ...agentOptions, ca: options.caCert, rejectUnauthorized: options.caCert !== undefined })
      : new http.Agent(agentOptions);
  }

  // ----- transport ------------------------------------------------------------------------------------------

  #secrets(): (string | undefined)[] {
    return [this.#password, this.#sessionKey];
  }

  #sendOnce(method: HttpMethod, url: URL, payload: string | undefined, key: string | undefined): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': 'hpedockerplugin' };
      if (payload !== undefined) {
        headers['Content-Type'] = 'application/json';
        headers['Content-Length'] = String(Buffer.byteLength(payload));
      }
      if (key !== undefined) headers[SessionKeyHeader] = key;
      const transport = url.protocol === 'https:' ? https : http;
      let reached = false;
      let settled = false;
      const finish = (err: unknown, res?: RawResponse): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (res !== undefined) resolve(res);
        else reject(err instanceof TransportFailure ? err : classify(err, reached));
      };
      const req = transport.request(url, { method, headers, agent: this.#agent });
      const timer = setTimeout(() => {
        const failure = new TransportFailure('timeout', `no complete answer within ${this.#timeoutMs} ms`, reached, undefined);
        finish(failure);
        req.destroy();
      }, this.#timeoutMs);
      req.on('socket', (socket) => {
        if (!socket.connecting) {
          reached = true;
          return;
        }
        socket.once(socket instanceof TLSSocket ? 'secureConnect' : 'connect', () => {
          reached = true;
        });
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          finish(undefined, { status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', (err) => finish(err));
        res.on('aborted', () => finish(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })));
      });
      req.on('error', (err) => finish(err));
      req.end(payload);
    });
  }

  #mayRetry(method: HttpMethod, f: TransportFailure): boolean {
    if (this.#closed) return false;
    if (f.reason === 'refused') return true;
    if (f.reason === 'reset') return !f.reached || method === 'GET' || method === 'DELETE';
    return false;
  }

  #delay(attempt: number): number {
    return Math.min(this.#retry.maxDelayMs, this.#retry.baseDelayMs * 2 ** (attempt - 1));
  }

  /** One call's HTTP exchange with its own retries (503, refused connections, dropped idempotent calls). */
  async #exchange(
    method: HttpMethod,
    url: URL,
    payload: string | undefined,
    key: string | undefined,
    call: string,
    attempts = this.#retry.attempts,
  ): Promise<RawResponse> {
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await this.#sendOnce(method, url, payload, key);
        if (res.status !== 503 || attempt >= attempts || this.#closed) return res;
      } catch (err) {
        if (!(err instanceof TransportFailure)) throw err;
        if (!this.#mayRetry(method, err) || attempt >= attempts) {
          throw new WsapiConnectionError({
            url: this.#base,
            call,
            reason: err.reason,
            detail: scrubSecrets(err.detail, this.#secrets()),
            outcomeUnknown: err.reached && (method === 'POST' || method === 'PUT') && err.reason !== 'tls',
            cause: err.original,
          });
        }
      }
      await this.#sleep(this.#delay(attempt));
    }
  }

  #error(res: RawResponse, call: string): WsapiError {
    const body = parseJson(res.text);
    let desc: string | undefined;
    let ref: string | undefined;
    if (isRecord(body)) {
      const d = body['desc'] ?? body['message'];
      if (typeof d === 'string') desc = d;
      if (typeof body['ref'] === 'string') ref = body['ref'];
    } else if (typeof body === 'string') {
      desc = body.trim().slice(0, 200);
    }
    return new WsapiError({
      array: this.array,
      call,
      status: res.status,
      code: codeOf(body),
      desc: desc === undefined ? undefined : scrubSecrets(desc, this.#secrets()),
      ref,
    });
  }

  // ----- session --------------------------------------------------------------------------------------------

  async #doLogin(): Promise<string> {
    const call = `POST /credentials (login as "${this.username}")`;
    const payload = JSON.stringify({ user: this.username, password: this.#password });
    const res = await this.#exchange('POST', new URL(`${this.#base}/credentials`), payload, undefined, call);
    if (res.status >= 400) throw this.#error(res, call);
    const body = parseJson(res.text);
    const key = isRecord(body) ? body['key'] : undefined;
    if (typeof key !== 'string' || key === '') {
      throw new WsapiConnectionError({ url: this.#base, call, reason: 'protocol', detail: 'the login answer has no session key', outcomeUnknown: false });
    }
    this.#sessionKey = key;
    return key;
  }

  async #session(): Promise<string> {
    if (this.#sessionKey !== undefined) return this.#sessionKey;
    this.#login ??= this.#doLogin().finally(() => {
      this.#login = undefined;
    });
    return this.#login;
  }

  /** Forget `key` unless another call already replaced it. */
  #dropSession(key: string): void {
    if (this.#sessionKey === key) this.#sessionKey = undefined;
  }

  /** Ends the session on the array (`DELETE /credentials/<key>`). An already expired key is not an error. */
  logout(): Promise<void> {
    return this.#logout(this.#retry.attempts);
  }

  async #logout(attempts: number): Promise<void> {
    const key = this.#sessionKey;
    if (key === undefined) return;
    this.#sessionKey = undefined;
    const call = 'DELETE /credentials/<session key>';
    const res = await this.#exchange('DELETE', new URL(`${this.#base}/credentials/${enc(key)}`), undefined, key, call, attempts);
    if (res.status >= 400 && res.status !== 403 && res.status !== 404) throw this.#error(res, call);
  }

  /** Logs out with one attempt (errors ignored: an unused key expires on the array) and closes the connections. */
  async close(): Promise<void> {
    try {
      await this.#logout(1);
    } catch {
      // the session expires on the array anyway
    }
    this.#closed = true;
    this.#agent.destroy();
  }

  // ----- generic call ---------------------------------------------------------------------------------------

  /**
   * Any authenticated WSAPI call: `path` is relative to the API URL (`/volumes/v1`, query included). Throws
   * WsapiError on an HTTP error status. The typed methods below are built on it.
   */
  async request<T = unknown>(method: HttpMethod, path: string, body?: unknown): Promise<WsapiResponse<T>> {
    const call = `${method} ${decodeURIComponent(path)}`;
    const url = new URL(`${this.#base}${path}`);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    let key = await this.#session();
    let res = await this.#exchange(method, url, payload, key, call);
    if (res.status === 403 && codeOf(parseJson(res.text)) === WsapiCodes.INV_SESS_KEY) {
      this.#dropSession(key);
      key = await this.#session();
      res = await this.#exchange(method, url, payload, key, call);
    }
    if (res.status >= 400) throw this.#error(res, call);
    return { status: res.status, headers: res.headers, body: parseJson(res.text) as T };
  }

  async #get<T>(path: string): Promise<T> {
    const res = await this.request<T>('GET', path);
    if (!isRecord(res.body)) {
      throw new WsapiConnectionError({ url: this.#base, call: `GET ${path}`, reason: 'protocol', detail: 'the answer is not a JSON object', outcomeUnknown: false });
    }
    return res.body;
  }

  async #members<T>(path: string): Promise<T[]> {
    const body = await this.#get<{ members?: T[] }>(path);
    return body.members ?? [];
  }

  // ----- version and system ---------------------------------------------------------------------------------

  /** `GET /api` (no session): the WSAPI version and build. Cached for the feature gates. */
  async getApiVersion(): Promise<WsapiVersion> {
    const call = 'GET /api';
    const res = await this.#exchange('GET', new URL(this.#apiRoot), undefined, undefined, call);
    if (res.status >= 400) throw this.#error(res, call);
    const body = parseJson(res.text);
    if (!isRecord(body) || typeof body['build'] !== 'number') {
      throw new WsapiConnectionError({ url: this.#base, call, reason: 'protocol', detail: 'the answer has no WSAPI build number', outcomeUnknown: false });
    }
    this.#version = body as unknown as WsapiVersion;
    return this.#version;
  }

  async features(): Promise<WsapiFeatures> {
    return wsapiFeatures((this.#version ?? (await this.getApiVersion())).build);
  }

  getSystem(): Promise<SystemInfo> {
    return this.#get<SystemInfo>('/system');
  }

  getCpg(name: string): Promise<Cpg> {
    return this.#get<Cpg>(`/cpgs/${enc(name)}`);
  }

  getCpgs(): Promise<Cpg[]> {
    return this.#members<Cpg>('/cpgs');
  }

  // ----- volumes --------------------------------------------------------------------------------------------

  /** Primera takes `tpvv` or `reduce` (dedup+compression), never `tdvv`/`compression`. */
  async #provisioningForArray<P extends { tpvv?: boolean; tdvv?: boolean; compression?: boolean; reduce?: boolean }>(params: P): Promise<P> {
    if (params.tdvv === undefined && params.compression === undefined && params.tpvv !== undefined) return params;
    if (!(await this.features()).primera) return params;
    const { tdvv, compression, ...rest } = params;
    if (tdvv === true && compression === true) return { ...rest, reduce: true } as P;
    if (tdvv === true || compression === true) {
      throw new HpeError(
        `array ${this.array} is a Primera: deduplication and compression exist only together (reduce)`,
        'ask for both dedup and compression, or for neither (thin)',
      );
    }
    return rest.reduce === true || rest.tpvv !== undefined ? (rest as P) : ({ ...rest, tpvv: true } as P);
  }

  async createVolume(params: CreateVolumeParams): Promise<void> {
    await this.request('POST', '/volumes', await this.#provisioningForArray(params));
  }

  getVolume(name: string): Promise<Volume> {
    return this.#get<Volume>(`/volumes/${enc(name)}`);
  }

  /** `GET /volumes[?query="<expr>"]`, e.g. `copyOf EQ dcv-x` or `snapCPG EQ FC_r5`. */
  queryVolumes(expr?: string): Promise<Volume[]> {
    return this.#members<Volume>(`/volumes${expr === undefined ? '' : queryString(expr)}`);
  }

  /** The virtual copies (snapshots) whose parent is `name`. */
  async getVolumeSnapshots(name: string): Promise<Volume[]> {
    const children = await this.queryVolumes(`copyOf EQ ${name}`);
    return children.filter((v) => v.copyType === CopyTypes.VIRTUAL_COPY);
  }

  async modifyVolume(name: string, changes: ModifyVolumeParams): Promise<void> {
    await this.request('PUT', `/volumes/${enc(name)}`, changes);
  }

  renameVolume(name: string, newName: string): Promise<void> {
    return this.modifyVolume(name, { newName });
  }

  setVolumeComment(name: string, comment: string): Promise<void> {
    return this.modifyVolume(name, { comment });
  }

  /** Adds `addMiB` (an increment, not the new size). Not retried after a dropped connection. */
  async growVolume(name: string, addMiB: number): Promise<void> {
    await this.request('PUT', `/volumes/${enc(name)}`, { action: 3, sizeMiB: addMiB });
  }

  async deleteVolume(name: string): Promise<void> {
    await this.request('DELETE', `/volumes/${enc(name)}`);
  }

  async createSnapshot(source: string, snapshotName: string, params: SnapshotParams = {}): Promise<void> {
    await this.request('POST', `/volumes/${enc(source)}`, { action: 'createSnapshot', parameters: { name: snapshotName, ...params } });
  }

  /** Physical copy (clone) of `source` to `dest`; returns the array task to wait for. */
  async copyVolume(source: string, dest: string, params: PhysicalCopyParams): Promise<{ taskid: number }> {
    const { destCPG, ...rest } = params;
    const parameters: Record<string, unknown> = { destVolume: dest, ...(params.online ? await this.#provisioningForArray(rest) : rest) };
    if (params.online) parameters['destCPG'] = destCPG;
    const res = await this.request<{ taskid?: number }>('POST', `/volumes/${enc(source)}`, { action: 'createPhysicalCopy', parameters });
    const taskid = isRecord(res.body) ? res.body.taskid : undefined;
    if (typeof taskid !== 'number') {
      throw new WsapiConnectionError({ url: this.#base, call: `POST /volumes/${source}`, reason: 'protocol', detail: 'the copy answer has no taskid', outcomeUnknown: true });
    }
    return { taskid };
  }

  /** Stops an offline physical copy into `name`. */
  async stopOfflinePhysicalCopy(name: string): Promise<void> {
    await this.request('PUT', `/volumes/${enc(name)}`, { action: 1 });
  }

  // ----- volume metadata ------------------------------------------------------------------------------------

  /** Sets a key (≤31 characters) to a value (≤31): POST, or PUT when the key exists. */
  async setVolumeMetadata(volume: string, key: string, value: string): Promise<void> {
    try {
      await this.request('POST', `/volumes/${enc(volume)}/objectKeyValues`, { key, value });
    } catch (err) {
      if (!(err instanceof WsapiError) || err.status !== 409) throw err;
      await this.request('PUT', `/volumes/${enc(volume)}/objectKeyValues/${enc(key)}`, { value });
    }
  }

  getVolumeMetadata(volume: string, key: string): Promise<KeyValue> {
    return this.#get<KeyValue>(`/volumes/${enc(volume)}/objectKeyValues/${enc(key)}`);
  }

  getAllVolumeMetadata(volume: string): Promise<KeyValue[]> {
    return this.#members<KeyValue>(`/volumes/${enc(volume)}/objectKeyValues`);
  }

  async deleteVolumeMetadata(volume: string, key: string): Promise<void> {
    await this.request('DELETE', `/volumes/${enc(volume)}/objectKeyValues/${enc(key)}`);
  }

  // ----- tasks ----------------------------------------------------------------------------------------------

  getTask(id: number): Promise<Task> {
    return this.#get<Task>(`/tasks/${id}`);
  }

  getTasks(): Promise<Task[]> {
    return this.#members<Task>('/tasks');
  }

  async cancelTask(id: number): Promise<void> {
    await this.request('PUT', `/tasks/${id}`, { action: 1 });
  }

  /** Polls until the task is done (status 1); a cancelled or failed task, or the wait running out, throws. */
  async waitForTask(id: number, options: WaitForTaskOptions = {}): Promise<Task> {
    const interval = options.pollIntervalMs ?? 1000;
    const polls = Math.max(1, Math.ceil((options.timeoutMs ?? 3_600_000) / interval));
    let task = await this.getTask(id);
    for (let i = 0; task.status === TaskStatuses.ACTIVE && i < polls; i++) {
      await this.#sleep(interval);
      task = await this.getTask(id);
    }
    if (task.status === TaskStatuses.DONE) return task;
    throw new WsapiTaskError(this.array, id, task.status, task.status === TaskStatuses.ACTIVE, task.name);
  }

  // ----- hosts ----------------------------------------------------------------------------------------------

  getHost(name: string): Promise<Host> {
    return this.#get<Host>(`/hosts/${enc(name)}`);
  }

  getHosts(): Promise<Host[]> {
    return this.#members<Host>('/hosts');
  }

  /** The hosts owning any of these initiators (`FCPaths[wwn==a OR wwn==b] OR iSCSIPaths[name==iqn]`). */
  queryHosts(initiators: { iscsiNames?: readonly string[]; fcWwns?: readonly string[] }): Promise<Host[]> {
    const parts: string[] = [];
    if (initiators.fcWwns?.length) parts.push(`FCPaths[${initiators.fcWwns.map((w) => `wwn==${w}`).join(' OR ')}]`);
    if (initiators.iscsiNames?.length) parts.push(`iSCSIPaths[${initiators.iscsiNames.map((n) => `name==${n}`).join(' OR ')}]`);
    if (parts.length === 0) return Promise.resolve([]);
    return this.#members<Host>(`/hosts${queryString(parts.join(' OR '))}`);
  }

  /** Creates the host and returns it as the array now describes it. */
  async createHost(params: CreateHostParams): Promise<Host> {
    await this.request('POST', '/hosts', params);
    return this.getHost(params.name);
  }

  async modifyHost(name: string, changes: ModifyHostParams): Promise<void> {
    await this.request('PUT', `/hosts/${enc(name)}`, changes);
  }

  async deleteHost(name: string): Promise<void> {
    await this.request('DELETE', `/hosts/${enc(name)}`);
  }

  // ----- VLUNs and ports ------------------------------------------------------------------------------------

  async createVlun(params: CreateVlunParams): Promise<VlunLocation> {
    const { lun, ...rest } = params;
    const body = lun === 'auto' ? { ...rest, lun: 0, autoLun: true, maxAutoLun: 0 } : { ...rest, lun };
    const res = await this.request('POST', '/vluns', body);
    const location = res.headers.location;
    if (typeof location !== 'string') {
      throw new WsapiConnectionError({ url: this.#base, call: 'POST /vluns', reason: 'protocol', detail: 'the answer has no Location header', outcomeUnknown: true });
    }
    return parseVlunLocation(location);
  }

  /** `DELETE /vluns/vol,lun[,host][,n:s:p]` (host empty for a port-only VLUN). */
  async deleteVlun(volumeName: string, lun: number, hostname?: string, portPos?: PortPos): Promise<void> {
    let spec = `${enc(volumeName)},${lun}`;
    if (hostname !== undefined || portPos !== undefined) spec += `,${hostname === undefined ? '' : enc(hostname)}`;
    if (portPos !== undefined) spec += `,${nsp(portPos)}`;
    await this.request('DELETE', `/vluns/${spec}`);
  }

  /** All VLUNs, templates (`active: false`) and active paths alike. */
  getVluns(): Promise<Vlun[]> {
    return this.#members<Vlun>('/vluns');
  }

  /** The VLUNs of a volume; empty when it has none (the python client raised its own 404). */
  async getVolumeVluns(volumeName: string): Promise<Vlun[]> {
    if ((await this.features()).vlunQuery) return this.#members<Vlun>(`/vluns${queryString(`volumeName EQ ${volumeName}`)}`);
    return (await this.getVluns()).filter((v) => v.volumeName === volumeName);
  }

  /** The VLUNs of a host; empty when it has none. */
  async getHostVluns(hostname: string): Promise<Vlun[]> {
    if ((await this.features()).vlunQuery) return this.#members<Vlun>(`/vluns${queryString(`hostname EQ ${hostname}`)}`);
    return (await this.getVluns()).filter((v) => v.hostname === hostname);
  }

  getPorts(): Promise<Port[]> {
    return this.#members<Port>('/ports');
  }

  // ----- volume sets and QoS --------------------------------------------------------------------------------

  getVolumeSet(name: string): Promise<VolumeSet> {
    return this.#get<VolumeSet>(`/volumesets/${enc(name)}`);
  }

  getVolumeSets(): Promise<VolumeSet[]> {
    return this.#members<VolumeSet>('/volumesets');
  }

  async createVolumeSet(params: { name: string; domain?: string; comment?: string; setmembers?: string[] }): Promise<void> {
    await this.request('POST', '/volumesets', params);
  }

  async modifyVolumeSet(name: string, changes: ModifyVolumeSetParams): Promise<void> {
    await this.request('PUT', `/volumesets/${enc(name)}`, changes);
  }

  addVolumesToSet(name: string, volumes: string[]): Promise<void> {
    return this.modifyVolumeSet(name, { action: VolumeSetActions.ADD_MEMBERS, setmembers: volumes });
  }

  removeVolumesFromSet(name: string, volumes: string[]): Promise<void> {
    return this.modifyVolumeSet(name, { action: VolumeSetActions.REMOVE_MEMBERS, setmembers: volumes });
  }

  /** FlashCachePolicies: 1 enabled, 2 disabled. */
  setFlashCachePolicy(name: string, policy: number): Promise<void> {
    return this.modifyVolumeSet(name, { flashCachePolicy: policy });
  }

  async deleteVolumeSet(name: string): Promise<void> {
    await this.request('DELETE', `/volumesets/${enc(name)}`);
  }

  /** The QoS rule of a VV set (`GET /qos/vvset:<name>`); 404 code 100 when it has none. */
  getQosRule(vvset: string): Promise<QosRule> {
    return this.#get<QosRule>(`/qos/vvset:${enc(vvset)}`);
  }

  async createQosRule(rule: Omit<QosRule, 'id' | 'type'> & { type?: number }): Promise<void> {
    await this.request('POST', '/qos', { type: 1, ...rule });
  }

  async deleteQosRule(vvset: string): Promise<void> {
    await this.request('DELETE', `/qos/vvset:${enc(vvset)}`);
  }

  // ----- remote copy groups ---------------------------------------------------------------------------------

  async createRemoteCopyGroup(params: CreateRcgParams): Promise<void> {
    await this.request('POST', '/remotecopygroups', params);
  }

  getRemoteCopyGroup(name: string): Promise<RemoteCopyGroup> {
    return this.#get<RemoteCopyGroup>(`/remotecopygroups/${enc(name)}`);
  }

  getRemoteCopyGroups(): Promise<RemoteCopyGroup[]> {
    return this.#members<RemoteCopyGroup>('/remotecopygroups');
  }

  /** Target settings (sync period, policies, CPGs); no action. */
  async modifyRemoteCopyGroup(name: string, changes: ModifyRcgParams): Promise<void> {
    await this.request('PUT', `/remotecopygroups/${enc(name)}`, changes);
  }

  async addVolumeToRemoteCopyGroup(group: string, volumeName: string, params: AddVolumeToRcgParams): Promise<void> {
    await this.request('PUT', `/remotecopygroups/${enc(group)}`, { action: RcgActions.ADMIT_VV, volumeName, ...params });
  }

  /** `removeSecondaryVolume` also deletes the volume on the target(s). */
  async removeVolumeFromRemoteCopyGroup(
    group: string,
    volumeName: string,
    options: { keepSnap?: boolean; removeSecondaryVolume?: boolean } = {},
  ): Promise<void> {
    const q: string[] = [];
    if (options.keepSnap !== undefined) q.push(`keepSnap=${options.keepSnap}`);
    if (options.removeSecondaryVolume !== undefined) q.push(`removeSecondaryVolume=${options.removeSecondaryVolume}`);
    await this.request('DELETE', `/remotecopygroups/${enc(group)}/volumes/${enc(volumeName)}${q.length ? `?${q.join('&')}` : ''}`);
  }

  async startRemoteCopy(group: string, options: { targetName?: string; skipInitialSync?: boolean } = {}): Promise<void> {
    await this.request('PUT', `/remotecopygroups/${enc(group)}`, { action: RcgActions.START, ...options });
  }

  async stopRemoteCopy(group: string, options: { targetName?: string; noSnapshot?: boolean } = {}): Promise<void> {
    await this.request('PUT', `/remotecopygroups/${enc(group)}`, { action: RcgActions.STOP, ...options });
  }

  async deleteRemoteCopyGroup(name: string, options: { keepSnap?: boolean } = {}): Promise<void> {
    await this.request('DELETE', `/remotecopygroups/${enc(name)}?keepSnap=${options.keepSnap ?? false}`);
  }
}
