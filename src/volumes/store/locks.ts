/**
 * Per-volume and per-replication-group locks in etcd v3, so two nodes (or two requests on one node) never work
 * on the same volume at once.
 *
 * Each lock is a queue of keys under `/_locks/<kind>/<name>/`, one per waiter (etcd's concurrency-package
 * recipe): the key with the lowest create revision holds the lock, and every other waiter watches only the key
 * just ahead of it, so waiters are served in arrival order and a release wakes one waiter, not all. Why not
 * etcd3's `lock()`: it tries once and fails at once when the lock is held; it has no waiting.
 *
 * Every lock key hangs on the process's session lease (session.ts, shared with the node's presence): an
 * uncontended lock is ONE transaction that queues and reads the holder, its release one delete — no lease grant
 * and revoke per lock. A long operation never loses its lock the way upstream's 300 s TTL without refresh could;
 * if the process dies (or its etcd client is closed), renewals stop and etcd deletes all its keys within the
 * session's TTL. If renewals fail for longer than the TTL, every held lock's `signal` is aborted so the work can
 * stop, and the next lock starts a new session.
 *
 * Waiting is bounded (`waitMs`, default 30 s); a lock not obtained in time is a `LockTimeoutError` naming the
 * holder, never upstream's silent `{"Err": ""}`. Lock names are built from the real name by `volumeLock` /
 * `rcgLock`; a name with `{` or `}` is refused, so a template left unexpanded (upstream #748, where every
 * request shared the lock `{volname}`) fails loudly instead of serialising everything.
 */
