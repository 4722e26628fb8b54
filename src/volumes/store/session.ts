/**
 * The process's etcd session (etcd's concurrency.Session): ONE lease for every key this process keeps only while it
 * lives — its node presence (presence.ts) and every lock key (locks.ts). Granted on first need, renewed every
 * ttl/3, revoked by `close`: a kill -9 or a lost host leaves all of them to expire together within the TTL, so a
 * node that other hosts see as dead holds no lock either.
 *
 * The renewals are ours, one short keep-alive call each, not etcd3's automatic keep-alive: that one runs on a stream
 * that outlives `client.close()` (grpc-js lets open calls finish when a channel closes), so a closed client would
 * keep its keys until the process exits. If no renewal succeeded for a whole TTL, or etcd says the lease is gone,
 * the session's `signal` is aborted with a LockError (every key on it is gone or about to go) and the next caller
 * of `current` starts a new session.
 */
import { EtcdLeaseInvalidError, type Lease } from 'etcd3';
import { systemClock, type Clock } from '../../clock.js';
import type { EtcdClient } from '../../etcd/index.js';
import { HpeError } from '../../errors.js';

export const DEFAULT_SESSION_TTL_SECONDS = 10;

/** etcd failed while taking a lock, or the lease of the process's session was lost. */
export class LockError extends HpeError {}

export interface Session {
  /** The lease id, hex: part of every lock key of the session. */
  readonly id: string;
  readonly lease: Lease;
  /** Aborted (with a LockError) when the lease is lost. */
  readonly signal: AbortSignal;
}

interface SessionOptions {
  /** How soon the keys of a dead process go. Default 10 s; at least 1 (etcd's minimum). */
  ttlSeconds?: number;
  /** Who holds the session, in the error of a lost session. */
  owner: string;
  /** Time for the renewals. */
  clock?: Clock;
}

export class EtcdSession {
  readonly ttlSeconds: number;
  readonly #clock: Clock;
  #current: Promise<Session & { stop(): void }> | undefined;
  #closed = false;

  constructor(
    private readonly client: EtcdClient,
    private readonly options: SessionOptions,
  ) {
    this.ttlSeconds = options.ttlSeconds ?? DEFAULT_SESSION_TTL_SECONDS;
    this.#clock = options.clock ?? systemClock;
    if (!Number.isInteger(this.ttlSeconds) || this.ttlSeconds < 1) throw new RangeError(`ttlSeconds must be an integer >= 1, got ${this.ttlSeconds}`);
  }

  /** The live session, granted now when there is none (a failed grant rejects, mapped to an EtcdError). */
  current(): Promise<Session> {
    if (this.#closed) return Promise.reject(new LockError(`the etcd session of ${this.options.owner} is closed`, 'the plugin is stopping; retry once it runs again'));
    const current = this.#current;
    if (current !== undefined) return current;
    const started = this.#start().catch((err: unknown) => {
      if (this.#current === started) this.#current = undefined;
      throw err;
    });
    this.#current = started;
    return started;
  }

  /** Ends the session: its lease is revoked, so every key on it (presence, locks held or queued) goes at once. */
  async close(): Promise<void> {
    this.#closed = true;
    const current = this.#current;
    this.#current = undefined;
    const session = await current?.catch(() => undefined);
    if (session === undefined) return;
    session.stop();
    await this.client.retryingTransient(() => session.lease.revoke()).catch(() => undefined);
  }

  async #start(): Promise<Session & { stop(): void }> {
    const raw = this.client.raw;
    // etcd3 grants a lease when it is made, so each attempt makes one; a grant whose answer was lost leaves a
    // lease without keys, which expires within the TTL.
    const lease = await this.client.writingRaw([], async () => {
      const attempt = raw.lease(this.ttlSeconds, { autoKeepAlive: false });
      try {
        await attempt.grant();
      } catch (e) {
        attempt.release();
        throw e;
      }
      return attempt;
    });
    const id = BigInt(await lease.grant()).toString(16);
    const ttlMs = this.ttlSeconds * 1000;
    const lost = new AbortController();
    const stopped = new AbortController();
    let renewed = this.#clock.now();
    let inFlight = false;
    const session = { id, lease, signal: lost.signal, stop: () => stopped.abort() };
    const lose = (detail: string) => {
      if (lost.signal.aborted) return;
      stopped.abort();
      if (this.#current !== undefined) void this.#current.then((s) => s === session && (this.#current = undefined), () => undefined);
      lost.abort(new LockError(`the locks of ${this.options.owner} were lost: ${detail}`, 'check etcd; the operations that held them should stop and be retried'));
    };
    const renewals = async (): Promise<void> => {
      for (;;) {
        await this.#clock.sleep(ttlMs / 3, stopped.signal);
        if (stopped.signal.aborted) return;
        if (this.#clock.now() - renewed > ttlMs) return lose(`their etcd lease was not renewed for ${this.ttlSeconds} s`);
        if (inFlight) continue;
        inFlight = true;
        lease.keepaliveOnce().then(
          () => {
            inFlight = false;
            renewed = this.#clock.now();
          },
          (e: unknown) => {
            inFlight = false;
            // etcd3 reports a lease etcd no longer has (a keep-alive answered with TTL 0) as this error.
            if (e instanceof EtcdLeaseInvalidError) lose('etcd says their lease expired');
          },
        );
      }
    };
    void renewals();
    return session;
  }
}
