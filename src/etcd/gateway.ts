/**
 * etcd's v3 JSON gateway (grpc-gateway, served by etcd ≥ 3.3 on the client port under `/v3/`), over HTTP/1.1 with
 * node:http / node:https: the read-only transport of `EtcdClient` (see client.ts for why there are two).
 *
 * Same contract as the gRPC path: one keep-alive connection pool per client; the TLS material of the config
 * (server verified against host_etcd_ca_cert, else Node's CAs); a TCP connect bounded by `dialTimeoutMs` and each
 * request (TLS handshake included) by `requestTimeoutMs`; a host that cannot be reached is left for the next one,
 * each host at most once per call, and a silent host is skipped for `SILENT_HOST_SKIP_MS`. A request that timed out
 * is not retried elsewhere (bounded total time). Failures are `GatewayFailure`s (reason + detail) that client.ts
 * turns into `EtcdError`s; `GatewayUnusable` means "this cluster needs gRPC" and makes the client fall back.
 *
 * Wire format: keys and values are base64, 64-bit numbers decimal strings (as etcd3 gives `mod_revision`), fields
 * at their zero value are omitted (no `kvs` = no key, no `value` = empty value). Errors are HTTP statuses with
 * `{"error","code","message"}` (code = gRPC status code); some are plain text from etcd's HTTP layer.
 */
import http from 'node:http';
import https from 'node:https';
import type { EtcdFailureReason } from '../errors.js';

/** A host whose TCP connect timed out is skipped for this long (other hosts are tried, or the call fails fast). */
export const SILENT_HOST_SKIP_MS = 5000;

/** How each TLS failure's detail starts (client.ts chooses the fix by it). */
export const TlsDetail = {
  noClientCert: 'etcd requires a client certificate and none is configured',
  clientRejected: 'etcd rejected the client certificate',
  serverUntrusted: "etcd's server certificate is not trusted",
  plainServer: 'TLS handshake failed, etcd probably serves plain http',
  tlsServer: 'the connection was closed during the HTTP/2 handshake; etcd probably requires TLS',
  tlsServerHttp: 'the connection was closed before etcd answered the http request; etcd probably requires TLS',
} as const;

export interface GatewayHost {
  /** `host:port` (what errors name). */
  label: string;
  host: string;
  port: number;
}

export interface GatewayOptions {
  hosts: GatewayHost[];
  /** All hosts as one label (what a failure of every host names). */
  endpoint: string;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  dialTimeoutMs: number;
  requestTimeoutMs: number;
}

/** One failure, on one host (`host`) or, after every host failed, on all of them (`host` = the endpoint label). */
export class GatewayFailure extends Error {
  constructor(
    readonly host: string,
    readonly reason: EtcdFailureReason,
    detail: string,
    /** The host could not be used at all (connect, TLS, unavailable): the next host may serve the call. */
    readonly failover: boolean,
    /** The TCP connect failed (only those make the composite "no member reachable" failure). */
    readonly dial = false,
    readonly at = Date.now(),
  ) {
    super(detail);
    this.name = 'GatewayFailure';
  }
}

/** The gateway cannot serve this cluster at all (turned off, or etcd auth by certificate CN): use gRPC instead. */
export class GatewayUnusable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GatewayUnusable';
  }
}

export interface GatewayKv {
  key: Buffer;
  value: Buffer;
  modRevision: string;
}

export interface GatewayStatus {
  version: string;
  leader: boolean;
}

interface HostState extends GatewayHost {
  /** The last dial timeout, for the silent-host skip. */
  silent?: GatewayFailure;
}

/** The options etcd returns 404 for when the gateway is off (`--enable-grpc-gateway=false`) or speaks another API prefix. */
const Paths = { range: '/v3/kv/range', status: '/v3/maintenance/status' } as const;

/** gRPC status codes that etcd's gateway puts in `code`. */
const GrpcCode = { invalidArgument: 3, deadlineExceeded: 4, permissionDenied: 7, unavailable: 14, unauthenticated: 16 } as const;

