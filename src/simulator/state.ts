/**
 * The simulator's state: plain records in Maps (object names never become object keys, so a volume named
 * `__proto__` is harmless), saved as one JSON file written atomically (src/files.ts), so a crash leaves either
 * the old or the new state and a restart finds every object again.
 */
import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PortPos, RcgPolicies, Volume, VolumePolicies } from '../array/index.js';
import { writeFileAtomicSync } from '../files.js';

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
  hosts: Map<string, SimHost>;
  vluns: SimVlun[];
  volumeSets: Map<string, SimVolumeSet>;
  qosRules: Map<string, SimQosRule>;
  tasks: SimTask[];
  rcgs: Map<string, SimRcg>;
}

interface StateFile {
  format: 1;
  systemId: number;
  nextId: SimState['nextId'];
  volumes: SimVolume[];
  hosts: SimHost[];
  vluns: SimVlun[];
  volumeSets: SimVolumeSet[];
  qosRules: [string, SimQosRule][];
  tasks: SimTask[];
  rcgs: SimRcg[];
}

function byName<T extends { name: string }>(items: T[]): Map<string, T> {
  return new Map(items.map((i) => [i.name, i]));
}

function freshState(): SimState {
  return {
    // Four digits: a 25-character group name plus `.r<systemId>` still fits the 31-character limit.
    systemId: randomInt(1000, 10000),
    nextId: { volume: 1, host: 1, set: 1, task: 1, rcg: 1, qos: 1 },
    volumes: new Map(),
    hosts: new Map(),
    vluns: [],
    volumeSets: new Map(),
    qosRules: new Map(),
    tasks: [],
    rcgs: new Map(),
  };
}

export class StateStore {
  readonly state: SimState;
  readonly #file: string;

  private constructor(file: string, state: SimState) {
    this.#file = file;
    this.state = state;
  }

  /** Loads `<dir>/state.json`, or starts empty. Copies that were running when the simulator stopped are failed. */
  static open(dir: string): StateStore {
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'state.json');
    if (!existsSync(file)) return new StateStore(file, freshState());
    const data = JSON.parse(readFileSync(file, 'utf8')) as StateFile;
    if (data.format !== 1) throw new Error(`${file}: unknown state format ${String(data.format)}`);
    const tasks = data.tasks.map((t) => (t.status === 2 ? { ...t, status: 4, finishTime: new Date().toISOString() } : t));
    return new StateStore(file, {
      systemId: data.systemId,
      nextId: data.nextId,
      volumes: byName(data.volumes),
      hosts: byName(data.hosts),
      vluns: data.vluns,
      volumeSets: byName(data.volumeSets),
      qosRules: new Map(data.qosRules),
      tasks,
      rcgs: byName(data.rcgs),
    });
  }

  save(): void {
    const s = this.state;
    const data: StateFile = {
      format: 1,
      systemId: s.systemId,
      nextId: s.nextId,
      volumes: [...s.volumes.values()],
      hosts: [...s.hosts.values()],
      vluns: s.vluns,
      volumeSets: [...s.volumeSets.values()],
      qosRules: [...s.qosRules.entries()],
      tasks: s.tasks,
      rcgs: [...s.rcgs.values()],
    };
    writeFileAtomicSync(this.#file, JSON.stringify(data, null, 1), { mode: 0o600 });
  }
}
