/**
 * What a Mount needs of this host besides the volume: the host environment (command runner, /sys, /dev, /etc,
 * /proc roots), this host's name and initiators for the array's host entry, where mounts go, and which transport
 * attaches a backend's volumes (the backend's driver: iSCSI or FC; loop only when the array says it is the
 * project's WSAPI simulator, never against a real array). Each call names the array of the backend it goes to:
 * its own (`primary`, the default) or its replication target (flows/replica-arrays.ts chooses).
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import { exportVolume, fenceVolume, isSimulator, unexportVolume, type Connection, type ExportRequest, type HostInitiators } from '../../array/index.js';
import { hostFilesystem, readInitiators, transportFor, type Filesystem, type HostEnv, type Transport } from '../../host/index.js';
import { HpeError } from '../../errors.js';
import type { ArrayHandle, MountArrays } from '../backends/backends.js';
import type { ArrayRole } from '../backends/state.js';
import type { VolumeRecord } from '../store/records.js';

/** Upstream's default `mount_prefix`: under the managed plugin's propagatedMount (/opt/hpe/data). */
const DEFAULT_MOUNT_PREFIX = '/opt/hpe/data/hpedocker-';

export interface DataPathOptions {
  host: HostEnv;
  /** hpe.conf `mount_prefix`. */
  mountPrefix?: string;
  /** This host's name on the array (cut as upstream does); default os.hostname(). */
  hostname?: string;
}

export class DataPath {
  readonly env: HostEnv;
  readonly fs: Filesystem;
  readonly mountPrefix: string;
  readonly hostname: string;
  #initiators: Promise<HostInitiators> | undefined;
  /** Per array: this host's entry is shared by all its volumes, so exports and unexports run one at a time. */
  readonly #hostEntryQueue = new Map<string, Promise<unknown>>();

  constructor(o: DataPathOptions) {
    this.env = o.host;
    this.fs = hostFilesystem(o.host);
    this.mountPrefix = o.mountPrefix ?? DEFAULT_MOUNT_PREFIX;
    this.hostname = o.hostname ?? os.hostname();
  }

  /** A stable folder per volume: the prefix and the array name (unique, never reused while the record lives). */
  mountDirOf(record: Pick<VolumeRecord, '3par_vol_name'>): string {
    return `${this.mountPrefix}${record['3par_vol_name']}`;
  }

  /**
   * This host's initiators (read once). A host without them (no open-iscsi, no FC HBA) gets, on the simulator
   * only, names that say they are the simulator's, so its host entry can still be made there.
   */
  async initiators(simulator: boolean): Promise<HostInitiators> {
    this.#initiators ??= readInitiators(this.env).catch((err: unknown) => {
      this.#initiators = undefined;
      throw err;
    });
    const found = await this.#initiators;
    if (!simulator) return found;
    const tag = createHash('sha256').update(this.hostname).digest('hex');
    return {
      iscsiNames: found.iscsiNames.length > 0 ? found.iscsiNames : [`iqn.2026-11.io.hpedockerplugin.simulator:${tag.slice(0, 12)}`],
      fcWwns: found.fcWwns.length > 0 ? found.fcWwns : [`10${tag.slice(0, 14)}`],
    };
  }

  async exportRequest(backend: MountArrays, arrayName: string, role: ArrayRole = 'primary'): Promise<ExportRequest> {
    const c = backend.config;
    const transport = c.driver === 'fc' ? 'fc' : 'iscsi';
    const iscsiIps = role === 'primary' ? c.iscsiIps : (c.replication?.iscsiIps ?? []);
    return {
      volume: arrayName,
      hostname: this.hostname,
      initiators: await this.initiators(isSimulator(arrayOf(backend, role).system)),
      transport,
      ...(transport === 'iscsi' ? { iscsiIps: iscsiIps.map((t) => t.ip), chap: c.iscsiChapEnabled } : {}),
    };
  }

  /**
   * Two volumes mounted at once on this host must not race on its host entry: both creating it, one deleting it
   * (its last VLUN gone) while the other adds a VLUN, or each setting a new CHAP secret.
   */
  export(backend: MountArrays, request: ExportRequest, role: ArrayRole = 'primary'): Promise<Connection> {
    const a = arrayOf(backend, role);
    return this.#oneAtATime(a.array, () => exportVolume(a.client, request));
  }

  unexport(backend: MountArrays, request: ExportRequest, role: ArrayRole = 'primary'): Promise<void> {
    const a = arrayOf(backend, role);
    return this.#oneAtATime(a.array, () => unexportVolume(a.client, request));
  }

  /** Removes the volume's VLUNs of every other host (a takeover's fencing); the hosts fenced. */
  fence(backend: MountArrays, request: ExportRequest, role: ArrayRole = 'primary'): Promise<string[]> {
    const a = arrayOf(backend, role);
    return this.#oneAtATime(a.array, () => fenceVolume(a.client, request));
  }

  #oneAtATime<T>(array: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.#hostEntryQueue.get(array) ?? Promise.resolve()).then(fn, fn);
    const tail = run.catch(() => undefined);
    this.#hostEntryQueue.set(array, tail);
    void tail.then(() => {
      if (this.#hostEntryQueue.get(array) === tail) this.#hostEntryQueue.delete(array);
    });
    return run;
  }

  /** The transport for a connection: the simulator's volumes attach as loop devices of their backing files. */
  transportFor(backend: MountArrays, connection: Pick<Connection, 'transport' | 'simulatorVolumeFile'>, role: ArrayRole = 'primary'): Transport {
    if (isSimulator(arrayOf(backend, role).system) && connection.simulatorVolumeFile !== undefined) return transportFor('loop', this.env);
    return transportFor(connection.transport, this.env);
  }
}

/** The backend's array in that role; the caller made sure it is there (Backends.arraysFor, replica-arrays.ts). */
function arrayOf(backend: MountArrays, role: ArrayRole): ArrayHandle {
  if (role === 'primary') {
    if (backend.primary === undefined) throw new HpeError(`the array of backend ${backend.name} is not available`, 'check the array; the plugin retries it by itself');
    return backend.primary;
  }
  if (backend.target === undefined) throw new HpeError(`the replication target of backend ${backend.name} is not available`, 'check the replication target array; the plugin retries it by itself');
  return backend.target;
}
