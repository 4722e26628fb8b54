/**
 * The world most end-to-end tests run in: a REAL dockerd, a one-member etcd, one WSAPI simulator (state in the scratch
 * folder `simulators/array1`), hpe.conf, and the REAL managed plugin created, set and (by default) enabled; and its
 * teardown, which fails when anything is left behind.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { WsapiClient } from '../../src/array/index.js';
import { createEtcdClient, type EtcdClient } from '../../src/etcd/index.js';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../src/simulator/index.js';
import { VolumeStore } from '../../src/volumes/index.js';
import { singleArrayConfig } from './configs.js';
import { importBusyboxImage, startDockerd, type Dockerd } from './dockerd.js';
import { startEtcd, type EtcdCluster } from './etcd.js';
import { buildPluginFolder, hostMountSettings } from './plugin.js';

export interface WorldOptions {
  /** The plugin's name for `docker plugin create`. */
  plugin: string;
  /** The simulator user 3paradm's password; the default hpe.conf names it as both passwords. */
  arrayPassword: string;
  /** More simulator options (sshPort, clock...). */
  simulator?: Omit<SimulatorOptions, 'listen' | 'stateDir' | 'users'>;
  /** The text of hpe.conf. Default: singleArrayConfig, iSCSI, with arrayPassword. */
  hpeConf?: (etcdPort: number, sim: RunningSimulator) => string;
  /** Whether the plugin mounts the simulators' folder (to attach volume files as loop devices). Default true. */
  mountSimulators?: boolean;
  /** `docker plugin set` settings after the host folders (`HPE_NODE_ID=...`, `DEBUG=true`). */
  settings?: string[];
  /** Whether to `docker plugin enable` it (a failure fails with dockerd's log tail). Default true. */
  enable?: boolean;
  /** Whether to import the busybox image. Default true. */
  image?: boolean;
  /** Whether to open a WSAPI client (as 3paradm), an etcd client and a VolumeStore on it. Default false. */
  clients?: boolean;
}

export interface WorldClients {
  array: WsapiClient;
  etcdClient: EtcdClient;
  store: VolumeStore;
}

/** What stopWorld stops; each part may be missing (a start that failed half way). */
export interface WorldParts {
  dockerd?: Dockerd;
  etcd?: EtcdCluster;
  simulators?: (RunningSimulator | undefined)[];
  /** The folder whose files back the simulators' volumes: no loop device of it may be left. */
  simRoot?: string;
  clients?: WorldClients;
}

export interface World extends WorldParts {
  dockerd: Dockerd;
  etcd: EtcdCluster;
  sim: RunningSimulator;
  simulators: [RunningSimulator];
  simRoot: string;
  configDir: string;
  stateDir: string;
  confFile: string;
  /** The busybox image's tag (undefined with `image: false`). */
  image: string | undefined;
  clients: WorldClients | undefined;
}

/** Loop devices (`losetup -a` lines) backed by a file below `dir`. */
export function loopDevicesOf(dir: string): string[] {
  return execFileSync('losetup', ['-a', '-O', 'NAME,BACK-FILE', '--noheadings'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(dir));
}

/** Starts the world; if a step fails, stops what was started (and says what it left) before rejecting. */
export async function startWorld(o: WorldOptions): Promise<World> {
  const parts: WorldParts = {};
  try {
    return await build(o, parts);
  } catch (err) {
    try {
      await stopWorld(parts);
    } catch (left) {
      throw new AggregateError([err, left], 'the end-to-end world did not start, and its teardown left something behind');
    }
    throw err;
  }
}

async function build(o: WorldOptions, parts: WorldParts): Promise<World> {
  const [started, etcdStarted] = await Promise.allSettled([startDockerd(), startEtcd({ members: 1 })]);
  if (started.status === 'fulfilled') parts.dockerd = started.value;
  if (etcdStarted.status === 'fulfilled') parts.etcd = etcdStarted.value;
  if (started.status === 'rejected') throw started.reason;
  if (etcdStarted.status === 'rejected') throw etcdStarted.reason;
  const dockerd = started.value;
  const etcd = etcdStarted.value;
  const docker = (args: string[], timeoutMs = 90_000) => dockerd.docker(args, { timeoutMs });
  const dockerOk = (args: string[], timeoutMs = 90_000) => dockerd.dockerOk(args, { timeoutMs });

  const configDir = await dockerd.scratch('etc-hpedockerplugin');
  const stateDir = await dockerd.scratch('var-lib-hpedockerplugin');
  const simRoot = (parts.simRoot = await dockerd.scratch('simulators'));
  const sim = await startSimulator({
    listen: { host: '127.0.0.1', port: 0 },
    stateDir: path.join(simRoot, 'array1'),
    users: { '3paradm': o.arrayPassword },
    ...o.simulator,
  });
  parts.simulators = [sim];
  let clients: WorldClients | undefined;
  if (o.clients) {
    const array = new WsapiClient({ apiUrl: sim.apiUrl, username: '3paradm', password: o.arrayPassword });
    const etcdClient = await createEtcdClient({ endpoints: etcd.endpoints }).catch(async (err: unknown) => {
      await array.close();
      throw err;
    });
    clients = parts.clients = { array, etcdClient, store: new VolumeStore(etcdClient) };
  }
  const etcdPort = etcd.endpoints[0]!.port;
  const confFile = path.join(configDir, 'hpe.conf');
  const conf = o.hpeConf?.(etcdPort, sim) ?? singleArrayConfig(etcdPort, sim.apiUrl, { iscsi: true, password: o.arrayPassword });
  await writeFile(confFile, conf, { mode: 0o600 });
  const image = o.image === false ? undefined : await importBusyboxImage(dockerd);
  const folder = await buildPluginFolder(dockerd);
  await dockerOk(['plugin', 'create', o.plugin, folder.dir], 120_000);
  const mounts = hostMountSettings(configDir, stateDir, o.mountSimulators === false ? undefined : simRoot);
  await dockerOk(['plugin', 'set', o.plugin, ...mounts, ...(o.settings ?? [])]);
  if (o.enable !== false) {
    const enabled = await docker(['plugin', 'enable', o.plugin]);
    assert.equal(enabled.code, 0, `${enabled.stderr}\n${await dockerd.logTail(40)}`);
  }
  return { dockerd, etcd, sim, simulators: [sim], simRoot, configDir, stateDir, confFile, image, clients };
}

/**
 * Closes the clients, stops the simulators, dockerd and etcd, and fails unless nothing is left: no dockerd leftover
 * (process, mount, dir, socket), no loop device of simRoot, no etcd dir.
 */
export async function stopWorld(w: WorldParts): Promise<void> {
  await w.clients?.array.close();
  w.clients?.etcdClient.close();
  for (const sim of w.simulators ?? []) await sim?.stop();
  const problems: string[] = [];
  if (w.dockerd) {
    await w.dockerd.stop();
    problems.push(...(await w.dockerd.leftovers()).map((l) => `dockerd: ${l}`));
    if (w.simRoot !== undefined) problems.push(...loopDevicesOf(w.simRoot).map((l) => `loop device ${l}`));
  }
  if (w.etcd) {
    await w.etcd.stop();
    if (existsSync(w.etcd.dir)) problems.push(`etcd dir ${w.etcd.dir} is left`);
  }
  assert.deepEqual(problems, [], 'nothing is left behind');
}
