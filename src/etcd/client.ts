/**
 * The etcd client: the plugin's few operations over two transports, every failure turned into an `EtcdError`
 * naming the endpoint(s), the reason and the fix.
 *
 * Two transports, one interface (`EtcdClient`), one factory (`createEtcdClient`):
 *  - reads (`get`, `getPrefix`) and the per-member status go through etcd's v3 JSON gateway over HTTP/1.1
 *    (gateway.ts, node:http/https only);
 *  - writes, transactions, leases, locks and watches go through `Etcd3` (npm etcd3 1.1.x, gRPC), reached via `raw`.
 * Why: start-up time. Loading etcd3 costs ~150 ms, ~85 ms bundled (its connection pool parses proto/rpc.proto
 * with @grpc/proto-loader when required, plus grpc-js and protobufjs), more than the whole rest of the start path
 * (read hpe.conf → read every key record in one request → decrypt), which needs only reads. So etcd3 is loaded
 * lazily, on the first use of `raw` or of an operation that needs gRPC; importing this module does not load it.
 * Both transports share the config, the TLS material, the timeouts and the failover rules below, and map their
 * failures to the same reasons and fixes. The gateway falls back to gRPC for the rest of the client's life when
 * it cannot serve the cluster: HTTP 404 (gateway turned off with --enable-grpc-gateway=false) or etcd with
 * authentication enabled, whose gateway refuses certificates with a CN (CVE-2018-16886) while the CN is exactly
 * how the plugin authenticates; such clusters pay the etcd3 load on the read path too.
 *
 * Timeouts. etcd3 1.1.2 declares a `dialTimeout` option but never reads it, and gRPC-js has no connect timeout,
 * so both bounds are ours:
 *  - dial: before a call goes to a host that is not known to be connected, a plain TCP connect to it must
 *    succeed within `dialTimeoutMs` (default 2 s). A refused port fails in about a millisecond with the OS
 *    reason (ECONNREFUSED), a silent host in `dialTimeoutMs`; such a host is then skipped for 5 s.
 *  - request: every unary call carries a gRPC deadline of `requestTimeoutMs` (default 3 s) per attempt, the TLS
 *    handshake included. Streams (watch, lease keep-alive) get no deadline.
 * Retries. etcd3's default policies (three global retries, a 5 s circuit breaker per host) are replaced: a call
 * that cannot reach one host (gRPC UNAVAILABLE, or the dial check) moves at once to the next host, each host
 * tried at most once per call; DEADLINE_EXCEEDED is not retried, since a write may have been applied. So a
 * dead single-member cluster fails in milliseconds (refused) or `dialTimeoutMs` (silent), never minutes.
 * The gateway keeps the same bounds and rules with HTTP: `dialTimeoutMs` on each new TCP connection, and
 * `requestTimeoutMs` on each request (TLS handshake included); the next host on refused, silent, unresolvable,
 * TLS failure or etcd's UNAVAILABLE; no retry elsewhere after a request timed out (see gateway.ts).
 *
 * TLS (host_etcd_client_cert + host_etcd_client_key, and/or host_etcd_ca_cert): the files are read and parsed
 * at creation, and each problem names its option, the path and the OS or parser reason. The server
 * certificate is verified against host_etcd_ca_cert when given (upstream registered that option but never
 * used it), else against Node's default CA store (which includes NODE_EXTRA_CA_CERTS).
 *
 * Host naming with TLS. The endpoint is used exactly as written: gRPC-js connects to it, sends it as the TLS
 * server name and verifies the server certificate against it, so `127.0.0.1` works with a certificate whose SAN
 * has `IP:127.0.0.1` (and `localhost` with `DNS:localhost`). We do NOT rewrite an IP to `localhost`: that
 * would break certificates that carry only the IP. Cost: gRPC-js always sets the TLS ServerName to the target
 * host, and Node warns once per process when that is an IP (`[DEP0123] DeprecationWarning: Setting the TLS
 * ServerName to an IP address…`). gRPC's only override (`grpc.ssl_target_name_override`) must be a name and
 * is then also what the certificate is checked against, so there is no way to keep IP verification without the
 * warning. It is cosmetic (the check is right); writing a DNS name from the server certificate's SAN in
 * host_etcd_ip_address (e.g. `localhost`) avoids it. Only the gRPC path warns: for the gateway, Node's https sends
 * no server name for an IP and verifies the certificate against the IP.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import tls from 'node:tls';
import type { Etcd3, IOptions } from 'etcd3';
import type { HostConfig } from '../config/types.js';
import { EtcdError, HpeError, type EtcdFailureReason } from '../errors.js';
import { EtcdGateway, GatewayFailure, GatewayUnusable, SILENT_HOST_SKIP_MS, TlsDetail, prefixRangeEnd, type GatewayStatus } from './gateway.js';

type Etcd3Module = typeof import('etcd3');
let etcd3Module: Etcd3Module | undefined;

/**
 * etcd3, loaded on first need (see the top of this file). In the esbuild bundle `require` is defined and the call
 * below is resolved to the bundled copy; under plain Node ESM it is not, and node_modules is used.
 */
