import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { createEtcdClient, type EtcdClient } from '../../src/etcd/index.js';
import {
  encryptConfigFile,
  loadKeyLookups,
  migrateLegacyBackend,
  revealConfigSecrets,
  rotateBackendKey,
  RotationSteps,
  type RotationStep,
} from '../../src/secrets/index.js';
import { testPasswords, tempDir, twoBackendConfig, type TempDir } from '../support/configs.js';
import { startEtcd, type EtcdCluster } from '../support/etcd.js';

let etcd: EtcdCluster;
let dir: TempDir;
let client: EtcdClient;

before(async () => {
  etcd = await startEtcd({ members: 1 });
  dir = await tempDir();
  client = await createEtcdClient({ endpoints: etcd.endpoints });
});

after(async () => {
  client?.close();
  await etcd?.stop();
  await dir?.remove();
});

class SimulatedCrash extends Error {}

function crashAfter(step: RotationStep) {
  return {
    afterStep: (s: RotationStep) => {
      if (s === step) throw new SimulatedCrash(`crash after ${s}`);
    },
  };
}

/** What the plugin would do at start: read the file and the keys, decrypt all four passwords of each backend. */
async function pluginView(file: string) {
  const config = await loadConfig(file);
  const { secrets, failures } = await revealConfigSecrets(config, await loadKeyLookups(client));
  assert.deepEqual(failures.map((f) => f.message), []);
  return secrets;
}

const expected = {
  hpe3par_password: testPasswords.secondArray,
  san_password: testPasswords.secondSan,
  'replication_device.hpe3par_password': testPasswords.remoteArray,
  'replication_device.san_password': testPasswords.remoteSan,
};

async function clearKeys() {
  for (const key of (await client.getPrefix('/backend/')).keys()) await client.delete(`/backend/${key}`);
}

describe('rotate survives a crash after every step', () => {
  for (const step of RotationSteps) {
    test(`crash after ${step}: the config still decrypts, and running rotate again finishes`, async () => {
      await clearKeys();
      const file = await dir.file(`rotate-${step}.conf`, twoBackendConfig('127.0.0.1', etcd.endpoints[0]!.port));
      await encryptConfigFile(file, client, ['DEFAULT', '3par2'], 'old passphrase');
      await assert.rejects(rotateBackendKey(file, client, '3par2', 'new passphrase', crashAfter(step)), SimulatedCrash);

      assert.deepEqual((await pluginView(file)).get('3par2'), expected);

      if (step !== 'retired-dropped') {
        const resumed = await rotateBackendKey(file, client, '3par2', 'new passphrase');
        assert.equal(resumed.reencrypted, step === 'key-staged' ? 4 : 0);
      }
      const record = JSON.parse((await client.get('/backend/3par2'))!.value);
      assert.equal(record.retired, undefined, 'the old key is dropped once the file no longer needs it');
      assert.equal((await readFile(file, 'utf8')).split(`enc:v1:${record.kid}:`).length - 1, 4);
      assert.deepEqual((await pluginView(file)).get('3par2'), expected);
      assert.deepEqual((await pluginView(file)).get('DEFAULT'), { hpe3par_password: testPasswords.defaultArray, san_password: testPasswords.defaultSan });
    });
  }

  test('an unfinished rotation refuses a third passphrase and changes nothing', async () => {
    await clearKeys();
    const file = await dir.file('rotate-other.conf', twoBackendConfig('127.0.0.1', etcd.endpoints[0]!.port));
    await encryptConfigFile(file, client, ['3par2'], 'old passphrase');
    await assert.rejects(rotateBackendKey(file, client, '3par2', 'new passphrase', crashAfter('key-staged')), SimulatedCrash);
    const record = (await client.get('/backend/3par2'))!.value;
    const text = await readFile(file, 'utf8');
    await assert.rejects(rotateBackendKey(file, client, '3par2', 'third passphrase'), /an earlier rotation of backend 3par2 to key [0-9a-f]{8} did not finish/);
    assert.equal((await client.get('/backend/3par2'))!.value, record);
    assert.equal(await readFile(file, 'utf8'), text);
  });
});

describe('migrate survives a crash after every step', () => {
  for (const step of RotationSteps) {
    test(`crash after ${step}: legacy values still decrypt, and migrate again finishes`, async () => {
      await clearKeys();
      const text = twoBackendConfig('127.0.0.1', etcd.endpoints[0]!.port)
        .replace(testPasswords.defaultArray, '+CB1E8Je1j8=')
        .replace(testPasswords.defaultSan, '+CB1E8Je1j8=');
      const file = await dir.file(`migrate-${step}.conf`, text);
      await client.putIfAbsent('/backend/DEFAULT', '@123#');
      await assert.rejects(migrateLegacyBackend(file, client, 'DEFAULT', crashAfter(step)), SimulatedCrash);
      assert.deepEqual((await pluginView(file)).get('DEFAULT'), { hpe3par_password: 'password', san_password: 'password' });
      const again = await migrateLegacyBackend(file, client, 'DEFAULT');
      assert.equal(again === 'not-legacy', step === 'retired-dropped');
      const record = JSON.parse((await client.get('/backend/DEFAULT'))!.value);
      assert.equal(record.legacyPassphrase, undefined);
      assert.deepEqual((await pluginView(file)).get('DEFAULT'), { hpe3par_password: 'password', san_password: 'password' });
    });
  }
});
