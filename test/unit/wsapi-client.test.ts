import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import {
  WsapiClient,
  WsapiCodes,
  WsapiConnectionError,
  WsapiError,
  hpe3parClientText,
  hasCode,
  isNotFound,
  parseVlunLocation,
  readyFcTargetPorts,
  readyIscsiTargetPorts,
  wsapiFeatures,
  type WsapiClientOptions,
} from '../../src/array/index.js';
import { HpeError } from '../../src/errors.js';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../src/simulator/index.js';
import { InstantClock } from '../support/clock.js';

const password = 'S3cr3t-Pa55word';
const users = { '3paradm': password };
const dirs: string[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'wsapi-client-test-'));
  dirs.push(d);
  return d;
}

async function simulator(options: Partial<SimulatorOptions> = {}): Promise<RunningSimulator> {
  return startSimulator({ listen: { host: '127.0.0.1', port: 0 }, stateDir: tempDir(), users, ...options });
}

/** A client whose sleeps are recorded, not waited. */
function client(sim: { apiUrl: string; certPem?: string }, options: Partial<WsapiClientOptions> = {}): { c: WsapiClient; sleeps: number[] } {
  const clock = new InstantClock();
  const c = new WsapiClient({ apiUrl: sim.apiUrl, username: '3paradm', password, clock, ...options });
  return { c, sleeps: clock.sleeps };
}

function logins(sim: RunningSimulator): number {
  return sim.requestLog.filter((r) => r.method === 'POST' && r.path === '/api/v1/credentials').length;
}

async function rejectsWith<T extends Error>(p: Promise<unknown>, type: new (...args: never[]) => T): Promise<T> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof type, `expected ${type.name}, got ${String(err)}`);
    return err;
  }
  assert.fail(`expected ${type.name}, but the call succeeded`);
}