export function loadEtcd3(): Etcd3Module {
  etcd3Module ??= (typeof require === 'function' ? require('etcd3') : createRequire(import.meta.url)('etcd3')) as Etcd3Module;
  return etcd3Module;
}

export type EtcdConfig = HostConfig['etcd'];

export interface EtcdClientOptions {
  /** Bound on the TCP connect to a host not yet connected. Default 2000 ms. */
  dialTimeoutMs?: number;
  /** gRPC deadline of each unary call attempt (TLS handshake included). Default 3000 ms. */
  requestTimeoutMs?: number;
}

export const DEFAULT_DIAL_TIMEOUT_MS = 2000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 3000;
export interface EtcdRecord {
  value: string;
  modRevision: string;
}

export interface EtcdClient {
  /** All keys under a prefix in ONE round trip: key (without prefix) → { value, modRevision } */
  getPrefix(prefix: string): Promise<Map<string, EtcdRecord>>;
  get(key: string): Promise<EtcdRecord | undefined>;
  /** create only if absent; returns false if it already existed */
  putIfAbsent(key: string, value: string): Promise<boolean>;
  /** replace only if the key's modRevision is still `modRevision`; returns false on conflict */
  putIfUnchanged(key: string, value: string, modRevision: string): Promise<boolean>;
  /** delete only if unchanged (or unconditionally when modRevision undefined); returns whether it deleted */
  delete(key: string, modRevision?: string): Promise<boolean>;
  close(): void;
  /** The configured endpoints as one label, e.g. `10.0.0.1:2379,10.0.0.2:2379` (what errors name). */
  readonly endpoint: string;
  /**
   * The underlying etcd3 client, for later modules (leases, locks). It has this module's timeouts and retry
   * policy; map its errors with `toEtcdError(err, client.endpoint)`. Created, and etcd3 loaded, on first access.
   */
  readonly raw: Etcd3;
}

// ---------------------------------------------------------------------------------------------------------
// Endpoints and fixes

/** `host:port`, with brackets for an IPv6 literal. */
export function formatEndpoint(ep: { host: string; port: number }): string {
  // Only an IPv6 literal contains ':' (cheaper than net.isIPv6, whose first call compiles a large regex: ~4 ms).
  return ep.host.includes(':') ? `[${ep.host}]:${ep.port}` : `${ep.host}:${ep.port}`;
}

function endpointsLabel(cfg: EtcdConfig): string {
  return cfg.endpoints.map(formatEndpoint).join(',');
}

const ADDRESS_OPTIONS = 'host_etcd_ip_address / host_etcd_port_number in [DEFAULT]';
const TLS_OPTIONS = 'host_etcd_client_cert / host_etcd_client_key / host_etcd_ca_cert in [DEFAULT]';

