import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runWithFilePermissions } from '../support/unprivileged.js';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, ConfigErrors } from '../../src/errors.js';
import { fcBackendLines } from '../support/configs.js';
import {
  checkConfig,
  DefaultConfigPath,
  loadConfig,
  parseConfig,
  resolveConfigPath,
  type BackendConfig,
  type HpeConfig,
} from '../../src/config/index.js';

/** Compiled tests run from dist/test/unit/, three levels below the repository root. */
const root = fileURLToPath(new URL('../../../', import.meta.url));
const fullPath = join(root, 'test/fixtures/config/good/full.conf');

const fcBlock = fcBackendLines;

/** `[DEFAULT]` on line 1, the FC options on lines 2-8, then `extra` from line 9. */
function conf(...extra: string[]): string {
  return ['[DEFAULT]', ...fcBlock, ...extra, ''].join('\n');
}

function errorsOf(text: string): string[] {
  return checkConfig(text, 'hpe.conf').errors.map((e) => e.message);
}

function backend(config: HpeConfig, name: string): BackendConfig {
  const found = config.backends.find((b) => b.name === name);
  assert.ok(found, `backend ${name}`);
  return found;
}

describe('config validate: a complete file', () => {
  const text = readFileSync(fullPath, 'utf8');
  const config = parseConfig(text, 'full.conf');

  it('keeps the file and its text, with no warning', () => {
    assert.equal(config.file, 'full.conf');
    assert.equal(config.text, text);
    assert.deepEqual(config.warnings, []);
  });

  it('reads the host options from [DEFAULT]', () => {
    assert.deepEqual(config.host, {
      etcd: {
        endpoints: [
          { host: '192.168.10.1', port: 2379 },
          { host: '192.168.10.2', port: 2379 },
          { host: '192.168.10.3', port: 2379 },
        ],
        clientCert: '/etc/hpedockerplugin/etcd-client.pem',
        clientKey: '/etc/hpedockerplugin/etcd-client-key.pem',
        caCert: '/etc/hpedockerplugin/etcd-ca.pem',
      },
      logging: 'INFO',
      mountPrefix: '/var/lib/hpe/',
      ssh: { knownHostsFile: '/root/.ssh/known_hosts', strictHostKeyPolicy: false },
    });
  });

  it('reads every section as a backend, in file order', () => {
    assert.deepEqual(
      config.backends.map((b) => [b.name, b.line, b.driver]),
      [
        ['DEFAULT', 2, 'iscsi'],
        ['3par_fc', 28, 'fc'],
        ['files', 45, 'file'],
      ],
    );
  });

  it('types the iSCSI backend', () => {
    const b = backend(config, 'DEFAULT');
    assert.equal(b.apiUrl, 'https://10.50.3.21:8080/api/v1');
    assert.equal(b.username, '3paradm');
    assert.equal(b.sanIp, '10.50.3.21');
    assert.equal(b.sanLogin, '3paradm');
    assert.deepEqual(b.cpg, ['FC_r1', 'FC_r5']);
    assert.deepEqual(b.snapCpg, ['FC_snap']);
    assert.deepEqual(b.iscsiIps, [
      { ip: '10.50.3.30', port: 3260 },
      { ip: '10.50.3.31', port: 3261 },
    ]);
    assert.equal(b.iscsiChapEnabled, true);
    assert.equal(b.debug, false);
    assert.equal(b.caCert, '/etc/hpedockerplugin/array-ca.pem');
    assert.equal(b.replication, undefined);
    assert.equal(b.options['suppress_requests_ssl_warnings'], 'True');
  });

  it('keeps passwords as written, with spans that slice to them', () => {
    const b = backend(config, 'DEFAULT');
    assert.deepEqual([b.password.option, b.password.raw, b.password.line], ['hpe3par_password', '3par pass', 15]);
    assert.deepEqual([b.sanPassword.option, b.sanPassword.raw, b.sanPassword.line], ['san_password', 'san#pass ; not a comment', 18]);
    for (const backendConfig of config.backends) {
      for (const secret of [backendConfig.password, backendConfig.sanPassword, backendConfig.replication?.password]) {
        if (secret?.span === undefined) continue;
        assert.equal(text.slice(secret.span.start, secret.span.end), secret.raw);
      }
    }
  });

  it('applies defaults: san_login admin, snap CPG = CPG, old API URL name, no iSCSI IPs for FC', () => {
    const b = backend(config, '3par_fc');
    assert.equal(b.sanLogin, 'admin');
    assert.deepEqual(b.snapCpg, ['FC_r6']);
    assert.equal(b.apiUrl, 'https://10.50.4.21:8080/api/v1');
    assert.deepEqual(b.iscsiIps, []);
    assert.equal(b.iscsiChapEnabled, false);
    assert.equal(b.caCert, undefined);
  });

  it('reads a replication device that inherits from its backend', () => {
    const r = backend(config, '3par_fc').replication;
    assert.ok(r);
    assert.equal(r.mode, 'asynchronous');
    assert.equal(r.syncPeriod, 600);
    assert.equal(r.username, 'fcadm');
    assert.equal(r.sanIp, '10.50.4.21');
    assert.equal(r.password.raw, 'remotepass');
    assert.equal(r.sanPassword.raw, 'fcsanpass');
    assert.equal(r.sanPassword.inheritedFrom, 'san_password');
    assert.equal(r.sanPassword.span, undefined);
  });
});

