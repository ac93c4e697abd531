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

/** Consecutive bursts starting less than `windowMs` after the first of their group, as one. */
export function mergeBursts(bursts: readonly Burst[], windowMs: number): Burst[] {
  const out: Burst[] = [];
  for (const b of bursts) {
    const last = out[out.length - 1];
    if (last !== undefined && b.startMs - last.startMs < windowMs) {
      last.endMs = b.endMs;
      last.requests += b.requests;
    } else out.push({ ...b });
  }
  return out;
}

export class TimingProxy {
  readonly bursts: Burst[] = [];
  private current: Burst | undefined;
  private quietTimer: NodeJS.Timeout | undefined;
  private readonly sockets = new Set<net.Socket>();
  private waiters: { count: number; resolve: () => void }[] = [];
  /** While set, requests wait here instead of going on: the simulator's counters can be read between cycles. */
  private held: (() => void)[] | undefined;

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
      if (this.held) this.held.push(() => forward(chunk));
      else forward(chunk);
    });
    const forward = (chunk: Buffer) => {
      this.activity();
      // Count whole MBAP frames: 6-byte header whose last two bytes are the length of what follows.
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 6 && pending.length >= 6 + pending.readUInt16BE(4)) {
        this.current!.requests++;
        pending = pending.subarray(6 + pending.readUInt16BE(4));
      }
      upstream.write(chunk);
    };
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

  /** Runs `f` with requests held back, so that no request reaches the simulator meanwhile. */
  async holding<T>(f: () => Promise<T>): Promise<T> {
    this.held = [];
    try {
      return await f();
    } finally {
      const held = this.held;
      this.held = undefined;
      for (const go of held) go();
    }
  }

  /** Resolves once `count` bursts have ended in all (rejects after `limitMs`). */
  untilBursts(count: number, limitMs: number): Promise<void> {
    if (this.bursts.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${this.bursts.length} of ${count} poll bursts in ${limitMs} ms`)), limitMs);
      this.waiters.push({ count, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  /**
   * Resolves once the bursts from index `from` on make `count` complete cycles (mergeBursts with `windowMs`), the
   * last one ended and `windowMs` past its start, before the next has begun (throws if it has: the caller reads
   * counters for exactly `count` cycles).
   */
  async untilCycles(count: number, windowMs: number, limitMs: number, from = 0): Promise<void> {
    const deadline = performance.now() + limitMs;
    for (;;) {
      const cycles = mergeBursts(this.bursts.slice(from), windowMs);
      const last = cycles[cycles.length - 1];
      const lastDone = last !== undefined && this.current === undefined && performance.now() - last.startMs >= windowMs;
      if (cycles.length > count) throw new Error(`cycle ${count + 1} began before cycle ${count} was seen to end`);
      if (cycles.length === count && lastDone) return;
      if (performance.now() > deadline) throw new Error(`only ${cycles.length} of ${count} poll cycles in ${limitMs} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async close(): Promise<void> {
    clearTimeout(this.quietTimer);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
