/**
 * The bad-input corpus: every file under test/fixtures/config/bad/ with the exact errors (and
 * warnings) it must produce. A new fixture without an entry here fails the first test.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigErrors } from '../../src/errors.js';
import { checkConfig, parseConfig } from '../../src/config/index.js';

/** Compiled tests run from dist/test/unit/, three levels below the repository root. */
const root = fileURLToPath(new URL('../../../', import.meta.url));
const badDir = join(root, 'test/fixtures/config/bad');

interface Expected {
  errors: string[];
  /** `line [section].option: message`; none when absent. */
  warnings?: string[];
  /** The fix of some errors, by index in `errors`. */
  fixes?: Record<number, string>;
}

const corpus: Record<string, Expected> = {
  'bad-driver.conf': {
    errors: [
      "bad-driver.conf:2: [DEFAULT].hpedockerplugin_driver: Bad driver name specified in hpe.conf: hpe.hpe_lefthand_iscsi.HPELeftHandISCSIDriver",
    ],
    fixes: {
      0: 'use hpedockerplugin.hpe.hpe_3par_iscsi.HPE3PARISCSIDriver for iSCSI, hpedockerplugin.hpe.hpe_3par_fc.HPE3PARFCDriver for FC or hpedockerplugin.hpe.hpe_3par_file.HPE3PARFileDriver for file',
    },
  },
  'default-file-driver.conf': {
    errors: [
      "default-file-driver.conf:2: [DEFAULT].hpedockerplugin_driver: DEFAULT backend is not present for the BLOCK driver configuration: [DEFAULT] uses the file driver, so a DEFAULT_BLOCK backend must be configured for block",
      "default-file-driver.conf:11: [DEFAULT_FILE].hpedockerplugin_driver: 'DEFAULT_FILE' backend cannot be defined for BLOCK driver",
    ],
  },
  'duplicates.conf': {
    errors: [
      "duplicates.conf:9: [DEFAULT].hpe3par_password: is set twice, at lines 5 and 9",
      "duplicates.conf:11: [DEFAULT]: section is defined twice, at lines 1 and 11",
    ],
  },
  'etcd.conf': {
    errors: [
      "etcd.conf:2: [DEFAULT].host_etcd_ip_address: member '10.0.0.2' is not host:port",
      "etcd.conf:3: [DEFAULT].host_etcd_port_number: must be a port number from 1 to 65535, not 70000",
      "etcd.conf:4: [DEFAULT].host_etcd_client_cert: is set but host_etcd_client_key is not",
      "etcd.conf:5: [DEFAULT].logging: must be one of DEBUG, INFO, WARNING, ERROR, not 'verbose'",
    ],
    warnings: [
      "22 [3par2].logging: 'logging' is a host option, read from [DEFAULT] only; it is ignored here",
    ],
  },
  'missing-options.conf': {
    errors: [
      "missing-options.conf:1: [DEFAULT].hpe3par_api_url: is missing",
      "missing-options.conf:1: [DEFAULT].hpe3par_username: is missing",
      "missing-options.conf:1: [DEFAULT].hpe3par_password: is missing",
      "missing-options.conf:1: [DEFAULT].san_ip: is missing",
      "missing-options.conf:1: [DEFAULT].san_password: is missing",
      "missing-options.conf:1: [DEFAULT].hpe3par_cpg: is missing",
      "missing-options.conf:1: [DEFAULT].hpe3par_iscsi_ips: is missing (required for the iSCSI driver)",
    ],
    warnings: [
      "3 [DEFAULT].hpe3par_usernme: unknown option 'hpe3par_usernme' is ignored; did you mean 'hpe3par_username'?",
    ],
    fixes: {
      1: "add `hpe3par_username = <array user>` to [DEFAULT]; line 3 sets 'hpe3par_usernme': is that a misspelling of it?",
    },
  },
  'no-default.conf': {
    errors: [
      "no-default.conf: has no [DEFAULT] section",
    ],
    fixes: {
      0: 'add a [DEFAULT] section: it is the default backend and holds the host options (etcd, logging)',
    },
  },
  'replication-missing-comma.conf': {
    errors: [
      "replication-missing-comma.conf:11: [DEFAULT].replication_device.replication_mode: Unknown replication mode 'synchronous...' specified. Valid values are 'synchronous | asynchronous | streaming'; the value runs on into line 12 (`hpe3par_api_url:...`); a comma is probably missing at the end of line 11",
    ],
    fixes: {
      0: 'end line 11 with a comma: pairs in replication_device are separated by commas',
    },
  },
  'replication-rules.conf': {
    errors: [
      "replication-rules.conf:9: [DEFAULT].replication_device.replication_mode: For Peer Persistence, replication mode must be synchronous",
      "replication-rules.conf:10: [DEFAULT].replication_device.sync_period: 'sync_period' must be between 300 and 31622400 seconds.",
      "replication-rules.conf:12: [DEFAULT].replication_device.san_ip: Duplicate key (first set on line 12)",
    ],
    warnings: [
      "12 [DEFAULT].replication_device.hpe3par_pasword: unknown key 'hpe3par_pasword' in replication_device is ignored; did you mean 'hpe3par_password'?",
    ],
  },
  'second-backend-relies-on-default.conf': {
    errors: [
      "second-backend-relies-on-default.conf:12: [3par2].hpedockerplugin_driver: is missing",
      "second-backend-relies-on-default.conf:12: [3par2].hpe3par_cpg: is missing",
    ],
    fixes: {
      1: 'add `hpe3par_cpg = <CPG name>[,<CPG name>...]` to [3par2] (each backend must set its own; nothing is inherited from [DEFAULT])',
    },
  },
  'structure.conf': {
    errors: [
      "structure.conf:1: option 'logging' comes before any [section] header",
      "structure.conf:10: [DEFAULT]: line is not a [section] header, a `key = value` option or a comment",
      "structure.conf:12: indented line continues no option",
      "structure.conf:13: section header has no closing ']'",
    ],
  },
  'values.conf': {
    errors: [
      "values.conf:3: [DEFAULT].hpe3par_api_url: must be an http:// or https:// URL",
      "values.conf:5: [DEFAULT].hpe3par_password: continues onto line 6, so its value would contain a line break",
      "values.conf:8: [DEFAULT].san_password: is empty",
      "values.conf:9: [DEFAULT].hpe3par_cpg: lists no CPG",
      "values.conf:10: [DEFAULT].hpe3par_iscsi_ips: entry '10.50.3.300' is not an IP address or ip:port",
      "values.conf:10: [DEFAULT].hpe3par_iscsi_ips: entry '10.50.3.31:99999' is not an IP address or ip:port",
      "values.conf:11: [DEFAULT].hpe3par_iscsi_chap_enabled: must be true or false, not 'maybe'",
      "values.conf:12: [DEFAULT].hpe3par_ca_cert: 'certs/array-ca.pem' is not an absolute path",
    ],
    warnings: [
      "13 [DEFAULT].hpe3par_snap_cpg: unknown option 'hpe3par_snap_cpg' is ignored; did you mean 'hpe3par_snapcpg'?",
    ],
  },
};