/** Server-certificate verification failures, by Node's error code. */
const UntrustedServerCodes = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The smallest key greater than every key starting with `prefix` (etcd's `GetPrefixRangeEnd`); `\0` = no end. */
export function prefixRangeEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/** OpenSSL's "80EC…:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../deps/…" → the reason. */
function sslReason(message: string): string {
  const ssl = /SSL routines:[^:]*:([^:]+)/.exec(message);
  return ssl ? `${ssl[1]!.trim()} (TLS alert from the server)` : message;
}

function classifyNodeError(e: NodeJS.ErrnoException, host: HostState, opts: { tls: boolean; clientCert: boolean; reused: boolean }): GatewayFailure {
  const code = e.code ?? '';
  const message = e.message ?? String(e);
  const f = (reason: EtcdFailureReason, detail: string, dial = false) => new GatewayFailure(host.label, reason, detail, true, dial);
  if (code === 'ECONNREFUSED') return f('refused', `connection refused (nothing listens on ${host.label})`, true);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return f('unavailable', `host name ${host.host} does not resolve (${code})`, true);
  if (code === 'ETIMEDOUT') return f('timeout', `TCP connect timed out (${code})`, true);
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL') return f('unavailable', `cannot connect: ${message}`, true);
  const ssl = sslReason(message);
  if (/alert (bad certificate|certificate required|unknown ca|certificate unknown|certificate expired|handshake failure|access denied)/i.test(ssl)) {
    return f('tls', `${opts.clientCert ? TlsDetail.clientRejected : TlsDetail.noClientCert}: ${ssl}`);
  }
  if (/secure TLS connection was established|wrong version number|packet length too long/i.test(message)) {
    return f('tls', `${TlsDetail.plainServer}: ${ssl}`);
  }
  if (UntrustedServerCodes.has(code) || (!code.startsWith('ERR_SSL_') && /self.signed|unable to (verify|get)|altnames|Hostname\/IP|certificate/i.test(message))) {
    return f('tls', `${TlsDetail.serverUntrusted}: ${message}${code ? ` (${code})` : ''}`);
  }
  if (/^ERR_SSL_|^ERR_TLS_/.test(code) || /SSL routines/.test(message)) return f('tls', `TLS handshake failed: ${ssl}`);
  if (code === 'ECONNRESET' || code === 'EPIPE') {
    // A plain http request to etcd's TLS port: etcd drops the connection without a word.
    if (!opts.tls && !opts.reused) return f('tls', `${TlsDetail.tlsServerHttp} (${message})`);
    return f('unavailable', `the connection was closed before etcd answered (${message})`);
  }
  return f('unavailable', `cannot connect: ${message}`);
}

/** A non-200 answer → the failure, or `GatewayUnusable` when only gRPC can serve this cluster. */
function classifyHttpError(host: HostState, path: string, status: number, contentType: string, text: string): GatewayFailure | GatewayUnusable {
  const fail = (reason: EtcdFailureReason, detail: string, failover = false) => new GatewayFailure(host.label, reason, detail, failover);
  const brief = text.trim().replace(/\s+/g, ' ').slice(0, 200);
  if (status === 404) return new GatewayUnusable(`${host.label} does not serve etcd's JSON gateway at ${path} (HTTP 404)`);
  if (/CommonName of client sending a request against gateway/i.test(text)) {
    // etcd with auth enabled refuses gateway requests from certificates with a CN (CVE-2018-16886): the CN is our
    // etcd user, and only gRPC authenticates by it.
    return new GatewayUnusable(`etcd ${host.label} has authentication enabled and its JSON gateway does not authenticate by certificate CN`);
  }
  if (/HTTP request to an HTTPS server/i.test(text)) return fail('tls', `${TlsDetail.tlsServerHttp} (${brief})`, true);
  let body: { code?: unknown; message?: unknown; error?: unknown } | undefined;
  if (/json/i.test(contentType)) {
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      body = undefined;
    }
  }
  if (body === undefined || typeof body.code !== 'number') {
    return fail('unavailable', `etcd's JSON gateway answered HTTP ${status}${brief ? `: ${brief}` : ''}`, status >= 500);
  }
  const message = typeof body.message === 'string' ? body.message : typeof body.error === 'string' ? body.error : `gRPC code ${body.code}`;
  switch (body.code) {
    case GrpcCode.permissionDenied:
      return fail('permission', `permission denied (${message})`);
    case GrpcCode.unauthenticated:
      return fail('auth', `authentication failed (${message})`);
    case GrpcCode.invalidArgument:
      if (/user name is empty|invalid auth/i.test(message)) return fail('auth', `authentication failed (${message})`);
      return fail('unavailable', message);
    case GrpcCode.deadlineExceeded:
      return fail('timeout', `no answer (${message})`);
    case GrpcCode.unavailable:
      return fail('unavailable', message, true);
    default:
      return fail('unavailable', message);
  }
}

type Json = Record<string, unknown>;

export class EtcdGateway {
  private readonly agent: http.Agent;
  private readonly hosts: HostState[];
  private readonly tlsOn: boolean;
  private readonly clientCert: boolean;
  /** The host that answered last: tried first next time. */
  private preferred = 0;
  private closed = false;

  constructor(private readonly opts: GatewayOptions) {
    this.hosts = opts.hosts.map((h) => ({ ...h }));
    this.tlsOn = opts.tls !== undefined;
    this.clientCert = opts.tls?.cert !== undefined;
    // No `ca` means Node's default CA store (which includes NODE_EXTRA_CA_CERTS).
    this.agent = opts.tls
      ? new https.Agent({ keepAlive: true, ...(opts.tls.ca ? { ca: opts.tls.ca } : {}), ...(opts.tls.cert ? { cert: opts.tls.cert, key: opts.tls.key } : {}) })
      : new http.Agent({ keepAlive: true });
  }

