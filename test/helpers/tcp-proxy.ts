// A TCP proxy between a bridge and its upstream for link-failure tests: it forwards, refuses (new connections are
// closed at once, existing ones dropped), or black-holes (sockets stay open, nothing passes either way: a
// half-open link as a dead NAT entry or a pulled cable makes it).

import net from 'node:net';

export type ProxyMode = 'forward' | 'refuse' | 'blackhole';

export class TcpProxy {
  private server: net.Server | null = null;
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  mode: ProxyMode = 'forward';
  port = 0;
  /** Connections accepted in forward mode (one per bridge connection attempt that reached the upstream). */
  accepted = 0;

  constructor(private targetPort: number) {}

  async start(port = 0): Promise<number> {
    const server = net.createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
    return this.port;
  }

  retarget(port: number): void {
    this.targetPort = port;
  }

  private accept(client: net.Socket): void {
    client.on('error', () => undefined);
    if (this.mode !== 'forward') {
      // A black-holed link also swallows new connection attempts (SYN answered, nothing after).
      if (this.mode === 'refuse') client.destroy();
      else this.pairs.add([client, client]);
      return;
    }
    this.accepted++;
    const upstream = net.connect(this.targetPort, '127.0.0.1');
    // A proxy must not add Nagle delays (a held small segment waiting for a delayed ACK) that the path it stands for has not.
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    upstream.on('error', () => undefined);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    this.pairs.add(pair);
    client.on('data', (d) => {
      if (this.mode === 'forward') upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (this.mode === 'forward') client.write(d);
    });
    const close = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', close);
    upstream.on('close', close);
  }

  /** Drops every connection now (both sides see a reset or close). */
  dropAll(): void {
    for (const [a, b] of [...this.pairs]) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
  }

  /** `refuse`: drops what is open and refuses new connections; `blackhole`: keeps sockets open and passes nothing. */
  setMode(mode: ProxyMode): void {
    this.mode = mode;
    if (mode === 'refuse') this.dropAll();
  }

  async stop(): Promise<void> {
    this.dropAll();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