function read(name: string): string {
  return readFileSync(join(badDir, name), 'utf8');
}

describe('config corpus: bad files', () => {
  it('every fixture has its expectations', () => {
    const files = readdirSync(badDir)
      .filter((f) => f.endsWith('.conf'))
      .sort();
    assert.deepEqual(files, Object.keys(corpus).sort());
  });

  for (const [name, expected] of Object.entries(corpus)) {
    it(name, () => {
      const result = checkConfig(read(name), name);
      assert.deepEqual(
        result.errors.map((e) => e.message),
        expected.errors,
      );
      assert.deepEqual(
        result.warnings.map((w) => `${w.line} [${w.section}]${w.option === undefined ? '' : `.${w.option}`}: ${w.message}`),
        expected.warnings ?? [],
      );
      for (const [index, fix] of Object.entries(expected.fixes ?? {})) {
        assert.equal(result.errors[Number(index)]?.fix, fix);
      }
      assert.equal(result.config, undefined);
    });
  }

  it('parseConfig throws all errors of a file at once', () => {
    const name = 'values.conf';
    assert.throws(
      () => parseConfig(read(name), name),
      (error: unknown) => {
        assert.ok(error instanceof ConfigErrors);
        assert.equal(error.errors.length, corpus[name]?.errors.length);
        assert.ok(error.message.startsWith(`${name} has 8 errors:\n  ${name}:3: [DEFAULT].hpe3par_api_url: must be an http:// or https:// URL. Fix: `));
        return true;
      },
    );
  });

  it('no message, fix or warning shows a password (all corpus passwords start with pw-)', () => {
    for (const name of Object.keys(corpus)) {
      const result = checkConfig(read(name), name);
      const texts = [...result.errors.map((e) => e.describe()), ...result.warnings.map((w) => w.message)];
      for (const text of texts) assert.ok(!text.includes('pw-'), `${name}: ${text}`);
    }
  });
});
