import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isOurPlugin } from '../../src/docker/index.js';

const hpe = { Name: 'hpe:latest', Enabled: true, Config: { Interface: { Socket: 'hpe.sock', Types: ['docker.volumedriver/1.0'] } } };

test('a plugin serving hpe.sock as a volume driver is ours, whatever its name', () => {
  assert.equal(isOurPlugin(hpe), true);
  assert.equal(isOurPlugin({ ...hpe, Name: 'store/hpestorage/hpedockervolumeplugin:3.3' }), true);
  const objectTypes = { ...hpe, Config: { Interface: { Socket: 'hpe.sock', Types: [{ Prefix: 'docker', Capability: 'volumedriver', Version: '1.0' }] } } };
  assert.equal(isOurPlugin(objectTypes), true);
});

test('other sockets or plugin types are not ours', () => {
  assert.equal(isOurPlugin({ ...hpe, Config: { Interface: { Socket: 'other.sock', Types: ['docker.volumedriver/1.0'] } } }), false);
  assert.equal(isOurPlugin({ ...hpe, Config: { Interface: { Socket: 'hpe.sock', Types: ['docker.logdriver/1.0'] } } }), false);
});

test('--plugin-name matches that name only, with or without :latest', () => {
  assert.equal(isOurPlugin({ ...hpe, Name: 'mine:latest', Config: {} }, 'mine'), true);
  assert.equal(isOurPlugin(hpe, 'mine'), false);
});
