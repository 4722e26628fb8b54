/**
 * The array's SSH CLI (createArrayCli) against the simulator's SSH server: password and encrypted-key logins, one
 * reused connection, snapshot schedules that really run on the simulator's clock (snapshots seen through the WSAPI,
 * removed after their expiration), and the known-hosts policy. No secret may show in an error or a log line.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { ArrayCliError, createArrayCli, WsapiClient, type ArrayCli, type ArrayCliOptions } from '../../src/array/index.js';
import { createLogger } from '../../src/log.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.js';
import { ManualClock } from '../support/clock.js';

const password = '3pardata-ssh-secret';
const passphrase = 'key-passphrase-secret';
const parent = 'dcv-sshparent';
const minute = 60_000;

let dir: string;
let sim: RunningSimulator;
let clock: ManualClock;
let wsapi: WsapiClient;
let keyFile: string;
let logText = '';
const log = createLogger('DEBUG', new Writable({ write: (chunk: Buffer, _e, done) => ((logText += chunk.toString()), done()) }));
const clis: ArrayCli[] = [];

function cli(extra: Partial<ArrayCliOptions> = {}): ArrayCli {
  const c = createArrayCli({
    arrayLabel: 'simulator',
    host: '127.0.0.1',
    port: sim.sshPort!,
    user: '3paradm',
    auth: { password },
    knownHostsFile: join(dir, 'known_hosts'),
    strictHostKeyPolicy: false,
    timeouts: { connectMs: 5_000, commandMs: 5_000 },
    log,
    ...extra,
  });
  clis.push(c);
  return c;
}

async function snapshotsOf(volume: string): Promise<string[]> {
  return (await wsapi.queryVolumes(`copyOf EQ ${volume}`)).map((v) => v.name).sort();
}

async function advance(ms: number): Promise<void> {
  await clock.advance(ms);
  await sim.runSchedules();
}

function assertNoSecret(text: string): void {
  assert.ok(!text.includes(password), 'the password must not show');
  assert.ok(!text.includes(passphrase), 'the passphrase must not show');
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hpe-array-ssh-'));
  const pair = ssh2.utils.generateKeyPairSync('ed25519', { passphrase, cipher: 'aes256-ctr', rounds: 4 });
  keyFile = join(dir, 'id_ed25519');
  writeFileSync(keyFile, pair.private, { mode: 0o600 });
  clock = new ManualClock(Date.UTC(2024, 0, 15, 10, 0, 20));
  sim = await startSimulator({
    listen: { host: '127.0.0.1', port: 0 },
    stateDir: join(dir, 'sim'),
    users: { '3paradm': password },
    sshPort: 0,
    sshAuthorizedKeys: [pair.public],
    clock,
  });
  wsapi = new WsapiClient({ apiUrl: sim.apiUrl, username: '3paradm', password, retry: { attempts: 1 } });
  await wsapi.createVolume({ name: parent, cpg: 'FC_r1', sizeMiB: 16, tpvv: true });
});

after(async () => {
  for (const c of clis) await c.close();
  await sim?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('snapshot schedules over SSH (password login)', () => {
  it('creates a schedule whose snapshots appear each minute, expire after -exp, and stop after removesched; one connection throughout', async () => {
    const c = cli();
    const before = sim.sshConnections;
    await c.createSchedule({ scheduleName: 'everyminute', frequency: '* * * * *', snapshotPrefix: 'snp', parentVolume: parent, expirationHours: 1 });
    assert.deepEqual(await c.getSchedule('everyminute'), {
      name: 'everyminute',
      command: `createsv -f -exp 1h snp.@y@@m@@d@@H@@M@@S@ ${parent}`,
      when: '* * * * *',
    });
    assert.ok(sim.sshCommandLog.every((line) => line.startsWith('setclienv csvtable 1\n')), 'every command follows the CSV switch');

    await advance(minute);
    assert.deepEqual(await snapshotsOf(parent), ['snp.240115100100']);
    await advance(2 * minute);
    assert.deepEqual(await snapshotsOf(parent), ['snp.240115100100', 'snp.240115100200', 'snp.240115100300']);
    const snap = (await wsapi.queryVolumes(`copyOf EQ ${parent}`))[0]!;
    assert.equal(snap.copyType, 3, 'a virtual copy');

    await advance(58 * minute);
    const left = await snapshotsOf(parent);
    assert.ok(!left.includes('snp.240115100100') && left.includes('snp.240115110100'), `the first snapshot expired after an hour: ${left.join(' ')}`);

    assert.equal(await c.removeSchedule('everyminute'), true);
    assert.equal(await c.removeSchedule('everyminute'), false, 'removing an unknown schedule says so');
    assert.equal(await c.getSchedule('everyminute'), undefined);
    const existing = await snapshotsOf(parent);
    await advance(5 * minute);
    const later = await snapshotsOf(parent);
    assert.ok(later.every((n) => existing.includes(n)) && later.length < existing.length, 'no new snapshot after removesched; older ones keep expiring');
    assert.equal(sim.sshConnections - before, 1, 'all commands over one connection');
  });

  it('cron fields: every 5 minutes from :00', async () => {
    const c = cli();
    await c.createSchedule({ scheduleName: 'five', frequency: '*/5 * * * *', snapshotPrefix: 'five', parentVolume: parent });
    await advance(10 * minute);
    const made = (await snapshotsOf(parent)).filter((n) => n.startsWith('five.'));
    assert.equal(made.length, 2);
    assert.ok(made.every((n) => /^five\.2401151[01][0-5][05]00$/.test(n)), made.join(' '));
    assert.equal(await c.removeSchedule('five'), true);
  });

  it("the array's error lines become ArrayCliErrors with upstream's text", async () => {
    const c = cli();
    const spec = { scheduleName: 'dup', frequency: '0 * * * *', snapshotPrefix: 'dup', parentVolume: parent };
    await c.createSchedule(spec);
    await assert.rejects(c.createSchedule(spec), (err: unknown) => {
      assert.ok(err instanceof ArrayCliError);
      assert.equal(err.command, 'createsched');
      assert.equal(err.failure, 'command');
      assert.equal(err.arrayText, 'Error: Schedule dup already exists');
      assert.match(err.message, /^array simulator: createsched: Create snapschedule failed Error is 'Error: Schedule dup already exists'/);
      return true;
    });
    await assert.rejects(c.createSchedule({ ...spec, scheduleName: 'noparent', parentVolume: 'dcv-missing' }), /Error: Volume dcv-missing does not exist/);
    await c.removeSchedule('dup');
  });
});

