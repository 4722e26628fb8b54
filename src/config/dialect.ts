/**
 * A line-aware reader of the INI dialect upstream's oslo.config accepts (oslo_config/iniparser.py).
 *
 * Hand-written on purpose: the `ini` npm package turns continuation lines into bogus keys (an
 * indented `replication_mode:synchronous,` becomes the key `"replication_mode:synchronous,": true`)
 * and knows no line numbers or offsets, which located errors and in-place password edits need.
 *
 * The dialect, as oslo reads it:
 * - `[name]` starts a section. `key = value` / `key: value` splits at whichever of `=` / `:` comes
 *   first; key and value are trimmed; a value wholly wrapped in matching quotes loses them.
 * - A line starting with a space or tab continues the previous value (joined with `\n`); a blank
 *   line ends a value. There are no inline comments: `a = b # c` has the value `b # c`.
 * - A comment is a line starting with `#` or `;`. Unlike oslo, which would append an indented `#`
 *   line to the value being continued, we skip any line whose first non-blank character is `#` or
 *   `;`, so commented-out pairs inside a multi-line `replication_device` stay comments.
 * - A UTF-8 byte-order mark at the start of the file is skipped (oslo would reject the first line),
 *   and a section name is trimmed (`[ DEFAULT ]` is [DEFAULT]; oslo kept the spaces).
 *
 * Stricter than oslo: a repeated key or section is an error here (oslo silently merged sections
 * and kept the last value of a key, which hides a stale password).
 */
import { ConfigError } from '../errors.js';
import type { Span } from './types.js';

/** One line's part of a value: its trimmed text and where that text starts in the file. */
export interface ValuePiece {
  text: string;
  /** Absolute offset of `text` in the file: `fileText.slice(start, start + text.length) === text`. */
  start: number;
  line: number;
}

export interface IniEntry {
  key: string;
  /** The pieces joined with `\n`, as oslo hands the value to the option. */
  value: string;
  /** Line of the key. */
  line: number;
  /** The key line's value (inside its quotes, if quoted) followed by each continuation line. */
  pieces: ValuePiece[];
  /**
   * From the start of the first piece to the end of the last. For a one-line value
   * `fileText.slice(span.start, span.end) === value`; for a multi-line one it includes the line
   * breaks and indentation as written.
   */
  span: Span;
}

export interface IniSection {
  name: string;
  /** Line of the `[name]` header (of its first occurrence). */
  line: number;
  /** In file order; a key appears at most once (a repeat is reported and dropped). */
  entries: IniEntry[];
}

export interface IniDocument {
  sections: IniSection[];
  errors: ConfigError[];
}

interface RawLine {
  /** The line without its line break. */
  text: string;
  /** Offset of the line's first character in the file. */
  start: number;
  number: number;
}

/** Splits on `\n`, `\r\n` and `\r`, keeping each line's absolute offset. */
function splitLines(text: string): RawLine[] {
  const lines: RawLine[] = [];
  const lineBreak = /\r\n|\r|\n/g;
  let start = text.startsWith('\uFEFF') ? 1 : 0;
  let number = 1;
  for (let match = lineBreak.exec(text); match !== null; match = lineBreak.exec(text)) {
    if (match.index >= start) {
      lines.push({ text: text.slice(start, match.index), start, number });
    }
    start = match.index + match[0].length;
    number += 1;
  }
  if (start < text.length) lines.push({ text: text.slice(start), start, number });
  return lines;
}

/** C0 and C1 control characters and DEL, except tab (indentation); line breaks never reach a line. */
const ControlCharacter = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/;
const ControlCharacters = new RegExp(ControlCharacter.source, 'g');
const ControlNames: Readonly<Record<number, string>> = { 0: 'NUL', 8: 'backspace', 0x0b: 'vertical tab', 0x0c: 'form feed', 0x1b: 'escape', 0x7f: 'DEL' };

/** Offset of the first non-whitespace character of `s` at or after `from`. */
function skipWhitespace(s: string, from: number): number {
  let i = from;
  while (i < s.length && /\s/.test(s.charAt(i))) i += 1;
  return i;
}