function fixFor(reason: EtcdFailureReason, endpoint: string, detail = ''): string {
  switch (reason) {
    case 'refused':
      return `start etcd on ${endpoint}, or correct ${ADDRESS_OPTIONS}`;
    case 'timeout':
      return `check that etcd on ${endpoint} is running and reachable from this host (firewall, routing, load), or correct ${ADDRESS_OPTIONS}`;
    case 'tls':
      if (detail.startsWith(TlsDetail.noClientCert)) {
        return `etcd on ${endpoint} requires client certificates (--client-cert-auth): set host_etcd_client_cert and host_etcd_client_key in [DEFAULT] to a certificate signed by a CA etcd trusts`;
      }
      if (detail.startsWith(TlsDetail.clientRejected)) {
        return `check host_etcd_client_cert / host_etcd_client_key in [DEFAULT]: the certificate must be signed by a CA in etcd's --trusted-ca-file, be valid now and allow client auth`;
      }
      if (detail.startsWith(TlsDetail.serverUntrusted)) {
        return `set host_etcd_ca_cert in [DEFAULT] to the CA that signed etcd's server certificate, and make sure that certificate's SAN covers the host written in host_etcd_ip_address`;
      }
      if (detail.startsWith(TlsDetail.plainServer)) {
        return `etcd on ${endpoint} serves plain http: remove host_etcd_client_cert / host_etcd_client_key / host_etcd_ca_cert from [DEFAULT], or start etcd with TLS`;
      }
      if (detail.startsWith(TlsDetail.tlsServer) || detail.startsWith(TlsDetail.tlsServerHttp)) {
        return `etcd on ${endpoint} serves https: set host_etcd_client_cert and host_etcd_client_key (and host_etcd_ca_cert) in [DEFAULT]`;
      }
      return `check ${TLS_OPTIONS}: the client certificate must be signed by a CA in etcd's --trusted-ca-file and allow client auth, and host_etcd_ca_cert must be the CA of etcd's server certificate`;
    case 'auth':
      return `etcd has authentication enabled: the client certificate's CN (host_etcd_client_cert) must name an etcd user`;
    case 'permission':
      return `grant the etcd user (the CN of host_etcd_client_cert) readwrite on the plugin's keys, e.g. \`etcdctl role grant-permission <role> --prefix=true readwrite /\``;
    case 'unavailable':
      if (/does not resolve/.test(detail)) return `correct host_etcd_ip_address in [DEFAULT]: the host name does not resolve on this host`;
      return `check etcd's health on ${endpoint} (\`etcdctl --endpoints=${endpoint} endpoint health\`) and its log`;
    case 'conflict':
      return `retry: the key was changed by someone else meanwhile`;
  }
}

function etcdError(endpoint: string, reason: EtcdFailureReason, detail: string, cause?: unknown): EtcdError {
  return new EtcdError(endpoint, reason, detail, fixFor(reason, endpoint, detail), { cause });
}

// ---------------------------------------------------------------------------------------------------------
// Error mapping

/** The TCP dial check failed (thrown inside etcd3's host loop, which then tries the next host). */
class DialFailure extends Error {
  constructor(
    readonly endpoint: string,
    readonly reason: EtcdFailureReason,
    detail: string,
    readonly at: number,
  ) {
    super(detail);
    this.name = 'DialFailure';
  }
}

/** `Error: connect ECONNREFUSED 1.2.3.4:5` → the part after gRPC's "Last error:", without its noise. */
function grpcLastError(message: string): string {
  const m = /Last error: (?:Error: )?([\s\S]*?)(?:\s*\(\d{4}-\d\d-\d\dT[^)]*\))?\.?\s*(?:Resolution note:.*)?$/.exec(message);
  let s = (m?.[1] ?? message).trim();
  // OpenSSL's "80EC…:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../deps/…:SSL alert number 42"
  const ssl = /SSL routines:[^:]*:([^:]+)/.exec(s);
  if (ssl) s = `${ssl[1]!.trim()} (TLS alert from the server)`;
  return s;
}

