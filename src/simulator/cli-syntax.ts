/**
 * The simulator's CLI syntax, pure: a command line into words (double quotes group words, as in the array's Tcl
 * shell; no escapes), the `createsv` task a schedule runs, and the expansion of its snapshot name pattern.
 */

/** Words of one line; undefined when a quote is left open. */
export function splitWords(line: string): string[] | undefined {
  const words: string[] = [];
  let word: string | undefined;
  let quoted = false;
  for (const c of line) {
    if (quoted) {
      if (c === '"') quoted = false;
      else word += c;
    } else if (c === '"') {
      quoted = true;
      word ??= '';
    } else if (c === ' ' || c === '\t' || c === '\r') {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (quoted) return undefined;
  if (word !== undefined) words.push(word);
  return words;
}

/** A `createsv` command as a schedule keeps it. */
export interface CreatesvTask {
  /** The name pattern, e.g. `snp.@y@@m@@d@@H@@M@@S@`. */
  namePattern: string;
  parent: string;
  expirationHours?: number;
  retentionHours?: number;
  readOnly: boolean;
}

/** `<n>h` or `<n>d` (days) into hours; `<n>` alone is hours. */
function hoursOf(text: string | undefined): number | undefined {
  const m = /^(\d{1,6})([hd]?)$/i.exec(text ?? '');
  if (m === null) return undefined;
  const n = Number(m[1]) * (m[2]?.toLowerCase() === 'd' ? 24 : 1);
  return n > 0 ? n : undefined;
}

/** `createsv [-f] [-ro] [-exp <time>] [-retain <time>] <name> <parent>`; a string is the array's error text. */
export function parseCreatesv(task: string): CreatesvTask | string {
  const words = splitWords(task);
  if (words === undefined || words[0] !== 'createsv') return `Error: a snapshot schedule runs createsv only, not '${(words?.[0] ?? task).slice(0, 40)}'`;
  const out: Partial<CreatesvTask> & { readOnly: boolean } = { readOnly: false };
  let i = 1;
  for (; i < words.length && words[i]!.startsWith('-'); i++) {
    const option = words[i]!;
    if (option === '-f') continue;
    if (option === '-ro') {
      out.readOnly = true;
      continue;
    }
    if (option === '-exp' || option === '-retain') {
      const hours = hoursOf(words[++i]);
      if (hours === undefined) return `Invalid ${option} time '${words[i] ?? ''}': use <n>h or <n>d`;
      if (option === '-exp') out.expirationHours = hours;
      else out.retentionHours = hours;
      continue;
    }
    return `Invalid option ${option} for createsv`;
  }
  const [namePattern, parent, extra] = words.slice(i);
  if (namePattern === undefined || parent === undefined || extra !== undefined) return 'Error: createsv needs <svname> <copy_of_vv>';
  if (out.expirationHours !== undefined && out.retentionHours !== undefined && out.retentionHours > out.expirationHours) {
    return 'Error: the expiration time must be greater than the retention time';
  }
  return { ...out, namePattern, parent };
}

const two = (n: number): string => String(n).padStart(2, '0');

/**
 * 3PAR's createsv name keywords at `time` (UTC in the simulator): `@y@` two-digit year, `@m@` month, `@d@` day,
 * `@H@` hour (24 h), `@M@` minute, `@S@` second, each two digits. Other text stays as written.
 */
export function expandSnapshotName(pattern: string, time: number): string {
  const d = new Date(time);
  const values: Record<string, string> = {
    y: two(d.getUTCFullYear() % 100),
    m: two(d.getUTCMonth() + 1),
    d: two(d.getUTCDate()),
    H: two(d.getUTCHours()),
    M: two(d.getUTCMinutes()),
    S: two(d.getUTCSeconds()),
  };
  return pattern.replace(/@([ymdHMS])@/g, (_, k: string) => values[k]!);
}
