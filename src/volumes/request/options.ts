/**
 * Validation of a Create request's `Opts` (`docker volume create -d hpe -o key=value ...`), in upstream's order
 * (hpe_storage_api.py `volumedriver_create` and request_validator.py), into one typed request per operation.
 * Pure: no etcd, no array. Checks that need the array or the parent volume (QoS set exists, compression
 * licence, clone size >= source size, ...) belong to the manager.
 *
 * Messages are the `Err` text Docker shows. Upstream's wording is kept where users may grep for it, lists are
 * printed as Python reprs (`['a', 'b']`), and texts raised as upstream's `InvalidInput` keep its prefix
 * `Invalid input received: `. Fixed on purpose: typos (`Pleasespecify`, `vaues`, the `size` text broken by 24
 * spaces, the `snaphotPrefix` key that never matched), HTTP 500s on non-integer numbers (now clear errors),
 * and an empty `virtualCopyOf` / `cloneOf` / `importVol` / `replicationGroup`, which upstream let through.
 *
 * An option given with an empty value (`-o size=`) counts as not given, as upstream did for most options.
 */
import { DefaultConfigPath, type ReplicationDevice } from '../../config/index.js';
import { backendNotReady, targetNotReady, type BackendView } from '../backends/state.js';
import { VolumeRequestError } from '../errors.js';
import { FsTypes, type FsType } from '../../host/index.js';
import { checkArrayName, checkRcgName, checkSnapshotNameLength, checkVolumeNameLength } from './limits.js';
import { isValidVolumeName } from './naming.js';

const Provisionings = ['thin', 'full', 'dedup'] as const;
/** What a new volume gets at its first mount without `-o fsType` (upstream made ext4 only). */
export const DEFAULT_FS_TYPE: FsType = 'ext4';
export type Provisioning = (typeof Provisionings)[number];

export const DEFAULT_SIZE_GIB = 100;
const DEFAULT_PROVISIONING: Provisioning = 'thin';
/** Seconds a node waits for another node to unmount before taking the volume over. */
export const DEFAULT_MOUNT_CONFLICT_DELAY = 30;
/** WSAPI bound on a snapshot's expirationHours / retentionHours. */
export const MAX_SNAPSHOT_HOURS = 43800;
/** The block backend used without `-o backend` (`DEFAULT_BLOCK` when [DEFAULT] is a File Persona section). */
const DEFAULT_BACKEND_NAMES = ['DEFAULT', 'DEFAULT_BLOCK'] as const;
const FILE_PERSONA_DEFAULT = 'DEFAULT_FILE';

/** Docker's `Opts` as received; values should be strings. */
export type Opts = Readonly<Record<string, unknown>>;

export interface FsOwner {
  uid: number;
  gid: number;
}

interface RequestBase {
  /** The Docker volume name. */
  name: string;
}

interface NewVolumeBase extends RequestBase {
  mountConflictDelay: number;
}

/** A plain volume. `null` means "not given": the array's or the QoS set's default applies. */
export interface CreateVolumeRequest extends NewVolumeBase {
  kind: 'create';
  backend: string;
  size: number;
  provisioning: Provisioning;
  compression: boolean | null;
  /** `false` is recorded as false and must not create a VV set (upstream made one for the string "false"). */
  flashCache: boolean | null;
  qosName: string | null;
  cpg: string | null;
  snapCpg: string | null;
  fsOwner: FsOwner | null;
  /** Octal digits as given, e.g. `0755`. */
  fsMode: string | null;
  /** Made at the first mount. */
  fsType: FsType;
}

export interface ReplicatedVolumeRequest extends NewVolumeBase {
  kind: 'replicated';
  backend: string;
  replicationGroup: string;
  replication: ReplicationDevice;
  size: number;
  provisioning: Provisioning;
  compression: boolean | null;
  fsType: FsType;
}

export interface CloneRequest extends NewVolumeBase {
  kind: 'clone';
  /** Docker name of the source volume; its backend is the clone's. */
  source: string;
  /** `null`: the source's size. */
  size: number | null;
  /** `null`: the source's CPGs. */
  cpg: string | null;
  snapCpg: string | null;
  /** The options as given, kept in the record (`Options`) as upstream did. */
  options: Record<string, string>;
}