function classifyTransport(message: string, tlsOn: boolean, clientCert: boolean): { reason: EtcdFailureReason; detail: string } {
  const last = grpcLastError(message);
  if (/ECONNREFUSED/.test(last)) return { reason: 'refused', detail: `connection refused (${last})` };
  if (/ETIMEDOUT|timed out/i.test(last)) return { reason: 'timeout', detail: last };
  if (/alert (bad certificate|certificate required|unknown ca|certificate unknown|certificate expired|handshake failure|access denied)/i.test(last)) {
    return clientCert
      ? { reason: 'tls', detail: `${TlsDetail.clientRejected}: ${last}` }
      : { reason: 'tls', detail: `${TlsDetail.noClientCert}: ${last}` };
  }
  if (/secure TLS connection was established|wrong version number|packet length too long/i.test(last)) {
    return { reason: 'tls', detail: `${TlsDetail.plainServer}: ${last}` };
  }
  if (/certificate|self.signed|unable to (verify|get)|altnames|Hostname\/IP|CERT_/i.test(last)) {
    return { reason: 'tls', detail: `${TlsDetail.serverUntrusted}: ${last}` };
  }
  if (/SSL|TLS|handshake/i.test(last)) return { reason: 'tls', detail: `TLS handshake failed: ${last}` };
  if (!tlsOn && /Failed to connect|Connection dropped|HTTP status code 400|protocol error/i.test(last)) {
    return { reason: 'tls', detail: `${TlsDetail.tlsServer} (${last})` };
  }
  return { reason: 'unavailable', detail: last };
}

/**
 * Maps any error from etcd3 (or this module) to an `EtcdError` naming `endpoint`. An `EtcdError` or other
 * `HpeError` passes through unchanged. Exported for modules that use `client.raw` (leases, locks, watches).
 */
export function toEtcdError(
  err: unknown,
  endpoint: string,
  opts: { tls?: boolean; clientCert?: boolean; requestTimeoutMs?: number } = {},
): HpeError {
  if (err instanceof HpeError) return err;
  if (err instanceof DialFailure || err instanceof GatewayFailure) {
    const host = err instanceof DialFailure ? err.endpoint : err.host;
    return etcdError(endpoint, err.reason, host === endpoint ? err.message : `${host}: ${err.message}`, err);
  }
  if (!(err instanceof Error)) return etcdError(endpoint, 'unavailable', String(err), err);
  const msg = err.message;
  // Any other error comes from etcd3 (through `raw`), so it is loaded already; loading it here costs nothing then.
  const {
    EtcdAuthenticationFailedError,
    EtcdInvalidAuthTokenError,
    EtcdPermissionDeniedError,
    EtcdRoleNotGrantedError,
    EtcdUserNotFoundError,
    GRPCDeadlineExceededError,
    GRPCInvalidArgumentError,
    GRPCUnauthenticatedError,
    GRPCUnavailableError,
    ClientClosedError,
  } = loadEtcd3();
  if (err instanceof EtcdPermissionDeniedError) return etcdError(endpoint, 'permission', `permission denied (${msg})`, err);
  if (
    err instanceof EtcdAuthenticationFailedError ||
    err instanceof EtcdInvalidAuthTokenError ||
    err instanceof EtcdUserNotFoundError ||
    err instanceof EtcdRoleNotGrantedError ||
    err instanceof GRPCUnauthenticatedError ||
    (err instanceof GRPCInvalidArgumentError && /user name is empty|invalid auth/i.test(msg))
  ) {
    return etcdError(endpoint, 'auth', `authentication failed (${msg})`, err);
  }
  if (err instanceof GRPCDeadlineExceededError) {
    const within = opts.requestTimeoutMs === undefined ? '' : ` within ${opts.requestTimeoutMs} ms`;
    return etcdError(endpoint, 'timeout', `no answer${within} (${msg.replace(/^\d+ DEADLINE_EXCEEDED: /, '')})`, err);
  }
  if (err instanceof GRPCUnavailableError) {
    if (/etcdserver:/.test(msg)) return etcdError(endpoint, 'unavailable', msg.replace(/^\d+ UNAVAILABLE: /, ''), err);
    const { reason, detail } = classifyTransport(msg, opts.tls ?? false, opts.clientCert ?? false);
    return etcdError(endpoint, reason, detail, err);
  }
  if (err instanceof ClientClosedError) return etcdError(endpoint, 'unavailable', 'the etcd client was already closed', err);
  return etcdError(endpoint, 'unavailable', msg, err);
}