import os from 'node:os';
import { systemClock, type Clock } from '../../clock.js';
import type { EtcdClient } from '../../etcd/index.js';
import { ifEveryKeyUnder, LOCKS_PREFIX, toEtcdError, waitForKeyEvent } from '../../etcd/index.js';
import { EtcdError, HpeError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { LockTimeoutError } from '../errors.js';
import { EtcdSession, LockError } from './session.js';

export { LockError };

export const DEFAULT_LOCK_WAIT_MS = 30_000;

const LockKinds = { volume: 'volume', rcg: 'replication group' } as const;
type LockKind = keyof typeof LockKinds;

/** What is locked: a volume (by Docker name) or a remote copy group (by name). */
export interface LockTarget {
  kind: LockKind;
  name: string;
}

export function volumeLock(name: string): LockTarget {
  return { kind: 'volume', name };
}

export function rcgLock(name: string): LockTarget {
  return { kind: 'rcg', name };
}

/** `/_locks/volume/<name>/`: the queue of one lock. Volume and group locks have separate namespaces. */
export function lockPrefix(target: LockTarget): string {
  if (target.name.length === 0 || /[/{}]/.test(target.name)) {
    throw new TypeError(`invalid lock name ${JSON.stringify(target.name)}: it must be a real, non-empty name without /, { or }`);
  }
  return `${LOCKS_PREFIX}${target.kind}/${target.name}/`;
}

function describeTarget(target: LockTarget): string {
  return `${LockKinds[target.kind]} ${target.name}`;
}

interface LockOptions {
  /** How long `acquire` / `withLocks` wait for a held lock. Default 30 s. */
  waitMs?: number;
  /** The process's session, shared with its node presence; by default one of its own, closed by `close`. */
  session?: EtcdSession;
  /** Without `session`: the TTL of its own (how soon a dead holder's lock frees itself). Default 10 s; at least 1. */
  ttlSeconds?: number;
  /** Who holds a lock, shown to waiters that time out. Default `<hostname> pid <pid>`. */
  owner?: string;
  /** Where a failed release is reported (the lock then expires within the TTL). */
  logger?: Pick<Logger, 'warn'>;
  /** Time for the wait deadlines, the lease renewals and the holder's start time. */
  clock?: Clock;
}

/** A key's value read in a lock's transaction: `kv` undefined when the key is absent. */
export interface ReadWithLock {
  kv: { value: string; modRevision: string } | undefined;
}

interface HeldLock {
  readonly target: LockTarget;
  /** Whether the FirstWrite given to its acquisition was written with it. */
  readonly firstWritten: boolean;
  /** The `read` key as the transaction that took the lock saw it, when that transaction found the lock free. */
  readonly read: ReadWithLock | undefined;
  /** The etcd key that holds the lock. */
  readonly key: string;
  /** Aborted if the lease is lost (etcd unreachable for longer than the TTL): stop working on the volume. */
  readonly signal: AbortSignal;
  /** Releases the lock; never rejects (on failure the lock expires within the TTL). Safe to call twice. */
  release(): Promise<void>;
}

/**
 * The locks withLocks holds for its work. The work's last transaction may delete `keys` (so releasing them costs no
 * round trip and no disk sync of its own) and then call `deleted()`; withLocks then skips the release.
 */
export interface HeldLocks {
  readonly signal: AbortSignal;
  readonly keys: readonly string[];
  deleted(): void;
  /** Whether `firstWrite` was written with the last lock (it was free at once, the guard held). */
  readonly firstWritten: boolean;
  /**
   * withLocks' `read` key as it was when the last lock was taken, if the transaction that queued for it found it
   * free: every lock was held from then on, so the value is current for whoever writes that key only under them.
   * Undefined otherwise (the caller reads the key itself).
   */
  readonly read: ReadWithLock | undefined;
}

/**
 * A write made in the same transaction that takes the last lock, when that lock is free at once and `ifModRevision`
 * still holds: an operation's intent costs no disk sync of its own. Otherwise nothing of it is written and the
 * caller writes it under the locks.
 */
export interface FirstWrite {
  /** modRevision '0': the key is absent (etcd compares an absent key's revisions as 0). */
  ifModRevision: { key: string; modRevision: string };
  put: { key: string; value: string };
}

/** A transaction guarded by "no key under `prefix`" (an empty range compares as create revision 0). */
function ifNoKeyUnder(raw: EtcdClient['raw'], prefix: string): ReturnType<EtcdClient['raw']['if']> {
  return ifEveryKeyUnder(raw, prefix, 'Create', '==', 0);
}

interface HolderInfo {
  owner: string;
  since: string;
}

export class EtcdLocks {
  private seq = 0;
  private readonly waitMs: number;
  private readonly owner: string;
  private readonly clock: Clock;
  private readonly sessions: EtcdSession;
  private readonly ownSession: boolean;

  constructor(
    private readonly client: EtcdClient,
    private readonly options: LockOptions = {},
  ) {
    this.waitMs = options.waitMs ?? DEFAULT_LOCK_WAIT_MS;
    this.owner = options.owner ?? `${os.hostname()} pid ${process.pid}`;
    this.clock = options.clock ?? systemClock;
    this.ownSession = options.session === undefined;
    this.sessions =
      options.session ??
      new EtcdSession(client, { owner: this.owner, ...(options.ttlSeconds === undefined ? {} : { ttlSeconds: options.ttlSeconds }), ...(options.clock === undefined ? {} : { clock: options.clock }) });
    if (!(this.waitMs >= 0)) throw new RangeError(`waitMs must be >= 0, got ${this.waitMs}`);
  }

  /** Takes one lock, waiting at most `waitMs`. */
  acquire(target: LockTarget, opts: { waitMs?: number } = {}): Promise<HeldLock> {
    const waitMs = opts.waitMs ?? this.waitMs;
    return this.acquireBefore(target, this.clock.now() + waitMs, waitMs);
  }

  /**
   * Runs `fn` holding every lock in `targets` (taken in a fixed order, so two callers never deadlock), then
   * releases them. The whole set is taken within one `waitMs`. `fn` gets a signal aborted if any lock is lost.
   */
  async withLocks<T>(
    targets: readonly LockTarget[],
    fn: (signal: AbortSignal, locks: HeldLocks) => Promise<T>,
    opts: { waitMs?: number; firstWrite?: FirstWrite; read?: string } = {},
  ): Promise<T> {
    const waitMs = opts.waitMs ?? this.waitMs;
    const deadline = this.clock.now() + waitMs;
    const ordered = [...new Map(targets.map((t) => [lockPrefix(t), t])).entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, t]) => t);
    const held: HeldLock[] = [];
    let deletedByWork = false;
    let firstWritten = false;
    let read: ReadWithLock | undefined;
    try {
      for (const [i, target] of ordered.entries()) {
        const last = i === ordered.length - 1;
        const lock = await this.acquireBefore(target, deadline, waitMs, last ? opts.firstWrite : undefined, last ? opts.read : undefined);
        held.push(lock);
        firstWritten = lock.firstWritten;
        read = lock.read;
      }
      const signal = AbortSignal.any(held.map((h) => h.signal));
      return await fn(signal, { signal, keys: held.map((h) => h.key), deleted: () => (deletedByWork = true), firstWritten, read });
    } finally {
      if (!deletedByWork) for (const h of held.reverse()) await h.release();
    }
  }

  private async acquireBefore(target: LockTarget, deadline: number, waitMs: number, firstWrite?: FirstWrite, read?: string): Promise<HeldLock> {
    const prefix = lockPrefix(target);
    const client = this.client;
    const raw = client.raw;
    let key: string | undefined;
    try {
      const session = await this.sessions.current();
      key = `${prefix}${session.id}-${(++this.seq).toString(36)}`;
      const mine = key;
      const info: HolderInfo = { owner: this.owner, since: new Date(this.clock.now()).toISOString() };
      if (firstWrite !== undefined) {
        // Free lock and guard still true: our key and the caller's write in one transaction. After a lost answer
        // the retry finds the queue not empty; the else branch then finds our key, written with the caller's.
        const { ifModRevision, put } = firstWrite;
        const guarded = [{ key: prefix, prefix: true }, { key: ifModRevision.key, prefix: false }, { key: put.key, prefix: false }];
        const fast = await client.writingRaw(guarded, () =>
          ifNoKeyUnder(raw, prefix)
            .and(ifModRevision.key, 'Mod', '==', ifModRevision.modRevision)
            .then(raw.put(mine).value(JSON.stringify(info)).lease(session.lease.grant()), raw.put(put.key).value(put.value))
            .else(raw.get(mine))
            .commit(),
        );
        if (fast.succeeded || (fast.responses[0]?.response_range?.kvs?.length ?? 0) > 0) return this.held(target, mine, session.signal, true, undefined);
      }
      // One transaction queues us and reads the holder: an uncontended lock is one round trip on the session's
      // lease. The key is ours alone, so the condition only fails on a retry after a lost answer: the else branch
      // then reads our key to learn when it was queued. Both branches read `read` too, used if we hold the lock.
      const holderFirst = () => raw.getAll().prefix(prefix).sort('Create', 'Ascend').limit(1);
      const alsoRead = () => (read === undefined ? [] : [raw.get(read)]);
      const queue = [{ key: prefix, prefix: true }, ...(read === undefined ? [] : [{ key: read, prefix: false }])];
      const queued = await client.writingRaw(queue, () =>
        raw
          .if(mine, 'Create', '==', 0)
          .then(raw.put(mine).value(JSON.stringify(info)).lease(session.lease.grant()), holderFirst(), ...alsoRead())
          .else(raw.get(mine), holderFirst(), ...alsoRead())
          .commit(),
      );
      const ours = queued.succeeded ? queued.header.revision : queued.responses[0]?.response_range?.kvs?.[0]?.create_revision;
      if (ours === undefined) throw new LockError(`lock on ${describeTarget(target)} was lost: its etcd lease expired while it was queued`, 'retry the request');
      const holder = queued.responses[1]?.response_range?.kvs?.[0];
      if (holder?.key.toString('utf8') === mine) {
        const kv = read === undefined ? undefined : queued.responses[2]?.response_range?.kvs?.[0];
        const seen = read === undefined ? undefined : { kv: kv === undefined ? undefined : { value: kv.value.toString('utf8'), modRevision: kv.mod_revision } };
        return this.held(target, mine, session.signal, false, seen);
      }
      const before = (BigInt(ours) - 1n).toString();
      for (;;) {
        const ahead = await client.readingRaw({ key: prefix, prefix: true }, () => raw.getAll().prefix(prefix).maxCreateRevision(before).sort('Create', 'Descend').limit(1).exec());
        const predecessor = ahead.kvs[0];
        if (predecessor === undefined) return this.held(target, mine, session.signal, false, undefined);
        const next = (BigInt(ahead.header.revision) + 1n).toString();
        if ((await waitForKeyEvent(this.client, predecessor.key, { from: next, events: ['delete'], deadline, clock: this.clock, signal: session.signal })) === 'timeout') {
          throw new LockTimeoutError(describeTarget(target), waitMs, await this.holderOf(prefix), this.sessions.ttlSeconds);
        }
      }
    } catch (e) {
      // Leave the queue: our key would otherwise hold up the waiters behind it until the session ends.
      if (key !== undefined) await deleteKey(client, key).catch(() => undefined);
      // etcd's failures (explained by the client, or from the watch) become the lock's; our own pass as they are.
      if (e instanceof HpeError && !(e instanceof EtcdError)) throw e;
      const cause = toEtcdError(e, client.endpoint);
      throw new LockError(`ETCD lock failed: ${describeTarget(target)}: ${cause.message}`, cause.fix, { retryable: cause.retryable, cause });
    }
  }

  /** Ends the session this EtcdLocks made (its lease is revoked, so every lock still queued or held goes at once); one given to it is its owner's to close. */
  async close(): Promise<void> {
    if (this.ownSession) await this.sessions.close();
  }

  private held(target: LockTarget, key: string, signal: AbortSignal, firstWritten: boolean, read: ReadWithLock | undefined): HeldLock {
    let released: Promise<void> | undefined;
    const release = async (): Promise<void> => {
      try {
        await deleteKey(this.client, key);
      } catch (e) {
        // The session's lease still ends it: when this process stops, or when renewals fail for a TTL.
        this.options.logger?.warn(
          { lock: key, err: toEtcdError(e, this.client.endpoint).message },
          `releasing the lock on ${describeTarget(target)} failed; it goes when this process's etcd session ends`,
        );
      }
    };
    return {
      target,
      key,
      signal,
      firstWritten,
      read,
      release: () => (released ??= release()),
    };
  }

  /** The current holder's owner and start, for the timeout message; undefined if it cannot be read. */
  private async holderOf(prefix: string): Promise<string | undefined> {
    try {
      const res = await this.client.raw.getAll().prefix(prefix).sort('Create', 'Ascend').limit(1).exec();
      const kv = res.kvs[0];
      if (kv === undefined) return undefined;
      const info = JSON.parse(kv.value.toString('utf8')) as Partial<HolderInfo>;
      return typeof info.owner === 'string' ? `${info.owner} since ${info.since ?? '?'}` : undefined;
    } catch {
      return undefined;
    }
  }
}

/** Deletes a lock key, again after an election's failures (deleting one already gone is no error). */
async function deleteKey(client: EtcdClient, key: string): Promise<void> {
  await client.writingRaw({ key, prefix: false }, () => client.raw.delete().key(key).exec());
}
