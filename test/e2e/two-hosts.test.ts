/**
 * End to end, two hosts sharing one etcd and one array (the WSAPI simulator), on this one machine:
 *   host A: a REAL dockerd with the REAL managed plugin (`docker plugin set hpe HPE_NODE_ID=node-a`);
 *   host B: a second plugin, the built `hpedockerplugin serve`, on its own socket with its own hpe.conf (its own
 *           mount_prefix), node id node-b, and its own name and initiators on the array (HPE_HOST_NAME, HPE_HOST_ETC),
 *           spoken to as dockerd would (the VolumeDriver protocol over its unix socket).
 * A container on A writes to a volume and keeps running. B's Mount is refused while A's plugin is alive; once A's
 * plugin is disabled (a clean stop: its presence in etcd is revoked; the container keeps its mount), B's Mount waits
 * `mountConflictDelay`, takes the volume over (fencing A's VLUN on the array) and reads A's data. A's plugin, back,
 * gets Docker's Unmount when the container stops and releases only its own side.
 * Both hosts share one kernel, so B attaches the loop device A attached: the fencing shows on the array, not in
 * A's kernel (a real array cuts A's paths).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { WsapiClient } from '../../src/array/index.js';
import { waitFor } from '../../src/clock.js';
import type { EtcdClient } from '../../src/etcd/index.js';
import type { RunningSimulator } from '../../src/simulator/index.js';
import type { VolumeStore } from '../../src/volumes/index.js';
import { cliPath } from '../support/cli.js';
import { singleArrayConfig } from '../support/configs.js';
import type { Dockerd } from '../support/dockerd.js';
import { loopDevicesOf, startWorld, stopWorld, type World } from '../support/e2e-world.js';
import type { EtcdCluster } from '../support/etcd.js';
import { canUsePdeathsig, SETPRIV } from '../support/lifetime.js';
import { postToPlugin } from '../support/plugin.js';

const plugin = 'hpe';
const arrayPassword = 'E2e-Two-Hosts-Pw-23';
const delaySeconds = 3;

let world: World | undefined;
let dockerd: Dockerd;
let etcd: EtcdCluster;
let etcdClient: EtcdClient;
let store: VolumeStore;
let sim: RunningSimulator;
let simRoot: string;
let array: WsapiClient;
let image: string;
let hostB: ChildProcess | undefined;
let hostBOutput = '';
let socketB: string;
let prefixB: string;
const figures: string[] = [];

const docker = (args: string[], timeoutMs = 90_000) => dockerd.docker(args, { timeoutMs });
const dockerOk = (args: string[], timeoutMs = 90_000) => dockerd.dockerOk(args, { timeoutMs });

/** A VolumeDriver call on host B's socket, as dockerd makes it. */
async function onB(call: 'Mount' | 'Unmount' | 'Get', body: Record<string, string>): Promise<{ Err: string; Mountpoint?: string; Volume?: { Mountpoint: string } }> {
  const r = await postToPlugin(socketB, `/VolumeDriver.${call}`, JSON.stringify(body), 60_000);
  return r.json as { Err: string; Mountpoint?: string };
}

async function timedOnB(call: 'Mount' | 'Unmount', body: Record<string, string>): Promise<{ ms: number; Err: string; Mountpoint?: string }> {
  const t0 = performance.now();
  const r = await onB(call, body);
  return { ...r, ms: Math.round(performance.now() - t0) };
}

/** The array hosts that have a VLUN (template) of any volume. */
async function vlunHosts(): Promise<string[]> {
  return [...new Set((await array.getVluns()).filter((v) => !v.active).map((v) => v.hostname ?? '?'))].sort();
}

/** Every etcd key whose key or value names the node, but its presence entry (`/nodes/<id>`, there while its plugin runs). */
async function etcdEntriesNaming(node: string): Promise<string[]> {
  const all = await etcdClient.getPrefix('');
  return [...all].filter(([k, v]) => k !== `/nodes/${node}` && (k.includes(node) || v.value.includes(node))).map(([k]) => k);
}