describe('config validate: drivers', () => {
  it('every backend needs its own driver; the fix says nothing is inherited', () => {
    const result = checkConfig(conf('', '[b3]', ...fcBlock.slice(1)), 'hpe.conf');
    assert.deepEqual(
      result.errors.map((e) => e.message),
      ['hpe.conf:10: [b3].hpedockerplugin_driver: is missing'],
    );
    assert.ok(result.errors[0]?.fix.startsWith('add `hpedockerplugin_driver = <driver>` to [b3] (each backend must set its own; nothing is inherited from [DEFAULT]); <driver> is '));
  });

  it('a bad driver name uses the upstream text', () => {
    assert.deepEqual(errorsOf(conf().replace('HPE3PARFCDriver', 'HPE3PARFcDriver')), [
      'hpe.conf:2: [DEFAULT].hpedockerplugin_driver: Bad driver name specified in hpe.conf: hpedockerplugin.hpe.hpe_3par_fc.HPE3PARFcDriver',
    ]);
  });

  it('DEFAULT_FILE may not be a block backend', () => {
    assert.deepEqual(errorsOf(conf('[DEFAULT_FILE]', ...fcBlock)), [
      "hpe.conf:10: [DEFAULT_FILE].hpedockerplugin_driver: 'DEFAULT_FILE' backend cannot be defined for BLOCK driver",
    ]);
  });

  it('a file-driver [DEFAULT] needs a [DEFAULT_BLOCK] only when there are block backends', () => {
    const fileDefault = conf().replace(/hpedockerplugin\.hpe\.hpe_3par_fc\.HPE3PARFCDriver/, 'hpedockerplugin.hpe.hpe_3par_file.HPE3PARFileDriver');
    assert.deepEqual(errorsOf(fileDefault), []);
    assert.equal(errorsOf(`${fileDefault}[b]\n${fcBlock.join('\n')}\n`).length, 1);
    assert.deepEqual(errorsOf(`${fileDefault}[DEFAULT_BLOCK]\n${fcBlock.join('\n')}\n`), []);
  });
});

