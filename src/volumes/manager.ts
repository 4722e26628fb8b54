/**
 * The volume manager: what the Docker VolumeDriver endpoints do (create, remove, get, list, path), the state of
 * the backends, and the crash repair run at start. The HTTP server maps each method onto one endpoint; a thrown
 * error's message is the `Err` Docker shows.
 *
 * Costs. Get and Path: ONE etcd read (the name index), plus for Get only what the Status needs from the array
 * over the backend's one session (the CPG domain is cached; snapshots, QoS, VV set and group only when the volume has
 * them). List: one etcd range read of the name index with its records (per 1,000 volumes), no array call. While the
 * volume cache is live these reads come from it instead. Create of a plain volume whose lock is free: ONE transaction
 * (the lock, the name's absence, the intent), the array steps, ONE transaction (the record, the intent and lock deleted).
 */
import os from 'node:os';
import { FlashCachePolicies } from '../array/index.js';
import type { HpeConfig } from '../config/index.js';
import type { EtcdClient } from '../etcd/index.js';
import type { Logger } from '../log.js';
import type { RevealedSecrets } from '../secrets/index.js';
import { systemClock, type Backoff, type Clock } from '../clock.js';
import { Backends, cpgDomain, type WsapiSettings } from './backends/backends.js';
import type { SshSettings } from './backends/array-cli.js';
import type { BackendStatus } from './backends/state.js';
import { createClone } from './flows/clone.js';
import { createPlainVolume, planPlainVolumeBeforeLock, type PlainCreatePlan } from './flows/create.js';
import { VolumeRequestError, VolumeStoreError } from './errors.js';
import { describe, describeArrayError } from './flows/failures.js';
import { DataPath } from './flows/data-path.js';
import {
  holdersText,
  lostHere,
  mountedElsewhere,
  mountHere,
  mountHolders,
  otherHolders,
  settledForThisNode,
  takeOver,
  unmountHere,
  type MountContext,
} from './flows/mount.js';
import { NodePresence } from './store/presence.js';
import { EtcdSession } from './store/session.js';
import { VolumeCache } from './store/volume-cache.js';
import { SecretFollower } from './backends/secret-follower.js';
import { reconcileNode, type ReconcileReport } from './flows/reconcile.js';
import { releaseIfUnused } from './flows/stale-references.js';

/** What the repair at start did: the intents and arrays (RepairReport), this node's mount intents, and its kernel. */
export type StartRepairReport = RepairReport & { mounts: MountRepairReport; host: ReconcileReport };
import { repairMounts, type MountRepairReport } from './flows/mount-repair.js';
import { MountIntentStore } from './store/mount-intents.js';
import { systemHostEnv, type HostEnv } from '../host/index.js';
import { CREATE_HELP, formatBackendsTable } from './request/help.js';
import { importVolume } from './flows/import.js';
import { IntentStore } from './store/intents.js';
import { EtcdLocks, rcgLock, volumeLock, type FirstWrite, type HeldLocks, type LockTarget } from './store/locks.js';
import { arrayVolumeName, parseGetName, vvSetName } from './request/naming.js';
import { parseCreateRequest, type VolumeRequest } from './request/options.js';
import { targetCpgs, withoutSnapshot } from './request/plan.js';
import { VolumeStore, type NamedVolume, type StoredVolume, type VolumeList, type VolumeRecord } from './store/records.js';
import { notFoundForRemove, removeIntentWithLocks, removeStored } from './flows/remove.js';
import { repairPass, type RepairReport } from './flows/repair.js';
import { createReplicatedVolume } from './flows/replication.js';
import { createSnapshotVolume, sourceMissing } from './flows/snapshot.js';
import { devicenameOf, mountpointOf, snapshotSettingsView, snapshotStatus, unverifiedView, volumeStatus, type LiveDetails, type ScheduledSnapshots, type VolumeView } from './request/status.js';


function unknownVolume(name: string, op: 'mount' | 'unmount'): VolumeRequestError {
  return new VolumeRequestError(`Volume ${name} does not exist: cannot ${op} it`, 'check the name with `docker volume ls`; create it with `docker volume create -d hpe`');
}

/** Upstream's List entry. */
export interface ListEntry {
  Name: string;
  Devicename: string;
  size?: number;
  Mountpoint: string;
  Status: Record<string, unknown>;
}

export interface VolumeManager {
  /** Err text = the thrown error's message. An existing name succeeds at once, before any validation. */
  create(name: string, opts: Record<string, string> | undefined): Promise<void>;
  remove(name: string): Promise<void>;
  /** `vol` or `vol/snap`; undefined for an unknown name. */
  get(name: string): Promise<{ Name: string; Mountpoint: string; Devicename?: string; Status: Record<string, unknown> } | undefined>;
  /** Upstream's List entry: Devicename and Mountpoint while mounted on this node, size in GiB (absent for an unreadable record). */
  list(): Promise<ListEntry[]>;
  /** '' while not mounted (on this node); throws for an unknown volume. */
  path(name: string): Promise<string>;
  /** Attaches and mounts on the first `id`, counts a reference for every other; answers the mountpoint. */
  mount(name: string, id: string): Promise<{ Mountpoint: string; Devicename: string }>;
  /** Drops the reference `id`; the last one unmounts and detaches. */
  unmount(name: string, id: string): Promise<void>;
  backendStates(): BackendStatus[];
  /**
   * Settles what a crash left between the array, this host and etcd, and reconciles this node's mounts with the
   * kernel (flows/reconcile.ts); run at start. `newBoot`: the first start in a new boot of this host.
   */
  repair(options?: { newBoot?: boolean }): Promise<StartRepairReport>;
  /** Stops background work and logs out of every array (the etcd client is the caller's). */
  close(): Promise<void>;
}

