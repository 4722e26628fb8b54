import type { EtcdClient } from './client.js';
import { prefixRangeEnd } from './gateway.js';

type Raw = EtcdClient['raw'];
type Txn = ReturnType<Raw['if']>;
type IfArgs = Parameters<Raw['if']>;

/**
 * A transaction whose first condition must hold for every key under `prefix`. etcd compares a whole range
 * (Compare.range_end: every key in it must match; an empty range compares as revisions 0), but etcd3's builder has
 * no way to say so: the range end is added to the compare it built, after its key was put in the client's namespace.
 */
export function ifEveryKeyUnder(raw: Raw, prefix: string, target: IfArgs[1], comparator: IfArgs[2], value: IfArgs[3]): Txn {
  const txn = raw.if(prefix, target, comparator, value);
  const compares = (txn as unknown as { request: { compare: Promise<{ key: unknown }>[] } }).request.compare;
  const built = compares.pop();
  if (built === undefined) throw new TypeError("etcd3's transaction builder keeps its compares elsewhere: update ifEveryKeyUnder");
  compares.push(built.then((c) => ({ ...c, range_end: prefixRangeEnd(c.key as Buffer) })));
  return txn;
}
