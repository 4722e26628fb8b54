import express, { type NextFunction, type Request, type Response } from 'express';
import { EtcdError, HpeError } from '../errors.js';
import type { Logger } from '../log.js';
import { bodyProblem } from './body-errors.js';
import type { VolumeDriver, VolumeSummary } from './driver.js';

/** The protocol's media type; dockerd accepts plain JSON too, but we answer as the protocol says. */
const contentType = 'application/vnd.docker.plugins.v1.2+json; charset=utf-8';

class RequestError extends Error {}

/** Written with node's own response API: express's send would parse the type, and look for an ETag and freshness. */
function sendJson(res: Response, status: number, json: string): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(json) }).end(json);
}

function send(res: Response, status: number, body: Record<string, unknown>): void {
  sendJson(res, status, JSON.stringify(body));
}

/**
 * The route table's key of a request path: routes match as express's would (case-insensitive, one trailing
 * slash allowed).
 */
function routeKey(path: string): string {
  return (path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path).toLowerCase();
}

function nameOf(req: Request): string {
  const body = req.body as Record<string, unknown> | undefined;
  const name = body?.Name;
  if (typeof name !== 'string' || name === '') throw new RequestError('the request has no "Name": send a JSON body like {"Name": "vol1"}');
  return name;
}

function optsOf(req: Request): Record<string, string> | undefined {
  const opts = (req.body as Record<string, unknown>).Opts;
  if (opts === undefined || opts === null) return undefined;
  if (typeof opts !== 'object' || Array.isArray(opts)) throw new RequestError('"Opts" must be an object of option names to strings');
  return Object.fromEntries(Object.entries(opts as Record<string, unknown>).map(([k, v]) => [k, typeof v === 'string' ? v : String(v)]));
}

/** Docker's caller id of a Mount / Unmount: one per container mount. */
function idOf(req: Request): string {
  const id = (req.body as Record<string, unknown>).ID;
  if (typeof id !== 'string' || id === '') throw new RequestError('the request has no "ID": send a JSON body like {"Name": "vol1", "ID": "<caller id>"}');
  return id;
}

/** Whether etcd's failure is behind `err` (it or a cause of it). */
function causedByEtcd(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) if (e instanceof EtcdError) return true;
  return false;
}

/** The Err text: the message, and for an etcd failure also its fix and the command that shows etcd's state. */
function errText(err: HpeError): string {
  if (!causedByEtcd(err)) return err.message;
  return `${err.message}. Fix: ${err.fix}; \`hpedockerplugin check\` on this host shows etcd's state`;
}

/**
 * Express app for the VolumeDriver protocol. Bodies are parsed whatever the Content-Type (dockerd sends none;
 * Plugin.Activate has no body), and every answer is JSON with `Err` — never an HTML page or an empty body.
 */
export function createVolumeDriverApp(driver: VolumeDriver, logger: Logger): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // dockerd sends no If-None-Match; an ETag would only hash every answer (a List of 10,000 is ~1 MB).
  app.disable('etag');
  app.use(express.json({ type: () => true, strict: false, limit: '1mb' }));

  // One route table, looked up once per request, instead of one router layer per endpoint.
  const routes = new Map<string, (req: Request, res: Response, next: NextFunction) => void>();
  const route = (path: string, handler: (req: Request) => Promise<Record<string, unknown>>) => {
    routes.set(routeKey(path), (req, res, next) => {
      const started = process.hrtime.bigint();
      handler(req).then(
        (body) => {
          if (logger.isLevelEnabled('debug')) logger.debug({ call: path, ms: Number(process.hrtime.bigint() - started) / 1e6, err: body.Err || undefined }, 'request');
          send(res, 200, body);
        },
        next,
      );
    });
  };
  app.use((req, res, next) => {
    const handle = req.method === 'POST' ? routes.get(routeKey(req.path)) : undefined;
    if (handle === undefined) return next();
    handle(req, res, next);
  });

  route('/Plugin.Activate', async () => ({ Implements: ['VolumeDriver'] }));
  route('/VolumeDriver.Capabilities', async () => ({ Capabilities: { Scope: 'global' } }));
  route('/VolumeDriver.Create', async (req) => {
    await driver.create(nameOf(req), optsOf(req));
    return { Err: '' };
  });
  route('/VolumeDriver.Remove', async (req) => {
    await driver.remove(nameOf(req));
    return { Err: '' };
  });
  route('/VolumeDriver.Get', async (req) => {
    const name = nameOf(req);
    const volume = await driver.get(name);
    if (volume === undefined) return { Err: `volume ${name} does not exist` };
    return { Err: '', Volume: volume };
  });
  // The driver answers the same array while nothing changed: its JSON is made once per change, not per List.
  let listed: { volumes: readonly VolumeSummary[]; json: string } | undefined;
  routes.set(routeKey('/VolumeDriver.List'), (_req, res, next) => {
    driver.list().then((volumes) => {
      if (listed?.volumes !== volumes) listed = { volumes, json: JSON.stringify({ Err: '', Volumes: volumes }) };
      sendJson(res, 200, listed.json);
    }, next);
  });
  route('/VolumeDriver.Path', async (req) => ({ Err: '', Mountpoint: await driver.path(nameOf(req)) }));
  route('/VolumeDriver.Mount', async (req) => {
    const { Mountpoint, Devicename } = await driver.mount(nameOf(req), idOf(req));
    return { Err: '', Name: nameOf(req), Mountpoint, Devicename };
  });
  route('/VolumeDriver.Unmount', async (req) => {
    await driver.unmount(nameOf(req), idOf(req));
    return { Err: '' };
  });

  app.use((req, res) => send(res, 404, { Err: `unknown endpoint ${req.method} ${req.path}: this plugin implements VolumeDriver` }));

  // Error handler: express recognises it by its four parameters.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = err as Error;
    const body = bodyProblem(err, req.path, req.headers['content-encoding']);
    if (body !== undefined) {
      logger.info({ call: req.path, err: body.problem }, 'request refused');
      return send(res, body.status, { Err: body.problem });
    }
    if (err instanceof RequestError) return send(res, 400, { Err: err.message });
    if (err instanceof HpeError) {
      logger.info({ call: req.path, err: err.message }, 'request refused');
      return send(res, 200, { Err: errText(err) });
    }
    logger.error({ call: req.path, err: e.message, stack: e.stack }, 'unexpected failure');
    return send(res, 500, { Err: `internal error in hpedockerplugin while serving ${req.path}: ${e.message}` });
  });
  return app;
}
