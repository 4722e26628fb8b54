/**
 * The typed errors every module throws. Each carries the fix the user should apply, so the CLIs
 * and the start-up gate can print `what went wrong` and `what to do` without guessing.
 * No error message may contain a secret value: callers pass option names, never values.
 */
export class HpeError extends Error {
  /** What the user should do about it, one sentence. */
  readonly fix: string;
  /** True when the same call may succeed later without any change by the user (etcd still starting). */
  readonly retryable: boolean;

  constructor(message: string, fix: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.fix = fix;
    this.retryable = options.retryable ?? false;
  }

  /** `message. Fix: fix` — the one-line form the CLIs print. */
  describe(): string {
    return `${this.message}. Fix: ${this.fix}`;
  }
}

/** Where in hpe.conf a problem sits. `option` may be `replication_device.san_password`. */
export interface ConfigLocation {
  file: string;
  line?: number;
  section?: string;
  option?: string;
}

function formatLocation(loc: ConfigLocation): string {
  const where = loc.line === undefined ? loc.file : `${loc.file}:${loc.line}`;
  if (loc.section === undefined) return where;
  const place = loc.option === undefined ? `[${loc.section}]` : `[${loc.section}].${loc.option}`;
  return `${where}: ${place}`;
}

/** One problem in hpe.conf, located to file, line, `[section].option`. */
export class ConfigError extends HpeError {
  readonly location: ConfigLocation;
  /** Human-readable problem without the location, e.g. `is missing`. */
  readonly problem: string;

  constructor(location: ConfigLocation, problem: string, fix: string) {
    super(`${formatLocation(location)}: ${problem}`, fix);
    this.location = location;
    this.problem = problem;
  }
}

/** Several config problems reported at once (a file is checked whole, not up to its first error). */
export class ConfigErrors extends HpeError {
  readonly errors: readonly ConfigError[];

  constructor(file: string, errors: readonly ConfigError[]) {
    super(
      `${file} has ${errors.length} error${errors.length === 1 ? '' : 's'}:\n` +
        errors.map((e) => `  ${e.describe()}`).join('\n'),
      `correct ${file} as each line above says, then run \`hpedockerplugin check\``,
    );
    this.errors = errors;
  }
}

/** A secret that cannot be decrypted, resolved or written. Never carries the secret itself. */
export class SecretError extends HpeError {
  readonly location: ConfigLocation | undefined;

  constructor(message: string, fix: string, location?: ConfigLocation, options: { cause?: unknown } = {}) {
    super(location === undefined ? message : `${formatLocation(location)}: ${message}`, fix, options);
    this.location = location;
  }
}

/** etcd could not be reached or refused a request; names the endpoint and the reason. */
export class EtcdError extends HpeError {
  readonly endpoint: string;
  readonly reason: EtcdFailureReason;

  constructor(endpoint: string, reason: EtcdFailureReason, detail: string, fix: string, options: { cause?: unknown } = {}) {
    super(`etcd ${endpoint}: ${reason}: ${detail}`, fix, {
      retryable: reason === 'refused' || reason === 'timeout' || reason === 'unavailable',
      cause: options.cause,
    });
    this.endpoint = endpoint;
    this.reason = reason;
  }
}

export const EtcdFailureReasons = ['refused', 'timeout', 'tls', 'auth', 'permission', 'unavailable', 'conflict'] as const;
export type EtcdFailureReason = (typeof EtcdFailureReasons)[number];

/** A prerequisite of a command or of the plugin's start is not met. */
export class PrerequisiteError extends HpeError {
  readonly check: string;

  constructor(check: string, message: string, fix: string, options: { cause?: unknown } = {}) {
    super(message, fix, options);
    this.check = check;
  }
}

/** Wrong command-line use. */
export class UsageError extends HpeError {}

/** A file could not be written (src/files.ts); says whether the old content is still there. */
export class FileWriteError extends HpeError {
  readonly path: string;
  /** The errno code (`EACCES`, `ENOSPC`, ...). */
  readonly code: string;

  constructor(path: string, code: string, message: string, fix: string, options: { cause?: unknown } = {}) {
    super(message, fix, options);
    this.path = path;
    this.code = code;
  }
}
