import { HpeError } from '../errors.js';
import type { VolumeDriver, VolumeSummary } from './driver.js';

/**
 * Stands in front of the real driver while the plugin waits for its prerequisites after a restart: every
 * call is refused with the reason, until `ready()` hands over the driver built from a fully checked config.
 */
export class DeferredDriver implements VolumeDriver {
  private target: VolumeDriver | undefined;

  constructor(private reason: string) {}

  waiting(reason: string): void {
    this.reason = reason;
  }

  ready(driver: VolumeDriver): void {
    this.target = driver;
  }

  private use(): VolumeDriver {
    if (this.target !== undefined) return this.target;
    throw new HpeError(
      `hpedockerplugin is waiting for its prerequisites and serves no volume request yet: ${this.reason}`,
      'run `hpedockerplugin check` on the host; the plugin starts serving by itself once the checks pass',
      { retryable: true },
    );
  }

  async create(name: string, opts: Record<string, string> | undefined): Promise<void> {
    return this.use().create(name, opts);
  }
  async remove(name: string): Promise<void> {
    return this.use().remove(name);
  }
  async get(name: string): Promise<VolumeSummary | undefined> {
    return this.use().get(name);
  }
  async list(): Promise<readonly VolumeSummary[]> {
    return this.use().list();
  }
  async path(name: string): Promise<string> {
    return this.use().path(name);
  }
  async mount(name: string, id: string): Promise<{ Mountpoint: string; Devicename: string }> {
    return this.use().mount(name, id);
  }
  async unmount(name: string, id: string): Promise<void> {
    return this.use().unmount(name, id);
  }
}
