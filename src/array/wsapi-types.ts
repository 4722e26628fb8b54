/**
 * The WSAPI's wire vocabulary: protocol constants, what the driver reads (fields the WSAPI documents; arrays
 * send more) and what it sends.
 */

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
/**
 * `POST /remotecopygroups/<g> {action}` (recoverRemoteCopyGroupFromDisaster), python-3parclient's RC_ACTION_* numbers:
 * 6 change direction (a failed-over group replicates back: the CLI's recover), 7 change to primary (failover),
 * 8 migrate group (switchover without I/O impact), 10 change to natural direction (restore). 9 (change to secondary)
 * and 11 (override fail-safe) exist on arrays; the simulator refuses them.
 */
export const RcgRecoveryActions = { RECOVER: 6, FAILOVER: 7, SWITCHOVER: 8, RESTORE: 10 } as const;

// What the driver reads

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

