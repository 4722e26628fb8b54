/** Entry points: check hpe.conf text (pure) or read it from disk. */
import { readFile } from 'node:fs/promises';
import { ConfigError, ConfigErrors } from '../errors.js';
import { parseIni } from './dialect.js';
import type { ConfigWarning, HpeConfig } from './types.js';
import { validateConfig } from './validate.js';

export const DefaultConfigPath = '/etc/hpedockerplugin/hpe.conf';
export const ConfigPathEnv = 'HPEDOCKERPLUGIN_CONFIG';

/** `--config` when given, else $HPEDOCKERPLUGIN_CONFIG, else the upstream path. Empty strings count as unset. */
export function resolveConfigPath(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  if (flag !== undefined && flag !== '') return flag;
  const fromEnv = env[ConfigPathEnv];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return DefaultConfigPath;
}

/** Everything found in a file: the config only when there is no error. */
export interface ConfigCheck {
  config?: HpeConfig;
  /** Ordered by line; problems of the whole file (no line) first. */
  errors: ConfigError[];
  /** Ordered by line; reported even when there are errors. */
  warnings: ConfigWarning[];
}

/** Checks the whole text of hpe.conf without throwing, e.g. for `hpedockerplugin check`. */
export function checkConfig(text: string, file: string): ConfigCheck {
  const doc = parseIni(text, file);
  const result = validateConfig(doc, file);
  const errors = [...doc.errors, ...result.errors]
    .map((error, index) => ({ error, index }))
    .sort((a, b) => (a.error.location.line ?? 0) - (b.error.location.line ?? 0) || a.index - b.index)
    .map(({ error }) => error);
  const warnings = [...result.warnings].sort((a, b) => a.line - b.line);
  if (errors.length > 0) return { errors, warnings };
  return { config: { file, text, host: result.host, backends: result.backends, warnings }, errors, warnings };
}

/** Reads and checks the whole text of hpe.conf; throws ConfigErrors holding every error of the file. */
export function parseConfig(text: string, file: string): HpeConfig {
  const { config, errors } = checkConfig(text, file);
  if (config === undefined) throw new ConfigErrors(file, errors);
  return config;
}

/** Reads `path` (UTF-8) and parses it; a file that cannot be read is one ConfigError saying why. */
export async function loadConfig(path: string): Promise<HpeConfig> {
  return parseConfig(await readConfigText(path), path);
}

/** The text of `path`, or a ConfigError for a missing, unreadable or non-file path. */
export async function readConfigText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw unreadable(path, error);
  }
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}

function unreadable(path: string, error: unknown): ConfigError {
  const code = errorCode(error);
  const location = { file: path };
  switch (code) {
    case 'ENOENT':
      return new ConfigError(
        location,
        'does not exist',
        `create it (a [DEFAULT] backend with hpedockerplugin_driver and the array options), or pass --config <path> or set ${ConfigPathEnv}`,
      );
    case 'EACCES':
    case 'EPERM':
      return new ConfigError(
        location,
        'cannot be read: permission denied',
        'run the command as root (the file holds passwords, so keep it readable by root only), or pass --config with a file you can read',
      );
    case 'EISDIR':
      return new ConfigError(location, 'is a directory, not a file', `pass --config with the path of the hpe.conf file itself, e.g. ${DefaultConfigPath}`);
    default:
      return new ConfigError(
        location,
        `cannot be read: ${code ?? (error instanceof Error ? error.message : String(error))}`,
        'check that the path names a readable regular file',
      );
  }
}
