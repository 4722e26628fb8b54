/**
 * Which nodes' plugins are alive: each running plugin keeps `/nodes/<node id>` on its process's session lease
 * (session.ts, shared with its locks, renewed every ttl/3), so the key goes away within the session's TTL of the
 * plugin's death (kill -9, host crash, lost network), together with every lock the node held. A Mount takes a
 * volume over from a node only when that node is not alive (flows/takeover.ts).
 *
 * If the session is lost (etcd unreachable for longer than the TTL), the key is written again on the next one.
 */
import { systemClock, type Clock } from '../../clock.js';
import type { EtcdClient } from '../../etcd/index.js';
import { NODES_PREFIX, toEtcdError } from '../../etcd/index.js';
import type { Logger } from '../../log.js';
import type { EtcdSession } from './session.js';

/** How long a failed announcement waits before the next try. */
const RETRY_MS = 1000;

export function nodeKey(node: string): string {
  return NODES_PREFIX + node;
}

interface PresenceOptions {
  /** The process's session: the key lives as long as its lease. */
  session: EtcdSession;
  clock?: Clock;
  logger: Pick<Logger, 'warn' | 'info'>;
}

export class NodePresence {
  readonly #clock: Clock;
  readonly #stop = new AbortController();
  #loop: Promise<void> | undefined;

  constructor(
    private readonly client: EtcdClient,
    private readonly node: string,
    private readonly options: PresenceOptions,
  ) {
    this.#clock = options.clock ?? systemClock;
  }

  /** How soon this node's key goes after its plugin dies. */
  get ttlSeconds(): number {
    return this.options.session.ttlSeconds;
  }

  /** Announces this node and keeps it announced until `stop`. Never rejects: failures are logged and retried. */
  start(): void {
    this.#loop ??= this.#keepAnnounced();
  }

  /** Whether `node`'s plugin is alive (its key exists). */
  async isAlive(node: string): Promise<boolean> {
    return (await this.client.get(nodeKey(node))) !== undefined;
  }

  /**
   * Stops announcing. The key stays until the session is closed (its lease revoked: other nodes see this one gone
   * at once) or, if it never is, until its lease expires.
   */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }

  async #keepAnnounced(): Promise<void> {
    const stopped = this.#stop.signal;
    const key = nodeKey(this.node);
    while (!stopped.aborted) {
      try {
        const session = await this.options.session.current();
        const value = JSON.stringify({ node: this.node, pid: process.pid, since: new Date(this.#clock.now()).toISOString() });
        await this.client.writingRaw({ key, prefix: false }, () => session.lease.put(key).value(value).exec());
        // Until the session is lost (then a new one is announced) or this node stops.
        await new Promise<void>((resolve) => {
          const signal = AbortSignal.any([session.signal, stopped]);
          if (signal.aborted) return resolve();
          signal.addEventListener('abort', () => resolve(), { once: true });
        });
        if (session.signal.aborted && !stopped.aborted) this.options.logger.warn({ node: this.node }, "this node's etcd session was lost; announcing its presence again");
      } catch (err) {
        const why = toEtcdError(err, this.client.endpoint);
        this.options.logger.warn({ node: this.node, err: why.message, fix: why.fix }, "could not announce this node's presence in etcd; retrying");
        await this.#clock.sleep(RETRY_MS, stopped);
      }
    }
  }
}
