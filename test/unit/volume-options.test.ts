import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ReplicationDevice } from '../../src/config/types.js';
import {
  parseCreateRequest,
  pythonList,
  VolumeRequestError,
  type BackendView,
  type Opts,
  type VolumeRequest,
} from '../../src/volumes/index.js';
import { thrownBy } from '../support/thrown.js';

const replication: ReplicationDevice = {
  line: 12,
  backendId: 'remote-3par',
  mode: 'synchronous',
  cpgMap: [{ source: 'FC_r1', target: 'FC_r5' }],
  snapCpgMap: [{ source: 'FC_r1', target: 'FC_r5' }],
  apiUrl: 'https://10.0.0.2:8080/api/v1',
  username: '3paradm',
  sanIp: '10.0.0.2',
  sanLogin: '3paradm',
  password: { option: 'replication_device.hpe3par_password', raw: 'x', line: 12 },
  sanPassword: { option: 'replication_device.san_password', raw: 'x', line: 12 },
  iscsiIps: [],
  pairs: {},
};

const backends: BackendView[] = [
  { name: 'DEFAULT', state: 'OK' },
  { name: 'rep', state: 'OK', replication },
  { name: 'init', state: 'INITIALIZING' },
  { name: 'bad', state: 'FAILED', reason: 'CPG (FC_r9) does not exist on array' },
];

function parse(opts: Opts | undefined, name = 'vol1', view: readonly BackendView[] = backends): VolumeRequest {
  return parseCreateRequest(name, opts, view);
}

function errorOf(fn: () => unknown): VolumeRequestError {
  const e = thrownBy(fn, VolumeRequestError);
  assert.ok(e.fix.length > 0, 'every error carries a fix');
  return e;
}

const MUTEX = "Invalid input received: Operations ['cloneOf', 'importVol', 'replicationGroup', 'virtualCopyOf'] are mutually exclusive and cannot be specified together. Please check help for usage.";
const invalidOptions = (list: string, op: string) => `Invalid input received: Invalid option(s) ${list} specified for operation ${op}. Please check help for usage.`;
const SCHEDULE_MANDATORY = "Invalid input received: One or more mandatory options ['scheduleFrequency', 'scheduleName', 'snapshotPrefix'] are missing for operation create snapshot schedule";
const schedule = { virtualCopyOf: 'vol0', scheduleName: 'hourly', scheduleFrequency: '0 * * * *', snapshotPrefix: 'hr' };

interface ErrorCase {
  title: string;
  opts: Opts | undefined;
  message: string;
  name?: string;
  view?: readonly BackendView[];
}

