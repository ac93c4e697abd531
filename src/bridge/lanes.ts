// Priority lanes and the catch-up pace across one bridge's rules. A rule's consumer may take a message only while
// no rule of higher priority has messages waiting (so after an outage alarms overtake a telemetry backlog, while
// order within each rule's queue holds), and, while catching up, only as fast as `catchUpRate` allows.

import type { BridgePriority } from '../config/bridges.js';
import type { Queue } from '../queue/queue.js';

export const PRIORITY_RANK: Readonly<Record<BridgePriority, number>> = { high: 2, normal: 1, low: 0 };

/** Messages of a queue neither in flight nor waiting for a redelivery delay: what a consumer could take now. */
function waiting(queue: Queue): number {
  return queue.depth - queue.inflight - queue.waitingRedelivery;
}

export class LaneArbiter {
  private readonly lanes: { queue: Queue; rank: number }[] = [];

  add(queue: Queue, priority: BridgePriority): void {
    this.lanes.push({ queue, rank: PRIORITY_RANK[priority] });
  }

  /** True when no lane above `rank` has messages waiting. */
  mayTake(rank: number): boolean {
    for (const lane of this.lanes) if (lane.rank > rank && waiting(lane.queue) > 0) return false;
    return true;
  }

  /** Messages waiting in all lanes (the outbox backlog not yet in flight). */
  backlog(): number {
    let n = 0;
    for (const lane of this.lanes) n += Math.max(0, waiting(lane.queue));
    return n;
  }
}

/** A token bucket of `ratePerSecond` (burst of a tenth of a second, at least one message). */
export class CatchUpPacer {
  private tokens = 0;
  private refilledAt = 0;
  private readonly burst: number;

  constructor(readonly ratePerSecond: number) {
    this.burst = Math.max(1, Math.floor(ratePerSecond / 10));
  }

  get enabled(): boolean {
    return this.ratePerSecond > 0;
  }

  /** Starts a catch-up with an empty bucket (the first message goes at once). */
  restart(now: number): void {
    this.tokens = 1;
    this.refilledAt = now;
  }

  allows(now: number): boolean {
    if (now > this.refilledAt) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) * this.ratePerSecond) / 1000);
      this.refilledAt = now;
    }
    return this.tokens >= 1;
  }

  take(): void {
    this.tokens -= 1;
  }

  /** Milliseconds until the next message may go. */
  waitMs(): number {
    return Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.ratePerSecond));
  }
}
