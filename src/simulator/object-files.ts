/**
 * The simulator's records on disk: one JSON file per object, `<root>/<kind>/<key>.json`, each replaced atomically
 * by src/files.ts, so a change costs one small write whatever the number of objects, and a process killed in the
 * middle of a write leaves the old file (plus a temp file, removed at the next load) or the new one.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { HpeError } from '../errors.js';
import { writeFileAtomicSync } from '../files.js';

export interface StoredObject {
  key: string;
  value: unknown;
}

const suffix = '.json';

/** A temp file of writeFileAtomicSync (`.<name>.<pid>.<random>.tmp`): a write that never finished. */
function isUnfinishedWrite(file: string): boolean {
  return file.startsWith('.') && file.endsWith('.tmp');
}

export class ObjectFiles {
  constructor(readonly root: string) {
    mkdirSync(root, { recursive: true });
  }

  #dir(kind: string): string {
    return join(this.root, kind);
  }

  #path(kind: string, key: string): string {
    return join(this.#dir(kind), `${encodeURIComponent(key)}${suffix}`);
  }

  write(kind: string, key: string, json: string): void {
    mkdirSync(this.#dir(kind), { recursive: true });
    // No fsync: an array's state outlives its processes, not the loss of its disks; the kernel keeps these writes
    // when the simulator is killed, and two fsyncs per object on the event loop made it the slowest part of a Create.
    writeFileAtomicSync(this.#path(kind, key), json, { mode: 0o600, flush: false });
  }

  remove(kind: string, key: string): void {
    rmSync(this.#path(kind, key), { force: true });
  }

  has(kind: string, key: string): boolean {
    return existsSync(this.#path(kind, key));
  }

  /** Every object of `kind`; unfinished writes are dropped (their object keeps its previous file). */
  readAll(kind: string): StoredObject[] {
    let files: string[];
    try {
      files = readdirSync(this.#dir(kind));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: StoredObject[] = [];
    for (const file of files.sort()) {
      if (isUnfinishedWrite(file)) rmSync(join(this.#dir(kind), file), { force: true });
      else if (file.endsWith(suffix)) out.push({ key: decodeURIComponent(file.slice(0, -suffix.length)), value: this.#parse(join(this.#dir(kind), file)) });
    }
    return out;
  }

  read(kind: string, key: string): unknown {
    return this.#parse(this.#path(kind, key));
  }

  #parse(path: string): unknown {
    const text = readFileSync(path, 'utf8');
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new HpeError(
        `the simulator's state file ${path} is not valid JSON (${(err as Error).message}); it was not written by the simulator, which replaces its files atomically`,
        `restore ${path} from a backup, or delete it to drop that one object, then start the simulator again`,
        { cause: err },
      );
    }
  }
}
