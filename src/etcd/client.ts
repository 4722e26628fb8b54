/**
 * The etcd client: the plugin's few operations, reads over the JSON gateway (gateway.ts) and the rest over etcd3
 * (gRPC, loaded on first need), every failure an `EtcdError` naming the endpoint(s), the reason and the fix.
 * README.md says why there are two transports and how both bound their time.
 */
import type { Etcd3, Namespace } from 'etcd3';
import { retry, systemClock, type Clock } from '../clock.js';
import { EtcdError } from '../errors.js';
import { endpointsLabel, formatEndpoint, SILENT_HOST_SKIP_MS, type EtcdConfig } from './endpoints.js';
import { etcdError, explainAccessFailure, HostFailure, isTransientFailure, toEtcdError, type EtcdAccess, type EtcdIdentity } from './errors.js';
import { EtcdGateway, GatewayUnusable, prefixRangeEnd, type GatewayStatus } from './gateway.js';
import { createEtcd3, type GrpcSettings } from './grpc-policies.js';
import { isAdminOnlyKey, prefixedKey } from './keyspace.js';
import { loadEtcdTls, type EtcdTlsMaterial } from './tls.js';

export interface EtcdClientOptions {
  /** Bound on the TCP connect to a host not yet connected. Default 2000 ms. */
  dialTimeoutMs?: number;
  /** gRPC deadline of each unary call attempt (TLS handshake included). Default 3000 ms. */
  requestTimeoutMs?: number;
  /**
   * How long an operation is retried after failures that a leader election causes (`isTransientFailure`), from
   * its first attempt. Default 10000 ms: an election plus the next commit takes 1–3 s. 0 = never retried.
   */
  transientRetryMs?: number;
  /** Measures the silent-host skip and the waits between retries. Default: the system clock. */
  clock?: Clock;
  /** host_etcd_password, resolved (secrets' `resolveEtcdPassword`); required when the config names host_etcd_user. */
  password?: string | undefined;
}

const DEFAULT_DIAL_TIMEOUT_MS = 2000;
const DEFAULT_REQUEST_TIMEOUT_MS = 3000;
const DEFAULT_TRANSIENT_RETRY_MS = 10_000;
/** Waits between attempts while etcd elects a leader. */
const TRANSIENT_BACKOFF = { initialMs: 100, maxMs: 1000 } as const;

/** A key, or with `prefix` every key under it, without host_etcd_prefix. */
export interface KeyRange {
  key: string;
  prefix: boolean;
}

interface EtcdRecord {
  value: string;
  modRevision: string;
}

