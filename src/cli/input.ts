import { readFile } from 'node:fs/promises';
import type { ReadStream } from 'node:tty';
import { UsageError } from '../errors.js';
import { HiddenLineEditor, LineOutcomes } from './hidden-line.js';
import { registerSecret } from '../log.js';

/** Reads all of standard input once; several secrets given as `-` share it, one per line. */
export class StdinLines {
  private lines: string[] | undefined;

  /** Also the stream a hidden prompt reads, when it is a terminal. */
  constructor(readonly stream: NodeJS.ReadableStream = process.stdin) {}

  async next(what: string): Promise<string> {
    if (this.lines === undefined) {
      const chunks: Buffer[] = [];
      for await (const chunk of this.stream) chunks.push(Buffer.from(chunk as Buffer));
      this.lines = Buffer.concat(chunks).toString('utf8').split(/\r?\n/);
    }
    const line = this.lines.shift();
    if (line === undefined || line === '') {
      throw new UsageError(`no ${what} on standard input`, `send the ${what} on its own line to standard input, or see --help`);
    }
    return line;
  }
}

/** The content of a passphrase file, without its final newline. */
export async function readSecretFile(path: string, what: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new UsageError(`cannot read the ${what} file ${path}: ${code}`, `check the path and that this user may read it`);
  }
  const value = text.replace(/\r?\n$/, '');
  if (value === '') throw new UsageError(`the ${what} file ${path} is empty`, `write the ${what} into ${path}`);
  return value;
}

/** A terminal we can put in raw mode: only then can a prompt hide what is typed. */
function isTerminal(stream: NodeJS.ReadableStream): stream is ReadStream {
  const candidate = stream as Partial<ReadStream>;
  return candidate.isTTY === true && typeof candidate.setRawMode === 'function';
}

/** Asks on the terminal without echoing what is typed. */
async function promptHidden(question: string, input: ReadStream, output: NodeJS.WritableStream = process.stderr): Promise<string> {
  output.write(question);
  input.setRawMode(true);
  input.resume();
  input.setEncoding('utf8');
  const editor = new HiddenLineEditor();
  try {
    return await new Promise<string>((resolve, reject) => {
      const onData = (chunk: string) => {
        const outcome = editor.feed(chunk);
        if (outcome === LineOutcomes.typing) return;
        input.off('data', onData);
        output.write('\n');
        if (outcome === LineOutcomes.entered) resolve(editor.value);
        else reject(new UsageError('interrupted', 'run the command again'));
      };
      input.on('data', onData);
    });
  } finally {
    input.setRawMode(false);
    input.pause();
  }
}

export interface SecretSource {
  /** The value from the command line: `-` means standard input; undefined means not given. */
  argument?: string;
  /** `--passphrase-file`; `-` means standard input, as everywhere else. */
  file?: string;
  what: string;
  /** Ask twice when prompting (a new passphrase). */
  confirm?: boolean;
  /** Printed when the secret comes from the command line (default: only a passphrase warns). */
  argumentWarning?: string;
  /** The fix when no secret was given and there is no terminal to ask on. */
  missingFix?: string;
}

const passphraseArgumentWarning =
  'warning: a passphrase on the command line stays in shell history and shows in `ps`; prefer `-a - <password>` or --passphrase-file';

/**
 * A secret from, in order: the file, standard input (`-`), the command line, or a hidden prompt when a
 * terminal is attached. Nothing else: a missing secret on a non-terminal is a usage error. The value is registered
 * with the log masker before it is returned.
 */
export async function obtainSecret(source: SecretSource, stdin: StdinLines, warn: (line: string) => void): Promise<string> {
  const value = await readSecret(source, stdin, warn);
  registerSecret(value);
  return value;
}

async function readSecret(source: SecretSource, stdin: StdinLines, warn: (line: string) => void): Promise<string> {
  if (source.file === '-') return stdin.next(source.what);
  if (source.file !== undefined) return readSecretFile(source.file, source.what);
  if (source.argument === '-') return stdin.next(source.what);
  if (source.argument !== undefined) {
    if (source.argument === '') throw new UsageError(`the ${source.what} is empty`, `give a non-empty ${source.what}`);
    const warning = source.argumentWarning ?? (source.what === 'passphrase' ? passphraseArgumentWarning : undefined);
    if (warning !== undefined) warn(warning);
    return source.argument;
  }
  const terminal = stdin.stream;
  if (!isTerminal(terminal)) {
    throw new UsageError(
      `no ${source.what} given`,
      source.missingFix ?? `give it as \`-\` and send it on standard input${source.what === 'passphrase' ? ', or use --passphrase-file FILE' : ''}`,
    );
  }
  const label = source.what[0]!.toUpperCase() + source.what.slice(1);
  const first = await promptHidden(`${label}: `, terminal);
  if (first === '') throw new UsageError(`the ${source.what} is empty`, `type a non-empty ${source.what}`);
  if (source.confirm) {
    const again = await promptHidden(`Repeat ${source.what}: `, terminal);
    if (again !== first) throw new UsageError(`the two ${source.what}s differ`, 'run the command again');
  }
  return first;
}