after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('WsapiClient sessions', () => {
  let sim: RunningSimulator;
  before(async () => {
    sim = await simulator();
  });
  after(() => sim.stop());

  it('logs in once and reuses the session for many calls', async () => {
    const { c } = client(sim);
    const before = logins(sim);
    await c.getSystem();
    await c.getCpgs();
    await c.createVolume({ name: 'reuse1', cpg: 'FC_r1', sizeMiB: 256, tpvv: true });
    await c.getVolume('reuse1');
    await c.deleteVolume('reuse1');
    for (let i = 0; i < 5; i++) await c.queryVolumes();
    assert.equal(logins(sim) - before, 1);
    await c.close();
  });

  it('shares one login among concurrent first calls', async () => {
    const { c } = client(sim);
    const before = logins(sim);
    await Promise.all([c.getSystem(), c.getCpgs(), c.getPorts(), c.getHosts(), c.queryVolumes()]);
    assert.equal(logins(sim) - before, 1);
    await c.close();
  });

  it('logs in again exactly once when the session expires in the middle of a sequence', async () => {
    const { c } = client(sim);
    const before = logins(sim);
    await c.createVolume({ name: 'seq1', cpg: 'FC_r1', sizeMiB: 256, tpvv: true });
    sim.expireAllSessions();
    await c.createSnapshot('seq1', 'seq1-snap');
    await c.deleteVolume('seq1-snap');
    await c.deleteVolume('seq1');
    assert.equal(logins(sim) - before, 2);
    const expired = sim.requestLog.filter((r) => r.status === 403);
    assert.ok(expired.some((r) => r.path === '/api/v1/volumes/seq1' && r.method === 'POST'));
    await c.close();
  });

  it('concurrent calls that hit an expired key share one re-login', async () => {
    const { c } = client(sim);
    await c.getSystem();
    sim.expireAllSessions();
    const before = logins(sim);
    await Promise.all([c.getSystem(), c.getCpgs(), c.getPorts(), c.getHosts(), c.queryVolumes()]);
    assert.equal(logins(sim) - before, 1);
    await c.close();
  });

  it('recovers from a key that expired by age', async () => {
    // Long enough that a slow machine does not see the key expire within the first call; stopped whatever happens,
    // or a failed assertion would leave the simulator listening and the file would never end.
    const short = await simulator({ sessionTtlMs: 300 });
    const { c } = client(short);
    try {
      await c.getSystem();
      await delay(450);
      await c.getSystem();
      assert.equal(logins(short), 2);
    } finally {
      await c.close();
      await short.stop();
    }
  });

  it('does not log in again on a 403 other than code 6 (permission denied)', async () => {
    const { c } = client(sim);
    await c.getSystem();
    const before = logins(sim);
    sim.failNext('GET', /\/api\/v1\/cpgs\/FC_r1$/, 403, { code: 13, desc: 'permission denied' });
    const err = await rejectsWith(c.getCpg('FC_r1'), WsapiError);
    assert.equal(err.status, 403);
    assert.equal(err.code, WsapiCodes.PERM_DENIED);
    assert.equal(err.call, 'GET /cpgs/FC_r1');
    assert.match(err.message, /PERM_DENIED/);
    assert.equal(logins(sim) - before, 0);
    assert.equal(sim.requestLog.filter((r) => r.path === '/api/v1/cpgs/FC_r1').length, 1);
    await c.close();
  });

  it('logout deletes the session on the array; the next call logs in again', async () => {
    const { c } = client(sim);
    await c.getSystem();
    await c.logout();
    assert.equal(sim.requestLog.at(-1)?.path, '/api/v1/credentials/<key>');
    assert.equal(sim.requestLog.at(-1)?.status, 200);
    const before = logins(sim);
    await c.getSystem();
    assert.equal(logins(sim) - before, 1);
    await c.close();
  });

  it('refuses a wrong password with code 5 and a message without the password', async () => {
    const { c } = client(sim, { password: 'Wr0ng-Secret-99' });
    const err = await rejectsWith(c.getSystem(), WsapiError);
    assert.equal(err.status, 403);
    assert.equal(err.code, WsapiCodes.INV_USER_PASS);
    assert.match(err.message, /login as "3paradm"/);
    assert.match(err.message, /INV_USER_PASS/);
    assert.match(err.fix, /hpe3par_password/);
    assert.equal(err.retryable, false);
    assert.ok(!err.message.includes('Wr0ng-Secret-99') && !err.describe().includes('Wr0ng-Secret-99'));
    assert.ok(!err.message.includes(password));
  });

  it('tells its outcome observers: an answer is ok, a refused login or a transport error is a failure', async () => {
    const seen: string[] = [];
    const observe = (c: WsapiClient) =>
      c.onOutcome((o) => seen.push(o.ok ? 'ok' : `${o.error.constructor.name}: ${o.error.call}`));
    const { c } = client(sim);
    observe(c);
    await c.getApiVersion();
    await c.getSystem();
    await rejectsWith(c.getVolume('no-such-volume'), WsapiError);
    const bad = client(sim, { password: 'Wr0ng-Secret-99' }).c;
    observe(bad);
    await rejectsWith(bad.getSystem(), WsapiError);
    const gone = await simulator();
    const down = client(gone, { retry: { attempts: 1 } }).c;
    await down.getApiVersion();
    await gone.stop();
    observe(down);
    await rejectsWith(down.getApiVersion(), WsapiConnectionError);
    assert.deepEqual(seen, ['ok', 'ok', 'ok', 'WsapiError: POST /credentials (login as "3paradm")', 'WsapiConnectionError: GET /api']);
    await Promise.all([c.close(), bad.close(), down.close()]);
    assert.equal(seen.length, 5, 'close() tells nothing');
  });

  it('scrubs the password and the session key from any text the array sends back', async () => {
    const { c } = client(sim);
    await c.getSystem();
    sim.failNext('GET', /\/system$/, 400, { code: 12, desc: `bad input near ${password}` });
    const err = await rejectsWith(c.getSystem(), WsapiError);
    assert.ok(!err.message.includes(password));
    assert.match(err.message, /near \[REDACTED\]/);
    sim.failNext('GET', /\/system$/, 400, { code: 12, desc: 'bad', ref: `ref ${password}`, debug1: `d1 ${password}`, debug2: `d2 ${password}` });
    const again = await rejectsWith(c.getSystem(), WsapiError);
    assert.equal(hpe3parClientText(again), "Bad request (HTTP 400) 12 - bad - ref [REDACTED] (1: 'd1 [REDACTED]') (2: 'd2 [REDACTED]')");
    await c.close();
  });
});

