/**
 * Volume records in etcd v3.
 *
 * Layout. Every volume or snapshot is one JSON document (field names as upstream's, hpe/volume.py) stored
 * under TWO keys, always written together in one transaction:
 *   /volumes/<uuid>              the record, as upstream kept it (one prefix read lists all)
 *   /volume-names/<docker name>  the same document: the name index
 * Both copies share one mod revision, which is the record's version for compare-and-swap.
 *
 * Why a copy and not a pointer: an index holding only the uuid makes a lookup by name cost two dependent
 * reads (etcd transactions cannot feed one read's result into another), and Get, Path, Mount and Unmount all
 * start from the Docker name. With the copy, getByName and getById are ONE Range request, list is ONE Range
 * request for up to LIST_PAGE_SIZE records, and create / update / remove are ONE Txn each. The price is a
 * second copy (records are about 1 KB) and that `id` and `display_name` never change (Docker has no rename);
 * the transactions compare both copies, so they cannot drift apart.
 *
 * Upstream kept `path_info` as a JSON string inside the JSON; here it is a plain object.
 */
import type { Clock } from '../../clock.js';
import type { EtcdClient, PrefixListing } from '../../etcd/index.js';
import { prefixedKey, toEtcdError, VOLUME_NAMES_PREFIX, VOLUMES_PREFIX, waitForKeyEvent } from '../../etcd/index.js';
import { HpeError } from '../../errors.js';
import { VolumeExistsError, VolumeRecordConflictError, VolumeStoreError } from '../errors.js';
import { isUuid } from '../request/naming.js';
import type { Provisioning } from '../request/options.js';

/** Records per Range response when listing; more are read in further pages. */
const LIST_PAGE_SIZE = 1000;

/** A snapshot's settings, kept in its own record (`snap_metadata`) and in its parent's `snapshots`. */
export interface SnapshotMetadata {
  name: string;
  id: string;
  parent_name: string;
  parent_id: string;
  fsOwner: string | null;
  fsMode: string | null;
  expiration_hours: number | null;
  retention_hours: number | null;
  /** A scheduled snapshot's schedule on the array (upstream's fields). */
  snap_schedule?: SnapSchedule;
}

/** A snapshot schedule the plugin made on the array: `createsched` running `createsv` on the parent. */
export interface SnapSchedule {
  schedule_name: string;
  snap_name_prefix: string;
  sched_frequency: string;
  sched_snap_exp_hrs: number | null;
  sched_snap_ret_hrs: number | null;
}

/** Where a mounted volume sits on its node. */
export interface PathInfo {
  name: string;
  /** The real device, e.g. /dev/dm-3. */
  path: string;
  mount_dir: string;
  /** The attach result (device path such as /dev/disk/by-id/dm-uuid-mpath-<wwid>). */
  device_info?: Record<string, unknown>;
  /** What the array returned for the export (driver_volume_type, data). */
  connection_info?: Record<string, unknown>;
  remote_connection_info?: Record<string, unknown>;
  /**
   * This plugin's own: the arrays of the backend the volume is exported from, the first attached (`primary`: the
   * backend's own array; `replication target`). Absent: the backend's own array.
   */
  exported_from?: ('primary' | 'replication target')[];
}

export interface VolumeRecord {
  /** uuid v4; also the array name's source (dcv-/dcs- + 22 characters). */
  id: string;
  /** = id, as upstream. */
  name: string;
  /** The Docker name. */
  display_name: string;
  '3par_vol_name': string;
  backend: string;
  /** GiB. */
  size: number;
  provisioning: Provisioning;
  /** null: not requested. false never creates a VV set. */
  flash_cache: boolean | null;
  compression: boolean | null;
  qos_name: string | null;
  mount_conflict_delay: number;
  cpg: string | null;
  snap_cpg: string | null;
  is_snap: boolean;
  /** A volume's snapshots (one entry each, the snapshot's own record holds the same). */
  snapshots: SnapshotMetadata[];
  /** A snapshot's own settings; null for a volume. */
  snap_metadata: SnapshotMetadata | null;
  /** A snapshot whose `snap_metadata.snap_schedule` is a schedule on the array (upstream set it on the snapshot, not the parent). */
  has_schedule: boolean;
  rcg_info: { local_rcg_name: string; remote_rcg_name: string } | null;
  /** `uid:gid`. */
  fsOwner: string | null;
  /** Octal string, e.g. `0755`. */
  fsMode: string | null;
  /** The filesystem made at the first mount (`-o fsType`, default ext4); absent in upstream's records (ext4). */
  fs_type?: string | null;
  /** The Create options as given, for clones and imports. */
  Options: Record<string, string> | null;
  /** Set while the volume is mounted on its owning node. */
  path_info: PathInfo | null;
  /** node id → Docker mount IDs on it; present only while mounted. */
  node_mount_info?: Record<string, string[]>;
  /** Left by a takeover: [node id, that node's path_info], for that node's local cleanup (then it removes its entry). */
  old_path_info?: [string, PathInfo][];
  /** ISO 8601 creation time. */
  created: string;
}

