/**
 * The simulator's CLI: the subset of the array's SSH commands the plugin uses, with the array's kind of output.
 * `setclienv csvtable 1` switches tables to CSV for the rest of the exec (upstream sends it before each command);
 * `createsched`, `removesched`, `showsched` manage snapshot schedules. Anything else is an invalid command.
 */
import { NoScheduleText } from '../array/index.js';
import { splitWords } from './cli-syntax.js';
import type { Schedules, SimSchedule } from './schedules.js';

export interface CliSession {
  user: string;
  csv: boolean;
}

export interface CliResult {
  output: string;
  /** 0 when every line succeeded. */
  code: number;
}

const columns = ['SchedName', 'File/Command', 'Min', 'Hour', 'DOM', 'Month', 'DOW', 'CreatedBy', 'Status', 'Alert', 'NextRunTime'];

function csvField(text: string): string {
  return /[",]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function utcText(ms: number | undefined): string {
  return ms === undefined ? '-' : `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

function showschedTable(schedules: Schedules, list: SimSchedule[], csv: boolean): string {
  const rows = list.map((s) => [s.name, s.command, ...s.when.split(' '), s.createdBy, 'active', 'Y', utcText(schedules.nextRun(s))]);
  if (csv) return [columns, ...rows].map((r) => r.map(csvField).join(',')).join('\n') + `\n${'-'.repeat(40)}\n${rows.length}\n`;
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((f, i) => f.padEnd(widths[i]!)).join(' ').trimEnd();
  const rule = '-'.repeat(widths.reduce((a, w) => a + w + 1, -1));
  return [line(columns), ...rows.map(line), rule, String(rows.length)].join('\n') + '\n';
}

function runOne(words: string[], session: CliSession, schedules: Schedules): CliResult {
  const [command, ...args] = words;
  const flags = args.filter((a) => a.startsWith('-'));
  const operands = args.filter((a) => !a.startsWith('-'));
  switch (command) {
    case 'setclienv': {
      if (args[0] === 'csvtable' && (args[1] === '0' || args[1] === '1')) {
        session.csv = args[1] === '1';
        return { output: '', code: 0 };
      }
      return { output: `Invalid setclienv parameter ${args.join(' ')}\n`, code: 1 };
    }
    case 'createsched': {
      if (operands.length !== 3) return { output: 'Error: createsched needs "<cmd>" <taskschedule> <schedname>\n', code: 1 };
      const [task, frequency, name] = operands as [string, string, string];
      const error = schedules.create(name, task, frequency, session.user);
      return error === undefined ? { output: '', code: 0 } : { output: `${error}\n`, code: 1 };
    }
    case 'removesched': {
      const [name] = operands;
      if (name === undefined || operands.length !== 1) return { output: 'Error: removesched needs <schedname>\n', code: 1 };
      if (!flags.includes('-f')) return { output: 'Error: removesched asks for confirmation; use -f on a non-interactive session\n', code: 1 };
      return schedules.remove(name) ? { output: '', code: 0 } : { output: `Error: Schedule ${name} does not exist\n`, code: 1 };
    }
    case 'showsched': {
      const list = operands.length === 0 ? schedules.all() : schedules.all().filter((s) => operands.includes(s.name));
      if (list.length === 0) return { output: `${NoScheduleText}\n`, code: 0 };
      return { output: showschedTable(schedules, list, session.csv), code: 0 };
    }
    default:
      return { output: `Invalid command name "${(command ?? '').slice(0, 40)}" (the simulator's CLI knows setclienv, createsched, removesched, showsched)\n`, code: 1 };
  }
}

/** Runs one exec's text, one command per line, as the array's shell reads typed lines. */
export function runCli(text: string, session: CliSession, schedules: Schedules): CliResult {
  let output = '';
  let code = 0;
  for (const line of text.split('\n')) {
    const words = splitWords(line);
    if (words === undefined) {
      output += 'Error: unbalanced quotes\n';
      code = 1;
      continue;
    }
    if (words.length === 0) continue;
    const result = runOne(words, session, schedules);
    output += result.output;
    if (result.code !== 0) code = result.code;
  }
  return { output, code };
}
