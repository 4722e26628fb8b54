/**
 * The `Status` of `docker volume inspect`, in upstream's shapes (volume_manager.get_volume_snap_details,
 * test/getvolume_tester.py): `volume_detail`, `Snapshots`, `qos_detail`, `rcg_detail` for a volume,
 * `snap_detail` for a snapshot, `Settings` for `vol/snap`. Pure: the manager passes what it read live.
 * Option values upstream kept as strings ('true'/'false') are shown as strings.
 */
import { RcgRoles, type QosRule, type RemoteCopyGroup } from '../../array/index.js';
import type { HpeError } from '../../errors.js';
import type { SnapshotMetadata, VolumeRecord } from '../store/records.js';

export interface VolumeView {
  Name: string;
  Mountpoint: string;
  Devicename?: string;
  /** ISO 8601. */
  CreatedAt?: string;
  Status: Record<string, unknown>;
}

/** Upstream stored some option values as strings ('true'/'false'); records made here hold booleans. */
function optionText(v: boolean | string | null | undefined): string | null {
  if (v === null || v === undefined) return null;
  return typeof v === 'string' ? v : v ? 'true' : 'false';
}

/** Upstream double-encoded `path_info` (a JSON string inside the record); records made here hold an object. */
function pathInfoOf(record: Pick<VolumeRecord, 'path_info'>): { mount_dir?: string; path?: string } | null {
  const p: unknown = record.path_info;
  if (typeof p === 'string') {
    try {
      return JSON.parse(p) as { mount_dir?: string; path?: string };
    } catch {
      return null;
    }
  }
  return (p as { mount_dir?: string; path?: string } | null) ?? null;
}

export function mountpointOf(record: Pick<VolumeRecord, 'path_info'>): string {
  return pathInfoOf(record)?.mount_dir ?? '';
}

export function devicenameOf(record: Pick<VolumeRecord, 'path_info'>): string {
  return pathInfoOf(record)?.path ?? '';
}

/** What the live array added to a volume's Status (each part absent when not asked for or unavailable). */
export interface LiveDetails {
  /** The CPG's domain; null when unknown (backend not OK). */
  domain: string | null;
  secondary?: { cpg: string | undefined; snapCpg: string | undefined };
  qos?: QosRule | { error: string };
  rcg?: RemoteCopyGroup | { error: string };
  /**
   * The flash cache policy of the volume's VV set, read at this Get as upstream did (true: enabled, false:
   * another policy, null: the set has none); absent when the volume is in no set or the set could not be read.
   */
  flashCache?: boolean | null;
}

function volumeDetail(record: VolumeRecord, live: LiveDetails): Record<string, unknown> {
  const detail: Record<string, unknown> = {
    id: record.id,
    size: record.size,
    flash_cache: optionText(live.flashCache !== undefined ? live.flashCache : record.flash_cache),
    compression: optionText(record.compression),
    provisioning: record.provisioning,
    fsOwner: record.fsOwner,
    fsMode: record.fsMode,
    mountConflictDelay: record.mount_conflict_delay,
    cpg: record.cpg,
    snap_cpg: record.snap_cpg,
    backend: record.backend,
    domain: live.domain,
    '3par_vol_name': record['3par_vol_name'],
  };
  if (record.Options !== null) detail['Options'] = record.Options;
  if (live.secondary !== undefined) {
    detail['secondary_cpg'] = live.secondary.cpg ?? null;
    detail['secondary_snap_cpg'] = live.secondary.snapCpg ?? null;
  }
  return detail;
}

function snapshotsList(record: VolumeRecord): Record<string, unknown>[] {
  return record.snapshots.map((s) => ({ Name: s.name, ParentName: s.parent_name, ...(s.snap_schedule === undefined ? {} : { snap_schedule: s.snap_schedule }) }));
}

const priorities: Record<number, string> = { 1: 'Low', 2: 'Normal', 3: 'High' };

/** Python's str() of a float: `40.0`, `1.5`, `0.09765625` (upstream divided KB by 1024 under Python 3). */
function pythonFloat(n: number): string {
  return Number.isInteger(n) ? n.toFixed(1) : String(n);
}

/**
 * Upstream's qos_detail (`40.0 MB/sec` as Python printed KB/1024). Latency: WSAPI's latencyGoal is in
 * milliseconds, so it reads `10 ms` (upstream printed `10 sec`, a wrong unit). Limits the rule does not set are
 * left out.
 */
