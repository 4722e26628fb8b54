/**
 * Waiting for one key to change, with a deadline: an etcd watch from a known revision (no polling), ended by the
 * first event wanted or by the deadline, cancelled either way. The volume store waits for a record to change and
 * the lock queue for its predecessor's key to go with it.
 */
import type { Watcher } from 'etcd3';
import type { Clock } from '../clock.js';
import type { EtcdClient } from './client.js';

export type KeyEvent = 'put' | 'delete';

export interface KeyWatch {
  /** The first revision watched: the key's modRevision as the caller read it, plus one. */
  from: string;
  /** Which events end the wait. */
  events: readonly KeyEvent[];
  /** Epoch ms on `clock`: the wait ends with 'timeout' then. */
  deadline: number;
  clock: Clock;
  /** Aborting it ends the wait with its reason. */
  signal?: AbortSignal;
}

/**
 * Resolves with the first of `watch.events` on `key` (without host_etcd_prefix) from `watch.from` on, or with
 * 'timeout' at `watch.deadline`. Rejects when the watch cannot be opened or fails, and with the signal's reason
 * when it aborts.
 */
export function waitForKeyEvent(client: EtcdClient, key: string | Buffer, watch: KeyWatch): Promise<KeyEvent | 'timeout'> {
  const { signal, clock } = watch;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    let watcher: Watcher | undefined;
    let done = false;
    const timer = new AbortController();
    const finish = (settle: () => void) => {
      if (done) return;
      done = true;
      timer.abort();
      signal?.removeEventListener('abort', onAbort);
      watcher?.cancel().catch(() => undefined);
      settle();
    };
    const onAbort = () => finish(() => reject(signal?.reason));
    void clock.sleep(Math.max(0, watch.deadline - clock.now()), timer.signal).then(() => finish(() => resolve('timeout')));
    signal?.addEventListener('abort', onAbort);
    client.raw
      .watch()
      .key(key)
      .startRevision(watch.from)
      .create()
      .then(
        (w) => {
          if (done) {
            w.cancel().catch(() => undefined);
            return;
          }
          watcher = w;
          if (watch.events.includes('put')) w.on('put', () => finish(() => resolve('put')));
          if (watch.events.includes('delete')) w.on('delete', () => finish(() => resolve('delete')));
          w.on('error', (err) => finish(() => reject(err)));
        },
        (err: unknown) => finish(() => reject(err)),
      );
  });
}