const errorCases: ErrorCase[] = [
  // 1–2: name, mutual exclusion, allow-lists (upstream request_validator.py)
  { title: 'a one-character name', name: 'a', opts: {}, message: 'Invalid input received: Invalid volume name: a is passed.' },
  { title: 'a name starting with -', name: '-ab', opts: {}, message: 'Invalid input received: Invalid volume name: -ab is passed.' },
  { title: 'a name with a dot', name: 'a.b', opts: {}, message: 'Invalid input received: Invalid volume name: a.b is passed.' },
  { title: 'a name with a slash', name: 'a/b', opts: {}, message: 'Invalid input received: Invalid volume name: a/b is passed.' },
  { title: 'an empty name', name: '', opts: undefined, message: 'Invalid input received: Invalid volume name:  is passed.' },
  { title: 'the name is checked before the options', name: 'a', opts: { nope: '1' }, message: 'Invalid input received: Invalid volume name: a is passed.' },
  { title: 'virtualCopyOf with cloneOf', opts: { virtualCopyOf: 'a', cloneOf: 'b' }, message: MUTEX },
  { title: 'importVol with replicationGroup', opts: { importVol: 'a', replicationGroup: 'b' }, message: MUTEX },
  { title: 'mutual exclusion comes before unknown options', opts: { cloneOf: 'a', importVol: 'b', nope: '' }, message: MUTEX },
  { title: 'an unknown option of create', opts: { nope: '1' }, message: invalidOptions("['nope']", 'create volume') },
  { title: 'unknown options are sorted', opts: { zeta: '', alpha: '', Beta: '' }, message: invalidOptions("['Beta', 'alpha', 'zeta']", 'create volume') },
  { title: 'a snapshot option on create', opts: { expirationHours: '2' }, message: invalidOptions("['expirationHours']", 'create volume') },
  { title: 'a schedule option without virtualCopyOf', opts: { scheduleName: 's' }, message: 'virtualCopyOf is a mandatory parameter for creating a snapshot schedule' },
  { title: 'schedule options without virtualCopyOf', opts: { scheduleFrequency: '0 * * * *', snapshotPrefix: 'hr', size: '1' }, message: 'virtualCopyOf is a mandatory parameter for creating a snapshot schedule' },
  { title: 'retHrs without virtualCopyOf', opts: { retHrs: '2' }, message: 'virtualCopyOf is a mandatory parameter for creating a snapshot schedule' },
  { title: 'provisioning on a clone', opts: { cloneOf: 'a', provisioning: 'full' }, message: invalidOptions("['provisioning']", 'clone volume') },
  { title: 'backend on a clone', opts: { cloneOf: 'a', backend: 'DEFAULT' }, message: invalidOptions("['backend']", 'clone volume') },
  { title: 'cpg on a snapshot', opts: { virtualCopyOf: 'a', cpg: 'x' }, message: invalidOptions("['cpg']", 'create snapshot') },
  { title: 'expHrs on a snapshot', opts: { virtualCopyOf: 'a', expHrs: '2' }, message: invalidOptions("['expHrs']", 'create snapshot') },
  { title: 'qos-name on a snapshot', opts: { virtualCopyOf: 'a', 'qos-name': 'q' }, message: invalidOptions("['qos-name']", 'create snapshot') },
  { title: 'a schedule without its mandatory options', opts: { virtualCopyOf: 'a', scheduleName: 's' }, message: SCHEDULE_MANDATORY },
  { title: 'a schedule by scheduleFrequency alone', opts: { virtualCopyOf: 'a', scheduleFrequency: '* * * * *' }, message: SCHEDULE_MANDATORY },
  { title: 'snapshotPrefix starts a schedule (upstream spelt it snaphotPrefix)', opts: { virtualCopyOf: 'a', snapshotPrefix: 'p' }, message: SCHEDULE_MANDATORY },
  { title: 'expirationHours on a schedule', opts: { ...schedule, expirationHours: '3' }, message: invalidOptions("['expirationHours']", 'create snapshot schedule') },
  { title: 'size on an import', opts: { importVol: 'x', size: '1' }, message: invalidOptions("['size']", 'import volume') },
  { title: 'cpg with replicationGroup', opts: { replicationGroup: 'rg', cpg: 'x' }, message: invalidOptions("['cpg']", 'create replicated volume') },
  { title: 'cpg and snapcpg with replicationGroup', opts: { replicationGroup: 'rg', snapcpg: 'y', cpg: 'x' }, message: invalidOptions("['cpg', 'snapcpg']", 'create replicated volume') },
  { title: 'fsOwner on a replicated volume', opts: { replicationGroup: 'rg', fsOwner: '1:1' }, message: invalidOptions("['fsOwner']", 'create replicated volume') },
  { title: 'another option with help', opts: { help: '', size: '1' }, message: invalidOptions("['size']", 'display help') },
  { title: 'manager with help', opts: { help: '', manager: 'x' }, message: invalidOptions("['manager']", 'display help') },
  // 4: backend
  { title: 'an unknown backend', opts: { backend: 'nope' }, message: 'Backend: nope not present in config.' },
  { title: 'DEFAULT_FILE', opts: { backend: 'DEFAULT_FILE' }, message: 'Backend DEFAULT_FILE is reserved for File Persona. Cannot specify it for Block operations' },
  { title: 'an unknown backend on a replicated volume', opts: { replicationGroup: 'rg', backend: 'nope' }, message: 'Backend: nope not present in config.' },
  { title: 'the backend is checked before the values', opts: { backend: 'nope', size: 'x' }, message: 'Backend: nope not present in config.' },
  {
    title: 'an unknown backend on an import',
    opts: { importVol: 'x', backend: 'nope' },
    message: "Invalid input received: ERROR: Backend 'nope' doesn't exist. Available backends are ['DEFAULT', 'bad', 'init', 'rep']. Please use a valid backend name and retry.",
  },
  { title: 'no block backend configured', opts: {}, view: [], message: "ERROR: Cannot create volume 'vol1'. Volume driver is not configured" },
  { title: 'a backend still initialising', opts: { backend: 'init' }, message: "ERROR: Backend 'init' is still initializing. Please retry in a few seconds." },
  {
    title: 'a failed backend, with its reason',
    opts: { backend: 'bad' },
    message: "ERROR: Backend 'bad' was NOT initialized successfully. Please check hpe.conf for incorrect entries and rectify it. Reason: CPG (FC_r9) does not exist on array",
  },
  {
    title: 'a failed backend on an import',
    opts: { importVol: 'x', backend: 'bad' },
    message: "ERROR: Backend 'bad' was NOT initialized successfully. Please check hpe.conf for incorrect entries and rectify it. Reason: CPG (FC_r9) does not exist on array",
  },
  {
    title: 'a failed default backend without a reason',
    opts: {},
    view: [{ name: 'DEFAULT', state: 'FAILED' }],
    message: "ERROR: Backend 'DEFAULT' was NOT initialized successfully. Please check hpe.conf for incorrect entries and rectify it.",
  },
  { title: 'value errors come before the backend state', opts: { backend: 'bad', size: 'x' }, message: "Invalid value 'x' specified for size. Please specify an integer number of GiB." },
  // 7: values
  { title: 'a non-integer size', opts: { size: 'abc' }, message: "Invalid value 'abc' specified for size. Please specify an integer number of GiB." },
  { title: 'a fractional size', opts: { size: '1.5' }, message: "Invalid value '1.5' specified for size. Please specify an integer number of GiB." },
  { title: 'a size with a unit', opts: { size: '10GiB' }, message: "Invalid value '10GiB' specified for size. Please specify an integer number of GiB." },
  { title: 'size 0', opts: { size: '0' }, message: 'Please enter the valid integer value for size parameter: the size is a whole number of GiB, 1 or more; 0 is not' },
  { title: 'a negative size', opts: { size: '-5' }, message: 'Please enter the valid integer value for size parameter: the size is a whole number of GiB, 1 or more; -5 is not' },
  {
    title: 'a size too large to count in bytes',
    opts: { size: '8796093022208' },
    message: 'Please enter the valid integer value for size parameter: the size is a whole number of GiB, at most 8796093022207; 8796093022208 is not',
  },
  { title: 'an absurd size', opts: { size: '99999999999999999' }, message: "Invalid value '99999999999999999' specified for size. Please specify an integer number of GiB." },
  { title: 'a non-integer clone size', opts: { cloneOf: 'a', size: 'big' }, message: "Invalid value 'big' specified for size. Please specify an integer number of GiB." },
  { title: 'a non-integer snapshot size', opts: { virtualCopyOf: 'a', size: 'x' }, message: "Invalid value 'x' specified for size. Please specify an integer number of GiB." },
  { title: 'size before provisioning', opts: { size: 'x', provisioning: 'bad' }, message: "Invalid value 'x' specified for size. Please specify an integer number of GiB." },
  { title: 'an unknown provisioning', opts: { provisioning: 'sparse' }, message: "Must specify a valid provisioning type ['thin', 'full', 'dedup'], value 'sparse' is invalid." },
  { title: 'provisioning is case-sensitive', opts: { provisioning: 'Thin' }, message: "Must specify a valid provisioning type ['thin', 'full', 'dedup'], value 'Thin' is invalid." },
  {
    title: 'a bad compression value',
    opts: { compression: 'yes' },
    message: "create volume failed, error is: passed compression parameter does not have a valid value. Valid values are: ['true', 'false']",
  },
  {
    title: 'a bad flash-cache value',
    opts: { 'flash-cache': 'on' },
    message: "create volume failed, error is: passed flash-cache parameter does not have a valid value. Valid values are: ['true', 'false']",
  },
  { title: 'fsOwner without gid', opts: { fsOwner: '1000' }, message: "Invalid value '1000' specified for fsOwner. Please specify a correct value." },
  { title: 'fsOwner with an empty gid', opts: { fsOwner: '1000:' }, message: "Invalid value '1000:' specified for fsOwner. Please specify a correct value." },
  { title: 'fsOwner by names', opts: { fsOwner: 'root:root' }, message: "Invalid value 'root:root' specified for fsOwner. Please specify a correct value." },
  { title: 'fsOwner with three parts', opts: { fsOwner: '1:2:3' }, message: "Invalid value '1:2:3' specified for fsOwner. Please specify a correct value." },
  { title: 'a negative fsOwner', opts: { fsOwner: '-1:0' }, message: "Invalid value '-1:0' specified for fsOwner. Please specify a correct value." },
  { title: 'fsOwner beyond 32 bits', opts: { fsOwner: '4294967295:0' }, message: "Invalid value '4294967295:0' specified for fsOwner. Please specify a correct value." },
  { title: 'fsMode not a number', opts: { fsMode: 'rwx' }, message: "Invalid value 'rwx' specified for fsMode. Please specify an integer value." },
  { title: 'fsMode without leading 0', opts: { fsMode: '755' }, message: "Invalid value '755' specified for fsMode. Please specify an octal value." },
  { title: 'fsMode with an 8', opts: { fsMode: '0785' }, message: "Invalid value '0785' specified for fsMode. Please specify an octal value." },
  { title: 'fsType other than ext4 and xfs', opts: { fsType: 'btrfs' }, message: "Invalid value 'btrfs' specified for fsType. Valid values are: ['ext4', 'xfs']" },
  { title: 'fsType on a snapshot', opts: { virtualCopyOf: 'v0', fsType: 'xfs' }, message: "Invalid input received: Invalid option(s) ['fsType'] specified for operation create snapshot. Please check help for usage." },
  { title: 'fsMode beyond 07777', opts: { fsMode: '017777' }, message: "Invalid value '017777' specified for fsMode. Please specify an octal value." },
  { title: 'a non-integer mountConflictDelay', opts: { mountConflictDelay: 'soon' }, message: "Invalid value 'soon' specified for mountConflictDelay. Please specify an integer value." },
  { title: 'a negative mountConflictDelay', opts: { mountConflictDelay: '-1' }, message: "Invalid value '-1' specified for mountConflictDelay. Please specify an integer value of 0 or more." },
  { title: 'mountConflictDelay on an import', opts: { importVol: 'x', mountConflictDelay: '1.5' }, message: "Invalid value '1.5' specified for mountConflictDelay. Please specify an integer value." },
  // 8: snapshots
  { title: 'an empty virtualCopyOf', opts: { virtualCopyOf: '' }, message: "Invalid value '' specified for virtualCopyOf. Please specify the name of the volume to snapshot." },
  { title: 'a non-integer expirationHours', opts: { virtualCopyOf: 'a', expirationHours: 'x' }, message: "Invalid value 'x' specified for expirationHours. Please specify an integer number of hours from 1 to 43800." },
  { title: 'expirationHours 0', opts: { virtualCopyOf: 'a', expirationHours: '0' }, message: "Invalid value '0' specified for expirationHours. Please specify an integer number of hours from 1 to 43800." },
  { title: 'expirationHours over the WSAPI bound', opts: { virtualCopyOf: 'a', expirationHours: '43801' }, message: "Invalid value '43801' specified for expirationHours. Please specify an integer number of hours from 1 to 43800." },
  { title: 'a fractional retentionHours', opts: { virtualCopyOf: 'a', retentionHours: '1.5' }, message: "Invalid value '1.5' specified for retentionHours. Please specify an integer number of hours from 1 to 43800." },
  {
    title: 'retention longer than expiration',
    opts: { virtualCopyOf: 'a', expirationHours: '10', retentionHours: '20' },
    message: 'create snapshot failed, error is: retentionHours (20) cannot be greater than expirationHours (10)',
  },
  // upstream's volumedriver_create_snapshot, in its order; its texts with their trailing spaces (createsnapshot_tester.py)
  { title: 'a schedule with a non-integer expHrs', opts: { ...schedule, expHrs: 'x' }, message: "Invalid value 'x' specified for expHrs. Please specify an integer number of hours from 1 to 43800." },
  { title: 'a schedule with retHrs 0', opts: { ...schedule, retHrs: '0' }, message: "Invalid value '0' specified for retHrs. Please specify an integer number of hours from 1 to 43800." },
  { title: 'a schedule with expHrs over the array bound', opts: { ...schedule, expHrs: '43801' }, message: "Invalid value '43801' specified for expHrs. Please specify an integer number of hours from 1 to 43800." },
  { title: 'a schedule with retHrs > expHrs', opts: { ...schedule, expHrs: '2', retHrs: '4' }, message: 'create schedule failed, error is: expiration hours must be greater than retention hours' },
  { title: 'the hours come before the name', opts: { ...schedule, scheduleName: '', expHrs: '2', retHrs: '4' }, message: 'create schedule failed, error is: expiration hours must be greater than retention hours' },
  { title: 'a schedule with an empty name', opts: { ...schedule, scheduleName: '' }, message: 'Please make sure that valid schedule name is passed ' },
  { title: 'a schedule with an empty prefix', opts: { ...schedule, snapshotPrefix: '' }, message: 'Please provide a 3 letter prefix for scheduled snapshot names ' },
  { title: 'the name comes before the prefix', opts: { ...schedule, scheduleName: '', snapshotPrefix: '' }, message: 'Please make sure that valid schedule name is passed ' },
  {
    title: 'a schedule name over 31 characters',
    opts: { ...schedule, scheduleName: 's'.repeat(32) },
    message: 'Please provide a scheduleName with max 31 characters and snapshotPrefix with max length of 15 characters',
  },
  {
    title: 'a snapshot prefix over 15 characters (upstream TestCreateSnpSchedInvPrefxLen)',
    opts: { ...schedule, snapshotPrefix: 'pqrstwdstyuijowkdlasihguf', expHrs: '4', retHrs: '2' },
    message: 'Please provide a scheduleName with max 31 characters and snapshotPrefix with max length of 15 characters',
  },
  { title: 'a schedule name with a quote', opts: { ...schedule, scheduleName: 'a"b' }, message: `Invalid value 'a"b' specified for scheduleName. Please use letters, digits, _, . and - only.` },
  { title: 'a prefix with a space', opts: { ...schedule, snapshotPrefix: 'a b' }, message: "Invalid value 'a b' specified for snapshotPrefix. Please use letters, digits, _, . and - only." },
  {
    title: 'a schedule frequency with 6 fields (upstream TestCreateSnpSchedInvSchedFreq)',
    opts: { ...schedule, scheduleFrequency: '10 * * * * *', expHrs: '4', retHrs: '2' },
    message: 'Invalid schedule string is passed: HPE Docker Volume plugin Create volume failed: create schedule failed, error is: Improper string passed. ',
  },
  {
    title: 'a schedule frequency with 4 fields',
    opts: { ...schedule, scheduleFrequency: '0 * * *' },
    message: 'Invalid schedule string is passed: HPE Docker Volume plugin Create volume failed: create schedule failed, error is: Improper string passed. ',
  },
  {
    title: 'a schedule frequency with a field that is no cron field',
    opts: { ...schedule, scheduleFrequency: '0 * * * "; rm' },
    message: 'Invalid schedule string is passed: HPE Docker Volume plugin Create volume failed: create schedule failed, error is: Improper string passed. ',
  },
  {
    title: 'a schedule frequency with two spaces in a row',
    opts: { ...schedule, scheduleFrequency: '0  * * *' },
    message: 'Invalid schedule string is passed: HPE Docker Volume plugin Create volume failed: create schedule failed, error is: Improper string passed. ',
  },
  { title: 'the retentionHours of a schedule (upstream TestCreateSnpSchedwithRetToBase)', opts: { ...schedule, retentionHours: '5', expHrs: '4', retHrs: '2' }, message: invalidOptions("['retentionHours']", 'create snapshot schedule') },
  // 9: clone, import
  { title: 'an empty cloneOf', opts: { cloneOf: '' }, message: "Invalid value '' specified for cloneOf. Please specify the name of the volume to clone." },
  { title: 'an empty importVol', opts: { importVol: '' }, message: "Invalid value '' specified for importVol. Please specify the name of the volume or snapshot on the array." },
  // 10: replication
  {
    title: 'replicationGroup on a backend without replication_device',
    opts: { replicationGroup: 'rg' },
    message:
      "Invalid input received: Request to create replicated volume cannot be fulfilled without defining 'replication_device' entry defined in hpe.conf for the backend 'DEFAULT'. Please add it and execute the request again.",
  },
  { title: 'an empty replicationGroup', opts: { replicationGroup: '', backend: 'rep' }, message: "Invalid value '' specified for replicationGroup. Please specify the name of the remote copy group." },
  { title: 'values before replication rules', opts: { replicationGroup: 'rg', size: 'x' }, message: "Invalid value 'x' specified for size. Please specify an integer number of GiB." },
  // shape
  { title: 'File Persona', opts: { filePersona: '' }, message: 'File Persona (-o filePersona) is not supported by this plugin: it manages block volumes only' },
  { title: 'a non-string value', opts: { size: 10 }, message: "Invalid value for option 'size': volume options must be strings." },
];