// ---------------------------------------------------------------------------------------------------------
// TLS material

export interface EtcdTlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

const FileOptions = {
  clientCert: 'host_etcd_client_cert',
  clientKey: 'host_etcd_client_key',
  caCert: 'host_etcd_ca_cert',
} as const;

function osReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  // "ENOENT: no such file or directory, open '/x'" → "ENOENT: no such file or directory"
  return (err.message ?? String(e)).replace(/, \w+ '.*'$/, '');
}

function tlsFileError(endpoint: string, option: string, file: string, problem: string, fix: string, cause?: unknown): EtcdError {
  return new EtcdError(endpoint, 'tls', `[DEFAULT].${option} ${file}: ${problem}`, fix, { cause });
}

async function readPem(endpoint: string, option: string, file: string): Promise<Buffer> {
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (e) {
    throw tlsFileError(endpoint, option, file, `cannot be read: ${osReason(e)}`, `make ${file} readable by the plugin, or correct ${option} in [DEFAULT]`, e);
  }
  if (data.length === 0) throw tlsFileError(endpoint, option, file, 'is empty', `put the PEM file in ${file}, or correct ${option} in [DEFAULT]`);
  return data;
}

/**
 * Reads and checks the TLS files named in the config. Undefined when TLS is off (no cert, key or CA given).
 * Throws an `EtcdError` (reason 'tls') naming the option, the path and the reason.
 */
export async function loadEtcdTls(cfg: EtcdConfig): Promise<EtcdTlsMaterial | undefined> {
  const endpoint = endpointsLabel(cfg);
  const { clientCert, clientKey, caCert } = cfg;
  if (clientCert === undefined && clientKey === undefined && caCert === undefined) return undefined;
  if ((clientCert === undefined) !== (clientKey === undefined)) {
    const [set, unset] = clientCert === undefined ? [FileOptions.clientKey, FileOptions.clientCert] : [FileOptions.clientCert, FileOptions.clientKey];
    throw new EtcdError(endpoint, 'tls', `[DEFAULT].${set} is set but ${unset} is not`, `set both host_etcd_client_cert and host_etcd_client_key, or neither`);
  }
  const material: EtcdTlsMaterial = {};
  if (caCert !== undefined) {
    const ca = await readPem(endpoint, FileOptions.caCert, caCert);
    try {
      tls.createSecureContext({ ca });
      new X509Certificate(ca);
    } catch (e) {
      throw tlsFileError(endpoint, FileOptions.caCert, caCert, `is not a PEM certificate: ${(e as Error).message}`, `point host_etcd_ca_cert at the PEM file of the CA that signed etcd's server certificate`, e);
    }
    material.ca = ca;
  }
  if (clientCert !== undefined && clientKey !== undefined) {
    const [cert, key] = await Promise.all([readPem(endpoint, FileOptions.clientCert, clientCert), readPem(endpoint, FileOptions.clientKey, clientKey)]);
    let x509: X509Certificate;
    try {
      x509 = new X509Certificate(cert);
    } catch (e) {
      throw tlsFileError(endpoint, FileOptions.clientCert, clientCert, `is not a PEM certificate: ${(e as Error).message}`, `point host_etcd_client_cert at the client certificate (PEM)`, e);
    }
    try {
      createPrivateKey(key);
    } catch (e) {
      throw tlsFileError(endpoint, FileOptions.clientKey, clientKey, `is not an unencrypted PEM private key: ${(e as Error).message}`, `point host_etcd_client_key at the client certificate's private key (PEM, without passphrase)`, e);
    }
    try {
      tls.createSecureContext({ cert, key });
    } catch (e) {
      throw tlsFileError(
        endpoint,
        FileOptions.clientKey,
        clientKey,
        `does not belong to the certificate in host_etcd_client_cert ${clientCert}: ${(e as Error).message}`,
        `set host_etcd_client_key to the key of that certificate`,
        e,
      );
    }
    const notAfter = new Date(x509.validTo);
    if (notAfter.getTime() < Date.now()) {
      throw tlsFileError(endpoint, FileOptions.clientCert, clientCert, `expired on ${notAfter.toISOString()}`, `renew the client certificate and update ${clientCert}`);
    }
    material.cert = cert;
    material.key = key;
  }
  return material;
}

