/**
 * The volume cache: Get, Path, List and Create's "already exists" answer without an etcd round trip. An informer:
 * the name index (`/volume-names/`) is read once as a snapshot at a revision, then one etcd watch from the next
 * revision keeps it current (every host's writes arrive as they are committed).
 *
 * It answers only while it is live and not behind this process's own writes and reads of etcd (read-your-writes,
 * and no answer older than one already given: it waits briefly until the watch has delivered the latest record the
 * store wrote or read, and the delete of a record it removed after a lost answer, else the caller reads etcd). A
 * broken watch (etcd restarted or unreachable, a compaction past the watch's revision) makes it not live at once:
 * callers read etcd as without a cache, and it lists again (with backoff) and watches from there. Locked sections never read it:
 * their compare-and-swap writes need the record as etcd has it now.
 *
 * Entries keep the record's JSON as stored (parsed per Get, ~1 KB each) and List's few fields already parsed, so
 * a List of 10,000 is a walk over a Map; the List answer is kept until the next change.
 */
import { systemClock, type Clock } from '../../clock.js';
import { PrefixWatch, VOLUME_NAMES_PREFIX, type EtcdClient, type PrefixListing } from '../../etcd/index.js';
import type { Logger } from '../../log.js';
import { listedOf, parseListedRecord, parseVolumeRecord, type ListedRecord, type NamedVolume, type StoredVolume, type VolumeStore } from './records.js';

interface Entry {
  value: string;
  modRevision: string;
  listed: ListedRecord | undefined;
  /** Whether `value` reads as a whole record (parseVolumeRecord): then `listed` may answer for it. */
  readable: boolean;
}

/** How long a read waits for the watch to deliver what this process last wrote or read before it reads etcd instead. */
const OWN_WRITE_WAIT_MS = 200;

/** A cache read: the answer, or `undefined` when the caller must read etcd. */
export type Cached<T> = { value: T } | undefined;

export class VolumeCache {
  readonly #entries = new Map<string, Entry>();
  /** The highest revision the cache reflects for the name index. */
  #revision = 0n;
  #live = false;
  #list: NamedVolume[] | undefined;
  #waiters: { revision: bigint; resolve: () => void }[] = [];
  /**
   * Names this process removed (the store could not learn the revision: the answer was lost) whose delete the watch
   * has not delivered yet: no answer comes from the cache until it has.
   */
  readonly #awaitedDeletes = new Set<string>();
  readonly #watch: PrefixWatch;
  readonly #clock: Clock;

