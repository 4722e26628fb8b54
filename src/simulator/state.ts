/**
 * The simulator's state: plain records in Maps (object names never become object keys, so a volume named
 * `__proto__` is harmless), kept on disk by store.ts.
 */
import { randomInt } from 'node:crypto';
import type { PortPos, RcgPolicies, Volume, VolumePolicies } from '../array/index.js';

/** A volume as the simulator keeps it: the fields it shares with the WSAPI's volume object, plus its own state. */
export interface SimVolume
  extends Pick<Volume, 'id' | 'name' | 'uuid' | 'wwn' | 'sizeMiB' | 'provisioningType' | 'copyType' | 'copyOf' | 'baseId' | 'userCPG' | 'snapCPG' | 'readOnly' | 'comment'> {
  policies: VolumePolicies;
  compression: boolean;
  dedup: boolean;
  creationTimeSec: number;
  expirationTimeSec?: number;
  retentionTimeSec?: number;
  metadata: Record<string, string>;
}

export interface SimChap {
  initiatorName?: string;
  initiatorSecret?: string;
  targetName?: string;
  targetSecret?: string;
}

export interface SimHost {
  id: number;
  name: string;
  persona: number;
  domain?: string;
  /** Upper-case, no colons. */
  fcWwns: string[];
  iscsiNames: string[];
  descriptors?: Record<string, string>;
  chap: SimChap;
}

/** A VLUN template, as createVLUN made it. */
export interface SimVlun {
  volumeName: string;
  lun: number;
  hostname?: string;
  portPos?: PortPos;
}

export interface SimVolumeSet {
  id: number;
  uuid: string;
  name: string;
  comment?: string;
  domain?: string;
  members: string[];
  flashCachePolicy?: number;
}

/** A QoS rule; keyed `vvset:<name>` or `sys:all_others`. */
export interface SimQosRule {
  id: number;
  name: string;
  type: number;
  fields: Record<string, unknown>;
}

export interface SimTask {
  id: number;
  type: number;
  name: string;
  status: number;
  startTime: string;
  finishTime?: string;
  user: string;
  priority?: number;
  source: string;
  dest: string;
  online: boolean;
}

export interface SimRcgTarget {
  targetName: string;
  mode: number;
  state: number;
  userCPG?: string;
  snapCPG?: string;
  syncPeriod?: number;
  policies?: RcgPolicies;
  groupLastSyncTime?: string;
}

export interface SimRcgVolume {
  localVolumeName: string;
  remoteVolumes: { targetName: string; remoteVolumeName: string }[];
}

export interface SimRcg {
  id: number;
  name: string;
  role: number;
  domain?: string;
  localUserCPG?: string;
  localSnapCPG?: string;
  remoteGroupName: string;
  targets: SimRcgTarget[];
  volumes: SimRcgVolume[];
}

export interface SimState {
  systemId: number;
  nextId: { volume: number; host: number; set: number; task: number; rcg: number; qos: number };
  volumes: Map<string, SimVolume>;
  /** The ids of `volumes`, so that a Create does not scan them all. */
  volumeIds: Set<number>;
  hosts: Map<string, SimHost>;
  vluns: SimVlun[];
  volumeSets: Map<string, SimVolumeSet>;
  qosRules: Map<string, SimQosRule>;
  tasks: SimTask[];
  rcgs: Map<string, SimRcg>;
}

export function freshState(): SimState {
  return {
    // Four digits: a 25-character group name plus `.r<systemId>` still fits the 31-character limit.
    systemId: randomInt(1000, 10000),
    nextId: { volume: 1, host: 1, set: 1, task: 1, rcg: 1, qos: 1 },
    volumes: new Map(),
    volumeIds: new Set(),
    hosts: new Map(),
    vluns: [],
    volumeSets: new Map(),
    qosRules: new Map(),
    tasks: [],
    rcgs: new Map(),
  };
}
