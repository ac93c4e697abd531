// Per-second rates from the counters: sampled on a timer (never on the message path), the rate being the
// counter's growth between the last two samples.

export interface RateSample {
  at: number;
  values: number[];
}

/** Rates of a fixed list of counters for one subject (the broker, one queue). */
export class RateTracker {
  private previous: RateSample | null = null;
  private rates: number[] | null = null;

  /** Records the counters now; from the second sample on, rates() has values. */
  sample(at: number, values: number[]): void {
    const prev = this.previous;
    if (prev !== null && at > prev.at) {
      const seconds = (at - prev.at) / 1000;
      // A counter that went down was reset (a queue re-created under the same name): no negative rates.
      this.rates = values.map((v, i) => Math.max(0, (v - prev.values[i]!) / seconds));
    }
    this.previous = { at, values };
  }

  /** Per-second rates, in the order of the sampled values; null until two samples were taken. */
  current(): readonly number[] | null {
    return this.rates;
  }
}
