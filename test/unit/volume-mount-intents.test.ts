import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mountIntentKey, parseMountIntent } from '../../src/volumes/store/mount-intents.js';

const good = {
  v: 1,
  op: 'mount',
  id: '0b0a7c2e-5d0e-4d4f-9a43-2b1f6f0c9e11',
  name: 'v1',
  backend: 'DEFAULT',
  arrayName: 'dcv-CwpsLl0OTU-aQysfbwyeEQ',
  node: 'node-a',
  mountDir: '/opt/hpe/data/hpedocker-dcv-CwpsLl0OTU-aQysfbwyeEQ',
  attachment: { transport: 'loop', device: '/dev/loop3', wwn: '60002ac0000000000000000800013a5', paths: [], file: '/sims/a/volumes/x.img' },
  started: '2026-11-30T12:00:00.000Z',
};

test('a mount intent round-trips through JSON', () => {
  assert.deepEqual(parseMountIntent(JSON.stringify(good)), good);
});

test('a damaged mount intent is named by its field, never thrown', () => {
  assert.match(String(parseMountIntent('{')), /^not JSON/);
  assert.match(String(parseMountIntent(JSON.stringify({ ...good, op: 'remount' }))), /^field op: /);
  assert.match(String(parseMountIntent(JSON.stringify({ ...good, id: 'x' }))), /^field id: /);
  assert.match(String(parseMountIntent(JSON.stringify({ ...good, attachment: { ...good.attachment, transport: 'nvme' } }))), /^field attachment\.transport: /);
  assert.match(String(parseMountIntent('[]')), /^the intent: /);
});

test('intents are kept per node, so a node reads only its own', () => {
  assert.equal(mountIntentKey('node-a', good.id), `/volume-mount-intents/node-a/${good.id}`);
});
