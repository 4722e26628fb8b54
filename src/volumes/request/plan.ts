/**
 * Pure planning of the array side: what a valid request becomes in WSAPI payloads, and the etcd record it
 * leaves. No I/O: the flows (create.ts, clone.ts, ...) call the array with these and unit tests check them.
 *
 * Texts are upstream's where it had one (hpe_3par_common.py, volume_manager.py): compression, dedup and
 * flash-cache gates by WSAPI build, the compression licence and size rules.
 */
import {
  CopyTypes,
  FeatureStates,
  ProvisioningTypes,
  RcgModes,
  WsapiFeatureBuilds,
  type CreateRcgParams,
  type CreateVolumeParams,
  type ModifyRcgParams,
  type PhysicalCopyParams,
  type SystemInfo,
  type Volume,
  type WsapiFeatures,
  type ScheduleSpec,
} from '../../array/index.js';
import type { ReplicationDevice, ReplicationMode } from '../../config/index.js';
import { VolumeRequestError } from '../errors.js';
import { AUTO_SCHEDULE_NAME, type FsOwner, type Provisioning, type ScheduleRequest } from './options.js';
import type { SnapSchedule, SnapshotMetadata, VolumeRecord } from '../store/records.js';

/** What the array can do, as init learnt it. */
export interface ArrayCaps {
  build: number;
  features: WsapiFeatures;
  system: Pick<SystemInfo, 'licenseInfo'>;
}

/** Size, provisioning and compression of a new volume (a clone's are its source's). */
export interface VolumeShape {
  sizeGiB: number;
  provisioning: Provisioning;
  compression: boolean | null;
}

const MIN_COMPRESSED_SIZE_GIB = 16;

export { snapshotComment, volumeComment } from './comments.js';
export { checkRcgName } from './limits.js';

// ---------------------------------------------------------------------------------------------------------
// Feature checks

function hasCompressionLicence(system: Pick<SystemInfo, 'licenseInfo'>): boolean {
  return (system.licenseInfo?.licenses ?? []).some((l) => l.name.includes('Compression') || l.name.includes('Golden License'));
}

/** Refuses a shape the array cannot make, with upstream's texts (checked before any array call). */
export function checkShape(shape: VolumeShape, caps: ArrayCaps): void {
  if (shape.compression === true) {
    if (!caps.features.compression) {
      throw new VolumeRequestError(
        `Compression policy requires WSAPI version '${WsapiFeatureBuilds.compression}' version '${caps.build}' is installed.`,
        'create the volume without -o compression, or upgrade the array to 3PAR OS 3.3.1 or later',
      );
    }
    if (!hasCompressionLicence(caps.system)) {
      throw new VolumeRequestError('Invalid input received: Compression is not supported on underlying hardware', 'create the volume without -o compression, or license compression on the array');
    }
    if (shape.sizeGiB < MIN_COMPRESSED_SIZE_GIB || shape.provisioning === 'full') {
      throw new VolumeRequestError(
        'Invalid input received: To create compression enabled volume, size of the volume should be at least 16GB. Fully provisioned volume cannot be compressed. Please re-enter requested volume size or provisioning type. ',
        'use -o size=16 or more with thin or dedup provisioning, or leave compression off',
      );
    }
  }
  if (shape.provisioning === 'dedup' && !caps.features.dedup) {
    throw new VolumeRequestError(
      `Dedup is a valid provisioning type, but requires WSAPI version '${WsapiFeatureBuilds.dedup}' version '${caps.build}' is installed.`,
      'use -o provisioning=thin or full, or upgrade the array',
    );
  }
  if (caps.features.primera) {
    if (shape.provisioning === 'full') {
      throw new VolumeRequestError('Invalid input received: a Primera array has no fully provisioned volumes; use -o provisioning=thin, or dedup with compression', 'use -o provisioning=thin');
    }
    if ((shape.provisioning === 'dedup') !== (shape.compression === true)) {
      throw new VolumeRequestError(
        'Invalid input received: on a Primera array deduplication and compression exist only together; use -o provisioning=dedup -o compression=true, or neither',
        'use -o provisioning=dedup -o compression=true, or thin without compression',
      );
    }
  }
}

export function checkFlashCache(caps: ArrayCaps): void {
  if (!caps.features.flashCache) {
    throw new VolumeRequestError(
      `Flash Cache policy requires WSAPI version '${WsapiFeatureBuilds.flashCache}' version '${caps.build}' is installed.`,
      'create the volume without -o flash-cache, or upgrade the array',
    );
  }
}

// ---------------------------------------------------------------------------------------------------------
// Payloads

/**
 * `tpvv` (thin) / `tdvv` (dedup) / `compression`, as upstream sent them: tpvv false for full and dedup.
 * compression is sent only when asked for, or as false where the array knows the key (older builds refuse it).
 */
export function provisioningParams(shape: VolumeShape, caps: ArrayCaps): { tpvv: boolean; tdvv?: boolean; compression?: boolean } {
  const out: { tpvv: boolean; tdvv?: boolean; compression?: boolean } = { tpvv: shape.provisioning === 'thin' };
  if (shape.provisioning === 'dedup') out.tdvv = true;
  if (shape.compression === true || (shape.compression === false && caps.features.compression && !caps.features.primera)) out.compression = shape.compression;
  return out;
}

