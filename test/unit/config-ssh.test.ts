import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkConfig, knownHostsFilePath, parseConfig } from '../../src/config/index.js';
import { backendSecrets, describeSecretStatus, revealConfigSecrets } from '../../src/secrets/index.js';
import { fcBackendLines } from '../support/configs.js';

const block = fcBackendLines;
const conf = (...extra: string[]): string => ['[DEFAULT]', ...block, ...extra, ''].join('\n');
const errorsOf = (text: string): string[] => checkConfig(text, 'hpe.conf').errors.map((e) => e.message);

describe('SSH options in hpe.conf', () => {
  it('defaults: port 22, 30 s, no key, trust on first use, known-hosts file under the state folder (unset here)', () => {
    const config = parseConfig(conf(), 'hpe.conf');
    const b = config.backends[0]!;
    assert.equal(b.sanSshPort, 22);
    assert.equal(b.sshConnTimeoutSec, 30);
    assert.equal(b.sanPrivateKey, undefined);
    assert.deepEqual(config.host.ssh, { strictHostKeyPolicy: false }, 'no ssh_hosts_key_file: the caller puts it in its state folder');
    assert.equal(config.warnings.length, 0);
  });

  it('set: port, time-out, key and its passphrase (a secret like the passwords), host options', () => {
    const config = parseConfig(
      conf('san_ssh_port = 2222', 'ssh_conn_timeout = 10', 'san_private_key = /etc/hpedockerplugin/id_ed25519', 'san_private_key_passphrase = key-pass', 'ssh_hosts_key_file = /etc/hpedockerplugin/known_hosts', 'strict_ssh_host_key_policy = true'),
      'hpe.conf',
    );
    const b = config.backends[0]!;
    assert.equal(b.sanSshPort, 2222);
    assert.equal(b.sshConnTimeoutSec, 10);
    assert.equal(b.sanPrivateKey, '/etc/hpedockerplugin/id_ed25519');
    assert.equal(b.sanPrivateKeyPassphrase?.option, 'san_private_key_passphrase');
    assert.equal(b.sanPrivateKeyPassphrase?.line, 12);
    assert.deepEqual(config.host.ssh, { strictHostKeyPolicy: true, knownHostsFile: '/etc/hpedockerplugin/known_hosts' });
    assert.deepEqual(backendSecrets(b).map((s) => s.option), ['hpe3par_password', 'san_password', 'san_private_key_passphrase']);
  });

  it('the known-hosts file: the option, else ssh_known_hosts in the state folder', () => {
    assert.equal(knownHostsFilePath('/var/lib/hpedockerplugin'), '/var/lib/hpedockerplugin/ssh_known_hosts');
    assert.equal(knownHostsFilePath('/var/lib/hpedockerplugin/', '/etc/hpedockerplugin/known_hosts'), '/etc/hpedockerplugin/known_hosts');
  });

  it('the passphrase is revealed and shown in status like the passwords, never its value', async () => {
    const config = parseConfig(conf('san_private_key = /k', 'san_private_key_passphrase = key-pass'), 'hpe.conf');
    const { secrets, failures } = await revealConfigSecrets(config, new Map(), {});
    assert.deepEqual(failures, []);
    assert.equal(secrets.get('DEFAULT')?.san_private_key_passphrase, 'key-pass');
    const status = JSON.stringify(describeSecretStatus(config, new Map()));
    assert.match(status, /san_private_key_passphrase/);
    assert.ok(!status.includes('key-pass'));
  });

  it('errors, located and without the secret', () => {
    assert.deepEqual(errorsOf(conf('san_ssh_port = 0')), ['hpe.conf:9: [DEFAULT].san_ssh_port: must be a port number from 1 to 65535, not 0']);
    assert.match(errorsOf(conf('ssh_conn_timeout = soon'))[0]!, /ssh_conn_timeout: must be a whole number of seconds/);
    assert.match(errorsOf(conf('san_private_key = id_rsa'))[0]!, /san_private_key: 'id_rsa' is not an absolute path/);
    const passOnly = errorsOf(conf('san_private_key_passphrase = secret-pass'));
    assert.deepEqual(passOnly, ['hpe.conf:9: [DEFAULT].san_private_key_passphrase: is set but san_private_key is not']);
    assert.match(errorsOf(conf('ssh_hosts_key_file = known'))[0]!, /ssh_hosts_key_file: 'known' is not an absolute path/);
  });
});
