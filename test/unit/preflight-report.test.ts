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
