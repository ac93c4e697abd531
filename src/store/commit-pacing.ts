// When the next group commit may start (DESIGN.md, "Durability contract"): at once when the disk is idle, so
// that batching comes from the disk's own latency; never sooner than 1000 / commitMaxPerSecond ms after the
// previous commit started (the flash-wear bound); and, while commits run back to back at a high rate, only once
// a minimum batch waits, but never later than commitIntervalMs after the oldest waiting write arrived. A window
// of background writes only (removals and updates nobody answers after: store.ts) waits commitIntervalMs for
// other writes to share its fsync: a consumer's acknowledgements then ride with the next publish instead of
// costing a flush of their own, which a publisher with one message in flight would wait behind.
// "A high rate" is measured over the last second (RATE_SPAN_MS), not read off one pair of commits: a writer that
// appends again inside its durability callback makes every pair look back to back, and must still get one commit
// per write until its rate really passes half the cap.

export interface CommitPacingOptions {
  /** Longest a write waits for its commit to start (the minimum batch never holds it longer). */
  commitIntervalMs: number;
  /** Most commits started per second: consecutive starts are at least 1000 / this ms apart. */
  commitMaxPerSecond: number;
  /**
   * While commits run back to back and more than half of commitMaxPerSecond started over the last second, a
   * commit waits until this many bytes are queued.
   */
  commitMinBatchBytes: number;
}

/** Time and timers of the scheduler: the real ones in production, a hand-driven one in tests. */
export interface CommitClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const REAL_CLOCK: CommitClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** What the pacer needs to know about the oldest window waiting for its commit. */
export interface WaitingWindow {
  readonly bytes: number;
  /** clock.now() when its first operation arrived. */
  readonly openedAt: number;
  /** True once it holds commitMaxBytes: it cannot grow, so waiting for more is pointless. */
  readonly full: boolean;
  /** False while it holds background writes only: it may wait commitIntervalMs for company. */
  readonly urgent: boolean;
}

/** Why dueAt() holds a window back: nothing but the rate cap, the minimum batch, or background writes only. */
export type CommitWait = 'cap' | 'batch' | 'background';

/**
 * The span the commit rate is measured over. Long against one commit (a fraction of a millisecond to a few), so
 * a burst of back-to-back commits has to last before the minimum batch holds anything back.
 */
export const RATE_SPAN_MS = 1000;

export class CommitPacer {
  private readonly spacingMs: number;
  /** recentStarts (decayed to now) at or above this: over half of commitMaxPerSecond during the last RATE_SPAN_MS. */
  private readonly highRateStarts: number;
  private lastStartAt = Number.NEGATIVE_INFINITY;
  /**
   * Commit starts counted with weight exp(-age / RATE_SPAN_MS), as of lastStartAt: at a steady rate of r per
   * second it settles at about r * RATE_SPAN_MS / 1000, and it forgets a burst within a few spans. O(1), where a
   * list of start times would hold up to commitMaxPerSecond entries.
   */
  private recentStarts = 0;
  /** Operations were already waiting when the last commit finished: the disk, not the writers, sets the pace. */
  private backToBack = false;

  constructor(private readonly options: CommitPacingOptions) {
    this.spacingMs = 1000 / options.commitMaxPerSecond;
    this.highRateStarts = (options.commitMaxPerSecond / 2) * (RATE_SPAN_MS / 1000);
  }

  /**
   * Clock time at which the commit of `window` may start; `now` or earlier means at once. `flushing` (a flush or
   * close waits) drops the minimum batch, never the rate cap: wear stays bounded under backpressure too.
   */
  dueAt(window: WaitingWindow, now: number, flushing: boolean): number {
    const allowed = this.lastStartAt + this.spacingMs;
    return this.waitFor(window, now, flushing) === 'cap' ? allowed : Math.max(allowed, window.openedAt + this.options.commitIntervalMs);
  }

  /**
   * What holds the window back beyond the rate cap: 'batch' (more bytes may make it due sooner), 'background'
   * (a write someone waits for would make it due at once), or only the cap.
   */
  waitFor(window: WaitingWindow, now: number, flushing: boolean): CommitWait {
    if (flushing || window.full) return 'cap';
    if (!window.urgent) return 'background';
    if (window.bytes >= this.options.commitMinBatchBytes || !this.highRate(now)) return 'cap';
    return 'batch';
  }

  started(now: number): void {
    this.recentStarts = this.startsDecayedTo(now) + 1;
    this.lastStartAt = now;
  }

  finished(moreWaiting: boolean): void {
    this.backToBack = moreWaiting;
  }

  /** Commits follow each other without a pause, and over the last second more than half the cap started. */
  private highRate(now: number): boolean {
    return this.backToBack && this.startsDecayedTo(now) >= this.highRateStarts;
  }

  private startsDecayedTo(now: number): number {
    if (this.recentStarts === 0) return 0;
    return this.recentStarts * Math.exp(-(now - this.lastStartAt) / RATE_SPAN_MS);
  }
}
