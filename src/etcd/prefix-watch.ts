/**
 * An informer over one etcd prefix: a consistent listing at a revision, then one watch from the next revision, so
 * every write after the listing arrives exactly once and in order. A broken watch (etcd restarted or unreachable, a
 * compaction past the watch's revision) is reported at once, and the prefix is listed and watched again with
 * backoff. The volume cache and the named-secrets watch are both built on it: one copy of this loop.
 */
import type { Watcher } from 'etcd3';
import { backoffDelay, systemClock, type Backoff, type Clock } from '../clock.js';
import type { EtcdClient } from './client.js';

export interface PrefixEntry {
  /** The key without the prefix. */
  key: string;
  value: string;
  modRevision: string;
}

export interface PrefixListing {
  entries: PrefixEntry[];
  /** The etcd revision the listing was read at. */
  revision: string;
}

export interface PrefixWatchHandlers {
  /** A fresh listing: it replaces whatever the consumer held (called again after every broken watch). */
  listed(listing: PrefixListing): void;
  put(entry: PrefixEntry): void;
  delete(key: string, modRevision: string): void;
  /** Watching from the listing on: from here the consumer's view follows etcd. */
  live(): void;
  /** The listing failed or the watch broke: the consumer's view is stale until the next `listed`. */
  lost(why: string, during: 'list' | 'watch'): void;
}

export interface PrefixWatchOptions {
  /** How to list the prefix; default one range read. A large prefix passes its own paged read. */
  list?: () => Promise<PrefixListing>;
  clock?: Clock;
  /** Between a broken watch and the next listing. Default 500 ms doubling to 30 s. */
  backoff?: Backoff;
}

const defaultBackoff: Backoff = { initialMs: 500, maxMs: 30_000 };

/** One range read of a small prefix, with its revision. */
export async function listPrefix(client: EtcdClient, prefix: string): Promise<PrefixListing> {
  const res = await client.readingRaw({ key: prefix, prefix: true }, () => client.raw.getAll().prefix(prefix).exec());
  return {
    revision: res.header.revision,
    entries: res.kvs.map((kv) => ({ key: kv.key.toString('utf8').slice(prefix.length), value: kv.value.toString('utf8'), modRevision: kv.mod_revision })),
  };
}

export class PrefixWatch {
  readonly #stop = new AbortController();
  readonly #clock: Clock;
  readonly #backoff: Backoff;
  readonly #list: () => Promise<PrefixListing>;
  #watcher: Watcher | undefined;
  #loop: Promise<void> | undefined;

  constructor(
    private readonly client: EtcdClient,
    private readonly prefix: string,
    private readonly handlers: PrefixWatchHandlers,
    options: PrefixWatchOptions = {},
  ) {
    this.#clock = options.clock ?? systemClock;
    this.#backoff = options.backoff ?? defaultBackoff;
    this.#list = options.list ?? (() => listPrefix(client, prefix));
  }

  /** Starts listing and watching in the background (never rejects). */
  start(): void {
    this.#loop ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#watcher?.cancel().catch(() => undefined);
    await this.#loop;
  }

  async #run(): Promise<void> {
    for (let attempt = 1; !this.#stop.signal.aborted; ) {
      const broken = new AbortController();
      try {
        await this.#listAndWatch(broken);
        attempt = 1;
        await new Promise<void>((resolve) => {
          if (broken.signal.aborted || this.#stop.signal.aborted) return resolve();
          broken.signal.addEventListener('abort', () => resolve(), { once: true });
          this.#stop.signal.addEventListener('abort', () => resolve(), { once: true });
        });
      } catch (err) {
        if (!this.#stop.signal.aborted) this.handlers.lost(err instanceof Error ? err.message : String(err), 'list');
      }
      const w = this.#watcher;
      this.#watcher = undefined;
      await w?.cancel().catch(() => undefined);
      if (this.#stop.signal.aborted) return;
      await this.#clock.sleep(backoffDelay(this.#backoff, attempt++), this.#stop.signal);
    }
  }

  async #listAndWatch(broken: AbortController): Promise<void> {
    const listing = await this.#list();
    if (this.#stop.signal.aborted) return;
    this.handlers.listed(listing);
    const watcher = await this.client.raw
      .watch()
      .prefix(this.prefix)
      .startRevision((BigInt(listing.revision) + 1n).toString())
      .create();
    this.#watcher = watcher;
    const lost = (why: string) => {
      if (broken.signal.aborted || this.#stop.signal.aborted) return;
      this.handlers.lost(why, 'watch');
      broken.abort();
    };
    const keyOf = (key: Buffer) => key.toString('utf8').slice(this.prefix.length);
    watcher.on('put', (kv) => this.handlers.put({ key: keyOf(kv.key), value: kv.value.toString('utf8'), modRevision: kv.mod_revision }));
    watcher.on('delete', (kv) => this.handlers.delete(keyOf(kv.key), kv.mod_revision));
    watcher.on('disconnected', () => lost('disconnected'));
    watcher.on('error', (err) => lost(err.message));
    watcher.on('end', () => lost('ended'));
    if (this.#stop.signal.aborted) return;
    this.handlers.live();
  }
}
