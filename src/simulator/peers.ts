/**
 * WSAPI clients to the remote copy targets (other simulators), used to create mirror groups and secondary
 * volumes there. A target's error comes back to our caller with its status and code, the description naming
 * the target; an unreachable target is a 500 (not 503, which would make clients retry a call that will not
 * succeed sooner).
 */
import { WsapiClient, WsapiCodes, WsapiError } from '../array/index.js';
import { SimError } from './errors.js';
import type { RemoteTarget } from './options.js';

export class Peers {
  readonly #targets: Record<string, RemoteTarget>;
  readonly #clients = new Map<string, WsapiClient>();

  constructor(targets: Record<string, RemoteTarget>) {
    this.#targets = targets;
  }

  has(name: string): boolean {
    return Object.hasOwn(this.#targets, name);
  }

  #client(name: string): WsapiClient {
    let client = this.#clients.get(name);
    if (client === undefined) {
      const t = this.#targets[name]!;
      client = new WsapiClient({
        apiUrl: t.apiUrl,
        username: t.username,
        password: t.password,
        ...(t.caCert === undefined ? {} : { caCert: t.caCert }),
        timeoutMs: 10_000,
        retry: { attempts: 2, baseDelayMs: 50, maxDelayMs: 200 },
      });
      this.#clients.set(name, client);
    }
    return client;
  }

  async call<T>(name: string, fn: (client: WsapiClient) => Promise<T>): Promise<T> {
    try {
      return await fn(this.#client(name));
    } catch (err) {
      if (err instanceof WsapiError) {
        throw new SimError(err.status === 503 ? 500 : err.status, err.code ?? WsapiCodes.INT_SERV_ERR, `remote copy target '${name}': ${err.desc}`);
      }
      throw new SimError(500, WsapiCodes.INT_SERV_ERR, `remote copy target '${name}' unreachable: ${(err as Error).message}`);
    }
  }

  /** Like call, but a 404 from the target counts as done (the object is already gone there). */
  async callIgnoringMissing(name: string, fn: (client: WsapiClient) => Promise<unknown>): Promise<void> {
    try {
      await this.call(name, fn);
    } catch (err) {
      if (!(err instanceof SimError && err.status === 404)) throw err;
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#clients.values()].map((c) => c.close()));
    this.#clients.clear();
  }
}
