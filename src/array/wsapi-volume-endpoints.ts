/**
 * The WSAPI endpoints of volume management: system and CPGs, volumes and their copies, tasks, volume sets and
 * QoS, remote copy groups.
 */
import { HpeError } from '../errors.js';
import { WsapiTaskError } from './wsapi-errors.js';
import { WsapiSession, isRecord, queryString, wsapiPath } from './wsapi-session.js';
import {
  CopyTypes,
  RcgActions,
  TaskStatuses,
  VolumeSetActions,
  type AddVolumeToRcgParams,
  type Cpg,
  type CreateRcgParams,
  type CreateVolumeParams,
  type ModifyRcgParams,
  type ModifyVolumeParams,
  type ModifyVolumeSetParams,
  type PhysicalCopyParams,
  type QosRule,
  type RemoteCopyGroup,
  type SnapshotParams,
  type SystemInfo,
  type Task,
  type Volume,
  type VolumeSet,
} from './wsapi-types.js';

export interface WaitForTaskOptions {
  /** Default 1000 ms. */
  pollIntervalMs?: number;
  /** Default 1 hour: large offline copies take long. */
  timeoutMs?: number;
}

export class WsapiVolumeEndpoints extends WsapiSession {
  // ----- system ---------------------------------------------------------------------------------------------

  getSystem(): Promise<SystemInfo> {
    return this.getObject<SystemInfo>('/system');
  }

  getCpg(name: string): Promise<Cpg> {
    return this.getObject<Cpg>(wsapiPath`/cpgs/${name}`);
  }

  getCpgs(): Promise<Cpg[]> {
    return this.getMembers<Cpg>('/cpgs');
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
    return this.getObject<Volume>(wsapiPath`/volumes/${name}`);
  }

  /** `GET /volumes[?query="<expr>"]`, e.g. `copyOf EQ dcv-x` or `snapCPG EQ FC_r5`. */
  queryVolumes(expr?: string): Promise<Volume[]> {
    return this.getMembers<Volume>(`/volumes${expr === undefined ? '' : queryString(expr)}`);
  }

  /** The virtual copies (snapshots) whose parent is `name`. */
  async getVolumeSnapshots(name: string): Promise<Volume[]> {
    const children = await this.queryVolumes(`copyOf EQ ${name}`);
    return children.filter((v) => v.copyType === CopyTypes.VIRTUAL_COPY);
  }

  async modifyVolume(name: string, changes: ModifyVolumeParams): Promise<void> {
    await this.request('PUT', wsapiPath`/volumes/${name}`, changes);
  }

  renameVolume(name: string, newName: string): Promise<void> {
    return this.modifyVolume(name, { newName });
  }

  setVolumeComment(name: string, comment: string): Promise<void> {
    return this.modifyVolume(name, { comment });
  }

  /** Adds `addMiB` (an increment, not the new size). Not retried after a dropped connection. */
  async growVolume(name: string, addMiB: number): Promise<void> {
    await this.request('PUT', wsapiPath`/volumes/${name}`, { action: 3, sizeMiB: addMiB });
  }

  async deleteVolume(name: string): Promise<void> {
    await this.request('DELETE', wsapiPath`/volumes/${name}`);
  }

  async createSnapshot(source: string, snapshotName: string, params: SnapshotParams = {}): Promise<void> {
    await this.request('POST', wsapiPath`/volumes/${source}`, { action: 'createSnapshot', parameters: { name: snapshotName, ...params } });
  }