export interface EtcdClient {
  /**
   * host_etcd_prefix ('' when unset). Every key in and out of this client, `raw` included, is without it: callers
   * write `/volumes/x` and etcd holds `<prefix>/volumes/x`.
   */
  readonly prefix: string;
  /** All keys under a prefix in ONE round trip: key (without prefix) → { value, modRevision } */
  getPrefix(prefix: string): Promise<Map<string, EtcdRecord>>;
  get(key: string): Promise<EtcdRecord | undefined>;
  /** create only if absent; returns false if it already existed */
  putIfAbsent(key: string, value: string): Promise<boolean>;
  /** create or replace */
  put(key: string, value: string): Promise<void>;
  /** replace only if the key's modRevision is still `modRevision`; returns false on conflict */
  putIfUnchanged(key: string, value: string, modRevision: string): Promise<boolean>;
  /** delete only if unchanged (or unconditionally when modRevision undefined); returns whether it deleted */
  delete(key: string, modRevision?: string): Promise<boolean>;
  close(): void;
  /** The configured endpoints as one label, e.g. `10.0.0.1:2379,10.0.0.2:2379` (what errors name). */
  readonly endpoint: string;
  /**
   * Runs `op` (calls on `raw`) again after failures that a leader election causes, within the client's
   * `transientRetryMs`; rethrows the last failure unmapped. `attempt` > 1 means an earlier attempt may have been
   * applied without its answer arriving: a guarded write must then accept finding its own value.
   */
  retryingTransient<T>(op: (attempt: number) => Promise<T>): Promise<T>;
  /**
   * Runs `op` (reads on `raw` of `range.key`, or of every key under it with `prefix`) as the client's own reads
   * run: retried like `retryingTransient`, a failure mapped to an `EtcdError`, an auth or permission failure said
   * again with who the client is, the key refused and the fix.
   */
  readingRaw<T>(range: KeyRange, op: (attempt: number) => Promise<T>): Promise<T>;
  /**
   * Runs `op` (a write or a transaction on `raw` touching `ranges`) as the client's own writes run: retried like
   * `retryingTransient`, a failure mapped to an `EtcdError`, an auth or permission failure said again with who the
   * client is, the keys refused and the fix. No range (a lease grant): an auth failure still names who the client is.
   */
  writingRaw<T>(ranges: KeyRange | readonly KeyRange[], op: (attempt: number) => Promise<T>): Promise<T>;
  /**
   * The underlying etcd3 client, for later modules (leases, locks), within host_etcd_prefix (an etcd3 namespace).
   * It has this module's timeouts, retry policy and credentials; run calls on keys through `readingRaw` /
   * `writingRaw` (others: map their errors with `toEtcdError(err, client.endpoint)`). Created, and etcd3 loaded,
   * on first access.
   */
  readonly raw: Namespace;
}

interface Internals extends GrpcSettings {
  endpoint: string;
  clientCert: boolean;
  transientRetryMs: number;
  identity: EtcdIdentity;
}

function identityOf(cfg: EtcdConfig, material: EtcdTlsMaterial | undefined): EtcdIdentity {
  if (cfg.user !== undefined) return { by: 'user', user: cfg.user };
  if (material?.cert !== undefined) return { by: 'cert', cn: material.cn };
  return { by: 'none' };
}

function makeInternals(cfg: EtcdConfig, material: EtcdTlsMaterial | undefined, opts: EtcdClientOptions): Internals {
  if (cfg.user !== undefined && opts.password === undefined) {
    throw new TypeError('host_etcd_user is set: resolve host_etcd_password (resolveEtcdPassword) and pass it as the password option');
  }
  return {
    endpoint: endpointsLabel(cfg),
    identity: identityOf(cfg, material),
    ...(cfg.user !== undefined && opts.password !== undefined ? { auth: { username: cfg.user, password: opts.password } } : {}),
    tlsOn: material !== undefined,
    clientCert: material?.cert !== undefined,
    dialTimeoutMs: opts.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS,
    requestTimeoutMs: opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    transientRetryMs: opts.transientRetryMs ?? DEFAULT_TRANSIENT_RETRY_MS,
    hosts: cfg.endpoints.map((ep) => ({ label: formatEndpoint(ep), host: ep.host, port: ep.port, connected: false })),
    clock: opts.clock ?? systemClock,
  };
}

/**
 * The implementation. Reads go through the JSON gateway while it can serve the cluster, else through `raw`;
 * `run` maps failures of any etcd3 call made through `raw`.
 */
export class Etcd3Client implements EtcdClient {
  readonly endpoint: string;
  readonly prefix: string;
  private readonly internals: Internals;
  private etcd3: Etcd3 | undefined;
  private namespace: Namespace | undefined;
  /** Undefined once it turned out not to serve this cluster (then every read goes through `raw`). */
  private gateway: EtcdGateway | undefined;
  private closed = false;