describe('WsapiClient password rotation', () => {
  let sim: RunningSimulator;
  before(async () => {
    sim = await simulator();
  });
  after(() => sim.stop());

  it('logs in with the new password while calls keep the old session, then logs the old session out', async () => {
    const { c } = client(sim);
    await c.getSystem();
    sim.setPassword('3paradm', 'N3w-Pa55word');
    const before = sim.requestLog.length;
    // A call sent while the rotation logs in is served by the session it started with.
    await Promise.all([c.rotateCredentials('N3w-Pa55word'), c.getCpgs()]);
    const during = sim.requestLog.slice(before);
    assert.deepEqual(
      during.filter((r) => r.path.startsWith('/api/v1/credentials')).map((r) => `${r.method} ${r.path} ${r.status}`),
      ['POST /api/v1/credentials 201', 'DELETE /api/v1/credentials/<key> 200'],
    );
    assert.ok(during.every((r) => r.status < 400), 'no call failed during the rotation');
    // Later logins (after an expiry) use the new password.
    sim.expireAllSessions();
    await c.getSystem();
    await c.close();
  });

  it('keeps the old session when the array refuses the new password, and says so without the value', async () => {
    sim.setPassword('3paradm', password);
    const { c } = client(sim);
    await c.getSystem();
    const outcomes: boolean[] = [];
    c.onOutcome((o) => outcomes.push(o.ok));
    const err = await rejectsWith(c.rotateCredentials('N0t-Acc3pted'), WsapiError);
    assert.equal(err.code, WsapiCodes.INV_USER_PASS);
    assert.ok(!err.describe().includes('N0t-Acc3pted') && !err.describe().includes(password));
    const logins0 = logins(sim);
    await c.getCpgs();
    assert.equal(logins(sim), logins0, 'the old session still serves');
    assert.deepEqual(outcomes, [true], 'a refused rotation is not an outage of the array');
    // ... and the old password too, after an expiry.
    sim.expireAllSessions();
    await c.getSystem();
    await c.close();
  });
});

describe('WsapiClient retries', () => {
  let sim: RunningSimulator;
  before(async () => {
    sim = await simulator();
  });
  after(() => sim.stop());

  it('retries a 503 with exponential backoff, and the count starts afresh for the next call', async () => {
    const { c, sleeps } = client(sim);
    await c.getSystem();
    for (let i = 0; i < 3; i++) sim.failNext('GET', /\/system$/, 503);
    assert.equal((await c.getSystem()).name, 'simulator');
    assert.deepEqual(sleeps, [1000, 2000, 4000]);
    sleeps.length = 0;
    sim.failNext('GET', /\/cpgs$/, 503);
    await c.getCpgs();
    assert.deepEqual(sleeps, [1000]);
    sleeps.length = 0;
    await c.getCpgs();
    assert.deepEqual(sleeps, []);
    await c.close();
  });

  it('gives up after the attempts with a retryable 503 error; delays are capped', async () => {
    const { c, sleeps } = client(sim, { retry: { attempts: 5, baseDelayMs: 1000, maxDelayMs: 3000 } });
    await c.getSystem();
    for (let i = 0; i < 5; i++) sim.failNext('GET', /\/system$/, 503);
    const err = await rejectsWith(c.getSystem(), WsapiError);
    assert.equal(err.status, 503);
    assert.equal(err.retryable, true);
    assert.deepEqual(sleeps, [1000, 2000, 3000, 3000]);
    await c.close();
  });

  it('retries a POST answered 503 (the array did not process it)', async () => {
    const { c, sleeps } = client(sim);
    sim.failNext('POST', /\/api\/v1\/volumes$/, 503);
    await c.createVolume({ name: 'retry503', cpg: 'FC_r1', sizeMiB: 256, tpvv: true });
    assert.equal((await c.getVolume('retry503')).sizeMiB, 256);
    assert.deepEqual(sleeps, [1000]);
    await c.deleteVolume('retry503');
    await c.close();
  });

  it('retries a GET whose connection dropped', async () => {
    const { c, sleeps } = client(sim);
    await c.getSystem();
    sim.failNext('GET', /\/system$/, 'drop');
    await c.getSystem();
    assert.deepEqual(sleeps, [1000]);
    await c.close();
  });

  it('does not resend a POST whose connection dropped: the outcome is unknown', async () => {
    const { c, sleeps } = client(sim);
    await c.getSystem();
    const posts = (): number => sim.requestLog.filter((r) => r.method === 'POST' && r.path === '/api/v1/volumes').length;
    const before = posts();
    sim.failNext('POST', /\/api\/v1\/volumes$/, 'drop');
    const err = await rejectsWith(c.createVolume({ name: 'dropped', cpg: 'FC_r1', sizeMiB: 256 }), WsapiConnectionError);
    assert.equal(err.reason, 'reset');
    assert.equal(err.outcomeUnknown, true);
    assert.equal(err.retryable, false);
    assert.match(err.message, /may or may not have applied it/);
    assert.deepEqual(sleeps, []);
    assert.equal(posts() - before, 1);
    assert.ok(isNotFound(await c.getVolume('dropped').catch((e: unknown) => e)));
    await c.close();
  });

  it('retries a refused connection, then names the URL and the reason', async () => {
    const closed = await simulator();
    const url = closed.apiUrl;
    await closed.stop();
    const { c, sleeps } = client({ apiUrl: url }, { retry: { attempts: 3 } });
    const err = await rejectsWith(c.getSystem(), WsapiConnectionError);
    assert.equal(err.reason, 'refused');
    assert.equal(err.retryable, true);
    assert.ok(err.message.startsWith(url), err.message);
    assert.match(err.message, /ECONNREFUSED/);
    assert.deepEqual(sleeps, [1000, 2000]);
  });

  it('times out a silent array without retrying', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    const { c, sleeps } = client({ apiUrl: `http://127.0.0.1:${port}/api/v1` }, { timeoutMs: 100 });
    const err = await rejectsWith(c.getApiVersion(), WsapiConnectionError);
    assert.equal(err.reason, 'timeout');
    assert.match(err.message, /within 100 ms/);
    assert.deepEqual(sleeps, []);
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => silent.close(resolve));
    await c.close();
  });
});