describe('logins', () => {
  it('by an encrypted private key and its passphrase', async () => {
    const c = cli({ auth: { privateKeyPath: keyFile, passphrase } });
    assert.equal(await c.getSchedule('none'), undefined);
  });

  it('a wrong passphrase, a wrong password: clear errors without the secret', async () => {
    await assert.rejects(cli({ auth: { privateKeyPath: keyFile, passphrase: 'wrong-passphrase' } }).getSchedule('x'), (err: unknown) => {
      assert.ok(err instanceof ArrayCliError && err.failure === 'private-key' && err.command === 'connect');
      assertNoSecret(err.message + err.fix);
      return true;
    });
    await assert.rejects(cli({ auth: { password: `${password}-not` } }).getSchedule('x'), (err: unknown) => {
      assert.ok(err instanceof ArrayCliError && err.failure === 'auth');
      assert.match(err.message, /refused user 3paradm \(san_password\)/);
      assertNoSecret(err.message + err.fix);
      return true;
    });
    assertNoSecret(logText);
  });
});

describe('host key policy', () => {
  const file = (): string => join(dir, 'hosts-policy');

  it('default: the first connection remembers the key; strict then accepts it', async () => {
    rmSync(file(), { force: true });
    await cli({ knownHostsFile: file() }).getSchedule('x');
    assert.equal(readFileSync(file(), 'utf8'), `[127.0.0.1]:${sim.sshPort} ${sim.sshHostKey}\n`);
    await cli({ knownHostsFile: file(), strictHostKeyPolicy: true }).getSchedule('x');
  });

  it('strict: an unknown host is refused, and nothing is written', async () => {
    writeFileSync(file(), '');
    const connections = sim.sshConnections;
    await assert.rejects(cli({ knownHostsFile: file(), strictHostKeyPolicy: true }).getSchedule('x'), (err: unknown) => {
      assert.ok(err instanceof ArrayCliError && err.failure === 'host-key-unknown');
      assert.match(err.message, /is not in .*hosts-policy and strict_ssh_host_key_policy is True/);
      assert.match(err.fix, /ssh-keyscan -p \d+ 127\.0\.0\.1/);
      return true;
    });
    assert.equal(readFileSync(file(), 'utf8'), '');
    assert.equal(sim.sshConnections - connections, 1);
  });

  it('a changed key is refused under either policy, naming the line and the fix', async () => {
    const otherKey = ssh2.utils.parseKey(ssh2.utils.generateKeyPairSync('ed25519').private) as ssh2.ParsedKey;
    writeFileSync(file(), `# arrays\n[127.0.0.1]:${sim.sshPort} ssh-ed25519 ${otherKey.getPublicSSH().toString('base64')}\n`);
    for (const strict of [false, true]) {
      await assert.rejects(cli({ knownHostsFile: file(), strictHostKeyPolicy: strict }).getSchedule('x'), (err: unknown) => {
        assert.ok(err instanceof ArrayCliError && err.failure === 'host-key-changed');
        assert.match(err.message, /host key has changed: .*hosts-policy line 2 holds another ssh-ed25519 key/);
        assert.match(err.fix, /ssh-keygen -R/);
        return true;
      });
    }
  });
});
