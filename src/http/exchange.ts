/**
 * One HTTP/1.1 exchange over node:http / node:https: send once, bounded in time, collect the whole body, and on
 * failure say what failed and whether the request reached the server. No retries: callers decide (a write whose
 * request reached the server may have been applied).
 *
 * The time-outs bound real I/O and use real timers; waiting between exchanges is the callers' and goes through
 * their Clock.
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { TLSSocket } from 'node:tls';
import { classifyTransportFailure, type TransportFailureKind } from './failures.js';

interface HttpRequest {
  url: URL;
  method: string;
  headers: Record<string, string>;
  /** Sent with its Content-Length. */
  body?: string | undefined;
  agent: http.Agent;
  /** Bound on the whole exchange, connect and TLS handshake included. */
  timeoutMs: number;
  /** Bound on the TCP connect of a new connection. */
  dialTimeoutMs?: number | undefined;
}

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

export type HttpFailureKind =
  | TransportFailureKind
  /** `dialTimeoutMs` ran out before the TCP connection was open. */
  | 'dialTimeout'
  /** `timeoutMs` ran out before the whole answer arrived. */
  | 'answerTimeout';

/** One failed exchange. Its message is the OS or TLS reason (or which bound ran out). */
export class HttpFailure extends Error {
  constructor(
    readonly kind: HttpFailureKind,
    message: string,
    /** The Node error code, '' when none. */
    readonly code: string,
    /** The connection was established (TLS included), so the request may have reached the server. */
    readonly reached: boolean,
    /** The request went out on a kept-alive connection, which the server may have closed meanwhile. */
    readonly reusedSocket: boolean,
    /** The answer's status line had arrived; its body had not. */
    readonly answered: boolean,
    cause?: unknown,
  ) {
    super(message, { cause });
    this.name = 'HttpFailure';
  }

  /** The message with its code, e.g. `connect ECONNREFUSED 10.0.0.5:8080` or `socket hang up (ECONNRESET)`. */
  get detail(): string {
    return this.code !== '' && !this.message.includes(this.code) ? `${this.message} (${this.code})` : this.message;
  }
}

/** Sends `request` once; resolves with any HTTP status, rejects with an `HttpFailure` when no whole answer came. */
export function sendOnce(request: HttpRequest): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...request.headers };
    if (request.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(request.body));
    const transport = request.url.protocol === 'https:' ? https : http;
    let reached = false;
    let answered = false;
    let settled = false;
    let dialTimer: NodeJS.Timeout | undefined;
    const req = transport.request(request.url, { method: request.method, headers, agent: request.agent });
    const failure = (kind: HttpFailureKind, message: string, code = '', cause?: unknown): HttpFailure =>
      new HttpFailure(kind, message, code, reached, req.reusedSocket, answered, cause);
    const finish = (err: HttpFailure | undefined, answer?: HttpAnswer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(answerTimer);
      clearTimeout(dialTimer);
      if (answer !== undefined) resolve(answer);
      else reject(err);
    };
    const fail = (err: unknown): void => {
      const e = err as NodeJS.ErrnoException;
      const code = typeof e?.code === 'string' ? e.code : '';
      const message = e instanceof Error ? e.message : String(err);
      finish(failure(classifyTransportFailure(code, message), message, code, err));
    };
    const abort = (f: HttpFailure): void => {
      finish(f);
      req.destroy();
    };
    const answerTimer = setTimeout(() => abort(failure('answerTimeout', `no answer within ${request.timeoutMs} ms`)), request.timeoutMs);
    req.once('socket', (socket) => {
      if (!socket.connecting) {
        reached = true;
        return;
      }
      const { dialTimeoutMs } = request;
      if (dialTimeoutMs !== undefined) {
        dialTimer = setTimeout(() => abort(failure('dialTimeout', `TCP connect gave no answer within ${dialTimeoutMs} ms`)), dialTimeoutMs);
        socket.once('connect', () => clearTimeout(dialTimer));
      }
      socket.once(socket instanceof TLSSocket ? 'secureConnect' : 'connect', () => {
        reached = true;
      });
    });
    req.once('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => finish(undefined, { status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', fail);
      res.once('aborted', () => fail(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })));
    });
    req.on('error', fail);
    req.end(request.body);
  });
}
