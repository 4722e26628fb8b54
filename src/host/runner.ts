/**
 * The one way the host side runs a command: an argv array (execFile, never a shell), a bounded time after which
 * the process is killed, output captured, `LC_ALL=C` so the output parses the same everywhere. A failure is a
 * `CommandError` naming the command, exit code and stderr, with every secret given in `secrets` masked — the
 * iSCSI CHAP secret is an argument of iscsiadm. Tests inject an `Execute` that replays recorded outputs.
 */
import { maskSecrets } from '../mask.js';
import { execFile } from 'node:child_process';
import { registerSecret, type Logger } from '../log.js';
import { CommandError } from './errors.js';

export interface RunOptions {
  /** Exit codes other than 0 that are not failures (`iscsiadm --login` 15: already logged in). */
  okExitCodes?: readonly number[];
  /** Values masked (`[REDACTED]`) in the command line, errors and logs. */
  secrets?: readonly string[];
  /** Overrides the runner's default time-out. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** The fix a failure carries instead of the generic one. */
  fix?: string;
}

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface CommandRunner {
  /** Resolves when the exit code is 0 or in `okExitCodes`; otherwise rejects with a `CommandError`. */
  run(argv: readonly string[], options?: RunOptions): Promise<CommandResult>;
}

/** What a process did, as the injectable execution boundary reports it. */
export interface ExecOutcome {
  /** `null` when the process did not exit by itself. */
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** The executable was not found (ENOENT). */
  notFound: boolean;
  /** The caller's signal aborted it. */
  aborted: boolean;
}

export type Execute = (file: string, args: readonly string[], options: { timeoutMs: number; signal?: AbortSignal }) => Promise<ExecOutcome>;

const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

export const systemExecute: Execute = (file, args, { timeoutMs, signal }) =>
  new Promise((resolve) => {
    execFile(
      file,
      [...args],
      {
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: MAX_OUTPUT_BYTES,
        encoding: 'utf8',
        env: { ...process.env, LC_ALL: 'C' },
        signal,
      },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { killed?: boolean; code?: number | string }) | null;
        const aborted = e?.name === 'AbortError';
        resolve({
          exitCode: e === null ? 0 : typeof e.code === 'number' ? e.code : null,
          stdout,
          stderr,
          timedOut: e?.killed === true && !aborted,
          notFound: e?.code === 'ENOENT',
          aborted,
        });
      },
    );
  });

export interface CommandRunnerOptions {
  execute?: Execute;
  /** Default time-out per command; 60 s. */
  timeoutMs?: number;
  /** Debug line per command (masked argv, exit code, duration). */
  logger?: Logger;
}

export function createCommandRunner(options: CommandRunnerOptions = {}): CommandRunner {
  const execute = options.execute ?? systemExecute;
  const defaultTimeoutMs = options.timeoutMs ?? 60_000;
  return {
    async run(argv, runOptions = {}) {
      const [file, ...args] = argv;
      if (file === undefined) throw new TypeError('run: empty argv');
      const secrets = (runOptions.secrets ?? []).filter((s) => s !== '');
      for (const s of secrets) registerSecret(s);
      const mask = (text: string): string => maskSecrets(text, secrets);
      const command = formatArgv(argv.map(mask));
      const timeoutMs = runOptions.timeoutMs ?? defaultTimeoutMs;
      const started = Date.now();
      const out = await execute(file, args, { timeoutMs, signal: runOptions.signal });
      options.logger?.debug({ command, exitCode: out.exitCode, ms: Date.now() - started }, 'host command');
      if (out.exitCode !== null && (out.exitCode === 0 || runOptions.okExitCodes?.includes(out.exitCode) === true)) {
        return { exitCode: out.exitCode, stdout: out.stdout, stderr: out.stderr };
      }
      if (out.aborted) throw runOptions.signal?.reason ?? new Error(`${command}: aborted`);
      throw new CommandError(
        { command, exitCode: out.exitCode, stderr: mask(out.stderr.trim()), timedOut: out.timedOut, notFound: out.notFound },
        { fix: runOptions.fix, timeoutMs },
      );
    },
  };
}

/** The command line as a reader would type it: arguments with spaces or quotes are single-quoted. */
export function formatArgv(argv: readonly string[]): string {
  return argv.map((a) => (a !== '' && /^[\w@%+=:,./[\]-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');
}

