import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  createschedLine,
  errorLine,
  parseCsvRow,
  parseShowsched,
  removeschedLine,
  showschedLine,
  withCsvTables,
} from '../../src/array/array-cli-ssh.js';
import { ArrayCliError } from '../../src/array/index.js';
import { decideHostKey, hostFieldMatches, hostKeyAlgorithmsFor, hostKeyOf, knownHostName, knownHostsLine, parseKnownHosts } from '../../src/array/ssh-known-hosts.js';

const spec = { scheduleName: 'nightly', frequency: '0 2 * * *', snapshotPrefix: 'snp', parentVolume: 'dcv-abc' };

describe('the CLI lines sent to the array', () => {
  test('createsched as upstream built it, with and without -exp / -retain', () => {
    assert.equal(createschedLine(spec), 'createsched "createsv -f snp.@y@@m@@d@@H@@M@@S@ dcv-abc" "0 2 * * *" nightly');
    assert.equal(
      createschedLine({ ...spec, frequency: '*/15 0-6,22 1 1-12/2 1-5', expirationHours: 10, retentionHours: 5 }),
      'createsched "createsv -f -exp 10h -retain 5h snp.@y@@m@@d@@H@@M@@S@ dcv-abc" "*/15 0-6,22 1 1-12/2 1-5" nightly',
    );
    assert.equal(createschedLine({ ...spec, expirationHours: 3 }), 'createsched "createsv -f -exp 3h snp.@y@@m@@d@@H@@M@@S@ dcv-abc" "0 2 * * *" nightly');
  });

  test('removesched and showsched; every command follows the CSV switch', () => {
    assert.equal(removeschedLine('nightly'), 'removesched -f nightly');
    assert.equal(showschedLine('nightly'), 'showsched nightly');
    assert.equal(withCsvTables('showsched nightly'), 'setclienv csvtable 1\nshowsched nightly');
  });

  test('characters that would break the quoting are refused, not escaped', () => {
    const bad = [
      { ...spec, scheduleName: 'a"b' },
      { ...spec, scheduleName: 'a b' },
      { ...spec, scheduleName: 'x'.repeat(32) },
      { ...spec, snapshotPrefix: '$(reboot)' },
      { ...spec, snapshotPrefix: 'p'.repeat(16) },
      { ...spec, parentVolume: 'dcv-[x]' },
      { ...spec, frequency: '0 2 * *' },
      { ...spec, frequency: '0  2 * * *' },
      { ...spec, frequency: '0 2 * * "; removevv' },
      { ...spec, frequency: '@daily' },
      { ...spec, expirationHours: 1.5 },
      { ...spec, retentionHours: 0 },
    ];
    for (const s of bad) {
      assert.throws(() => createschedLine(s, 'array1'), (err: unknown) => err instanceof ArrayCliError && err.failure === 'argument' && err.command === 'createsched' && err.message.startsWith('array array1: createsched:'));
    }
    assert.throws(() => removeschedLine('a;b'), ArrayCliError);
    assert.throws(() => showschedLine('a\nb'), ArrayCliError);
  });
});

describe("the array's answers", () => {
  test('error lines as upstream found them (error / invalid, any case)', () => {
    assert.equal(errorLine('\nError: schedule nightly already exists \n'), 'Error: schedule nightly already exists');
    assert.equal(errorLine('Invalid volume name'), 'Invalid volume name');
    assert.equal(errorLine('all good\n'), undefined);
  });

  test('CSV rows with quoted fields', () => {
    assert.deepEqual(parseCsvRow('a,"b,c",d'), ['a', 'b,c', 'd']);
    assert.deepEqual(parseCsvRow('"say ""hi""",x'), ['say "hi"', 'x']);
  });

  test('showsched: the named schedule, its command and its five fields', () => {
    const out = [
      'SchedName,File/Command,Min,Hour,DOM,Month,DOW,CreatedBy,Status,Alert,NextRunTime',
      'other,createsv -f o.@y@@m@@d@@H@@M@@S@ dcv-o,5,*,*,*,*,3paradm,active,Y,2024-01-01 00:05:00 UTC',
      'nightly,createsv -f -exp 10h snp.@y@@m@@d@@H@@M@@S@ dcv-abc,"0,30",2,*,*,1-5,3paradm,active,Y,2024-01-02 02:00:00 UTC',
      '-------------------------------------------------------',
      '2',
    ].join('\r\n');
    assert.deepEqual(parseShowsched(out, 'nightly'), { name: 'nightly', command: 'createsv -f -exp 10h snp.@y@@m@@d@@H@@M@@S@ dcv-abc', when: '0,30 2 * * 1-5' });
    assert.equal(parseShowsched(out, 'missing'), undefined);
    assert.equal(parseShowsched('No scheduled tasks listed\n', 'nightly'), undefined);
  });
});

