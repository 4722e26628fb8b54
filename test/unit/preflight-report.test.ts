import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildReport, formatReport } from '../../src/preflight/index.js';

const at = new Date('2026-11-22T10:00:00Z');

test('one line per check, the fix on failures, and a verdict line', () => {
  const report = buildReport(
    '/etc/hpedockerplugin/hpe.conf',
    [
      { check: 'config.file', status: 'ok', subject: 'config file', detail: '/etc/hpedockerplugin/hpe.conf (mode 0600)' },
      { check: 'etcd.member', status: 'FAIL', subject: 'etcd 127.0.0.1:2379', detail: 'refused', fix: 'start etcd' },
      { check: 'keys', status: 'warn', subject: 'key [DEFAULT]', detail: 'no key', fix: 'encrypt' },
    ],
    at,
  );
  assert.equal(report.passed, false);
  assert.equal(
    formatReport(report),
    [
      'ok   config file: /etc/hpedockerplugin/hpe.conf (mode 0600)',
      'FAIL etcd 127.0.0.1:2379: refused — fix: start etcd',
      'warn key [DEFAULT]: no key — fix: encrypt',
      'failed: 1 prerequisite is not met; the plugin will not start until it passes',
    ].join('\n'),
  );
});

test('warnings alone pass', () => {
  const report = buildReport('f', [{ check: 'keys', status: 'warn', subject: 's', detail: 'd', fix: 'x' }], at);
  assert.equal(report.passed, true);
  assert.match(formatReport(report), /^passed: every prerequisite is met \(1 warning\)$/m);
});

const arrayFail = { check: 'array', status: 'FAIL', subject: 'array [DEFAULT]', detail: 'login failed; the plugin starts, but this backend stays FAILED until it passes', fix: 'x' } as const;
const etcdFail = { check: 'etcd.member', status: 'FAIL', subject: 'etcd 127.0.0.1:2379', detail: 'refused', fix: 'start etcd' } as const;

test('array failures alone: the verdict says the plugin starts (the gate does not log in to arrays), not that it will not', () => {
  const report = buildReport('f', [arrayFail, { ...arrayFail, subject: 'array [3par2]' }], at);
  assert.equal(report.passed, false);
  const verdict = formatReport(report).split('\n').at(-1);
  assert.equal(verdict, 'failed: 2 array checks fail; the plugin starts (its start-up gate does not log in to arrays), but those backends stay FAILED until they pass');
});

test('array failures with other failures are counted apart', () => {
  const verdict = formatReport(buildReport('f', [etcdFail, arrayFail], at)).split('\n').at(-1);
  assert.equal(
    verdict,
    'failed: 1 prerequisite is not met; the plugin will not start until it passes. 1 array check fails too; once the plugin starts, that backend stays FAILED until it passes',
  );
});

const targetFail = {
  check: 'array.replication',
  status: 'FAIL',
  subject: 'array [DEFAULT] replication target array2',
  detail: 'refused; only replicated operations of [DEFAULT] are refused until it passes, its plain volumes keep working',
  fix: 'x',
} as const;

test('a replication target failure: the verdict says only replicated operations wait, not that its backend is FAILED', () => {
  const report = buildReport('f', [targetFail], at);
  assert.equal(report.passed, false);
  assert.equal(
    formatReport(report).split('\n').at(-1),
    'failed: 1 replication target check fails; the plugin starts (its start-up gate does not log in to arrays), but only the replicated operations of its backend are refused until it passes (plain volumes keep working)',
  );
});

test('array and replication target failures are told apart, also next to other failures', () => {
  assert.equal(
    formatReport(buildReport('f', [arrayFail, targetFail, { ...targetFail, subject: 'array [b2] replication target t2' }], at)).split('\n').at(-1),
    'failed: 1 array check fails, 2 replication target checks fail; the plugin starts (its start-up gate does not log in to arrays), but that backend stays FAILED until it passes; only the replicated operations of their backends are refused until they pass (plain volumes keep working)',
  );
  assert.equal(
    formatReport(buildReport('f', [etcdFail, targetFail], at)).split('\n').at(-1),
    'failed: 1 prerequisite is not met; the plugin will not start until it passes. 1 replication target check fails too; once the plugin starts, only the replicated operations of its backend are refused until it passes (plain volumes keep working)',
  );
});