/** A record with the revision to pass to `update` / `remove`. */
export interface StoredVolume {
  record: VolumeRecord;
  modRevision: string;
}

/** A record under /volumes/ that could not be read as a volume (listed apart, so one bad entry breaks nothing). */
interface UnreadableRecord {
  /** As etcd holds it (host_etcd_prefix included), for the admin's etcdctl. */
  key: string;
  problem: string;
}

/** What List answers of a record. */
export type ListedRecord = Pick<VolumeRecord, 'size' | 'path_info' | 'node_mount_info'>;

/** A name of the name index with what List needs of its record; no record when it is unreadable. */
export interface NamedVolume {
  name: string;
  record?: ListedRecord;
}

export interface VolumeList {
  volumes: StoredVolume[];
  unreadable: UnreadableRecord[];
}

function volumeKey(id: string): string {
  return VOLUMES_PREFIX + id;
}

function volumeNameKey(name: string): string {
  return VOLUME_NAMES_PREFIX + name;
}

// ---------------------------------------------------------------------------------------------------------
// Parsing

/**
 * What every reader of a record relies on, checked in this order. The other fields are kept as written: records
 * of the Python plugin hold other shapes in some of them (`path_info` as a JSON string, `compression` as 'true'),
 * and the readers of those fields allow for that. `snapshots` that is not an array reads as [].
 */
const requiredFields = [
  ['id', 'string'],
  ['display_name', 'string'],
  ['3par_vol_name', 'string'],
  ['backend', 'string'],
  ['size', 'number'],
  ['is_snap', 'boolean'],
] as const;

/**
 * The record in `value`, or a description of why it is not one (naming the field and what is wrong). Checked by
 * hand, not by a schema library: every Get, Path and Mount parses a record, and a schema cost more than the rest
 * of a Path.
 */
