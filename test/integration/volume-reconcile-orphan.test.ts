/**
 * The reconcile at start on a real array's path: a device found by its WWN in this host's sysfs (a fake /sys and
 * /dev with an FC HBA), of a plugin volume that has no record in etcd, on a backend whose replication target
 * (Peer Persistence) exported it to this host too. The primary simulator answers the backend's GET /system as a
 * 3PAR 8200 does: against the simulator the reconcile looks at loop devices, not WWNs. Real etcd and simulators.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, test } from 'node:test';
import { exportVolume, type ExportRequest } from '../../src/array/index.js';
import { systemClock } from '../../src/clock.js';
import { freePort } from '../../src/net.js';
import type { VolumeManager } from '../../src/volumes/manager.js';
import { arrayVolumeName } from '../../src/volumes/request/naming.js';
import { MountIntentStore } from '../../src/volumes/store/mount-intents.js';
import { hostManager, hostsWorld, releaseHostSide, vlunHosts, type TestHost } from '../fixtures/test-hosts.js';
import { clearArray, type SimHandle, type VolumeEnv } from '../fixtures/volume-env.js';
import { FakeCommands, FakeHostTree } from '../support/fake-host.js';

const PEER_PERSISTENCE = 'replication_mode:synchronous, quorum_witness_ip:10.0.0.9';
const A: TestHost = { node: 'node-a', hostname: 'host-node-a' };
const HBA_WWN = '10000090fa1b2c3d';

const world = hostsWorld('hpe-orphan-');
let tree: FakeHostTree;
const managers: VolumeManager[] = [];

beforeEach(() => {
  tree = new FakeHostTree();
  tree.write('sys/class/fc_host/host7/port_name', `0x${HBA_WWN}\n`);
  tree.write('proc/self/mountinfo', '');
});

afterEach(async () => {
  for (const m of managers.splice(0)) await m.close();
  tree.remove();
  await releaseHostSide(world.root, world.env.secondary);
  await clearArray(world.env.secondary);
});

/** An FC export of `volume` on `h` to a host, as a Mount on that host made it. */
function exportTo(h: SimHandle, volume: string, hostname: string, hbaWwn: string): Promise<unknown> {
  const request: ExportRequest = { volume, hostname, initiators: { iscsiNames: [], fcWwns: [hbaWwn] }, transport: 'fc' };
  return exportVolume(h.admin, request);
}

async function pluginVolume(h: SimHandle, cpg: string, name = arrayVolumeName(randomUUID(), false)): Promise<string> {
  await h.admin.createVolume({ name, cpg, sizeMiB: 1024, tpvv: true });
  return name;
}

/**
 * On both arrays: `orphan` exported to this host (A) and to host B, `other` to this host. Only the orphan's LUN is
 * on this host (sdc); etcd has no record of either.
 */
async function orphanOnBothArrays(): Promise<{ orphan: string; other: string }> {
  const { primary, secondary } = world.env;
  const orphan = await pluginVolume(primary, 'FC_r1');
  await pluginVolume(secondary, 'SEC_r1', orphan);
  const other = await pluginVolume(primary, 'FC_r1');
  await pluginVolume(secondary, 'SEC_r1', other);
  for (const h of [primary, secondary]) {
    await exportTo(h, orphan, A.hostname, HBA_WWN);
    await exportTo(h, orphan, 'host-node-b', '10000090fa1b2c3e');
    await exportTo(h, other, A.hostname, HBA_WWN);
  }
  tree.addScsiDisk('sdc', (await primary.admin.getVolume(orphan)).wwn.toLowerCase());
  return { orphan, other };
}

/**
 * This host's plugin on [DEFAULT] (Peer Persistence to sim2), its host side the fake tree; the target reached at
 * `targetUrl` (default: the secondary simulator).
 */