describe('parseCreateRequest: errors, exact texts, upstream order', () => {
  for (const c of errorCases) {
    test(c.title, () => {
      const err = errorOf(() => parse(c.opts, c.name ?? 'vol1', c.view ?? backends));
      assert.equal(err.message, c.message);
    });
  }

  test('no block backend: the fix names the hpe.conf loaded (--config), else the default path', () => {
    const loaded = thrownBy(() => parseCreateRequest('vol1', {}, [], '/srv/hpe/other.conf'), VolumeRequestError);
    assert.equal(loaded.fix, 'configure a 3PAR iSCSI or FC backend in /srv/hpe/other.conf');
    const imported = thrownBy(() => parseCreateRequest('vol1', { importVol: 'x' }, [], '/srv/hpe/other.conf'), VolumeRequestError);
    assert.equal(imported.fix, 'configure a 3PAR iSCSI or FC backend in /srv/hpe/other.conf');
    assert.equal(errorOf(() => parse({}, 'vol1', [])).fix, 'configure a 3PAR iSCSI or FC backend in /etc/hpedockerplugin/hpe.conf');
  });

  test('only an initialising backend is worth retrying', () => {
    assert.equal(errorOf(() => parse({ backend: 'init' })).retryable, true);
    assert.equal(errorOf(() => parse({ backend: 'bad' })).retryable, false);
    assert.equal(errorOf(() => parse({ size: 'x' })).retryable, false);
  });
});