export interface VolumeManagerOptions {
  config: HpeConfig;
  /** Decrypted passwords per backend (the start-up gate's result). */
  secrets: ReadonlyMap<string, RevealedSecrets>;
  etcd: EtcdClient;
  logger: Logger;
  /** This node's id (upstream's /etc/hpedockerplugin/.node_id): Path answers '' when mounted on another node. */
  nodeId?: string;
  /** This host's side of the data path (commands, /sys, /dev, /etc, /proc roots); default: the real host. */
  host?: HostEnv;
  /** This host's name for its entry on the arrays (cut as upstream does). Default os.hostname(). */
  hostname?: string;
  /**
   * The TTL of this process's etcd session lease, which holds its node presence and its locks: how soon a dead
   * node is seen as not alive (a takeover needs that) and its locks free themselves. Default 10 s.
   */
  sessionTtlSeconds?: number;
  /** Called after each step of a Mount or Unmount: the crash tests stop the process there. */
  onMountStep?: MountContext['onStep'];
  /** How long an operation waits for a volume's (or group's) lock. Default 30 s. */
  lockWaitMs?: number;
  /** Time for backend retries, background repairs and record dates. */
  clock?: Clock;
  /** Backoff of the re-initialisation of a FAILED backend. Default 2 s doubling to 60 s. */
  backoff?: Backoff;
  /** WSAPI client settings (timeout, in-call retries). */
  wsapi?: WsapiSettings;
  /** The arrays' SSH CLI (snapshot schedules): known-hosts file, host key policy, time-outs. */
  ssh?: SshSettings;
  /** Offline clone copies: poll interval and bound of the wait for the array task. Default 1 s, 1 h. */
  taskWait?: { pollIntervalMs?: number; timeoutMs?: number };
  /**
   * repair(): how long it waits for the backends' first init attempt (it runs before the socket opens, so
   * briefly; a backend not OK by then is repaired when it turns OK), and for each volume's lock.
   */
  repairWait?: { backendsMs?: number; lockMs?: number };
  /**
   * References of containers gone without their Unmount (flows/stale-references.ts): how long after this node's
   * last Mount of a volume it may be checked (default 30 s: a container binds its folder right after its Mount),
   * and when, after a start that mounted volumes again, they are checked by themselves (default 45 s and 5 min).
   */
  staleReferences?: { graceMs?: number; checksAfterStartMs?: readonly number[] };
}

const DEFAULT_REPAIR_BACKENDS_WAIT_MS = 2000;
const DEFAULT_STALE_GRACE_MS = 30_000;
const DEFAULT_STALE_CHECKS_AFTER_START_MS = [45_000, 300_000];
const DEFAULT_REPAIR_LOCK_WAIT_MS = 500;
/** Background passes for intents whose lock stays held (a live operation elsewhere finishes them itself). */
const MAX_BACKGROUND_REPAIRS = 5;
/** How soon a failed Mount or Unmount's leftover intent is retried in the background (then doubling, at most 60 s). */
const MOUNT_REPAIR_FIRST_DELAY_MS = 2000;
/** How soon a failed Create or Remove's leftover intent is settled in the background (then doubling, at most 60 s). */
const INTENT_SETTLE_FIRST_DELAY_MS = 2000;
/** Upstream's default mountConflictDelay, for records without one. */
const DEFAULT_MOUNT_CONFLICT_DELAY_S = 30;
/** dockerd abandons a Mount after 2 minutes (moby volume/drivers/proxy.go longTimeout): the wait leaves room to attach. */
const MAX_MOUNT_CONFLICT_WAIT_S = 90;

/** A Create request that makes a volume (every kind but help). */
type VolumeChange = Exclude<VolumeRequest, { kind: 'help' }>;

type MountStepResult = { mounted: { mountpoint: string; device: string } } | { waitFrom: StoredVolume };

export function createVolumeManager(options: VolumeManagerOptions): VolumeManager {
  return new Manager(options);
}

class Manager implements VolumeManager {
  readonly #ctx: MountContext;
  readonly #session: EtcdSession;
  readonly #locks: EtcdLocks;
  readonly #backends: Backends;
  /** The hpe.conf loaded: errors whose fix is an edit of it name it. */
  readonly #configFile: string;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #repairWait: { backendsMs: number; lockMs: number };
  readonly #stale: { graceMs: number; checksAfterStartMs: readonly number[] };
  /** When this process last answered a Mount of each volume (clock ms): see flows/stale-references.ts. */
  readonly #lastMount = new Map<string, number>();
  #staleChecks: Promise<void> = Promise.resolve();
  readonly #stop = new AbortController();
  /** Backends not yet repaired (not OK at the repair at start, or their target not OK); repaired when they turn OK. */
  readonly #unrepaired = new Set<string>();
  #repairStarted = false;
  readonly #pendingPasses = new Set<'intents' | 'mounts'>();
  #background: Promise<void> = Promise.resolve();
  readonly #presence: NodePresence;
  readonly #cache: VolumeCache;
  readonly #secrets: SecretFollower;
  /** In-flight Creates by name and options (create()). */
  readonly #creating = new Map<string, Promise<void>>();
  /** The last List answer made from the cache, and the cache's list it was made from. */
  #listed: { from: readonly NamedVolume[]; entries: ListEntry[] } | undefined;

