/**
 * The WSAPI session and its HTTP calls; the endpoint classes build on it.
 *
 * Session. One per client, reused by every call (upstream logged in and out around each step). The login is
 * lazy (`POST /credentials`) and shared: concurrent calls wait for the same login. A call answered 403 with code
 * 6 (INV_SESS_KEY: the key expired or the array restarted) logs in again (once, shared with any other call that
 * hit the same stale key) and is sent again ONCE. Other 403s (13 PERM_DENIED, ...) go straight to the caller:
 * upstream re-logged in and retried on every 401/403, which only doubled the failing calls.
 *
 * Retries. Each call has its own attempt counter (upstream kept one on the instance and never reset it).
 * Retried, with capped exponential backoff (base·2^n, at most maxDelayMs) on the injected clock:
 *  - HTTP 503, for every method: the array refused the request without processing it;
 *  - a connection that could not be opened (ECONNREFUSED, EHOSTUNREACH, ...), for every method: nothing was sent;
 *  - a connection dropped after the request went out (ECONNRESET, EPIPE, socket hang up), for GET and DELETE
 *    only. A POST or PUT may then have been applied (a create, a grow by an increment, an RCG action), so it is
 *    not sent again: the caller gets a WsapiConnectionError with `outcomeUnknown` and decides (e.g. GET the
 *    object). A DELETE sent twice at worst answers 404 the second time, which callers already tolerate.
 * A timeout (no complete answer within timeoutMs) is not retried inside the call: waiting timeoutMs again
 * five times would stall the caller for minutes.
 *
 * TLS. With `caCert` (PEM) the array's certificate is verified against it (and against the URL's host name or
 * IP). Without it nothing is verified, as upstream did by default; `verifiesTls` tells callers, so a check can
 * warn about it.
 */
import http from 'node:http';
import https from 'node:https';
import { retry, systemClock, type Clock } from '../clock.js';
import { HpeError } from '../errors.js';
import { HttpFailure, sendOnce, type HttpAnswer } from '../http/index.js';
import { WsapiCodes, WsapiConnectionError, WsapiError, connectionFailureReason } from './wsapi-errors.js';
import { maskSecrets } from '../mask.js';
import { SessionKeyHeader, wsapiFeatures, type WsapiFeatures, type WsapiVersion } from './wsapi-types.js';

export interface RetryPolicy {
  /** Tries per call, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { attempts: 5, baseDelayMs: 1000, maxDelayMs: 15000 };
export const defaultTimeoutMs = 30_000;

export interface WsapiClientOptions {
  /** `https://10.0.0.5:8080/api/v1` (or `http://...:8008/api/v1` where HTTP is enabled on the array). */
  apiUrl: string;
  username: string;
  password: string;
  /** PEM text of the CA (or the array's own certificate) to verify against. Without it TLS is not verified. */
  caCert?: string;
  /** Bound on each HTTP exchange, connect and TLS handshake included. Default 30 s. */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** How the client waits between retries and task polls. Default: the system clock. */
  clock?: Clock;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface WsapiResponse<T> {
  status: number;
  headers: HttpAnswer['headers'];
  body: T;
}

/**
 * What one call says about the array's health: `ok` whenever the array answered in a session (an HTTP error
 * status included: the array is there); `failure` for a transport error or a refused login.
 */
export type WsapiOutcome = { ok: true } | { ok: false; error: WsapiConnectionError | WsapiError };

const idleSocketMs = 4000;

/** A 503 answer inside the retry loop: retried, and returned as is once the tries run out. */
class ArrayBusy extends Error {
  constructor(readonly answer: HttpAnswer) {
    super('HTTP 503');
  }
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The WSAPI code of an error body; numeric strings too (some front ends send them). */
function codeOf(body: unknown): number | undefined {
  if (!isRecord(body)) return undefined;
  const c = body['code'];
  if (typeof c === 'number') return c;
  if (typeof c === 'string' && /^\d+$/.test(c)) return Number(c);
  return undefined;
}

/** A path with every interpolated value URI-encoded: wsapiPath`/volumes/${name}`. */
export function wsapiPath(strings: TemplateStringsArray, ...values: (string | number)[]): string {
  return strings.reduce((out, s, i) => out + s + (i < values.length ? encodeURIComponent(String(values[i])) : ''), '');
}

/** `?query="<expr>"`, encoded. */
export function queryString(expr: string): string {
  return `?query=${encodeURIComponent(`"${expr}"`)}`;
}

export class WsapiSession {
  /** The API URL as given, e.g. `https://10.0.0.5:8080/api/v1`. */
  readonly apiUrl: string;
  /** `host:port`, the name errors use for this array. */
  readonly array: string;
  /** False when the array's certificate is not checked (no caCert, or plain http). */
  readonly verifiesTls: boolean;
  readonly username: string;
  protected readonly clock: Clock;