  constructor(
    cfg: EtcdConfig,
    private readonly material: EtcdTlsMaterial | undefined,
    opts: EtcdClientOptions = {},
  ) {
    this.internals = makeInternals(cfg, material, opts);
    this.endpoint = this.internals.endpoint;
    this.prefix = cfg.prefix ?? '';
    // The gateway would need an auth token of its own; with a user and password, reads go over gRPC as well.
    if (cfg.user !== undefined) return;
    this.gateway = new EtcdGateway({
      hosts: this.internals.hosts.map(({ label, host, port }) => ({ label, host, port })),
      endpoint: this.endpoint,
      ...(material ? { tls: material } : {}),
      dialTimeoutMs: this.internals.dialTimeoutMs,
      requestTimeoutMs: this.internals.requestTimeoutMs,
      clock: this.internals.clock,
    });
  }

  /**
   * The etcd3 client outside host_etcd_prefix, created (and etcd3 loaded) on first use: for what is not a key
   * (member status, users and roles). Keys go through `raw`.
   */
  get root(): Etcd3 {
    if (this.etcd3 === undefined) {
      this.etcd3 = createEtcd3(this.material, this.internals);
      // Created after close(): closed as well, so its calls fail like those of a closed client.
      if (this.closed) this.etcd3.close();
    }
    return this.etcd3;
  }

  get raw(): Namespace {
    this.namespace ??= this.prefix === '' ? this.root : namespaced(this.root, this.prefix);
    return this.namespace;
  }

  /** Whether reads still go through the JSON gateway (false after it could not serve this cluster). */
  get readsViaGateway(): boolean {
    return this.gateway !== undefined;
  }

  retryingTransient<T>(op: (attempt: number) => Promise<T>): Promise<T> {
    const { transientRetryMs, clock } = this.internals;
    if (transientRetryMs <= 0) return op(1);
    return retry(op, { deadlineMs: transientRetryMs, delay: TRANSIENT_BACKOFF, clock, retryable: (e) => !this.closed && isTransientFailure(e) });
  }

  /**
   * Runs one operation on `raw` (again after an election's failures, see `retryingTransient`) and maps its
   * failure; with several hosts that all failed to dial, names each.
   */
  async run<T>(op: (attempt: number) => Promise<T>, access?: EtcdAccess): Promise<T> {
    const started = this.internals.clock.now();
    try {
      return await this.retryingTransient(op);
    } catch (e) {
      const { hosts, tlsOn, clientCert, requestTimeoutMs, identity } = this.internals;
      if (e instanceof HostFailure && e.dial && hosts.length > 1) {
        const failed = hosts.filter((h) => h.failure !== undefined && h.failure.at >= started - SILENT_HOST_SKIP_MS);
        const detail = failed.map((h) => `${h.label}: ${h.failure!.error.message}`).join('; ');
        return Promise.reject(etcdError(this.endpoint, e.reason, `no member reachable (${detail})`, e));
      }
      return Promise.reject(explainAccessFailure(toEtcdError(e, this.endpoint, { tls: tlsOn, clientCert, requestTimeoutMs }), identity, access));
    }
  }

  private etcdKey(key: string): string {
    return prefixedKey(this.prefix, key);
  }

  /** What a permission failure names of an operation on `ranges`: the etcd keys (`*` after a prefix). */
  private access(ranges: KeyRange | readonly KeyRange[], write: boolean): EtcdAccess | undefined {
    const all = 'key' in ranges ? [ranges] : ranges;
    if (all.length === 0) return undefined;
    const keys = [...new Set(all.map((r) => (r.prefix ? `${this.etcdKey(r.key)}*` : this.etcdKey(r.key))))];
    return { key: listed(keys), write, adminOnly: all.some((r) => isAdminOnlyKey(r.key)) };
  }

  private reading(key: string, prefix: boolean): EtcdAccess | undefined {
    return this.access({ key, prefix }, false);
  }

  private writing(key: string): EtcdAccess | undefined {
    return this.access({ key, prefix: false }, true);
  }

  readingRaw<T>(range: KeyRange, op: (attempt: number) => Promise<T>): Promise<T> {
    return this.run(op, this.access(range, false));
  }

  writingRaw<T>(ranges: KeyRange | readonly KeyRange[], op: (attempt: number) => Promise<T>): Promise<T> {
    return this.run(op, this.access(ranges, true));
  }

