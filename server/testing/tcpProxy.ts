import net, { type AddressInfo } from "node:net";

/**
 * A TCP forwarder that can be taken down (existing connections cut, new ones refused) and brought
 * back on the same port, or paused like a stopped server (SIGSTOP): connections stay open and new
 * ones are accepted, but no byte moves either way until resume().
 */
export class TcpProxy {
  port = 0;
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  private readonly pairs = new Set<{ client: net.Socket; upstream: net.Socket | null }>();
  private paused = false;

  constructor(private readonly target: { host: string; port: number }) {}

  /** A proxy (not yet open) in front of the PostgreSQL server `databaseUrl` names. */
  static forDatabase(databaseUrl: string): TcpProxy {
    const target = new URL(databaseUrl);
    return new TcpProxy({ host: target.hostname.replace(/^\[|\]$/g, ""), port: Number(target.port || 5432) });
  }

  /** `databaseUrl` reached through this open proxy: the same user, password and database, on 127.0.0.1 and the proxy's port. */
  urlFor(databaseUrl: string): string {
    const through = new URL(databaseUrl);
    through.hostname = "127.0.0.1";
    through.port = String(this.port);
    return through.toString();
  }

  async open(): Promise<void> {
    if (this.server) return;
    const server = net.createServer((client) => {
      this.track(client);
      const pair = { client, upstream: null as net.Socket | null };
      this.pairs.add(pair);
      client.on("close", () => {
        this.pairs.delete(pair);
        pair.upstream?.destroy();
      });
      client.pause();
      if (!this.paused) this.connect(pair);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Stops every byte both ways (connections stay open; new ones wait unconnected), as a stopped PostgreSQL would. */
  pause(): void {
    this.paused = true;
    for (const { client, upstream } of this.pairs) {
      if (!upstream) continue;
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }

  /** The same as pause(): a paused database, as the feature-deadline tests call it. */
  stall(): void {
    this.pause();
  }

  resume(): void {
    this.paused = false;
    for (const pair of this.pairs) {
      if (!pair.upstream) this.connect(pair);
      else this.forward(pair.client, pair.upstream);
    }
  }

  private connect(pair: { client: net.Socket; upstream: net.Socket | null }): void {
    const upstream = net.connect(this.target.port, this.target.host);
    this.track(upstream);
    pair.upstream = upstream;
    upstream.on("close", () => pair.client.destroy());
    this.forward(pair.client, upstream);
  }

  private forward(client: net.Socket, upstream: net.Socket): void {
    client.pipe(upstream);
    upstream.pipe(client);
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("error", () => {});
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    this.pairs.clear();
    await closed;
  }
}

export async function waitFor(condition: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