  #password: string;
  /** The value a rotation is trying, masked like the current one until the rotation ends. */
  #nextPassword: string | undefined;
  readonly #apiRoot: string;
  readonly #timeoutMs: number;
  readonly #retry: RetryPolicy;
  readonly #agent: http.Agent;
  #sessionKey: string | undefined;
  #login: Promise<string> | undefined;
  #version: WsapiVersion | undefined;
  /** Set by close(): a call cut off by it is not retried (it would re-send on a fresh socket and wait again). */
  #closed = false;
  readonly #observers: ((outcome: WsapiOutcome) => void)[] = [];

  constructor(options: WsapiClientOptions) {
    let url: URL;
    try {
      url = new URL(options.apiUrl);
    } catch {
      throw new HpeError(`"${options.apiUrl}" is not a URL`, 'write the WSAPI URL as https://<array>:8080/api/v1');
    }
    if ((url.protocol !== 'https:' && url.protocol !== 'http:') || !/\/api\/v\d+\/?$/.test(url.pathname)) {
      throw new HpeError(`"${options.apiUrl}" is not a WSAPI URL`, 'write the WSAPI URL as https://<array>:8080/api/v1');
    }
    url.username = '';
    url.password = '';
    url.search = '';
    url.hash = '';
    this.apiUrl = url.toString().replace(/\/$/, '');
    this.array = url.host;
    this.#apiRoot = this.apiUrl.replace(/\/api\/v\d+$/, '/api');
    this.username = options.username;
    this.#password = options.password;
    this.#timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
    this.#retry = { ...defaultRetryPolicy, ...options.retry };
    this.clock = options.clock ?? systemClock;
    const overHttps = url.protocol === 'https:';
    this.verifiesTls = overHttps && options.caCert !== undefined;
    // A kept-alive connection idle for 4 s is closed by us rather than reused: servers close idle connections
    // (Node's after 5 s), and a request written onto one the server just closed fails with a reset that a POST
    // cannot safely be retried after. Node only honours the server's Keep-Alive hint when a timeout is set.
    const agentOptions = { keepAlive: true, timeout: idleSocketMs };
    this.#agent = overHttps
      ? new https.Agent({ ...agentOptions, ca: options.caCert, rejectUnauthorized: options.caCert !== undefined })
      : new http.Agent(agentOptions);
  }

  /** Calls `observer` with the outcome of every later call (not of logout or close). */
  onOutcome(observer: (outcome: WsapiOutcome) => void): void {
    this.#observers.push(observer);
  }

  /** Runs a call and tells the observers how the array answered; a call cut off by close() tells nothing. */
  async #observed<T>(call: () => Promise<T>): Promise<T> {
    try {
      const result = await call();
      this.#report({ ok: true });
      return result;
    } catch (err) {
      if (err instanceof WsapiConnectionError || (err instanceof WsapiError && err.call.startsWith('POST /credentials'))) {
        this.#report({ ok: false, error: err });
      } else if (err instanceof WsapiError) {
        this.#report({ ok: true });
      }
      throw err;
    }
  }

