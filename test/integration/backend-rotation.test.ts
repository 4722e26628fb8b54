/**
 * Backends.rotateSecret against the WSAPI simulator, for what the end-to-end test (secret-rotation.test.ts) cannot
 * arrange: a rotation whose login is lost in transport is tried again until the array accepts it, and a backend
 * that is FAILED because the array's password changed under it is initialised again as soon as the new value is
 * rotated in (not at its next backoff, a minute away); versions put in quick succession leave the session on the last.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { waitFor } from '../../src/clock.js';
import { checkConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/log.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.js';
import { Backends } from '../../src/volumes/backends/backends.js';

let sim: RunningSimulator;
let dir: string;
const lines: string[] = [];
const logger = createLogger(
  'DEBUG',
  new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  }),
);

function backendsWith(password: string, backoff = { initialMs: 60_000, maxMs: 60_000 }): Backends {
  const text = `[DEFAULT]
host_etcd_ip_address = 127.0.0.1
hpedockerplugin_driver = hpedockerplugin.hpe.hpe_3par_fc.HPE3PARFCDriver
hpe3par_api_url = ${sim.apiUrl}
hpe3par_username = 3paradm
hpe3par_password = $secret{pw}
san_ip = 127.0.0.1
san_password = $secret{pw}
hpe3par_cpg = FC_r1
`;
  const { config, errors } = checkConfig(text, join(dir, 'hpe.conf'));
  assert.deepEqual(errors, []);
  return new Backends(config!, new Map([['DEFAULT', { hpe3par_password: password, san_password: password }]]), {
    logger,
    backoff,
    wsapi: { retry: { attempts: 1 } },
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hpe-backend-rotation-'));
  sim = await startSimulator({ listen: { host: '127.0.0.1', port: 0 }, stateDir: join(dir, 'array'), users: { '3paradm': 'Pw-Start-71' } });
});

after(async () => {
  await sim.stop();
  await rm(dir, { recursive: true, force: true });
  const log = lines.join('');
  assert.match(log, /logged in with \$secret\{pw\} version 2/);
  for (const v of ['Pw-Start-71', 'Pw-Next-72', 'Pw-Third-73']) assert.ok(!log.includes(v), 'a log line holds a password');
});

test('a rotation whose login is lost in transport is tried again, with the reason shown meanwhile', async () => {
  sim.setPassword('3paradm', 'Pw-Start-71');
  const b = backendsWith('Pw-Start-71', { initialMs: 200, maxMs: 200 });
  try {
    b.start();
    await b.firstAttempts();
    assert.equal(b.states()[0]?.state, 'OK');
    assert.deepEqual(b.secretNames(), ['pw']);
    sim.setPassword('3paradm', 'Pw-Next-72');
    sim.failNext('POST', /\/credentials$/, 'drop');
    const rotation = b.rotateSecret('pw', 2, 'Pw-Next-72');
    await waitFor('the rotation waits', () => b.states()[0]?.credentials?.state === 'rotating' && b.states()[0]?.credentials?.reason !== undefined);
    assert.match(b.states()[0]!.credentials!.reason!, /trying again in 200 ms$/);
    await rotation;
    assert.deepEqual(b.states()[0], { name: 'DEFAULT', state: 'OK', credentials: { secret: 'pw', version: 2, state: 'current', inUse: 2 } });
  } finally {
    await b.close();
  }
});

test('a backend FAILED because the array password changed is initialised again at once when the new value comes', async () => {
  sim.setPassword('3paradm', 'Pw-Third-73');
  const b = backendsWith('Pw-Next-72');
  try {
    b.start();
    await b.firstAttempts();
    assert.equal(b.states()[0]?.state, 'FAILED');
    const t0 = Date.now();
    await b.rotateSecret('pw', 3, 'Pw-Third-73');
    await waitFor('OK again', () => b.states()[0]?.state === 'OK', { timeoutMs: 5000 });
    assert.ok(Date.now() - t0 < 5000);
    assert.deepEqual(b.states()[0]?.credentials, { secret: 'pw', version: 3, state: 'current', inUse: 3 });
  } finally {
    await b.close();
  }
});

test('two versions put in quick succession: the session ends on the last one, whatever their logins do', async () => {
  sim.setPassword('3paradm', 'Pw-Start-71');
  const b = backendsWith('Pw-Start-71');
  try {
    b.start();
    await b.firstAttempts();
    sim.setPassword('3paradm', 'Pw-Third-73');
    const mark = sim.requestLog.length;
    await Promise.all([b.rotateSecret('pw', 4, 'Pw-Next-72'), b.rotateSecret('pw', 5, 'Pw-Third-73')]);
    assert.deepEqual(b.states()[0]?.credentials, { secret: 'pw', version: 5, state: 'current', inUse: 5 });
    // Version 4 was overtaken before it logged in: one login only, with version 5.
    assert.deepEqual(
      sim.requestLog.slice(mark).filter((r) => r.path === '/api/v1/credentials').map((r) => r.status),
      [201],
    );
  } finally {
    await b.close();
  }
});
