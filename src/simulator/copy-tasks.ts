/**
 * The physical copies running in the background: each copies a volume's data, then marks its task done, cancelled
 * or failed and saves the state. While one runs, its source and destination are busy.
 */
import { CopyTypes, TaskStatuses } from '../array/index.js';
import type { VolumeFiles } from './disk.js';
import type { SimState, SimTask } from './state.js';

export class CopyTasks {
  readonly #running = new Map<number, { abort: AbortController; done: Promise<void> }>();

  constructor(
    private readonly state: SimState,
    private readonly files: VolumeFiles,
    private readonly volumeChanged: (name: string) => void,
    private readonly save: () => void,
  ) {}

  isBusy(volume: string): boolean {
    return this.state.tasks.some((t) => t.status === TaskStatuses.ACTIVE && (t.source === volume || t.dest === volume));
  }

  start(task: SimTask, sizeMiB: number): void {
    const abort = new AbortController();
    const done = this.files
      .copy(task.source, task.dest, sizeMiB, abort.signal)
      .then(
        () => this.#finish(task, TaskStatuses.DONE),
        () => this.#finish(task, abort.signal.aborted ? TaskStatuses.CANCELLED : TaskStatuses.FAILED),
      )
      .finally(() => this.#running.delete(task.id));
    this.#running.set(task.id, { abort, done });
  }

  #finish(task: SimTask, status: number): void {
    if (task.status !== TaskStatuses.ACTIVE) return;
    task.status = status;
    task.finishTime = new Date().toISOString();
    const dest = this.state.volumes.get(task.dest);
    if (dest !== undefined && (status === TaskStatuses.DONE || !task.online)) {
      dest.copyType = CopyTypes.BASE;
      delete dest.copyOf;
      this.volumeChanged(dest.name);
    }
    this.save();
  }

  cancel(task: SimTask): void {
    this.#finish(task, TaskStatuses.CANCELLED);
    this.#running.get(task.id)?.abort.abort();
  }

  /** Stops a running copy into `dest` (PUT /volumes/<dest> {action:1}); nothing to do when none runs. */
  cancelCopyInto(dest: string): void {
    for (const t of this.state.tasks) if (t.status === TaskStatuses.ACTIVE && t.dest === dest) this.cancel(t);
  }

  async stopAll(): Promise<void> {
    const running = [...this.#running.values()];
    for (const r of running) r.abort.abort();
    await Promise.all(running.map((r) => r.done));
  }
}
