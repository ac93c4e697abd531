// Sockets that have not completed CONNECT, per source address: one address opening sockets and sending nothing
// (or half a CONNECT) cannot fill the broker's connection table; each is bounded by mqtt.connectTimeout too.

import { hostOf } from './login-throttle.js';

export class PendingConnections {
  private readonly byHost = new Map<string, number>();
  private readonly hostOfPending = new Map<object, string>();

  constructor(private readonly maxPerAddress: () => number) {}

  /** Counts a new socket; false when its address already has the most pending ones (close it). */
  add(conn: object, remoteAddress: string): boolean {
    const host = hostOf(remoteAddress);
    const n = this.byHost.get(host) ?? 0;
    if (n >= this.maxPerAddress()) return false;
    this.byHost.set(host, n + 1);
    this.hostOfPending.set(conn, host);
    return true;
  }

  /** The socket sent CONNECT, or closed: it no longer counts. */
  settle(conn: object): void {
    const host = this.hostOfPending.get(conn);
    if (host === undefined) return;
    this.hostOfPending.delete(conn);
    const n = (this.byHost.get(host) ?? 1) - 1;
    if (n <= 0) this.byHost.delete(host);
    else this.byHost.set(host, n);
  }

  get size(): number {
    return this.hostOfPending.size;
  }
}
