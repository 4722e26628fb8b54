/**
 * ArrayCli over SSH: the command lines upstream sent (each preceded by `setclienv csvtable 1`, so tables come as
 * CSV), and what the array's answers mean. Pure line building and parsing first, then the client on SshSession.
 *
 * Arguments are never escaped: the CLI is a Tcl shell, where `"`, `\`, `$`, `[`, `]`, `{`, `}` and `;` act inside
 * quotes, so any argument holding one (or a space, or a control character, where a space does not belong) is refused.
 */
import type { Logger } from '../log.js';
import { ArrayCliError, ArrayCliFailures } from './array-cli-errors.js';
import type { ArrayCli, ScheduleSpec, SnapSchedule } from './array-cli.js';
import { SshSession, type SshAuth, type SshTimeouts } from './ssh-session.js';

/** Sent before every command, as upstream did: tables as CSV, one header row. */
export const CsvTableCommand = 'setclienv csvtable 1';

/** The createsv name pattern 3PAR expands at each run: `<prefix>.<yymmddHHMMSS>`. */
export const ScheduledSnapshotSuffix = '.@y@@m@@d@@H@@M@@S@';

const namePattern = /^[A-Za-z0-9_.-]+$/;
const cronField = /^[0-9*,/-]+$/;

function argumentError(array: string, command: string, what: string, value: string): ArrayCliError {
  return new ArrayCliError({
    array,
    command,
    failure: ArrayCliFailures.argument,
    message: `${what} '${value.replace(/[^\x20-\x7e]/g, '?')}' holds characters the array's CLI cannot take`,
    fix: `use letters, digits, '_', '.' and '-' for names, and five cron fields of digits, '*', ',', '-' and '/' for the frequency`,
  });
}

function checkName(array: string, command: string, what: string, value: string, max: number): void {
  if (!namePattern.test(value) || value.length > max) throw argumentError(array, command, what, value);
}

function checkHours(array: string, what: string, hours: number | undefined): void {
  if (hours !== undefined && !(Number.isInteger(hours) && hours > 0)) throw argumentError(array, 'createsched', what, String(hours));
}

/** `createsched "createsv -f [-exp <n>h ][-retain <n>h ]<prefix>.@y@@m@@d@@H@@M@@S@ <parent>" "<freq>" <name>`. */
export function createschedLine(spec: ScheduleSpec, array = 'array'): string {
  checkName(array, 'createsched', 'schedule name', spec.scheduleName, 31);
  checkName(array, 'createsched', 'snapshot prefix', spec.snapshotPrefix, 15);
  checkName(array, 'createsched', 'parent volume', spec.parentVolume, 31);
  checkHours(array, 'expiration hours', spec.expirationHours);
  checkHours(array, 'retention hours', spec.retentionHours);
  const fields = spec.frequency.split(' ');
  if (fields.length !== 5 || !fields.every((f) => cronField.test(f))) throw argumentError(array, 'createsched', 'frequency', spec.frequency);
  const exp = spec.expirationHours === undefined ? '' : `-exp ${spec.expirationHours}h `;
  const retain = spec.retentionHours === undefined ? '' : `-retain ${spec.retentionHours}h `;
  const task = `createsv -f ${exp}${retain}${spec.snapshotPrefix}${ScheduledSnapshotSuffix} ${spec.parentVolume}`;
  return `createsched "${task}" "${spec.frequency}" ${spec.scheduleName}`;
}

export function removeschedLine(name: string, array = 'array'): string {
  checkName(array, 'removesched', 'schedule name', name, 31);
  return `removesched -f ${name}`;
}

export function showschedLine(name: string, array = 'array'): string {
  checkName(array, 'showsched', 'schedule name', name, 31);
  return `showsched ${name}`;
}

/** What goes on the wire: the CSV switch, then the command, one per line as upstream typed them. */
export function withCsvTables(line: string): string {
  return `${CsvTableCommand}\n${line}`;
}

/** The first line upstream treated as a failure: one containing `error` or `invalid`, any case. */
export function errorLine(output: string): string | undefined {
  return output
    .split(/\r?\n/)
    .find((l) => /error|invalid/i.test(l))
    ?.trim();
}

/** One CSV row; fields may be double-quoted, with `""` for a quote. */
export function parseCsvRow(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ',') {
      fields.push(field);
      field = '';
    } else {
      field += c;
    }
  }
  fields.push(field);
  return fields.map((f) => f.trim());
}

/** The array's text when it has no schedule of that name (upstream looked for `No scheduled tasks `). */
export const NoScheduleText = 'No scheduled tasks listed';

