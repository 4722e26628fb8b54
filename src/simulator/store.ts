/**
 * Keeps the simulator's state on disk, one file per object (object-files.ts), so that a change writes only what
 * changed and the cost of a Create does not grow with the number of volumes. Volumes, the one kind that grows to
 * thousands, are written when a handler says it changed one (`volumeChanged`); the other kinds stay small and are
 * compared with what was last written at every commit. Each file is atomic; one request's changes to several
 * objects are not (new files are written before old ones are removed, so a crash in between keeps both names
 * rather than losing one).
 *
 * Id counters are not stored: a restart continues after the highest id in use, as an array picks the next
 * available id. A state folder of the earlier format (one `state.json`) is converted at the first load.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ObjectFiles } from './object-files.js';
import { freshState, type SimHost, type SimQosRule, type SimRcg, type SimState, type SimTask, type SimVlun, type SimVolume, type SimVolumeSet } from './state.js';

const Kinds = {
  system: 'system',
  volumes: 'volumes',
  hosts: 'hosts',
  sets: 'sets',
  qos: 'qos',
  rcgs: 'rcgs',
  tasks: 'tasks',
  vluns: 'vluns',
} as const;

/** The kinds compared at every commit; each yields its objects under their file keys. */
type SmallKind = Exclude<(typeof Kinds)[keyof typeof Kinds], 'system' | 'volumes'>;
const smallKinds: SmallKind[] = [Kinds.hosts, Kinds.sets, Kinds.qos, Kinds.rcgs, Kinds.tasks, Kinds.vluns];

const systemKey = 'array';

interface SystemRecord {
  format: 2;
  systemId: number;
}

/** The earlier format: the whole state in `<dir>/state.json`. */
interface LegacyStateFile {
  format: 1;
  systemId: number;
  nextId: SimState['nextId'];
  volumes: SimVolume[];
  hosts: SimHost[];
  vluns: SimVlun[];
  volumeSets: SimVolumeSet[];
  qosRules: [string, SimQosRule][];
  tasks: SimTask[];
  rcgs: SimRcg[];
}

function byName<T extends { name: string }>(items: T[]): Map<string, T> {
  return new Map(items.map((i) => [i.name, i]));
}

function byId<T extends { id: number }>(items: T[]): T[] {
  return items.sort((a, b) => a.id - b.id);
}

function nextAfter(items: Iterable<{ id: number }>): number {
  let max = 0;
  for (const i of items) max = Math.max(max, i.id);
  return max + 1;
}

/** Copies that were running when the simulator stopped cannot finish: they failed. */
function failInterruptedCopies(tasks: SimTask[]): SimTask[] {
  return tasks.map((t) => (t.status === 2 ? { ...t, status: 4, finishTime: new Date().toISOString() } : t));
}

export class StateStore {
  readonly state: SimState;
  readonly #files: ObjectFiles;
  readonly #changedVolumes = new Set<string>();
  /** For the small kinds: file key → the JSON last written (or loaded). */
  readonly #written = new Map<SmallKind, Map<string, string>>(smallKinds.map((k) => [k, new Map()]));
  /** VLUNs have no id; each keeps the number it was stored under, which is also their order. */
  readonly #vlunKeys = new WeakMap<SimVlun, number>();
  #nextVlunKey = 1;

  private constructor(files: ObjectFiles, state: SimState) {
    this.#files = files;
    this.state = state;
  }

  /** Loads `<dir>/objects/`, or converts `<dir>/state.json`, or starts empty. */
  static open(dir: string): StateStore {
    mkdirSync(dir, { recursive: true });
    const files = new ObjectFiles(join(dir, 'objects'));
    const legacy = join(dir, 'state.json');
    if (files.has(Kinds.system, systemKey)) {
      // A conversion that stopped after its last step but before removing the old file.
      rmSync(legacy, { force: true });
      return StateStore.#load(files);
    }
    if (existsSync(legacy)) return StateStore.#convert(files, legacy);
    const store = new StateStore(files, freshState());
    store.#writeSystem();
    return store;
  }

