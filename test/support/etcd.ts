/**
 * Test harness: starts REAL etcd servers (etcd 3.4, `/usr/bin/etcd` from the distribution's etcd-server package)
 * on free loopback ports, optionally with TLS and client-certificate auth, for integration tests.
 *
 *   const cluster = await startEtcd({ members: 3, tls: true });
 *   t.after(() => cluster.stop());
 *
 * Every member gets its own data dir and log file under one temp dir, which `stop()` removes. Children are
 * tracked: they are killed when the test process exits (normal exit, uncaught error, SIGINT/SIGTERM/SIGHUP), and,
 * where util-linux `setpriv` exists, with a parent-death signal so that even a SIGKILLed test process leaves none.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, rmSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, rm, chmod, writeFile, unlink } from 'node:fs/promises';
import assert from 'node:assert/strict';
import https from 'node:https';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from '../../src/clock.js';
import type { HostConfig } from '../../src/config/index.js';
import type { EtcdClient } from '../../src/etcd/index.js';
import { EtcdError, type EtcdFailureReason } from '../../src/errors.js';
import { freePorts } from '../../src/net.js';
import { canUsePdeathsig, onProcessEnd, SETPRIV } from './lifetime.js';

const execFileP = promisify(execFile);

export interface EtcdCerts {
  /** CA certificate (PEM path) that signed both the server and the client certificates. */
  ca: string;
  clientCert: string;
  clientKey: string;
  /** Directory holding all of them (also ca-key.pem, server.pem, server-key.pem). */
  dir: string;
}

export interface EtcdCluster {
  /** Client endpoints, in member order, as hpe.conf would name them. */
  endpoints: { host: string; port: number }[];
  /** `http(s)://127.0.0.1:port`, in member order. */
  clientUrls: string[];
  certs?: EtcdCerts;
  /** The temp dir holding data dirs, logs and certificates. */
  dir: string;
  /** Stops member `i` (TERM, up to 10 s, then KILL); its data dir stays. */
  stopMember(i: number): Promise<void>;
  /** Kills member `i` with SIGKILL (no leadership hand-over, as in a crash); its data dir stays. */
  killMember(i: number): Promise<void>;
  /** Restarts a stopped member on the same ports and data dir; resolves when it is healthy. */
  startMember(i: number): Promise<void>;
  /** Index of the current leader (from each member's /metrics), undefined while there is none. */
  leaderIndex(): Promise<number | undefined>;
  /** Waits until every running member answers `/health` with true (bounded, ~15 s). */
  waitHealthy(): Promise<void>;
  /** The last lines of member `i`'s log. */
  logTail(i: number, lines?: number): Promise<string>;
  /** Stops every member and removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartEtcdOptions {
  members?: 1 | 3;
  tls?: boolean;
}

const HEALTH_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 10_000;

// ---------------------------------------------------------------------------------------------------------
// Child tracking: every etcd we start dies with us.

const children = new Set<ChildProcess>();
/** Temp dirs of clusters not yet stopped: removed at exit (best effort) so crashed runs leave no 60 MB WALs. */
const liveDirs = new Set<string>();
let exitHooksInstalled = false;

function killAllChildren(): void {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  children.clear();
}

function removeLiveDirs(): void {
  for (const dir of liveDirs) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
    } catch {
      // best effort
    }
  }
  liveDirs.clear();
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  onProcessEnd(() => {
    killAllChildren();
    removeLiveDirs();
  });
}

function etcdBinary(): string {
  const override = process.env['HPE_TEST_ETCD_BIN'];
  if (override) return override;
  return existsSync('/usr/bin/etcd') ? '/usr/bin/etcd' : 'etcd';
}

/** The environment for etcd: ours without any ETCD_* / ETCDCTL_* variable (etcd reads ETCD_* as flags). */
function etcdEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^ETCD/i.test(k)) env[k] = v;
  }
  return env;
}

// ---------------------------------------------------------------------------------------------------------
// Certificates (openssl, EC P-256), as in the CI recipe.