/**
 * `showsched <name>` in CSV: a header row (`SchedName,File/Command,Min,Hour,DOM,Month,DOW,…`), one row per
 * schedule, then a dashed rule and a total. Undefined when the array lists none by that name.
 */
export function parseShowsched(output: string, name: string): SnapSchedule | undefined {
  const lines = output.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.some((l) => l.includes(NoScheduleText))) return undefined;
  const headerAt = lines.findIndex((l) => /^SchedName,/i.test(l.trim()));
  if (headerAt < 0) return undefined;
  const header = parseCsvRow(lines[headerAt]!).map((h) => h.toLowerCase());
  const column = (row: string[], title: string): string => row[header.indexOf(title)] ?? '';
  for (const line of lines.slice(headerAt + 1)) {
    if (/^-+$/.test(line.trim())) break;
    const row = parseCsvRow(line);
    if (column(row, 'schedname') !== name) continue;
    const when = ['min', 'hour', 'dom', 'month', 'dow'].map((t) => column(row, t)).join(' ');
    return { name, command: column(row, 'file/command'), when };
  }
  return undefined;
}

export interface ArrayCliOptions {
  /** How errors and logs name the array (the backend name, or `host:port`). */
  arrayLabel: string;
  /** `san_ip`. */
  host: string;
  /** `san_ssh_port`. */
  port: number;
  /** `san_login`. */
  user: string;
  /** `san_password`, or `san_private_key` (a path) with `san_private_key_passphrase` when the key is encrypted. */
  auth: SshAuth;
  /** `ssh_hosts_key_file`. */
  knownHostsFile: string;
  /** `strict_ssh_host_key_policy`: true refuses a host the file does not know; false remembers it on first connect. */
  strictHostKeyPolicy: boolean;
  timeouts?: Partial<SshTimeouts>;
  log?: Logger;
}

class SshArrayCli implements ArrayCli {
  readonly #label: string;
  readonly #session: SshSession;

  constructor(label: string, session: SshSession) {
    this.#label = label;
    this.#session = session;
  }

  async #run(command: string, line: string): Promise<string> {
    const out = await this.#session.run(withCsvTables(line), command);
    return `${out.stdout}\n${out.stderr}`;
  }

  #failed(command: string, verb: string, line: string, fix: string): ArrayCliError {
    return new ArrayCliError({
      array: this.#label,
      command,
      failure: ArrayCliFailures.command,
      message: `${verb} snapschedule failed Error is '${line}'`,
      fix,
      arrayText: line,
    });
  }

  async createSchedule(spec: ScheduleSpec): Promise<void> {
    const output = await this.#run('createsched', createschedLine(spec, this.#label));
    const line = errorLine(output) ?? output.split(/\r?\n/).find((l) => /schedule format is/i.test(l))?.trim();
    if (line !== undefined) {
      throw this.#failed('createsched', 'Create', line, 'correct what the array names (an existing schedule name, the parent volume, the frequency), or give the SSH user the edit role');
    }
  }

  async removeSchedule(name: string): Promise<boolean> {
    const output = await this.#run('removesched', removeschedLine(name, this.#label));
    const line = errorLine(output);
    if (line === undefined) return true;
    if (/does not exist|not found|no schedule/i.test(line)) return false;
    throw this.#failed('removesched', 'Delete', line, 'remove the schedule on the array (`removesched -f <name>`), or give the SSH user the edit role');
  }

  async getSchedule(name: string): Promise<SnapSchedule | undefined> {
    const output = await this.#run('showsched', showschedLine(name, this.#label));
    const line = errorLine(output);
    if (line !== undefined) throw this.#failed('showsched', 'Show', line, 'give the SSH user a role that may run showsched (browse or higher)');
    return parseShowsched(output, name);
  }

  close(): Promise<void> {
    return this.#session.close();
  }
}

/** The array's SSH CLI: one connection, opened on first use. */
export function createArrayCli(options: ArrayCliOptions): ArrayCli {
  const session = new SshSession({
    arrayLabel: options.arrayLabel,
    host: options.host,
    port: options.port,
    user: options.user,
    auth: options.auth,
    knownHostsFile: options.knownHostsFile,
    strictHostKeyPolicy: options.strictHostKeyPolicy,
    ...(options.timeouts === undefined ? {} : { timeouts: options.timeouts }),
    ...(options.log === undefined ? {} : { log: options.log }),
  });
  return new SshArrayCli(options.arrayLabel, session);
}
