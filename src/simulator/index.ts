/**
 * The 3PAR WSAPI simulator: the same REST protocol as an array (as wsapi.md describes it), its state on disk,
 * each volume a sparse file. It says what it is: `GET /system` reports a model containing "Simulator".
 * With `sshPort` it also serves the array's SSH CLI subset for snapshot schedules (ssh-server.ts), which run on the
 * simulator's clock (schedules.ts).
 */
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { isIPv6 } from 'node:net';
import { join } from 'node:path';
import { wsapiFeatures } from '../array/index.js';
import { HpeError } from '../errors.js';
import type { SimContext } from './context.js';
import { registerTasks } from './copies.js';
import { CopyTasks } from './copy-tasks.js';
import { VolumeFiles } from './disk.js';
import { LaterWork } from './later.js';
import { registerHosts } from './hosts.js';
import { registerMetadata } from './metadata.js';
import { resolveOptions, type RequestLogEntry, type RunningSimulator, type SimulatorOptions } from './options.js';
import { Peers } from './peers.js';
import { registerPorts } from './ports.js';
import { registerRcgs } from './rcg.js';
import { Router } from './router.js';
import { Schedules } from './schedules.js';
import { requestListener, type Injection } from './server.js';
import { Sessions } from './sessions.js';
import { registerSets } from './sets.js';
import { StateStore } from './store.js';
import { startSshServer, type RunningSshServer } from './ssh-server.js';
import { registerSystem } from './system.js';
import { ensureCertificate } from './tls.js';
import { registerVluns } from './vluns.js';
import { registerVolumes } from './volumes.js';

export { simulatorDefaults } from './options.js';
export type { RemoteTarget, RequestLogEntry, RunningSimulator, SimulatorOptions } from './options.js';

function urlHost(listenHost: string): string {
  const host = listenHost === '' || listenHost === '0.0.0.0' ? '127.0.0.1' : listenHost === '::' ? '::1' : listenHost;
  return isIPv6(host) ? `[${host}]` : host;
}

/** Why the simulator cannot listen, and what to do: a busy port is the usual case, never a bug. */
function cannotListen(listen: { host: string; port: number }, err: unknown): HpeError {
  const where = `${listen.host}:${listen.port}`;
  switch ((err as NodeJS.ErrnoException).code) {
    case 'EADDRINUSE':
      return new HpeError(
        `the simulator cannot listen on ${where}: port ${listen.port} is already in use by another process`,
        `stop that process (\`ss -ltnp 'sport = :${listen.port}'\` shows it), or choose another port with --listen ${listen.host}:<port>`,
      );
    case 'EACCES':
      return new HpeError(`the simulator cannot listen on ${where}: permission denied (ports below 1024 need root)`, 'choose a port of 1024 or more with --listen, or run it as root');
    case 'EADDRNOTAVAIL':
      return new HpeError(`the simulator cannot listen on ${where}: ${listen.host} is not an address of this host`, 'listen on an address of this host, e.g. --listen 127.0.0.1:8080');
    default:
      return new HpeError(`the simulator cannot listen on ${where}: ${(err as Error).message}`, 'choose another --listen address or port');
  }
}

export async function startSimulator(options: SimulatorOptions): Promise<RunningSimulator> {
  const o = resolveOptions(options);
  if (typeof o.stateDir !== 'string' || o.stateDir === '') throw new HpeError('the simulator needs a state directory', 'pass stateDir (--state DIR)');
  if (Object.keys(o.users).length === 0) throw new HpeError('the simulator needs at least one user', 'pass users, e.g. { "3paradm": "3pardata" }');

  const store = StateStore.open(o.stateDir);
  store.commit();
  const files = new VolumeFiles(o.stateDir);
  const peers = new Peers(o.remoteTargets);
  const save = (): void => store.commit();
  const volumeChanged = (name: string): void => store.volumeChanged(name);
  const ctx: SimContext = {
    options: o,
    state: store.state,
    files,
    features: wsapiFeatures(o.wsapiBuild),
    peers,
    copies: new CopyTasks(store.state, files, volumeChanged, save),
    clock: o.clock,
    later: new LaterWork(o.clock),
    volumeChanged,
    save,
  };

  const sessions = new Sessions(o.sessionTtlMs);
  const router = new Router();
  registerSystem(router, ctx, () => urlHost(o.listen.host).replace(/^\[|\]$/g, ''), () => sessions.count);
  registerVolumes(router, ctx);
  registerMetadata(router, ctx);
  registerTasks(router, ctx);
  registerHosts(router, ctx);
  registerVluns(router, ctx);
  registerPorts(router, ctx);
  registerSets(router, ctx);
  registerRcgs(router, ctx);

  const injections: Injection[] = [];
  const requestLog: RequestLogEntry[] = [];
  const listener = requestListener({ ctx, router, sessions, injections, requestLog });

  let certPem: string | undefined;
  let server: http.Server;
  if (o.tls) {
    const pair = await ensureCertificate(join(o.stateDir, 'tls'), o.systemName, [o.listen.host]);
    certPem = pair.certPem;
    server = https.createServer({ key: pair.keyPem, cert: pair.certPem }, listener);
  } else {
    server = http.createServer(listener);
  }
  server.listen(o.listen.port, o.listen.host);
  try {
    // once() rejects with the 'error' event's error itself, so one wait covers both outcomes.
    await once(server, 'listening');
  } catch (err) {
    throw cannotListen(o.listen, err);
  }
  const port = (server.address() as AddressInfo).port;

  const schedules = new Schedules(ctx, o.stateDir);
  let ssh: RunningSshServer | undefined;
  if (o.sshPort !== undefined) {
    try {
      ssh = await startSshServer({ host: o.listen.host, port: o.sshPort, stateDir: o.stateDir, users: o.users, authorizedKeys: o.sshAuthorizedKeys, schedules });
    } catch (err) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      throw err;
    }
  }
  schedules.start();

  let stopping: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await ssh?.close();
    await schedules.stop();
    await ctx.later.stop();
    await ctx.copies.stopAll();
    await peers.close();
    store.commit();
    await closed;
  };

  return {
    apiUrl: `${o.tls ? 'https' : 'http'}://${urlHost(o.listen.host)}:${port}/api/v1`,
    port,
    ...(certPem === undefined ? {} : { certPem }),
    systemName: o.systemName,
    systemId: store.state.systemId,
    stop: () => (stopping ??= stop()),
    expireAllSessions: () => sessions.expireAll(),
    setPassword: (user, password) => {
      o.users[user] = password;
    },
    failNext: (method, pathRegex, status, body) => {
      injections.push({ method: method.toUpperCase(), pathRegex, status, ...(body === undefined ? {} : { body }) });
    },
    requestLog,
    ...(ssh === undefined ? {} : { sshPort: ssh.port, sshHostKey: ssh.hostKey }),
    get sshConnections() {
      return ssh?.connections ?? 0;
    },
    sshCommandLog: ssh?.commandLog ?? [],
    runSchedules: () => schedules.runDue(),
  };
}
