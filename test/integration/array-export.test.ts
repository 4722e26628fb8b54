/**
 * exportVolume / unexportVolume against a real simulator: hosts, paths, CHAP, VLUNs on the chosen ports, the
 * connection a host attaches with, and the cleanup on unexport.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ChapMetadataKeys,
  ExportError,
  HostPersonas,
  WsapiClient,
  WsapiError,
  exportVolume,
  isSimulator,
  isNotFound,
  unexportVolume,
  type Connection,
  type ExportRequest,
  type Port,
} from '../../src/array/index.js';
import { maskKnownSecrets } from '../../src/log.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.js';

const portals = ['10.0.0.1', '10.0.0.2', '10.0.0.3'];
const configuredIps = ['10.0.0.1', '10.0.0.3'];

let parent: string;
let stateDir: string;
let sim: RunningSimulator;
let c: WsapiClient;
let volumeNo = 0;

async function newVolume(): Promise<string> {
  const name = `dcv-export-${++volumeNo}`;
  await c.createVolume({ name, cpg: 'FC_r1', sizeMiB: 1024, tpvv: true });
  return name;
}

function iscsiRequest(volume: string, hostname: string, extra: Partial<ExportRequest> = {}): ExportRequest {
  return {
    volume,
    hostname,
    initiators: { iscsiNames: [`iqn.1994-05.com.redhat:${hostname}`], fcWwns: [] },
    transport: 'iscsi',
    iscsiIps: configuredIps,
    ...extra,
  };
}

async function templates(volume: string): Promise<{ hostname: string | undefined; lun: number; nsp: string }[]> {
  return (await c.getVolumeVluns(volume))
    .filter((v) => !v.active)
    .map((v) => ({ hostname: v.hostname, lun: v.lun, nsp: v.portPos === undefined ? '' : `${v.portPos.node}:${v.portPos.slot}:${v.portPos.cardPort}` }))
    .sort((a, b) => a.nsp.localeCompare(b.nsp));
}

async function hostExists(name: string): Promise<boolean> {
  try {
    await c.getHost(name);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  assert.fail('expected the call to fail');
}

function iscsi(conn: Connection): Extract<Connection, { transport: 'iscsi' }> {
  assert.equal(conn.transport, 'iscsi');
  return conn as Extract<Connection, { transport: 'iscsi' }>;
}

before(async () => {
  parent = mkdtempSync(join(tmpdir(), 'array-export-'));
  stateDir = join(parent, 'sim-a');
  mkdirSync(stateDir);
  sim = await startSimulator({ listen: { host: '127.0.0.1', port: 0 }, stateDir, iscsiPortals: portals });
  c = new WsapiClient({ apiUrl: sim.apiUrl, username: '3paradm', password: '3pardata', retry: { attempts: 1 } });
});

after(async () => {
  await c.close();
  await sim.stop();
  rmSync(parent, { recursive: true, force: true });
});

describe('iSCSI export', () => {
  it('creates the host and one VLUN per configured ready port, and returns their portals, IQNs and one LUN', async () => {
    const volume = await newVolume();
    const conn = iscsi(await exportVolume(c, iscsiRequest(volume, 'node1.example.com')));

    const host = await c.getHost('node1');
    assert.deepEqual(host.iSCSIPaths.map((p) => p.name), ['iqn.1994-05.com.redhat:node1.example.com']);
    assert.equal(host.persona, HostPersonas.GENERIC_ALUA);

    const ports = (await c.getPorts()).filter((p: Port) => p.IPAddr !== undefined && configuredIps.includes(p.IPAddr));
    assert.equal(ports.length, 2);
    assert.deepEqual(
      conn.targets,
      ports.map((p) => ({ portal: `${p.IPAddr}:3260`, iqn: p.iSCSIName })),
    );
    assert.deepEqual(await templates(volume), ports.map((p) => ({ hostname: 'node1', lun: conn.lun, nsp: `${p.portPos.node}:${p.portPos.slot}:${p.portPos.cardPort}` })));
    assert.equal(conn.wwn, (await c.getVolume(volume)).wwn);
    assert.equal(conn.chap, undefined);
  });

  it('is idempotent: a second export reuses the VLUNs and answers the same', async () => {
    const volume = await newVolume();
    const req = iscsiRequest(volume, 'node2');
    const first = await exportVolume(c, req);
    const vlunsBefore = await templates(volume);
    const second = await exportVolume(c, req);
    assert.deepEqual(second, first);
    assert.deepEqual(await templates(volume), vlunsBefore);
  });

  it('gives a second volume on the same host its own LUN', async () => {
    const [v1, v2] = [await newVolume(), await newVolume()];
    const a = await exportVolume(c, iscsiRequest(v1, 'node3'));
    const b = await exportVolume(c, iscsiRequest(v2, 'node3'));
    assert.notEqual(a.lun, b.lun);
    assert.equal((await c.getHostVluns('node3')).filter((v) => !v.active).length, 4);
  });

  it('reuses a host that owns the initiator under another name, and adds missing paths to a host found by name', async () => {
    await c.createHost({ name: 'renamed-by-admin', iSCSINames: ['iqn.1994-05.com.redhat:node4'] });
    await exportVolume(c, iscsiRequest(await newVolume(), 'node4'));
    assert.equal(await hostExists('node4'), false);
    assert.equal((await c.getHostVluns('renamed-by-admin')).filter((v) => !v.active).length, 2);

    await c.createHost({ name: 'node5' });
    await exportVolume(c, iscsiRequest(await newVolume(), 'node5'));
    assert.deepEqual((await c.getHost('node5')).iSCSIPaths.map((p) => p.name), ['iqn.1994-05.com.redhat:node5']);
  });

  it('refuses clearly when no ready port has a configured IP, and leaves nothing behind', async () => {
    const volume = await newVolume();
    const err = await failure(exportVolume(c, iscsiRequest(volume, 'node6', { iscsiIps: ['10.9.9.9'] })));
    assert.ok(err instanceof ExportError, String(err));
    assert.match(err.message, new RegExp(`${volume}.*hpe3par_iscsi_ips \\(10\\.9\\.9\\.9\\).*10\\.0\\.0\\.1.*10\\.0\\.0\\.2.*10\\.0\\.0\\.3`));
    assert.match(err.fix, /hpe3par_iscsi_ips/);
    assert.deepEqual(await templates(volume), []);
    assert.equal(await hostExists('node6'), false);
  });

  it('points simulatorVolumeFile at the volume file, relative to the parent of the state folder', async () => {
    const volume = await newVolume();
    const conn = await exportVolume(c, iscsiRequest(volume, 'node7'));
    assert.equal(conn.simulatorVolumeFile, `sim-a/volumes/${volume}.img`);
    assert.ok(existsSync(join(parent, conn.simulatorVolumeFile)));
    assert.equal(isSimulator(await c.getSystem()), true);
  });
});

describe('CHAP', () => {
  it('stores a new secret as volume metadata, sets it on the host, and reuses it for the next volume', async () => {
    const [v1, v2] = [await newVolume(), await newVolume()];
    const a = iscsi(await exportVolume(c, iscsiRequest(v1, 'chap1.example.com', { chap: true })));
    assert.ok(a.chap !== undefined);
    assert.equal(a.chap.username, 'chap1.example.com');
    assert.match(a.chap.secret, /^[A-Za-z0-9]{16}$/);
    assert.equal((await c.getVolumeMetadata(v1, ChapMetadataKeys.SECRET)).value, a.chap.secret);
    assert.equal((await c.getVolumeMetadata(v1, ChapMetadataKeys.NAME)).value, 'chap1.example.com');
    const host = await c.getHost('chap1');
    assert.equal(host.initiatorChapEnabled, true);
    assert.equal(host.initiatorChapName, 'chap1.example.com');

    const b = iscsi(await exportVolume(c, iscsiRequest(v2, 'chap1.example.com', { chap: true })));
    assert.deepEqual(b.chap, a.chap);
    assert.equal((await c.getVolumeMetadata(v2, ChapMetadataKeys.SECRET)).value, a.chap.secret);
    assert.equal(maskKnownSecrets(`iscsiadm ... node.session.auth.password=${a.chap.secret}`).includes(a.chap.secret), false);
  });

  it('never lets the secret into an error, even when the array echoes it', async () => {
    const [v1, v2] = [await newVolume(), await newVolume()];
    const a = iscsi(await exportVolume(c, iscsiRequest(v1, 'chap2', { chap: true })));
    const secret = a.chap?.secret ?? '';
    sim.failNext('PUT', /\/hosts\/chap2$/, 400, { code: 12, desc: `invalid input: chapSecret ${secret} rejected` });
    const err = await failure(exportVolume(c, iscsiRequest(v2, 'chap2', { chap: true })));
    assert.ok(err instanceof WsapiError, String(err));
    assert.equal(err.code, 12);
    for (const text of [err.message, err.desc, err.describe(), err.stack ?? '']) assert.equal(text.includes(secret), false, text);
    assert.match(err.message, /chapSecret \[REDACTED\] rejected/);
  });
});

describe('FC export', () => {
  it("creates an FC host and exports on the FC target ports its WWNs are logged in to", async () => {
    const volume = await newVolume();
    const conn = await exportVolume(c, {
      volume,
      hostname: 'fcnode.example.com',
      initiators: { iscsiNames: [], fcWwns: ['10:00:00:00:c9:aa:bb:01', '10:00:00:00:c9:aa:bb:02'] },
      transport: 'fc',
    });
    assert.equal(conn.transport, 'fc');
    if (conn.transport !== 'fc') return;
    const fcPorts = (await c.getPorts()).filter((p) => p.protocol === 1);
    assert.deepEqual(conn.targetWwns, fcPorts.map((p) => p.portWWN));
    assert.deepEqual((await c.getHost('fcnode')).FCPaths.map((p) => p.wwn).sort(), ['10000000C9AABB01', '10000000C9AABB01', '10000000C9AABB02', '10000000C9AABB02']);
    assert.deepEqual([...new Set((await templates(volume)).map((v) => `${v.hostname} ${v.lun}`))], [`fcnode ${conn.lun}`]);
    assert.equal((await templates(volume)).length, 2);
    assert.equal(conn.simulatorVolumeFile, `sim-a/volumes/${volume}.img`);
  });
});

describe('unexport', () => {
  it("removes this host's VLUNs and the CHAP keys, and the host only once it has no VLUN left", async () => {
    const [v1, v2] = [await newVolume(), await newVolume()];
    await exportVolume(c, iscsiRequest(v1, 'gone.example.com', { chap: true }));
    await exportVolume(c, iscsiRequest(v2, 'gone.example.com', { chap: true }));
    await exportVolume(c, iscsiRequest(v1, 'other'));
    const req = { volume: v1, hostname: 'gone.example.com', initiators: { iscsiNames: ['iqn.1994-05.com.redhat:gone.example.com'], fcWwns: [] }, transport: 'iscsi' as const };

    await unexportVolume(c, req);
    assert.deepEqual([...new Set((await templates(v1)).map((v) => v.hostname))], ['other']);
    assert.deepEqual(await c.getAllVolumeMetadata(v1), []);
    assert.equal(await hostExists('gone'), true);

    await unexportVolume(c, { ...req, volume: v2 });
    assert.deepEqual(await templates(v2), []);
    assert.equal(await hostExists('gone'), false);

    await unexportVolume(c, req);
    await unexportVolume(c, { ...req, volume: 'dcv-never-existed' });
    assert.equal(await hostExists('other'), true);
  });

  it('finds an FC host by its WWNs and removes it with its last VLUN', async () => {
    const volume = await newVolume();
    const initiators = { iscsiNames: [], fcWwns: ['10:00:00:00:c9:cc:dd:01'] };
    await c.createHost({ name: 'fc-admin-name', FCWWNs: ['10000000C9CCDD01'] });
    await exportVolume(c, { volume, hostname: 'fcnode2', initiators, transport: 'fc' });
    await unexportVolume(c, { volume, hostname: 'fcnode2', initiators, transport: 'fc' });
    assert.deepEqual(await templates(volume), []);
    assert.equal(await hostExists('fc-admin-name'), false);
  });
});
