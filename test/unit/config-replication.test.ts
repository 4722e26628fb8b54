import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseIni } from '../../src/config/dialect.js';
import { parseReplicationDevice, type ReplicationResult, type ReplicationSource } from '../../src/config/replication.js';
import type { SecretValue } from '../../src/config/types.js';

const sourcePassword: SecretValue = { option: 'hpe3par_password', raw: 'srcpw', line: 40, span: { start: 900, end: 905 } };
const sourceSanPassword: SecretValue = { option: 'san_password', raw: 'srcsan', line: 41, span: { start: 920, end: 926 } };
const iscsiSource: ReplicationSource = {
  driver: 'iscsi',
  username: 'srcuser',
  password: sourcePassword,
  sanIp: '10.50.3.21',
  sanLogin: 'srclogin',
  sanPassword: sourceSanPassword,
};
const fcSource: ReplicationSource = { ...iscsiSource, driver: 'fc' };

/** `[3par2]` on line 1, `replication_device = ...` from line 2. */
function parse(lines: readonly string[], source: ReplicationSource = fcSource): ReplicationResult & { text: string } {
  const text = `[3par2]\n${lines.join('\n')}\n`;
  const doc = parseIni(text, 'hpe.conf');
  assert.deepEqual(
    doc.errors.map((e) => e.message),
    [],
  );
  const entry = doc.sections[0]?.entries.find((e) => e.key === 'replication_device');
  assert.ok(entry);
  return { text, ...parseReplicationDevice(entry, '3par2', 'hpe.conf', source) };
}

function messages(result: ReplicationResult): string[] {
  return result.errors.map((e) => e.message);
}

const example = [
  'replication_device = backend_id:remote3par,',
  '                     replication_mode:synchronous,',
  '                     cpg_map:FC_r1:FC_r1_tgt FC_r5:FC_r5_tgt,',
  '                     snap_cpg_map:FC_r1:FC_r1_snap,',
  '                     hpe3par_api_url:https://10.50.3.22:8080/api/v1,',
  '                     hpe3par_username:3paradm, hpe3par_password:secret1,',
  '                     san_ip:10.50.3.22, san_login:3paradm, san_password:secret2,',
  '                     hpe3par_iscsi_ips:10.50.3.30;10.50.3.31',
];

/** The minimum a device needs; the rest is inherited. */
const minimal = ['replication_device = backend_id:r, replication_mode:synchronous, cpg_map:a:b, hpe3par_api_url:https://t:8080/api/v1'];

function withPairs(extra: string): string[] {
  return [`${minimal[0] ?? ''}, ${extra}`];
}

