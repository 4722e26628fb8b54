/**
 * Live rotation: the arrays' sessions follow the named secrets their passwords are (`$secret{NAME}`). One etcd
 * watch of `/secrets/` (PrefixWatch: listed, then watched, listed again after a broken watch); when the current
 * version of a secret this host's hpe.conf uses changes, it is decrypted with the cluster secrets key and every
 * session using it logs in again with it (Backends.rotateSecret), keeping its session until the new login
 * succeeds. Secrets this config does not use are ignored. A deleted secret, or a version that cannot be used
 * (damaged, another key, does not decrypt), leaves the sessions as they are, with a warning and the reason in the
 * backend's status; never the value. A record sealed again under a new cluster key (`secret rotate-key`) keeps
 * its versions and values: the key is read again for it, and the sessions are left as they are.
 */
import type { Clock } from '../../clock.js';
import { namedSecretKey, NAMED_SECRETS_PREFIX, prefixedKey, PrefixWatch, readClusterKeyRecord, type EtcdClient, type PrefixListing } from '../../etcd/index.js';
import { SecretError } from '../../errors.js';
import { registerSecret, type Logger } from '../../log.js';
import {
  currentVersion,
  parseClusterKey,
  parseNamedSecretEntry,
  resolveNamedSecret,
  type ClusterKeyLookup,
  type NamedSecretEntry,
} from '../../secrets/index.js';
import type { Backends } from './backends.js';

export class SecretFollower {
  readonly #names: ReadonlySet<string>;
  readonly #records = new Map<string, NamedSecretEntry>();
  #key: ClusterKeyLookup | undefined;
  /** The version and value last handed to the sessions, per name: the same again (re-sealed, listed again) is not a rotation. */
  readonly #applied = new Map<string, { version: number; value: string }>();
  readonly #watch: PrefixWatch | undefined;
  /** Changes are applied one after the other, in etcd's order (a key read may sit between two). */
  #queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: EtcdClient,
    private readonly backends: Backends,
    private readonly options: { logger: Pick<Logger, 'info' | 'warn'>; clock?: Clock },
  ) {
    this.#names = new Set(backends.secretNames());
    // Without a `$secret{}` password there is nothing to follow: no watch.
    if (this.#names.size === 0) return;
    this.#watch = new PrefixWatch(
      client,
      NAMED_SECRETS_PREFIX,
      {
        listed: (listing) => this.#listed(listing),
        put: (e) => this.#changed(e.key, e.value),
        delete: (name) => this.#changed(name, undefined),
        live: () => undefined,
        lost: (why, during) =>
          options.logger.warn(
            { why, during },
            `named secrets: the etcd watch of ${prefixedKey(client.prefix, NAMED_SECRETS_PREFIX)} broke; rotations wait until it is listed again`,
          ),
      },
      options.clock === undefined ? {} : { clock: options.clock },
    );
  }

  start(): void {
    this.#watch?.start();
  }

  async stop(): Promise<void> {
    await this.#watch?.stop();
    await this.#queue;
  }

  #listed(listing: PrefixListing): void {
    const present = new Set(listing.entries.map((e) => e.key));
    for (const e of listing.entries) this.#changed(e.key, e.value);
    // Deleted while the watch was broken.
    for (const name of this.#names) if (!present.has(name)) this.#changed(name, undefined);
  }

  #changed(name: string, raw: string | undefined): void {
    if (!this.#names.has(name)) return;
    if (raw === undefined) this.#records.delete(name);
    else this.#records.set(name, parseNamedSecretEntry(name, raw, this.client.prefix));
    this.#queue = this.#queue.then(() => this.#apply(name)).catch(() => undefined);
  }

  async #apply(name: string): Promise<void> {
    const entry = this.#records.get(name);
    if (entry === undefined) {
      this.#applied.delete(name);
      this.backends.secretUnusable(name, undefined, `the secret was deleted from etcd (${prefixedKey(this.client.prefix, namedSecretKey(name))})`);
      return;
    }
    if (!entry.found) {
      this.#applied.delete(name);
      this.backends.secretUnusable(name, undefined, entry.error.message);
      return;
    }
    const current = currentVersion(entry.record);
    // The key is read when first needed and again when a version names another one (the key was replaced).
    if (this.#key === undefined || !this.#key.found || this.#key.record.kid !== current.kid) {
      try {
        this.#key = parseClusterKey((await readClusterKeyRecord(this.client))?.raw, this.client.prefix);
      } catch (err) {
        this.#applied.delete(name);
        this.backends.secretUnusable(name, current.version, `the cluster secrets key could not be read: ${err instanceof Error ? err.message : String(err)}`);
        return;
      }
    }
    let value: string;
    try {
      value = resolveNamedSecret({ prefix: this.client.prefix, key: this.#key, secrets: new Map([[name, entry]]) }, name);
    } catch (err) {
      if (!(err instanceof SecretError)) throw err;
      this.#applied.delete(name);
      this.backends.secretUnusable(name, current.version, `hpe.conf ${err.message}`);
      return;
    }
    registerSecret(value);
    const applied = this.#applied.get(name);
    if (applied?.version === current.version && applied.value === value) return;
    this.#applied.set(name, { version: current.version, value });
    // Not awaited: a rotation that waits for an unreachable array must not hold back the next change.
    void this.backends.rotateSecret(name, current.version, value);
  }
}