async function openssl(cwd: string, args: string[]): Promise<void> {
  try {
    await execFileP('openssl', args, { cwd, timeout: 15_000 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`openssl ${args.join(' ')} failed: ${err.stderr?.trim() || err.message}`);
  }
}

export interface GeneratedCerts extends EtcdCerts {
  caKey: string;
  serverCert: string;
  serverKey: string;
}

/**
 * Writes a fresh CA, a server certificate (SAN IP:127.0.0.1, DNS:localhost; EKU serverAuth+clientAuth, so it also
 * serves as the peer certificate) and a client certificate (CN=`clientCn`, EKU clientAuth) into `dir`.
 * Call it on another dir to get an unrelated CA (a "wrong CA" for tests).
 */
export async function generateCerts(dir: string, opts: { caCn?: string; clientCn?: string } = {}): Promise<GeneratedCerts> {
  await mkdir(dir, { recursive: true });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(dir, ['req', '-x509', ...ec, '-days', '2', '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-subj', `/CN=${opts.caCn ?? 'hpe-test-etcd-ca'}`]);
  await writeFile(
    path.join(dir, 'server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n',
  );
  await writeFile(path.join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n');
  await Promise.all([
    openssl(dir, ['req', ...ec, '-keyout', 'server-key.pem', '-out', 'server.csr', '-subj', '/CN=etcd-server']),
    openssl(dir, ['req', ...ec, '-keyout', 'client-key.pem', '-out', 'client.csr', '-subj', `/CN=${opts.clientCn ?? 'root'}`]),
  ]);
  // Sequential: both use ca.srl.
  await openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '2', '-extfile', 'server.ext', '-out', 'server.pem']);
  await openssl(dir, ['x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '2', '-extfile', 'client.ext', '-out', 'client.pem']);
  for (const f of ['server.csr', 'client.csr', 'server.ext', 'client.ext', 'ca.srl']) {
    await unlink(path.join(dir, f)).catch(() => undefined);
  }
  for (const f of ['ca-key.pem', 'server-key.pem', 'client-key.pem']) await chmod(path.join(dir, f), 0o600);
  return {
    dir,
    ca: path.join(dir, 'ca.pem'),
    caKey: path.join(dir, 'ca-key.pem'),
    serverCert: path.join(dir, 'server.pem'),
    serverKey: path.join(dir, 'server-key.pem'),
    clientCert: path.join(dir, 'client.pem'),
    clientKey: path.join(dir, 'client-key.pem'),
  };
}

/**
 * Issues another client certificate (EKU clientAuth, CN=`cn`) from the CA in `certs.dir` (made by
 * `generateCerts` or `startEtcd({ tls: true })`). With etcd auth enabled, the CN is the etcd user name.
 */
export async function issueClientCert(certs: EtcdCerts, cn: string): Promise<{ cert: string; key: string }> {
  const dir = certs.dir;
  const base = `client-${cn.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await writeFile(path.join(dir, `${base}.ext`), 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n');
  await openssl(dir, ['req', ...ec, '-keyout', `${base}-key.pem`, '-out', `${base}.csr`, '-subj', `/CN=${cn}`]);
  await openssl(dir, ['x509', '-req', '-in', `${base}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '2', '-extfile', `${base}.ext`, '-out', `${base}.pem`]);
  for (const f of [`${base}.csr`, `${base}.ext`, 'ca.srl']) await unlink(path.join(dir, f)).catch(() => undefined);
  await chmod(path.join(dir, `${base}-key.pem`), 0o600);
  return { cert: path.join(dir, `${base}.pem`), key: path.join(dir, `${base}-key.pem`) };
}

/** The plugin's etcd settings for a TLS cluster started here (its client certificate, key and CA); `over` replaces any. */
export function tlsCfg(cluster: EtcdCluster, over: Partial<HostConfig['etcd']> = {}): HostConfig['etcd'] {
  const certs = cluster.certs!;
  return { endpoints: cluster.endpoints, clientCert: certs.clientCert, clientKey: certs.clientKey, caCert: certs.ca, ...over };
}

/** Runs `fn`, expects an EtcdError with `reason`; returns it and how long the failure took. */
export async function expectEtcdError(fn: () => Promise<unknown>, reason: EtcdFailureReason): Promise<{ err: EtcdError; ms: number }> {
  const started = performance.now();
  try {
    await fn();
  } catch (e) {
    const ms = performance.now() - started;
    assert.ok(e instanceof EtcdError, `expected EtcdError, got ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)}`);
    assert.equal(e.reason, reason, `reason of: ${e.message}`);
    return { err: e, ms };
  }
  assert.fail(`expected EtcdError ${reason}, but the call succeeded`);
}

/** Runs `etcdctl` (API v3) against the cluster with its TLS material; resolves to stdout. */
/** etcdctl against `cluster`; `input` goes to its standard input (a password: never in its arguments). */
export async function etcdctl(cluster: EtcdCluster, args: string[], input?: string): Promise<string> {
  const tlsArgs = cluster.certs
    ? [`--cacert=${cluster.certs.ca}`, `--cert=${cluster.certs.clientCert}`, `--key=${cluster.certs.clientKey}`]
    : [];
  const bin = existsSync('/usr/bin/etcdctl') ? '/usr/bin/etcdctl' : 'etcdctl';
  try {
    const run = execFileP(
      bin,
      [`--endpoints=${cluster.clientUrls.join(',')}`, '--dial-timeout=2s', '--command-timeout=5s', ...tlsArgs, ...args],
      { env: { ...etcdEnv(), ETCDCTL_API: '3' }, timeout: 15_000 },
    );
    run.child.stdin?.end(input ?? '');
    const { stdout } = await run;
    return stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`etcdctl ${args.join(' ')} failed: ${err.stderr?.trim() || err.message}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Members

interface Member {
  name: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  logFile: string;
  args: string[];
  child?: ChildProcess;
  exited?: Promise<void>;
  exitInfo?: string;
}

async function tailFile(file: string, lines = 30): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.split('\n').slice(-lines - 1).join('\n').trimEnd();
  } catch (e) {
    return `(no log: ${(e as Error).message})`;
  }
}

/** GET `urlPath` on one member over http(s); undefined when it cannot be fetched within 1 s. Never rejects. */
function httpGet(baseUrl: string, urlPath: string, tlsMaterial: TlsMaterial | undefined): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const u = new URL(urlPath, baseUrl);
    const onRes = (res: http.IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve(undefined));
    };
    // An IP host gives no SNI with https.get (Node leaves servername empty for IPs), so no DEP0123 here.
    const req = tlsMaterial
      ? https.get(u, { ca: tlsMaterial.ca, cert: tlsMaterial.cert, key: tlsMaterial.key, timeout: 1000, agent: false }, onRes)
      : http.get(u, { timeout: 1000, agent: false }, onRes);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(undefined));
  });
}

interface TlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/**
 * Starts 1 or 3 etcd members on free loopback ports and waits until all are healthy (bounded, ~15 s; the error
 * carries the failing member's log tail). A port taken by someone else between our probe and etcd's bind is
 * retried with fresh ports.
 */
export async function startEtcd(opts: StartEtcdOptions = {}): Promise<EtcdCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startEtcdOnce(opts);
    } catch (e) {
      if (attempt >= 3 || !/address already in use/.test((e as Error).message)) throw e;
    }
  }
}

async function startEtcdOnce(opts: StartEtcdOptions): Promise<EtcdCluster> {
  const count = opts.members ?? 1;
  const tls = opts.tls ?? false;
  installExitHooks();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hpe-etcd-'));
  liveDirs.add(dir);
  const scheme = tls ? 'https' : 'http';
  let certs: GeneratedCerts | undefined;
  let material: TlsMaterial | undefined;
  const members: Member[] = [];
  let stopped = false;

  const stopMemberInternal = async (m: Member): Promise<void> => {
    const child = m.child;
    if (!child || !m.exited) return;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), STOP_GRACE_MS).unref());
      if ((await Promise.race([m.exited.then(() => 'exited' as const), timer])) === 'timeout') {
        child.kill('SIGKILL');
        await m.exited;
      }
    }
    m.child = undefined;
    m.exited = undefined;
  };

  const cluster: EtcdCluster = {
    endpoints: [],
    clientUrls: [],
    dir,
    async stopMember(i) {
      await stopMemberInternal(member(i));
    },
    async killMember(i) {
      const m = member(i);
      const child = m.child;
      if (!child || !m.exited) return;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await m.exited;
      m.child = undefined;
      m.exited = undefined;
    },
    async startMember(i) {
      const m = member(i);
      if (m.child && m.exitInfo === undefined) throw new Error(`etcd member ${i} is already running`);
      await launch(m);
      await waitHealthy([m]);
    },
    leaderIndex() {
      return leaderIndex();
    },
    async waitHealthy() {
      await waitHealthy(members.filter((m) => m.child));
    },
    logTail(i, lines) {
      return tailFile(member(i).logFile, lines);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      // Leader first, one by one. On SIGTERM a leader hands leadership to a peer it believes alive; if that
      // peer is already gone (stopped a moment ago, not yet noticed), it waits etcd's request timeout (~5 s).
      for (;;) {
        const running = members.filter((m) => m.child);
        if (running.length === 0) break;
        const lead = running.length > 1 ? await leaderIndex() : undefined;
        await stopMemberInternal(lead === undefined ? running[0]! : members[lead]!);
      }
      await rm(dir, { recursive: true, force: true, maxRetries: 3 });
      liveDirs.delete(dir);
    },
  };

  function clientUrl(m: Member): string {
    return `${scheme}://127.0.0.1:${m.clientPort}`;
  }

  /** Index of the member that reports itself leader (`etcd_server_is_leader 1` in /metrics), if any. */
  async function leaderIndex(): Promise<number | undefined> {
    const answers = await Promise.all(
      members.map(async (m, i) => {
        if (!m.child) return undefined;
        const res = await httpGet(clientUrl(m), '/metrics', material);
        return res && /^etcd_server_is_leader 1$/m.test(res.body) ? i : undefined;
      }),
    );
    return answers.find((i) => i !== undefined);
  }

  function member(i: number): Member {
    const m = members[i];
    if (!m) throw new Error(`no etcd member ${i} (cluster has ${members.length})`);
    return m;
  }

  async function launch(m: Member): Promise<void> {
    const bin = etcdBinary();
    const usePdeathsig = await canUsePdeathsig();
    const [cmd, args] = usePdeathsig ? [SETPRIV, ['--pdeathsig', 'KILL', '--', bin, ...m.args]] : [bin, m.args];
    const fd = openSync(m.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(cmd, args, { stdio: ['ignore', fd, fd], env: etcdEnv() });
    } finally {
      closeSync(fd);
    }
    children.add(child);
    m.child = child;
    m.exitInfo = undefined;
    m.exited = new Promise<void>((resolve) => {
      const done = (info: string) => {
        children.delete(child);
        m.exitInfo ??= info;
        resolve();
      };
      child.once('exit', (code, signal) => done(signal ? `killed by ${signal}` : `exited with code ${code}`));
      child.once('error', (e) => done(`could not start ${bin}: ${e.message}`));
    });
  }

  async function waitHealthy(ms: Member[]): Promise<void> {
    const pending = new Set(ms);
    await waitFor(
      'etcd health',
      async () => {
        for (const m of [...pending]) {
          if (m.exitInfo !== undefined || !m.child) {
            throw new Error(`etcd member ${m.name} ${m.exitInfo ?? 'is not running'} before becoming healthy. Log tail:\n${await tailFile(m.logFile)}`);
          }
          const res = await httpGet(clientUrl(m), '/health', material);
          if (res?.status === 200 && /"health"\s*:\s*"true"/.test(res.body)) pending.delete(m);
        }
        return pending.size === 0;
      },
      {
        timeoutMs: HEALTH_TIMEOUT_MS,
        timeoutError: async () => {
          const m = [...pending][0]!;
          return new Error(`etcd member ${m.name} (${scheme}://127.0.0.1:${m.clientPort}) not healthy after ${HEALTH_TIMEOUT_MS / 1000} s. Log tail:\n${await tailFile(m.logFile)}`);
        },
      },
    );
  }

  try {
    if (tls) {
      certs = await generateCerts(path.join(dir, 'certs'));
      material = {
        ca: await readFile(certs.ca),
        cert: await readFile(certs.clientCert),
        key: await readFile(certs.clientKey),
      };
    }
    const ports = await freePorts(2 * count);
    const token = `hpe-test-${process.pid}-${path.basename(dir)}`;
    for (let i = 0; i < count; i++) {
      const mdir = path.join(dir, `m${i}`);
      await mkdir(mdir, { recursive: true });
      members.push({
        name: `m${i}`,
        clientPort: ports[2 * i]!,
        peerPort: ports[2 * i + 1]!,
        dataDir: path.join(mdir, 'data'),
        logFile: path.join(mdir, 'etcd.log'),
        args: [],
      });
    }
    const initialCluster = members.map((m) => `${m.name}=${scheme}://127.0.0.1:${m.peerPort}`).join(',');
    for (const m of members) {
      const clientUrl = `${scheme}://127.0.0.1:${m.clientPort}`;
      const peerUrl = `${scheme}://127.0.0.1:${m.peerPort}`;
      m.args = [
        '--name', m.name,
        '--data-dir', m.dataDir,
        '--logger', 'zap',
        '--log-outputs', 'stderr',
        '--heartbeat-interval', '10',
        '--election-timeout', '100',
        '--listen-client-urls', clientUrl,
        '--advertise-client-urls', clientUrl,
        '--listen-peer-urls', peerUrl,
        '--initial-advertise-peer-urls', peerUrl,
        '--initial-cluster', initialCluster,
        '--initial-cluster-token', token,
        '--initial-cluster-state', 'new',
      ];
      if (certs) {
        m.args.push(
          '--cert-file', certs.serverCert,
          '--key-file', certs.serverKey,
          '--trusted-ca-file', certs.ca,
          '--client-cert-auth',
          '--peer-cert-file', certs.serverCert,
          '--peer-key-file', certs.serverKey,
          '--peer-trusted-ca-file', certs.ca,
          '--peer-client-cert-auth',
        );
      }
      cluster.endpoints.push({ host: '127.0.0.1', port: m.clientPort });
      cluster.clientUrls.push(clientUrl);
    }
    if (certs) cluster.certs = { ca: certs.ca, clientCert: certs.clientCert, clientKey: certs.clientKey, dir: certs.dir };
    for (const m of members) await launch(m);
    await waitHealthy(members);
    return cluster;
  } catch (e) {
    await cluster.stop().catch(() => undefined);
    throw e;
  }
}

/**
 * Turns etcd's authentication on: user root (password `rootPassword`; with TLS the default client certificate's
 * CN is root too) with the root role, then `auth enable`. Later etcdctl calls on a plain cluster need
 * `--user=root:<password>`.
 */
export async function enableEtcdAuth(cluster: EtcdCluster, rootPassword: string): Promise<void> {
  await etcdctl(cluster, ['user', 'add', 'root', '--interactive=false'], `${rootPassword}\n`).catch((e: Error) => {
    if (!/already exists/.test(e.message)) throw e;
  });
  await etcdctl(cluster, ['user', 'grant-role', 'root', 'root']);
  await etcdctl(cluster, ['auth', 'enable']);
}

/**
 * Auth on, with root (password rootpw) and a user and role `plugin` (password pluginpw) that may read and write
 * `/backend/` only: what the certificate-CN tests need. Passwords go on etcdctl's standard input.
 */
export async function enableAuthWithPluginRole(cluster: EtcdCluster): Promise<void> {
  await etcdctl(cluster, ['user', 'add', 'root', '--interactive=false'], 'rootpw\n');
  await etcdctl(cluster, ['user', 'grant-role', 'root', 'root']);
  await etcdctl(cluster, ['role', 'add', 'plugin']);
  await etcdctl(cluster, ['role', 'grant-permission', 'plugin', '--prefix=true', 'readwrite', '/backend/']);
  await etcdctl(cluster, ['user', 'add', 'plugin', '--interactive=false'], 'pluginpw\n');
  await etcdctl(cluster, ['user', 'grant-role', 'plugin', 'plugin']);
  await etcdctl(cluster, ['auth', 'enable']);
}

/**
 * `client` as seen through a counter of the listings of `prefix` made on its `raw` namespace (a range read that
 * starts at the prefix: one per listing, however many pages follow): how a test asserts that a flow lists once.
 */
export function countingListings(client: EtcdClient, prefix: string): { client: EtcdClient; listings: () => number } {
  let listings = 0;
  const bound = <T extends object>(target: T, wrap: (key: string | symbol, value: unknown) => unknown): T =>
    new Proxy(target, {
      get(t, key) {
        const value: unknown = Reflect.get(t, key, t);
        return wrap(key, typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(t) : value);
      },
    });
  const builder = (b: object) =>
    bound(b, (key, value) =>
      key !== 'inRange'
        ? value
        : (range: { start: string }, ...rest: unknown[]) => {
            if (range.start === prefix) listings++;
            return (value as (...a: unknown[]) => unknown)(range, ...rest);
          },
    );
  const raw = (ns: object) => bound(ns, (key, value) => (key !== 'getAll' ? value : (...a: unknown[]) => builder((value as (...a: unknown[]) => object)(...a))));
  return { client: bound(client, (key, value) => (key === 'raw' ? raw(value as object) : value)), listings: () => listings };
}
