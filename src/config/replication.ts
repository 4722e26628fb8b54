/**
 * The meaning of `replication_device` (its syntax is in replication-pairs.ts): the keys it needs, what each
 * may hold, and what a target inherits from its source backend.
 */
import { isIP } from 'node:net';
import type { z } from 'zod';
import { ConfigError, type ConfigLocation } from '../errors.js';
import type { IniEntry } from './dialect.js';
import { closestName, ReplicationKeys } from './options.js';
import { gluedKey, glueFix, glueHint, splitPairs, type ReplicationPair } from './replication-pairs.js';
import {
  ReplicationModes,
  type ConfigWarning,
  type DriverKind,
  type IscsiTarget,
  type ReplicationDevice,
  type ReplicationMode,
  type SecretValue,
} from './types.js';
import { ApiUrlFix, httpUrlValue, iscsiTargetsFix, iscsiTargetsValue, parseValueAll, shown } from './values.js';

/** What a target inherits from its source backend when a key is absent (undefined: not usable). */
export interface ReplicationSource {
  driver?: DriverKind;
  username?: string;
  password?: SecretValue;
  sanIp?: string;
  sanLogin: string;
  sanPassword?: SecretValue;
}

export interface ReplicationResult {
  /** Undefined when any error was found, or when an inherited value is itself unusable. */
  device?: ReplicationDevice;
  errors: ConfigError[];
  warnings: ConfigWarning[];
}

const DefaultSyncPeriod = 900;
const SyncPeriodRange = { min: 300, max: 31622400 } as const;
/** Keys whose values are lists split on whitespace or `;`, so a line break inside them is fine. */
const MultiLineKeys: ReadonlySet<string> = new Set(['cpg_map', 'snap_cpg_map', 'hpe3par_iscsi_ips']);
const Mandatory = ['backend_id', 'replication_mode', 'cpg_map', 'hpe3par_api_url'] as const;
const Placeholders: Readonly<Record<string, string>> = {
  backend_id: '<remote-copy target name>',
  replication_mode: 'synchronous|asynchronous|streaming',
  cpg_map: '<source CPG>:<target CPG>',
  hpe3par_api_url: 'https://<target array>:8080/api/v1',
  hpe3par_iscsi_ips: '<ip>;<ip>',
};

function parseCpgMap(text: string): { map: { source: string; target: string }[]; bad?: string } {
  const map: { source: string; target: string }[] = [];
  for (const token of text.split(/\s+/).filter((t) => t !== '')) {
    const colon = token.indexOf(':');
    const source = colon < 0 ? '' : token.slice(0, colon);
    const target = colon < 0 ? '' : token.slice(colon + 1);
    if (source === '' || target === '') return { map, bad: token };
    map.push({ source, target });
  }
  return { map };
}

type RequiredKey = (typeof Mandatory)[number] | 'hpe3par_iscsi_ips';
/** The device's fields each read from a pair or inherited; undefined when absent or wrong. */
type DeviceFields = Omit<ReplicationDevice, 'line' | 'pairs' | 'quorumWitnessIp' | 'syncPeriod'>;
type Read<T> = { [K in keyof T]: T[K] | undefined };
type CpgMap = ReplicationDevice['cpgMap'];

/** The pairs of one entry by key; collects every error and warning in the order the keys are checked. */
class PairReader {
  readonly errors: ConfigError[];
  readonly warnings: ConfigWarning[] = [];
  /** Every pair as written (a repeated key keeps its first value). */
  readonly pairs: Record<string, string> = {};
  private readonly byKey = new Map<string, ReplicationPair>();
  /** Keys glued into the value before them: reported there, not again as missing. */
  private readonly swallowed: ReadonlySet<string | undefined>;