  /** Keys in [key, rangeEnd), or exactly `key` without rangeEnd; linearizable, like etcd3's default. */
  async range(key: Buffer, rangeEnd?: Buffer): Promise<GatewayKv[]> {
    const body: Json = { key: key.toString('base64') };
    if (rangeEnd !== undefined) body.range_end = rangeEnd.toString('base64');
    const res = await this.call(Paths.range, body);
    const kvs = Array.isArray(res.kvs) ? (res.kvs as Json[]) : [];
    return kvs.map((kv) => ({
      key: Buffer.from(typeof kv.key === 'string' ? kv.key : '', 'base64'),
      value: Buffer.from(typeof kv.value === 'string' ? kv.value : '', 'base64'),
      modRevision: String(kv.mod_revision ?? '0'),
    }));
  }

  /** `Maintenance.Status` of the host that answers (use one host per gateway for a per-member status). */
  async status(): Promise<GatewayStatus> {
    const res = await this.call(Paths.status, {});
    const header = (res.header ?? {}) as Json;
    return { version: String(res.version ?? ''), leader: res.leader !== undefined && String(res.leader) === String(header.member_id) };
  }

  close(): void {
    this.closed = true;
    this.agent.destroy();
  }

  /** One call: each host at most once, starting with the preferred one. */
  private async call(path: string, body: Json): Promise<Json> {
    if (this.closed) throw new GatewayFailure(this.opts.endpoint, 'unavailable', 'the etcd client was already closed', false);
    const payload = JSON.stringify(body);
    const n = this.hosts.length;
    const failures: GatewayFailure[] = [];
    for (let i = 0; i < n; i++) {
      const index = (this.preferred + i) % n;
      const host = this.hosts[index]!;
      if (host.silent && Date.now() - host.silent.at < SILENT_HOST_SKIP_MS) {
        failures.push(host.silent);
        continue;
      }
      try {
        const res = await this.attempt(host, path, payload, true);
        host.silent = undefined;
        this.preferred = index;
        return res;
      } catch (e) {
        if (!(e instanceof GatewayFailure)) throw e;
        if (e.dial && e.reason === 'timeout') host.silent = e;
        failures.push(e);
        if (!e.failover) throw e;
      }
    }
    const last = failures[failures.length - 1]!;
    if (n === 1 || !last.dial) throw last;
    const detail = failures.map((f) => `${f.host}: ${f.message}`).join('; ');
    throw new GatewayFailure(this.opts.endpoint, last.reason, `no member reachable (${detail})`, false, true);
  }

  /** One HTTP request to one host. A request on a kept-alive socket that etcd had closed meanwhile is sent again once. */
  private attempt(host: HostState, path: string, payload: string, retryStale: boolean): Promise<Json> {
    const { dialTimeoutMs, requestTimeoutMs } = this.opts;
    return new Promise<Json>((resolve, reject) => {
      let settled = false;
      let dialTimer: NodeJS.Timeout | undefined;
      const finish = (err: Error | undefined, value?: Json) => {
        if (settled) return;
        settled = true;
        clearTimeout(requestTimer);
        clearTimeout(dialTimer);
        if (err) reject(err);
        else resolve(value!);
      };
      const req = (this.tlsOn ? https : http).request({
        host: host.host,
        port: host.port,
        method: 'POST',
        path,
        agent: this.agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      });
      const abort = (failure: GatewayFailure) => {
        finish(failure);
        req.destroy();
      };
      const requestTimer = setTimeout(
        () => abort(new GatewayFailure(host.label, 'timeout', `no answer within ${requestTimeoutMs} ms`, false)),
        requestTimeoutMs,
      );
      req.once('socket', (socket) => {
        if (!socket.connecting) return;
        dialTimer = setTimeout(
          () => abort(new GatewayFailure(host.label, 'timeout', `TCP connect gave no answer within ${dialTimeoutMs} ms`, true, true)),
          dialTimeoutMs,
        );
        socket.once('connect', () => clearTimeout(dialTimer));
      });
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (settled) return;
        const stale = req.reusedSocket && (e.code === 'ECONNRESET' || e.code === 'EPIPE');
        if (stale && retryStale) {
          settled = true;
          clearTimeout(requestTimer);
          clearTimeout(dialTimer);
          this.attempt(host, path, payload, false).then(resolve, reject);
          return;
        }
        finish(classifyNodeError(e, host, { tls: this.tlsOn, clientCert: this.clientCert, reused: req.reusedSocket }));
      });
      req.once('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e: NodeJS.ErrnoException) => finish(classifyNodeError(e, host, { tls: this.tlsOn, clientCert: this.clientCert, reused: true })));
        res.once('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) {
            finish(classifyHttpError(host, path, res.statusCode ?? 0, String(res.headers['content-type'] ?? ''), text));
            return;
          }
          try {
            const json = JSON.parse(text) as unknown;
            if (json === null || typeof json !== 'object') throw new TypeError('not an object');
            finish(undefined, json as Json);
          } catch {
            // The body holds key records: never quote it.
            finish(new GatewayFailure(host.label, 'unavailable', `etcd's JSON gateway answered ${path} with something that is not a JSON object`, true));
          }
        });
      });
      req.end(payload);
    });
  }
}