// ---------------------------------------------------------------------------------------------------------
// Policies for etcd3 (cockatiel's IPolicy shape, implemented here: cockatiel is not our dependency)

type FaultHandling = NonNullable<IOptions['faultHandling']>;
type Policy = NonNullable<FaultHandling['global']>;
type PolicyContext = Parameters<Parameters<Policy['execute']>[0]>[0];

const noEvent = () => ({ dispose() {} });

function makePolicy(execute: <T>(fn: (ctx: PolicyContext) => PromiseLike<T> | T, signal: AbortSignal) => Promise<T>): Policy {
  const policy = {
    onSuccess: noEvent,
    onFailure: noEvent,
    execute<T>(fn: (ctx: PolicyContext) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> {
      return execute(fn, signal ?? new AbortController().signal);
    },
  };
  return policy as unknown as Policy;
}

interface HostState {
  label: string;
  host: string;
  port: number;
  connected: boolean;
  failure?: DialFailure;
}

function tcpDial(state: HostState, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect({ host: state.host, port: state.port });
    const fail = (reason: EtcdFailureReason, detail: string) => {
      socket.destroy();
      reject(new DialFailure(state.label, reason, detail, Date.now()));
    };
    socket.setTimeout(timeoutMs, () => fail('timeout', `TCP connect gave no answer within ${timeoutMs} ms`));
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', (e: NodeJS.ErrnoException) => {
      const code = e.code ?? '';
      if (code === 'ECONNREFUSED') fail('refused', `connection refused (nothing listens on ${state.label})`);
      else if (code === 'ETIMEDOUT') fail('timeout', `TCP connect timed out after ${Date.now() - started} ms`);
      else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') fail('unavailable', `host name ${state.host} does not resolve (${code})`);
      else fail('unavailable', `cannot connect: ${e.message}`);
    });
  });
}

/** A transport failure after which the host must be dialled again before the next call. */
function isTransportFailure(e: unknown, { GRPCUnavailableError, GRPCDeadlineExceededError }: Etcd3Module): boolean {
  return (e instanceof GRPCUnavailableError && !/etcdserver:/.test(e.message)) || e instanceof GRPCDeadlineExceededError;
}

// ---------------------------------------------------------------------------------------------------------
// The client

interface Internals {
  endpoint: string;
  tlsOn: boolean;
  clientCert: boolean;
  dialTimeoutMs: number;
  requestTimeoutMs: number;
  /** The gRPC path's host states (dial checks, silent-host skip). */
  hosts: HostState[];
}

function makeInternals(cfg: EtcdConfig, material: EtcdTlsMaterial | undefined, opts: EtcdClientOptions): Internals {
  return {
    endpoint: endpointsLabel(cfg),
    tlsOn: material !== undefined,
    clientCert: material?.cert !== undefined,
    dialTimeoutMs: opts.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS,
    requestTimeoutMs: opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    hosts: cfg.endpoints.map((ep) => ({ label: formatEndpoint(ep), host: ep.host, port: ep.port, connected: false })),
  };
}

