/**
 * End to end, two features the managed plugin had only met in integration tests: snapshot schedules over SSH (the
 * bundled ssh2 running inside the plugin's rootfs, the array's host key trusted on first use into the state folder)
 * and a named secret rotated live. A REAL dockerd runs the REAL managed plugin against a REAL etcd and the WSAPI
 * simulator with its SSH server; hpe.conf names both passwords `$secret{array_pw}`, put by the host's
 * `hpe3parencryptor secret put` before `docker plugin enable`. The simulator runs in this process on a ManualClock,
 * so its schedules fire when the test advances the clock.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createArrayCli, type SnapSchedule } from '../../src/array/index.js';
import { waitFor } from '../../src/clock.js';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { runCli, Transcript } from '../support/cli.js';
import { ManualClock } from '../support/clock.js';
import { singleArrayConfig } from '../support/configs.js';
import type { Dockerd } from '../support/dockerd.js';
import { startWorld, stopWorld, type World } from '../support/e2e-world.js';

const plugin = 'hpe';
const minute = 60_000;
const passphrase = 'E2e-Secrets-Passphrase-70';
const passwords = { first: 'E2e-Sched-Pw-71', second: 'E2e-Rotated-Pw-72' } as const;
const transcript = new Transcript();

let world: World | undefined;
let dockerd: Dockerd;
let sim: RunningSimulator;
let clock: ManualClock;
let confFile: string;
let stateDir: string;
let testDir: string;
let currentPassword: string = passwords.first;

const docker = (args: string[], timeoutMs = 60_000) => dockerd.docker(args, { timeoutMs });
const dockerOk = (args: string[], timeoutMs = 60_000) => dockerd.dockerOk(args, { timeoutMs });

/** `hpe3parencryptor secret put array_pw -` on the host, passphrase and value on standard input, as an admin runs it. */
async function putSecret(value: string): Promise<void> {
  const r = await runCli('encryptor', ['secret', 'put', 'array_pw', '-', '--passphrase-file', '-', '--config', confFile], {
    stdin: `${passphrase}\n${value}\n`,
    env: dockerd.env,
    transcript,
  });
  assert.equal(r.code, 0, r.stderr);
}

/** The text of `-o help=backends`, which the plugin answers as Create's error and the CLI prints. */
async function helpBackends(): Promise<string> {
  const r = await docker(['volume', 'create', '-d', plugin, '-o', 'help=backends', 'help']);
  assert.notEqual(r.code, 0, 'help is answered as an error');
  return r.stderr;
}

interface SnapDetail {
  snap_schedule?: Record<string, unknown>;
  scheduled_snapshots?: { name: string; created?: string; expires?: string }[];
  scheduled_snapshots_error?: string;
}

async function snapDetail(volume: string): Promise<SnapDetail> {
  const [info] = JSON.parse(await dockerOk(['volume', 'inspect', volume])) as { Status: { snap_detail: SnapDetail } }[];
  return info!.Status.snap_detail;
}

/** `showsched` on the simulator's SSH server, as the test's own look at the array. */
async function arraySchedule(name: string): Promise<SnapSchedule | undefined> {
  const cli = createArrayCli({
    arrayLabel: 'sim',
    host: '127.0.0.1',
    port: sim.sshPort!,
    user: '3paradm',
    auth: { password: currentPassword },
    knownHostsFile: path.join(testDir, 'known_hosts'),
    strictHostKeyPolicy: false,
  });
  try {
    return await cli.getSchedule(name);
  } finally {
    await cli.close();
  }
}

async function pluginFailure(): Promise<string> {
  return (await dockerd.pluginLog(plugin)).slice(-20).join('\n');
}

before(
  async () => {
    clock = new ManualClock(Date.UTC(2026, 0, 5, 10, 0, 0));
    world = await startWorld({
      plugin,
      arrayPassword: passwords.first,
      simulator: { sshPort: 0, clock },
      hpeConf: (etcdPort, s) => singleArrayConfig(etcdPort, s.apiUrl, { iscsi: true, password: '$secret{array_pw}', extra: `san_login = 3paradm\nsan_ssh_port = ${s.sshPort}\n` }),
      mountSimulators: false,
      image: false,
      // DEBUG: the most the plugin ever logs, for the no-password check at the end.
      settings: ['DEBUG=true'],
      enable: false,
    });
    ({ dockerd, sim, confFile, stateDir } = world);
    testDir = await dockerd.scratch('test');
    await putSecret(passwords.first);
  },
  { timeout: 180_000 },
);

after(
  async () => {
    if (world) await stopWorld(world);
  },
  { timeout: 90_000 },
);