export function qosDetail(rule: QosRule, vvset: string): Record<string, unknown> {
  const out: Record<string, unknown> = { enabled: rule.enabled ?? true };
  if (rule.bwMaxLimitKB !== undefined) out['maxBWS'] = `${pythonFloat(rule.bwMaxLimitKB / 1024)} MB/sec`;
  if (rule.bwMinGoalKB !== undefined) out['minBWS'] = `${pythonFloat(rule.bwMinGoalKB / 1024)} MB/sec`;
  if (rule.ioMaxLimit !== undefined) out['maxIOPS'] = `${rule.ioMaxLimit} IOs/sec`;
  if (rule.ioMinGoal !== undefined) out['minIOPS'] = `${rule.ioMinGoal} IOs/sec`;
  if (rule.latencyGoal !== undefined) out['Latency'] = `${rule.latencyGoal} ms`;
  if (rule.priority !== undefined) out['priority'] = priorities[rule.priority] ?? String(rule.priority);
  out['vvset_name'] = vvset;
  return out;
}

export function rcgDetail(group: RemoteCopyGroup): Record<string, unknown> {
  return {
    rcg_name: group.name,
    policies: group.targets[0]?.policies ?? null,
    role: group.role === RcgRoles.PRIMARY || group.role === RcgRoles.PRIMARY_REV ? 'Primary' : 'Secondary',
  };
}

/** Status of a volume (not a snapshot). */
export function volumeStatus(record: VolumeRecord, live: LiveDetails): Record<string, unknown> {
  const status: Record<string, unknown> = { volume_detail: volumeDetail(record, live) };
  if (record.snapshots.length > 0) status['Snapshots'] = snapshotsList(record);
  if (record.qos_name !== null && live.qos !== undefined) {
    status['qos_detail'] = 'error' in live.qos ? `ERROR: Failed to retrieve QoS '${record.qos_name}' from 3PAR (${live.qos.error})` : qosDetail(live.qos, record.qos_name);
  }
  if (record.rcg_info !== null && live.rcg !== undefined) {
    status['rcg_detail'] =
      'error' in live.rcg ? `ERROR: Failed to retrieve RCG '${record.rcg_info.local_rcg_name}' from 3PAR (${live.rcg.error})` : rcgDetail(live.rcg);
  }
  return status;
}

/** Status of a snapshot's own record. */
/**
 * What the array holds of a schedule's snapshots (upstream showed none: they are not Docker volumes), or why it could
 * not be read.
 */
export type ScheduledSnapshots = { snapshots: { name: string; created?: string; expires?: string }[] } | { error: string };

export function snapshotStatus(record: VolumeRecord, scheduled?: ScheduledSnapshots): Record<string, unknown> {
  const m = record.snap_metadata;
  return {
    snap_detail: {
      id: record.id,
      size: record.size,
      compression: optionText(record.compression),
      provisioning: record.provisioning,
      is_snap: true,
      parent_volume: m?.parent_name ?? null,
      parent_id: m?.parent_id ?? null,
      fsOwner: record.fsOwner,
      fsMode: record.fsMode,
      expiration_hours: m?.expiration_hours ?? null,
      retention_hours: m?.retention_hours ?? null,
      mountConflictDelay: record.mount_conflict_delay,
      snap_cpg: record.snap_cpg,
      backend: record.backend,
      ...(m?.snap_schedule === undefined ? {} : { snap_schedule: m.snap_schedule }),
      ...(scheduled === undefined ? {} : 'error' in scheduled ? { scheduled_snapshots_error: scheduled.error } : { scheduled_snapshots: scheduled.snapshots }),
      '3par_vol_name': record['3par_vol_name'],
    },
  };
}

/** `vol/snap`: the snapshot's settings as its parent lists them. */
export function snapshotSettingsView(volume: VolumeRecord, entry: SnapshotMetadata): VolumeView {
  return {
    Name: `${volume.display_name}/${entry.name}`,
    Mountpoint: '',
    Status: { Settings: { expirationHours: entry.expiration_hours, retentionHours: entry.retention_hours } },
  };
}

/** The one Status key of an unverified Get answer (what `docker volume inspect` shows). */
export const UNVERIFIED_STATUS_KEY = 'etcd_unreadable';

/**
 * Get's answer for a volume the plugin knew (the volume cache had it) whose record cannot be read now. dockerd
 * 20.10 takes ANY Err from Get for "no such volume" (volume/service/store.go lookupVolume): `docker volume
 * inspect` and `rm` then say `no such volume`, dockerd drops its metadata of the name, and `docker run -v v1:/data`
 * makes a LOCAL volume v1 that shadows ours. Answering it, marked unverified, keeps dockerd on our plugin: rm and
 * Mount reach us and are refused with etcd's reason. A name never known here still gets the Err: claiming it would
 * make `docker volume create -d hpe` of a new name succeed without creating anything. Nothing in it comes from etcd.
 */
export function unverifiedView(name: string, failure: HpeError): VolumeView {
  return {
    Name: name,
    Mountpoint: '',
    Devicename: '',
    Status: {
      [UNVERIFIED_STATUS_KEY]: `${failure.message}. This plugin saw volume ${name} before but cannot read it now; nothing can be done with it until etcd answers. Fix: ${failure.fix}; \`hpedockerplugin check\` on this host shows etcd's state`,
    },
  };
}