describe('WsapiClient TLS', () => {
  let sim: RunningSimulator;
  let other: RunningSimulator;
  before(async () => {
    sim = await simulator({ tls: true });
    other = await simulator({ tls: true });
  });
  after(async () => {
    await sim.stop();
    await other.stop();
  });

  it("verifies the simulator's self-signed certificate given as the CA", async () => {
    assert.ok(sim.certPem?.includes('BEGIN CERTIFICATE'));
    const { c } = client(sim, { caCert: sim.certPem! });
    assert.equal(c.verifiesTls, true);
    assert.match((await c.getSystem()).model, /Simulator/);
    await c.close();
  });

  it('fails clearly, without retrying, against a wrong CA', async () => {
    const { c, sleeps } = client(sim, { caCert: other.certPem! });
    const err = await rejectsWith(c.getSystem(), WsapiConnectionError);
    assert.equal(err.reason, 'tls');
    assert.match(err.message, /TLS verification failed/);
    assert.ok(err.message.includes(sim.apiUrl));
    assert.match(err.fix, /CA certificate/);
    assert.deepEqual(sleeps, []);
    await c.close();
  });

  it('does not verify without a CA (as upstream) and says so', async () => {
    const { c } = client(sim);
    assert.equal(c.verifiesTls, false);
    await c.getSystem();
    await c.close();
  });
});

