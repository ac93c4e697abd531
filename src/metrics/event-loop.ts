// Event-loop lag: how late timers and I/O callbacks run. perf_hooks samples it in libuv (one timer at
// `resolutionMs`), not on the message path; the histogram is read and reset once per sampling window.

import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export interface EventLoopLag {
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

const NS_PER_MS = 1e6;

export class EventLoopMonitor {
  private histogram: IntervalHistogram | null = null;
  /** The last complete window, so a scrape right after a reset does not read an empty histogram. */
  private last: EventLoopLag = { meanMs: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 };

  constructor(private readonly resolutionMs = 20) {}

  start(): void {
    if (this.histogram !== null) return;
    this.histogram = monitorEventLoopDelay({ resolution: this.resolutionMs });
    this.histogram.enable();
  }

  stop(): void {
    this.histogram?.disable();
    this.histogram = null;
  }

  /** Closes the current window: its figures become what lag() reports until the next window closes. */
  roll(): void {
    const h = this.histogram;
    if (h === null || h.count === 0) return;
    // The histogram includes the sampling resolution itself; subtract it so an idle loop reads about 0.
    const lag = (ns: number) => Math.max(0, ns / NS_PER_MS - this.resolutionMs);
    this.last = { meanMs: lag(h.mean), p50Ms: lag(h.percentile(50)), p99Ms: lag(h.percentile(99)), maxMs: lag(h.max) };
    h.reset();
  }

  lag(): EventLoopLag | null {
    return this.histogram === null ? null : this.last;
  }
}
