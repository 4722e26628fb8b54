import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { passGate, readLastReport } from '../../src/preflight/index.js';
import { freePort } from '../../src/net.js';
import { InstantClock } from '../support/clock.js';
import { startEtcd, type EtcdCluster } from '../support/etcd.js';
import { tempDir, twoBackendConfig, type TempDir } from '../support/configs.js';

let dir: TempDir;
const started: EtcdCluster[] = [];

before(async () => {
  dir = await tempDir('hpe-gate-');
});
after(async () => {
  for (const e of started) await e.stop();
  await dir.remove();
});

/** Time moves only when the gate sleeps: the waiting logic is tested without waiting. `onSleep` runs after each sleep. */
class GateClock extends InstantClock {
  constructor(private readonly onSleep?: (sleeps: number) => Promise<void>) {
    super();
  }

  override async sleep(ms: number): Promise<void> {
    await super.sleep(ms);
    await this.onSleep?.(this.sleeps.length);
  }
}

test('etcd down: retried until the window ends, then refused with the report saved for `check`', async () => {
  const file = await dir.file('down.conf', twoBackendConfig('127.0.0.1', await freePort()));
  const stateDir = `${dir.path}/state-down`;
  const clock = new GateClock();
  const outcome = await passGate({ configFile: file, waitMs: 3000, retryEveryMs: 500, stateDir, clock });
  assert.equal(outcome.ready, undefined);
  assert.equal(outcome.attempts, 6, 'attempts at 0, 0.5, 1, 1.5, 2 and 2.5 s; the next would end past the window');
  const saved = await readLastReport(stateDir);
  assert.equal(saved?.attempts, 6);
  assert.equal(saved?.report.passed, false);
  assert.match(saved!.report.results.find((r) => r.status === 'FAIL')!.detail, /refused/);
});

test('a failure that needs the admin stops the wait at once', async () => {
  const file = await dir.file('broken.conf', twoBackendConfig('127.0.0.1', await freePort()).replace('hpe3par_cpg = FC_r1\n', ''));
  const clock = new GateClock();
  const outcome = await passGate({ configFile: file, waitMs: 8000, clock });
  assert.equal(outcome.attempts, 1);
  assert.equal(clock.sleeps.length, 0);
  assert.match(outcome.report.results.find((r) => r.status === 'FAIL')!.detail, /\[DEFAULT\]\.hpe3par_cpg: is missing/);
});

test('etcd that comes up within the window: the gate passes with no action and returns the decrypted config', async () => {
  const etcd = await startEtcd({ members: 1 });
  started.push(etcd);
  const port = etcd.endpoints[0]!.port;
  await etcd.stopMember(0);
  const file = await dir.file('late.conf', twoBackendConfig('127.0.0.1', port));
  const clock = new GateClock(async (n) => {
    if (n === 2) await etcd.startMember(0);
  });
  const outcome = await passGate({ configFile: file, waitMs: 8000, retryEveryMs: 500, stateDir: `${dir.path}/state-late`, clock });
  assert.ok(outcome.ready, JSON.stringify(outcome.report.results.filter((r) => r.status === 'FAIL')));
  assert.equal(outcome.attempts, 3);
  assert.deepEqual(outcome.ready.config.backends.map((b) => b.name), ['DEFAULT', '3par2']);
  assert.equal(Object.keys(outcome.ready.secrets.get('3par2')!).length, 4);
  assert.equal((await readLastReport(`${dir.path}/state-late`))?.report.passed, true);
});