describe('replication_device: the documented multi-line example', () => {
  const result = parse(example, iscsiSource);

  it('has no error or warning', () => {
    assert.deepEqual(messages(result), []);
    assert.deepEqual(result.warnings, []);
  });

  it('keeps every pair as written', () => {
    assert.deepEqual(result.device?.pairs, {
      backend_id: 'remote3par',
      replication_mode: 'synchronous',
      cpg_map: 'FC_r1:FC_r1_tgt FC_r5:FC_r5_tgt',
      snap_cpg_map: 'FC_r1:FC_r1_snap',
      hpe3par_api_url: 'https://10.50.3.22:8080/api/v1',
      hpe3par_username: '3paradm',
      hpe3par_password: 'secret1',
      san_ip: '10.50.3.22',
      san_login: '3paradm',
      san_password: 'secret2',
      hpe3par_iscsi_ips: '10.50.3.30;10.50.3.31',
    });
  });

  it('types every field', () => {
    const device = result.device;
    assert.ok(device);
    assert.equal(device.line, 2);
    assert.equal(device.backendId, 'remote3par');
    assert.equal(device.mode, 'synchronous');
    assert.deepEqual(device.cpgMap, [
      { source: 'FC_r1', target: 'FC_r1_tgt' },
      { source: 'FC_r5', target: 'FC_r5_tgt' },
    ]);
    assert.deepEqual(device.snapCpgMap, [{ source: 'FC_r1', target: 'FC_r1_snap' }]);
    assert.equal(device.apiUrl, 'https://10.50.3.22:8080/api/v1');
    assert.equal(device.username, '3paradm');
    assert.equal(device.sanIp, '10.50.3.22');
    assert.equal(device.sanLogin, '3paradm');
    assert.deepEqual(device.iscsiIps, [
      { ip: '10.50.3.30', port: 3260 },
      { ip: '10.50.3.31', port: 3260 },
    ]);
    assert.equal(device.quorumWitnessIp, undefined);
    assert.equal(device.syncPeriod, undefined);
  });

  it('locates both passwords exactly in the file', () => {
    const { password, sanPassword } = result.device ?? {};
    assert.ok(password?.span && sanPassword?.span);
    assert.deepEqual([password.option, password.raw, password.line], ['replication_device.hpe3par_password', 'secret1', 7]);
    assert.deepEqual([sanPassword.option, sanPassword.raw, sanPassword.line], ['replication_device.san_password', 'secret2', 8]);
    assert.equal(result.text.slice(password.span.start, password.span.end), 'secret1');
    assert.equal(result.text.slice(sanPassword.span.start, sanPassword.span.end), 'secret2');
    assert.equal(password.inheritedFrom, undefined);
  });

  it('locates the passwords with \\r\\n line endings too', () => {
    const text = `[3par2]\r\n${example.join('\r\n')}\r\n`;
    const entry = parseIni(text, 'hpe.conf').sections[0]?.entries[0];
    assert.ok(entry);
    const device = parseReplicationDevice(entry, '3par2', 'hpe.conf', iscsiSource).device;
    assert.ok(device?.password.span && device.sanPassword.span);
    assert.equal(text.slice(device.password.span.start, device.password.span.end), 'secret1');
    assert.equal(text.slice(device.sanPassword.span.start, device.sanPassword.span.end), 'secret2');
  });
});

describe('replication_device: a missing comma', () => {
  it('glues the next line into the mode and says which comma is missing', () => {
    const result = parse([
      'replication_device = backend_id:remote3par,',
      '    replication_mode:synchronous',
      '    hpe3par_api_url:https://10.50.3.22:8080/api/v1,',
      '    cpg_map:FC_r1:FC_r1_tgt',
    ]);
    assert.deepEqual(messages(result), [
      "hpe.conf:3: [3par2].replication_device.replication_mode: Unknown replication mode 'synchronous...' specified. Valid values are 'synchronous | asynchronous | streaming'; the value runs on into line 4 (`hpe3par_api_url:...`); a comma is probably missing at the end of line 3",
    ]);
    assert.equal(result.errors[0]?.fix, 'end line 3 with a comma: pairs in replication_device are separated by commas');
    assert.equal(result.device, undefined);
  });

  it('glues a password pair into a value without showing the password', () => {
    const result = parse([
      'replication_device = backend_id:r, replication_mode:synchronous, cpg_map:a:b,',
      '    hpe3par_api_url:https://t:8080/api/v1, hpe3par_username:3paradm',
      '    hpe3par_password:Glued-Secret',
    ]);
    assert.deepEqual(messages(result), [
      'hpe.conf:3: [3par2].replication_device.hpe3par_username: the value runs on into line 4 (`hpe3par_password:...`); a comma is probably missing at the end of line 3',
    ]);
    assert.ok(!result.errors.some((e) => e.describe().includes('Glued-Secret')));
  });

  it('glues snap_cpg_map into cpg_map', () => {
    const result = parse([
      'replication_device = backend_id:r, replication_mode:synchronous, hpe3par_api_url:https://t:8080/api/v1,',
      '    cpg_map:FC_r1:FC_r1_tgt',
      '    snap_cpg_map:FC_r1:FC_r1_snap',
    ]);
    assert.deepEqual(messages(result), [
      'hpe.conf:3: [3par2].replication_device.cpg_map: the value runs on into line 4 (`snap_cpg_map:...`); a comma is probably missing at the end of line 3',
    ]);
  });

  it('lets a cpg_map list go on over lines when no key follows', () => {
    const result = parse([
      'replication_device = backend_id:r, replication_mode:synchronous, hpe3par_api_url:https://t:8080/api/v1,',
      '    cpg_map:FC_r1:FC_r1_tgt',
      '            FC_r5:FC_r5_tgt,',
    ]);
    assert.deepEqual(messages(result), []);
    assert.deepEqual(
      result.device?.cpgMap.map((m) => m.target),
      ['FC_r1_tgt', 'FC_r5_tgt'],
    );
  });
});

