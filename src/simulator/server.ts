/**
 * The HTTP side: request log and injected failures (test hooks), body parsing, login/logout, the session
 * check (403 code 6 for a missing, unknown or expired key), routing, and answers as the array gives them:
 * JSON `{code, desc[, ref]}` on every error, a Location header on creates.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { SessionKeyHeader, WsapiCodes } from '../array/index.js';
import type { SimContext } from './context.js';
import { SimError, badRequest, forbidden, notFound } from './errors.js';
import type { RequestLogEntry } from './options.js';
import type { Router, SimResponse } from './router.js';
import type { Sessions } from './sessions.js';
import { apiVersion } from './system.js';
import { allowOnly, requireBody, requireString } from './validate.js';

export interface Injection {
  method: string;
  pathRegex: RegExp;
  status: number | 'drop';
  body?: unknown;
}

export interface ServerParts {
  ctx: SimContext;
  router: Router;
  sessions: Sessions;
  injections: Injection[];
  requestLog: RequestLogEntry[];
}

const maxBodyBytes = 1024 * 1024;
const apiPrefix = '/api/v1/';

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBodyBytes) reject(badRequest(WsapiCodes.INV_INPUT, 'invalid input: the body is too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseBody(raw: string): unknown {
  if (raw.trim() === '') return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw badRequest(WsapiCodes.INV_INPUT, 'invalid input: the body is not valid JSON');
  }
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw badRequest(WsapiCodes.INV_INPUT, 'invalid input: malformed URL encoding');
  }
}

function sessionKeyOf(headers: IncomingHttpHeaders): string | undefined {
  const v = headers[SessionKeyHeader.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

function credentials(p: ServerParts, method: string, segments: string[], body: unknown): SimResponse {
  if (method === 'POST' && segments.length === 1) {
    const b = requireBody(body);
    allowOnly(b, ['user', 'password', 'sessionType']);
    const user = requireString(b, 'user', 255);
    const password = requireString(b, 'password', 255);
    const users = p.ctx.options.users;
    if (!Object.hasOwn(users, user) || users[user] !== password) throw forbidden(WsapiCodes.INV_USER_PASS, 'invalid username or password');
    const key = p.sessions.create(user);
    return { status: 201, body: { key }, location: `/api/v1/credentials/${key}` };
  }
  if (method === 'DELETE' && segments.length === 2) {
    if (!p.sessions.remove(segments[1]!)) throw forbidden(WsapiCodes.INV_SESS_KEY, 'invalid session key');
    return { status: 200 };
  }
  throw notFound(WsapiCodes.URI_RES_NOT_FOUND, 'no such credentials resource');
}

async function route(p: ServerParts, method: string, url: URL, raw: string, headers: IncomingHttpHeaders): Promise<SimResponse> {
  const path = url.pathname;
  if (path === '/api' || path === '/api/') {
    if (method !== 'GET') throw new SimError(405, WsapiCodes.INV_INPUT, `method ${method} not allowed on /api`);
    return { status: 200, body: apiVersion(p.ctx.options.wsapiBuild) };
  }
  if (!path.startsWith(apiPrefix)) throw notFound(WsapiCodes.URI_RES_NOT_FOUND, `no resource at ${path}`);
  const segments = path.slice(apiPrefix.length).split('/').filter((s) => s !== '').map(decodeSegment);
  const body = parseBody(raw);
  if (segments[0] === 'credentials') return credentials(p, method, segments, body);
  const user = p.sessions.use(sessionKeyOf(headers));
  if (user === undefined) throw forbidden(WsapiCodes.INV_SESS_KEY, 'invalid or expired session key');
  const match = p.router.match(method, segments);
  if (match === undefined) throw notFound(WsapiCodes.URI_RES_NOT_FOUND, `no resource at ${path}`);
  if (match === 'wrong-method') throw new SimError(405, WsapiCodes.INV_INPUT, `method ${method} not allowed on ${path}`);
  return match.handler({ method, params: match.params, query: url.searchParams, body, user });
}

function errorResponse(err: unknown): SimResponse {
  if (err instanceof SimError) {
    return { status: err.status, body: { code: err.code, desc: err.desc, ...(err.ref === undefined ? {} : { ref: err.ref }) } };
  }
  return { status: 500, body: { code: WsapiCodes.INT_SERV_ERR, desc: `internal error of the simulator: ${(err as Error).message}` } };
}

function send(res: ServerResponse, out: SimResponse): void {
  const payload = out.body === undefined ? '' : JSON.stringify(out.body);
  const headers: Record<string, string> = { 'Content-Length': String(Buffer.byteLength(payload)) };
  if (out.body !== undefined) headers['Content-Type'] = 'application/json';
  if (out.location !== undefined) headers['Location'] = out.location;
  res.writeHead(out.status, headers);
  res.end(payload);
}

function takeInjection(list: Injection[], method: string, path: string): Injection | undefined {
  const i = list.findIndex((inj) => inj.method === method && inj.pathRegex.test(path));
  return i < 0 ? undefined : list.splice(i, 1)[0];
}

async function handle(p: ServerParts, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = (req.method ?? 'GET').toUpperCase();
  const url = new URL(req.url ?? '/', 'http://simulator');
  const entry: RequestLogEntry = { method, path: url.pathname.replace(/^(\/api\/v1\/credentials\/).+$/, '$1<key>'), status: 0 };
  const query = url.searchParams.get('query');
  if (query !== null) entry.query = query;
  p.requestLog.push(entry);
  const injected = takeInjection(p.injections, method, url.pathname);
  if (injected !== undefined) {
    if (injected.status === 'drop') {
      req.socket.destroy();
      return;
    }
    entry.status = injected.status;
    send(res, { status: injected.status, body: injected.body ?? { code: WsapiCodes.INT_SERV_ERR, desc: `HTTP ${injected.status} injected by a test hook of the simulator` } });
    return;
  }
  let out: SimResponse;
  try {
    out = await route(p, method, url, await readBody(req), req.headers);
  } catch (err) {
    out = errorResponse(err);
  }
  if (method !== 'GET') {
    try {
      p.ctx.save();
    } catch (err) {
      out = errorResponse(err);
    }
  }
  entry.status = out.status;
  send(res, out);
}

export function requestListener(p: ServerParts): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    void handle(p, req, res);
  };
}
