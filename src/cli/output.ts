import { HpeError, UsageError } from '../errors.js';
import { maskKnownSecrets } from '../log.js';

export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

export const processIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${maskKnownSecrets(line)}\n`),
};

export const ExitCodes = { ok: 0, failed: 1, usage: 2 } as const;

/** Prints an error as `ERROR: ...` and `Fix: ...`; returns the exit code it deserves. */
export function reportError(io: Io, err: unknown): number {
  if (err instanceof HpeError) {
    io.err(`ERROR: ${err.message}`);
    io.err(`Fix: ${err.fix}`);
    return err instanceof UsageError ? ExitCodes.usage : ExitCodes.failed;
  }
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || e?.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' || e?.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    io.err(`ERROR: ${e.message}`);
    io.err('Fix: see --help');
    return ExitCodes.usage;
  }
  io.err(`ERROR: unexpected failure: ${e?.message ?? String(err)}`);
  io.err('Fix: report this as a bug of hpedockerplugin, with the command you ran');
  return ExitCodes.failed;
}
