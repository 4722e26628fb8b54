import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  arrayVolumeName,
  decodeUuid,
  encodeUuid,
  InvalidGetNameError,
  isPluginArrayName,
  isValidVolumeName,
  newVolumeId,
  parseArrayName,
  parseGetName,
  VolumeRequestError,
  vvSetName,
} from '../../src/volumes/index.js';

describe('array names (upstream hpe/utils.py _encode_name)', () => {
  // Both pairs are upstream's own examples (the get_vol_id docstring, and the reference's corrected one).
  test('known uuids give upstream names', () => {
    assert.equal(arrayVolumeName('ecffc30f-98cb-4cf5-85ee-d7309cc17cd2', false), 'dcv-7P-DD5jLTPWF7tcwnMF80g');
    assert.equal(arrayVolumeName('acd437e7-f1bb-4e44-bfee-ff86510b900e', false), 'dcv-rNQ35-G7TkS-7v.GUQuQDg');
  });

  test('a snapshot is dcs-, the VV set vvs-, with the same 22 characters', () => {
    assert.equal(arrayVolumeName('ecffc30f-98cb-4cf5-85ee-d7309cc17cd2', true), 'dcs-7P-DD5jLTPWF7tcwnMF80g');
    assert.equal(vvSetName('ecffc30f-98cb-4cf5-85ee-d7309cc17cd2'), 'vvs-7P-DD5jLTPWF7tcwnMF80g');
  });

  test('+ becomes . and / becomes -, padding is dropped', () => {
    // bytes fb ef ff ... encode to "++//" in standard base64
    const uuid = 'fbefffbe-ffbf-fbef-ffbe-ffbffbefffbe';
    assert.equal(Buffer.from(uuid.replace(/-/g, ''), 'hex').toString('base64'), '++//vv+/++//vv+/++//vg==');
    assert.equal(encodeUuid(uuid), '..--vv.-..--vv.-..--vg');
  });

  test('upper-case uuids give the same name', () => {
    assert.equal(encodeUuid('ECFFC30F-98CB-4CF5-85EE-D7309CC17CD2'), '7P-DD5jLTPWF7tcwnMF80g');
  });

  test('every name fits 3PAR limit of 31 characters and round-trips', () => {
    for (let i = 0; i < 2000; i++) {
      const id = newVolumeId();
      const name = arrayVolumeName(id, i % 2 === 1);
      assert.equal(name.length, 26);
      assert.match(name, /^dc[vs]-[A-Za-z0-9.-]{22}$/);
      assert.deepEqual(parseArrayName(name), { kind: i % 2 === 1 ? 'snapshot' : 'volume', id });
      assert.equal(decodeUuid(name.slice(4)), id);
      assert.equal(isPluginArrayName(name), true);
    }
  });

  test('a non-uuid is refused', () => {
    assert.throws(() => encodeUuid('vol1'), TypeError);
    assert.throws(() => arrayVolumeName('ecffc30f98cb4cf585eed7309cc17cd2', false), TypeError);
  });

  test('isPluginArrayName: only canonical dcv-/dcs- names', () => {
    const cases: [string, boolean][] = [
      ['dcv-7P-DD5jLTPWF7tcwnMF80g', true],
      ['dcs-rNQ35-G7TkS-7v.GUQuQDg', true],
      ['vvs-7P-DD5jLTPWF7tcwnMF80g', false],
      ['dcv-7P-DD5jLTPWF7tcwnMF80h', false], // last character carries only 2 bits: A, Q, g or w
      ['dcv-7P-DD5jLTPWF7tcwnMF80', false],
      ['dcv-7P-DD5jLTPWF7tcwnMF80gg', false],
      ['dcv-7P+DD5jLTPWF7tcwnMF80g', false],
      ['dcv-7P/DD5jLTPWF7tcwnMF80g', false],
      ['DCV-7P-DD5jLTPWF7tcwnMF80g', false],
      ['legacy_vol', false],
      ['', false],
    ];
    for (const [name, expected] of cases) assert.equal(isPluginArrayName(name), expected, name);
  });

  test('parseArrayName reads the kind and the record uuid', () => {
    assert.deepEqual(parseArrayName('vvs-7P-DD5jLTPWF7tcwnMF80g'), { kind: 'vvSet', id: 'ecffc30f-98cb-4cf5-85ee-d7309cc17cd2' });
    assert.equal(parseArrayName('osv-7P-DD5jLTPWF7tcwnMF80g'), undefined);
  });

  test('newVolumeId gives distinct lower-case uuids v4', () => {
    const ids = new Set(Array.from({ length: 100 }, newVolumeId));
    assert.equal(ids.size, 100);
    for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(encodeUuid(randomUUID()).length, 22);
  });
});

describe('Docker names', () => {
  test('volume names as upstream validates them', () => {
    for (const ok of ['ab', 'vol1', 'Vol_1-a', '1-', 'a_b_c']) assert.equal(isValidVolumeName(ok), true, ok);
    for (const bad of ['', 'a', '_ab', '-ab', 'a.b', 'a/b', 'a b', 'vol!', 'é1']) assert.equal(isValidVolumeName(bad), false, bad);
  });

  test('Get names: vol or vol/snap', () => {
    assert.deepEqual(parseGetName('vol1'), { volume: 'vol1' });
    assert.deepEqual(parseGetName('vol1/snap1'), { volume: 'vol1', snapshot: 'snap1' });
  });

  test('more than one / (or an empty part) is refused with upstream text', () => {
    for (const name of ['a/b/c', 'a//b', 'vol/', '/snap', '/']) {
      assert.throws(
        () => parseGetName(name),
        (e: unknown) => e instanceof InvalidGetNameError && e instanceof VolumeRequestError && e.message === `invalid volume or snapshot name ${name}`,
      );
    }
  });
});
