/**
 * Backend lifecycle: INITIALIZING → OK | FAILED with a reason, independent backends, background retry with
 * capped backoff until the array comes up, close() stopping retries, and the one-shot probe for `check`.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { systemClock as realClock, waitFor, type Clock } from '../../src/clock.js';
import { INTENTS_PREFIX } from '../../src/etcd/index.js';
import { probeBackends, VolumeStore } from '../../src/volumes/index.js';
import { createVolumeManager, type VolumeManager } from '../../src/volumes/manager.js';
import { freePort } from '../../src/net.js';
import {
  PRIMARY_PASSWORD,
  SECONDARY_PASSWORD,
  WRONG_PASSWORD,
  buildConfig,
  clearArray,
  etcdKeys,
  managerFor,
  pluginVolumes,
  settled,
  startSim,
  startVolumeEnv,
  stopSim,
  type VolumeEnv,
} from '../fixtures/volume-env.js';

let env: VolumeEnv;

before(async () => {
  env = await startVolumeEnv();
});

after(async () => {
  const logs = env?.logLines.join('') ?? '';
  await env?.stop();
  for (const secret of [PRIMARY_PASSWORD, SECONDARY_PASSWORD, WRONG_PASSWORD]) assert.ok(!logs.includes(secret), 'a log line contains a password');
});

function state(m: VolumeManager, name: string) {
  return m.backendStates().find((s) => s.name === name);
}

describe('backend states', () => {
  test('each failure marks only its backend FAILED (a replication target only itself), with a reason the admin can act on', async () => {
    const { config, secrets } = buildConfig(env, {
      badPassword: true,
      downPort: 1,
      extra: [{ name: 'nocpg', apiUrl: env.primary.sim.apiUrl, cpg: 'FC_r9', password: PRIMARY_PASSWORD }],
    });
    // The replication target's password is wrong in [DEFAULT].
    secrets.set('DEFAULT', { ...secrets.get('DEFAULT'), 'replication_device.hpe3par_password': WRONG_PASSWORD });
    // [second] has no decrypted password: final, not retried.
    secrets.set('second', {});
    const m = createVolumeManager({ config, secrets, etcd: env.client, logger: env.logger, wsapi: { retry: { attempts: 1 } } });
    try {
      assert.ok(m.backendStates().every((s) => s.state === 'INITIALIZING'));
      await settled(m);
      const port = new URL(env.primary.sim.apiUrl).port;
      assert.deepEqual(m.backendStates(), [
        {
          name: 'DEFAULT',
          state: 'OK',
          target: { id: 'sim2', state: 'FAILED', reason: 'login failed: wrong user or password (WSAPI code 5) — check [DEFAULT].replication_device.hpe3par_username and [DEFAULT].replication_device.hpe3par_password' },
        },
        { name: 'second', state: 'FAILED', reason: 'the password hpe3par_password of [second] could not be decrypted — run `hpedockerplugin check`' },
        { name: 'badpw', state: 'FAILED', reason: 'login failed: wrong user or password (WSAPI code 5) — check [badpw].hpe3par_username and [badpw].hpe3par_password' },
        { name: 'down', state: 'FAILED', reason: 'array 127.0.0.1:1 refused the connection' },
        { name: 'nocpg', state: 'FAILED', reason: `CPG FC_r9 does not exist on the array 127.0.0.1:${port} — check [nocpg].hpe3par_cpg` },
      ]);
      // The target's failure is the target's: DEFAULT's plain volumes work, its replicated ones are refused.
      await m.create('v1', {});
      await assert.rejects(m.create('v1r', { replicationGroup: 'g1' }), {
        message:
          "ERROR: Replication target sim2 of backend 'DEFAULT' is not available: replicated operations are refused until it is OK; plain volumes of 'DEFAULT' keep working. Reason: login failed: wrong user or password (WSAPI code 5) — check [DEFAULT].replication_device.hpe3par_username and [DEFAULT].replication_device.hpe3par_password",
      });
      await m.remove('v1');
      assert.deepEqual(await pluginVolumes(env.primary), []);
    } finally {
      await m.close();
    }
  });

  test('a backend whose array does not answer stays INITIALIZING until its timeout', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const port = (silent.address() as net.AddressInfo).port;
    const { config, secrets } = buildConfig(env, { downPort: port });
    const m = createVolumeManager({ config, secrets, etcd: env.client, logger: env.logger, wsapi: { timeoutMs: 400, retry: { attempts: 1 } } });
    try {
      await waitFor('DEFAULT OK', () => state(m, 'DEFAULT')?.state === 'OK');
      assert.equal(state(m, 'down')?.state, 'INITIALIZING');
      await assert.rejects(m.create('v2', { backend: 'down' }), { message: "ERROR: Backend 'down' is still initializing. Please retry in a few seconds." });
      await waitFor('down FAILED', () => state(m, 'down')?.state === 'FAILED');
      assert.equal(state(m, 'down')?.reason, `array 127.0.0.1:${port} did not answer: no complete answer within 400 ms`);
    } finally {
      await m.close();
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  test('close() does not wait for an array that does not answer', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const { config, secrets } = buildConfig(env, { downPort: (silent.address() as net.AddressInfo).port });
    const m = createVolumeManager({ config, secrets, etcd: env.client, logger: env.logger, wsapi: { timeoutMs: 30_000 } });
    try {
      await waitFor('DEFAULT OK', () => state(m, 'DEFAULT')?.state === 'OK');
      await waitFor('connected', () => sockets.length > 0);
      const started = Date.now();
      await m.close();
      assert.ok(Date.now() - started < 1000, `close took ${Date.now() - started} ms`);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  test('background retry with capped backoff turns a backend OK when its array comes up; the others work meanwhile', async () => {
    const port = await freePort();
    const sleeps: number[] = [];
    const clock: Clock = { now: () => Date.now(), sleep: (ms, signal) => (sleeps.push(ms), realClock.sleep(15, signal)) };
    const m = managerFor(env, { downPort: port }, { clock });
    let late: Awaited<ReturnType<typeof startSim>> | undefined;
    try {
      await waitFor('6 retries', () => sleeps.length >= 7);
      assert.equal(state(m, 'down')?.state, 'FAILED');
      assert.deepEqual(sleeps.slice(0, 7), [2000, 4000, 8000, 16000, 32000, 60000, 60000]);
      // The good backend serves meanwhile.
      await m.create('meanwhile', { size: '1' });
      assert.equal((await pluginVolumes(env.primary)).length, 1);

      late = await startSim({ systemName: 'late', cpgs: ['FC_r1'], password: PRIMARY_PASSWORD, port });
      await waitFor('down OK', () => state(m, 'down')?.state === 'OK');
      assert.equal(state(m, 'down')?.reason, undefined);
      await m.create('onlate', { size: '1', backend: 'down' });
      assert.equal((await pluginVolumes(late)).length, 1);
      const count = sleeps.length;
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(sleeps.length, count, 'no retry once OK');
      await m.remove('onlate');
      await m.remove('meanwhile');
    } finally {
      await m.close();
      await stopSim(late);
      await clearArray(env.primary);
    }
  });

  test('an OK backend whose array goes away turns FAILED at its next call, and OK again by itself when the array is back', async () => {
    const port = await freePort();
    let sim: Awaited<ReturnType<typeof startSim>> | undefined = await startSim({ systemName: 'flaky', cpgs: ['FC_r1'], password: PRIMARY_PASSWORD, port });
    const sleeps: number[] = [];
    const clock: Clock = { now: () => Date.now(), sleep: (ms, signal) => (sleeps.push(ms), realClock.sleep(15, signal)) };
    const m = managerFor(env, { downPort: port }, { clock });
    const backendsTable = async () => {
      const err = await m.create('helpme', { help: 'backends' }).then(
        () => assert.fail('help answers with an error'),
        (e: unknown) => e as Error,
      );
      return err.message;
    };
    try {
      await waitFor('down OK', () => state(m, 'down')?.state === 'OK');
      await m.create('before', { size: '1', backend: 'down' });
      assert.match(await backendsTable(), /^down +OK$/m);

      await stopSim(sim);
      sim = undefined;
      const reason = `array 127.0.0.1:${port} refused the connection`;
      await assert.rejects(m.create('during', { size: '1', backend: 'down' }), /cannot reach the WSAPI \(refused\)/);
      assert.deepEqual(state(m, 'down'), { name: 'down', state: 'FAILED', reason });
      const table = await backendsTable();
      assert.match(table, /^down +FAILED$/m);
      assert.ok(table.includes(`    ${reason}\n`), table);
      assert.match(table, /^DEFAULT +OK$/m);
      // Requests to it keep failing with its reason; the other backends are untouched.
      await assert.rejects(m.create('during2', { size: '1', backend: 'down' }), {
        message: `ERROR: Backend 'down' was NOT initialized successfully. Please check hpe.conf for incorrect entries and rectify it. Reason: ${reason}`,
      });
      // A Remove on it is refused before anything is written: no intent that a repair would finish later.
      await assert.rejects(m.remove('before'), { message: `ERROR: Backend 'down' was NOT initialized successfully. Please check hpe.conf for incorrect entries and rectify it. Reason: ${reason}` });
      // (The failed Creates above may leave theirs, for the repair: a refused connection can come as a reset.)
      const beforeId = (await new VolumeStore(env.client).getByName('before'))!.record.id;
      assert.ok(!(await etcdKeys(env.client, INTENTS_PREFIX)).includes(beforeId), 'no intent left by the refused Remove');
      assert.equal((await m.get('before'))?.Name, 'before');
      await waitFor('a background retry', () => sleeps.length >= 2);
      assert.deepEqual(sleeps.slice(0, 2), [2000, 4000], 'the re-initialisation backs off as at start');

      sim = await startSim({ systemName: 'flaky', cpgs: ['FC_r1'], password: PRIMARY_PASSWORD, port });
      await waitFor('down OK again', () => state(m, 'down')?.state === 'OK');
      assert.deepEqual(state(m, 'down'), { name: 'down', state: 'OK' });
      assert.match(await backendsTable(), /^down +OK$/m);
      await m.create('after', { size: '1', backend: 'down' });
      assert.equal((await pluginVolumes(sim)).length, 1);
      await m.remove('after');
      await m.remove('before');
    } finally {
      await m.close();
      await stopSim(sim);
    }
  });

  test('close() stops the retries and logs out of every array', async () => {
    const sleeps: number[] = [];
    const clock: Clock = { now: () => Date.now(), sleep: (ms, signal) => (sleeps.push(ms), realClock.sleep(10, signal)) };
    const m = managerFor(env, { badPassword: true }, { clock });
    await settled(m);
    await waitFor('a retry', () => sleeps.length >= 2);
    await m.close();
    const count = sleeps.length;
    const logins = env.primary.sim.requestLog.filter((e) => e.path === '/api/v1/credentials').length;
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(sleeps.length, count);
    assert.equal(env.primary.sim.requestLog.filter((e) => e.path === '/api/v1/credentials').length, logins);
    const logouts = env.primary.sim.requestLog.filter((e) => e.method === 'DELETE' && e.path.startsWith('/api/v1/credentials/'));
    assert.ok(logouts.length >= 1, 'logged out of the primary');
  });
});

describe('probeBackends', () => {
  test('one result per backend and per replication target', async () => {
    const { config, secrets } = buildConfig(env, {
      badPassword: true,
      downPort: 1,
      extra: [{ name: 'nocpg', apiUrl: env.primary.sim.apiUrl, cpg: 'FC_r9', password: PRIMARY_PASSWORD }],
    });
    const results = await probeBackends(config, secrets, { wsapi: { retry: { attempts: 1 } } });
    const brief = results.map((r) => ({ backend: r.backend, role: r.role, target: r.target, ok: r.ok, reason: r.reason, systemName: r.systemName }));
    const port = new URL(env.primary.sim.apiUrl).port;
    assert.deepEqual(brief, [
      { backend: 'DEFAULT', role: 'primary', target: undefined, ok: true, reason: undefined, systemName: 'sim1' },
      { backend: 'DEFAULT', role: 'replication target', target: 'sim2', ok: true, reason: undefined, systemName: 'sim2' },
      { backend: 'second', role: 'primary', target: undefined, ok: true, reason: undefined, systemName: 'sim2' },
      { backend: 'badpw', role: 'primary', target: undefined, ok: false, reason: 'login failed: wrong user or password (WSAPI code 5) — check [badpw].hpe3par_username and [badpw].hpe3par_password', systemName: undefined },
      { backend: 'down', role: 'primary', target: undefined, ok: false, reason: 'array 127.0.0.1:1 refused the connection', systemName: undefined },
      { backend: 'nocpg', role: 'primary', target: undefined, ok: false, reason: `CPG FC_r9 does not exist on the array 127.0.0.1:${port} — check [nocpg].hpe3par_cpg`, systemName: undefined },
    ]);
    assert.ok(results.every((r) => r.ok === false || r.verifiesTls === false), 'plain http is reported as unverified');
  });
});