  constructor(o: VolumeManagerOptions) {
    this.#configFile = o.config.file;
    this.#logger = o.logger;
    this.#clock = o.clock ?? systemClock;
    // Renewed in real time whatever `clock` is: etcd expires the lease in real time.
    this.#session = new EtcdSession(o.etcd, {
      owner: `${os.hostname()} pid ${process.pid}`,
      ...(o.sessionTtlSeconds === undefined ? {} : { ttlSeconds: o.sessionTtlSeconds }),
    });
    this.#repairWait = { backendsMs: o.repairWait?.backendsMs ?? DEFAULT_REPAIR_BACKENDS_WAIT_MS, lockMs: o.repairWait?.lockMs ?? DEFAULT_REPAIR_LOCK_WAIT_MS };
    this.#stale = {
      graceMs: o.staleReferences?.graceMs ?? DEFAULT_STALE_GRACE_MS,
      checksAfterStartMs: o.staleReferences?.checksAfterStartMs ?? DEFAULT_STALE_CHECKS_AFTER_START_MS,
    };
    this.#backends = new Backends(o.config, o.secrets, {
      logger: o.logger,
      clock: this.#clock,
      ...(o.backoff === undefined ? {} : { backoff: o.backoff }),
      ...(o.wsapi === undefined ? {} : { wsapi: o.wsapi }),
      ...(o.ssh === undefined ? {} : { ssh: o.ssh }),
      onStateChange: (name, state) => {
        if (state === 'OK' && this.#unrepaired.has(name) && this.#wholeOk(name)) this.#repairLater([name], 0);
      },
    });
    this.#locks = new EtcdLocks(o.etcd, {
      ...(o.lockWaitMs === undefined ? {} : { waitMs: o.lockWaitMs }),
      session: this.#session,
      logger: o.logger,
    });
    this.#ctx = {
      data: new DataPath({
        host: o.host ?? systemHostEnv(),
        ...(o.config.host.mountPrefix === undefined ? {} : { mountPrefix: o.config.host.mountPrefix }),
        ...(o.hostname === undefined ? {} : { hostname: o.hostname }),
      }),
      isNodeAlive: (node) => this.#presence.isAlive(node),
      mountIntents: new MountIntentStore(o.etcd),
      ...(o.onMountStep === undefined ? {} : { onStep: o.onMountStep }),
      store: new VolumeStore(o.etcd),
      intents: new IntentStore(o.etcd),
      backends: this.#backends,
      logger: o.logger,
      nodeId: o.nodeId ?? os.hostname(),
      taskWait: { pollIntervalMs: o.taskWait?.pollIntervalMs ?? 1000, timeoutMs: o.taskWait?.timeoutMs ?? 3_600_000 },
      intentLeft: () => this.#settleIntentsLater(INTENT_SETTLE_FIRST_DELAY_MS),
      now: () => new Date(this.#clock.now()),
    };
    this.#presence = new NodePresence(o.etcd, this.#ctx.nodeId, { logger: o.logger, session: this.#session });
    this.#presence.start();
    this.#cache = new VolumeCache(o.etcd, this.#ctx.store, { logger: o.logger });
    this.#cache.start();
    this.#backends.start();
    this.#secrets = new SecretFollower(o.etcd, this.#backends, { logger: o.logger });
    this.#secrets.start();
  }

  // ----- create ---------------------------------------------------------------------------------------------

  /**
   * Create. Concurrent Creates of one name with the same options in this process share one run (a burst of
   * `docker volume create` retries, or a Compose file naming a volume twice): the others answer with it instead
   * of queueing on the volume's lock.
   */
  async create(name: string, opts: Record<string, string> | undefined): Promise<void> {
    const key = `${name}\0${JSON.stringify(Object.entries(opts ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))}`;
    let run = this.#creating.get(key);
    if (run === undefined) {
      run = this.#settlingIntents(() => this.#create(name, opts)).finally(() => this.#creating.delete(key));
      this.#creating.set(key, run);
    }
    await run;
  }

  async #create(name: string, opts: Record<string, string> | undefined): Promise<void> {
    const store = this.#ctx.store;
    // An existing name answers at once, from the cache when it can (no lock, no etcd round trip). The cache's
    // "absent" is not confirmed in etcd here: the read under the lock confirms it, and a request refused before
    // the lock confirms it then (an existing name succeeds before any validation).
    const cached = await this.#cache.getByName(name);
    if (cached?.value !== undefined) return;
    if (cached === undefined && (await store.getByName(name)) !== undefined) return;
    let req: VolumeChange;
    let plain: PlainCreatePlan | undefined;
    try {
      req = this.#acceptedCreate(name, opts);
      if (req.kind === 'create') plain = await planPlainVolumeBeforeLock(this.#ctx, req);
    } catch (err) {
      if (cached !== undefined && (await store.getByName(name)) !== undefined) return;
      throw err;
    }
    // The flows delete the locks in the record's transaction (one disk sync less per Create). A plain Create's
    // intent goes in the lock's transaction when the lock is free and the name still absent.
    const firstWrite: FirstWrite | undefined =
      plain === undefined ? undefined : { ifModRevision: { key: store.nameKey(name), modRevision: '0' }, put: this.#ctx.intents.entry(plain.intent) };
    const ifAbsent = async (targets: LockTarget[], fn: (locks: HeldLocks) => Promise<void>): Promise<void> =>
      this.#locks.withLocks(
        targets,
        async (_signal, locks) => {
          if (locks.firstWritten) return fn(locks);
          // Another request may have made it while this one waited for the lock: Create stays idempotent.
          const current = locks.read === undefined ? await store.getByName(name) : store.storedFrom(name, locks.read.kv);
          if (current !== undefined) return;
          await fn(locks);
        },
        { read: store.nameKey(name), ...(firstWrite === undefined ? {} : { firstWrite }) },
      );
    switch (req.kind) {
      case 'create':
        return ifAbsent([volumeLock(name)], (locks) =>
          createPlainVolume(this.#ctx, req, locks, plain === undefined ? undefined : { plan: plain, written: locks.firstWritten }),
        );
      case 'replicated':
        return ifAbsent([volumeLock(name), rcgLock(req.replicationGroup)], (locks) => createReplicatedVolume(this.#ctx, req, locks));
      case 'import':
        return ifAbsent([volumeLock(name)], (locks) => importVolume(this.#ctx, req, locks));
      case 'snapshot':
        return ifAbsent([volumeLock(name), volumeLock(req.source)], async (locks) => {
          const parent = await store.getByName(req.source);
          if (parent === undefined) throw sourceMissing(req.source);
          await createSnapshotVolume(this.#ctx, req, parent, locks);
        });
      case 'clone':
        return ifAbsent([volumeLock(name), volumeLock(req.source)], async (locks) => {
          const source = await store.getByName(req.source);
          if (source === undefined) throw sourceMissing(req.source);
          await createClone(this.#ctx, req, source, locks);
        });
    }
  }

  /** The parsed Create request, or the error refusing it (the help text is one). */
  #acceptedCreate(name: string, opts: Record<string, string> | undefined): VolumeChange {
    const req = parseCreateRequest(name, opts, this.#backends.views(), this.#configFile);
    if (req.kind === 'help') {
      throw new VolumeRequestError(req.topic === 'backends' ? formatBackendsTable(this.#backends.states()) : CREATE_HELP, 'no volume was created: this is the help text');
    }
    if ((req.kind === 'snapshot' || req.kind === 'clone') && !isLockableName(req.source)) throw sourceMissing(req.source);
    if (req.kind === 'replicated' && !isLockableName(req.replicationGroup)) {
      throw new VolumeRequestError(`Invalid input received: replicationGroup name '${req.replicationGroup}' is not a valid remote copy group name`, 'use letters, digits, ., _ and - only');
    }
    return req;
  }

  // ----- remove ---------------------------------------------------------------------------------------------

  remove(name: string): Promise<void> {
    return this.#settlingIntents(() => this.#remove(name));
  }

  /**
   * `first` comes from the cache while it is live (no etcd read): the intent's write in the lock's transaction
   * compares the record's revision, so a stale copy costs only a read under the lock. A record that names other
   * locks than the ones taken (the name removed and made again as another kind meanwhile) is done again from etcd.
   */
  async #remove(name: string, fromEtcd = false): Promise<void> {
    const store = this.#ctx.store;
    const first = fromEtcd ? await store.getByName(name) : await this.#readByName(name);
    if (first === undefined) throw notFoundForRemove(name);
    // Refused before any write while the backend is not OK (an intent written with the locks would otherwise be
    // finished by the background repair after Docker was told the Remove failed).
    this.#ctx.backends.require(first.record.backend);
    const early = removeIntentWithLocks(this.#ctx, first);
    const opts = early === undefined ? {} : { firstWrite: early.firstWrite };
    const held = lockTargetsOf(first.record);
    let relock = false;
    await this.#locks.withLocks(held, async (_signal, locks) => {
      // Written with the locks: the record was still `first` then, and the locks keep it so.
      const written = locks.firstWritten ? early?.intent : undefined;
      let current = written !== undefined ? first : await store.getByName(name);
      if (current === undefined) throw notFoundForRemove(name);
      if (!sameLockTargets(lockTargetsOf(current.record), held)) {
        relock = true;
        return;
      }
      let holders = mountHolders(current.record);
      if (holders.length > 0 && holders.every((h) => h.node === this.#ctx.nodeId) && (await this.#releasedIfUnused(current, 'remove'))) {
        current = await store.getByName(name);
        if (current === undefined) throw notFoundForRemove(name);
        holders = mountHolders(current.record);
      }
      if (holders.length > 0) {
        throw new VolumeRequestError(
          `Volume ${name} is in use and cannot be removed: mounted on ${holdersText(holders)}`,
          `stop and remove the containers using it (\`docker ps -a --filter volume=${name}\` on each node named), then remove it`,
        );
      }
      await removeStored(this.#ctx, current, locks, written);
    }, opts);
    if (relock) return this.#remove(name, true);
    this.#lastMount.delete(name);
  }

  // ----- get, list, path ------------------------------------------------------------------------------------

  async get(name: string): Promise<VolumeView | undefined> {
    const { volume, snapshot } = parseGetName(name);
    const stored = await this.#readForGet(volume, snapshot === undefined);
    if (stored === undefined) return undefined;
    if ('Status' in stored) return stored;
    const r = stored.record;
    if (snapshot !== undefined) {
      const entry = r.snapshots.find((s) => s.name === snapshot);
      return entry === undefined ? undefined : snapshotSettingsView(r, entry);
    }
    const view = (record: VolumeRecord, status: Record<string, unknown>): VolumeView => ({
      Name: record.display_name,
      Mountpoint: this.#mountedHere(record) ? mountpointOf(record) : '',
      Devicename: this.#mountedHere(record) ? devicenameOf(record) : '',
      CreatedAt: record.created,
      Status: status,
    });
    if (r.is_snap) return view(r, snapshotStatus(r, await this.#scheduledSnapshots(r)));
    const { record, live } = await this.#liveDetails(stored);
    return view(record, volumeStatus(record, live));
  }

  async list(): Promise<ListEntry[]> {
    const cached = (await this.#cache.listByName())?.value;
    if (cached !== undefined && this.#listed?.from === cached) return this.#listed.entries;
    const entries = this.#listEntries(cached ?? (await this.#ctx.store.listByName()));
    // The cache's list stays the same array until a change reaches it: so does ours, and the server reuses its JSON.
    if (cached !== undefined) this.#listed = { from: cached, entries };
    return entries;
  }

  #listEntries(volumes: readonly NamedVolume[]): ListEntry[] {
    return volumes.map(({ name, record }) => {
      const here = record !== undefined && this.#mountedHere(record);
      return {
        Name: name,
        Devicename: here ? devicenameOf(record) : '',
        ...(record === undefined ? {} : { size: record.size }),
        Mountpoint: here ? mountpointOf(record) : '',
        Status: {},
      };
    });
  }

  /** The record, undefined when absent, or (for a whole volume the cache knew) the unverified answer when etcd cannot be read. */
  async #readForGet(volume: string, whole: boolean): Promise<StoredVolume | VolumeView | undefined> {
    let stored: StoredVolume | undefined;
    try {
      stored = await this.#readByName(volume);
    } catch (e) {
      if (whole && e instanceof VolumeStoreError && this.#cache.knew(volume)) return unverifiedView(volume, e);
      throw e;
    }
    return stored;
  }

  /**
   * A record outside any lock: from the cache while it is live and current, else from etcd. An absent answer is
   * confirmed in etcd: another host's Create reaches the watch a few ms after its commit, and "no such volume" must
   * not come from that gap (a Mount on this host right after a Create there).
   */
  async #readByName(name: string): Promise<StoredVolume | undefined> {
    const cached = await this.#cache.getByName(name);
    return cached?.value ?? this.#ctx.store.getByName(name);
  }

  /** Needs only the record's mounts: from the cache's List fields when it can (no parse per call), as #readByName reads. */
  async path(name: string): Promise<string> {
    const record = (await this.#cache.listedByName(name))?.value ?? (await this.#ctx.store.getByName(name))?.record;
    if (record === undefined) throw new VolumeRequestError(`No Mount Point: volume ${name} does not exist`, 'check the name with `docker volume ls`');
    return this.#mountedHere(record) ? mountpointOf(record) : '';
  }

  #mountedHere(r: Pick<VolumeRecord, 'node_mount_info'>): boolean {
    return r.node_mount_info?.[this.#ctx.nodeId] !== undefined;
  }

  // ----- mount, unmount -------------------------------------------------------------------------------------

  /**
   * Mount. A volume another node holds: wait (without the lock, watching the record) up to its
   * `mountConflictDelay` for that node to unmount; then take it over if that node's plugin is not alive (fencing
   * it on the array), else refuse naming it. The wait is capped so the whole Mount stays inside dockerd's 2 min.
   */
  async mount(name: string, id: string): Promise<{ Mountpoint: string; Devicename: string }> {
    const first = await this.#readByName(name);
    if (first === undefined) throw unknownVolume(name, 'mount');
    const waitSeconds = Math.min(Math.max(0, first.record.mount_conflict_delay ?? DEFAULT_MOUNT_CONFLICT_DELAY_S), MAX_MOUNT_CONFLICT_WAIT_S);
    const until = this.#clock.now() + waitSeconds * 1000;
    for (;;) {
      const step = await this.#settledLater(
        this.#locks.withLocks([volumeLock(name)], async (): Promise<MountStepResult> => {
          const found = await this.#ctx.store.getByName(name);
          if (found === undefined) throw unknownVolume(name, 'mount');
          const current = await settledForThisNode(this.#ctx, found);
          if (current === undefined) throw unknownVolume(name, 'mount');
          const others = otherHolders(this.#ctx, current.record);
          if (others.length === 0) return { mounted: await this.#mountNoted(current, id) };
          if (this.#clock.now() < until) return { waitFrom: current };
          const alive = await Promise.all(others.map((h) => this.#presence.isAlive(h.node)));
          const live = others.filter((_, i) => alive[i]);
          if (live.length > 0) throw mountedElsewhere(current.record, live, waitSeconds);
          const taken = await takeOver(this.#ctx, current, others.map((h) => h.node));
          return { mounted: await this.#mountNoted(taken, id) };
        }),
      );
      if ('mounted' in step) return { Mountpoint: step.mounted.mountpoint, Devicename: step.mounted.device };
      await this.#ctx.store.waitForChange(step.waitFrom.record.id, step.waitFrom.modRevision, until, this.#clock);
    }
  }

  /** mountHere, noting when (under the volume's lock, before any stale-reference check can take it). */
  async #mountNoted(stored: StoredVolume, id: string): Promise<Awaited<ReturnType<typeof mountHere>>> {
    const mounted = await mountHere(this.#ctx, stored, id);
    this.#lastMount.set(stored.record.display_name, this.#clock.now());
    return mounted;
  }

  async unmount(name: string, id: string): Promise<void> {
    const first = await this.#readByName(name);
    if (first === undefined) throw unknownVolume(name, 'unmount');
    if (first.record.node_mount_info?.[this.#ctx.nodeId] === undefined && !lostHere(this.#ctx, first.record)) return;
    await this.#settledLater(
      this.#locks.withLocks([volumeLock(name)], async () => {
        const current = await this.#ctx.store.getByName(name);
        if (current === undefined) throw unknownVolume(name, 'unmount');
        await unmountHere(this.#ctx, current, id);
      }),
    );
  }

  /** A failed Mount or Unmount may leave its intent (an undo or a teardown step failed): settled in the background. */
  async #settledLater<T>(operation: Promise<T>): Promise<T> {
    try {
      return await operation;
    } catch (err) {
      this.#repairMountsLater(MOUNT_REPAIR_FIRST_DELAY_MS);
      throw err;
    }
  }

  /**
   * A failed Create or Remove may leave its intent (an undo step failed, or etcd did not say whether the record
   * was written): settled in the background within seconds, not only at the next start. A client's mistake
   * (VolumeRequestError) never leaves one.
   */
  async #settlingIntents<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (err) {
      if (!(err instanceof VolumeRequestError)) this.#settleIntentsLater(INTENT_SETTLE_FIRST_DELAY_MS);
      throw err;
    }
  }

  /**
   * Background passes over the create/remove intents (not the arrays) until none is left that this node could
   * settle. Starts once the repair at start has run, like every background repair.
   */
  #settleIntentsLater(delayMs: number): void {
    if (!this.#repairStarted) return;
    this.#passesLater('intents', delayMs, async () => {
      try {
        const report = await repairPass(this.#ctx, { locks: this.#locks, lockWaitMs: this.#repairWait.lockMs, intentsOnly: true });
        if (report.fixed.length > 0 || report.needsAdmin.length > 0 || report.deferred.length > 0) {
          this.#logger[report.needsAdmin.length > 0 ? 'warn' : 'info']({ repair: report }, 'background intent repair');
        }
        return report.deferred.length > 0 || report.needsAdmin.some((n) => n.problem === 'repair failed');
      } catch (err) {
        this.#logger.warn({ err: describe(err) }, 'background intent repair failed; it runs again');
        return true;
      }
    });
  }

  /** Background passes over this node's mount intents until none is left. */
  #repairMountsLater(delayMs: number): void {
    this.#passesLater('mounts', delayMs, async () => {
      const report = await repairMounts(this.#ctx, this.#locks, this.#repairWait.lockMs).catch((err: unknown) => ({
        fixed: [],
        left: [{ volume: '(all)', reason: describe(err) }],
      }));
      if (report.fixed.length > 0 || report.left.length > 0) this.#logger.info({ mounts: report }, 'background mount repair');
      return report.left.length > 0;
    });
  }

  /**
   * `pass` after `delayMs`, then again with doubling delays (at most 60 s; MAX_BACKGROUND_REPAIRS passes in all)
   * while it says something is left. One pending pass per kind; passes run one after another.
   */
  #passesLater(kind: 'intents' | 'mounts', delayMs: number, pass: () => Promise<boolean>, attempt = 1): void {
    if (this.#stop.signal.aborted || this.#pendingPasses.has(kind)) return;
    this.#pendingPasses.add(kind);
    this.#background = this.#background.then(async () => {
      await this.#clock.sleep(delayMs, this.#stop.signal);
      this.#pendingPasses.delete(kind);
      if (this.#stop.signal.aborted) return;
      if ((await pass()) && attempt < MAX_BACKGROUND_REPAIRS) this.#passesLater(kind, Math.min(delayMs * 2, 60_000), pass, attempt + 1);
    });
  }

  /**
   * What the Status needs from the array, over the backend's session, in parallel. Snapshots the array no
   * longer has (expired) leave the record, as upstream synced them.
   */
  /** For a scheduled snapshot: the snapshots its schedule made that the parent still has (one WSAPI query). */
  async #scheduledSnapshots(r: VolumeRecord): Promise<ScheduledSnapshots | undefined> {
    const schedule = r.snap_metadata?.snap_schedule;
    if (!r.has_schedule || schedule === undefined || r.snap_metadata === null) return undefined;
    const b = this.#backends.get(r.backend);
    if (b === undefined) return { error: `backend ${r.backend} is not OK` };
    try {
      const children = await b.primary.client.getVolumeSnapshots(arrayVolumeName(r.snap_metadata.parent_id, false));
      const made = children.filter((v) => v.name.startsWith(`${schedule.snap_name_prefix}.`)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      return {
        snapshots: made.map((v) => ({
          name: v.name,
          ...(v.creationTime8601 === undefined ? {} : { created: v.creationTime8601 }),
          ...(v.expirationTime8601 === undefined ? {} : { expires: v.expirationTime8601 }),
        })),
      };
    } catch (err) {
      return { error: describeArrayError(err) };
    }
  }

  async #liveDetails(stored: StoredVolume): Promise<{ record: VolumeRecord; live: LiveDetails }> {
    let r = stored.record;
    const b = this.#backends.get(r.backend);
    if (b === undefined) {
      const unavailable = { error: `backend ${r.backend} is not OK` };
      return {
        record: r,
        live: { domain: null, ...(r.qos_name !== null ? { qos: unavailable } : {}), ...(r.rcg_info !== null ? { rcg: unavailable } : {}) },
      };
    }
    const client = b.primary.client;
    const fail = (err: unknown) => ({ error: describeArrayError(err) });
    const set = vvSetOf(r);
    const [domain, snapshots, qos, rcg, flashCache] = await Promise.all([
      r.cpg === null ? Promise.resolve(null) : cpgDomain(b.primary, r.cpg).then((d) => d ?? null, () => null),
      r.snapshots.length === 0 ? Promise.resolve(undefined) : client.getVolumeSnapshots(r['3par_vol_name']).then((v) => new Set(v.map((s) => s.name)), () => undefined),
      r.qos_name === null ? Promise.resolve(undefined) : client.getQosRule(r.qos_name).catch(fail),
      r.rcg_info === null ? Promise.resolve(undefined) : client.getRemoteCopyGroup(r.rcg_info.local_rcg_name).catch(fail),
      set === undefined ? Promise.resolve(undefined) : client.getVolumeSet(set).then((s) => flashCacheOf(s.flashCachePolicy), () => undefined),
    ]);
    if (snapshots !== undefined) {
      const gone = r.snapshots.filter((s) => !snapshots.has(arrayVolumeName(s.id, true)));
      if (gone.length > 0) {
        r = { ...r, snapshots: r.snapshots.filter((s) => !gone.includes(s)) };
        await this.#dropVanishedSnapshots(stored, gone.map((s) => s.id));
      }
    }
    const live: LiveDetails = { domain };
    if (qos !== undefined) live.qos = qos;
    if (rcg !== undefined) live.rcg = rcg;
    if (flashCache !== undefined) live.flashCache = flashCache;
    if (r.rcg_info !== null && b.config.replication !== undefined && r.cpg !== null) {
      const t = targetCpgs(b.config.replication, r.cpg, r.snap_cpg ?? r.cpg);
      live.secondary = { cpg: t.userCPG, snapCpg: t.snapCPG };
    }
    return { record: r, live };
  }

  async #dropVanishedSnapshots(parent: StoredVolume, ids: string[]): Promise<void> {
    const store = this.#ctx.store;
    try {
      const snaps = (await Promise.all(ids.map((id) => store.getById(id)))).filter((s): s is StoredVolume => s !== undefined);
      let updated = parent.record;
      for (const id of ids) updated = withoutSnapshot(updated, id);
      await store.commit({ remove: snaps, update: [{ record: updated, modRevision: parent.modRevision }] });
      this.#logger.info({ volume: parent.record.display_name, snapshots: ids }, 'snapshots gone from the array (expired) removed from etcd');
    } catch (err) {
      this.#logger.warn({ volume: parent.record.display_name, err: describe(err) }, 'could not drop vanished snapshots from etcd; retried at the next Get');
    }
  }

  backendStates(): BackendStatus[] {
    return this.#backends.states();
  }

  // ----- repair ---------------------------------------------------------------------------------------------

  async repair(options: { newBoot?: boolean } = {}): Promise<StartRepairReport> {
    this.#repairStarted = true;
    await this.#backends.firstAttempts(this.#repairWait.backendsMs);
    const mounts = await repairMounts(this.#ctx, this.#locks, this.#repairWait.lockMs);
    // One list of the records for the reconcile and the array scan (a failed list: the scan lists again).
    let records: VolumeList | undefined;
    const host = await this.#ctx.store
      .list()
      .then((listed) => {
        records = listed;
        return reconcileNode(this.#ctx, { locks: this.#locks, lockWaitMs: this.#repairWait.lockMs, newBoot: options.newBoot ?? false, volumes: listed.volumes });
      })
      .catch((err: unknown): ReconcileReport => ({ actions: [], left: [{ volume: '(all)', reason: `reconcile at start failed: ${describe(err)}` }] }));
    if (mounts.left.length > 0 || host.left.length > 0) this.#repairMountsLater(MOUNT_REPAIR_FIRST_DELAY_MS);
    const mountedAgain = host.actions.filter((a) => a.action === 'mounted again').map((a) => a.volume);
    if (mountedAgain.length > 0) this.#checkStaleLater(mountedAgain);
    const report = { ...(await this.#pass(undefined, records)), mounts, host };
    for (const name of this.#backends.names()) if (!report.scanned.backends.includes(name)) this.#unrepaired.add(name);
    if (report.deferred.some((d) => d.reason === 'lock busy')) this.#repairLater(undefined, this.#session.ttlSeconds * 1000 + 1000);
    // A backend that turned OK during the pass.
    const nowOk = [...this.#unrepaired].filter((n) => this.#wholeOk(n));
    if (nowOk.length > 0) this.#repairLater(nowOk, 0);
    return report;
  }

  async #pass(backends?: readonly string[], records?: VolumeList): Promise<RepairReport> {
    const report = await repairPass(this.#ctx, {
      locks: this.#locks,
      lockWaitMs: this.#repairWait.lockMs,
      ...(backends === undefined ? {} : { backends }),
      ...(records === undefined ? {} : { records }),
    });
    for (const name of report.scanned.backends) this.#unrepaired.delete(name);
    for (const d of report.deferred) if (d.reason === 'replication target not OK' && d.backend !== undefined) this.#unrepaired.add(d.backend);
    return report;
  }

  /** The backend's array is OK, and so is its replication target if it has one: nothing of it waits. */
  #wholeOk(name: string): boolean {
    const b = this.#backends.get(name);
    return b !== undefined && (b.config.replication === undefined || b.target !== undefined);
  }

  /**
   * A background repair pass (logged, not returned): for backends that turned OK, or after busy locks had time
   * to expire. Intents still locked are tried again, a few times.
   */
  #repairLater(backends: string[] | undefined, delayMs: number, attempt = 1): void {
    if (!this.#repairStarted || this.#stop.signal.aborted) return;
    this.#background = this.#background.then(async () => {
      if (delayMs > 0) await this.#clock.sleep(delayMs, this.#stop.signal);
      if (this.#stop.signal.aborted) return;
      let report: RepairReport;
      try {
        report = await this.#pass(backends);
      } catch (err) {
        this.#logger.warn({ backends, err: describe(err) }, 'background repair failed; it runs again at the next start');
        return;
      }
      const level = report.needsAdmin.length > 0 ? 'warn' : 'info';
      this.#logger[level]({ repair: report }, 'background repair');
      if (report.deferred.some((d) => d.reason === 'lock busy') && attempt < MAX_BACKGROUND_REPAIRS) {
        this.#repairLater(backends, this.#session.ttlSeconds * 1000 + 1000, attempt + 1);
      }
    });
  }

  /**
   * Under the volume's lock: releases this node's references when no container on this host mounts the volume any
   * more (flows/stale-references.ts), unless this process answered a Mount of it within the grace time.
   */
  async #releasedIfUnused(stored: StoredVolume, during: 'remove' | 'check after start'): Promise<boolean> {
    const name = stored.record.display_name;
    const last = this.#lastMount.get(name);
    if (last !== undefined && this.#clock.now() - last < this.#stale.graceMs) return false;
    const outcome = await releaseIfUnused(this.#ctx, stored);
    if (outcome === 'released') {
      this.#logger.info(
        { volume: name, during, references: stored.record.node_mount_info?.[this.#ctx.nodeId] },
        'released references of containers gone without their Unmount: no container on this host mounts the volume any more',
      );
    }
    return outcome === 'released';
  }

  /**
   * After a start that mounted volumes again (their containers outlived the plugin): dockerd restarted after a
   * crash stops such containers without their Unmount, so each is checked again later, by itself.
   */
  #checkStaleLater(names: readonly string[]): void {
    // Its own chain: its waits must not hold up the background repairs.
    this.#staleChecks = this.#staleChecks.then(async () => {
      let waited = 0;
      let left = [...names];
      for (const at of this.#stale.checksAfterStartMs) {
        await this.#clock.sleep(Math.max(0, at - waited), this.#stop.signal);
        waited = at;
        if (this.#stop.signal.aborted) return;
        const still: string[] = [];
        for (const name of left) {
          if (this.#stop.signal.aborted) return;
          try {
            const released = await this.#locks.withLocks(
              [volumeLock(name)],
              async () => {
                const found = await this.#ctx.store.getByName(name);
                const current = found === undefined ? undefined : await settledForThisNode(this.#ctx, found);
                return current === undefined || current.record.node_mount_info?.[this.#ctx.nodeId] === undefined || (await this.#releasedIfUnused(current, 'check after start'));
              },
              { waitMs: this.#repairWait.lockMs },
            );
            if (!released) still.push(name);
          } catch (err) {
            still.push(name);
            this.#logger.warn({ volume: name, err: describe(err) }, 'could not check the volume for references of containers gone without their Unmount; checked again later');
          }
        }
        left = still;
        if (left.length === 0) return;
      }
    });
  }

  async close(): Promise<void> {
    this.#stop.abort();
    await this.#cache.stop();
    await this.#secrets.stop();
    await this.#presence.stop();
    await this.#background.catch(() => undefined);
    await this.#staleChecks.catch(() => undefined);
    // One revoke ends this node's presence and every lock it still holds (the locks run on this session).
    await this.#session.close();
    await this.#backends.close();
  }
}

/** Lock names (and array object names) never contain these. */
function isLockableName(name: string): boolean {
  return name.length > 0 && !/[/{}]/.test(name);
}

/** The locks a removal takes: the volume, its parent (a snapshot leaves the parent's list), its group. */
function lockTargetsOf(r: VolumeRecord): LockTarget[] {
  const targets = [volumeLock(r.display_name)];
  if (r.snap_metadata !== null && r.snap_metadata.parent_name) targets.push(volumeLock(r.snap_metadata.parent_name));
  if (r.rcg_info !== null) targets.push(rcgLock(r.rcg_info.local_rcg_name));
  return targets;
}

function sameLockTargets(a: readonly LockTarget[], b: readonly LockTarget[]): boolean {
  return a.length === b.length && a.every((t, i) => t.kind === b[i]!.kind && t.name === b[i]!.name);
}

/**
 * The VV set whose flash cache policy a volume has: its QoS set, else the plugin's own `vvs-` set, which exists
 * for flash-cache=true (and for any flash-cache value in records of HPE's plugin, kept as strings).
 */
function vvSetOf(r: VolumeRecord): string | undefined {
  if (r.qos_name) return r.qos_name;
  const stored: unknown = r.flash_cache;
  return stored === true || typeof stored === 'string' ? vvSetName(r.id) : undefined;
}

/** A set's flashCachePolicy as upstream read it: 1 enabled, another value disabled, none null. */
function flashCacheOf(policy: number | undefined): boolean | null {
  return policy === undefined ? null : policy === FlashCachePolicies.ENABLED;
}
