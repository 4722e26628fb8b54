import net from 'node:net';

/** A TCP forwarder to a local port, opened and closed by the test: an array that goes away and comes back. */
export class TcpForwarder {
  readonly #sockets = new Set<net.Socket>();
  #server: net.Server | undefined;

  constructor(private readonly toPort: string) {}

  async listen(port: number): Promise<void> {
    this.#server = net.createServer((client) => {
      const upstream = net.connect(Number(this.toPort), '127.0.0.1');
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => (s === client ? upstream : client).destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.#server!.listen(port, '127.0.0.1', () => resolve()));
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    if (this.#server !== undefined) await new Promise((resolve) => this.#server!.close(resolve));
  }
}
