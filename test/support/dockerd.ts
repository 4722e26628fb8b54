/**
 * Test harness: our own REAL Docker daemon (Debian's docker.io, dockerd 20.10) on a private unix socket, as in
 * shared/reference/ci-recipe.md §3, for tests of the managed plugin and of what the CLIs see of it.
 *
 *   const dockerd = await startDockerd();
 *   after(() => dockerd.stop());
 *   await dockerd.dockerOk(['plugin', 'create', 'hpe', dir]);
 *   await runCli('encryptor', [...], { env: { ...dockerd.env, ... } });
 *
 * Everything lives under one temp dir (data root, exec root, socket, log, client config, `scratch()` dirs), which
 * `stop()` removes after removing containers, volumes and plugins, stopping dockerd (TERM, then KILL), killing any
 * process it left (its containerd, shims, plugin and container processes), detaching loop devices backed by files in
 * scratch dirs and unmounting whatever is still mounted below the temp dir. `stop()` never throws; `leftovers()`
 * then says what (if anything) survived. A process 'exit'/signal hook does the same synchronously (KILL instead of
 * TERM) for a daemon the test forgot or could not stop, and dockerd gets a parent-death SIGTERM where util-linux
 * `setpriv` exists, so that even a SIGKILLed test process leaves a daemon that shuts itself down.
 *
 * Note: managed-plugin sockets are always at /run/docker/plugins/<plugin id>/ on the host, whatever the exec root
 * (hard-coded in dockerd 20.10); `stop()` removes the ones of its own plugins.
 */
import { spawn, spawnSync, execFile, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { importBusyboxImage as importBusyboxImageWith } from '../../src/docker/index.js';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from '../../src/clock.js';
import { canUsePdeathsig, onProcessEnd, SETPRIV } from './lifetime.js';

const execFileP = promisify(execFile);

export interface DockerResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface DockerOptions {
  /** Written to the CLI's standard input (then closed). */
  stdin?: string | Buffer;
  /** Kills the CLI after this long (default 60 s); the result then has code 124. */
  timeoutMs?: number;
  /** Extra environment for the CLI (DOCKER_HOST is always ours). */
  env?: NodeJS.ProcessEnv;
}

export interface Dockerd {
  /** Path of the daemon's API socket. */
  socket: string;
  /** `{ DOCKER_HOST: 'unix://<socket>' }`: spread it into a CLI's environment (dockerode honours it too). */
  env: { DOCKER_HOST: string };
  /** The temp dir holding everything of this daemon; removed by stop(). */
  dir: string;
  /** `--data-root` (plugins live in `<dataRoot>/plugins/<id>/`). */
  dataRoot: string;
  /** dockerd's PID (a new one after restart()). */
  readonly pid: number;
  /** dockerd's stdout+stderr; plugin output lands here too (`plugin=<id>`). */
  logPath: string;
  /** Runs the docker CLI against this daemon. Never rejects. */
  docker(args: string[], opts?: DockerOptions): Promise<DockerResult>;
  /** Like docker(), but rejects (with the command, exit code and stderr) unless it exits 0; resolves to stdout. */
  dockerOk(args: string[], opts?: DockerOptions): Promise<string>;
  /** A new empty dir `<dir>/scratch/<name>` (plugin mount sources, plugin folders...); removed by stop(). */
  scratch(name: string): Promise<string>;
  /** The last lines of the daemon's log. */
  logTail(lines?: number): Promise<string>;
  /** The plugin's stdout/stderr lines from the daemon log (by full 64-hex ID, or by name, which is looked up). */
  pluginLog(pluginIdOrName: string): Promise<string[]>;
  /**
   * Stops dockerd and starts it again with the same arguments (data root, exec root, socket), resolving once its API
   * answers; without live-restore, dockerd stops the running containers. How it goes down:
   *   'term' (default): SIGTERM, as `systemctl restart docker` does;
   *   'crash': SIGKILL of dockerd alone (a crash, an OOM kill): what it started lives on as far as it can;
   *   'reboot': a power loss and a new boot: SIGKILL of dockerd and of every process of it (containerd, shims,
   *     plugins, containers), then every mount below its dir, the loop devices backed by scratch files, its exec
   *     root and its plugin socket dirs (both on tmpfs on a real host) are gone before it starts.
   * stop() still cleans up everything afterwards.
   */
  restart(opts?: { how?: 'term' | 'crash' | 'reboot' }): Promise<void>;
  /** PIDs of the live processes running in a managed plugin's container (by full 64-hex ID). */
  pluginPids(pluginId: string): number[];
  /** Removes containers, volumes, plugins; stops dockerd; cleans up processes, mounts, loop devices, dirs. Safe to call twice. */
  stop(): Promise<void>;
  /** After stop(): what survived (processes, mounts, dirs, plugin sockets), as human-readable lines; [] when clean. */
  leftovers(): Promise<string[]>;
}

export interface StartDockerdOptions {
  storageDriver?: 'vfs' | 'overlay2';
  /** How long to wait for the API to answer (default 30 s). */
  readyTimeoutMs?: number;
}

const STOP_GRACE_MS = 20_000;
const ID_RE = /^[0-9a-f]{64}$/;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function findBinary(envVar: string, candidates: string[], name: string): string {
  const override = process.env[envVar];
  if (override) return override;
  return candidates.find((c) => existsSync(c)) ?? name;
}

const dockerdBinary = () => findBinary('HPE_TEST_DOCKERD_BIN', ['/usr/sbin/dockerd', '/usr/bin/dockerd'], 'dockerd');
const dockerBinary = () => findBinary('HPE_TEST_DOCKER_BIN', [], 'docker');

/** Our environment without DOCKER_* variables (a CI's DOCKER_HOST/DOCKER_CONTEXT must not leak in), sbin on PATH. */
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^DOCKER_/.test(k)) env[k] = v;
  const dirs = (env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin').split(':');
  for (const d of ['/usr/local/sbin', '/usr/sbin', '/sbin']) if (!dirs.includes(d)) dirs.push(d);
  env['PATH'] = dirs.join(':');
  return env;
}