  #report(outcome: WsapiOutcome): void {
    if (this.#closed) return;
    for (const observer of this.#observers) observer(outcome);
  }

  // ----- transport ------------------------------------------------------------------------------------------

  #secrets(): (string | undefined)[] {
    return [this.#password, this.#nextPassword, this.#sessionKey];
  }

  #mayRetry(method: HttpMethod, f: HttpFailure): boolean {
    if (this.#closed) return false;
    const reason = connectionFailureReason(f.kind);
    if (reason === 'refused') return true;
    if (reason === 'reset') return !f.reached || method === 'GET' || method === 'DELETE';
    return false;
  }

  /** One call's HTTP exchange with its own retries (503, refused connections, dropped idempotent calls). */
  async #exchange(
    method: HttpMethod,
    url: URL,
    payload: string | undefined,
    key: string | undefined,
    call: string,
    attempts = this.#retry.attempts,
  ): Promise<HttpAnswer> {
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': 'hpedockerplugin' };
    if (payload !== undefined) headers['Content-Type'] = 'application/json';
    if (key !== undefined) headers[SessionKeyHeader] = key;
    const attempt = async (): Promise<HttpAnswer> => {
      const answer = await sendOnce({ url, method, headers, body: payload, agent: this.#agent, timeoutMs: this.#timeoutMs });
      if (answer.status === 503 && !this.#closed) throw new ArrayBusy(answer);
      return answer;
    };
    try {
      return await retry(attempt, {
        attempts,
        delay: { initialMs: this.#retry.baseDelayMs, maxMs: this.#retry.maxDelayMs },
        clock: this.clock,
        retryable: (err) => err instanceof ArrayBusy || (err instanceof HttpFailure && this.#mayRetry(method, err)),
      });
    } catch (err) {
      if (err instanceof ArrayBusy) return err.answer;
      if (!(err instanceof HttpFailure)) throw err;
      const reason = connectionFailureReason(err.kind);
      const detail = err.kind === 'answerTimeout' ? `no complete answer within ${this.#timeoutMs} ms` : err.detail;
      throw new WsapiConnectionError({
        url: this.apiUrl,
        call,
        reason,
        detail: maskSecrets(detail, this.#secrets()),
        outcomeUnknown: err.reached && (method === 'POST' || method === 'PUT') && reason !== 'tls',
        cause: err.cause,
      });
    }
  }

  #error(res: HttpAnswer, call: string): WsapiError {
    const body = parseJson(res.text);
    let desc: string | undefined;
    let ref: string | undefined;
    let debug1: string | undefined;
    let debug2: string | undefined;
    if (isRecord(body)) {
      const d = body['desc'] ?? body['message'];
      if (typeof d === 'string') desc = d;
      if (typeof body['ref'] === 'string') ref = body['ref'];
      if (typeof body['debug1'] === 'string') debug1 = body['debug1'];
      if (typeof body['debug2'] === 'string') debug2 = body['debug2'];
    } else if (typeof body === 'string') {
      desc = body.trim().slice(0, 200);
    }
    return new WsapiError({
      array: this.array,
      call,
      status: res.status,
      code: codeOf(body),
      desc: desc === undefined ? undefined : maskSecrets(desc, this.#secrets()),
      ref: ref === undefined ? undefined : maskSecrets(ref, this.#secrets()),
      debug1: debug1 === undefined ? undefined : maskSecrets(debug1, this.#secrets()),
      debug2: debug2 === undefined ? undefined : maskSecrets(debug2, this.#secrets()),
    });
  }

  /** The array's answer to `call` is not what the WSAPI documents. */
  protected protocolError(call: string, detail: string, outcomeUnknown: boolean): WsapiConnectionError {
    return new WsapiConnectionError({ url: this.apiUrl, call, reason: 'protocol', detail, outcomeUnknown });
  }

  // ----- session --------------------------------------------------------------------------------------------

  /** `POST /credentials` with `password`; the new session key (not yet in use). */
  async #newSession(password: string): Promise<string> {
    const call = `POST /credentials (login as "${this.username}")`;
    const payload = JSON.stringify({ user: this.username, password });
    const res = await this.#exchange('POST', new URL(`${this.apiUrl}/credentials`), payload, undefined, call);
    if (res.status >= 400) throw this.#error(res, call);
    const body = parseJson(res.text);
    const key = isRecord(body) ? body['key'] : undefined;
    if (typeof key !== 'string' || key === '') throw this.protocolError(call, 'the login answer has no session key', false);
    return key;
  }

  async #doLogin(): Promise<string> {
    const password = this.#password;
    const key = await this.#newSession(password);
    const rotated = this.#sessionKey;
    if (this.#password !== password && rotated !== undefined) {
      // A rotation finished while this login with the previous password ran: its session stays, this one ends.
      await this.#endSession(key, 1).catch(() => undefined);
      return rotated;
    }
    this.#sessionKey = key;
    return key;
  }

  async #session(): Promise<string> {
    if (this.#sessionKey !== undefined) return this.#sessionKey;
    this.#login ??= this.#doLogin().finally(() => {
      this.#login = undefined;
    });
    return this.#login;
  }

  /** Forget `key` unless another call already replaced it. */
  #dropSession(key: string): void {
    if (this.#sessionKey === key) this.#sessionKey = undefined;
  }

  /**
   * Changes the password this session logs in with, for a password rotated while the plugin runs. The new value
   * logs in on a login of its own while calls keep using the current session; once the array accepts it, calls
   * move to the new session and the old one is logged out. When the array refuses it (WsapiError, e.g. code 5) or
   * cannot be reached (WsapiConnectionError), the current session and password stay as they were and the error
   * is thrown. A refusal here is not reported to the outcome observers: the array still serves the old session.
   */
  async rotateCredentials(password: string): Promise<void> {
    this.#nextPassword = password;
    try {
      const key = await this.#newSession(password);
      const old = this.#sessionKey;
      this.#password = password;
      this.#sessionKey = key;
      if (old !== undefined) await this.#endSession(old, 1).catch(() => undefined); // an unused key expires anyway
    } finally {
      this.#nextPassword = undefined;
    }
  }

  /** Ends the session on the array (`DELETE /credentials/<key>`). An already expired key is not an error. */
  logout(): Promise<void> {
    return this.#logout(this.#retry.attempts);
  }

  async #logout(attempts: number): Promise<void> {
    const key = this.#sessionKey;
    if (key === undefined) return;
    this.#sessionKey = undefined;
    await this.#endSession(key, attempts);
  }

  async #endSession(key: string, attempts: number): Promise<void> {
    const call = 'DELETE /credentials/<session key>';
    const res = await this.#exchange('DELETE', new URL(`${this.apiUrl}${wsapiPath`/credentials/${key}`}`), undefined, key, call, attempts);
    if (res.status >= 400 && res.status !== 403 && res.status !== 404) throw this.#error(res, call);
  }

  /** Logs out with one attempt (errors ignored: an unused key expires on the array) and closes the connections. */
  async close(): Promise<void> {
    try {
      await this.#logout(1);
    } catch {
      // the session expires on the array anyway
    }
    this.#closed = true;
    this.#agent.destroy();
  }

  // ----- calls ----------------------------------------------------------------------------------------------

  /**
   * Any authenticated WSAPI call: `path` is relative to the API URL (`/volumes/v1`, query included). Throws
   * WsapiError on an HTTP error status. The typed endpoint methods are built on it.
   */
  request<T = unknown>(method: HttpMethod, path: string, body?: unknown): Promise<WsapiResponse<T>> {
    return this.#observed(() => this.#request<T>(method, path, body));
  }

  async #request<T>(method: HttpMethod, path: string, body: unknown): Promise<WsapiResponse<T>> {
    const call = `${method} ${decodeURIComponent(path)}`;
    const url = new URL(`${this.apiUrl}${path}`);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    let key = await this.#session();
    let res = await this.#exchange(method, url, payload, key, call);
    if (res.status === 403 && codeOf(parseJson(res.text)) === WsapiCodes.INV_SESS_KEY) {
      this.#dropSession(key);
      key = await this.#session();
      res = await this.#exchange(method, url, payload, key, call);
    }
    if (res.status >= 400) throw this.#error(res, call);
    return { status: res.status, headers: res.headers, body: parseJson(res.text) as T };
  }

  /** GET of one object. */
  protected async getObject<T>(path: string): Promise<T> {
    const res = await this.request<T>('GET', path);
    if (!isRecord(res.body)) throw this.protocolError(`GET ${path}`, 'the answer is not a JSON object', false);
    return res.body;
  }

  /** GET of a collection: its `members`. */
  protected async getMembers<T>(path: string): Promise<T[]> {
    const body = await this.getObject<{ members?: T[] }>(path);
    return body.members ?? [];
  }

  /** `GET /api` (no session): the WSAPI version and build. Cached for the feature gates. */
  getApiVersion(): Promise<WsapiVersion> {
    return this.#observed(async () => {
      const call = 'GET /api';
      const res = await this.#exchange('GET', new URL(this.#apiRoot), undefined, undefined, call);
      if (res.status >= 400) throw this.#error(res, call);
      const body = parseJson(res.text);
      if (!isRecord(body) || typeof body['build'] !== 'number') throw this.protocolError(call, 'the answer has no WSAPI build number', false);
      this.#version = body as unknown as WsapiVersion;
      return this.#version;
    });
  }

  async features(): Promise<WsapiFeatures> {
    return wsapiFeatures((this.#version ?? (await this.getApiVersion())).build);
  }
}
