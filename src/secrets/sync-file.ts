import { z } from 'zod';
import { SecretOptions, type SecretOption } from '../config/index.js';
import { SecretError } from '../errors.js';
import { secretNameProblem, SecretNameRule } from './format.js';

/*
 * The file `hpe3parencryptor secret sync --file` applies: which named secrets exist and which
 * `[backend].option`s of hpe.conf use each. It never holds a value. Errors are located by JSON path
 * (`secrets.array1.uses[2]`) and quote no string an admin may have typed a password into.
 */

export const SyncFileVersion = 1;

/** One `[backend].option` the file says uses a secret. */
export interface SecretUse {
  backend: string;
  option: SecretOption;
  /** `[backend].option`, as hpe.conf's errors name it. */
  text: string;
}

export interface SyncSecret {
  name: string;
  description?: string;
  uses: SecretUse[];
}

export interface SyncFile {
  path: string;
  /** In the file's order. */
  secrets: SyncSecret[];
}

const UsePattern = /^\[([^\][\r\n]+)\]\.(.+)$/;
const OptionList = SecretOptions.join(', ');
const UseFix = `write it as "[backend].option", option being one of ${OptionList}, e.g. "[DEFAULT].hpe3par_password"`;

// Messages written here: zod's defaults quote the values.
const secretSchema = z.strictObject(
  {
    description: z.string({ error: 'must be a string' }).optional(),
    uses: z.array(z.string({ error: 'must be a string' }), { error: 'must be a list of "[backend].option" strings' }),
  },
  { error: 'must be an object with "uses" (and optionally "description")' },
);

const fileSchema = z.strictObject(
  {
    version: z.literal(SyncFileVersion, { error: `must be ${SyncFileVersion}` }),
    secrets: z.record(z.string(), secretSchema, { error: 'must be an object whose keys are secret names' }),
  },
  { error: 'must be a JSON object with "version" and "secrets"' },
);

interface Issue {
  path: string;
  problem: string;
  fix: string;
}

/** A JSON path an admin can follow: `secrets.array1.uses[2]`; a secret name that is not valid is shown by position only. */
export function jsonPath(segments: readonly PropertyKey[], names: readonly string[] = []): string {
  let path = '';
  segments.forEach((segment, i) => {
    if (typeof segment === 'number') path += `[${segment}]`;
    else if (i === 1 && segments[0] === 'secrets' && typeof segment === 'string' && secretNameProblem(segment) !== undefined) {
      path += `[entry ${names.indexOf(segment) + 1}]`;
    } else {
      const key = String(segment);
      path += /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key) ? `${path === '' ? '' : '.'}${key}` : `[${JSON.stringify(key)}]`;
    }
  });
  return path === '' ? '(the whole file)' : path;
}

function fixFor(issue: z.core.$ZodIssue): string {
  const [first, , third] = issue.path;
  if (issue.code === 'unrecognized_keys') {
    if (issue.keys.includes('value') || issue.keys.includes('password')) {
      return 'remove it: values are never written in this file; sync takes them from hpe.conf or asks for them';
    }
    return first === 'secrets' ? 'remove it: a secret has "uses" and optionally "description"' : 'remove it: the file has "version" and "secrets"';
  }
  if (first === 'version') return `write "version": ${SyncFileVersion} (a newer version needs a newer hpe3parencryptor)`;
  if (third === 'uses') return UseFix;
  return 'see the example in the README, section "Sharing secrets across hosts"';
}

function valueAt(json: unknown, path: readonly PropertyKey[]): unknown {
  let at = json;
  for (const segment of path) at = typeof at === 'object' && at !== null ? (at as Record<PropertyKey, unknown>)[segment] : undefined;
  return at;
}

function problemOf(issue: z.core.$ZodIssue, json: unknown): string {
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? k : '(a key)'));
    return `has the unknown key${keys.length === 1 ? '' : 's'} ${keys.join(', ')}`;
  }
  if (issue.path.length > 0 && valueAt(json, issue.path) === undefined) return 'is missing';
  return issue.message;
}