  /** A read through the gateway; through gRPC when the gateway cannot serve this cluster (from then on). */
  private async read<T>(viaGateway: (g: EtcdGateway) => Promise<T>, viaGrpc: () => Promise<T>, access?: EtcdAccess): Promise<T> {
    const gateway = this.gateway;
    if (gateway !== undefined) {
      try {
        return await this.retryingTransient(() => viaGateway(gateway));
      } catch (e) {
        if (!(e instanceof GatewayUnusable)) throw explainAccessFailure(toEtcdError(e, this.endpoint), this.internals.identity, access);
        if (this.gateway === gateway) {
          this.gateway = undefined;
          gateway.close();
        }
      }
    }
    return this.run(viaGrpc, access);
  }

  getPrefix(prefix: string): Promise<Map<string, EtcdRecord>> {
    const toMap = (kvs: Iterable<{ key: Buffer; value: Buffer; modRevision: string }>, strip: number) => {
      const out = new Map<string, EtcdRecord>();
      for (const kv of kvs) out.set(kv.key.toString('utf8').slice(strip), { value: kv.value.toString('utf8'), modRevision: kv.modRevision });
      return out;
    };
    const full = this.etcdKey(prefix);
    return this.read(
      async (g) => {
        // etcd refuses an empty key; every key is [\0, \0) (what etcd3 sends for an empty prefix too).
        const key = Buffer.from(full.length === 0 ? '\0' : full, 'utf8');
        return toMap(await g.range(key, full.length === 0 ? key : prefixRangeEnd(key)), full.length);
      },
      async () => {
        const res = await this.raw.getAll().prefix(prefix).exec();
        return toMap(
          res.kvs.map((kv) => ({ key: kv.key, value: kv.value, modRevision: kv.mod_revision })),
          prefix.length,
        );
      },
      this.reading(prefix, true),
    );
  }

  get(key: string): Promise<EtcdRecord | undefined> {
    return this.read(
      async (g) => {
        const kv = (await g.range(Buffer.from(this.etcdKey(key), 'utf8')))[0];
        return kv === undefined ? undefined : { value: kv.value.toString('utf8'), modRevision: kv.modRevision };
      },
      async () => {
        const res = await this.raw.get(key).exec();
        const kv = res.kvs[0];
        return kv === undefined ? undefined : { value: kv.value.toString('utf8'), modRevision: kv.mod_revision };
      },
      this.reading(key, false),
    );
  }

  /** `Maintenance.Status` of the member that answers (members.ts makes one client per member). */
  memberStatus(): Promise<GatewayStatus> {
    return this.read(
      (g) => g.status(),
      async () => {
        const status = await this.root.maintenance.status();
        return { version: status.version, leader: status.leader === status.header.member_id };
      },
    );
  }

  /*
   * The guarded writes read the key in their else branch (no extra round trip): when a retry finds the guard
   * failed, the key may hold what an earlier attempt wrote before its answer was lost. Our own value (or, for a
   * delete, no key) means that attempt was applied. Callers write each key under a lock, so an equal value
   * written by someone else is not a case to tell apart.
   */
  putIfAbsent(key: string, value: string): Promise<boolean> {
    return this.run(async (attempt) => {
      const raw = this.raw;
      const res = await raw.if(key, 'Create', '==', 0).then(raw.put(key).value(value)).else(raw.get(key)).commit();
      return res.succeeded || (attempt > 1 && currentValue(res) === value);
    }, this.writing(key));
  }

  put(key: string, value: string): Promise<void> {
    return this.run(async () => {
      await this.raw.put(key).value(value).exec();
    }, this.writing(key));
  }

  putIfUnchanged(key: string, value: string, modRevision: string): Promise<boolean> {
    checkRevision(modRevision);
    return this.run(async (attempt) => {
      const raw = this.raw;
      const res = await raw.if(key, 'Mod', '==', modRevision).then(raw.put(key).value(value)).else(raw.get(key)).commit();
      return res.succeeded || (attempt > 1 && currentValue(res) === value);
    }, this.writing(key));
  }

