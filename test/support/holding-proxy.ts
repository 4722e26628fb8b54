/**
 * A TCP proxy in front of a real server whose answers can be held back: while `hold` is on, bytes from the server
 * are buffered and delivered, in order, when it ends. A request sent meanwhile reaches the server and is applied,
 * but its answer arrives only after the client gave up on it: the "answer lost" case of a write, with real parts.
 */
import net from 'node:net';

export interface HoldingProxy {
  port: number;
  /** Holds every answer for `ms`, then delivers them. */
  hold(ms: number): void;
  close(): Promise<void>;
}

export async function startHoldingProxy(target: { host: string; port: number }): Promise<HoldingProxy> {
  let heldUntil = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target);
    sockets.add(client).add(upstream);
    const queue: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const flush = () => {
      timer = undefined;
      const wait = heldUntil - Date.now();
      if (wait > 0) {
        timer = setTimeout(flush, wait);
        return;
      }
      for (const chunk of queue.splice(0)) client.write(chunk);
    };
    upstream.on('data', (chunk: Buffer) => {
      queue.push(chunk);
      if (timer === undefined) flush();
    });
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    const end = () => {
      if (timer !== undefined) clearTimeout(timer);
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    hold(ms) {
      heldUntil = Date.now() + ms;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