describe('parseCreateRequest: every length the array imposes, before anything is written', () => {
  const longName = (n: number) => `v${'x'.repeat(n - 1)}`;

  test('a volume name fits the 511-character comment: 379 characters pass, 380 are refused with the limit', () => {
    assert.equal(parse({}, longName(379)).kind, 'create');
    assert.equal(
      errorOf(() => parse({}, longName(380))).message,
      `Invalid input received: Invalid volume name: '${longName(40)}...' has 380 characters; at most 379 fit, since the array keeps the name in the volume's comment (at most 511 characters).`,
    );
  });

  test('a 1,000-character and a 200 kB name are refused at once, never echoed whole', () => {
    for (const n of [1000, 200_000]) {
      const started = performance.now();
      const err = errorOf(() => parse({}, longName(n)));
      assert.ok(performance.now() - started < 100);
      assert.match(err.message, new RegExp(`has ${n} characters; at most 379 fit`));
      assert.ok(err.message.length < 300);
    }
    assert.match(errorOf(() => parse({ cloneOf: 'v0' }, longName(1000))).message, /at most 379 fit/);
    assert.match(errorOf(() => parse({ importVol: 'vv' }, longName(1000))).message, /at most 379 fit/);
    assert.match(errorOf(() => parse({ replicationGroup: 'rg', backend: 'rep' }, longName(1000))).message, /at most 379 fit/);
  });

  test("a long name with a bad character is refused as too long, in linear time", () => {
    const started = performance.now();
    assert.match(errorOf(() => parse({}, `${'a'.repeat(200_000)}!`)).message, /has 200001 characters/);
    assert.ok(performance.now() - started < 100);
  });

  test("a snapshot's name and its volume's share the snapshot's comment", () => {
    const volume = longName(300);
    assert.equal(parse({ virtualCopyOf: volume }, longName(62)).kind, 'snapshot');
    assert.equal(
      errorOf(() => parse({ virtualCopyOf: volume }, longName(63))).message,
      `Invalid input received: Invalid snapshot name: '${longName(40)}...' has 63 characters; a snapshot of '${longName(40)}...' may have at most 62, since the array keeps both names in the snapshot's comment (at most 511 characters).`,
    );
    assert.equal(parse({ virtualCopyOf: 'v0' }, longName(360)).kind, 'snapshot');
    assert.match(errorOf(() => parse({ virtualCopyOf: 'v0' }, longName(361))).message, /may have at most 360,/);
  });

  test('names sent to the array: CPGs, VV sets and volumes 31 characters, a new remote copy group 25', () => {
    const n31 = 'c'.repeat(31);
    const n32 = 'c'.repeat(32);
    assert.equal(parse({ cpg: n31, snapcpg: n31, 'qos-name': n31 }).kind, 'create');
    for (const [option, what] of [
      ['cpg', 'A CPG name'],
      ['snapcpg', 'A CPG name'],
      ['qos-name', 'A VV set name'],
    ] as const) {
      assert.equal(errorOf(() => parse({ [option]: n32 })).message, `Invalid value '${n32}' specified for ${option}. ${what} has at most 31 characters on the array; this one has 32.`);
    }
    assert.match(errorOf(() => parse({ cloneOf: 'v0', cpg: n32 })).message, /for cpg\. A CPG name has at most 31 characters/);
    assert.equal(parse({ importVol: n31 }).kind, 'import');
    assert.match(errorOf(() => parse({ importVol: n32 })).message, /for importVol\. A volume name has at most 31 characters on the array; this one has 32\.$/);
    assert.equal(parse({ replicationGroup: 'r'.repeat(25), backend: 'rep' }).kind, 'replicated');
    assert.equal(
      errorOf(() => parse({ replicationGroup: 'r'.repeat(26), backend: 'rep' })).message,
      `Invalid input received: replicationGroup name '${'r'.repeat(26)}' is too long: at most 25 characters`,
    );
  });
});