describe('replication_device: pairs', () => {
  it('ignores blank pairs (a trailing comma)', () => {
    const result = parse([`${minimal[0] ?? ''},, ,`]);
    assert.deepEqual(messages(result), []);
    assert.deepEqual(Object.keys(result.device?.pairs ?? {}), ['backend_id', 'replication_mode', 'cpg_map', 'hpe3par_api_url']);
  });

  it('a pair without a colon is an error that does not echo it', () => {
    const result = parse(withPairs('hpe3par_password NoColonSecret'));
    assert.deepEqual(messages(result), ['hpe.conf:2: [3par2].replication_device: pair 5: Value should be NAME:VALUE pairs separated by ","']);
    assert.ok(!result.errors[0]?.describe().includes('NoColonSecret'));
  });

  it('a pair without a key', () => {
    assert.deepEqual(messages(parse(withPairs(':x'))), ["hpe.conf:2: [3par2].replication_device: pair 5 has no key before ':'"]);
  });

  it('a repeated key is a Duplicate key error', () => {
    const result = parse([`${minimal[0] ?? ''},`, '    san_ip:1.1.1.1,', '    san_ip:2.2.2.2']);
    assert.deepEqual(messages(result), ['hpe.conf:4: [3par2].replication_device.san_ip: Duplicate key (first set on line 3)']);
  });

  it('an unknown key is a warning with a suggestion', () => {
    const result = parse(withPairs('san_pasword:x, colour:blue'));
    assert.deepEqual(messages(result), []);
    assert.deepEqual(
      result.warnings.map((w) => [w.line, w.option, w.message]),
      [
        [2, 'replication_device.san_pasword', "unknown key 'san_pasword' in replication_device is ignored; did you mean 'san_password'?"],
        [2, 'replication_device.colour', "unknown key 'colour' in replication_device is ignored"],
      ],
    );
  });

  it('an empty value of a known key', () => {
    assert.deepEqual(messages(parse(withPairs('san_ip:'))), ['hpe.conf:2: [3par2].replication_device.san_ip: is empty']);
  });
});

describe('replication_device: mandatory keys and inheritance', () => {
  it('reports each missing mandatory key at the option line', () => {
    const result = parse(['replication_device = san_ip:1.1.1.1, hpe3par_iscsi_ips:1.1.1.2'], iscsiSource);
    assert.deepEqual(messages(result), [
      'hpe.conf:2: [3par2].replication_device.backend_id: is missing',
      'hpe.conf:2: [3par2].replication_device.replication_mode: is missing',
      'hpe.conf:2: [3par2].replication_device.cpg_map: is missing',
      'hpe.conf:2: [3par2].replication_device.hpe3par_api_url: is missing',
    ]);
    assert.equal(result.errors[2]?.fix, 'add `cpg_map:<source CPG>:<target CPG>` to replication_device in [3par2]');
  });

  it('needs hpe3par_iscsi_ips for an iSCSI source only', () => {
    assert.deepEqual(messages(parse(minimal, iscsiSource)), [
      'hpe.conf:2: [3par2].replication_device.hpe3par_iscsi_ips: is missing (required for the iSCSI driver)',
    ]);
    const fc = parse(minimal, fcSource);
    assert.deepEqual(messages(fc), []);
    assert.deepEqual(fc.device?.iscsiIps, []);
  });

  it('inherits credentials and addresses from the source backend', () => {
    const device = parse(minimal, fcSource).device;
    assert.ok(device);
    assert.equal(device.username, 'srcuser');
    assert.equal(device.sanIp, '10.50.3.21');
    assert.equal(device.sanLogin, 'srclogin');
    assert.deepEqual(device.password, {
      option: 'replication_device.hpe3par_password',
      raw: 'srcpw',
      line: 40,
      inheritedFrom: 'hpe3par_password',
    });
    assert.deepEqual(device.sanPassword, {
      option: 'replication_device.san_password',
      raw: 'srcsan',
      line: 41,
      inheritedFrom: 'san_password',
    });
  });

  it('builds no device when an inherited value is itself missing, without a second error', () => {
    const result = parse(minimal, { driver: 'fc', sanLogin: 'admin' });
    assert.deepEqual(messages(result), []);
    assert.equal(result.device, undefined);
  });

  it('snap_cpg_map defaults to cpg_map', () => {
    const device = parse(withPairs('hpe3par_username:u'), fcSource).device;
    assert.deepEqual(device?.snapCpgMap, [{ source: 'a', target: 'b' }]);
  });

  it('checks cpg_map entries, the URL and the iSCSI addresses', () => {
    const result = parse(
      [
        'replication_device = backend_id:r, replication_mode:synchronous,',
        '    cpg_map:a:b c, hpe3par_api_url:ftp://t/,',
        '    hpe3par_iscsi_ips:10.0.0.1:3261;bad;10.0.0.2',
      ],
      iscsiSource,
    );
    assert.deepEqual(messages(result), [
      "hpe.conf:3: [3par2].replication_device.cpg_map: entry 'c' is not source:target",
      'hpe.conf:3: [3par2].replication_device.hpe3par_api_url: must be an http:// or https:// URL',
      "hpe.conf:4: [3par2].replication_device.hpe3par_iscsi_ips: entry 'bad' is not an IP address or ip:port",
    ]);
  });

  it('reads iSCSI addresses with and without a port', () => {
    const device = parse(withPairs('hpe3par_iscsi_ips: 10.0.0.1:3261 ; 10.0.0.2 ;'), iscsiSource).device;
    assert.deepEqual(device?.iscsiIps, [
      { ip: '10.0.0.1', port: 3261 },
      { ip: '10.0.0.2', port: 3260 },
    ]);
  });
});

