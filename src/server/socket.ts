import { chmod, mkdir, rm, stat } from 'node:fs/promises';
import { createConnection, type Server } from 'node:net';
import { dirname } from 'node:path';
import type { RequestListener } from 'node:http';
import http from 'node:http';
import { HpeError } from '../errors.js';

export const defaultSocketPath = '/run/docker/plugins/hpe.sock';

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/**
 * Listens on a unix socket with mode 0600. A stale socket file (nothing answers on it: the previous run
 * died) is removed first — upstream left it and the plugin could not start again (#470). A live one is
 * another running plugin, and is an error.
 */
export async function listenOnSocket(listener: RequestListener, path: string): Promise<{ server: Server; close(): Promise<void> }> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const existing = await stat(path).catch(() => undefined);
  if (existing !== undefined) {
    if (await answers(path)) {
      throw new HpeError(`another process already serves ${path}`, 'stop the other hpedockerplugin, or pass another --socket');
    }
    await rm(path, { force: true });
  }
  const server = http.createServer(listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chmod(path, 0o600);
  return {
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }).then(() => rm(path, { force: true })),
  };
}