export function parseVolumeRecord(value: string): VolumeRecord | string {
  let doc: unknown;
  try {
    doc = JSON.parse(value);
  } catch (e) {
    return `not JSON (${(e as Error).message})`;
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return 'not a JSON object';
  const fields = doc as Record<string, unknown>;
  for (const [field, type] of requiredFields) {
    const v = fields[field];
    if (typeof v !== type || (type === 'number' && !Number.isFinite(v))) return `field ${field} is missing or not a ${type}`;
  }
  const { id, display_name, '3par_vol_name': arrayName, backend, size, is_snap, snapshots, ...rest } = fields;
  return { id, display_name, '3par_vol_name': arrayName, backend, size, is_snap, snapshots: Array.isArray(snapshots) ? [...snapshots] : [], ...rest } as unknown as VolumeRecord;
}

/**
 * Only the fields List answers, checked by hand: List parses every record at once, and the full schema costs a
 * third of its time at 10,000 volumes. Whoever reads the whole record (Get, Mount) validates it then.
 */
export function parseListedRecord(value: string): ListedRecord | undefined {
  let v: unknown;
  try {
    v = JSON.parse(value);
  } catch {
    return undefined;
  }
  return listedOf(v);
}

/** List's fields of a parsed document (a whole record or not): undefined without a numeric size. */
export function listedOf(v: unknown): ListedRecord | undefined {
  if (typeof v !== 'object' || v === null || !('size' in v) || typeof v.size !== 'number') return undefined;
  const mounts = 'node_mount_info' in v && typeof v.node_mount_info === 'object' && v.node_mount_info !== null ? v.node_mount_info : undefined;
  return {
    size: v.size,
    path_info: 'path_info' in v ? (v.path_info as VolumeRecord['path_info']) : null,
    ...(mounts === undefined ? {} : { node_mount_info: mounts as Record<string, string[]> }),
  };
}

function checkWritable(record: VolumeRecord): void {
  if (!isUuid(record.id)) throw new TypeError(`volume record id must be a uuid, got ${JSON.stringify(record.id)}`);
  if (record.display_name.length === 0) throw new TypeError('volume record display_name must not be empty');
}

// ---------------------------------------------------------------------------------------------------------
// The store

/** Changes applied together in one etcd transaction: all or none. */
interface VolumeChanges {
  create?: readonly VolumeRecord[];
  update?: readonly StoredVolume[];
  remove?: readonly StoredVolume[];
  /** Other keys deleted in the same transaction (e.g. the intent of a remove: one round trip instead of two). */
  alsoDelete?: readonly string[];
}

export class VolumeStore {
  #lastKnown = 0n;
  readonly #unseenDeleteListeners: ((names: readonly string[]) => void)[] = [];

  constructor(private readonly client: EtcdClient) {}

  /** The key and revision a transaction compares to act only while `stored` is unchanged. */
  guardOf(stored: StoredVolume): { key: string; modRevision: string } {
    checkRevision(stored.modRevision);
    return { key: volumeKey(stored.record.id), modRevision: stored.modRevision };
  }

  /** The record of a Docker name: ONE etcd Range request. */
  async getByName(name: string): Promise<StoredVolume | undefined> {
    const stored = await this.readOne(volumeNameKey(name), name);
    if (stored !== undefined) this.#knows(stored.modRevision);
    return stored;
  }

  /** The name index's key of a Docker name: what a lock's transaction reads for `storedFrom` (EtcdLocks' `read`). */
  nameKey(name: string): string {
    return volumeNameKey(name);
  }

  /** The record in a read of `nameKey(name)` made elsewhere (in a lock's transaction), checked as getByName checks it. */
  storedFrom(name: string, kv: { value: string; modRevision: string } | undefined): StoredVolume | undefined {
    return kv === undefined ? undefined : storedOf(prefixedKey(this.client.prefix, volumeNameKey(name)), kv.value, kv.modRevision);
  }

  /** The record of a uuid (e.g. decoded from an array name): ONE etcd Range request. */
  async getById(id: string): Promise<StoredVolume | undefined> {
    return this.readOne(volumeKey(id), id);
  }

  /**
   * Every volume's Docker name with its record (undefined when unreadable: still listed, so one bad entry hides
   * nothing), from the name index: what `docker volume ls` needs, in one Range request per LIST_PAGE_SIZE
   * entries, the same reads as list().
   */
  async listByName(): Promise<NamedVolume[]> {
    const entries = await this.readPrefix(VOLUME_NAMES_PREFIX);
    // Revisions are decimal strings: the longer, else the greater, is the later.
    let latest = '0';
    for (const { modRevision: r } of entries) if (r.length > latest.length || (r.length === latest.length && r > latest)) latest = r;
    this.#knows(latest);
    return entries.map((e) => {
      const record = parseListedRecord(e.value);
      return { name: e.key.slice(VOLUME_NAMES_PREFIX.length), ...(record === undefined ? {} : { record }) };
    });
  }

  /** Every record, in one Range request per LIST_PAGE_SIZE records (sorted by key, i.e. by uuid). */
  async list(): Promise<VolumeList> {
    const out: VolumeList = { volumes: [], unreadable: [] };
    for (const { key, value, modRevision } of await this.readPrefix(VOLUMES_PREFIX)) {
      const parsed = parseVolumeRecord(value);
      if (typeof parsed === 'string') out.unreadable.push({ key: prefixedKey(this.client.prefix, key), problem: parsed });
      else out.volumes.push({ record: parsed, modRevision });
    }
    return out;
  }

  /** Every key under `prefix` with its value, in pages of one consistent snapshot. */
  private async readPrefix(prefix: string): Promise<{ key: string; value: string; modRevision: string }[]> {
    return (await this.snapshot(prefix)).entries;
  }

  /**
   * The name index (`/volume-names/`) as one consistent snapshot, with the revision it was read at: what the
   * volume cache starts from and then watches after (volume-cache.ts).
   */
  snapshotByName(): Promise<PrefixListing> {
    return this.snapshot(VOLUME_NAMES_PREFIX).then(({ entries, revision }) => ({
      entries: entries.map((e) => ({ key: e.key.slice(VOLUME_NAMES_PREFIX.length), value: e.value, modRevision: e.modRevision })),
      revision,
    }));
  }

  /**
   * The highest revision of a record this store wrote, or read from the name index, in etcd (0 before any): always
   * a revision of a name-index event, which the volume cache's watch delivers. The cache answers only once it has
   * reached it: read-your-writes, and no answer older than one this process already gave from etcd (a Get that
   * read etcd while the watch was behind, then a List from the cache). Reads of `/volumes/` alone do not count: a
   * record written there without its name-index copy (by hand, or by HPE's plugin) has a revision the watch never
   * delivers.
   */
  get lastKnownRevision(): bigint {
    return this.#lastKnown;
  }

  /**
   * Calls `listener` with the names whose removal this store made without learning its revision (a retried
   * transaction whose first answer was lost, that deleted every key it compared): lastKnownRevision cannot cover
   * them, so the volume cache waits for their delete by name instead.
   */
  onUnseenDeletes(listener: (names: readonly string[]) => void): void {
    this.#unseenDeleteListeners.push(listener);
  }

  #knows(revision: string): string {
    const r = BigInt(revision);
    if (r > this.#lastKnown) this.#lastKnown = r;
    return revision;
  }

  private async snapshot(prefix: string): Promise<{ entries: { key: string; value: string; modRevision: string }[]; revision: string }> {
    const out: { key: string; value: string; modRevision: string }[] = [];
    const end = prefixEnd(prefix);
    let from = prefix;
    let revision: string | undefined;
    for (;;) {
      let res;
      try {
        // Later pages read at the first page's revision, so the list is one consistent snapshot.
        const at = revision;
        res = await this.client.readingRaw({ key: prefix, prefix: true }, () => {
          const range = this.client.raw.getAll().inRange({ start: from, end }).limit(LIST_PAGE_SIZE);
          return (at === undefined ? range : range.revision(at)).exec();
        });
      } catch (e) {
        throw this.failure('ETCD volume list failed', e);
      }
      revision ??= res.header.revision;
      for (const kv of res.kvs) out.push({ key: kv.key.toString('utf8'), value: kv.value.toString('utf8'), modRevision: kv.mod_revision });
      const last = res.kvs[res.kvs.length - 1];
      if (!res.more || last === undefined) return { entries: out, revision };
      from = last.key.toString('utf8') + '\0';
    }
  }

  /**
   * Resolves once the record of `id` changes after `modRevision` (an etcd watch, no polling), or at `until`
   * (epoch ms, on `clock`), whichever is first. A watch that cannot be opened, or fails, ends the wait early: the
   * caller reads the record again either way.
   */
  async waitForChange(id: string, modRevision: string, until: number, clock: Clock): Promise<void> {
    const from = (BigInt(modRevision) + 1n).toString();
    await waitForKeyEvent(this.client, volumeKey(id), { from, events: ['put', 'delete'], deadline: until, clock }).catch(() => undefined);
  }

  /** Saves a new record; `VolumeExistsError` if its name (or uuid) is taken — exactly one of racing creates wins. */
  async create(record: VolumeRecord, alsoDelete: readonly string[] = []): Promise<StoredVolume> {
    const revision = await this.commit({ create: [record], alsoDelete });
    return { record, modRevision: revision };
  }

  /** Replaces a record if it is still at `modRevision`; `VolumeRecordConflictError` otherwise. */
  async update(record: VolumeRecord, modRevision: string): Promise<StoredVolume> {
    const revision = await this.commit({ update: [{ record, modRevision }] });
    return { record, modRevision: revision };
  }

  /** Deletes a record (both keys) if it is still at `modRevision`; `VolumeRecordConflictError` otherwise. */
  async remove(record: VolumeRecord, modRevision: string): Promise<void> {
    await this.commit({ remove: [{ record, modRevision }] });
  }

  /**
   * Applies several changes in ONE transaction (e.g. a new snapshot and its parent's `snapshots` list), and
   * returns the new revision. If any condition fails nothing is written, and the error names the first
   * volume whose condition failed (read in the same round trip).
   */
  async commit(changes: VolumeChanges): Promise<string> {
    const create = changes.create ?? [];
    const stored = [...(changes.update ?? []), ...(changes.remove ?? [])];
    const all = [...create, ...stored.map((s) => s.record)];
    if (all.length === 0) throw new TypeError('commit needs at least one change');
    all.forEach(checkWritable);
    const label = all.map((r) => r.display_name).join(', ');
    const verb = create.length === 0 && (changes.update ?? []).length === 0 ? 'delete' : 'save';

    const compares: { key: string; column: 'Create' | 'Mod'; value: string }[] = [];
    for (const r of create) {
      compares.push({ key: volumeNameKey(r.display_name), column: 'Create', value: '0' });
      compares.push({ key: volumeKey(r.id), column: 'Create', value: '0' });
    }
    for (const s of stored) {
      checkRevision(s.modRevision);
      compares.push({ key: volumeNameKey(s.record.display_name), column: 'Mod', value: s.modRevision });
      compares.push({ key: volumeKey(s.record.id), column: 'Mod', value: s.modRevision });
    }
    const written = new Map(
      [...create, ...(changes.update ?? []).map((s) => s.record)].flatMap((r) => {
        const json = JSON.stringify(r);
        return [[volumeNameKey(r.display_name), json] as const, [volumeKey(r.id), json] as const];
      }),
    );
    const deleted = [
      ...(changes.remove ?? []).flatMap((s) => [volumeNameKey(s.record.display_name), volumeKey(s.record.id)]),
      ...(changes.alsoDelete ?? []),
    ];
    const touched = [...compares.map((c) => c.key), ...deleted].map((key) => ({ key, prefix: false }));
    const transaction = () => {
      const raw = this.client.raw;
      const [first, ...rest] = compares;
      let txn = raw.if(first!.key, first!.column, '==', first!.value);
      for (const c of rest) txn = txn.and(c.key, c.column, '==', c.value);
      const puts = [...written].map(([key, json]) => raw.put(key).value(json));
      return txn
        .then(...puts, ...deleted.map((key) => raw.delete().key(key)))
        .else(...compares.map((c) => raw.get(c.key)))
        .commit();
    };

    let res;
    let retried = false;
    try {
      res = await this.client.writingRaw(touched, (attempt) => {
        retried = attempt > 1;
        return transaction();
      });
    } catch (e) {
      throw this.failure(`ETCD data ${verb} failed: ${label}`, e);
    }
    if (res.succeeded) return this.#knows(res.header.revision);

    // After a lost answer the guard fails on our own write: every compared key holds what we wrote, or is gone.
    const read = compares.map((c, i) => res.responses[i]?.response_range?.kvs?.[0]);
    if (retried && compares.every((c, i) => (written.has(c.key) ? read[i]?.value.toString('utf8') === written.get(c.key) : read[i] === undefined))) {
      // Only a revision read back is one the volume cache's watch delivers (the header's may be a lock's write).
      const kept = read.find((kv) => kv !== undefined)?.mod_revision;
      if (kept !== undefined) return this.#knows(kept);
      const names = deleted.filter((key) => key.startsWith(VOLUME_NAMES_PREFIX)).map((key) => key.slice(VOLUME_NAMES_PREFIX.length));
      for (const listener of this.#unseenDeleteListeners) listener(names);
      return res.header.revision;
    }

    // Name the first failed condition from the values read in the else branch.
    compares.forEach((c, i) => {
      const kv = read[i];
      const actual = kv === undefined ? '0' : c.column === 'Create' ? kv.create_revision : kv.mod_revision;
      if (actual === c.value) return;
      const record = all.find((r) => c.key === volumeNameKey(r.display_name) || c.key === volumeKey(r.id))!;
      if (c.column === 'Create') {
        const taken = c.key.startsWith(VOLUME_NAMES_PREFIX) ? undefined : `uuid ${record.id} of new volume ${record.display_name} is already in use`;
        throw new VolumeExistsError(record.display_name, taken);
      }
      throw new VolumeRecordConflictError(record.display_name);
    });
    // Unreachable unless a condition changed between evaluation and read, which one transaction excludes.
    throw new VolumeRecordConflictError(label);
  }

  private async readOne(key: string, what: string): Promise<StoredVolume | undefined> {
    let kv;
    try {
      kv = (await this.client.readingRaw({ key, prefix: false }, () => this.client.raw.get(key).exec())).kvs[0];
    } catch (e) {
      throw this.failure(`ETCD data read failed: ${what}`, e);
    }
    if (kv === undefined) return undefined;
    return storedOf(prefixedKey(this.client.prefix, key), kv.value.toString('utf8'), kv.mod_revision);
  }

  private failure(what: string, e: unknown): HpeError {
    const cause = toEtcdError(e, this.client.endpoint);
    return new VolumeStoreError(`${what}: ${cause.message}`, cause.fix, { retryable: cause.retryable, cause });
  }
}

/** `etcdKey`: where the value was read, as etcd holds it (for the message). */
function storedOf(etcdKey: string, value: string, modRevision: string): StoredVolume {
  const parsed = parseVolumeRecord(value);
  if (typeof parsed === 'string') {
    throw new VolumeStoreError(`volume record ${etcdKey} in etcd is unreadable: ${parsed}`, `inspect it with \`etcdctl get ${etcdKey}\`; remove or repair it`);
  }
  return { record: parsed, modRevision };
}

function checkRevision(modRevision: string): void {
  if (!/^[1-9]\d*$/.test(modRevision)) throw new TypeError(`modRevision must be an etcd revision, got ${JSON.stringify(modRevision)}`);
}

/** The smallest key greater than every key starting with `prefix`. */
function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}
