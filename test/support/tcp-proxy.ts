/**
 * A TCP proxy on 127.0.0.1 in front of a real server, for what a test cannot ask of the server itself:
 * - closed and opened again on the same port: an array that goes away and comes back;
 * - its answers held back: while a hold lasts, bytes from the server are buffered and delivered, in order, when it
 *   ends. A request sent meanwhile reaches the server and is applied, but its answer arrives only after the client
 *   gave up on it: the "answer lost" case of a write, with real parts.
 */
import net from 'node:net';

export class TcpProxy {
  readonly #sockets = new Set<net.Socket>();
  #server: net.Server | undefined;
  #port: number | undefined;
  #heldUntil = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  /** Starts accepting on `port` (0: a free one), also after close; resolves to the port. */
  async listen(port = 0): Promise<number> {
    const server = net.createServer((client) => this.#relay(client));
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.#server = server;
    this.#port = (server.address() as net.AddressInfo).port;
    return this.#port;
  }

  /** The port it listens on. */
  get port(): number {
    if (this.#port === undefined) throw new Error('the proxy has not listened yet');
    return this.#port;
  }

  /** Holds every answer for `ms`, then delivers them. */
  hold(ms: number): void {
    this.#heldUntil = Date.now() + ms;
  }

  /** Stops accepting and cuts every connection. */
  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    const server = this.#server;
    this.#server = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #relay(client: net.Socket): void {
    const upstream = net.connect(this.target);
    this.#sockets.add(client).add(upstream);
    const queue: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const flush = (): void => {
      timer = undefined;
      const wait = this.#heldUntil - Date.now();
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
    const end = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      client.destroy();
      upstream.destroy();
      this.#sockets.delete(client);
      this.#sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  }
}