  /** Physical copy (clone) of `source` to `dest`; returns the array task to wait for. */
  async copyVolume(source: string, dest: string, params: PhysicalCopyParams): Promise<{ taskid: number }> {
    const { destCPG, ...rest } = params;
    const parameters: Record<string, unknown> = { destVolume: dest, ...(params.online ? await this.#provisioningForArray(rest) : rest) };
    if (params.online) parameters['destCPG'] = destCPG;
    const res = await this.request<{ taskid?: number }>('POST', wsapiPath`/volumes/${source}`, { action: 'createPhysicalCopy', parameters });
    const taskid = isRecord(res.body) ? res.body.taskid : undefined;
    if (typeof taskid !== 'number') throw this.protocolError(`POST /volumes/${source}`, 'the copy answer has no taskid', true);
    return { taskid };
  }

  /** Stops an offline physical copy into `name`. */
  async stopOfflinePhysicalCopy(name: string): Promise<void> {
    await this.request('PUT', wsapiPath`/volumes/${name}`, { action: 1 });
  }

  // ----- tasks ----------------------------------------------------------------------------------------------

  getTask(id: number): Promise<Task> {
    return this.getObject<Task>(`/tasks/${id}`);
  }

  getTasks(): Promise<Task[]> {
    return this.getMembers<Task>('/tasks');
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
      await this.clock.sleep(interval);
      task = await this.getTask(id);
    }
    if (task.status === TaskStatuses.DONE) return task;
    throw new WsapiTaskError(this.array, id, task.status, task.status === TaskStatuses.ACTIVE, task.name);
  }

  // ----- volume sets and QoS --------------------------------------------------------------------------------

  getVolumeSet(name: string): Promise<VolumeSet> {
    return this.getObject<VolumeSet>(wsapiPath`/volumesets/${name}`);
  }

  getVolumeSets(): Promise<VolumeSet[]> {
    return this.getMembers<VolumeSet>('/volumesets');
  }

  async createVolumeSet(params: { name: string; domain?: string; comment?: string; setmembers?: string[] }): Promise<void> {
    await this.request('POST', '/volumesets', params);
  }

  async modifyVolumeSet(name: string, changes: ModifyVolumeSetParams): Promise<void> {
    await this.request('PUT', wsapiPath`/volumesets/${name}`, changes);
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
    await this.request('DELETE', wsapiPath`/volumesets/${name}`);
  }

  /** The QoS rule of a VV set (`GET /qos/vvset:<name>`); 404 code 100 when it has none. */
  getQosRule(vvset: string): Promise<QosRule> {
    return this.getObject<QosRule>(wsapiPath`/qos/vvset:${vvset}`);
  }

  async createQosRule(rule: Omit<QosRule, 'id' | 'type'> & { type?: number }): Promise<void> {
    await this.request('POST', '/qos', { type: 1, ...rule });
  }

  async deleteQosRule(vvset: string): Promise<void> {
    await this.request('DELETE', wsapiPath`/qos/vvset:${vvset}`);
  }

  // ----- remote copy groups ---------------------------------------------------------------------------------

  async createRemoteCopyGroup(params: CreateRcgParams): Promise<void> {
    await this.request('POST', '/remotecopygroups', params);
  }

  getRemoteCopyGroup(name: string): Promise<RemoteCopyGroup> {
    return this.getObject<RemoteCopyGroup>(wsapiPath`/remotecopygroups/${name}`);
  }

  getRemoteCopyGroups(): Promise<RemoteCopyGroup[]> {
    return this.getMembers<RemoteCopyGroup>('/remotecopygroups');
  }

  /** Target settings (sync period, policies, CPGs); no action. */
  async modifyRemoteCopyGroup(name: string, changes: ModifyRcgParams): Promise<void> {
    await this.request('PUT', wsapiPath`/remotecopygroups/${name}`, changes);
  }

  async addVolumeToRemoteCopyGroup(group: string, volumeName: string, params: AddVolumeToRcgParams): Promise<void> {
    await this.request('PUT', wsapiPath`/remotecopygroups/${group}`, { action: RcgActions.ADMIT_VV, volumeName, ...params });
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
    await this.request('DELETE', wsapiPath`/remotecopygroups/${group}/volumes/${volumeName}` + (q.length ? `?${q.join('&')}` : ''));
  }

  async startRemoteCopy(group: string, options: { targetName?: string; skipInitialSync?: boolean } = {}): Promise<void> {
    await this.request('PUT', wsapiPath`/remotecopygroups/${group}`, { action: RcgActions.START, ...options });
  }

  async stopRemoteCopy(group: string, options: { targetName?: string; noSnapshot?: boolean } = {}): Promise<void> {
    await this.request('PUT', wsapiPath`/remotecopygroups/${group}`, { action: RcgActions.STOP, ...options });
  }

  async deleteRemoteCopyGroup(name: string, options: { keepSnap?: boolean } = {}): Promise<void> {
    await this.request('DELETE', wsapiPath`/remotecopygroups/${name}` + `?keepSnap=${options.keepSnap ?? false}`);
  }
}