describe('WsapiClient version gates and calls', () => {
  it('reads the version without a session and gates features by build', async () => {
    const sim = await simulator();
    const { c } = client(sim);
    const v = await c.getApiVersion();
    assert.equal(v.build, 30301460);
    assert.equal(logins(sim), 0);
    assert.equal(sim.requestLog[0]?.path, '/api');
    assert.deepEqual(await c.features(), { supported: true, dedup: true, flashCache: true, vlunQuery: true, compression: true, primera: false });
    assert.equal(wsapiFeatures(30201200).compression, false);
    assert.equal(wsapiFeatures(30201200).flashCache, true);
    assert.equal(wsapiFeatures(30201119).dedup, false);
    assert.equal(wsapiFeatures(30301215).compression, true);
    assert.equal(wsapiFeatures(40000128).primera, true);
    await c.close();
    await sim.stop();
  });

  it('sends dedup+compression as reduce to a Primera, and refuses one without the other before any request', async () => {
    const sim = await simulator({ wsapiBuild: 40000128 });
    const { c } = client(sim);
    await c.createVolume({ name: 'prim1', cpg: 'FC_r1', sizeMiB: 16384, tdvv: true, compression: true });
    const v = await c.getVolume('prim1');
    assert.equal(v.provisioningType, 6);
    assert.equal(v.compressionState, 1);
    await c.createVolume({ name: 'prim2', cpg: 'FC_r1', sizeMiB: 1024 });
    assert.equal((await c.getVolume('prim2')).provisioningType, 2);
    const posts = sim.requestLog.filter((r) => r.method === 'POST' && r.path === '/api/v1/volumes').length;
    await rejectsWith(c.createVolume({ name: 'prim3', cpg: 'FC_r1', sizeMiB: 16384, tdvv: true }), HpeError);
    assert.equal(sim.requestLog.filter((r) => r.method === 'POST' && r.path === '/api/v1/volumes').length, posts);
    await c.close();
    await sim.stop();
  });

  it('lists VLUNs without a query on builds before 30201292', async () => {
    const sim = await simulator({ wsapiBuild: 30201200 });
    const { c } = client(sim);
    await c.createVolume({ name: 'old1', cpg: 'FC_r1', sizeMiB: 256, tpvv: true });
    await c.createHost({ name: 'oldhost', iSCSINames: ['iqn.2024-01.test:old'] });
    await c.createVlun({ volumeName: 'old1', hostname: 'oldhost', lun: 'auto' });
    const vluns = await c.getVolumeVluns('old1');
    assert.ok(vluns.length >= 1 && vluns.every((v) => v.volumeName === 'old1'));
    assert.equal(sim.requestLog.filter((r) => r.path === '/api/v1/vluns' && r.method === 'GET').at(-1)?.query, undefined);
    assert.deepEqual(await c.getHostVluns('nobody'), []);
    await c.close();
    await sim.stop();
  });

  it('covers the driver calls end to end: clone, metadata, sets, QoS, ports, tasks', async () => {
    const sim = await simulator();
    const { c } = client(sim);
    await c.createVolume({ name: 'src1', cpg: 'FC_r1', sizeMiB: 512, tpvv: true, snapCPG: 'FC_r5', comment: '{"type":"Docker"}' });
    const online = await c.copyVolume('src1', 'clone1', { online: true, destCPG: 'FC_r1', tpvv: true, snapCPG: 'FC_r5' });
    assert.equal((await c.waitForTask(online.taskid, { pollIntervalMs: 5 })).status, 1);
    await c.createVolume({ name: 'clone2', cpg: 'FC_r1', sizeMiB: 512, tpvv: true });
    const offline = await c.copyVolume('src1', 'clone2', { online: false, destCPG: 'ignored-offline', priority: 1 });
    await c.waitForTask(offline.taskid, { pollIntervalMs: 5 });
    assert.equal((await c.getVolume('clone2')).copyType, 1);
    await c.renameVolume('clone2', 'clone2b');
    await c.setVolumeComment('clone2b', 'renamed');
    assert.equal((await c.getVolume('clone2b')).comment, 'renamed');
    await c.growVolume('src1', 512);
    assert.equal((await c.getVolume('src1')).sizeMiB, 1024);

    await c.setVolumeMetadata('src1', 'HPQ-docker-CHAP-name', 'node1');
    await c.setVolumeMetadata('src1', 'HPQ-docker-CHAP-name', 'node2');
    assert.equal((await c.getVolumeMetadata('src1', 'HPQ-docker-CHAP-name')).value, 'node2');
    await c.deleteVolumeMetadata('src1', 'HPQ-docker-CHAP-name');
    assert.ok(isNotFound(await c.getVolumeMetadata('src1', 'HPQ-docker-CHAP-name').catch((e: unknown) => e)));

    await c.createVolumeSet({ name: 'vvs-1' });
    await c.setFlashCachePolicy('vvs-1', 1);
    await c.addVolumesToSet('vvs-1', ['src1']);
    assert.deepEqual((await c.getVolumeSet('vvs-1')).setmembers, ['src1']);
    assert.equal((await c.getVolumeSet('vvs-1')).flashCachePolicy, 1);
    const noRule = await c.getQosRule('vvs-1').catch((e: unknown) => e);
    assert.ok(hasCode(noRule, WsapiCodes.NON_EXISTENT_QOS_RULE));
    await c.createQosRule({ name: 'vvs-1', ioMaxLimit: 1000, bwMaxLimitKB: 2048 });
    assert.equal((await c.getQosRule('vvs-1')).ioMaxLimit, 1000);
    await c.deleteQosRule('vvs-1');
    await c.removeVolumesFromSet('vvs-1', ['src1']);
    await c.deleteVolumeSet('vvs-1');

    const ports = await c.getPorts();
    assert.deepEqual(readyIscsiTargetPorts(ports).map((p) => p.IPAddr), ['127.0.0.1', '127.0.0.2']);
    assert.equal(readyFcTargetPorts(ports).length, 2);

    const host = await c.createHost({ name: 'node1', iSCSINames: ['iqn.2024-01.test:node1'], persona: 2 });
    assert.equal(host.persona, 2);
    assert.deepEqual((await c.queryHosts({ iscsiNames: ['iqn.2024-01.test:node1'] })).map((h) => h.name), ['node1']);
    await c.modifyHost('node1', { chapOperation: 1, chapOperationMode: 1, chapName: 'node1', chapSecret: 'abcdefghijkl' });
    assert.equal((await c.getHost('node1')).initiatorChapName, 'node1');
    const [first, second] = readyIscsiTargetPorts(ports);
    const a = await c.createVlun({ volumeName: 'src1', hostname: 'node1', portPos: first!.portPos, lun: 'auto' });
    const b = await c.createVlun({ volumeName: 'src1', hostname: 'node1', portPos: second!.portPos, lun: a.lun });
    assert.equal(b.lun, a.lun);
    assert.equal(a.location, `src1,${a.lun},node1,0:2:1`);
    assert.equal((await c.getHostVluns('node1')).filter((v) => !v.active).length, 2);
    await c.deleteVlun('src1', a.lun, 'node1', first!.portPos);
    await c.deleteVlun('src1', b.lun, 'node1', second!.portPos);
    assert.deepEqual(await c.getVolumeVluns('src1'), []);
    await c.deleteHost('node1');
    assert.ok(isNotFound(await c.getHost('node1').catch((e: unknown) => e)));
    await c.close();
    await sim.stop();
  });
});