describe('replication_device: modes', () => {
  const modeOf = (mode: string, extra = ''): ReplicationResult =>
    parse([`replication_device = backend_id:r, replication_mode:${mode}, cpg_map:a:b, hpe3par_api_url:https://t/api/v1${extra}`], fcSource);

  it('an unknown mode', () => {
    assert.deepEqual(messages(modeOf('sync')), [
      "hpe.conf:2: [3par2].replication_device.replication_mode: Unknown replication mode 'sync' specified. Valid values are 'synchronous | asynchronous | streaming'",
    ]);
  });

  it('Peer Persistence needs synchronous', () => {
    assert.deepEqual(messages(modeOf('asynchronous', ', quorum_witness_ip:10.0.0.9')), [
      'hpe.conf:2: [3par2].replication_device.replication_mode: For Peer Persistence, replication mode must be synchronous',
    ]);
    const peer = modeOf('synchronous', ', quorum_witness_ip:10.0.0.9');
    assert.deepEqual(messages(peer), []);
    assert.equal(peer.device?.quorumWitnessIp, '10.0.0.9');
  });

  it('sync_period only for asynchronous and streaming, within range', () => {
    assert.deepEqual(messages(modeOf('synchronous', ', sync_period:900')), [
      "hpe.conf:2: [3par2].replication_device.sync_period: 'sync_period' can be defined only for 'asynchronous' and 'streaming' replicate modes",
    ]);
    for (const bad of ['299', '31622401', '15m']) {
      assert.deepEqual(messages(modeOf('streaming', `, sync_period:${bad}`)), [
        "hpe.conf:2: [3par2].replication_device.sync_period: 'sync_period' must be between 300 and 31622400 seconds.",
      ]);
    }
    assert.equal(modeOf('asynchronous', ', sync_period:300').device?.syncPeriod, 300);
    assert.equal(modeOf('streaming', ', sync_period:31622400').device?.syncPeriod, 31622400);
  });

  it('asynchronous and streaming default to a 900 s period; synchronous has none', () => {
    assert.equal(modeOf('asynchronous').device?.syncPeriod, 900);
    assert.equal(modeOf('streaming').device?.syncPeriod, 900);
    assert.equal(modeOf('synchronous').device?.syncPeriod, undefined);
  });

  it('never shows a password glued onto the mode on the same line', () => {
    const result = modeOf('synchronous hpe3par_password:SameLineSecret');
    assert.deepEqual(messages(result), [
      "hpe.conf:2: [3par2].replication_device.replication_mode: Unknown replication mode 'synchronous...' specified. Valid values are 'synchronous | asynchronous | streaming'",
    ]);
  });
});
