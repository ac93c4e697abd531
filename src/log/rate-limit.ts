// One log line per key per window: a condition that repeats per message (a full queue, a client guessing
// tokens) is said once, then again at most every window with how many times it happened in between.

export class LogRateLimit {
  private readonly seen = new Map<string, { loggedAt: number; suppressed: number }>();

  constructor(
    readonly windowMs: number,
    /** Bounds the memory a flood of distinct keys (addresses of a scan) can take. */
    private readonly maxKeys = 1000,
  ) {}

  /**
   * Undefined when `key` was logged less than a window ago (the occurrence is counted); otherwise how many
   * occurrences were not logged since the last line (0 the first time): log now.
   */
  take(key: string, now = Date.now()): number | undefined {
    const entry = this.seen.get(key);
    if (entry !== undefined && now - entry.loggedAt < this.windowMs) {
      entry.suppressed++;
      return undefined;
    }
    if (entry === undefined && this.seen.size >= this.maxKeys) this.seen.clear();
    this.seen.set(key, { loggedAt: now, suppressed: 0 });
    return entry?.suppressed ?? 0;
  }
}