const createDefaults = {
  kind: 'create',
  name: 'vol1',
  backend: 'DEFAULT',
  size: 100,
  provisioning: 'thin',
  compression: null,
  flashCache: null,
  qosName: null,
  cpg: null,
  snapCpg: null,
  fsOwner: null,
  fsMode: null,
  fsType: 'ext4',
  mountConflictDelay: 30,
};

interface OkCase {
  title: string;
  opts: Opts | undefined;
  expected: VolumeRequest;
  view?: readonly BackendView[];
}

const okCases: OkCase[] = [
  { title: 'no Opts: a thin 100 GiB volume on DEFAULT', opts: undefined, expected: { ...createDefaults } as VolumeRequest },
  { title: 'empty Opts', opts: {}, expected: { ...createDefaults } as VolumeRequest },
  {
    title: 'every create option',
    opts: {
      size: '20',
      provisioning: 'dedup',
      compression: 'TRUE',
      'flash-cache': 'true',
      'qos-name': 'gold',
      cpg: 'FC_r1',
      snapcpg: 'FC_r5',
      fsOwner: '1000:1001',
      fsMode: '0755',
      mountConflictDelay: '0',
      backend: 'DEFAULT',
      manager: 'ignored',
    },
    expected: {
      ...createDefaults,
      size: 20,
      provisioning: 'dedup',
      compression: true,
      flashCache: true,
      qosName: 'gold',
      cpg: 'FC_r1',
      snapCpg: 'FC_r5',
      fsOwner: { uid: 1000, gid: 1001 },
      fsMode: '0755',
      mountConflictDelay: 0,
    } as VolumeRequest,
  },
  { title: 'flash-cache=false is recorded as false, not "not given"', opts: { 'flash-cache': 'False', compression: 'false' }, expected: { ...createDefaults, flashCache: false, compression: false } as VolumeRequest },
  { title: 'empty values count as not given', opts: { size: '', provisioning: '', backend: '', fsMode: '', mountConflictDelay: '', 'qos-name': '' }, expected: { ...createDefaults } as VolumeRequest },
  { title: 'integers read as Python int() reads them', opts: { size: ' +10 ', mountConflictDelay: '007' }, expected: { ...createDefaults, size: 10, mountConflictDelay: 7 } as VolumeRequest },
  { title: 'fsMode 0 and 04755', opts: { fsMode: '04755' }, expected: { ...createDefaults, fsMode: '04755' } as VolumeRequest },
  { title: 'fsType=xfs (any case) makes xfs at the first mount', opts: { fsType: 'XFS' }, expected: { ...createDefaults, fsType: 'xfs' } as VolumeRequest },
  { title: 'DEFAULT_BLOCK is the default when DEFAULT is not a block backend', opts: {}, view: [{ name: 'DEFAULT_BLOCK', state: 'OK' }], expected: { ...createDefaults, backend: 'DEFAULT_BLOCK' } as VolumeRequest },
  { title: 'a replication backend without replicationGroup makes a plain volume', opts: { backend: 'rep' }, expected: { ...createDefaults, backend: 'rep' } as VolumeRequest },
  {
    title: 'a replicated volume',
    opts: { replicationGroup: 'rg1', backend: 'rep', size: '5', provisioning: 'full', compression: 'false', mountConflictDelay: '60' },
    expected: { kind: 'replicated', name: 'vol1', backend: 'rep', replicationGroup: 'rg1', replication, size: 5, provisioning: 'full', compression: false, mountConflictDelay: 60, fsType: 'ext4' },
  },
  {
    title: 'a clone with the source defaults',
    opts: { cloneOf: 'src' },
    expected: { kind: 'clone', name: 'vol1', source: 'src', size: null, cpg: null, snapCpg: null, mountConflictDelay: 30, options: { cloneOf: 'src' } },
  },
  {
    title: 'a clone with size and CPGs',
    opts: { cloneOf: 'src', size: '200', cpg: 'c1', snapcpg: 'c2', mountConflictDelay: '5' },
    expected: { kind: 'clone', name: 'vol1', source: 'src', size: 200, cpg: 'c1', snapCpg: 'c2', mountConflictDelay: 5, options: { cloneOf: 'src', size: '200', cpg: 'c1', snapcpg: 'c2', mountConflictDelay: '5' } },
  },
  {
    title: 'a snapshot (its size option is checked, then ignored)',
    opts: { virtualCopyOf: 'src', expirationHours: '48', retentionHours: '24', size: '7' },
    expected: { kind: 'snapshot', name: 'vol1', source: 'src', expirationHours: 48, retentionHours: 24, mountConflictDelay: 30 },
  },
  {
    title: 'a snapshot needs no backend of its own',
    opts: { virtualCopyOf: 'src' },
    view: [],
    expected: { kind: 'snapshot', name: 'vol1', source: 'src', expirationHours: null, retentionHours: null, mountConflictDelay: 30 },
  },
  { title: 'retention equal to expiration', opts: { virtualCopyOf: 'src', expirationHours: '5', retentionHours: '5' }, expected: { kind: 'snapshot', name: 'vol1', source: 'src', expirationHours: 5, retentionHours: 5, mountConflictDelay: 30 } },
  {
    title: 'a scheduled snapshot (upstream TestCreateSnpSchedule): the Docker volume is a plain snapshot, the schedule apart',
    opts: { virtualCopyOf: 'src', scheduleName: '3parsched1', scheduleFrequency: '10 * * * *', snapshotPrefix: 'pqrst', expHrs: '4', retHrs: '2' },
    expected: {
      kind: 'snapshot',
      name: 'vol1',
      source: 'src',
      expirationHours: null,
      retentionHours: null,
      mountConflictDelay: 30,
      schedule: { name: '3parsched1', frequency: '10 * * * *', prefix: 'pqrst', expirationHours: 4, retentionHours: 2 },
    },
  },
  {
    title: 'a schedule without hours, auto-named (the name is made at creation)',
    opts: { virtualCopyOf: 'src', scheduleName: 'auto', scheduleFrequency: '*/5 0-6 1,15 * 1-5', snapshotPrefix: 'p', mountConflictDelay: '5', size: '3' },
    view: [],
    expected: {
      kind: 'snapshot',
      name: 'vol1',
      source: 'src',
      expirationHours: null,
      retentionHours: null,
      mountConflictDelay: 5,
      schedule: { name: 'auto', frequency: '*/5 0-6 1,15 * 1-5', prefix: 'p', expirationHours: null, retentionHours: null },
    },
  },
  {
    title: 'a schedule at the bounds: 31-character name, 15-character prefix, equal hours',
    opts: { virtualCopyOf: 'src', scheduleName: 's'.repeat(31), scheduleFrequency: '0 0 * * *', snapshotPrefix: 'p'.repeat(15), expHrs: '43800', retHrs: '43800' },
    expected: {
      kind: 'snapshot',
      name: 'vol1',
      source: 'src',
      expirationHours: null,
      retentionHours: null,
      mountConflictDelay: 30,
      schedule: { name: 's'.repeat(31), frequency: '0 0 * * *', prefix: 'p'.repeat(15), expirationHours: 43800, retentionHours: 43800 },
    },
  },
  {
    title: 'an import on the default backend',
    opts: { importVol: 'legacy_vol', mountConflictDelay: '10' },
    expected: { kind: 'import', name: 'vol1', backend: 'DEFAULT', existingName: 'legacy_vol', mountConflictDelay: 10, options: { importVol: 'legacy_vol', mountConflictDelay: '10' } },
  },
  { title: 'an import on a named backend', opts: { importVol: 'v', backend: 'rep' }, expected: { kind: 'import', name: 'vol1', backend: 'rep', existingName: 'v', mountConflictDelay: 30, options: { importVol: 'v', backend: 'rep' } } },
  { title: '-o help', opts: { help: '' }, expected: { kind: 'help', name: 'vol1', topic: 'usage' } },
  { title: '-o help=backends', opts: { help: 'backends' }, expected: { kind: 'help', name: 'vol1', topic: 'backends' } },
  { title: '-o help=anything else', opts: { help: 'clone' }, expected: { kind: 'help', name: 'vol1', topic: 'usage' } },
  { title: 'help works with no backend ready', opts: { help: 'backends' }, view: [{ name: 'DEFAULT', state: 'FAILED' }], expected: { kind: 'help', name: 'vol1', topic: 'backends' } },
];

