/**
 * Which nodes' plugins are alive: each running plugin keeps `/nodes/<node id>` on a lease of its own, renewed every
 * ttl/3, so the key goes away within `ttlSeconds` of the plugin's death (kill -9, host crash, lost network). A Mount
 * takes a volume over from a node only when that node is not alive (flows/takeover.ts).
 *
 * The renewals are ours (one keep-alive call each), as for the locks (locks.ts says why). If the lease is lost
 * (etcd unreachable for longer than the TTL), the next renewal grants a new one and writes the key again.
 */
import { systemClock, type Clock } from '../../clock.js';
import type { EtcdClient } from '../../etcd/index.js';
import { NODES_PREFIX } from '../../etcd/index.js';
import type { Logger } from '../../log.js';
import type { Lease } from 'etcd3';

export const DEFAULT_PRESENCE_TTL_SECONDS = 10;

export function nodeKey(node: string): string {
  return NODES_PREFIX + node;
}

interface PresenceOptions {
  ttlSeconds?: number;
  clock?: Clock;
  logger: Pick<Logger, 'warn' | 'info'>;
}

export class NodePresence {
  readonly ttlSeconds: number;
  readonly #clock: Clock;
  readonly #stop = new AbortController();
  #lease: Lease | undefined;
  #loop: Promise<void> | undefined;

  constructor(
    private readonly client: EtcdClient,
    private readonly node: string,
    private readonly options: PresenceOptions,
  ) {
    this.ttlSeconds = options.ttlSeconds ?? DEFAULT_PRESENCE_TTL_SECONDS;
    this.#clock = options.clock ?? systemClock;
  }

  /** Announces this node and keeps it announced until `stop`. Never rejects: failures are logged and retried. */
  start(): void {
    this.#loop ??= this.#keepAnnounced();
  }

  /** Whether `node`'s plugin is alive (its key exists). */
  async isAlive(node: string): Promise<boolean> {
    return (await this.client.get(nodeKey(node))) !== undefined;
  }

  /** Stops renewing and deletes the key (revokes its lease), so other nodes see this one gone at once. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
    const lease = this.#lease;
    this.#lease = undefined;
    await lease?.revoke().catch(() => undefined);
  }

  async #keepAnnounced(): Promise<void> {
    const intervalMs = (this.ttlSeconds * 1000) / 3;
    while (!this.#stop.signal.aborted) {
      try {
        if (this.#lease === undefined) await this.#announce();
        else if ((await this.#lease.keepaliveOnce()).TTL === '0') this.#lease = undefined;
      } catch (err) {
        this.#lease?.release();
        this.#lease = undefined;
        this.options.logger.warn({ node: this.node, err: err instanceof Error ? err.message : String(err) }, 'could not renew this node\'s presence in etcd; retrying');
      }
      await this.#clock.sleep(this.#lease === undefined ? Math.min(intervalMs, 1000) : intervalMs, this.#stop.signal);
    }
  }

  async #announce(): Promise<void> {
    const raw = this.client.raw;
    const lease = raw.lease(this.ttlSeconds, { autoKeepAlive: false });
    try {
      await lease.grant();
      await lease.put(nodeKey(this.node)).value(JSON.stringify({ node: this.node, pid: process.pid, since: new Date(this.#clock.now()).toISOString() }));
    } catch (err) {
      await lease.revoke().catch(() => undefined);
      throw err;
    }
    if (this.#stop.signal.aborted) {
      await lease.revoke().catch(() => undefined);
      return;
    }
    this.#lease = lease;
  }
}
