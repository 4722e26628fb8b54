import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseShowsched } from '../../src/array/array-cli-ssh.js';
import { expandSnapshotName, parseCreatesv, splitWords } from '../../src/simulator/cli-syntax.js';
import { cronMatches, parseCron, parseCronField } from '../../src/simulator/cron.js';

const at = (iso: string): number => Date.parse(`${iso}Z`);

describe("the simulator's cron matcher", () => {
  test('fields: *, lists, ranges, steps, ranges with steps', () => {
    assert.deepEqual([...parseCronField('*', 0, 5)!], [0, 1, 2, 3, 4, 5]);
    assert.deepEqual([...parseCronField('1,3,5', 0, 59)!], [1, 3, 5]);
    assert.deepEqual([...parseCronField('10-13', 0, 59)!], [10, 11, 12, 13]);
    assert.deepEqual([...parseCronField('*/15', 0, 59)!], [0, 15, 30, 45]);
    assert.deepEqual([...parseCronField('1-10/4', 0, 59)!], [1, 5, 9]);
    assert.deepEqual([...parseCronField('50/5', 0, 59)!], [50, 55]);
    for (const bad of ['', '60', '5-1', '*/0', 'a', '1-', '1/2/3', '-1']) assert.equal(parseCronField(bad, 0, 59), undefined, bad);
  });

  test('five fields, nicknames; anything else is refused', () => {
    assert.ok(parseCron('0 2 * * 1-5'));
    assert.deepEqual(parseCron('@hourly'), parseCron('0 * * * *'));
    for (const bad of ['0 2 * *', '0 2 * * * *', '0  2 * * *', '0 24 * * *', '0 0 0 * *', '0 0 * 13 *', '0 0 * * 8', '@never']) assert.equal(parseCron(bad), undefined, bad);
  });

  test('matching in UTC, day-of-week 7 is Sunday, day-of-month OR day-of-week when both are restricted', () => {
    const weekdays2am = parseCron('0 2 * * 1-5')!;
    assert.equal(cronMatches(weekdays2am, at('2024-01-15T02:00:00')), true, 'a Monday');
    assert.equal(cronMatches(weekdays2am, at('2024-01-14T02:00:00')), false, 'a Sunday');
    assert.equal(cronMatches(weekdays2am, at('2024-01-15T02:01:00')), false);
    assert.equal(cronMatches(parseCron('0 0 * * 7')!, at('2024-01-14T00:00:00')), true);
    const firstOrMonday = parseCron('0 0 1 * 1')!;
    assert.equal(cronMatches(firstOrMonday, at('2024-02-01T00:00:00')), true, 'the 1st (a Thursday)');
    assert.equal(cronMatches(firstOrMonday, at('2024-02-05T00:00:00')), true, 'a Monday');
    assert.equal(cronMatches(firstOrMonday, at('2024-02-06T00:00:00')), false);
    assert.equal(cronMatches(parseCron('*/20 * 15 1 *')!, at('2024-01-15T10:40:00')), true);
  });
});

describe('createsv in a schedule', () => {
  test('the name keywords expand as 3PAR does, two digits each', () => {
    assert.equal(expandSnapshotName('snp.@y@@m@@d@@H@@M@@S@', at('2024-03-05T07:08:09')), 'snp.240305070809');
    assert.equal(expandSnapshotName('a@H@b@x@', at('2009-12-31T23:00:00')), 'a23b@x@');
  });

  test('words: double quotes group, no escapes; an open quote is an error', () => {
    assert.deepEqual(splitWords('createsched "createsv -f a.@y@ v" "0 * * * *" s'), ['createsched', 'createsv -f a.@y@ v', '0 * * * *', 's']);
    assert.deepEqual(splitWords('x ""  y'), ['x', '', 'y']);
    assert.equal(splitWords('x "y'), undefined);
  });

  test('options -f -ro -exp -retain (hours or days); retention beyond expiration refused', () => {
    assert.deepEqual(parseCreatesv('createsv -f -exp 2d -retain 10h snp.@S@ dcv-a'), {
      readOnly: false,
      expirationHours: 48,
      retentionHours: 10,
      namePattern: 'snp.@S@',
      parent: 'dcv-a',
    });
    assert.equal(parseCreatesv('createsv -f -exp 1h -retain 2h s v'), 'Error: the expiration time must be greater than the retention time');
    assert.match(parseCreatesv('removevv -f v') as string, /^Error: a snapshot schedule runs createsv only/);
    assert.match(parseCreatesv('createsv -exp soon s v') as string, /^Invalid -exp time/);
    assert.match(parseCreatesv('createsv s') as string, /^Error: createsv needs/);
  });
});

describe("showsched: the simulator's output and the client's parser agree", async () => {
  const { runCli } = await import('../../src/simulator/cli-commands.js');
  const fake = {
    all: () => [{ name: 's1', command: 'createsv -f p.@y@ dcv-a', when: '0,30 2 * * 1-5', createdBy: '3paradm', lastMinute: 0 }],
    nextRun: () => at('2024-01-16T02:00:00'),
  } as unknown as Parameters<typeof runCli>[2];

  test('CSV after setclienv csvtable 1', () => {
    const { output, code } = runCli('setclienv csvtable 1\nshowsched s1', { user: '3paradm', csv: false }, fake);
    assert.equal(code, 0);
    assert.equal(output.split('\n')[0], 'SchedName,File/Command,Min,Hour,DOM,Month,DOW,CreatedBy,Status,Alert,NextRunTime');
    assert.equal(output.split('\n')[1], 's1,createsv -f p.@y@ dcv-a,"0,30",2,*,*,1-5,3paradm,active,Y,2024-01-16 02:00:00 UTC');
    assert.deepEqual(parseShowsched(output, 's1'), { name: 's1', command: 'createsv -f p.@y@ dcv-a', when: '0,30 2 * * 1-5' });
  });

  test('an unknown schedule, an unknown command', () => {
    assert.equal(runCli('showsched nope', { user: 'u', csv: true }, fake).output, 'No scheduled tasks listed\n');
    const r = runCli('showvv', { user: 'u', csv: true }, fake);
    assert.equal(r.code, 1);
    assert.match(r.output, /^Invalid command name "showvv"/);
  });
});