  constructor(
    client: EtcdClient,
    private readonly store: VolumeStore,
    private readonly options: { logger: Pick<Logger, 'info' | 'warn'>; clock?: Clock },
  ) {
    this.#clock = options.clock ?? systemClock;
    store.onUnseenDeletes((names) => {
      for (const name of names) if (this.#entries.has(name)) this.#awaitedDeletes.add(name);
    });
    this.#watch = new PrefixWatch(
      client,
      VOLUME_NAMES_PREFIX,
      {
        listed: (listing) => this.#listed(listing),
        put: (e) => {
          this.#set(e.key, e.value, e.modRevision);
          this.#advance(BigInt(e.modRevision));
        },
        delete: (name, modRevision) => {
          this.#entries.delete(name);
          this.#list = undefined;
          this.#awaitedDeletes.delete(name);
          this.#advance(BigInt(modRevision));
          this.#wakeIfCurrent();
        },
        live: () => (this.#live = true),
        lost: (why, during) => this.#lost(why, during),
      },
      {
        ...(options.clock === undefined ? {} : { clock: options.clock }),
        list: () => store.snapshotByName(),
      },
    );
  }

  /** Starts listing and watching in the background (never rejects). */
  start(): void {
    this.#watch.start();
  }

  get live(): boolean {
    return this.#live;
  }

  /** The record of a name: `{value: undefined}` when absent; `undefined` when etcd must be read. */
  async getByName(name: string): Promise<Cached<StoredVolume | undefined>> {
    if (!(await this.#current())) return undefined;
    const e = this.#entries.get(name);
    if (e === undefined) return { value: undefined };
    const parsed = parseVolumeRecord(e.value);
    // An unreadable record: etcd's read gives the located error.
    if (typeof parsed === 'string') return undefined;
    return { value: { record: parsed, modRevision: e.modRevision } };
  }

  /**
   * List's fields of a name's record (its mounts: what Path needs), without parsing it again: `{value: undefined}`
   * when absent; `undefined` when etcd must be read (not current, or the record is unreadable).
   */
  async listedByName(name: string): Promise<Cached<ListedRecord | undefined>> {
    if (!(await this.#current())) return undefined;
    const e = this.#entries.get(name);
    if (e === undefined) return { value: undefined };
    return e.readable ? { value: e.listed } : undefined;
  }

  /**
   * Whether the name was in the index when the cache last knew it, live or not: while etcd cannot be read, the
   * names it held then (Get answers those as unverified, see request/status.ts unverifiedView).
   */
  knew(name: string): boolean {
    return this.#entries.has(name);
  }

  /** Every name with List's fields; `undefined` when etcd must be read. */
  async listByName(): Promise<Cached<NamedVolume[]>> {
    if (!(await this.#current())) return undefined;
    this.#list ??= [...this.#entries].map(([name, e]) => (e.listed === undefined ? { name } : { name, record: e.listed }));
    return { value: this.#list };
  }

  async stop(): Promise<void> {
    this.#live = false;
    await this.#watch.stop();
    for (const w of this.#waiters.splice(0)) w.resolve();
  }

  /** Live and not behind the records this process wrote or read (waiting briefly for the watch to deliver them). */
  async #current(): Promise<boolean> {
    if (!this.#live) return false;
    const own = this.store.lastKnownRevision;
    if (this.#revision >= own && this.#awaitedDeletes.size === 0) return true;
    await new Promise<void>((resolve) => {
      const waiter = { revision: own, resolve };
      this.#waiters.push(waiter);
      const timer = new AbortController();
      void this.#clock.sleep(OWN_WRITE_WAIT_MS, timer.signal).then(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve();
      });
      waiter.resolve = () => {
        timer.abort();
        resolve();
      };
    });
    return this.#live && this.#revision >= own && this.#awaitedDeletes.size === 0;
  }

  #advance(revision: bigint): void {
    if (revision <= this.#revision) return;
    this.#revision = revision;
    this.#wakeIfCurrent();
  }

  /** Wakes the reads waiting for a revision the cache has reached, once no awaited delete is left. */
  #wakeIfCurrent(): void {
    if (this.#awaitedDeletes.size > 0) return;
    const revision = this.#revision;
    const ready = this.#waiters.filter((w) => w.revision <= revision);
    if (ready.length === 0) return;
    this.#waiters = this.#waiters.filter((w) => w.revision > revision);
    for (const w of ready) w.resolve();
  }

  #set(name: string, value: string, modRevision: string): void {
    const record = parseVolumeRecord(value);
    const readable = typeof record !== 'string';
    this.#entries.set(name, { value, modRevision, listed: readable ? listedOf(record) : parseListedRecord(value), readable });
    this.#list = undefined;
  }

  #listed(listing: PrefixListing): void {
    this.#entries.clear();
    this.#list = undefined;
    for (const e of listing.entries) this.#set(e.key, e.value, e.modRevision);
    // A name still listed is deleted at a later revision, which the watch from here delivers.
    for (const name of this.#awaitedDeletes) if (!this.#entries.has(name)) this.#awaitedDeletes.delete(name);
    this.#revision = 0n;
    this.#advance(BigInt(listing.revision));
  }

  #lost(why: string, during: 'list' | 'watch'): void {
    this.#live = false;
    if (during === 'list') this.options.logger.warn({ err: why }, 'volume cache: listing failed; reads go to etcd meanwhile');
    else this.options.logger.warn({ why }, 'volume cache: the etcd watch broke; reads go to etcd until it is listed again');
  }
}