describe('parseCreateRequest: typed requests and defaults', () => {
  for (const c of okCases) {
    test(c.title, () => {
      assert.deepEqual(parse(c.opts, 'vol1', c.view ?? backends), c.expected);
    });
  }

  test('names: two characters, letters and digits first, then _ and -', () => {
    for (const name of ['ab', 'A1', 'vol_1', 'vol-1', '9z', 'a__', 'x-']) assert.equal(parse({}, name).kind, 'create', name);
  });
});

describe('pythonList', () => {
  test('prints as Python repr', () => {
    assert.equal(pythonList([]), '[]');
    assert.equal(pythonList(['a', 'b']), "['a', 'b']");
    assert.equal(pythonList(["it's"]), '["it\'s"]');
    assert.equal(pythonList(['a\\b']), "['a\\\\b']");
  });
});

test('a replication target that is not OK refuses replicated creates only, naming the target and its reason', () => {
  const view: BackendView[] = [{ name: 'rep', state: 'OK', replication, target: { id: 'array2', state: 'FAILED', reason: 'array 10.0.0.2:8080 refused the connection' } }];
  assert.equal(parse({ backend: 'rep', size: '1' }, 'vol1', view).kind, 'create');
  assert.throws(() => parse({ backend: 'rep', replicationGroup: 'g1' }, 'vol1', view), {
    message:
      "ERROR: Replication target array2 of backend 'rep' is not available: replicated operations are refused until it is OK; plain volumes of 'rep' keep working. Reason: array 10.0.0.2:8080 refused the connection",
  });
  const initializing: BackendView[] = [{ ...view[0]!, target: { id: 'array2', state: 'INITIALIZING' } }];
  assert.throws(() => parse({ backend: 'rep', replicationGroup: 'g1' }, 'vol1', initializing), (e: unknown) => e instanceof VolumeRequestError && e.retryable && /still initializing/.test(e.message));
});