function isQuoted(value: string): boolean {
  const first = value.charAt(0);
  return value.length >= 2 && (first === '"' || first === "'") && value.endsWith(first);
}

/** Reading one file line by line: the sections so far and where the last line left off. */
class IniReader {
  readonly sections: IniSection[] = [];
  readonly errors: ConfigError[] = [];
  private readonly byName = new Map<string, IniSection>();
  /** Each section's entries by key, so a repeat is found in constant time however many keys a section has. */
  private readonly keysOf = new Map<IniSection, Map<string, IniEntry>>();
  private section: IniSection | undefined;
  /** After an unreadable header, its options are dropped rather than each reported again. */
  private inBrokenSection = false;
  /** The entry whose value indented lines continue; undefined after a blank line or a header. */
  private open: IniEntry | undefined;
  /** The entry a blank line just closed, to explain an indented line right after it. */
  private closedByBlank: IniEntry | undefined;

  constructor(private readonly file: string) {}

  read(raw: RawLine): void {
    const line = this.withoutControlCharacters(raw).trimEnd();
    if (line.trim() === '') {
      if (this.open !== undefined) this.closedByBlank = this.open;
      this.open = undefined;
      return;
    }
    const firstVisible = line.charAt(skipWhitespace(line, 0));
    if (firstVisible === '#' || firstVisible === ';') return;
    if (line.startsWith(' ') || line.startsWith('\t')) {
      this.continueValue(raw, line);
      return;
    }
    this.open = undefined;
    this.closedByBlank = undefined;
    if (line.startsWith('[')) this.startSection(line, raw.number);
    else this.readOption(raw, line);
  }

  /**
   * The line with each control character reported and replaced by U+FFFD, so it is still read (one
   * error, not a cascade) and no later message echoes a raw control character. A NUL inside a key
   * would otherwise turn `replication_device` into an unknown option that is only warned about.
   */
  private withoutControlCharacters(raw: RawLine): string {
    const found = ControlCharacter.exec(raw.text);
    if (found === null) return raw.text;
    const code = found[0].charCodeAt(0);
    const name = ControlNames[code] === undefined ? '' : ` (${ControlNames[code]})`;
    this.errors.push(
      new ConfigError(
        { file: this.file, line: raw.number, section: this.section?.name },
        `line holds the control character U+${code.toString(16).toUpperCase().padStart(4, '0')}${name} at column ${found.index + 1}`,
        'delete it and retype that part of the line: hpe.conf must be plain text (`cat -A` shows control characters, e.g. ^@ for NUL)',
      ),
    );
    return raw.text.replace(ControlCharacters, '\uFFFD');
  }

  /** An indented line: the next piece of the open value, or an error. */
  private continueValue(raw: RawLine, line: string): void {
    const at = skipWhitespace(line, 0);
    const open = this.open;
    if (open !== undefined) {
      const piece = { text: line.slice(at), start: raw.start + at, line: raw.number };
      open.pieces.push(piece);
      open.value += `\n${piece.text}`;
      open.span = { start: open.span.start, end: piece.start + piece.text.length };
    } else if (this.closedByBlank !== undefined) {
      this.errors.push(
        new ConfigError(
          { file: this.file, line: raw.number },
          `indented line follows a blank line, which ended the value of '${this.closedByBlank.key}' (line ${this.closedByBlank.line})`,
          'remove the blank line to continue that value, or remove the indentation to start a new option',
        ),
      );
    } else {
      this.errors.push(
        new ConfigError(
          { file: this.file, line: raw.number },
          'indented line continues no option',
          'remove the leading whitespace (an indented line continues the value of the option above it)',
        ),
      );
    }
  }