// ---------------------------------------------------------------------------------------------------------
// Finding what a daemon left behind (all synchronous, so that the exit hook can use them too).

interface Trace {
  dir: string;
  pid: number;
  /** Set once dockerd has exited and been reaped: its PID may then belong to anybody. */
  exited: boolean;
  /** Plugin and container IDs seen for this daemon (processes in their cgroups are its). */
  ids: Set<string>;
}

/** Plugin and container IDs from the data root (works even when the daemon no longer answers). */
function collectIds(t: Trace): void {
  for (const sub of ['plugins', 'containers']) {
    try {
      for (const name of readdirSync(path.join(t.dir, 'root', sub))) if (ID_RE.test(name)) t.ids.add(name);
    } catch {
      // not there (yet)
    }
  }
}

/** Live (non-zombie) processes other than ours that `isMine(pid, cmdline, cgroup)` accepts. */
function liveProcesses(isMine: (pid: number, cmdline: string, cgroup: () => string) => boolean): { pid: number; what: string }[] {
  const found: { pid: number; what: string }[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const statText = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const state = statText.slice(statText.lastIndexOf(')') + 2, statText.lastIndexOf(')') + 3);
      if (state === 'Z' || state === 'X') continue; // zombies hold nothing (PID 1 here may never reap them)
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      if (isMine(pid, cmdline, () => readFileSync(`/proc/${pid}/cgroup`, 'utf8'))) found.push({ pid, what: cmdline || `[pid ${pid}]` });
    } catch {
      // gone meanwhile, or not readable
    }
  }
  return found;
}

/** Live processes that belong to this daemon: its own, those naming its dir, those in its cgroups. */
function strayProcesses(t: Trace): { pid: number; what: string }[] {
  return liveProcesses(
    (pid, cmdline, cgroup) =>
      (pid === t.pid && !t.exited) || cmdline.includes(t.dir + '/') || (t.ids.size > 0 && [...t.ids].some((id) => cgroup().includes(id))),
  );
}

