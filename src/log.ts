import { pino, type Logger } from 'pino';
import { maskSecrets, MIN_MASKED_LENGTH } from './mask.js';

export type { Logger } from 'pino';

/** Field names whose values are never written, wherever they sit in a log object. */
const redactedFields = ['password', 'passphrase', 'key', 'secret', 'hpe3par_password', 'san_password', 'san_private_key', 'san_private_key_passphrase'];
const redactPaths = redactedFields.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]);

/**
 * Secret values known at run time (decrypted passwords, passphrases). Field redaction cannot catch a
 * secret that ended up inside a message string or an error text from a library, so every line is also
 * scanned for these values before it is written.
 */
const knownSecrets = new Set<string>();

/** Mask this value in every log line from now on. Values shorter than 4 characters would mask ordinary text. */
export function registerSecret(value: string): void {
  if (value.length >= MIN_MASKED_LENGTH) knownSecrets.add(value);
}

/** A line (log, CLI output) with every registered secret masked. */
export function maskKnownSecrets(line: string): string {
  return maskSecrets(line, knownSecrets);
}

const pinoLevels = { DEBUG: 'debug', INFO: 'info', WARNING: 'warn', ERROR: 'error' } as const;

/**
 * Where lines go by level. dockerd logs a managed plugin's stdout at level=info and its stderr at
 * level=error (moby daemon/pkg/plugin/manager.go, makeLoggerStreams), so DEBUG and INFO lines go to
 * `out` and WARNING and ERROR lines to `err`: that is the closest its log gets to our levels.
 */
export interface LogStreams {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

const standardStreams: LogStreams = { out: process.stdout, err: process.stderr };

/** The one logger: JSON lines, upstream's level names (DEBUG, INFO, WARNING, ERROR); one stream takes every level. */
export function createLogger(level: keyof typeof pinoLevels = 'WARNING', destination: NodeJS.WritableStream | LogStreams = standardStreams): Logger {
  const streams = 'out' in destination && 'err' in destination
    ? pino.multistream(
        [
          { level: 'debug', stream: destination.out },
          { level: 'warn', stream: destination.err },
        ],
        { dedupe: true },
      )
    : destination;
  return pino(
    {
      level: pinoLevels[level],
      base: undefined,
      redact: { paths: redactPaths, censor: '[REDACTED]' },
      hooks: { streamWrite: maskKnownSecrets },
    },
    streams,
  );
}