async function alive(node: string): Promise<boolean> {
  return (await etcdClient.get(`/nodes/${node}`)) !== undefined;
}

/** Mount points of hpe volumes in this (the host's) mount namespace. */
function volumeMounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes('hpedocker-dcv-')).map((l) => l.split(' ')[4]!);
}

function isMounted(dir: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === dir);
}

async function holders(volume: string): Promise<Record<string, string[]> | undefined> {
  return (await store.getByName(volume))?.record.node_mount_info;
}

async function startHostB(): Promise<void> {
  const dir = await dockerd.scratch('host-b');
  const configDir = path.join(dir, 'etc-hpedockerplugin');
  const etcDir = path.join(dir, 'etc'); // no iscsi/initiatorname.iscsi: on the simulator, B gets initiators of its own name
  const stateDir = path.join(dir, 'state');
  prefixB = path.join(dir, 'mnt', 'hpedocker-');
  socketB = path.join(dir, 'hpe.sock');
  await Promise.all([configDir, etcDir, stateDir, path.dirname(prefixB)].map((d) => mkdir(d, { recursive: true })));
  const conf = singleArrayConfig(etcd.endpoints[0]!.port, sim.apiUrl, { iscsi: true, password: arrayPassword }).replace('[DEFAULT]\n', `[DEFAULT]\nmount_prefix = ${prefixB}\n`);
  await writeFile(path.join(configDir, 'hpe.conf'), conf, { mode: 0o600 });
  const args = [cliPath.plugin, 'serve', '--config', path.join(configDir, 'hpe.conf'), '--socket', socketB, '--state', stateDir];
  const env = {
    PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    HPE_NODE_ID: 'node-b',
    HPE_HOST_NAME: 'host-b',
    HPE_HOST_ETC: etcDir,
    HPE_SIMULATOR_ROOT: simRoot,
  };
  const child = (await canUsePdeathsig())
    ? spawn(SETPRIV, ['--pdeathsig', 'TERM', '--', process.execPath, ...args], { env })
    : spawn(process.execPath, args, { env });
  hostB = child;
  child.stdout?.on('data', (d: Buffer) => (hostBOutput += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (hostBOutput += d.toString()));
  await waitFor('host B serving', async () => {
    if (child.exitCode !== null) throw new Error(`host B's plugin exited ${child.exitCode}:\n${hostBOutput}`);
    return hostBOutput.includes('serving on');
  }, { timeoutMs: 30_000 });
  assert.match(hostBOutput, /node id node-b \(from HPE_NODE_ID\)/);
}

before(
  async () => {
    world = await startWorld({ plugin, arrayPassword, clients: true, settings: ['HPE_NODE_ID=node-a', 'HPE_GATE_WAIT_SECONDS=6'] });
    ({ dockerd, etcd, sim, simRoot } = world);
    ({ array, etcdClient, store } = world.clients!);
    image = world.image!;
    await startHostB();
  },
  { timeout: 240_000 },
);

after(
  async () => {
    if (hostB !== undefined && hostB.exitCode === null) {
      const exited = new Promise((resolve) => hostB!.once('exit', resolve));
      hostB.kill('SIGTERM');
      await exited;
    }
    if (figures.length > 0) process.stdout.write(`# two hosts, figures: ${figures.join('; ')}\n`);
    if (world) await stopWorld(world);
  },
  { timeout: 120_000 },
);

describe('two hosts, one volume: A (dockerd + managed plugin) and B (a second plugin)', { concurrency: false }, () => {
  let hostA = '';
  let mountOnB = '';

  test('docker plugin set HPE_NODE_ID and HPE_GATE_WAIT_SECONDS are taken: A announces itself as node-a', async () => {
    const env = JSON.parse(await dockerOk(['plugin', 'inspect', '-f', '{{json .Settings.Env}}', plugin])) as string[];
    assert.ok(env.includes('HPE_NODE_ID=node-a') && env.includes('HPE_GATE_WAIT_SECONDS=6'), env.join(' '));
    await waitFor('node-a announced', () => alive('node-a'), { timeoutMs: 15_000 });
    assert.ok(await alive('node-b'));
  });

  test("a container on A writes; B's Mount while A's plugin is alive waits mountConflictDelay, then is refused naming node-a", async (t) => {
    await dockerOk(['volume', 'create', '-d', plugin, '-o', 'size=1', '-o', `mountConflictDelay=${delaySeconds}`, 'tv']);
    await dockerOk(['run', '-d', '--name', 'ca', '-v', 'tv:/data', image, 'sh', '-c', 'echo written on host A > /data/from-a.txt && sync && sleep 600']);
    await waitFor('the container wrote', async () => (await docker(['exec', 'ca', 'cat', '/data/from-a.txt'])).stdout === 'written on host A\n', { timeoutMs: 30_000 });
    const hosts = await vlunHosts();
    assert.equal(hosts.length, 1, `one array host has the volume: ${hosts.join(', ')}`);
    hostA = hosts[0]!;
    assert.notEqual(hostA, 'host-b');
    assert.deepEqual(Object.keys((await holders('tv')) ?? {}), ['node-a']);

    const refused = await timedOnB('Mount', { Name: 'tv', ID: 'cb-refused' });
    t.diagnostic(`B's Mount refused after ${refused.ms} ms`);
    assert.match(refused.Err, new RegExp(`Volume tv is mounted on another node: node-a \\(1 container mount\\); waited ${delaySeconds} s \\(mountConflictDelay\\) and that node's plugin is alive`));
    assert.ok(refused.ms >= delaySeconds * 1000, `B waited mountConflictDelay first (${refused.ms} ms)`);
    assert.deepEqual(await vlunHosts(), [hostA], 'A keeps its VLUN');
    assert.deepEqual(Object.keys((await holders('tv')) ?? {}), ['node-a']);
    assert.equal((await dockerOk(['exec', 'ca', 'cat', '/data/from-a.txt'])), 'written on host A\n');
  });

  test("A's plugin disabled (container still running): B waits mountConflictDelay, takes over, fences A and reads A's data", async (t) => {
    // -f: the container still uses the volume. A clean stop revokes A's presence at once; the container keeps its mount.
    await dockerOk(['plugin', 'disable', '-f', plugin]);
    // At once, not after the 10 s lease: the stopping plugin revoked it.
    await waitFor('node-a gone', async () => !(await alive('node-a')), { timeoutMs: 2000 });
    assert.equal((await dockerOk(['exec', 'ca', 'cat', '/data/from-a.txt'])), 'written on host A\n', "A's container still reads its volume");
    t.diagnostic(`with A's plugin disabled, mounts of hpe volumes in the host's namespace: [${volumeMounts().join(', ')}]`);

    const taken = await timedOnB('Mount', { Name: 'tv', ID: 'cb1' });
    assert.equal(taken.Err, '', `${taken.Err}\n${hostBOutput.slice(-3000)}`);
    t.diagnostic(`takeover on B (delay ${delaySeconds} s + fence + attach + mount): ${taken.ms} ms`);
    figures.push(`takeover ${taken.ms} ms with mountConflictDelay=${delaySeconds}`);
    assert.ok(taken.ms >= delaySeconds * 1000, `B waited mountConflictDelay first (${taken.ms} ms)`);
    mountOnB = taken.Mountpoint!;
    assert.ok(mountOnB.startsWith(prefixB), `B mounts under its own mount_prefix: ${mountOnB}`);
    assert.ok(isMounted(mountOnB));
    assert.equal(readFileSync(path.join(mountOnB, 'from-a.txt'), 'utf8'), 'written on host A\n', "B reads A's data");
    assert.deepEqual(await vlunHosts(), ['host-b'], "A's VLUN is gone: A is fenced");
    assert.deepEqual(await holders('tv'), { 'node-b': ['cb1'] }, 'the record names B as the only holder');
    const got = await onB('Get', { Name: 'tv' });
    assert.equal(got.Volume?.Mountpoint, mountOnB, "B's Get shows its mountpoint");
  });

  test("A's plugin back, A's container stopped: A's Unmount releases only A's side; no record names A any more", async () => {
    const enabled = await docker(['plugin', 'enable', plugin]);
    assert.equal(enabled.code, 0, enabled.stderr);
    await waitFor('node-a back', () => alive('node-a'), { timeoutMs: 15_000 });
    await dockerOk(['rm', '-f', 'ca']);
    await waitFor('A released its side', async () => (await etcdEntriesNaming('node-a')).length === 0, { timeoutMs: 15_000 });
    const log = (await dockerd.pluginLog(plugin)).join('\n');
    assert.match(log, /volume was taken over by another node; its mount here was released \(unmounted and detached on this host only\)/);
    assert.deepEqual(await holders('tv'), { 'node-b': ['cb1'] }, "B's ownership is untouched");
    assert.deepEqual(volumeMounts(), [mountOnB], "the volume's only mount on this machine is B's");
    assert.deepEqual(await vlunHosts(), ['host-b'], 'A never touched the array');
    assert.equal(readFileSync(path.join(mountOnB, 'from-a.txt'), 'utf8'), 'written on host A\n', 'B still reads its volume');
    // A cannot have it back while B's plugin is alive and holds it.
    const refused = await docker(['run', '--rm', '-v', 'tv:/data', image, 'true']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /Volume tv is mounted on another node: node-b \(1 container mount\)/);
  });

  test('B unmounts: A mounts it again and sees B\'s writes; a free volume moves from A to B without waiting', async (t) => {
    await writeFile(path.join(mountOnB, 'from-b.txt'), 'written on host B\n');
    const unmounted = await onB('Unmount', { Name: 'tv', ID: 'cb1' });
    assert.equal(unmounted.Err, '');
    assert.equal(isMounted(mountOnB), false);
    assert.deepEqual(await vlunHosts(), []);
    assert.equal((await dockerOk(['run', '--rm', '-v', 'tv:/data', image, 'cat', '/data/from-a.txt', '/data/from-b.txt'])), 'written on host A\nwritten on host B\n');

    await dockerOk(['volume', 'create', '-d', plugin, '-o', 'size=1', 'fv']);
    await dockerOk(['run', '--rm', '-v', 'fv:/data', image, 'sh', '-c', 'echo free > /data/f']);
    const free = await timedOnB('Mount', { Name: 'fv', ID: 'cb2' });
    assert.equal(free.Err, '');
    t.diagnostic(`Mount on B of a volume A had unmounted (export + attach + mount): ${free.ms} ms`);
    figures.push(`second host's Mount of a free volume ${free.ms} ms`);
    assert.ok(free.ms < delaySeconds * 1000, 'no waiting for a free volume');
    assert.equal(readFileSync(path.join(free.Mountpoint!, 'f'), 'utf8'), 'free\n');
    assert.deepEqual(await vlunHosts(), ['host-b']);
    assert.equal((await onB('Unmount', { Name: 'fv', ID: 'cb2' })).Err, '');

    for (const v of ['tv', 'fv']) await dockerOk(['volume', 'rm', v]);
    assert.deepEqual(await array.getVluns(), []);
    assert.deepEqual(await array.getHosts(), [], "no host entry is left (neither A's nor B's)");
    assert.deepEqual(volumeMounts(), []);
    assert.deepEqual(loopDevicesOf(simRoot), []);
    assert.equal(existsSync(socketB), true, "B's plugin still serves");
  });
});
