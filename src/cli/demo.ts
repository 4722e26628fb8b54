import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '../clock.js';
import { PrerequisiteError } from '../errors.js';
import { writeFileAtomic } from '../files.js';
import { freePorts } from '../net.js';
import { runCheck } from './check.js';
import { importBusyboxImage } from '../docker/index.js';
import { runEncryptor } from './encryptor.js';
import { StdinLines } from './input.js';
import { type Io } from './output.js';

/**
 * `hpedockerplugin demo`: the whole product on one machine, throw-away. In one folder (default ./.demo): an
 * etcd on loopback, two WSAPI simulators (the DEFAULT array replicating to the second, which also serves a
 * second backend), a demo hpe.conf encrypted in place and checked; then, with Docker (the running one, or a
 * dockerd of its own when none answers), the managed plugin built, created and enabled, and a volume created,
 * inspected, listed and removed. Everything keeps running for the user to try; `demo --stop` ends it all.
 */

interface DemoState {
  pids: Record<string, number>;
  docker?: { host: string; own: boolean; plugin: string };
}

const stateFile = (dir: string) => join(dir, 'demo.json');

/** Starts a process that outlives this command, its output in `<dir>/<name>.log`. */
function startDetached(dir: string, name: string, command: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const log = openSync(join(dir, `${name}.log`), 'a');
  const child = spawn(command, args, { detached: true, stdio: ['ignore', log, log], env });
  child.once('error', () => undefined);
  child.unref();
  if (child.pid === undefined) throw new PrerequisiteError(`demo-${name}`, `${command} could not be started`, 'run `make deps` (it installs etcd-server and docker.io)');
  return child.pid;
}

/** Waits for a process the demo started; `probe` failing means "not yet". */
function waitForStart<T>(what: string, logFile: string, probe: () => Promise<T | undefined>, seconds = 20): Promise<T> {
  return waitFor(what, () => probe().catch(() => undefined), {
    timeoutMs: seconds * 1000,
    intervalMs: 100,
    timeoutError: () => new PrerequisiteError('demo', `${what} did not start within ${seconds} s; see ${logFile}`, 'read that log; `make deps` installs what the demo needs'),
  }) as Promise<T>;
}

async function startEtcd(dir: string, state: DemoState): Promise<number> {
  const [clientPort, peerPort] = (await freePorts(2)) as [number, number];
  const url = (p: number) => `http://127.0.0.1:${p}`;
  // etcd reads every ETCD_* variable as a flag: start it with none.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD_')));
  state.pids.etcd = startDetached(dir, 'etcd', 'etcd', [
    '--name', 'demo', '--data-dir', join(dir, 'etcd-data'), '--logger', 'zap', '--log-outputs', 'stderr',
    '--listen-client-urls', url(clientPort), '--advertise-client-urls', url(clientPort),
    '--listen-peer-urls', url(peerPort), '--initial-advertise-peer-urls', url(peerPort),
    '--initial-cluster', `demo=${url(peerPort)}`, '--heartbeat-interval', '10', '--election-timeout', '100',
  ], env);
  await waitForStart('etcd', join(dir, 'etcd.log'), async () => ((await fetch(`${url(clientPort)}/health`)).ok ? true : undefined));
  return clientPort;
}

async function startSimulator(dir: string, state: DemoState, name: string, extra: string[]): Promise<string> {
  const cli = process.argv[1]!;
  // Under one folder: the plugin's `simulators` mount points at it, so the simulators' volume files attach as loop devices.
  state.pids[name] = startDetached(dir, name, process.execPath, [cli, 'simulator', '--listen', '127.0.0.1:0', '--state', join(dir, 'simulators', name), '--system-name', name, ...extra]);
  const log = join(dir, `${name}.log`);
  return waitForStart(`the ${name} simulator`, log, async () => /listening at (\S+)/.exec(await readFile(log, 'utf8'))?.[1]);
}