function buildEtcd3(material: EtcdTlsMaterial | undefined, internals: Internals): Etcd3 {
  const mod = loadEtcd3();
  const { GRPCUnavailableError } = mod;
  const { dialTimeoutMs, requestTimeoutMs, hosts } = internals;
  const scheme = internals.tlsOn ? 'https' : 'http';
  const byUrl = new Map(hosts.map((h) => [`${scheme}://${h.label}`, h]));

  const hostPolicy = (url: string): Policy => {
    const state = byUrl.get(url);
    return makePolicy(async (fn, signal) => {
      if (state && !state.connected) {
        const f = state.failure;
        if (f?.reason === 'timeout' && Date.now() - f.at < SILENT_HOST_SKIP_MS) throw f;
        try {
          await tcpDial(state, dialTimeoutMs);
          state.failure = undefined;
        } catch (e) {
          if (e instanceof DialFailure) state.failure = e;
          throw e;
        }
      }
      try {
        const result = await fn({ signal });
        if (state) state.connected = true;
        return result;
      } catch (e) {
        if (state && isTransportFailure(e, mod)) state.connected = false;
        throw e;
      }
    });
  };

  // Each retry continues etcd3's shuffled walk over the hosts, so every attempt goes to another host.
  const maxAttempts = hosts.length;
  const global = makePolicy(async (fn, signal) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn({ signal });
      } catch (e) {
        const retry = attempt < maxAttempts && e instanceof GRPCUnavailableError && !signal.aborted;
        if (!retry) throw e;
      }
    }
  });

  const options: IOptions = {
    hosts: [...byUrl.keys()],
    faultHandling: { host: hostPolicy, global },
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + requestTimeoutMs }),
  };
  if (material) {
    // etcd3 passes these to grpc.credentials.createSsl(root, key, chain); a missing root means Node's CAs.
    options.credentials = {
      rootCertificate: material.ca as Buffer,
      ...(material.key ? { privateKey: material.key } : {}),
      ...(material.cert ? { certChain: material.cert } : {}),
    };
  }
  return new mod.Etcd3(options);
}

/**
 * The implementation. Reads go through the JSON gateway while it can serve the cluster, else through `raw`;
 * `run` maps failures of any etcd3 call made through `raw`.
 */