describe('config validate: required options', () => {
  it('each missing option is reported at the section header with a fix', () => {
    const result = checkConfig('[DEFAULT]\nhpedockerplugin_driver = hpedockerplugin.hpe.hpe_3par_fc.HPE3PARFCDriver\n\n[b3]\n', 'hpe.conf');
    const b3 = result.errors.filter((e) => e.location.section === 'b3');
    assert.deepEqual(
      b3.map((e) => [e.location.line, e.location.option, e.problem]),
      [
        [4, 'hpedockerplugin_driver', 'is missing'],
        [4, 'hpe3par_api_url', 'is missing'],
        [4, 'hpe3par_username', 'is missing'],
        [4, 'hpe3par_password', 'is missing'],
        [4, 'san_ip', 'is missing'],
        [4, 'san_password', 'is missing'],
        [4, 'hpe3par_cpg', 'is missing'],
      ],
    );
    assert.equal(b3[2]?.fix, 'add `hpe3par_username = <array user>` to [b3] (each backend must set its own; nothing is inherited from [DEFAULT])');
    assert.equal(result.errors.filter((e) => e.location.section === 'DEFAULT').length, 6);
  });

  it('an empty value is reported on its own line', () => {
    assert.deepEqual(errorsOf(conf().replace('hpe3par_username = 3paradm', 'hpe3par_username =')), [
      'hpe.conf:4: [DEFAULT].hpe3par_username: is empty',
    ]);
  });

  it('the API URL must be http(s); the URL is not echoed', () => {
    for (const url of ['10.0.0.1:8080/api/v1', 'ftp://10.0.0.1/', 'https://', 'https://user:hunter2@/']) {
      const errors = errorsOf(conf().replace('https://10.50.4.21:8080/api/v1', url));
      assert.deepEqual(errors, ['hpe.conf:3: [DEFAULT].hpe3par_api_url: must be an http:// or https:// URL'], url);
    }
  });

  it('the old name hp3par_api_url counts; with both, the old one is ignored with a warning', () => {
    const old = checkConfig(conf().replace('hpe3par_api_url', 'hp3par_api_url'), 'hpe.conf');
    assert.equal(old.config?.backends[0]?.apiUrl, 'https://10.50.4.21:8080/api/v1');
    const both = checkConfig(conf('hp3par_api_url = https://old/api/v1'), 'hpe.conf');
    assert.equal(both.config?.backends[0]?.apiUrl, 'https://10.50.4.21:8080/api/v1');
    assert.deepEqual(
      both.warnings.map((w) => w.message),
      ["'hp3par_api_url' is the old name of 'hpe3par_api_url', which is also set; it is ignored"],
    );
  });

  it('hpe3par_cpg must list a CPG; hpe3par_snapcpg defaults to it, even when empty', () => {
    assert.deepEqual(errorsOf(conf().replace('hpe3par_cpg = FC_r1', 'hpe3par_cpg = , ,')), ['hpe.conf:8: [DEFAULT].hpe3par_cpg: lists no CPG']);
    const config = parseConfig(conf('hpe3par_snapcpg =').replace('FC_r1', 'a, b'), 'hpe.conf');
    assert.deepEqual(config.backends[0]?.snapCpg, ['a', 'b']);
  });

  it('the iSCSI driver needs hpe3par_iscsi_ips', () => {
    const iscsi = conf().replace('hpe_3par_fc.HPE3PARFCDriver', 'hpe_3par_iscsi.HPE3PARISCSIDriver');
    assert.deepEqual(errorsOf(iscsi), ['hpe.conf:1: [DEFAULT].hpe3par_iscsi_ips: is missing (required for the iSCSI driver)']);
    assert.deepEqual(parseConfig(`${iscsi}hpe3par_iscsi_ips = 10.0.0.1, [fe80::1]:3261,fe80::2\n`, 'hpe.conf').backends[0]?.iscsiIps, [
      { ip: '10.0.0.1', port: 3260 },
      { ip: 'fe80::1', port: 3261 },
      { ip: 'fe80::2', port: 3260 },
    ]);
  });

  it('a password that continues onto an indented line is an error, without the password', () => {
    const result = checkConfig(conf().replace('san_password = pw-ssh', 'san_password = pw-ssh\n   san_login = x'), 'hpe.conf');
    assert.deepEqual(
      result.errors.map((e) => e.describe()),
      [
        'hpe.conf:7: [DEFAULT].san_password: continues onto line 8, so its value would contain a line break. Fix: write the value on line 7 only, or remove the indentation of line 8 if it starts a new option',
      ],
    );
  });

  it('a stray indent glueing a password onto another option does not echo the password', () => {
    const result = checkConfig(conf('logging = debug', '  hpe3par_password = pw-glued'), 'hpe.conf');
    assert.deepEqual(
      result.errors.map((e) => e.message),
      ['hpe.conf:9: [DEFAULT].logging: continues onto line 10, so its value would contain a line break'],
    );
  });
});

