// The log line of a refused publish: its reason, once per client and interval, so a client that resends every
// 200 ms after each refusal (3.1.1 has no negative PUBACK) does not flood the log. Every refusal is counted anyway.

import type { Logger } from '../log/logger.js';
import type { Refusal } from '../queue/errors.js';

/** Clients remembered at most; beyond it the oldest entries are forgotten (a client may then be logged again). */
const MAX_CLIENTS = 10_000;

export class RefusalLog {
  private readonly lastLoggedAt = new Map<string, number>();

  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 60_000,
  ) {}

  /** `action` says what the publisher got: a reason code, or a closed connection. */
  note(clientId: string, topic: string, refusal: Refusal, action: string, now = Date.now()): void {
    const last = this.lastLoggedAt.get(clientId);
    if (last !== undefined && now - last < this.intervalMs) return;
    // Re-inserted, so the Map's order stays oldest first and pruning takes the stalest.
    this.lastLoggedAt.delete(clientId);
    if (this.lastLoggedAt.size >= MAX_CLIENTS) this.lastLoggedAt.delete(this.lastLoggedAt.keys().next().value!);
    this.lastLoggedAt.set(clientId, now);
    this.log.warn('publish refused', { clientId, topic, reason: refusal.reason, queue: refusal.queue, detail: refusal.detail, action });
  }
}
