/** WSAPI session keys: made by login, expire after `ttlMs` unused (403 code 6 then), like the array's. */
import { randomBytes } from 'node:crypto';

interface Session {
  user: string;
  lastUsed: number;
}

export class Sessions {
  readonly #sessions = new Map<string, Session>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  create(user: string): string {
    const key = `${randomBytes(2).toString('hex')}-${randomBytes(16).toString('hex')}-${randomBytes(4).toString('hex')}`;
    this.#sessions.set(key, { user, lastUsed: this.now() });
    return key;
  }

  /** The session's user, refreshing its expiry; undefined for an unknown or expired key. */
  use(key: string | undefined): string | undefined {
    if (key === undefined) return undefined;
    const s = this.#sessions.get(key);
    if (s === undefined) return undefined;
    if (this.now() - s.lastUsed > this.ttlMs) {
      this.#sessions.delete(key);
      return undefined;
    }
    s.lastUsed = this.now();
    return s.user;
  }

  remove(key: string): boolean {
    return this.#sessions.delete(key);
  }

  expireAll(): void {
    this.#sessions.clear();
  }

  /** Sessions not expired yet (`sessionsInUse` of /wsapiconfiguration). */
  get count(): number {
    for (const [key, s] of this.#sessions) if (this.now() - s.lastUsed > this.ttlMs) this.#sessions.delete(key);
    return this.#sessions.size;
  }
}
