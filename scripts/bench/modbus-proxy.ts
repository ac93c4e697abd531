// A timing relay on loopback between a Modbus TCP client under test and the simulator: it forwards bytes both
// ways unchanged and cuts the traffic into bursts (a poll cycle: from the first request byte after a quiet spell
// to the last answer byte before the next one). The same relay sits in front of every poller compared, so the
// cycle times are taken with one clock and one method, whoever the client is.

import net from 'node:net';
import { performance } from 'node:perf_hooks';

export interface Burst {
  startMs: number;
  endMs: number;
  /** MBAP request frames seen from the client in the burst (a cross-check of the simulator's counters). */
  requests: number;
}

export class TimingProxy {
  readonly bursts: Burst[] = [];
  private current: Burst | undefined;
  private quietTimer: NodeJS.Timeout | undefined;
  private readonly sockets = new Set<net.Socket>();
  private waiters: { count: number; resolve: () => void }[] = [];

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
    /** No traffic for this long ends a burst. */
    private readonly quietMs: number,
  ) {}

  static async start(targetPort: number, quietMs: number): Promise<TimingProxy> {
    let proxy: TimingProxy | undefined;
    const server = net.createServer((client) => proxy!.relay(client, targetPort));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    proxy = new TimingProxy(server, (server.address() as net.AddressInfo).port, quietMs);
    return proxy;
  }

  private relay(client: net.Socket, targetPort: number): void {
    const upstream = net.connect(targetPort, '127.0.0.1');
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    this.sockets.add(client).add(upstream);
    let pending = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      this.activity();
      // Count whole MBAP frames: 6-byte header whose last two bytes are the length of what follows.
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 6 && pending.length >= 6 + pending.readUInt16BE(4)) {
        this.current!.requests++;
        pending = pending.subarray(6 + pending.readUInt16BE(4));
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      this.activity();
      client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  }

  private activity(): void {
    const now = performance.now();
    if (this.current === undefined) this.current = { startMs: now, endMs: now, requests: 0 };
    this.current.endMs = now;
    clearTimeout(this.quietTimer);
    this.quietTimer = setTimeout(() => this.endBurst(), this.quietMs);
  }

  private endBurst(): void {
    if (this.current === undefined) return;
    this.bursts.push(this.current);
    this.current = undefined;
    for (const w of this.waiters.filter((w) => this.bursts.length >= w.count)) w.resolve();
    this.waiters = this.waiters.filter((w) => this.bursts.length < w.count);
  }

  /** Resolves once `count` bursts have ended in all (rejects after `limitMs`). */
  untilBursts(count: number, limitMs: number): Promise<void> {
    if (this.bursts.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${this.bursts.length} of ${count} poll bursts in ${limitMs} ms`)), limitMs);
      this.waiters.push({ count, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  async close(): Promise<void> {
    clearTimeout(this.quietTimer);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