describe('config validate: value shapes', () => {
  it('booleans accept true/false, yes/no, on/off, 1/0 in any case', () => {
    for (const [word, value] of [
      ['TRUE', true],
      ['Yes', true],
      ['on', true],
      ['1', true],
      ['false', false],
      ['NO', false],
      ['Off', false],
      ['0', false],
    ] as const) {
      const b = parseConfig(conf(`hpe3par_debug = ${word}`, `hpe3par_iscsi_chap_enabled = ${word}`), 'hpe.conf').backends[0];
      assert.equal(b?.debug, value, word);
      assert.equal(b?.iscsiChapEnabled, value, word);
    }
  });

  it('a bad boolean, in any boolean option', () => {
    assert.deepEqual(errorsOf(conf('hpe3par_debug = y', 'suppress_requests_ssl_warnings = nope', 'use_multipath = 2')), [
      "hpe.conf:9: [DEFAULT].hpe3par_debug: must be true or false, not 'y'",
      "hpe.conf:10: [DEFAULT].suppress_requests_ssl_warnings: must be true or false, not 'nope'",
      "hpe.conf:11: [DEFAULT].use_multipath: must be true or false, not '2'",
    ]);
  });

  it('hpe3par_ca_cert must be an absolute path', () => {
    assert.deepEqual(errorsOf(conf('hpe3par_ca_cert = ca.pem')), ["hpe.conf:9: [DEFAULT].hpe3par_ca_cert: 'ca.pem' is not an absolute path"]);
    assert.equal(parseConfig(conf('hpe3par_ca_cert ='), 'hpe.conf').backends[0]?.caCert, undefined);
  });
});

describe('config validate: host options', () => {
  const endpoints = (...lines: string[]) => parseConfig(conf(...lines), 'hpe.conf').host.etcd.endpoints;

  it('defaults: etcd 0.0.0.0:2379, logging WARNING, trust an array\'s SSH key on first use', () => {
    const { host } = parseConfig(conf(), 'hpe.conf');
    assert.deepEqual(host, { etcd: { endpoints: [{ host: '0.0.0.0', port: 2379 }] }, logging: 'WARNING', ssh: { strictHostKeyPolicy: false } });
  });

  it('a single host takes host_etcd_port_number', () => {
    assert.deepEqual(endpoints('host_etcd_ip_address = etcd.local', 'host_etcd_port_number = 4001'), [{ host: 'etcd.local', port: 4001 }]);
  });

  it('a single host:port is read as host and port (upstream passed it on as a host name)', () => {
    assert.deepEqual(endpoints('host_etcd_ip_address = 10.0.0.5:23790', 'host_etcd_port_number = 4001'), [{ host: '10.0.0.5', port: 23790 }]);
  });

  it('a comma list needs host:port members', () => {
    assert.deepEqual(endpoints('host_etcd_ip_address = a:1, b:2,'), [
      { host: 'a', port: 1 },
      { host: 'b', port: 2 },
    ]);
    const result = checkConfig(conf('host_etcd_ip_address = a:1,b,c:x'), 'hpe.conf');
    assert.deepEqual(
      result.errors.map((e) => e.message),
      ["hpe.conf:9: [DEFAULT].host_etcd_ip_address: member 'b' is not host:port", "hpe.conf:9: [DEFAULT].host_etcd_ip_address: member 'c:x' is not host:port"],
    );
    assert.equal(result.errors[0]?.fix, 'in a comma-separated list every member needs its port, e.g. 10.0.0.1:2379,10.0.0.2:2379');
  });

  it('ports are 1..65535', () => {
    assert.deepEqual(errorsOf(conf('host_etcd_port_number = 0')), ['hpe.conf:9: [DEFAULT].host_etcd_port_number: must be a port number from 1 to 65535, not 0']);
    assert.deepEqual(errorsOf(conf('host_etcd_port_number = 2379x')), [
      "hpe.conf:9: [DEFAULT].host_etcd_port_number: must be a port number from 1 to 65535, not '2379x'",
    ]);
  });

  it('client certificate and key come together', () => {
    assert.deepEqual(errorsOf(conf('host_etcd_client_key = /k.pem')), ['hpe.conf:9: [DEFAULT].host_etcd_client_key: is set but host_etcd_client_cert is not']);
    const { etcd } = parseConfig(conf('host_etcd_client_key = /k.pem', 'host_etcd_client_cert = /c.pem'), 'hpe.conf').host;
    assert.deepEqual([etcd.clientCert, etcd.clientKey], ['/c.pem', '/k.pem']);
  });

  it('logging is case-insensitive', () => {
    assert.equal(parseConfig(conf('logging = error'), 'hpe.conf').host.logging, 'ERROR');
    assert.deepEqual(errorsOf(conf('logging = TRACE')), ["hpe.conf:9: [DEFAULT].logging: must be one of DEBUG, INFO, WARNING, ERROR, not 'TRACE'"]);
  });

  it('host options outside [DEFAULT] are ignored with a warning', () => {
    const config = parseConfig(conf('', '[b]', ...fcBlock, 'logging = DEBUG', 'host_etcd_ip_address = nowhere'), 'hpe.conf');
    assert.equal(config.host.logging, 'WARNING');
    assert.deepEqual(
      config.warnings.map((w) => [w.line, w.section, w.option, w.message]),
      [
        [18, 'b', 'logging', "'logging' is a host option, read from [DEFAULT] only; it is ignored here"],
        [19, 'b', 'host_etcd_ip_address', "'host_etcd_ip_address' is a host option, read from [DEFAULT] only; it is ignored here"],
      ],
    );
  });
});