describe('host key policy (known-hosts file)', () => {
  const key = { type: 'ssh-ed25519', key: 'AAAAC3NzaC1lZDI1NTE5AAAAIKnown' };
  const other = { type: 'ssh-ed25519', key: 'AAAAC3NzaC1lZDI1NTE5AAAAIOther' };
  const file = `# comment\n\n${knownHostsLine('10.0.0.5', key)}${knownHostsLine('[10.0.0.6]:2222', key)}@cert-authority * ssh-rsa AAAA\n`;
  const entries = parseKnownHosts(file);

  test('names as OpenSSH writes them', () => {
    assert.equal(knownHostName('10.0.0.5', 22), '10.0.0.5');
    assert.equal(knownHostName('10.0.0.5', 2222), '[10.0.0.5]:2222');
    assert.equal(entries.length, 2);
    assert.equal(entries[0]!.line, 3);
  });

  test('a known key is accepted; a changed key is refused under either policy, naming the line', () => {
    assert.deepEqual(decideHostKey(entries, '10.0.0.5', key, false), { action: 'accept' });
    assert.deepEqual(decideHostKey(entries, '10.0.0.5', key, true), { action: 'accept' });
    assert.deepEqual(decideHostKey(entries, '10.0.0.5', other, false), { action: 'refuse-changed', line: 3, knownType: 'ssh-ed25519' });
    assert.deepEqual(decideHostKey(entries, '10.0.0.5', { type: 'ssh-rsa', key: 'AAAAB3' }, false), { action: 'refuse-changed', line: 3, knownType: 'ssh-ed25519' });
    assert.deepEqual(decideHostKey(entries, '[10.0.0.6]:2222', other, true).action, 'refuse-changed');
  });

  test('a known host is asked only for the key types the file holds for it (an RSA-only file is not taken for a changed key)', () => {
    const rsaOnly = parseKnownHosts(`10.0.0.8 ssh-rsa AAAAB3NzaC1yc2E\n${knownHostsLine('10.0.0.5', key)}`);
    assert.deepEqual(hostKeyAlgorithmsFor(rsaOnly, '10.0.0.8'), ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
    assert.deepEqual(hostKeyAlgorithmsFor(rsaOnly, '10.0.0.5'), [key.type]);
    assert.equal(hostKeyAlgorithmsFor(rsaOnly, '10.0.0.9'), undefined, 'an unknown host: every algorithm');
  });

  test('an unknown host is remembered by default (trust on first use) and refused when strict', () => {
    assert.deepEqual(decideHostKey(entries, '10.0.0.7', key, false), { action: 'remember' });
    assert.deepEqual(decideHostKey(entries, '10.0.0.7', key, true), { action: 'refuse-unknown' });
    assert.deepEqual(decideHostKey(entries, '10.0.0.6', key, true), { action: 'refuse-unknown' }, 'port 22 is another entry than port 2222');
  });

  test('hashed names, patterns and negations', () => {
    const salt = Buffer.from('0123456789abcdef0123');
    const hash = createHmac('sha1', salt).update('array.example').digest('base64');
    assert.equal(hostFieldMatches(`|1|${salt.toString('base64')}|${hash}`, 'array.example'), true);
    assert.equal(hostFieldMatches(`|1|${salt.toString('base64')}|${hash}`, 'other.example'), false);
    assert.equal(hostFieldMatches('10.0.0.*,!10.0.0.9', '10.0.0.8'), true);
    assert.equal(hostFieldMatches('10.0.0.*,!10.0.0.9', '10.0.0.9'), false);
    assert.equal(hostFieldMatches('a.example,b.example', 'B.EXAMPLE'), true);
    assert.equal(hostFieldMatches('10.0.0.1', '10.0.0.10'), false);
  });

  test('the key type comes from the blob', () => {
    const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 1, 7])]);
    assert.deepEqual(hostKeyOf(blob), { type: 'ssh-ed25519', key: blob.toString('base64') });
  });
});
