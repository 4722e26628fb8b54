import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mountOptions } from '../../src/host/filesystem.js';

test('read-only mounts never replay a journal; xfs copies mount beside their parent (nouuid)', () => {
  assert.deepEqual(mountOptions('ext4', false), []);
  assert.deepEqual(mountOptions('ext4', true), ['ro', 'noload']);
  assert.deepEqual(mountOptions('xfs', false), ['nouuid']);
  assert.deepEqual(mountOptions('xfs', true), ['ro', 'norecovery', 'nouuid']);
});
