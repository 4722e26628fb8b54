import assert from 'node:assert/strict';
import { test } from 'node:test';
import { storedConnection, withoutNode } from '../../src/volumes/flows/mount.js';
import type { VolumeRecord } from '../../src/volumes/store/records.js';

test('the connection kept in the volume record never holds the CHAP secret (the array keeps it as volume metadata)', () => {
  const kept = storedConnection({
    transport: 'iscsi',
    wwn: '60002AC0000000000000000A00019D4A',
    lun: 3,
    targets: [{ portal: '10.10.1.21:3260', iqn: 'iqn.2000-05.com.3pardata:20210002ac01db6e' }],
    chap: { username: 'host1.example.com', secret: 'Zx9#kQ2!vL7pR4tW' },
  });
  assert.equal(JSON.stringify(kept).includes('Zx9#kQ2!vL7pR4tW'), false);
  assert.deepEqual(kept['chap'], { username: 'host1.example.com' });
});

test('releasing a node clears its path and leaves the other nodes\' references', () => {
  const r = { node_mount_info: { a: ['c1'], b: ['c2'] }, path_info: { name: 'v', path: '/dev/loop1', mount_dir: '/m' } } as unknown as VolumeRecord;
  assert.deepEqual(withoutNode(r, 'a').node_mount_info, { b: ['c2'] });
  assert.equal(withoutNode(r, 'a').path_info, null);
  assert.equal('node_mount_info' in withoutNode({ ...r, node_mount_info: { a: ['c1'] } }, 'a'), false);
});
