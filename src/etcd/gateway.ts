/**
 * etcd's v3 JSON gateway (grpc-gateway, served by etcd ≥ 3.3 on the client port under `/v3/`) over HTTP/1.1:
 * the read-only transport of `EtcdClient`, with the same bounds and failover rules as the gRPC path (README.md).
 * `GatewayUnusable` means "this cluster needs gRPC" and makes the client fall back.
 */
import http from 'node:http';
import https from 'node:https';
import { systemClock, type Clock } from '../clock.js';
import type { EtcdFailureReason } from '../errors.js';
import { HttpFailure, sendOnce, type HttpAnswer } from '../http/index.js';
import { SILENT_HOST_SKIP_MS } from './endpoints.js';
import { HostFailure, TlsDetail, gatewayFailure } from './errors.js';

interface GatewayHost {
  /** `host:port` (what errors name). */
  label: string;
  host: string;
  port: number;
}

interface GatewayOptions {
  hosts: GatewayHost[];
  /** All hosts as one label (what a failure of every host names). */
  endpoint: string;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  dialTimeoutMs: number;
  requestTimeoutMs: number;
  clock?: Clock;
}

/** The gateway cannot serve this cluster at all (turned off, or etcd auth by certificate CN): use gRPC instead. */
export class GatewayUnusable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GatewayUnusable';
  }
}

interface GatewayKv {
  key: Buffer;
  value: Buffer;
  modRevision: string;
}

export interface GatewayStatus {
  version: string;
  leader: boolean;
}

interface HostState extends GatewayHost {
  /** The last dial timeout and when it happened, for the silent-host skip. */
  silent?: { failure: HostFailure; at: number } | undefined;
}

/** The options etcd returns 404 for when the gateway is off (`--enable-grpc-gateway=false`) or speaks another API prefix. */
const Paths = { range: '/v3/kv/range', status: '/v3/maintenance/status' } as const;

/** gRPC status codes that etcd's gateway puts in `code`. */
const GrpcCode = { invalidArgument: 3, deadlineExceeded: 4, permissionDenied: 7, unavailable: 14, unauthenticated: 16 } as const;

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

/** A non-200 answer → the failure, or `GatewayUnusable` when only gRPC can serve this cluster. */
function classifyHttpError(host: HostState, path: string, status: number, contentType: string, text: string): HostFailure | GatewayUnusable {
  const fail = (reason: EtcdFailureReason, detail: string, failover = false) => new HostFailure(host.label, reason, detail, failover);
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
  private readonly scheme: 'http' | 'https';
  private readonly clientCert: boolean;
  private readonly clock: Clock;
  /** The host that answered last: tried first next time. */
  private preferred = 0;
  private closed = false;

  constructor(private readonly opts: GatewayOptions) {
    this.hosts = opts.hosts.map((h) => ({ ...h }));
    this.scheme = opts.tls === undefined ? 'http' : 'https';
    this.clientCert = opts.tls?.cert !== undefined;
    this.clock = opts.clock ?? systemClock;
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
    if (this.closed) throw new HostFailure(this.opts.endpoint, 'unavailable', 'the etcd client was already closed', false);
    const payload = JSON.stringify(body);
    const n = this.hosts.length;
    const failures: HostFailure[] = [];
    for (let i = 0; i < n; i++) {
      const index = (this.preferred + i) % n;
      const host = this.hosts[index]!;
      if (host.silent && this.clock.now() - host.silent.at < SILENT_HOST_SKIP_MS) {
        failures.push(host.silent.failure);
        continue;
      }
      try {
        const res = await this.attempt(host, path, payload);
        host.silent = undefined;
        this.preferred = index;
        return res;
      } catch (e) {
        if (!(e instanceof HostFailure)) throw e;
        if (e.dial && e.reason === 'timeout') host.silent = { failure: e, at: this.clock.now() };
        failures.push(e);
        if (!e.failover) throw e;
      }
    }
    const last = failures[failures.length - 1]!;
    if (n === 1 || !last.dial) throw last;
    const detail = failures.map((f) => `${f.host}: ${f.message}`).join('; ');
    throw new HostFailure(this.opts.endpoint, last.reason, `no member reachable (${detail})`, false, true);
  }

  /** One request to one host: the parsed JSON answer, or a `HostFailure` / `GatewayUnusable`. */
  private async attempt(host: HostState, path: string, payload: string): Promise<Json> {
    let answer: HttpAnswer;
    try {
      answer = await this.send(host, path, payload);
    } catch (e) {
      if (!(e instanceof HttpFailure)) throw e;
      throw gatewayFailure(e, host, { tls: this.scheme === 'https', clientCert: this.clientCert });
    }
    if (answer.status !== 200) throw classifyHttpError(host, path, answer.status, String(answer.headers['content-type'] ?? ''), answer.text);
    try {
      const json = JSON.parse(answer.text) as unknown;
      if (json === null || typeof json !== 'object') throw new TypeError('not an object');
      return json as Json;
    } catch {
      // The body holds key records: never quote it.
      throw new HostFailure(host.label, 'unavailable', `etcd's JSON gateway answered ${path} with something that is not a JSON object`, true);
    }
  }

  /** A request on a kept-alive connection that etcd had closed meanwhile is sent again once. */
  private async send(host: HostState, path: string, payload: string): Promise<HttpAnswer> {
    const request = {
      url: new URL(`${this.scheme}://${host.label}${path}`),
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: payload,
      agent: this.agent,
      timeoutMs: this.opts.requestTimeoutMs,
      dialTimeoutMs: this.opts.dialTimeoutMs,
    };
    try {
      return await sendOnce(request);
    } catch (e) {
      if (e instanceof HttpFailure && e.kind === 'reset' && e.reusedSocket && !e.answered) return sendOnce(request);
      throw e;
    }
  }
}
