import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkConfig } from '../../src/config/index.js';

/**
 * Each check must be linear in the file: the start-up gate runs inside dockerd's 12.5 s window.
 * Before the fix these files took 10 s (a long value quoted by `shown`) and 40 s (a repeat key
 * looked up by scanning its section); now each takes a few hundred milliseconds, about as long as
 * an ordinary 1 MB file. The bound is 1 s, or 4× an ordinary 1 MB file checked in the same run when
 * the machine is loaded (a quadratic check is 30× and more), so a busy machine does not fail it.
 */
let reference: number | undefined;
function bound(): number {
  if (reference === undefined) {
    const started = performance.now();
    checkConfig(megabyteWith(''), 'hpe.conf');
    reference = performance.now() - started;
  }
  return Math.max(1000, 4 * reference);
}
const MegaByte = 1_000_000;
const longValue = 'x'.repeat(100_000);

function backend(name: string, driverSuffix = '', extra = ''): string {
  return [
    `[${name}]`,
    `hpedockerplugin_driver = hpedockerplugin.hpe.hpe_3par_iscsi.HPE3PARISCSIDriver${driverSuffix}`,
    'hpe3par_api_url = https://10.0.0.1:8080/api/v1',
    'hpe3par_username = admin',
    'hpe3par_password = pw-array',
    'san_ip = 10.0.0.1',
    'san_password = pw-ssh',
    'hpe3par_cpg = FC_r6',
    'hpe3par_iscsi_ips = 10.0.0.2',
    extra,
    '',
  ].join('\n');
}

/** `head`, then ordinary backends until the text is 1 MB. */
function megabyteWith(head: string): string {
  const parts = [head];
  let length = head.length;
  for (let i = 0; length < MegaByte; i += 1) {
    const next = backend(`B${i}`);
    parts.push(next);
    length += next.length;
  }
  return parts.join('');
}

function timed(text: string): { ms: number; errors: string[] } {
  const started = performance.now();
  const result = checkConfig(text, 'hpe.conf');
  return { ms: performance.now() - started, errors: result.errors.map((e) => e.message) };
}

describe('checking a 1 MB hpe.conf', () => {
  it('with a 100 kB value without whitespace and hundreds of sections takes well under a second', () => {
    const { ms, errors } = timed(megabyteWith(backend('DEFAULT', longValue)));
    assert.equal(errors.length, 1);
    assert.match(errors[0] ?? '', /^hpe\.conf:2: \[DEFAULT\]\.hpedockerplugin_driver: Bad driver name/);
    assert.ok(ms < bound(), `took ${ms.toFixed(0)} ms (bound ${bound().toFixed(0)} ms)`);
  });

  it('with a 100 kB value mentioning a password takes well under a second, and the password part is not shown', () => {
    const { ms, errors } = timed(megabyteWith(backend('DEFAULT', '', `host_etcd_port_number = 12${longValue}password=hunter2`)));
    assert.equal(errors.length, 1);
    assert.ok(errors[0]?.endsWith("not '...'"), errors[0]?.slice(-40));
    assert.ok(!errors[0]?.includes('hunter2'));
    assert.ok(ms < bound(), `took ${ms.toFixed(0)} ms (bound ${bound().toFixed(0)} ms)`);
  });

  it('with 50,000 options in one section takes well under a second', () => {
    const lines = [backend('DEFAULT')];
    for (let i = 0; i < 50_000; i += 1) lines.push(`k${i} = v`);
    lines.push('k7 = again');
    const { ms, errors } = timed(lines.join('\n'));
    assert.deepEqual(errors, ['hpe.conf:50012: [DEFAULT].k7: is set twice, at lines 19 and 50012']);
    assert.ok(ms < bound(), `took ${ms.toFixed(0)} ms (bound ${bound().toFixed(0)} ms)`);
  });

  it('with a 100 kB unknown option name takes well under a second', () => {
    const { ms, errors } = timed(megabyteWith(backend('DEFAULT', '', `hpe3par_${longValue} = 1`)));
    assert.deepEqual(errors, []);
    assert.ok(ms < bound(), `took ${ms.toFixed(0)} ms (bound ${bound().toFixed(0)} ms)`);
  });

  it('with a replication_device of 250,000 continuation lines takes well under a second', () => {
    const device = `replication_device = backend_id:t, hpe3par_api_url:https://10.0.0.9:8080/api/v1, cpg_map:${'a:b\n  '.repeat(250_000)}`;
    const { ms, errors } = timed(backend('DEFAULT', '', device));
    assert.ok(errors.length > 0);
    assert.ok(ms < bound(), `took ${ms.toFixed(0)} ms (bound ${bound().toFixed(0)} ms)`);
  });
});
