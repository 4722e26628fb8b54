import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CREATE_HELP, formatBackendsTable } from '../../src/volumes/index.js';

describe('formatBackendsTable (upstream layout of -o help=backends)', () => {
  const rule = '='.repeat(54);

  test('rule, header, one line per backend', () => {
    const table = formatBackendsTable([
      { name: 'DEFAULT', state: 'OK' },
      { name: '3par2', state: 'INITIALIZING' },
    ]);
    assert.equal(
      table,
      `\n${rule}\nNAME${' '.repeat(42)}STATUS\n${rule}\n` + `DEFAULT${' '.repeat(38)}  OK\n` + `3par2${' '.repeat(40)}  INITIALIZING\n`,
    );
    const lines = table.split('\n');
    assert.equal(lines[1]!.length, 54);
    assert.equal(lines[2]!.indexOf('STATUS'), 46);
    assert.equal(lines[4]!.indexOf('OK'), 47, 'the state column starts two spaces after the 45-character name column');
  });

  test('a FAILED backend gets its reason on indented lines below', () => {
    const table = formatBackendsTable([
      { name: 'bad', state: 'FAILED', reason: "CPG (FC_r9) doesn't exist on array\nsecond line" },
      { name: 'ok', state: 'OK', reason: 'ignored for a backend that is not FAILED' },
      { name: 'failed-without-reason', state: 'FAILED' },
    ]);
    const body = table.split('\n').slice(4);
    assert.deepEqual(body, [
      `bad${' '.repeat(42)}  FAILED`,
      "    CPG (FC_r9) doesn't exist on array",
      '    second line',
      `ok${' '.repeat(43)}  OK`,
      `failed-without-reason${' '.repeat(24)}  FAILED`,
      '',
    ]);
  });

  test('a password that is a named secret gets a line under its array: the version in use and what its rotation did', () => {
    const table = formatBackendsTable([
      { name: 'DEFAULT', state: 'OK', credentials: { secret: 'array_pw', version: 2, state: 'current', inUse: 2 } },
      {
        name: 'b2',
        state: 'OK',
        credentials: { secret: 'pw2', version: 5, state: 'refused', inUse: 4, reason: 'login as "3paradm" refused: wrong user or password (WSAPI code 5)' },
        target: { id: 'remote', state: 'OK', credentials: { secret: 'remote_pw', version: 2, state: 'rotating', reason: 'array 10.0.0.9:8080 refused the connection; trying again in 4 s' } },
      },
      { name: 'b3', state: 'FAILED', reason: 'login failed', credentials: { secret: 'gone', state: 'unreadable', inUse: 1, reason: 'the secret was deleted from etcd (/secrets/gone)' } },
    ]);
    assert.deepEqual(table.split('\n').slice(4), [
      `DEFAULT${' '.repeat(38)}  OK`,
      '    password $secret{array_pw} version 2: logged in with it',
      `b2${' '.repeat(43)}  OK`,
      '    password $secret{pw2} version 5: REFUSED by the array: login as "3paradm" refused: wrong user or password (WSAPI code 5); the session of version 4 keeps serving until a value the array accepts is put (`hpe3parencryptor secret put pw2`)',
      `  replication target remote${' '.repeat(18)}  OK`,
      '    password $secret{remote_pw} version 2: logging in with it: array 10.0.0.9:8080 refused the connection; trying again in 4 s; the session of the value it started with serves meanwhile',
      `b3${' '.repeat(43)}  FAILED`,
      '    login failed',
      '    password $secret{gone}: NOT USABLE: the secret was deleted from etcd (/secrets/gone); the session of version 1 keeps serving',
      '',
    ]);
  });

  test('a replication target gets its own row and reason under its backend', () => {
    const table = formatBackendsTable([
      { name: 'DEFAULT', state: 'OK', target: { id: 'array2', state: 'FAILED', reason: 'array 10.0.0.2:8080 refused the connection' } },
      { name: 'rep2', state: 'FAILED', reason: 'login failed', target: { id: 'array3', state: 'OK' } },
    ]);
    assert.deepEqual(table.split('\n').slice(4), [
      `DEFAULT${' '.repeat(38)}  OK`,
      `  replication target array2${' '.repeat(18)}  FAILED`,
      '    array 10.0.0.2:8080 refused the connection',
      `rep2${' '.repeat(41)}  FAILED`,
      '    login failed',
      `  replication target array3${' '.repeat(18)}  OK`,
      '',
    ]);
  });

  test('a name longer than the column is not cut', () => {
    const name = 'n'.repeat(50);
    assert.ok(formatBackendsTable([{ name, state: 'OK' }]).includes(`${name}  OK\n`));
  });

  test('no backends: header only', () => {
    assert.equal(formatBackendsTable([]), `\n${rule}\nNAME${' '.repeat(42)}STATUS\n${rule}\n`);
  });
});

describe('CREATE_HELP', () => {
  test('covers every option of every operation, and help=backends', () => {
    const options = [
      'size', 'provisioning', 'compression', 'flash-cache', 'qos-name', 'cpg', 'snapcpg', 'fsOwner', 'fsMode',
      'mountConflictDelay', 'backend', 'replicationGroup', 'cloneOf', 'virtualCopyOf', 'expirationHours',
      'retentionHours', 'importVol', 'help=backends', 'scheduleName', 'scheduleFrequency', 'snapshotPrefix', 'expHrs', 'retHrs',
    ];
    for (const option of options) assert.ok(CREATE_HELP.includes(option), option);
  });

  test('names each operation, and the SSH settings schedules need', () => {
    for (const heading of ['Create a volume', 'Create a replicated volume', 'Clone a volume', 'Snapshot a volume', 'Import a volume', 'schedule more snapshots']) {
      assert.ok(CREATE_HELP.includes(heading), heading);
    }
    assert.match(CREATE_HELP, /SSH settings, san_ip,\s+san_login and san_password or san_private_key/);
  });

  test('states the defaults', () => {
    assert.match(CREATE_HELP, /default 100\)/);
    assert.match(CREATE_HELP, /thin \(default\)/);
    assert.match(CREATE_HELP, /\(default 30\)/);
  });
});
