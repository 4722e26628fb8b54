import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFirstStartAfterReboot } from '../../src/cli/serve.js';
import { DeferredDriver } from '../../src/server/index.js';

test('waiting instead of refusing applies only to the first start after a reboot of a host where the plugin served', () => {
  assert.equal(isFirstStartAfterReboot(undefined, 'boot-2'), false, 'never served here: refuse, so the admin sees why');
  assert.equal(isFirstStartAfterReboot('{"bootId":"boot-2","at":"x"}', 'boot-2'), false, 'same boot (explicit enable, dockerd restart): refuse');
  assert.equal(isFirstStartAfterReboot('{"bootId":"boot-1","at":"x"}', 'boot-2'), true, 'restored by dockerd after a reboot: wait');
  assert.equal(isFirstStartAfterReboot('not json', 'boot-2'), false);
});

test('the deferred driver refuses every call with the reason until the real driver is handed over', async () => {
  const deferred = new DeferredDriver('etcd 127.0.0.1:2379: refused');
  await assert.rejects(deferred.list(), /hpedockerplugin is waiting for its prerequisites and serves no volume request yet: etcd 127\.0\.0\.1:2379: refused/);
  deferred.waiting('etcd 127.0.0.1:2379: timeout');
  await assert.rejects(deferred.get('v'), /timeout/);
  deferred.ready({
    create: async () => {},
    remove: async () => {},
    get: async () => undefined,
    list: async () => [{ Name: 'v', Mountpoint: '', Status: {} }],
    path: async () => '',
    mount: async () => ({ Mountpoint: '', Devicename: '' }),
    unmount: async () => {},
  });
  assert.deepEqual(await deferred.list(), [{ Name: 'v', Mountpoint: '', Status: {} }]);
});