export function createVolumeParams(
  p: { arrayName: string; cpg: string; snapCpg: string; shape: VolumeShape; comment: string },
  caps: ArrayCaps,
): CreateVolumeParams {
  return {
    name: p.arrayName,
    cpg: p.cpg,
    snapCPG: p.snapCpg,
    sizeMiB: p.shape.sizeGiB * 1024,
    comment: p.comment,
    ...provisioningParams(p.shape, caps),
  };
}

/** An online physical copy: the array creates the destination, usable at once. */
export function onlineCopyParams(p: { cpg: string; snapCpg: string; shape: VolumeShape }, caps: ArrayCaps): PhysicalCopyParams {
  return { online: true, destCPG: p.cpg, snapCPG: p.snapCpg, ...provisioningParams(p.shape, caps) };
}

/** An offline physical copy into an existing destination, high priority as upstream. */
export const offlineCopyParams: PhysicalCopyParams = { online: false, priority: 1 };

// ---------------------------------------------------------------------------------------------------------
// Replication

/** hpe.conf mode → WSAPI remote copy mode (asynchronous is 3PAR's periodic mode). */
const RcgModeOf: Record<ReplicationMode, number> = {
  synchronous: RcgModes.SYNC,
  asynchronous: RcgModes.PERIODIC,
  streaming: RcgModes.ASYNC,
};

const DEFAULT_SYNC_PERIOD = 900;
/** The target's CPGs for a volume in `cpg` / `snapCpg`: cpg_map / snap_cpg_map, else their first pair. */
export function targetCpgs(device: ReplicationDevice, cpg: string, snapCpg: string): { userCPG: string | undefined; snapCPG: string | undefined } {
  const userCPG = device.cpgMap.find((m) => m.source === cpg)?.target ?? device.cpgMap[0]?.target;
  const snapCPG = device.snapCpgMap.find((m) => m.source === snapCpg)?.target ?? device.snapCpgMap[0]?.target ?? userCPG;
  return { userCPG, snapCPG };
}

export function createRcgParams(name: string, device: ReplicationDevice, cpg: string, snapCpg: string): CreateRcgParams {
  const t = targetCpgs(device, cpg, snapCpg);
  return {
    name,
    targets: [
      {
        targetName: device.backendId,
        mode: RcgModeOf[device.mode],
        ...(t.userCPG === undefined ? {} : { userCPG: t.userCPG }),
        ...(t.snapCPG === undefined ? {} : { snapCPG: t.snapCPG }),
      },
    ],
    localUserCPG: cpg,
    localSnapCPG: snapCpg,
  };
}