  /** A `[name]` line; a repeated name goes on with the earlier section. */
  private startSection(line: string, number: number): void {
    const name = this.sectionName(line, number);
    if (name === undefined) {
      this.section = undefined;
      this.inBrokenSection = true;
      return;
    }
    this.inBrokenSection = false;
    const earlier = this.byName.get(name);
    if (earlier !== undefined) {
      this.errors.push(
        new ConfigError(
          { file: this.file, line: number, section: name },
          `section is defined twice, at lines ${earlier.line} and ${number}`,
          'merge the two sections into one',
        ),
      );
      this.section = earlier;
      return;
    }
    this.section = { name, line: number, entries: [] };
    this.sections.push(this.section);
    this.byName.set(name, this.section);
  }

  /** The trimmed name of a header line, or undefined when it is unreadable (reported). */
  private sectionName(line: string, number: number): string | undefined {
    if (!line.endsWith(']')) {
      this.errors.push(
        new ConfigError({ file: this.file, line: number }, "section header has no closing ']'", 'write the header as [name] on a line of its own'),
      );
      return undefined;
    }
    const name = line.slice(1, -1).trim();
    if (name !== '') return name;
    this.errors.push(
      new ConfigError({ file: this.file, line: number }, 'section header has no name', 'write the backend name between the brackets, e.g. [DEFAULT]'),
    );
    return undefined;
  }

  /** A `key = value` line; the entry stays open for continuation lines even when it is dropped. */
  private readOption(raw: RawLine, line: string): void {
    const separator = this.keySeparator(line, raw.number);
    if (separator === undefined) return;
    const key = line.slice(0, separator).trim();
    let valueStart = skipWhitespace(line, separator + 1);
    let value = line.slice(valueStart);
    if (isQuoted(value)) {
      value = value.slice(1, -1);
      valueStart += 1;
    }
    const start = raw.start + valueStart;
    const entry: IniEntry = {
      key,
      value,
      line: raw.number,
      pieces: [{ text: value, start, line: raw.number }],
      span: { start, end: start + value.length },
    };
    this.addEntry(entry);
    this.open = entry;
  }

  /** Where the key ends (the first `=` or `:`), or undefined when the line has no usable key (reported). */
  private keySeparator(line: string, number: number): number | undefined {
    const equal = line.indexOf('=');
    const colon = line.indexOf(':');
    const separator = equal < 0 ? colon : colon < 0 ? equal : Math.min(equal, colon);
    const location = { file: this.file, line: number, section: this.section?.name };
    if (separator < 0) {
      // The line's text is not echoed: it may well be a password that lost its key.
      this.errors.push(
        new ConfigError(
          location,
          'line is not a [section] header, a `key = value` option or a comment',
          'write it as `key = value`, comment it out with #, or delete it',
        ),
      );
      return undefined;
    }
    if (line.slice(0, separator).trim() !== '') return separator;
    this.errors.push(
      new ConfigError(location, `option has no name before '${line.charAt(separator)}'`, 'write the option name before the separator, as in `key = value`'),
    );
    return undefined;
  }

  private addEntry(entry: IniEntry): void {
    if (this.inBrokenSection) return;
    const section = this.section;
    if (section === undefined) {
      this.errors.push(
        new ConfigError(
          { file: this.file, line: entry.line },
          `option '${entry.key}' comes before any [section] header`,
          'move it under [DEFAULT] or another backend section, or add a [DEFAULT] header above it',
        ),
      );
      return;
    }
    let keys = this.keysOf.get(section);
    if (keys === undefined) {
      keys = new Map();
      this.keysOf.set(section, keys);
    }
    const earlier = keys.get(entry.key);
    if (earlier !== undefined) {
      this.errors.push(
        new ConfigError(
          { file: this.file, line: entry.line, section: section.name, option: entry.key },
          `is set twice, at lines ${earlier.line} and ${entry.line}`,
          'keep only one of them (upstream silently used the last one)',
        ),
      );
      return;
    }
    section.entries.push(entry);
    keys.set(entry.key, entry);
  }
}

/** Reads `text` into sections and entries; every problem is collected, none is thrown. */
export function parseIni(text: string, file: string): IniDocument {
  const reader = new IniReader(file);
  for (const raw of splitLines(text)) reader.read(raw);
  return { sections: reader.sections, errors: reader.errors };
}
