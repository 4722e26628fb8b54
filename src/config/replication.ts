/**
 * `replication_device`: an oslo DictOpt of `key:value` pairs separated by `,`, possibly over several
 * indented lines. Key and value split at the first `:`, so values may hold `:` (URLs) but never `,`.
 * As upstream does, a missing comma glues the next line onto the previous value; we then say so.
 */
import { isIP } from 'node:net';
import type { z } from 'zod';
import { ConfigError, type ConfigLocation } from '../errors.js';
import type { IniEntry } from './dialect.js';
import { closestName, KnownOptions, ReplicationKeys } from './options.js';
import {
  ReplicationModes,
  type ConfigWarning,
  type DriverKind,
  type ReplicationDevice,
  type ReplicationMode,
  type SecretValue,
  type Span,
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

interface ReplicationPair {
  key: string;
  value: string;
  /** Line where the pair's key is written. */
  line: number;
  /** Exact place of the trimmed value in the file; undefined when it spans a line break. */
  span?: Span;
  /** Each line break inside the value: the line it ends and the line it runs into, with that line's text. */
  breaks: LineBreak[];
}

interface LineBreak {
  fromLine: number;
  intoLine: number;
  intoText: string;
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

/** Maps positions of the joined value (pieces joined by `\n`) back to the file. */
class PieceMap {
  private readonly bases: number[] = [];

  constructor(private readonly entry: IniEntry) {
    let base = 0;
    for (const piece of entry.pieces) {
      this.bases.push(base);
      base += piece.text.length + 1;
    }
  }

  /** Index of the piece holding joined position `at` (a `\n` belongs to the piece before it). */
  pieceAt(at: number): number {
    let index = 0;
    while (index + 1 < this.bases.length && (this.bases[index + 1] ?? Infinity) <= at) index += 1;
    return index;
  }

  lineAt(at: number): number {
    return this.entry.pieces[this.pieceAt(at)]?.line ?? this.entry.line;
  }

  offsetAt(at: number): number {
    const index = this.pieceAt(at);
    return (this.entry.pieces[index]?.start ?? 0) + at - (this.bases[index] ?? 0);
  }
}

function isSpace(c: string): boolean {
  return /\s/.test(c);
}

/**
 * Splits the joined value into pairs. Blank pairs (a trailing comma) are skipped; a pair without
 * `:` or without a key is an error. Pair text is never echoed: it may be a password.
 */
function splitPairs(entry: IniEntry, file: string, section: string): { pairs: ReplicationPair[]; errors: ConfigError[] } {
  const map = new PieceMap(entry);
  const value = entry.value;
  const pairs: ReplicationPair[] = [];
  const errors: ConfigError[] = [];
  let from = 0;
  let ordinal = 0;
  while (from <= value.length) {
    const comma = value.indexOf(',', from);
    const to = comma < 0 ? value.length : comma;
    let start = from;
    let end = to;
    while (start < end && isSpace(value.charAt(start))) start += 1;
    while (end > start && isSpace(value.charAt(end - 1))) end -= 1;
    from = to + 1;
    if (start === end) continue;
    ordinal += 1;

    const line = map.lineAt(start);
    const location: ConfigLocation = { file, line, section, option: 'replication_device' };
    const colon = value.indexOf(':', start);
    if (colon < 0 || colon >= end) {
      errors.push(
        new ConfigError(location, `pair ${ordinal}: Value should be NAME:VALUE pairs separated by ","`, 'write each pair as key:value and separate pairs with commas'),
      );
      continue;
    }
    const key = value.slice(start, colon).trim();
    if (key === '') {
      errors.push(new ConfigError(location, `pair ${ordinal} has no key before ':'`, 'write each pair as key:value and separate pairs with commas'));
      continue;
    }
    let valueStart = colon + 1;
    while (valueStart < end && isSpace(value.charAt(valueStart))) valueStart += 1;
    const text = value.slice(valueStart, end);
    const pair: ReplicationPair = { key, value: text, line, breaks: [] };
    for (let lineBreak = text.indexOf('\n'); lineBreak >= 0; lineBreak = text.indexOf('\n', lineBreak + 1)) {
      const at = valueStart + lineBreak;
      const intoText = text.slice(lineBreak + 1).split('\n')[0] ?? '';
      pair.breaks.push({ fromLine: map.lineAt(at), intoLine: map.lineAt(at + 1), intoText });
    }
    if (pair.breaks.length === 0) {
      const offset = map.offsetAt(valueStart);
      pair.span = { start: offset, end: offset + text.length };
    }
    pairs.push(pair);
  }
  return { pairs, errors };
}

/** Names the key a glued-on line starts with, when it is a known option (never a value). */
function gluedKey(intoText: string): string | undefined {
  const key = /^([A-Za-z0-9_]+)\s*:/.exec(intoText)?.[1];
  return key !== undefined && ((ReplicationKeys as readonly string[]).includes(key) || KnownOptions.has(key)) ? key : undefined;
}

function glueHint(glued: LineBreak): string {
  const key = gluedKey(glued.intoText);
  const into = key === undefined ? `line ${glued.intoLine}` : `line ${glued.intoLine} (\`${key}:...\`)`;
  return `the value runs on into ${into}; a comma is probably missing at the end of line ${glued.fromLine}`;
}

function glueFix(glued: LineBreak): string {
  return `end line ${glued.fromLine} with a comma: pairs in replication_device are separated by commas`;
}

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

/** Reads and checks one `replication_device` entry of backend `section`. */
export function parseReplicationDevice(entry: IniEntry, section: string, file: string, source: ReplicationSource): ReplicationResult {
  const split = splitPairs(entry, file, section);
  const errors = split.errors;
  const warnings: ConfigWarning[] = [];
  const byKey = new Map<string, ReplicationPair>();
  const pairs: Record<string, string> = {};

  const at = (key: string, line: number = entry.line): ConfigLocation => ({ file, line, section, option: `replication_device.${key}` });
  const fail = (pair: ReplicationPair, problem: string, fix: string): void => {
    errors.push(new ConfigError(at(pair.key, pair.line), problem, fix));
  };
  /** Parses a pair's value; each zod issue becomes one error at the pair's line. */
  const check = <T>(pair: ReplicationPair, schema: z.ZodType<T, string>, fix: string): T | undefined => {
    const checked = parseValueAll(schema, pair.value);
    if (checked.ok) return checked.value;
    for (const problem of checked.problems) fail(pair, problem, fix);
    return undefined;
  };

  for (const pair of split.pairs) {
    const earlier = byKey.get(pair.key);
    if (earlier !== undefined) {
      fail(pair, `Duplicate key (first set on line ${earlier.line})`, 'keep only one of the two pairs');
      continue;
    }
    byKey.set(pair.key, pair);
    pairs[pair.key] = pair.value;
    if (!(ReplicationKeys as readonly string[]).includes(pair.key)) {
      const suggestion = closestName(pair.key, ReplicationKeys);
      warnings.push({
        line: pair.line,
        section,
        option: `replication_device.${pair.key}`,
        message: `unknown key '${pair.key}' in replication_device is ignored${suggestion === undefined ? '' : `; did you mean '${suggestion}'?`}`,
      });
    }
  }

  /** The usable value of a known key, or undefined (absent, or an error was reported). */
  const usable = (key: string): ReplicationPair | undefined => {
    const pair = byKey.get(key);
    if (pair === undefined) return undefined;
    if (pair.value === '') {
      fail(pair, 'is empty', `write a value after '${key}:' or remove the pair`);
      return undefined;
    }
    // A list may go on over several lines; any other value with a line break lost a comma.
    const glued = MultiLineKeys.has(key) ? pair.breaks.find((b) => gluedKey(b.intoText) !== undefined) : pair.breaks[0];
    if (glued !== undefined) {
      if (key === 'replication_mode') {
        const first = pair.value.split('\n')[0] ?? '';
        fail(pair, `Unknown replication mode '${shown(first)}...' specified. Valid values are 'synchronous | asynchronous | streaming'; ${glueHint(glued)}`, glueFix(glued));
      } else {
        fail(pair, glueHint(glued), glueFix(glued));
      }
      return undefined;
    }
    return pair;
  };

  // A key glued into the value before it is reported there, not again as missing.
  const swallowed = new Set(split.pairs.flatMap((p) => p.breaks.map((b) => gluedKey(b.intoText))));
  const required = (key: (typeof Mandatory)[number] | 'hpe3par_iscsi_ips', why = ''): ReplicationPair | undefined => {
    if (!byKey.has(key)) {
      if (swallowed.has(key)) return undefined;
      errors.push(
        new ConfigError(at(key), `is missing${why}`, `add \`${key}:${Placeholders[key] ?? '<value>'}\` to replication_device in [${section}]`),
      );
      return undefined;
    }
    return usable(key);
  };

  const backendId = required('backend_id');
  const modePair = required('replication_mode');
  let mode: ReplicationMode | undefined;
  if (modePair !== undefined) {
    if ((ReplicationModes as readonly string[]).includes(modePair.value)) {
      mode = modePair.value as ReplicationMode;
    } else {
      fail(
        modePair,
        `Unknown replication mode '${shown(modePair.value)}' specified. Valid values are 'synchronous | asynchronous | streaming'`,
        'write replication_mode:synchronous, replication_mode:asynchronous or replication_mode:streaming',
      );
    }
  }

  const quorum = usable('quorum_witness_ip');
  if (quorum !== undefined) {
    if (isIP(quorum.value) === 0) {
      fail(quorum, `'${shown(quorum.value)}' is not an IP address`, 'write the IP address of the Peer Persistence quorum witness');
    } else if (mode !== undefined && mode !== 'synchronous' && modePair !== undefined) {
      fail(modePair, 'For Peer Persistence, replication mode must be synchronous', 'write replication_mode:synchronous, or remove quorum_witness_ip');
    }
  }

  let syncPeriod: number | undefined;
  const syncPair = usable('sync_period');
  if (syncPair !== undefined && mode === 'synchronous') {
    fail(
      syncPair,
      "'sync_period' can be defined only for 'asynchronous' and 'streaming' replicate modes",
      'remove sync_period, or use an asynchronous or streaming mode',
    );
  } else if (syncPair !== undefined) {
    const seconds = /^\d+$/.test(syncPair.value) ? Number(syncPair.value) : Number.NaN;
    if (!(seconds >= SyncPeriodRange.min && seconds <= SyncPeriodRange.max)) {
      fail(syncPair, `'sync_period' must be between ${SyncPeriodRange.min} and ${SyncPeriodRange.max} seconds.`, 'write a whole number of seconds in that range, e.g. sync_period:900');
    } else {
      syncPeriod = seconds;
    }
  } else if (mode === 'asynchronous' || mode === 'streaming') {
    syncPeriod = DefaultSyncPeriod;
  }

  const mapOf = (pair: ReplicationPair | undefined): { source: string; target: string }[] | undefined => {
    if (pair === undefined) return undefined;
    const parsed = parseCpgMap(pair.value);
    if (parsed.bad !== undefined) {
      fail(pair, `entry '${shown(parsed.bad)}' is not source:target`, `write ${pair.key} as <source CPG>:<target CPG>, several separated by spaces`);
      return undefined;
    }
    return parsed.map;
  };
  const cpgMap = mapOf(required('cpg_map'));
  const snapCpgMap = byKey.has('snap_cpg_map') ? mapOf(usable('snap_cpg_map')) : cpgMap?.map((m) => ({ ...m }));

  const urlPair = required('hpe3par_api_url');
  const apiUrl = urlPair === undefined ? undefined : check(urlPair, httpUrlValue, ApiUrlFix);

  const plain = (key: string, inherited: string | undefined): string | undefined =>
    byKey.has(key) ? usable(key)?.value : inherited;
  const username = plain('hpe3par_username', source.username);
  const sanIp = plain('san_ip', source.sanIp);
  const sanLogin = plain('san_login', source.sanLogin);

  const secret = (
    key: 'hpe3par_password' | 'san_password',
    inherited: SecretValue | undefined,
  ): SecretValue | undefined => {
    const option = `replication_device.${key}` as const;
    if (!byKey.has(key)) {
      return inherited === undefined ? undefined : { option, raw: inherited.raw, line: inherited.line, inheritedFrom: key };
    }
    const pair = usable(key);
    if (pair === undefined || pair.span === undefined) return undefined;
    return { option, raw: pair.value, line: pair.line, span: pair.span };
  };
  const password = secret('hpe3par_password', source.password);
  const sanPassword = secret('san_password', source.sanPassword);

  let iscsiIps: ReplicationDevice['iscsiIps'] | undefined = [];
  const ipsPair = source.driver === 'iscsi' ? required('hpe3par_iscsi_ips', ' (required for the iSCSI driver)') : usable('hpe3par_iscsi_ips');
  if (ipsPair !== undefined) {
    iscsiIps = check(ipsPair, iscsiTargetsValue(';'), iscsiTargetsFix(';'));
  } else if (source.driver === 'iscsi') {
    iscsiIps = undefined;
  }

  if (
    errors.length > 0 ||
    backendId === undefined ||
    mode === undefined ||
    cpgMap === undefined ||
    snapCpgMap === undefined ||
    apiUrl === undefined ||
    username === undefined ||
    sanIp === undefined ||
    sanLogin === undefined ||
    password === undefined ||
    sanPassword === undefined ||
    iscsiIps === undefined
  ) {
    return { errors, warnings };
  }
  const device: ReplicationDevice = {
    line: entry.line,
    backendId: backendId.value,
    mode,
    cpgMap,
    snapCpgMap,
    apiUrl,
    username,
    sanIp,
    sanLogin,
    password,
    sanPassword,
    iscsiIps,
    pairs,
  };
  if (quorum !== undefined) device.quorumWitnessIp = quorum.value;
  if (syncPeriod !== undefined) device.syncPeriod = syncPeriod;
  return { device, errors, warnings };
}