describe('a managed plugin whose passwords are $secret{array_pw}, with snapshot schedules over SSH', { concurrency: false }, () => {
  test('enable: the gate resolves the named secret from etcd and the plugin serves with version 1', async () => {
    const r = await docker(['plugin', 'enable', plugin]);
    assert.equal(r.code, 0, `${r.stderr}\n${await dockerd.logTail(40)}`);
    assert.match(await helpBackends(), /password \$secret\{array_pw\} version 1: logged in with it/);
    await dockerOk(['volume', 'create', '-d', plugin, '-o', 'size=1', 'v1']);
  });

  test('a scheduled snapshot through the docker CLI: the schedule is on the array, its snapshots show in inspect, rm removes it', async () => {
    const create = await docker([
      'volume', 'create', '-d', plugin, '-o', 'virtualCopyOf=v1', '-o', 'scheduleName=s1', '-o', 'scheduleFrequency=* * * * *',
      '-o', 'snapshotPrefix=pfx', '-o', 'expHrs=2', '-o', 'retHrs=1', 'snap1',
    ]);
    assert.equal(create.code, 0, `${create.stderr}\n${await pluginFailure()}`);
    const s1 = { schedule_name: 's1', snap_name_prefix: 'pfx', sched_frequency: '* * * * *', sched_snap_exp_hrs: 2, sched_snap_ret_hrs: 1 };
    assert.deepEqual((await snapDetail('snap1')).snap_schedule, s1);

    const commands = () => sim.sshCommandLog.join('\n');
    assert.match(commands(), /^createsched "createsv .*" "\* \* \* \* \*" s1$/m);
    const onArray = await arraySchedule('s1');
    assert.match(onArray?.command ?? '', /^createsv -f -exp 2h -retain 1h pfx\.@y@@m@@d@@H@@M@@S@ dcv-/);
    assert.equal(onArray?.when, '* * * * *');
    const knownHosts = await readFile(path.join(stateDir, 'ssh_known_hosts'), 'utf8');
    assert.ok(knownHosts.includes(`[127.0.0.1]:${sim.sshPort} ${sim.sshHostKey}`), `the array's key trusted on first use, in the state folder:\n${knownHosts}`);

    for (let i = 0; i < 2; i++) {
      await clock.advance(minute);
      await sim.runSchedules();
    }
    const detail = await snapDetail('snap1');
    assert.equal(detail.scheduled_snapshots_error, undefined);
    const made = detail.scheduled_snapshots ?? [];
    assert.deepEqual(made.map((s) => s.name), ['pfx.260105100100', 'pfx.260105100200']);
    for (const s of made) assert.equal(Date.parse(s.expires!) - Date.parse(s.created!), 2 * 3600_000, JSON.stringify(s));

    await dockerOk(['volume', 'rm', 'snap1']);
    assert.match(commands(), /^removesched -f s1$/m);
    assert.equal(await arraySchedule('s1'), undefined, 'showsched finds no s1');

    // What the schedule made stays on the array until its -exp: the parent cannot go before that.
    const refused = await docker(['volume', 'rm', 'v1']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /has a child volume \('pfx\.260105100100'\).*fix: remove the snapshots of the volume first/);
    await clock.advance(2 * 3600_000);
    await sim.runSchedules();
    await dockerOk(['volume', 'rm', 'v1']);
  });

  test('the array password changes and `secret put` stores it: without re-enabling, the plugin logs in with version 2 (WSAPI and SSH)', async (t) => {
    sim.setPassword('3paradm', passwords.second);
    currentPassword = passwords.second;
    const sshConnections = sim.sshConnections;
    const t0 = Date.now();
    await putSecret(passwords.second);
    let shown = '';
    await waitFor(
      'help=backends shows version 2',
      async () => /password \$secret\{array_pw\} version 2: logged in with it/.test((shown = await helpBackends())),
      { timeoutMs: 15_000, intervalMs: 200 },
    ).catch(() => assert.fail(`help=backends after the put:\n${shown}`));
    t.diagnostic(`secret put to help=backends showing version 2: ${Date.now() - t0} ms`);

    await dockerOk(['volume', 'create', '-d', plugin, '-o', 'size=1', 'v2']);
    const create = await docker([
      'volume', 'create', '-d', plugin, '-o', 'virtualCopyOf=v2', '-o', 'scheduleName=s2', '-o', 'scheduleFrequency=*/5 * * * *',
      '-o', 'snapshotPrefix=rot', 'snap2',
    ]);
    assert.equal(create.code, 0, `a schedule after the rotation connects with the new value: ${create.stderr}\n${await pluginFailure()}`);
    assert.ok(sim.sshConnections > sshConnections, 'the plugin connected again (the old value is refused now)');
    assert.equal((await arraySchedule('s2'))?.when, '*/5 * * * *');
    await dockerOk(['volume', 'rm', 'snap2']);
    assert.equal(await arraySchedule('s2'), undefined);
    await dockerOk(['volume', 'rm', 'v2']);
  });

  test('no password or passphrase in docker plugin inspect, the plugin log, or what the CLIs printed', async () => {
    const secrets = { passphrase, ...passwords };
    const inspect = await dockerOk(['plugin', 'inspect', plugin]);
    const log = await readFile(dockerd.logPath, 'utf8');
    assert.ok((await dockerd.pluginLog(plugin)).length > 0, 'the plugin logged');
    for (const [label, value] of Object.entries(secrets)) {
      assert.equal(inspect.includes(value), false, `docker plugin inspect shows ${label}`);
      assert.equal(log.includes(value), false, `the dockerd log (plugin output) holds ${label}`);
    }
    assert.deepEqual(transcript.leaked(secrets), []);
  });
});