export interface SnapshotRequest extends NewVolumeBase {
  kind: 'snapshot';
  source: string;
  expirationHours: number | null;
  retentionHours: number | null;
  /** Present for `-o scheduleName=...`: a schedule on the array snapshots the source as well (upstream's way). */
  schedule?: ScheduleRequest;
}

/** A snapshot schedule (createsched running createsv on the source), as the options gave it. */
export interface ScheduleRequest {
  /** The schedule's name on the array; `auto` is named at creation from the time (upstream's way). */
  name: string;
  /** Five cron fields separated by single spaces. */
  frequency: string;
  /** Prefix of the scheduled snapshots' names. */
  prefix: string;
  /** `-exp <n>h` of each scheduled snapshot. */
  expirationHours: number | null;
  /** `-retain <n>h` of each scheduled snapshot. */
  retentionHours: number | null;
}

/** Upstream's limits of a schedule's name and its snapshots' prefix. */
export const MAX_SCHEDULE_NAME = 31;
export const MAX_SNAPSHOT_PREFIX = 15;
/** The scheduleName upstream replaced by one made from the time. */
export const AUTO_SCHEDULE_NAME = 'auto';

export interface ImportRequest extends NewVolumeBase {
  kind: 'import';
  backend: string;
  /** The array's name of the volume or snapshot to bring under the plugin. */
  existingName: string;
  options: Record<string, string>;
}

interface HelpRequest extends RequestBase {
  kind: 'help';
  /** `-o help=backends` → the backends table; any other value → the usage text. */
  topic: 'usage' | 'backends';
}

export type VolumeRequest = CreateVolumeRequest | ReplicatedVolumeRequest | CloneRequest | SnapshotRequest | ImportRequest | HelpRequest;

// ---------------------------------------------------------------------------------------------------------
// Operations and their allow-lists (request_validator.py)

const Operations = {
  create: {
    label: 'create volume',
    allowed: ['compression', 'size', 'provisioning', 'flash-cache', 'qos-name', 'fsOwner', 'fsMode', 'fsType', 'mountConflictDelay', 'cpg', 'snapcpg', 'backend', 'manager'],
  },
  clone: { label: 'clone volume', allowed: ['cloneOf', 'size', 'cpg', 'snapcpg', 'mountConflictDelay', 'manager'] },
  snapshot: { label: 'create snapshot', allowed: ['virtualCopyOf', 'retentionHours', 'expirationHours', 'mountConflictDelay', 'size', 'manager'] },
  schedule: {
    label: 'create snapshot schedule',
    allowed: ['virtualCopyOf', 'scheduleFrequency', 'scheduleName', 'snapshotPrefix', 'expHrs', 'retHrs', 'mountConflictDelay', 'size', 'manager'],
    mandatory: ['scheduleName', 'snapshotPrefix', 'scheduleFrequency'],
  },
  import: { label: 'import volume', allowed: ['importVol', 'backend', 'mountConflictDelay', 'manager'] },
  replicated: { label: 'create replicated volume', allowed: ['replicationGroup', 'size', 'provisioning', 'backend', 'mountConflictDelay', 'compression', 'fsType', 'manager'] },
  help: { label: 'display help', allowed: ['help'] },
} as const;
type Operation = keyof typeof Operations;

/** The first entry whose keys are all present picks the operation; none → create. */
const Dispatch: readonly { keys: readonly string[]; op: Operation }[] = [
  { keys: ['virtualCopyOf', 'scheduleName'], op: 'schedule' },
  { keys: ['virtualCopyOf', 'scheduleFrequency'], op: 'schedule' },
  // upstream spelt this key `snaphotPrefix`, so a lone snapshotPrefix was refused as an unknown snapshot option
  { keys: ['virtualCopyOf', 'snapshotPrefix'], op: 'schedule' },
  { keys: ['virtualCopyOf'], op: 'snapshot' },
  { keys: ['cloneOf'], op: 'clone' },
  { keys: ['importVol'], op: 'import' },
  { keys: ['replicationGroup'], op: 'replicated' },
  { keys: ['help'], op: 'help' },
];

const MUTUALLY_EXCLUSIVE = ['virtualCopyOf', 'cloneOf', 'importVol', 'replicationGroup'] as const;