describe('config validate: other options and whole-file behaviour', () => {
  it('known upstream options are accepted silently; unknown ones warn, with a suggestion when one is close', () => {
    const config = parseConfig(
      conf('san_private_key = /root/.ssh/id_rsa', 'iscsi_port = 3260', 'use_chap_auth = False', 'hpe3par_snapcgp = x', 'volume_color = blue'),
      'hpe.conf',
    );
    assert.deepEqual(
      config.warnings.map((w) => w.message),
      ["unknown option 'hpe3par_snapcgp' is ignored; did you mean 'hpe3par_snapcpg'?", "unknown option 'volume_color' is ignored"],
    );
  });

  it('[backend_defaults] is an ordinary backend, with a warning', () => {
    const config = parseConfig(conf('', '[backend_defaults]', ...fcBlock), 'hpe.conf');
    assert.deepEqual(
      config.backends.map((b) => b.name),
      ['DEFAULT', 'backend_defaults'],
    );
    assert.deepEqual(
      config.warnings.map((w) => w.message),
      ['[backend_defaults] is read as an ordinary backend; other backends do not inherit its values'],
    );
  });

  it('a missing [DEFAULT] is one error for the file', () => {
    assert.deepEqual(errorsOf(`[b]\n${fcBlock.join('\n')}\n`), ['hpe.conf: has no [DEFAULT] section']);
    assert.deepEqual(errorsOf(''), ['hpe.conf: has no [DEFAULT] section']);
  });

  it('collects the errors of every backend, ordered by line', () => {
    const text = ['[DEFAULT]', ...fcBlock.slice(1), '', '[b]', ...fcBlock, 'hpe3par_debug = perhaps', 'oops'].join('\n');
    assert.deepEqual(errorsOf(text), [
      'hpe.conf:1: [DEFAULT].hpedockerplugin_driver: is missing',
      "hpe.conf:17: [b].hpe3par_debug: must be true or false, not 'perhaps'",
      'hpe.conf:18: [b]: line is not a [section] header, a `key = value` option or a comment',
    ]);
  });

  it('a control character is a located error with its fix, and is never echoed', () => {
    const device = 'backend_id:r, replication_mode:synchronous, cpg_map:FC_r1:FC_r2, hpe3par_api_url:https://10.50.4.22:8080/api/v1';
    const result = checkConfig(conf(`replication\u0000_device = ${device}`, 'hpe3par_debug = fal\u001bse'), 'hpe.conf');
    assert.deepEqual(
      result.errors.map((e) => e.describe()),
      [
        'hpe.conf:9: [DEFAULT]: line holds the control character U+0000 (NUL) at column 12. Fix: delete it and retype that part of the line: hpe.conf must be plain text (`cat -A` shows control characters, e.g. ^@ for NUL)',
        'hpe.conf:10: [DEFAULT]: line holds the control character U+001B (escape) at column 20. Fix: delete it and retype that part of the line: hpe.conf must be plain text (`cat -A` shows control characters, e.g. ^@ for NUL)',
        "hpe.conf:10: [DEFAULT].hpe3par_debug: must be true or false, not 'fal\uFFFDse'. Fix: write true or false (yes/no, on/off and 1/0 are accepted too)",
      ],
    );
    assert.equal(result.config, undefined);
    for (const text of [...result.errors.map((e) => e.describe()), ...result.warnings.map((w) => w.message)]) {
      assert.doesNotMatch(text, /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/);
    }
  });

  it('never puts a password in an error or a warning', () => {
    const secrets = ['Pw-One', 'Pw-Two', 'Pw-Three', 'Pw-Four'];
    const text = [
      '[DEFAULT]',
      'hpedockerplugin_driver = nope',
      `hpe3par_password = ${secrets[0]}`,
      `san_password = ${secrets[1]}`,
      `hpe3par_password = ${secrets[0]}x`,
      `replication_device = backend_id:r, replication_mode:sync hpe3par_password:${secrets[2]},`,
      `    san_password ${secrets[3]}, hpe3par_pasword:${secrets[3]}`,
      `    ${secrets[2]}`,
    ].join('\n');
    const result = checkConfig(text, 'hpe.conf');
    assert.ok(result.errors.length >= 5);
    const texts = [...result.errors.map((e) => e.describe()), ...result.warnings.map((w) => w.message)];
    for (const t of texts) for (const s of secrets) assert.ok(!t.includes(s), t);
  });
});