export class Etcd3Client implements EtcdClient {
  readonly endpoint: string;
  private readonly internals: Internals;
  private etcd3: Etcd3 | undefined;
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
    this.gateway = new EtcdGateway({
      hosts: this.internals.hosts.map(({ label, host, port }) => ({ label, host, port })),
      endpoint: this.endpoint,
      ...(material ? { tls: material } : {}),
      dialTimeoutMs: this.internals.dialTimeoutMs,
      requestTimeoutMs: this.internals.requestTimeoutMs,
    });
  }

  /** The etcd3 client, created (and etcd3 loaded) on first use. */
  get raw(): Etcd3 {
    if (this.etcd3 === undefined) {
      this.etcd3 = buildEtcd3(this.material, this.internals);
      // Created after close(): closed as well, so its calls fail like those of a closed client.
      if (this.closed) this.etcd3.close();
    }
    return this.etcd3;
  }

  /** Whether reads still go through the JSON gateway (false after it could not serve this cluster). */
  get readsViaGateway(): boolean {
    return this.gateway !== undefined;
  }

  /** Runs one operation on `raw` and maps its failure; with several hosts that all failed to dial, names each. */
  async run<T>(op: () => Promise<T>): Promise<T> {
    const started = Date.now();
    try {
      return await op();
    } catch (e) {
      const { hosts, tlsOn, clientCert, requestTimeoutMs } = this.internals;
      if (e instanceof DialFailure && hosts.length > 1) {
        const failed = hosts.filter((h) => h.failure && h.failure.at >= started - SILENT_HOST_SKIP_MS);
        const detail = failed.map((h) => `${h.label}: ${h.failure!.message}`).join('; ');
        return Promise.reject(etcdError(this.endpoint, e.reason, `no member reachable (${detail})`, e));
      }
      return Promise.reject(toEtcdError(e, this.endpoint, { tls: tlsOn, clientCert, requestTimeoutMs }));
    }
  }

  /** A read through the gateway; through gRPC when the gateway cannot serve this cluster (from then on). */
  private async read<T>(viaGateway: (g: EtcdGateway) => Promise<T>, viaGrpc: () => Promise<T>): Promise<T> {
    const gateway = this.gateway;
    if (gateway !== undefined) {
      try {
        return await viaGateway(gateway);
      } catch (e) {
        if (!(e instanceof GatewayUnusable)) throw toEtcdError(e, this.endpoint);
        if (this.gateway === gateway) {
          this.gateway = undefined;
          gateway.close();
        }
      }
    }
    return this.run(viaGrpc);
  }

  getPrefix(prefix: string): Promise<Map<string, EtcdRecord>> {
    const toMap = (kvs: Iterable<{ key: Buffer; value: Buffer; modRevision: string }>) => {
      const out = new Map<string, EtcdRecord>();
      for (const kv of kvs) out.set(kv.key.toString('utf8').slice(prefix.length), { value: kv.value.toString('utf8'), modRevision: kv.modRevision });
      return out;
    };
    return this.read(
      async (g) => {
        // etcd refuses an empty key; every key is [\0, \0) (what etcd3 sends for an empty prefix too).
        const key = Buffer.from(prefix.length === 0 ? '\0' : prefix, 'utf8');
        return toMap(await g.range(key, prefix.length === 0 ? key : prefixRangeEnd(key)));
      },
      async () => {
        const res = await this.raw.getAll().prefix(prefix).exec();
        return toMap(res.kvs.map((kv) => ({ key: kv.key, value: kv.value, modRevision: kv.mod_revision })));
      },
    );
  }

  get(key: string): Promise<EtcdRecord | undefined> {
    return this.read(
      async (g) => {
        const kv = (await g.range(Buffer.from(key, 'utf8')))[0];
        return kv === undefined ? undefined : { value: kv.value.toString('utf8'), modRevision: kv.modRevision };
      },
      async () => {
        const res = await this.raw.get(key).exec();
        const kv = res.kvs[0];
        return kv === undefined ? undefined : { value: kv.value.toString('utf8'), modRevision: kv.mod_revision };
      },
    );
  }

  /** `Maintenance.Status` of the member that answers (members.ts makes one client per member). */
  memberStatus(): Promise<GatewayStatus> {
    return this.read(
      (g) => g.status(),
      async () => {
        const status = await this.raw.maintenance.status();
        return { version: status.version, leader: status.leader === status.header.member_id };
      },
    );
  }

  putIfAbsent(key: string, value: string): Promise<boolean> {
    return this.run(async () => {
      const raw = this.raw;
      const res = await raw.if(key, 'Create', '==', 0).then(raw.put(key).value(value)).commit();
      return res.succeeded;
    });
  }

  putIfUnchanged(key: string, value: string, modRevision: string): Promise<boolean> {
    checkRevision(modRevision);
    return this.run(async () => {
      const raw = this.raw;
      const res = await raw.if(key, 'Mod', '==', modRevision).then(raw.put(key).value(value)).commit();
      return res.succeeded;
    });
  }

  delete(key: string, modRevision?: string): Promise<boolean> {
    if (modRevision === undefined) {
      return this.run(async () => (await this.raw.delete().key(key).exec()).deleted !== '0');
    }
    checkRevision(modRevision);
    return this.run(async () => {
      const raw = this.raw;
      const res = await raw.if(key, 'Mod', '==', modRevision).then(raw.delete().key(key)).commit();
      return res.succeeded && res.responses[0]?.response_delete_range?.deleted !== '0';
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.gateway?.close();
    this.etcd3?.close();
  }
}

function checkRevision(modRevision: string): void {
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
export async function createEtcdClient(cfg: EtcdConfig, opts: EtcdClientOptions = {}): Promise<EtcdClient> {
  checkEndpoints(cfg);
  const material = await loadEtcdTls(cfg);
  return new Etcd3Client(cfg, material, opts);
}

/** For members.ts: a client from already loaded TLS material (no file reads). */
export function createEtcdClientWith(cfg: EtcdConfig, material: EtcdTlsMaterial | undefined, opts: EtcdClientOptions = {}): Etcd3Client {
  checkEndpoints(cfg);
  return new Etcd3Client(cfg, material, opts);
}