async function plugin(targetUrl?: string): Promise<VolumeManager> {
  const { primary, secondary } = world.env;
  // The backend's init reads GET /system once: the answer of a real array.
  primary.sim.failNext('GET', /^\/api\/v1\/system$/, 200, { ...(await primary.admin.getSystem()), model: 'HPE_3PAR 8200' });
  const env: Pick<VolumeEnv, 'etcd' | 'client' | 'primary' | 'secondary' | 'logger'> = {
    ...world.env,
    secondary: targetUrl === undefined ? secondary : { ...secondary, sim: { ...secondary.sim, apiUrl: targetUrl } },
  };
  const m = await hostManager(env, world.root, A, { replication: PEER_PERSISTENCE }, { host: tree.env(new FakeCommands(), systemClock) });
  managers.push(m);
  assert.equal(m.backendStates().find((s) => s.name === 'DEFAULT')?.state, 'OK');
  return m;
}

interface LogLine {
  level: number;
  msg: string;
  backend?: string;
  arrayName?: string;
  err?: string;
}

/** The warnings logged since line `from`. */
function warningsSince(from: number): LogLine[] {
  return world.env.logLines
    .slice(from)
    .map((l) => JSON.parse(l) as LogLine)
    .filter((l) => l.level === 40);
}

async function vlunsOf(volume: string): Promise<{ primary: string[]; target: string[] }> {
  return { primary: await vlunHosts(world.env.primary, volume), target: await vlunHosts(world.env.secondary, volume) };
}

test('a device no record holds, found by WWN, while the replication target does not answer: released on the primary at once, a warning names what is left on the target', async () => {
  const { orphan, other } = await orphanOnBothArrays();
  const nothingListens = `http://127.0.0.1:${await freePort()}/api/v1`;
  const logged = world.env.logLines.length;

  const m = await plugin(nothingListens);
  assert.equal(m.backendStates().find((s) => s.name === 'DEFAULT')?.target?.state, 'FAILED', 'the target does not answer');
  const report = await m.repair();

  assert.deepEqual(report.host.actions.map((a) => [a.volume, a.action]), [[orphan, 'detached']]);
  assert.deepEqual(report.host.left, []);
  assert.equal(tree.read('sys/block/sdc/device/delete'), '1', 'its SCSI path deleted on this host');
  assert.deepEqual(await vlunsOf(orphan), { primary: ['host-node-b'], target: ['host-node-a', 'host-node-b'] }, "this host's VLUN removed on the primary only; other hosts' VLUNs stay");
  assert.deepEqual(await vlunsOf(other), { primary: ['host-node-a'], target: ['host-node-a'] }, "a volume not attached here keeps this host's VLUNs");
  assert.deepEqual((await new MountIntentStore(world.env.client).listForNode(A.node)).intents, [], 'nothing left for the background repair: the target was never tried');

  const onlyPrimary = warningsSince(logged).filter((l) => /on the primary array only/.test(l.msg));
  assert.equal(onlyPrimary.length, 1, JSON.stringify(warningsSince(logged)));
  const w = onlyPrimary[0]!;
  assert.equal(w.backend, 'DEFAULT');
  assert.equal(w.arrayName, orphan, 'names the volume whose VLUN may be left');
  assert.match(w.msg, /the replication target does not answer, so a VLUN of it there for this host, if any, is left/);
  assert.match(w.err ?? '', /Replication target sim2 of backend 'DEFAULT' is not available/, 'names the target array');
});

test('a device no record holds, found by WWN, while the replication target answers: released on both arrays, as Peer Persistence exports from both', async () => {
  const { orphan, other } = await orphanOnBothArrays();
  const logged = world.env.logLines.length;

  const m = await plugin();
  assert.equal(m.backendStates().find((s) => s.name === 'DEFAULT')?.target?.state, 'OK');
  const report = await m.repair();

  assert.deepEqual(report.host.actions.map((a) => [a.volume, a.action]), [[orphan, 'detached']]);
  assert.deepEqual(report.host.left, []);
  assert.equal(tree.read('sys/block/sdc/device/delete'), '1', 'its SCSI path deleted on this host');
  assert.deepEqual(await vlunsOf(orphan), { primary: ['host-node-b'], target: ['host-node-b'] }, "this host's VLUNs removed on both arrays; other hosts' VLUNs stay");
  assert.deepEqual(await vlunsOf(other), { primary: ['host-node-a'], target: ['host-node-a'] }, "a volume not attached here keeps this host's VLUNs");
  assert.deepEqual(warningsSince(logged).filter((l) => /on the primary array only/.test(l.msg)), [], 'no warning: nothing is left');
});
