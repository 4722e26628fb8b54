import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** Field names whose values are never written, wherever they sit in a log object. */
const redactedFields = ['password', 'passphrase', 'key', 'secret', 'hpe3par_password', 'san_password', 'san_private_key'];
const redactPaths = redactedFields.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]);

/**
 * Secret values known at run time (decrypted passwords, passphrases). Field redaction cannot catch a
 * secret that ended up inside a message string or an error text from a library, so every line is also
 * scanned for these values before it is written.
 */
const knownSecrets = new Set<string>();

/** Mask this value in every log line from now on. Values shorter than 4 characters would mask ordinary text. */
export function registerSecret(value: string): void {
  if (value.length >= 4) knownSecrets.add(value);
}

export function maskSecrets(line: string): string {
  let out = line;
  for (const secret of knownSecrets) {
    if (out.includes(secret)) out = out.split(secret).join('[REDACTED]');
    const escaped = JSON.stringify(secret).slice(1, -1);
    if (escaped !== secret && out.includes(escaped)) out = out.split(escaped).join('[REDACTED]');
  }
  return out;
}

const pinoLevels = { DEBUG: 'debug', INFO: 'info', WARNING: 'warn', ERROR: 'error' } as const;

/** The one logger: JSON lines on stderr, upstream's level names (DEBUG, INFO, WARNING, ERROR). */
export function createLogger(level: keyof typeof pinoLevels = 'WARNING', destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino(
    {
      level: pinoLevels[level],
      base: undefined,
      redact: { paths: redactPaths, censor: '[REDACTED]' },
      hooks: { streamWrite: maskSecrets },
    },
    destination,
  );
}
