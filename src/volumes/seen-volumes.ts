/**
 * The volume names this plugin last saw in etcd, for Get while etcd cannot be read. dockerd 20.10 takes ANY Err from
 * Get for "no such volume" (volume/service/store.go lookupVolume): `docker volume inspect` and `rm` then say
 * `no such volume`, dockerd drops its metadata of the name, and `docker run -v v1:/data` makes a LOCAL volume v1 that
 * shadows ours. Answering a volume we saw exist, marked unverified, keeps dockerd on our plugin: rm and Mount reach
 * us and are refused with etcd's reason. A name never seen here still gets the Err: claiming it would make
 * `docker volume create -d hpe` of a new name succeed without creating anything.
 */
import type { HpeError } from '../errors.js';
import type { VolumeView } from './request/status.js';

/** The one Status key of an unverified Get answer (what `docker volume inspect` shows). */
export const UNVERIFIED_STATUS_KEY = 'etcd_unreadable';

export class SeenVolumes {
  readonly #names = new Set<string>();

  saw(name: string): void {
    this.#names.add(name);
  }

  gone(name: string): void {
    this.#names.delete(name);
  }

  /** After a full listing: exactly these exist. */
  replace(names: readonly string[]): void {
    this.#names.clear();
    for (const n of names) this.#names.add(n);
  }

  has(name: string): boolean {
    return this.#names.has(name);
  }
}

/** Get's answer for a volume seen earlier whose record cannot be read now: nothing in it comes from etcd. */
export function unverifiedView(name: string, failure: HpeError): VolumeView {
  return {
    Name: name,
    Mountpoint: '',
    Devicename: '',
    Status: {
      [UNVERIFIED_STATUS_KEY]: `${failure.message}. This plugin saw volume ${name} before but cannot read it now; nothing can be done with it until etcd answers. Fix: ${failure.fix}; \`hpedockerplugin check\` on this host shows etcd's state`,
    },
  };
}
