import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkConfig } from '../../src/config/index.js';
import { fcBackendLines } from '../support/configs.js';

const fcBlock = fcBackendLines;

/** `[DEFAULT]` on line 1, `extra` from line 2. */
function check(...extra: string[]) {
  return checkConfig(['[DEFAULT]', ...extra, ...fcBlock, ''].join('\n'), 'hpe.conf');
}

function errors(...extra: string[]): { message: string; fix: string }[] {
  return check(...extra).errors.map((e) => ({ message: e.message, fix: e.fix }));
}

describe('host_etcd_prefix', () => {
  it('is unset by default: upstream\'s paths', () => {
    assert.equal(check().config?.host.etcd.prefix, undefined);
  });

  it('takes a /-path without a trailing /', () => {
    assert.equal(check('host_etcd_prefix = /hpe/cluster-a').config?.host.etcd.prefix, '/hpe/cluster-a');
  });

  for (const [value, problem] of [
    ['cluster-a', 'must start with /'],
    ['/cluster-a/', 'must not end with /'],
    ['/cluster a', 'must be /-separated names'],
    ['//a', 'must be /-separated names'],
  ] as const) {
    it(`refuses ${JSON.stringify(value)} at its line, with the fix`, () => {
      const [e, ...rest] = errors(`host_etcd_prefix = ${value}`);
      assert.equal(rest.length, 0);
      assert.ok(e!.message.startsWith('hpe.conf:2: [DEFAULT].host_etcd_prefix'), e!.message);
      assert.match(e!.message, new RegExp(problem));
      assert.match(e!.fix, /\/hpe-cluster-a/);
    });
  }
});

describe('host_etcd_user and host_etcd_password', () => {
  it('keeps the placeholder as written, never a resolved password', () => {
    const etcd = check('host_etcd_user = hpe-plugin', 'host_etcd_password = $file{/etc/hpedockerplugin/etcd-password}').config?.host.etcd;
    assert.equal(etcd?.user, 'hpe-plugin');
    assert.deepEqual(etcd?.password, { raw: '$file{/etc/hpedockerplugin/etcd-password}', line: 3 });
  });

  it('refuses a plain password, without quoting it', () => {
    const [e, ...rest] = errors('host_etcd_user = hpe-plugin', 'host_etcd_password = S3cret-Etcd');
    assert.equal(rest.length, 0);
    assert.match(e!.message, /^hpe\.conf:3: \[DEFAULT\]\.host_etcd_password: is written in plain text; it must be a \$file\{\} or \$env\{\} placeholder/);
    assert.ok(!e!.message.includes('S3cret-Etcd') && !e!.fix.includes('S3cret-Etcd'));
    assert.match(e!.fix, /\$file\{\/etc\/hpedockerplugin\/etcd-password\}.*\$env\{NAME\}/);
  });

  it('needs both: a user without password, and a password without user', () => {
    assert.match(errors('host_etcd_user = hpe-plugin')[0]!.message, /\[DEFAULT\]\.host_etcd_user: is set but host_etcd_password is not/);
    assert.match(errors('host_etcd_password = $env{ETCD_PW}')[0]!.message, /\[DEFAULT\]\.host_etcd_password: is set but host_etcd_user is not/);
  });

  it('refuses a user name that would need quoting on an etcdctl line', () => {
    assert.match(errors('host_etcd_user = a b', 'host_etcd_password = $env{ETCD_PW}')[0]!.message, /host_etcd_user: must be an etcd user name/);
  });
});
