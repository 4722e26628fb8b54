import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EtcdError } from '../../src/errors.js';
import { SeenVolumes, UNVERIFIED_STATUS_KEY, unverifiedView } from '../../src/volumes/seen-volumes.js';

test('seen names follow saw, gone and a full listing', () => {
  const seen = new SeenVolumes();
  seen.saw('v1');
  seen.saw('v2');
  seen.gone('v1');
  assert.equal(seen.has('v1'), false);
  assert.equal(seen.has('v2'), true);
  seen.replace(['v3']);
  assert.deepEqual(['v1', 'v2', 'v3'].map((n) => seen.has(n)), [false, false, true]);
});

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
