import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EtcdError } from '../../src/errors.js';
import { UNVERIFIED_STATUS_KEY, unverifiedView } from '../../src/volumes/request/status.js';

test("an unverified answer holds only the name and etcd's reason with its fix and `hpedockerplugin check`", () => {
  const failure = new EtcdError('127.0.0.1:2379', 'refused', 'connection refused', 'start etcd on 127.0.0.1:2379');
  const view = unverifiedView('v1', failure);
  assert.deepEqual(Object.keys(view.Status), [UNVERIFIED_STATUS_KEY]);
  assert.equal(view.Mountpoint, '');
  assert.equal(view.CreatedAt, undefined);
  const text = view.Status[UNVERIFIED_STATUS_KEY] as string;
  assert.match(text, /^etcd 127\.0\.0\.1:2379: refused: connection refused\. This plugin saw volume v1 before but cannot read it now/);
  assert.match(text, /Fix: start etcd on 127\.0\.0\.1:2379; `hpedockerplugin check` on this host shows etcd's state$/);
});