/** Mount points at or below `dir`, deepest first (from /proc/self/mountinfo, octal escapes decoded). */
function mountsUnder(dir: string): string[] {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const points = new Set<string>();
  for (const line of text.split('\n')) {
    const field = line.split(' ')[4];
    if (!field) continue;
    const mp = field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (mp === dir || mp.startsWith(dir + '/')) points.add(mp);
  }
  return [...points].sort((a, b) => b.length - a.length);
}

function pluginSocketDirs(t: Trace): string[] {
  return [...t.ids].map((id) => `/run/docker/plugins/${id}`).filter((d) => existsSync(d));
}

function killStrays(t: Trace): void {
  for (const p of strayProcesses(t)) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

function unmountAllSync(dir: string): void {
  for (let round = 0; round < 3; round++) {
    const points = mountsUnder(dir);
    if (points.length === 0) return;
    for (const mp of points) spawnSync('umount', ['-l', mp], { stdio: 'ignore', timeout: 10_000, env: baseEnv() });
  }
}

/**
 * dockerd's containerd dies with it (parent-death signal), but PID 1 of a container (as here) may never reap it: its
 * zombie keeps the PID of `containerd.pid` alive, and the next dockerd waits for that "running" containerd until it
 * gives up. On a host, init reaps it and dockerd starts a new one: so forget the PID of a dead one.
 */
function forgetDeadContainerd(execRoot: string): void {
  const pidFile = path.join(execRoot, 'containerd', 'containerd.pid');
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    const statText = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = statText.slice(statText.lastIndexOf(')') + 2, statText.lastIndexOf(')') + 3);
    if (state !== 'Z' && state !== 'X') return;
  } catch {
    // no pid file, or no such process: nothing to forget
  }
  rmSync(pidFile, { force: true });
}

/** Last-resort cleanup for the exit/signal hooks: no waiting, no daemon API. */
function emergencyCleanup(t: Trace): void {
  collectIds(t);
  if (!t.exited) {
    try {
      process.kill(t.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  killStrays(t);
  unmountAllSync(t.dir);
  for (const d of pluginSocketDirs(t)) rmSync(d, { recursive: true, force: true });
  if (mountsUnder(t.dir).length === 0) rmSync(t.dir, { recursive: true, force: true });
}

const live = new Set<Trace>();
let hooksInstalled = false;

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  const cleanupAll = () => {
    for (const t of live) emergencyCleanup(t);
    live.clear();
  };
  onProcessEnd(cleanupAll);
}

/** GET /_ping on the daemon's socket; true when it answers 200 within `timeoutMs`. */
function ping(socket: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ socketPath: socket, path: '/_ping', timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(false));
  });
}

async function tailFile(file: string, lines: number): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).split('\n').slice(-lines - 1).join('\n').trimEnd();
  } catch (e) {
    return `(no log: ${(e as Error).message})`;
  }
}

/** Decodes the Go-quoted `msg="..."` of a logrus text line. */
function logrusMsg(line: string): string | undefined {
  const m = /\bmsg="((?:[^"\\]|\\.)*)"/.exec(line);
  if (!m) return undefined;
  try {
    return JSON.parse(`"${m[1]!.replace(/\\'/g, "'")}"`) as string;
  } catch {
    return m[1];
  }
}