function jsonProblem(err: unknown, text: string): string {
  // V8's message may quote the text around the fault; only the position is kept.
  const position = /position (\d+)/.exec(err instanceof Error ? err.message : '')?.[1];
  if (position === undefined) return 'is not valid JSON';
  const before = text.slice(0, Number(position));
  const line = before.split('\n').length;
  const column = Number(position) - before.lastIndexOf('\n');
  return `is not valid JSON (the fault is at line ${line}, column ${column})`;
}

function parseUse(text: string): SecretUse | { problem: string; fix: string } {
  const match = UsePattern.exec(text.trim());
  if (match === null) return { problem: 'is not of the form [backend].option', fix: UseFix };
  const backend = (match[1] as string).trim();
  const option = (match[2] as string).trim();
  if (!(SecretOptions as readonly string[]).includes(option)) {
    const shown = /^[A-Za-z0-9_.]{1,64}$/.test(option) ? `option ${option}` : 'an option';
    return { problem: `names ${shown}, which is not a password option`, fix: `use one of ${OptionList}` };
  }
  return { backend, option: option as SecretOption, text: `[${backend}].${option}` };
}

function filesErrors(path: string, issues: Issue[]): SecretError {
  const one = issues.length === 1 ? issues[0] : undefined;
  if (one !== undefined) return new SecretError(`${path}: ${one.path} ${one.problem}`, one.fix);
  return new SecretError(
    `${path} has ${issues.length} errors:\n${issues.map((i) => `  ${path}: ${i.path} ${i.problem}. Fix: ${i.fix}`).join('\n')}`,
    `correct ${path} as each line above says, then run the sync again`,
  );
}

/** Reads a sync file; every problem of the file at once, each located by JSON path. */
export function parseSyncFile(text: string, path: string): SyncFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SecretError(`${path} ${jsonProblem(err, text)}`, 'correct the JSON (e.g. a missing comma or quote), see the example in the README');
  }
  const version = typeof json === 'object' && json !== null ? (json as { version?: unknown }).version : undefined;
  if (typeof version === 'number' && Number.isInteger(version) && version > SyncFileVersion) {
    throw new SecretError(`${path}: version ${version} is newer than this hpe3parencryptor reads (${SyncFileVersion})`, 'upgrade hpe3parencryptor to the version that reads it');
  }
  const rawNames = typeof json === 'object' && json !== null && typeof (json as { secrets?: unknown }).secrets === 'object' ? Object.keys((json as { secrets: object }).secrets ?? {}) : [];
  const result = fileSchema.safeParse(json);
  const issues: Issue[] = result.success
    ? []
    : result.error.issues.map((issue) => ({ path: jsonPath(issue.path, rawNames), problem: problemOf(issue, json), fix: fixFor(issue) }));
  const secrets: SyncSecret[] = [];
  if (result.success) {
    const usedBy = new Map<string, string>();
    for (const [name, entry] of Object.entries(result.data.secrets)) {
      const problem = secretNameProblem(name);
      if (problem !== undefined) {
        issues.push({ path: jsonPath(['secrets', name], rawNames), problem: `is a secret name that ${problem}`, fix: `name it with ${SecretNameRule}` });
        continue;
      }
      const uses: SecretUse[] = [];
      entry.uses.forEach((text, i) => {
        const at = jsonPath(['secrets', name, 'uses', i], rawNames);
        const use = parseUse(text);
        if ('problem' in use) {
          issues.push({ path: at, ...use });
          return;
        }
        const earlier = usedBy.get(use.text);
        if (earlier !== undefined) {
          issues.push({ path: at, problem: `names ${use.text} again, already used at ${earlier}`, fix: 'an option uses one secret: keep one of the two' });
          return;
        }
        usedBy.set(use.text, at);
        uses.push(use);
      });
      secrets.push({ name, ...(entry.description === undefined ? {} : { description: entry.description }), uses });
    }
  }
  if (issues.length > 0) throw filesErrors(path, issues);
  return { path, secrets };
}
