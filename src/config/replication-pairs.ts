/**
 * The syntax of `replication_device`: an oslo DictOpt of `key:value` pairs separated by `,`, possibly over
 * several indented lines. Key and value split at the first `:`, so values may hold `:` (URLs) but never `,`.
 * As upstream does, a missing comma glues the next line onto the previous value; the glue helpers say so.
 */
import { ConfigError, type ConfigLocation } from '../errors.js';
import type { IniEntry } from './dialect.js';
import { KnownOptions, ReplicationKeys } from './options.js';
import type { Span } from './types.js';

export interface ReplicationPair {
  key: string;
  value: string;
  /** Line where the pair's key is written. */
  line: number;
  /** Exact place of the trimmed value in the file; undefined when it spans a line break. */
  span?: Span;
  /** Each line break inside the value: the line it ends and the line it runs into, with that line's text. */
  breaks: LineBreak[];
}

export interface LineBreak {
  fromLine: number;
  intoLine: number;
  intoText: string;
}

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

  /** Index of the piece holding joined position `at` (a `\n` belongs to the piece before it), by binary search. */
  pieceAt(at: number): number {
    let low = 0;
    let high = this.bases.length - 1;
    while (low < high) {
      const middle = Math.ceil((low + high) / 2);
      if ((this.bases[middle] ?? Infinity) <= at) low = middle;
      else high = middle - 1;
    }
    return low;
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
export function splitPairs(entry: IniEntry, file: string, section: string): { pairs: ReplicationPair[]; errors: ConfigError[] } {
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
    const colonInPair = value.slice(start, end).indexOf(':');
    const colon = colonInPair < 0 ? -1 : start + colonInPair;
    if (colon < 0) {
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
      const nextBreak = text.indexOf('\n', lineBreak + 1);
      const intoText = text.slice(lineBreak + 1, nextBreak < 0 ? text.length : nextBreak);
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
export function gluedKey(intoText: string): string | undefined {
  const key = /^([A-Za-z0-9_]+)\s*:/.exec(intoText)?.[1];
  return key !== undefined && ((ReplicationKeys as readonly string[]).includes(key) || KnownOptions.has(key)) ? key : undefined;
}

export function glueHint(glued: LineBreak): string {
  const key = gluedKey(glued.intoText);
  const into = key === undefined ? `line ${glued.intoLine}` : `line ${glued.intoLine} (\`${key}:...\`)`;
  return `the value runs on into ${into}; a comma is probably missing at the end of line ${glued.fromLine}`;
}

export function glueFix(glued: LineBreak): string {
  return `end line ${glued.fromLine} with a comma: pairs in replication_device are separated by commas`;
}