/** Starts a private dockerd (ci-recipe §3 flags) and resolves once its API answers. */
export async function startDockerd(opts: StartDockerdOptions = {}): Promise<Dockerd> {
  installExitHooks();
  const bin = dockerdBinary();
  if (bin === 'dockerd' && spawnSync('sh', ['-c', 'command -v dockerd'], { env: baseEnv() }).status !== 0) {
    throw new Error('dockerd is not installed: run `make deps` (it installs the Debian package docker.io)');
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hpe-dockerd-'));
  const dataRoot = path.join(dir, 'root');
  const execRoot = path.join(dir, 'exec');
  const socket = path.join(dir, 'docker.sock');
  const logPath = path.join(dir, 'dockerd.log');
  const configFile = path.join(dir, 'daemon.json');
  const clientConfig = path.join(dir, 'client');
  await Promise.all([mkdir(dataRoot), mkdir(execRoot), mkdir(clientConfig), mkdir(path.join(dir, 'scratch'))]);
  await writeFile(configFile, '{}\n');

  const args = [
    '--config-file', configFile,
    '--data-root', dataRoot,
    '--exec-root', execRoot,
    '--pidfile', path.join(dir, 'dockerd.pid'),
    '-H', `unix://${socket}`,
    `--storage-driver=${opts.storageDriver ?? 'vfs'}`,
    '--iptables=false',
    '--ip-masq=false',
    '--ip-forward=false',
    '--bridge=none',
    '--log-level=info',
  ];
  const useSetpriv = await canUsePdeathsig();
  const trace: Trace = { dir, pid: -1, exited: true, ids: new Set() };
  live.add(trace);
  let child: ChildProcess;
  let exited: Promise<string>;
  let exitInfo: string | undefined;
  /** Starts dockerd (again) with the same arguments; its output is appended to the same log. */
  const launch = (): void => {
    const logFd = openSync(logPath, 'a');
    let started: ChildProcess;
    try {
      started = useSetpriv
        ? spawn(SETPRIV, ['--pdeathsig', 'TERM', '--', bin, ...args], { stdio: ['ignore', logFd, logFd], env: baseEnv() })
        : spawn(bin, args, { stdio: ['ignore', logFd, logFd], env: baseEnv() });
    } finally {
      closeSync(logFd);
    }
    child = started;
    exitInfo = undefined;
    exited = new Promise<string>((resolve) => {
      started.once('exit', (code, signal) => resolve(signal ? `killed by ${signal}` : `exit code ${code}`));
      started.once('error', (e) => resolve(`could not start ${bin}: ${e.message}`));
    });
    void exited.then((info) => {
      if (child === started) exitInfo = info;
    });
    trace.pid = started.pid ?? -1;
    trace.exited = started.pid === undefined;
    started.once('exit', () => {
      if (child === started) trace.exited = true;
    });
  };
  launch();

  const clientEnv = (extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({
    ...baseEnv(),
    ...extra,
    DOCKER_HOST: `unix://${socket}`,
    DOCKER_CONFIG: clientConfig,
  });

  const docker = (cliArgs: string[], o: DockerOptions = {}): Promise<DockerResult> =>
    new Promise((resolve) => {
      const cli = spawn(dockerBinary(), cliArgs, { env: clientEnv(o.env), stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      cli.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
      cli.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      const timer = setTimeout(() => {
        timedOut = true;
        cli.kill('SIGKILL');
      }, o.timeoutMs ?? 60_000);
      cli.once('error', (e) => {
        clearTimeout(timer);
        resolve({ code: 127, stdout, stderr: `${stderr}could not run docker: ${e.message}\n` });
      });
      cli.once('close', (code) => {
        clearTimeout(timer);
        if (timedOut) resolve({ code: 124, stdout, stderr: `${stderr}docker ${cliArgs.join(' ')}: timed out\n` });
        else resolve({ code: code ?? 1, stdout, stderr });
      });
      cli.stdin.on('error', () => undefined);
      cli.stdin.end(o.stdin ?? '');
    });

  const dockerOk = async (cliArgs: string[], o?: DockerOptions): Promise<string> => {
    const r = await docker(cliArgs, o);
    if (r.code !== 0) throw new Error(`docker ${cliArgs.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
    return r.stdout;
  };

  const alive = () => exitInfo === undefined && child.exitCode === null && child.signalCode === null;

  /** Best effort: a command that fails here is only noted. */
  const quietly = async (cliArgs: string[], timeoutMs: number, notes: string[]): Promise<string> => {
    const r = await docker(cliArgs, { timeoutMs });
    if (r.code !== 0) notes.push(`docker ${cliArgs.join(' ')}: ${r.stderr.trim()}`);
    return r.code === 0 ? r.stdout : '';
  };

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const notes: string[] = [];
      try {
        collectIds(trace);
        if (alive() && (await ping(socket, 2000))) {
          const lines = (s: string) => s.split('\n').map((l) => l.trim()).filter(Boolean);
          const containers = lines(await quietly(['ps', '-aq', '--no-trunc'], 15_000, notes));
          containers.forEach((id) => trace.ids.add(id));
          if (containers.length > 0) await quietly(['rm', '-f', '-v', ...containers], 60_000, notes);
          for (const v of lines(await quietly(['volume', 'ls', '-q'], 15_000, notes))) {
            await quietly(['volume', 'rm', '-f', v], 30_000, notes);
          }
          const plugins = lines(await quietly(['plugin', 'ls', '--no-trunc', '--format', '{{.ID}} {{.Name}} {{.Enabled}}'], 15_000, notes));
          for (const line of plugins) {
            const [id, name, enabled] = line.split(' ');
            if (!id || !name) continue;
            trace.ids.add(id);
            // The CLI sends force as a query parameter (dockerode's plugin.disable({force}) does not: ci-recipe §5).
            if (enabled === 'true') await quietly(['plugin', 'disable', '-f', name], 30_000, notes);
            await quietly(['plugin', 'rm', '-f', name], 30_000, notes);
          }
        }
        collectIds(trace);
        // TERM, then KILL: dockerd stops its containerd, shims and plugins itself (2-3 s, ci-recipe §0).
        if (alive()) {
          child.kill('SIGTERM');
          const grace = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), STOP_GRACE_MS).unref());
          if ((await Promise.race([exited, grace])) === 'timeout') {
            notes.push(`dockerd did not exit within ${STOP_GRACE_MS / 1000} s of SIGTERM; killed`);
            child.kill('SIGKILL');
            await exited;
          }
        }
        // Whatever it left: its containerd, shims, plugin or container processes.
        for (let i = 0; i < 50 && strayProcesses(trace).length > 0; i++) {
          killStrays(trace);
          await sleep(100);
        }
        await detachLoops(path.join(dir, 'scratch'));
        unmountAllSync(dir);
        for (const d of pluginSocketDirs(trace)) await rm(d, { recursive: true, force: true });
        if (mountsUnder(dir).length === 0) await rm(dir, { recursive: true, force: true, maxRetries: 3 });
      } catch (e) {
        notes.push(`cleanup error: ${(e as Error).message}`);
        emergencyCleanup(trace);
      } finally {
        live.delete(trace);
      }
      if (notes.length > 0 && process.env['HPE_TEST_VERBOSE']) {
        process.stderr.write(`dockerd cleanup notes:\n  ${notes.join('\n  ')}\n`);
      }
    })();
    return stopping;
  };

  // Wait until the API answers; fail fast when dockerd dies.
  const readyMs = opts.readyTimeoutMs ?? 30_000;
  const waitReady = (): Promise<unknown> =>
    waitFor(
      'dockerd',
      async () => {
        if (!alive()) throw new Error(`dockerd ended before answering (${exitInfo ?? 'exited'})`);
        return ping(socket, 1000);
      },
      { timeoutMs: readyMs, timeoutError: () => new Error(`dockerd did not answer on ${socket} within ${readyMs / 1000} s`) },
    );

  const restart = async ({ how = 'term' }: { how?: 'term' | 'crash' | 'reboot' } = {}): Promise<void> => {
    if (stopping !== undefined) throw new Error('restart() after stop()');
    collectIds(trace);
    if (alive()) {
      child.kill(how === 'term' ? 'SIGTERM' : 'SIGKILL');
      const grace = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), STOP_GRACE_MS).unref());
      if ((await Promise.race([exited, grace])) === 'timeout') throw new Error(`dockerd did not exit within ${STOP_GRACE_MS / 1000} s of SIGTERM`);
    }
    if (how === 'crash') forgetDeadContainerd(execRoot);
    if (how === 'reboot') {
      for (let i = 0; i < 50 && strayProcesses(trace).length > 0; i++) {
        killStrays(trace);
        await sleep(100);
      }
      unmountAllSync(dir);
      await detachLoops(path.join(dir, 'scratch'));
      // The exec root and /run/docker/plugins live on tmpfs (/run) on a real host: empty after a boot.
      for (const d of pluginSocketDirs(trace)) await rm(d, { recursive: true, force: true });
      await rm(execRoot, { recursive: true, force: true });
      await mkdir(execRoot);
    }
    launch();
    try {
      await waitReady();
    } catch (e) {
      const log = (await tailFile(logPath, 400)).split('\n').filter((l) => !l.includes('module=grpc')).slice(-30).join('\n');
      throw new Error(`${(e as Error).message}\n--- dockerd log (last lines but grpc's) ---\n${log}`);
    }
  };

  const handle: Dockerd = {
    socket,
    env: { DOCKER_HOST: `unix://${socket}` },
    dir,
    dataRoot,
    get pid() {
      return trace.pid;
    },
    logPath,
    docker,
    dockerOk,
    async scratch(name) {
      const d = path.join(dir, 'scratch', name);
      await mkdir(d, { recursive: true });
      return d;
    },
    logTail: (lines = 40) => tailFile(logPath, lines),
    async pluginLog(pluginIdOrName) {
      let id = pluginIdOrName;
      if (!ID_RE.test(id)) id = (await dockerOk(['plugin', 'inspect', '-f', '{{.Id}}', pluginIdOrName])).trim();
      const text = await readFile(logPath, 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter((l) => l.includes(` plugin=${id}`))
        .map((l) => logrusMsg(l) ?? l);
    },
    restart,
    pluginPids: (pluginId) => liveProcesses((_pid, _cmdline, cgroup) => cgroup().includes(pluginId)).map((p) => p.pid),
    stop,
    async leftovers() {
      const found: string[] = [];
      collectIds(trace);
      for (const p of strayProcesses(trace)) found.push(`process ${p.pid}: ${p.what}`);
      for (const mp of mountsUnder(dir)) found.push(`mount ${mp}`);
      for (const d of pluginSocketDirs(trace)) found.push(`plugin socket dir ${d}`);
      if (existsSync(dir)) found.push(`dir ${dir}`);
      return found;
    },
  };

  // Wait until the API answers; fail fast when dockerd dies.
  try {
    await waitReady();
  } catch (e) {
    const log = await tailFile(logPath, 30);
    await stop();
    throw new Error(`${(e as Error).message}\n--- dockerd log (last lines) ---\n${log}`);
  }
  return handle;
}

/** Detaches loop devices backed by regular files below `root` (e.g. a plugin's state dir), as `losetup -j` finds them. */
async function detachLoops(root: string): Promise<void> {
  const files: string[] = [];
  const walk = async (d: string, depth: number): Promise<void> => {
    if (depth > 4) return;
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p, depth + 1);
      else if (e.isFile() && (await stat(p).catch(() => undefined))?.size) files.push(p);
    }
  };
  await walk(root, 0);
  if (files.length === 0 || !existsSync('/sys/block/loop0')) return;
  for (const f of files.slice(0, 200)) {
    try {
      const { stdout } = await execFileP('losetup', ['-j', f, '-n', '-O', 'NAME'], { env: baseEnv(), timeout: 10_000 });
      for (const devName of stdout.split('\n').map((s) => s.trim()).filter(Boolean)) {
        await execFileP('losetup', ['-d', devName], { env: baseEnv(), timeout: 10_000 }).catch(() => undefined);
      }
    } catch {
      // no losetup, or not a loop backing file
    }
  }
}

/** The registry-free busybox image (src/docker) on this daemon; resolves to the tag. */
export async function importBusyboxImage(dockerd: Dockerd, tag = 'hpe-test-busybox:latest'): Promise<string> {
  return importBusyboxImageWith({ workDir: path.join(dockerd.dir, 'scratch'), tag, docker: (args) => dockerd.dockerOk(args, { timeoutMs: 60_000 }) });
}