function demoConfig(etcdPort: number, array1: string, array2: string): string {
  return `# Demo hpe.conf written by \`hpedockerplugin demo\`. The arrays are the bundled WSAPI simulators, not arrays.
[DEFAULT]
host_etcd_ip_address = 127.0.0.1
host_etcd_port_number = ${etcdPort}
logging = INFO
hpedockerplugin_driver = hpedockerplugin.hpe.hpe_3par_iscsi.HPE3PARISCSIDriver
hpe3par_api_url = ${array1}
hpe3par_username = 3paradm
hpe3par_password = 3pardata
san_ip = 127.0.0.1
san_login = 3paradm
san_password = 3pardata
hpe3par_cpg = FC_r1
hpe3par_iscsi_ips = 127.0.0.1
replication_device = backend_id:array2,
                     replication_mode:synchronous,
                     cpg_map:FC_r1:FC_r1,
                     hpe3par_api_url:${array2},
                     hpe3par_username:3paradm, hpe3par_password:3pardata,
                     san_ip:127.0.0.1, san_login:3paradm, san_password:3pardata,
                     hpe3par_iscsi_ips:127.0.0.1

# A second backend, on the second array.
[3par2]
hpedockerplugin_driver = hpedockerplugin.hpe.hpe_3par_fc.HPE3PARFCDriver
hpe3par_api_url = ${array2}
hpe3par_username = 3paradm
hpe3par_password = 3pardata
san_ip = 127.0.0.1
san_login = 3paradm
san_password = 3pardata
hpe3par_cpg = FC_r5
`;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    execFile(command, args, { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolveRun({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

/** The Docker to use: the one DOCKER_HOST (or the default socket) points at, else a dockerd of the demo's own. */
async function obtainDocker(dir: string, state: DemoState, io: Io): Promise<{ env: NodeJS.ProcessEnv; own: boolean } | undefined> {
  if ((await run('docker', ['version'], process.env, 10_000)).code === 0) return { env: process.env, own: false };
  if ((await run('sh', ['-c', 'command -v dockerd'], process.env)).code !== 0) {
    io.out('== no Docker daemon answers and dockerd is not installed: skipping the plugin part (`make deps` installs docker.io)');
    return undefined;
  }
  const d = join(dir, 'docker');
  await mkdir(join(d, 'root'), { recursive: true });
  await mkdir(join(d, 'exec'), { recursive: true });
  await writeFileAtomic(join(d, 'daemon.json'), '{}\n');
  const socket = join(d, 'docker.sock');
  state.pids.dockerd = startDetached(dir, 'dockerd', 'dockerd', [
    '--config-file', join(d, 'daemon.json'), '--data-root', join(d, 'root'), '--exec-root', join(d, 'exec'),
    '--pidfile', join(d, 'dockerd.pid'), '-H', `unix://${socket}`, '--storage-driver=vfs',
    '--iptables=false', '--ip-masq=false', '--ip-forward=false', '--bridge=none',
  ]);
  const env = { ...process.env, DOCKER_HOST: `unix://${socket}` };
  await waitForStart('dockerd', join(dir, 'dockerd.log'), async () => ((await run('docker', ['version'], env, 5000)).code === 0 ? true : undefined), 30);
  io.out(`== started a dockerd of the demo's own: DOCKER_HOST=unix://${socket}`);
  return { env, own: true };
}

async function docker(io: Io, env: NodeJS.ProcessEnv, args: string[], show = true): Promise<string> {
  if (show) io.out(`$ docker ${args.join(' ')}`);
  const r = await run('docker', args, env);
  if (r.code !== 0) throw new PrerequisiteError('demo-docker', `docker ${args.join(' ')} failed: ${r.stderr.trim()}`, 'see the plugin\'s lines in the dockerd log, and `hpedockerplugin check`');
  if (show && r.stdout.trim() !== '') io.out(r.stdout.trimEnd());
  return r.stdout;
}

async function pluginPart(dir: string, state: DemoState, io: Io): Promise<string | undefined> {
  const found = await obtainDocker(dir, state, io);
  if (found === undefined) return undefined;
  const { env, own } = found;
  const plugin = own ? 'hpe' : 'hpe-demo';
  state.docker = { host: env.DOCKER_HOST ?? '', own, plugin };
  await writeFileAtomic(stateFile(dir), JSON.stringify(state));
  const builder = resolve('plugin/build-rootfs.sh');
  if (!existsSync(builder)) throw new PrerequisiteError('demo', 'plugin/build-rootfs.sh is not here', 'run `make demo` in the repository');
  io.out('== building the managed plugin (plugin/build-rootfs.sh), then docker plugin create / set / enable');
  const built = await run('bash', [builder, join(dir, 'plugin')], process.env);
  if (built.code !== 0) throw new PrerequisiteError('demo', `plugin/build-rootfs.sh failed: ${built.stderr.trim()}`, 'run `make build` first');
  await run('docker', ['plugin', 'rm', '-f', plugin], env);
  await docker(io, env, ['plugin', 'create', plugin, join(dir, 'plugin')]);
  await mkdir(join(dir, 'state'), { recursive: true, mode: 0o700 });
  await docker(io, env, ['plugin', 'set', plugin, `config.source=${dir}/etc`, `state.source=${dir}/state`, `simulators.source=${dir}/simulators`]);
  await docker(io, env, ['plugin', 'enable', plugin]);
  await docker(io, env, ['volume', 'create', '-d', plugin, '-o', 'size=1', 'demo1']);
  await docker(io, env, ['volume', 'create', '-d', plugin, '-o', 'size=1', '-o', 'replicationGroup=demo-rg', 'demo-replicated']);
  await docker(io, env, ['volume', 'inspect', 'demo1']);
  await docker(io, env, ['volume', 'ls']);
  await docker(io, env, ['volume', 'rm', 'demo1']);
  io.out(`== containers on an hpe volume (image ${DEMO_IMAGE}, imported from Debian's busybox-static: no registry)`);
  await importBusyboxImage({ workDir: dir, tag: DEMO_IMAGE, docker: (args) => docker(io, env, args, false) });
  await docker(io, env, ['volume', 'create', '-d', plugin, '-o', 'size=1', 'demo-data']);
  await docker(io, env, ['run', '--rm', '-v', 'demo-data:/data', DEMO_IMAGE, 'sh', '-c', 'echo "written by the first container" > /data/hello.txt && df -hT /data']);
  await docker(io, env, ['run', '--rm', '-v', 'demo-data:/data', DEMO_IMAGE, 'cat', '/data/hello.txt']);
  return plugin;
}

const DEMO_IMAGE = 'hpe-demo-busybox:latest';

async function stopDemo(dir: string, io: Io): Promise<number> {
  const state = JSON.parse(await readFile(stateFile(dir), 'utf8').catch(() => '{"pids":{}}')) as DemoState;
  if (state.docker !== undefined) {
    const env = state.docker.host === '' ? process.env : { ...process.env, DOCKER_HOST: state.docker.host };
    const volumes = (await run('docker', ['volume', 'ls', '-q', '--filter', `driver=${state.docker.plugin}:latest`], env, 15_000)).stdout.split('\n').filter(Boolean);
    for (const v of volumes) await run('docker', ['volume', 'rm', '-f', v], env, 15_000);
    await run('docker', ['plugin', 'disable', '-f', state.docker.plugin], env, 15_000);
    await run('docker', ['plugin', 'rm', '-f', state.docker.plugin], env, 15_000);
    await run('docker', ['image', 'rm', '-f', DEMO_IMAGE], env, 15_000);
  }
  // dockerd first: its plugin must not lose etcd while it stops.
  for (const pid of Object.entries(state.pids).sort(([a], [b]) => (a === 'dockerd' ? -1 : b === 'dockerd' ? 1 : 0)).map(([, p]) => p)) {
    try {
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 200; i++) {
        process.kill(pid, 0);
        await sleep(100);
      }
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  // dockerd leaves its bind mounts behind when it is killed; unmount anything still under the folder.
  const mounts = (await readFile('/proc/mounts', 'utf8').catch(() => '')).split('\n').map((l) => l.split(' ')[1] ?? '');
  for (const m of mounts.filter((m) => m.startsWith(`${dir}/`)).sort().reverse()) await run('umount', ['-l', m], process.env);
  await rm(dir, { recursive: true, force: true });
  io.out(`demo stopped; ${dir} removed`);
  return 0;
}

export async function runDemo(options: { dir?: string; stop?: boolean }, io: Io): Promise<number> {
  const dir = resolve(options.dir ?? '.demo');
  if (options.stop) return stopDemo(dir, io);
  if (existsSync(stateFile(dir))) await stopDemo(dir, { out: () => {}, err: io.err });
  await mkdir(join(dir, 'etc'), { recursive: true, mode: 0o700 });
  const state: DemoState = { pids: {} };
  try {
    const etcdPort = await startEtcd(dir, state);
    await writeFileAtomic(stateFile(dir), JSON.stringify(state));
    const array2 = await startSimulator(dir, state, 'array2', []);
    const array1 = await startSimulator(dir, state, 'array1', ['--target', `array2=${array2}`]);
    await writeFileAtomic(stateFile(dir), JSON.stringify(state));
    io.out(`== etcd on 127.0.0.1:${etcdPort}; WSAPI simulators array1 ${array1} and array2 ${array2}`);
    const conf = join(dir, 'etc', 'hpe.conf');
    await writeFileAtomic(conf, demoConfig(etcdPort, array1, array2), { mode: 0o600 });
    const passphraseFile = join(dir, 'passphrase');
    await writeFileAtomic(passphraseFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
    io.out(`== hpe3parencryptor encrypt-config --all --config ${conf}`);
    const enc = await runEncryptor(['encrypt-config', '--all', '--config', conf, '--passphrase-file', passphraseFile], io, process.env, new StdinLines());
    if (enc !== 0) return enc;
    io.out('== hpe3parencryptor status');
    await runEncryptor(['status', '--config', conf], io);
    io.out('== hpedockerplugin check');
    const check = await runCheck({ config: conf, state: join(dir, 'state') }, io);
    if (check !== 0) return check;
    const plugin = await pluginPart(dir, state, io);
    const cli = process.argv[1]!;
    const dockerEnv = state.docker?.own ? `  export DOCKER_HOST=${state.docker.host}\n` : '';
    io.out(`
The demo keeps running. Try next (in this shell):
  export HPEDOCKERPLUGIN_CONFIG=${conf}
${dockerEnv}  alias hpedockerplugin='${process.execPath} ${cli}' hpe3parencryptor='${process.execPath} ${cli.replace(/hpedockerplugin(\.m?js)$/, 'hpe3parencryptor$1')}'
  cat $HPEDOCKERPLUGIN_CONFIG                      # the passwords are now enc:v1:<kid>:... values
  hpedockerplugin check                            # every prerequisite, one line each
${plugin === undefined ? '' : `  docker run --rm -v demo-data:/data ${DEMO_IMAGE} cat /data/hello.txt
  docker volume create -d ${plugin} -o size=2 -o provisioning=full v2
  docker volume create -d ${plugin} -o virtualCopyOf=v2 v2-snap
  docker volume inspect v2; docker volume ls
  docker volume create -d ${plugin} -o help=backends h1
  docker plugin disable -f ${plugin}                   # then: hpe3parencryptor rotate --backend 3par2 --config $HPEDOCKERPLUGIN_CONFIG
`}Stop it all:  make demo-stop   (or: hpedockerplugin demo --stop --dir ${dir})`);
    return 0;
  } finally {
    await writeFileAtomic(stateFile(dir), JSON.stringify(state)).catch(() => undefined);
  }
}
