import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/index.js';
import { plainPasswordWarnings } from '../../src/preflight/plain-passwords.js';
import type { KeyLookup } from '../../src/secrets/index.js';

const text = `[DEFAULT]
hpedockerplugin_driver = hpedockerplugin.hpe.hpe_3par_fc.HPE3PARFCDriver
hpe3par_api_url = https://10.0.0.1:8080/api/v1
hpe3par_username = 3paradm
hpe3par_password = enc:v1:0a1b2c3d:${Buffer.alloc(40, 1).toString('base64')}
san_ip = 10.0.0.1
san_password = plain-ssh
hpe3par_cpg = FC_r1
replication_device = backend_id:t, replication_mode:synchronous, cpg_map:FC_r1:FC_r2,
    hpe3par_api_url:https://10.0.0.2:8080/api/v1, hpe3par_password:plain-remote
`;

const withKey: KeyLookup = {
  found: true,
  stored: { format: 'v1', record: { v: 1, kid: '0a1b2c3d', kdf: { name: 'scrypt', N: 2, r: 1, p: 1, salt: '' }, key: '', created: '2026-01-01T00:00:00Z' } },
} as KeyLookup;

test('one warning per plain password written in the file, in a backend with a key too; inherited ones are not repeated', () => {
  const backend = parseConfig(text, 'hpe.conf').backends[0]!;
  const warnings = plainPasswordWarnings('hpe.conf', backend, withKey);
  assert.deepEqual(
    warnings.map((w) => `${w.status} ${w.subject}: ${w.detail} — fix: ${w.fix}`),
    [
      'warn secrets [DEFAULT]: hpe.conf:7: [DEFAULT].san_password: is plain text — fix: encrypt it in place with `hpe3parencryptor encrypt-config --backend DEFAULT`',
      'warn secrets [DEFAULT]: hpe.conf:10: [DEFAULT].replication_device.hpe3par_password: is plain text — fix: encrypt it in place with `hpe3parencryptor encrypt-config --backend DEFAULT`',
    ],
  );
  assert.equal(plainPasswordWarnings('hpe.conf', backend, { found: false }).length, 2);
});

test('unprefixed values under a legacy passphrase are legacy ciphertext, not plain text', () => {
  const backend = parseConfig(text, 'hpe.conf').backends[0]!;
  assert.deepEqual(plainPasswordWarnings('hpe.conf', backend, { found: true, stored: { format: 'legacy', passphrase: 'x' } }), []);
});