describe('pure helpers', () => {
  it('parses VLUN locations, with and without host or port', () => {
    assert.deepEqual(parseVlunLocation('/api/v1/vluns/dcv-abc,3,node1,0:2:1'), {
      volumeName: 'dcv-abc',
      lun: 3,
      hostname: 'node1',
      portPos: { node: 0, slot: 2, cardPort: 1 },
      location: 'dcv-abc,3,node1,0:2:1',
    });
    assert.deepEqual(parseVlunLocation('/api/v1/vluns/v,0,h'), { volumeName: 'v', lun: 0, hostname: 'h', location: 'v,0,h' });
    assert.deepEqual(parseVlunLocation('/api/v1/vluns/v,1,,1:2:1'), { volumeName: 'v', lun: 1, portPos: { node: 1, slot: 2, cardPort: 1 }, location: 'v,1,,1:2:1' });
    assert.throws(() => parseVlunLocation('/api/v1/vluns/v,x'), HpeError);
  });

  it('refuses a URL that is not a WSAPI URL', () => {
    assert.throws(() => new WsapiClient({ apiUrl: 'https://10.0.0.5:8080', username: 'u', password: 'p' }), /not a WSAPI URL/);
    assert.throws(() => new WsapiClient({ apiUrl: 'ftp://10.0.0.5/api/v1', username: 'u', password: 'p' }), /not a WSAPI URL/);
    assert.throws(() => new WsapiClient({ apiUrl: 'nonsense', username: 'u', password: 'p' }), /not a URL/);
  });

  it('names codes and keeps the WSAPI fields on the error', () => {
    const e = new WsapiError({ array: '10.0.0.5:8080', call: 'POST /volumes', status: 409, code: 22, desc: 'volume exists' });
    assert.equal(e.message, 'array 10.0.0.5:8080: POST /volumes failed: HTTP 409, WSAPI code 22 EXISTENT_VOL: volume exists');
    assert.ok(hasCode(e, WsapiCodes.EXISTENT_VOL));
    assert.ok(!isNotFound(e));
    assert.ok(e instanceof HpeError);
  });
});

describe('WsapiClient kept-alive connections', () => {
  it('does not reuse a connection that sat idle past the server\'s keep-alive window', async () => {
    const { createServer } = await import('node:http');
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url === '/api/v1/credentials') res.writeHead(201, { 'Content-Type': 'application/json' }).end('{"key":"k1"}');
        else res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"name":"s"}');
      });
    });
    server.keepAliveTimeout = 5000;
    const sockets = new Set<net.Socket>();
    server.on('connection', (s) => sockets.add(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const client = new WsapiClient({ apiUrl: `http://127.0.0.1:${port}/api/v1`, username: 'u', password: 'p' });
    try {
      await client.getSystem();
      const open = [...sockets].filter((s) => !s.destroyed).length;
      assert.equal(open, 1, 'one kept-alive connection after the first call');
      await delay(4300);
      assert.equal([...sockets].filter((s) => !s.destroyed).length, 0, 'the client closed it after 4 s idle, before the server\'s 5 s');
      await client.getSystem();
    } finally {
      await client.close().catch(() => undefined);
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