/**
 * The message loadConfig rejects with. Root reads any file, so as root the load runs in a child
 * process without root's power to bypass file permissions.
 */
async function loadAsUnprivileged(path: string): Promise<string> {
  if (process.getuid?.() !== 0) {
    return loadConfig(path).then(
      () => 'loaded',
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    );
  }
  const loader = new URL('../../src/config/load.js', import.meta.url).href;
  return runWithFilePermissions(
    `await import(${JSON.stringify(loader)}).then((m) => m.loadConfig(${JSON.stringify(path)})).then(() => console.log('loaded'), (e) => console.log(e.message));`,
  );
}

describe('config paths and loading', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hpe-config-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('resolveConfigPath: flag, then HPEDOCKERPLUGIN_CONFIG, then the upstream path', () => {
    assert.equal(resolveConfigPath('/a.conf', { HPEDOCKERPLUGIN_CONFIG: '/b.conf' }), '/a.conf');
    assert.equal(resolveConfigPath(undefined, { HPEDOCKERPLUGIN_CONFIG: '/b.conf' }), '/b.conf');
    assert.equal(resolveConfigPath('', { HPEDOCKERPLUGIN_CONFIG: '' }), '/etc/hpedockerplugin/hpe.conf');
    assert.equal(DefaultConfigPath, '/etc/hpedockerplugin/hpe.conf');
  });

  it('loads a file', async () => {
    const config = await loadConfig(fullPath);
    assert.equal(config.file, fullPath);
    assert.equal(config.backends.length, 3);
  });

  it('a missing file says to create it or pass --config', async () => {
    const path = join(dir, 'absent.conf');
    await assert.rejects(loadConfig(path), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.message, `${path}: does not exist`);
      assert.match(error.fix, /^create it .* or pass --config <path> or set HPEDOCKERPLUGIN_CONFIG$/);
      return true;
    });
  });

  it('a directory', async () => {
    await assert.rejects(loadConfig(dir), (error: unknown) => error instanceof ConfigError && error.message === `${dir}: is a directory, not a file`);
  });

  it('permission denied has its own error', async () => {
    const path = join(dir, 'locked.conf');
    await writeFile(path, conf());
    await chmod(path, 0o000);
    await chmod(dir, 0o755);
    assert.equal(await loadAsUnprivileged(path), `${path}: cannot be read: permission denied`);
  });

  it('a file with errors rejects with ConfigErrors', async () => {
    const path = join(dir, 'bad.conf');
    await writeFile(path, '[DEFAULT]\n');
    await assert.rejects(loadConfig(path), (error: unknown) => error instanceof ConfigErrors && error.errors.length === 7);
  });
});
