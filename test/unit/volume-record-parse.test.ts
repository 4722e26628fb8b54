import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseVolumeRecord } from '../../src/volumes/store/records.js';

const record = {
  path_info: null,
  id: '0b6e1c4e-6c1f-4c55-9b9a-0d3f2c1e5a77',
  display_name: 'v1',
  '3par_vol_name': 'dcv-C24cTmwfTFWbmg0-LB5adw',
  backend: 'DEFAULT',
  size: 1,
  is_snap: false,
  snapshots: [{ name: 's1' }],
  Options: { size: '1' },
};

test('a record reads with every field as written, the checked fields first', () => {
  const parsed = parseVolumeRecord(JSON.stringify(record));
  assert.deepEqual(parsed, record);
  assert.deepEqual(Object.keys(parsed as object), ['id', 'display_name', '3par_vol_name', 'backend', 'size', 'is_snap', 'snapshots', 'path_info', 'Options']);
});

test('snapshots that are not a list read as none (records of the Python plugin)', () => {
  assert.deepEqual((parseVolumeRecord(JSON.stringify({ ...record, snapshots: 'x' })) as { snapshots: unknown }).snapshots, []);
  assert.deepEqual((parseVolumeRecord(JSON.stringify({ ...record, snapshots: undefined })) as { snapshots: unknown }).snapshots, []);
});

test('an unreadable record names the first field that is wrong, in the order the readers rely on them', () => {
  assert.match(String(parseVolumeRecord('{')), /^not JSON \(/);
  for (const text of ['[]', 'null', '"v1"', '5']) assert.equal(parseVolumeRecord(text), 'not a JSON object');
  assert.equal(parseVolumeRecord(JSON.stringify({ ...record, id: 7, backend: 7 })), 'field id is missing or not a string');
  assert.equal(parseVolumeRecord(JSON.stringify({ ...record, '3par_vol_name': undefined })), 'field 3par_vol_name is missing or not a string');
  assert.equal(parseVolumeRecord(JSON.stringify({ ...record, size: '1' })), 'field size is missing or not a number');
  assert.equal(parseVolumeRecord(JSON.stringify(record).replace('"size":1', '"size":1e999')), 'field size is missing or not a number');
  assert.equal(parseVolumeRecord(JSON.stringify({ ...record, is_snap: 'false' })), 'field is_snap is missing or not a boolean');
});