  delete(key: string, modRevision?: string): Promise<boolean> {
    if (modRevision === undefined) {
      return this.run(async (attempt) => (await this.raw.delete().key(key).exec()).deleted !== '0' || attempt > 1, this.writing(key));
    }
    checkRevision(modRevision);
    return this.run(async (attempt) => {
      const raw = this.raw;
      const res = await raw.if(key, 'Mod', '==', modRevision).then(raw.delete().key(key)).else(raw.get(key)).commit();
      if (!res.succeeded) return attempt > 1 && currentValue(res) === undefined;
      return res.responses[0]?.response_delete_range?.deleted !== '0';
    }, this.writing(key));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.gateway?.close();
    this.etcd3?.close();
  }
}

type TxnResult = Awaited<ReturnType<ReturnType<Namespace['if']>['commit']>>;

/**
 * etcd3's namespace for host_etcd_prefix, whose transactions also give the keys they read without the prefix, as
 * its other reads and its watches do (etcd3 leaves a transaction's results as etcd sent them).
 */
function namespaced(root: Etcd3, prefix: string): Namespace {
  const ns = root.namespace(prefix);
  const strip = Buffer.from(prefix, 'utf8');
  const unprefixed = (key: Buffer) => (key.subarray(0, strip.length).equals(strip) ? key.subarray(strip.length) : key);
  const begin = ns.if.bind(ns);
  ns.if = (...args) => {
    const txn = begin(...args);
    const commit = txn.commit.bind(txn);
    txn.commit = async (): Promise<TxnResult> => {
      const res = await commit();
      for (const r of res.responses) {
        for (const kv of r.response_range?.kvs ?? []) kv.key = unprefixed(kv.key);
        for (const kv of r.response_delete_range?.prev_kvs ?? []) kv.key = unprefixed(kv.key);
        if (r.response_put?.prev_kv) r.response_put.prev_kv.key = unprefixed(r.response_put.prev_kv.key);
      }
      return res;
    };
    return txn;
  };
  return ns;
}

/** `a`, `a and b`, `a, b and c`. */
function listed(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** The value the else branch of a guarded write read (undefined: no key). */
function currentValue(res: { responses: { response_range?: { kvs?: { value: Buffer }[] } }[] }): string | undefined {
  return res.responses[0]?.response_range?.kvs?.[0]?.value.toString('utf8');
}

/** Refuses anything but a decimal etcd revision ('0': absent) before it reaches a compare. */
export function checkRevision(modRevision: string): void {
  if (!/^\d+$/.test(modRevision)) throw new TypeError(`modRevision must be a decimal etcd revision, got ${JSON.stringify(modRevision)}`);
}

function checkEndpoints(cfg: EtcdConfig): void {
  if (cfg.endpoints.length === 0) {
    throw new EtcdError('(none)', 'unavailable', 'no etcd endpoint configured', `set host_etcd_ip_address in [DEFAULT]`);
  }
}

/**
 * A client for the configured etcd cluster (all endpoints). Reads and checks the TLS files; does not contact
 * etcd (the first call does), so it succeeds while etcd is down. Does not load etcd3 (the first write does).
 */
export async function createEtcdClient(cfg: EtcdConfig, opts: EtcdClientOptions = {}): Promise<Etcd3Client> {
  checkEndpoints(cfg);
  const material = await loadEtcdTls(cfg);
  return new Etcd3Client(cfg, material, opts);
}

/** For members.ts: a client from already loaded TLS material (no file reads). */
export function createEtcdClientWith(cfg: EtcdConfig, material: EtcdTlsMaterial | undefined, opts: EtcdClientOptions = {}): Etcd3Client {
  checkEndpoints(cfg);
  return new Etcd3Client(cfg, material, opts);
}
