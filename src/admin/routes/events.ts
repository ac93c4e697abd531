// GET /api/v1/events: the status page's live stream, as Server-Sent Events (text/event-stream). One snapshot of
// the list endpoints (events-snapshot.ts) per tick, at most once a second, built once per tick for every client.
// The token rule is the API's: the page reads the stream with fetch() and an Authorization header, never a token
// in the URL (which access logs and browser history would keep).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AdminContext } from '../context.js';
import { ApiError } from '../http.js';
import type { Route, Router } from '../router.js';
import { snapshot } from './events-snapshot.js';

/** Issue 19: updates at most once a second. */
export const EVENTS_MIN_INTERVAL_MS = 1000;
/** A gateway serves a few operators; more streams than this is a leak or an attack. */
export const EVENTS_MAX_CLIENTS = 16;
/** What EventSource-style readers wait before reconnecting after a drop. */
const RETRY_MS = 2000;

interface Client {
  req: IncomingMessage;
  res: ServerResponse;
  /** When this client last got a snapshot: one that joined between ticks skips the next tick. */
  sentAt: number;
}

/** Timers and clocks disagree by a few ms; a tick this close to a full interval counts as one. */
const TICK_SLACK_MS = 20;

export class EventHub {
  private readonly clients = new Set<Client>();
  private timer: NodeJS.Timeout | null = null;
  private seq = 0;
  private ticking = false;

  constructor(
    private readonly ctx: AdminContext,
    private readonly router: Router,
    private readonly intervalMs = EVENTS_MIN_INTERVAL_MS,
  ) {}

  get size(): number {
    return this.clients.size;
  }

  open(req: IncomingMessage, res: ServerResponse): void {
    if (this.clients.size >= EVENTS_MAX_CLIENTS) throw new ApiError(503, `too many event streams open (at most ${EVENTS_MAX_CLIENTS})`, { 'retry-after': '10' });
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    // The stream lives as long as the client wants it; the listener's request timeout is for requests.
    req.socket.setTimeout(0);
    res.write(`retry: ${RETRY_MS}\n\n`);
    const client: Client = { req, res, sentAt: 0 };
    this.clients.add(client);
    const drop = () => {
      this.clients.delete(client);
      if (this.clients.size === 0) this.pause();
    };
    res.once('close', drop);
    void this.sendTo([client]);
    if (this.timer === null) {
      this.timer = setInterval(() => void this.tick(), Math.max(EVENTS_MIN_INTERVAL_MS, this.intervalMs));
      this.timer.unref();
    }
  }

  stop(): void {
    this.pause();
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }

  private pause(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private async tick(): Promise<void> {
    // A slow snapshot (a busy store) skips ticks rather than piling them up.
    if (this.ticking) return;
    this.ticking = true;
    try {
      await this.sendTo([...this.clients]);
    } finally {
      this.ticking = false;
    }
  }

  private async sendTo(clients: Client[]): Promise<void> {
    if (clients.length === 0) return;
    let text: string;
    try {
      const snap = await snapshot(this.router, clients[0]!.req);
      text = `id: ${++this.seq}\nevent: snapshot\ndata: ${JSON.stringify(snap)}\n\n`;
    } catch (err) {
      this.ctx.log.error('admin event snapshot failed', { error: (err as Error)?.message ?? String(err) });
      return;
    }
    const now = Date.now();
    const interval = Math.max(EVENTS_MIN_INTERVAL_MS, this.intervalMs);
    for (const c of clients) {
      // A client that does not keep up misses snapshots instead of the broker buffering them for it.
      if (c.res.destroyed || c.res.writableNeedDrain || now - c.sentAt < interval - TICK_SLACK_MS) continue;
      c.sentAt = now;
      c.res.write(text);
    }
  }
}

export function eventRoutes(hub: EventHub): Route[] {
  return [{ method: 'GET', path: '/api/v1/events', handle: ({ req, res }) => hub.open(req, res) }];
}