/** Settings applied right after the group is created: Peer Persistence policies, or the sync period. */
export function rcgTargetSettings(device: ReplicationDevice): ModifyRcgParams | undefined {
  if (device.quorumWitnessIp !== undefined) {
    return { targets: [{ targetName: device.backendId, policies: { autoFailover: true, pathManagement: true, autoRecover: true } }] };
  }
  if (device.mode === 'asynchronous' || device.mode === 'streaming') {
    return { targets: [{ targetName: device.backendId, syncPeriod: device.syncPeriod ?? DEFAULT_SYNC_PERIOD }] };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Import: what an existing array volume is

const ProvisioningOfType: Partial<Record<number, Provisioning>> = {
  [ProvisioningTypes.FULL]: 'full',
  [ProvisioningTypes.TPVV]: 'thin',
  [ProvisioningTypes.TDVV]: 'dedup',
};

export function importedShape(v: Volume): { sizeGiB: number; provisioning: Provisioning; compression: boolean | null } {
  return {
    sizeGiB: Math.ceil(v.sizeMiB / 1024),
    provisioning: ProvisioningOfType[v.provisioningType] ?? 'thin',
    compression: v.compressionState === undefined ? null : v.compressionState === FeatureStates.YES,
  };
}

export function isVirtualCopy(v: Volume): boolean {
  return v.copyType === CopyTypes.VIRTUAL_COPY;
}

// ---------------------------------------------------------------------------------------------------------
// Records

interface RecordFields {
  id: string;
  displayName: string;
  arrayName: string;
  backend: string;
  shape: VolumeShape;
  mountConflictDelay: number;
  cpg: string | null;
  snapCpg: string | null;
  flashCache?: boolean | null;
  qosName?: string | null;
  fsOwner?: string | null;
  fsMode?: string | null;
  fsType?: string | null;
  options?: Record<string, string> | null;
  rcg?: { local_rcg_name: string; remote_rcg_name: string } | null;
  snapMetadata?: SnapshotMetadata | null;
  now: Date;
}

export function newRecord(f: RecordFields): VolumeRecord {
  return {
    id: f.id,
    name: f.id,
    display_name: f.displayName,
    '3par_vol_name': f.arrayName,
    backend: f.backend,
    size: f.shape.sizeGiB,
    provisioning: f.shape.provisioning,
    flash_cache: f.flashCache ?? null,
    compression: f.shape.compression,
    qos_name: f.qosName ?? null,
    mount_conflict_delay: f.mountConflictDelay,
    cpg: f.cpg,
    snap_cpg: f.snapCpg,
    is_snap: f.snapMetadata != null,
    snapshots: [],
    snap_metadata: f.snapMetadata ?? null,
    has_schedule: f.snapMetadata?.snap_schedule !== undefined,
    rcg_info: f.rcg ?? null,
    fsOwner: f.fsOwner ?? null,
    fsMode: f.fsMode ?? null,
    fs_type: f.fsType ?? null,
    Options: f.options ?? null,
    path_info: null,
    created: f.now.toISOString(),
  };
}

/** A record's option value as a boolean: upstream stored 'true'/'false' strings, this plugin booleans. */
export function optionBool(v: unknown): boolean | null {
  if (v === true || v === 'true' || v === 'True') return true;
  if (v === false || v === 'false' || v === 'False') return false;
  return null;
}

export function fsOwnerText(owner: FsOwner | null): string | null {
  return owner === null ? null : `${owner.uid}:${owner.gid}`;
}

export function snapshotMetadata(
  p: { id: string; name: string; parent: VolumeRecord; expirationHours: number | null; retentionHours: number | null; schedule?: SnapSchedule },
): SnapshotMetadata {
  return {
    name: p.name,
    id: p.id,
    parent_name: p.parent.display_name,
    parent_id: p.parent.id,
    fsOwner: p.parent.fsOwner,
    fsMode: p.parent.fsMode,
    expiration_hours: p.expirationHours,
    retention_hours: p.retentionHours,
    ...(p.schedule === undefined ? {} : { snap_schedule: p.schedule }),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Snapshot schedules

/**
 * The schedule's name on the array: as given, or for `auto` upstream's `str(datetime.now())` (local time, with
 * microseconds) with ' ', ':' and '-' replaced by '_', e.g. `2024_05_01_13_04_05.123000`.
 */
export function scheduleNameOf(given: string, now: Date): string {
  if (given !== AUTO_SCHEDULE_NAME) return given;
  const two = (n: number) => String(n).padStart(2, '0');
  const micro = String(now.getMilliseconds() * 1000).padStart(6, '0');
  return `${now.getFullYear()}_${two(now.getMonth() + 1)}_${two(now.getDate())}_${two(now.getHours())}_${two(now.getMinutes())}_${two(now.getSeconds())}.${micro}`;
}

/** What `createsched` makes: `createsv -f [-exp <n>h] [-retain <n>h] <prefix>.@y@@m@@d@@H@@M@@S@ <parent>` on `frequency`. */
export function scheduleSpec(schedule: ScheduleRequest, scheduleName: string, parentArrayName: string): ScheduleSpec {
  return {
    scheduleName,
    frequency: schedule.frequency,
    snapshotPrefix: schedule.prefix,
    parentVolume: parentArrayName,
    ...(schedule.expirationHours === null ? {} : { expirationHours: schedule.expirationHours }),
    ...(schedule.retentionHours === null ? {} : { retentionHours: schedule.retentionHours }),
  };
}

/** The record's `snap_schedule` (upstream's field names). */
export function snapScheduleOf(spec: ScheduleSpec): SnapSchedule {
  return {
    schedule_name: spec.scheduleName,
    snap_name_prefix: spec.snapshotPrefix,
    sched_frequency: spec.frequency,
    sched_snap_exp_hrs: spec.expirationHours ?? null,
    sched_snap_ret_hrs: spec.retentionHours ?? null,
  };
}

/**
 * Whether the schedule `shown` on the array is one a create of a snapshot of `parentArrayName` may have made,
 * and none of the parent's snapshots claims: the schedule runs createsv with `prefix` on that parent. Only such a
 * schedule is removed when a create is rolled back (another one of the same name is not this plugin's to remove).
 */
export function isUnclaimedSchedule(
  shown: { name: string; command: string },
  made: { prefix: string; parentArrayName: string },
  parent: Pick<VolumeRecord, 'snapshots'> | undefined,
): boolean {
  const words = shown.command.trim().split(/\s+/);
  const targetsParent = words[0] === 'createsv' && words.at(-1) === made.parentArrayName && words.at(-2)?.startsWith(`${made.prefix}.`) === true;
  const claimed = parent?.snapshots.some((s) => s.snap_schedule?.schedule_name === shown.name) ?? false;
  return targetsParent && !claimed;
}

/** The parent with `entry` added to (or, with `remove`, taken from) its snapshot list. */
export function withSnapshotEntry(parent: VolumeRecord, entry: SnapshotMetadata): VolumeRecord {
  return { ...parent, snapshots: [...parent.snapshots.filter((s) => s.id !== entry.id), entry] };
}

export function withoutSnapshot(parent: VolumeRecord, snapshotId: string): VolumeRecord {
  return { ...parent, snapshots: parent.snapshots.filter((s) => s.id !== snapshotId) };
}