  constructor(
    private readonly entry: IniEntry,
    private readonly section: string,
    private readonly file: string,
  ) {
    const split = splitPairs(entry, file, section);
    this.errors = split.errors;
    this.swallowed = new Set(split.pairs.flatMap((p) => p.breaks.map((b) => gluedKey(b.intoText))));
    for (const pair of split.pairs) this.add(pair);
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  fail(pair: ReplicationPair, problem: string, fix: string): void {
    this.errors.push(new ConfigError(this.at(pair.key, pair.line), problem, fix));
  }

  /** Parses a pair's value; each zod issue becomes one error at the pair's line. */
  check<T>(pair: ReplicationPair, schema: z.ZodType<T, string>, fix: string): T | undefined {
    const checked = parseValueAll(schema, pair.value);
    if (checked.ok) return checked.value;
    for (const problem of checked.problems) this.fail(pair, problem, fix);
    return undefined;
  }

  /** The usable value of a known key, or undefined (absent, or an error was reported). */
  usable(key: string): ReplicationPair | undefined {
    const pair = this.byKey.get(key);
    if (pair === undefined) return undefined;
    if (pair.value === '') {
      this.fail(pair, 'is empty', `write a value after '${key}:' or remove the pair`);
      return undefined;
    }
    // A list may go on over several lines; any other value with a line break lost a comma.
    const glued = MultiLineKeys.has(key) ? pair.breaks.find((b) => gluedKey(b.intoText) !== undefined) : pair.breaks[0];
    if (glued === undefined) return pair;
    if (key === 'replication_mode') {
      const first = pair.value.split('\n')[0] ?? '';
      this.fail(pair, `Unknown replication mode '${shown(first)}...' specified. Valid values are 'synchronous | asynchronous | streaming'; ${glueHint(glued)}`, glueFix(glued));
    } else {
      this.fail(pair, glueHint(glued), glueFix(glued));
    }
    return undefined;
  }

  /** Like usable, and reports the key when it is absent. */
  required(key: RequiredKey, why = ''): ReplicationPair | undefined {
    if (this.byKey.has(key)) return this.usable(key);
    if (!this.swallowed.has(key)) {
      const fix = `add \`${key}:${Placeholders[key] ?? '<value>'}\` to replication_device in [${this.section}]`;
      this.errors.push(new ConfigError(this.at(key, this.entry.line), `is missing${why}`, fix));
    }
    return undefined;
  }

  /** A plain key's usable value, or the source backend's when the key is absent. */
  orInherited(key: string, inherited: string | undefined): string | undefined {
    return this.byKey.has(key) ? this.usable(key)?.value : inherited;
  }

  private at(key: string, line: number): ConfigLocation {
    return { file: this.file, line, section: this.section, option: `replication_device.${key}` };
  }

  /** A repeated key is an error; an unknown one is kept and warned about. */
  private add(pair: ReplicationPair): void {
    const earlier = this.byKey.get(pair.key);
    if (earlier !== undefined) {
      this.fail(pair, `Duplicate key (first set on line ${earlier.line})`, 'keep only one of the two pairs');
      return;
    }
    this.byKey.set(pair.key, pair);
    this.pairs[pair.key] = pair.value;
    if ((ReplicationKeys as readonly string[]).includes(pair.key)) return;
    const suggestion = closestName(pair.key, ReplicationKeys);
    this.warnings.push({
      line: pair.line,
      section: this.section,
      option: `replication_device.${pair.key}`,
      message: `unknown key '${pair.key}' in replication_device is ignored${suggestion === undefined ? '' : `; did you mean '${suggestion}'?`}`,
    });
  }
}

interface ModeRead {
  pair?: ReplicationPair;
  mode?: ReplicationMode;
}

function readMode(reader: PairReader): ModeRead {
  const pair = reader.required('replication_mode');
  if (pair === undefined) return {};
  if ((ReplicationModes as readonly string[]).includes(pair.value)) return { pair, mode: pair.value as ReplicationMode };
  reader.fail(
    pair,
    `Unknown replication mode '${shown(pair.value)}' specified. Valid values are 'synchronous | asynchronous | streaming'`,
    'write replication_mode:synchronous, replication_mode:asynchronous or replication_mode:streaming',
  );
  return { pair };
}

/** Peer Persistence's quorum witness, which needs synchronous mode. */
function readQuorum(reader: PairReader, mode: ModeRead): string | undefined {
  const quorum = reader.usable('quorum_witness_ip');
  if (quorum === undefined) return undefined;
  if (isIP(quorum.value) === 0) {
    reader.fail(quorum, `'${shown(quorum.value)}' is not an IP address`, 'write the IP address of the Peer Persistence quorum witness');
  } else if (mode.mode !== undefined && mode.mode !== 'synchronous' && mode.pair !== undefined) {
    reader.fail(mode.pair, 'For Peer Persistence, replication mode must be synchronous', 'write replication_mode:synchronous, or remove quorum_witness_ip');
  }
  return quorum.value;
}

/** Seconds between syncs: only for asynchronous and streaming modes, which default to 900. */
function readSyncPeriod(reader: PairReader, mode: ReplicationMode | undefined): number | undefined {
  const pair = reader.usable('sync_period');
  if (pair === undefined) return mode === 'asynchronous' || mode === 'streaming' ? DefaultSyncPeriod : undefined;
  if (mode === 'synchronous') {
    reader.fail(
      pair,
      "'sync_period' can be defined only for 'asynchronous' and 'streaming' replicate modes",
      'remove sync_period, or use an asynchronous or streaming mode',
    );
    return undefined;
  }
  const seconds = /^\d+$/.test(pair.value) ? Number(pair.value) : Number.NaN;
  if (seconds >= SyncPeriodRange.min && seconds <= SyncPeriodRange.max) return seconds;
  reader.fail(
    pair,
    `'sync_period' must be between ${SyncPeriodRange.min} and ${SyncPeriodRange.max} seconds.`,
    'write a whole number of seconds in that range, e.g. sync_period:900',
  );
  return undefined;
}

function cpgMapOf(reader: PairReader, pair: ReplicationPair | undefined): CpgMap | undefined {
  if (pair === undefined) return undefined;
  const parsed = parseCpgMap(pair.value);
  if (parsed.bad === undefined) return parsed.map;
  reader.fail(pair, `entry '${shown(parsed.bad)}' is not source:target`, `write ${pair.key} as <source CPG>:<target CPG>, several separated by spaces`);
  return undefined;
}

/** `cpg_map`, and `snap_cpg_map`, which defaults to a copy of it. */
function readCpgMaps(reader: PairReader): Read<Pick<DeviceFields, 'cpgMap' | 'snapCpgMap'>> {
  const cpgMap = cpgMapOf(reader, reader.required('cpg_map'));
  const snapCpgMap = reader.has('snap_cpg_map') ? cpgMapOf(reader, reader.usable('snap_cpg_map')) : cpgMap?.map((m) => ({ ...m }));
  return { cpgMap, snapCpgMap };
}

function readApiUrl(reader: PairReader): string | undefined {
  const pair = reader.required('hpe3par_api_url');
  return pair === undefined ? undefined : reader.check(pair, httpUrlValue, ApiUrlFix);
}

/** A password pair; a value broken over lines has no span to edit in place, so it is unusable. */
function readSecret(reader: PairReader, key: 'hpe3par_password' | 'san_password', inherited: SecretValue | undefined): SecretValue | undefined {
  const option = `replication_device.${key}` as const;
  if (!reader.has(key)) {
    return inherited === undefined ? undefined : { option, raw: inherited.raw, line: inherited.line, inheritedFrom: key };
  }
  const pair = reader.usable(key);
  if (pair === undefined || pair.span === undefined) return undefined;
  return { option, raw: pair.value, line: pair.line, span: pair.span };
}

type Credentials = Read<Pick<DeviceFields, 'username' | 'sanIp' | 'sanLogin' | 'password' | 'sanPassword'>>;

/** The target's logins, each inherited from the source backend when its key is absent. */
function readCredentials(reader: PairReader, source: ReplicationSource): Credentials {
  return {
    username: reader.orInherited('hpe3par_username', source.username),
    sanIp: reader.orInherited('san_ip', source.sanIp),
    sanLogin: reader.orInherited('san_login', source.sanLogin),
    password: readSecret(reader, 'hpe3par_password', source.password),
    sanPassword: readSecret(reader, 'san_password', source.sanPassword),
  };
}

/** The target's iSCSI portals: required for an iSCSI source, optional (and empty when absent) otherwise. */
function readIscsiIps(reader: PairReader, driver: DriverKind | undefined): IscsiTarget[] | undefined {
  const pair = driver === 'iscsi' ? reader.required('hpe3par_iscsi_ips', ' (required for the iSCSI driver)') : reader.usable('hpe3par_iscsi_ips');
  if (pair !== undefined) return reader.check(pair, iscsiTargetsValue(';'), iscsiTargetsFix(';'));
  return driver === 'iscsi' ? undefined : [];
}

function isComplete(fields: Read<DeviceFields>): fields is DeviceFields {
  return Object.values(fields).every((value) => value !== undefined);
}

/** Reads and checks one `replication_device` entry of backend `section`. */
export function parseReplicationDevice(entry: IniEntry, section: string, file: string, source: ReplicationSource): ReplicationResult {
  const reader = new PairReader(entry, section, file);
  const backendId = reader.required('backend_id')?.value;
  const mode = readMode(reader);
  const quorumWitnessIp = readQuorum(reader, mode);
  const syncPeriod = readSyncPeriod(reader, mode.mode);
  const fields: Read<DeviceFields> = {
    backendId,
    mode: mode.mode,
    ...readCpgMaps(reader),
    apiUrl: readApiUrl(reader),
    ...readCredentials(reader, source),
    iscsiIps: readIscsiIps(reader, source.driver),
  };
  const { errors, warnings } = reader;
  if (errors.length > 0 || !isComplete(fields)) return { errors, warnings };
  const device: ReplicationDevice = { line: entry.line, ...fields, pairs: reader.pairs };
  if (quorumWitnessIp !== undefined) device.quorumWitnessIp = quorumWitnessIp;
  if (syncPeriod !== undefined) device.syncPeriod = syncPeriod;
  return { device, errors, warnings };
}