/** Options only a snapshot schedule takes; without virtualCopyOf they get the schedule's reason, not `Invalid option(s)`. */
const SCHEDULE_KEYS = ['scheduleName', 'scheduleFrequency', 'snapshotPrefix', 'expHrs', 'retHrs'] as const;

// ---------------------------------------------------------------------------------------------------------
// Message helpers

/** Python's `repr` of a list of strings, as upstream printed lists. */
export function pythonList(items: readonly string[]): string {
  return `[${items.map(pythonString).join(', ')}]`;
}

function pythonString(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  const escaped = s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\t/g, '\\t');
  return quote + (quote === "'" ? escaped.replace(/'/g, "\\'") : escaped) + quote;
}

function sorted(items: Iterable<string>): string[] {
  return [...items].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Upstream raised these as `InvalidInput`, whose text starts with this prefix. */
function invalidInput(reason: string, fix?: string): VolumeRequestError {
  return new VolumeRequestError(`Invalid input received: ${reason}`, fix);
}

function invalidValue(option: string, raw: string, advice: string, fix?: string): VolumeRequestError {
  return new VolumeRequestError(`Invalid value '${raw}' specified for ${option}. ${advice}`, fix);
}

// ---------------------------------------------------------------------------------------------------------
// Value parsers

/** A whole number as Python's int() of an integer string reads it (sign, surrounding blanks); else undefined. */
function parseInteger(raw: string): number | undefined {
  const t = raw.trim();
  if (!/^[+-]?\d+$/.test(t)) return undefined;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : undefined;
}

function parseSize(raw: string): number {
  const n = parseInteger(raw);
  if (n === undefined) throw invalidValue('size', raw, 'Please specify an integer number of GiB.');
  if (n < 1 || !Number.isSafeInteger(n * 1024)) {
    const valid = n < 1 ? '1 or more' : `at most ${Math.floor(Number.MAX_SAFE_INTEGER / 1024)}`;
    throw new VolumeRequestError(
      `Please enter the valid integer value for size parameter: the size is a whole number of GiB, ${valid}; ${n} is not`,
      'give the size as a whole number of GiB, 1 or more, e.g. -o size=10',
    );
  }
  return n;
}

function parseProvisioning(raw: string): Provisioning {
  if ((Provisionings as readonly string[]).includes(raw)) return raw as Provisioning;
  throw new VolumeRequestError(`Must specify a valid provisioning type ${pythonList(Provisionings)}, value '${raw}' is invalid.`);
}

function parseBooleanOption(option: 'compression' | 'flash-cache', raw: string): boolean {
  const v = raw.toLowerCase();
  if (v === 'true' || v === 'false') return v === 'true';
  throw new VolumeRequestError(
    `create volume failed, error is: passed ${option} parameter does not have a valid value. Valid values are: ${pythonList(['true', 'false'])}`,
    `write -o ${option}=true or -o ${option}=false`,
  );
}

const MAX_ID = 2 ** 32 - 2;

function parseFsOwner(raw: string): FsOwner {
  const m = /^(\d+):(\d+)$/.exec(raw);
  const uid = m ? Number(m[1]) : NaN;
  const gid = m ? Number(m[2]) : NaN;
  if (!(uid <= MAX_ID && gid <= MAX_ID)) {
    throw invalidValue('fsOwner', raw, 'Please specify a correct value.', 'give the owner as <uid>:<gid> in numbers, e.g. -o fsOwner=1000:1000');
  }
  return { uid, gid };
}

function parseFsMode(raw: string): string {
  const fix = 'give the mode as octal digits with a leading 0, e.g. -o fsMode=0755';
  if (parseInteger(raw) === undefined) throw invalidValue('fsMode', raw, 'Please specify an integer value.', fix);
  if (!/^0[0-7]*$/.test(raw) || parseInt(raw, 8) > 0o7777) throw invalidValue('fsMode', raw, 'Please specify an octal value.', fix);
  return raw;
}

function parseFsType(raw: string): FsType {
  const type = FsTypes.find((t) => t === raw.toLowerCase());
  if (type === undefined) {
    throw new VolumeRequestError(
      `Invalid value '${raw}' specified for fsType. Valid values are: ${pythonList([...FsTypes])}`,
      'choose -o fsType=ext4 (the default) or -o fsType=xfs',
    );
  }
  return type;
}

function parseMountConflictDelay(raw: string): number {
  const n = parseInteger(raw);
  const fix = 'give the delay in whole seconds, e.g. -o mountConflictDelay=30';
  if (n === undefined) throw invalidValue('mountConflictDelay', raw, 'Please specify an integer value.', fix);
  if (n < 0) throw invalidValue('mountConflictDelay', raw, 'Please specify an integer value of 0 or more.', fix);
  return n;
}

function parseSnapshotHours(option: 'expirationHours' | 'retentionHours', raw: string): number {
  const n = parseInteger(raw);
  if (n === undefined || n < 1 || n > MAX_SNAPSHOT_HOURS) {
    throw invalidValue(option, raw, `Please specify an integer number of hours from 1 to ${MAX_SNAPSHOT_HOURS}.`, `e.g. -o ${option}=24`);
  }
  return n;
}

function parseScheduleHours(option: 'expHrs' | 'retHrs', raw: string): number {
  const n = parseInteger(raw);
  if (n === undefined || n < 1 || n > MAX_SNAPSHOT_HOURS) {
    throw invalidValue(option, raw, `Please specify an integer number of hours from 1 to ${MAX_SNAPSHOT_HOURS}.`, `e.g. -o ${option}=24`);
  }
  return n;
}

// ---------------------------------------------------------------------------------------------------------
// The steps

/** Docker's Opts as a map of strings; anything else is refused rather than coerced. */
function readOpts(opts: Opts | null | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (opts === null || opts === undefined) return out;
  for (const [key, value] of Object.entries(opts)) {
    if (typeof value !== 'string') {
      throw new VolumeRequestError(`Invalid value for option '${key}': volume options must be strings.`, 'pass every option as -o key=value');
    }
    out.set(key, value);
  }
  return out;
}

/** Upstream's request_validator: mutual exclusion, then the first matching operation's allow-list. */
function selectOperation(opts: Map<string, string>): Operation {
  if (opts.size === 0) return 'create';
  if (MUTUALLY_EXCLUSIVE.filter((k) => opts.has(k)).length > 1) {
    throw invalidInput(
      `Operations ${pythonList(sorted(MUTUALLY_EXCLUSIVE))} are mutually exclusive and cannot be specified together. Please check help for usage.`,
    );
  }
  const op = Dispatch.find((d) => d.keys.every((k) => opts.has(k)))?.op ?? 'create';
  if (op === 'create' && SCHEDULE_KEYS.some((k) => opts.has(k))) {
    throw new VolumeRequestError(
      'virtualCopyOf is a mandatory parameter for creating a snapshot schedule',
      'name the volume to snapshot with -o virtualCopyOf=<volume>',
    );
  }
  const spec: { label: string; allowed: readonly string[]; mandatory?: readonly string[] } = Operations[op];
  if (spec.mandatory && spec.mandatory.some((k) => !opts.has(k))) {
    throw invalidInput(`One or more mandatory options ${pythonList(sorted(spec.mandatory))} are missing for operation ${spec.label}`);
  }
  const unknown = [...opts.keys()].filter((k) => !spec.allowed.includes(k));
  if (unknown.length > 0) {
    throw invalidInput(`Invalid option(s) ${pythonList(sorted(unknown))} specified for operation ${spec.label}. Please check help for usage.`);
  }
  return op;
}

function defaultBackend(backends: readonly BackendView[]): string {
  return DEFAULT_BACKEND_NAMES.find((n) => backends.some((b) => b.name === n)) ?? DEFAULT_BACKEND_NAMES[0];
}

function requireDriver(name: string, backends: readonly BackendView[], configFile: string): void {
  if (backends.length === 0) {
    throw new VolumeRequestError(`ERROR: Cannot create volume '${name}'. Volume driver is not configured`, `configure a 3PAR iSCSI or FC backend in ${configFile}`);
  }
}

/** The backend of a create / replicated request (upstream step 4). */
function resolveBackend(name: string, opts: Map<string, string>, backends: readonly BackendView[], configFile: string): BackendView {
  requireDriver(name, backends, configFile);
  const given = opts.get('backend') ?? '';
  const wanted = given === '' ? defaultBackend(backends) : given;
  if (wanted === FILE_PERSONA_DEFAULT) {
    throw new VolumeRequestError('Backend DEFAULT_FILE is reserved for File Persona. Cannot specify it for Block operations', 'name a block backend with -o backend=<name>');
  }
  const backend = backends.find((b) => b.name === wanted);
  if (backend === undefined) {
    throw new VolumeRequestError(`Backend: ${wanted} not present in config.`, backendsFix(backends));
  }
  return backend;
}

/** Import names its backend check differently (request_validator.py `_validate_import_vol_opts`). */
function resolveImportBackend(name: string, opts: Map<string, string>, backends: readonly BackendView[], configFile: string): BackendView {
  requireDriver(name, backends, configFile);
  const wanted = opts.get('backend') || defaultBackend(backends);
  const backend = backends.find((b) => b.name === wanted);
  if (backend === undefined) {
    const available = pythonList(sorted(backends.map((b) => b.name)));
    throw invalidInput(`ERROR: Backend '${wanted}' doesn't exist. Available backends are ${available}. Please use a valid backend name and retry.`, backendsFix(backends));
  }
  return backend;
}

function backendsFix(backends: readonly BackendView[]): string {
  return `use one of the backends configured in hpe.conf (${backends.map((b) => b.name).join(', ')}); \`-o help=backends\` lists them`;
}

/** A request may only go to a backend that finished initialising. */
function requireReady(backend: BackendView): void {
  if (backend.state !== 'OK') throw backendNotReady(backend);
}

/** The source named by virtualCopyOf / cloneOf / importVol, or the replicationGroup: never empty. */
function requireNamed(opts: Map<string, string>, option: string, what: string): string {
  const value = opts.get(option) ?? '';
  if (value === '') throw invalidValue(option, value, `Please specify ${what}.`);
  return value;
}

/** Upstream's value checks (step 7), for the options present and non-empty. */
interface Values {
  size?: number;
  provisioning?: Provisioning;
  compression?: boolean;
  flashCache?: boolean;
  qosName?: string;
  cpg?: string;
  snapCpg?: string;
  fsOwner?: FsOwner;
  fsMode?: string;
  fsType?: FsType;
  mountConflictDelay: number;
}

function arrayName(option: string, what: string, value: string): string {
  checkArrayName(option, what, value);
  return value;
}

function readValues(opts: Map<string, string>): Values {
  const given = (key: string): string | undefined => {
    const v = opts.get(key);
    return v === undefined || v === '' ? undefined : v;
  };
  const values: Values = { mountConflictDelay: DEFAULT_MOUNT_CONFLICT_DELAY };
  let v: string | undefined;
  if ((v = given('size')) !== undefined) values.size = parseSize(v);
  if ((v = given('provisioning')) !== undefined) values.provisioning = parseProvisioning(v);
  if ((v = given('compression')) !== undefined) values.compression = parseBooleanOption('compression', v);
  if ((v = given('flash-cache')) !== undefined) values.flashCache = parseBooleanOption('flash-cache', v);
  if ((v = given('qos-name')) !== undefined) values.qosName = arrayName('qos-name', 'A VV set name', v);
  if ((v = given('cpg')) !== undefined) values.cpg = arrayName('cpg', 'A CPG name', v);
  if ((v = given('snapcpg')) !== undefined) values.snapCpg = arrayName('snapcpg', 'A CPG name', v);
  if ((v = given('fsOwner')) !== undefined) values.fsOwner = parseFsOwner(v);
  if ((v = given('fsMode')) !== undefined) values.fsMode = parseFsMode(v);
  if ((v = given('fsType')) !== undefined) values.fsType = parseFsType(v);
  if ((v = given('mountConflictDelay')) !== undefined) values.mountConflictDelay = parseMountConflictDelay(v);
  return values;
}

function parseSnapshot(name: string, opts: Map<string, string>, values: Values): SnapshotRequest {
  const source = requireNamed(opts, 'virtualCopyOf', 'the name of the volume to snapshot');
  checkSnapshotNameLength(name, source);
  const exp = opts.get('expirationHours') || undefined;
  const ret = opts.get('retentionHours') || undefined;
  const expirationHours = exp === undefined ? null : parseSnapshotHours('expirationHours', exp);
  const retentionHours = ret === undefined ? null : parseSnapshotHours('retentionHours', ret);
  if (expirationHours !== null && retentionHours !== null && retentionHours > expirationHours) {
    throw new VolumeRequestError(
      `create snapshot failed, error is: retentionHours (${retentionHours}) cannot be greater than expirationHours (${expirationHours})`,
      'give a retentionHours no greater than expirationHours',
    );
  }
  return { kind: 'snapshot', name, source, expirationHours, retentionHours, mountConflictDelay: values.mountConflictDelay };
}

/**
 * A schedule's options, in upstream's order (hpe_storage_api.py `volumedriver_create_snapshot`): hours, their
 * order, empty name, empty prefix, lengths, the frequency's five fields. The texts keep upstream's trailing spaces.
 */
function parseSchedule(name: string, opts: Map<string, string>, values: Values): SnapshotRequest {
  const source = requireNamed(opts, 'virtualCopyOf', 'the name of the volume to snapshot');
  checkSnapshotNameLength(name, source);
  const exp = opts.get('expHrs') || undefined;
  const ret = opts.get('retHrs') || undefined;
  const expirationHours = exp === undefined ? null : parseScheduleHours('expHrs', exp);
  const retentionHours = ret === undefined ? null : parseScheduleHours('retHrs', ret);
  if (expirationHours !== null && retentionHours !== null && retentionHours > expirationHours) {
    throw new VolumeRequestError('create schedule failed, error is: expiration hours must be greater than retention hours', 'give an -o retHrs no greater than -o expHrs');
  }
  const scheduleName = opts.get('scheduleName') ?? '';
  const prefix = opts.get('snapshotPrefix') ?? '';
  if (scheduleName === '') throw new VolumeRequestError('Please make sure that valid schedule name is passed ', 'name the schedule, e.g. -o scheduleName=hourly (or -o scheduleName=auto)');
  if (prefix === '') throw new VolumeRequestError('Please provide a 3 letter prefix for scheduled snapshot names ', 'e.g. -o snapshotPrefix=hrl');
  if ((scheduleName !== AUTO_SCHEDULE_NAME && scheduleName.length > MAX_SCHEDULE_NAME) || prefix.length > MAX_SNAPSHOT_PREFIX) {
    throw new VolumeRequestError(
      `Please provide a scheduleName with max ${MAX_SCHEDULE_NAME} characters and snapshotPrefix with max length of ${MAX_SNAPSHOT_PREFIX} characters`,
      `shorten -o scheduleName to ${MAX_SCHEDULE_NAME} characters and -o snapshotPrefix to ${MAX_SNAPSHOT_PREFIX}`,
    );
  }
  checkScheduleWords(scheduleName, prefix);
  const frequency = opts.get('scheduleFrequency') ?? '';
  // Upstream checked the count only; each field is also checked here, as it goes into the CLI command line.
  const fields = frequency.split(' ');
  if (fields.length !== 5 || !fields.every((f) => /^[0-9*,/-]+$/.test(f))) {
    throw new VolumeRequestError(
      'Invalid schedule string is passed: HPE Docker Volume plugin Create volume failed: create schedule failed, error is: Improper string passed. ',
      'give scheduleFrequency as five cron fields (minute hour day-of-month month day-of-week) separated by single spaces, e.g. "0 * * * *"',
    );
  }
  return {
    kind: 'snapshot',
    name,
    source,
    expirationHours: null,
    retentionHours: null,
    mountConflictDelay: values.mountConflictDelay,
    schedule: { name: scheduleName, frequency, prefix, expirationHours, retentionHours },
  };
}

/**
 * The name and prefix go into one CLI command line (`createsched "createsv ... <prefix>.@y@..." "<freq>" <name>`):
 * only characters an array object name may hold, so nothing can break out of the command's quoting. Upstream
 * passed them as given.
 */
function checkScheduleWords(scheduleName: string, prefix: string): void {
  for (const [option, value] of [['scheduleName', scheduleName], ['snapshotPrefix', prefix]] as const) {
    if (!/^[A-Za-z0-9_.-]+$/.test(value)) {
      throw invalidValue(option, value, 'Please use letters, digits, _, . and - only.', `e.g. -o ${option}=${option === 'scheduleName' ? 'hourly' : 'hrl'}`);
    }
  }
}

function parseClone(name: string, opts: Map<string, string>, values: Values): CloneRequest {
  return {
    kind: 'clone',
    name,
    source: requireNamed(opts, 'cloneOf', 'the name of the volume to clone'),
    size: values.size ?? null,
    cpg: values.cpg ?? null,
    snapCpg: values.snapCpg ?? null,
    mountConflictDelay: values.mountConflictDelay,
    options: Object.fromEntries(opts),
  };
}

function parseImport(name: string, opts: Map<string, string>, backends: readonly BackendView[], configFile: string): ImportRequest {
  const backend = resolveImportBackend(name, opts, backends, configFile);
  const existingName = requireNamed(opts, 'importVol', 'the name of the volume or snapshot on the array');
  checkArrayName('importVol', 'A volume name', existingName);
  const values = readValues(opts);
  requireReady(backend);
  return { kind: 'import', name, backend: backend.name, existingName, mountConflictDelay: values.mountConflictDelay, options: Object.fromEntries(opts) };
}

function parseNewVolume(name: string, opts: Map<string, string>, values: Values, backend: BackendView): CreateVolumeRequest | ReplicatedVolumeRequest {
  const common = {
    name,
    backend: backend.name,
    size: values.size ?? DEFAULT_SIZE_GIB,
    provisioning: values.provisioning ?? DEFAULT_PROVISIONING,
    compression: values.compression ?? null,
    mountConflictDelay: values.mountConflictDelay,
    fsType: values.fsType ?? DEFAULT_FS_TYPE,
  };
  if (!opts.has('replicationGroup')) {
    // A replication backend without replicationGroup makes a plain volume, as upstream did.
    requireReady(backend);
    return {
      kind: 'create',
      ...common,
      flashCache: values.flashCache ?? null,
      qosName: values.qosName ?? null,
      cpg: values.cpg ?? null,
      snapCpg: values.snapCpg ?? null,
      fsOwner: values.fsOwner ?? null,
      fsMode: values.fsMode ?? null,
    };
  }
  const replicationGroup = requireNamed(opts, 'replicationGroup', 'the name of the remote copy group');
  checkRcgName(replicationGroup);
  if (backend.replication === undefined) {
    throw invalidInput(
      `Request to create replicated volume cannot be fulfilled without defining 'replication_device' entry defined in hpe.conf for the backend '${backend.name}'. Please add it and execute the request again.`,
      `add a replication_device entry to [${backend.name}] in hpe.conf, or create the volume on a backend that has one`,
    );
  }
  requireReady(backend);
  if (backend.target !== undefined && backend.target.state !== 'OK') throw targetNotReady(backend.name, backend.target);
  return { kind: 'replicated', ...common, replicationGroup, replication: backend.replication };
}

/**
 * Validates a Create request in upstream's order and returns what to do, or throws a `VolumeRequestError`
 * whose message is the `Err` for Docker. `backends` are the configured block backends with their state, read
 * from `configFile` (the hpe.conf loaded), which the error for no block backend names.
 * Whether the name already exists (Create is idempotent) is the caller's check, made before this one.
 */
export function parseCreateRequest(
  name: string,
  rawOpts: Opts | null | undefined,
  backends: readonly BackendView[],
  configFile: string = DefaultConfigPath,
): VolumeRequest {
  const opts = readOpts(rawOpts);
  if (opts.has('filePersona')) {
    throw new VolumeRequestError('File Persona (-o filePersona) is not supported by this plugin: it manages block volumes only', 'create block volumes (without -o filePersona)');
  }
  // Before the pattern, so that a 200 kB name is never echoed whole.
  checkVolumeNameLength(name);
  if (!isValidVolumeName(name)) {
    throw invalidInput(`Invalid volume name: ${name} is passed.`, 'use at least two characters: letters and digits first, then letters, digits, _ or -');
  }
  const op = selectOperation(opts);
  switch (op) {
    case 'import':
      return parseImport(name, opts, backends, configFile);
    case 'help':
      return { kind: 'help', name, topic: opts.get('help') === 'backends' ? 'backends' : 'usage' };
    case 'create':
    case 'replicated': {
      const backend = resolveBackend(name, opts, backends, configFile);
      return parseNewVolume(name, opts, readValues(opts), backend);
    }
    case 'snapshot':
      return parseSnapshot(name, opts, readValues(opts));
    case 'schedule':
      return parseSchedule(name, opts, readValues(opts));
    case 'clone':
      return parseClone(name, opts, readValues(opts));
  }
}