  static #load(files: ObjectFiles): StateStore {
    const system = files.read(Kinds.system, systemKey) as SystemRecord;
    const values = <T>(kind: string): { key: string; value: T }[] => files.readAll(kind) as { key: string; value: T }[];
    const volumes = byId(values<SimVolume>(Kinds.volumes).map((o) => o.value));
    const hosts = byId(values<SimHost>(Kinds.hosts).map((o) => o.value));
    const sets = byId(values<SimVolumeSet>(Kinds.sets).map((o) => o.value));
    const qos = values<SimQosRule>(Kinds.qos).sort((a, b) => a.value.id - b.value.id);
    const rcgs = byId(values<SimRcg>(Kinds.rcgs).map((o) => o.value));
    const tasks = byId(values<SimTask>(Kinds.tasks).map((o) => o.value));
    const vluns = values<SimVlun>(Kinds.vluns).sort((a, b) => Number(a.key) - Number(b.key));
    const store = new StateStore(files, {
      systemId: system.systemId,
      nextId: {
        volume: nextAfter(volumes),
        host: nextAfter(hosts),
        set: nextAfter(sets),
        task: nextAfter(tasks),
        rcg: nextAfter(rcgs),
        qos: nextAfter(qos.map((o) => o.value)),
      },
      volumes: byName(volumes),
      volumeIds: new Set(volumes.map((v) => v.id)),
      hosts: byName(hosts),
      vluns: vluns.map((o) => o.value),
      volumeSets: byName(sets),
      qosRules: new Map(qos.map((o) => [o.key, o.value])),
      tasks: failInterruptedCopies(tasks),
      rcgs: byName(rcgs),
    });
    for (const { key, value } of vluns) {
      store.#vlunKeys.set(value, Number(key));
      store.#nextVlunKey = Math.max(store.#nextVlunKey, Number(key) + 1);
    }
    // What is on disk, as the next commit compares it (so interrupted copies are written as failed).
    const loaded: [SmallKind, Iterable<[string, unknown]>][] = [
      [Kinds.hosts, hosts.map((h) => [h.name, h])],
      [Kinds.sets, sets.map((s) => [s.name, s])],
      [Kinds.qos, qos.map((o) => [o.key, o.value])],
      [Kinds.rcgs, rcgs.map((g) => [g.name, g])],
      [Kinds.tasks, tasks.map((t) => [String(t.id), t])],
      [Kinds.vluns, vluns.map((o) => [o.key, o.value])],
    ];
    for (const [kind, entries] of loaded) for (const [key, value] of entries) store.#written.get(kind)!.set(key, JSON.stringify(value));
    return store;
  }

  /** Writes every object of the old file, then the system record (which marks the new format), then drops the file. */
  static #convert(files: ObjectFiles, legacy: string): StateStore {
    const data = JSON.parse(readFileSync(legacy, 'utf8')) as LegacyStateFile;
    if (data.format !== 1) throw new Error(`${legacy}: unknown state format ${String(data.format)}`);
    const store = new StateStore(files, {
      systemId: data.systemId,
      nextId: data.nextId,
      volumes: byName(data.volumes),
      volumeIds: new Set(data.volumes.map((v) => v.id)),
      hosts: byName(data.hosts),
      vluns: data.vluns,
      volumeSets: byName(data.volumeSets),
      qosRules: new Map(data.qosRules),
      tasks: failInterruptedCopies(data.tasks),
      rcgs: byName(data.rcgs),
    });
    for (const name of store.state.volumes.keys()) store.volumeChanged(name);
    store.commit();
    store.#writeSystem();
    rmSync(legacy);
    return store;
  }

  #writeSystem(): void {
    const record: SystemRecord = { format: 2, systemId: this.state.systemId };
    this.#files.write(Kinds.system, systemKey, JSON.stringify(record));
  }

  /** Records that volume `name` was added, changed or removed; the next commit writes (or removes) its file. */
  volumeChanged(name: string): void {
    this.#changedVolumes.add(name);
  }

  #vlunKey(v: SimVlun): string {
    let key = this.#vlunKeys.get(v);
    if (key === undefined) {
      key = this.#nextVlunKey++;
      this.#vlunKeys.set(v, key);
    }
    return String(key);
  }

  #current(kind: SmallKind): Iterable<[string, unknown]> {
    const s = this.state;
    switch (kind) {
      case Kinds.hosts:
        return s.hosts.entries();
      case Kinds.sets:
        return s.volumeSets.entries();
      case Kinds.qos:
        return s.qosRules.entries();
      case Kinds.rcgs:
        return s.rcgs.entries();
      case Kinds.tasks:
        return s.tasks.map((t) => [String(t.id), t]);
      case Kinds.vluns:
        return s.vluns.map((v) => [this.#vlunKey(v), v]);
    }
  }

  /** Writes what changed since the last commit: new and changed files first, then removals. */
  commit(): void {
    const removals: (() => void)[] = [];
    for (const name of this.#changedVolumes) {
      const v = this.state.volumes.get(name);
      if (v === undefined) removals.push(() => this.#files.remove(Kinds.volumes, name));
      else this.#files.write(Kinds.volumes, name, JSON.stringify(v));
    }
    this.#changedVolumes.clear();
    for (const kind of smallKinds) {
      const written = this.#written.get(kind)!;
      const seen = new Set<string>();
      for (const [key, value] of this.#current(kind)) {
        seen.add(key);
        const json = JSON.stringify(value);
        if (written.get(key) === json) continue;
        this.#files.write(kind, key, json);
        written.set(key, json);
      }
      for (const key of written.keys()) {
        if (seen.has(key)) continue;
        removals.push(() => {
          this.#files.remove(kind, key);
          written.delete(key);
        });
      }
    }
    for (const remove of removals) remove();
  }
}
