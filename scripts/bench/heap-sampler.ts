// Opt-in memory sampler for the Node.js brokers under test (Wharf through wharf-heap.ts, Aedes through
// aedes-server.ts): every SAMPLE_MS it appends one line with process.memoryUsage() to a file, which the
// benchmark reads back (peers.ts, RunningPeer.memorySamples). Wharf has no admin API yet, so this is how the
// bench sees the broker's JavaScript heap without touching src/.
//
// Line format (bytes): `<Date.now()> <rss> <heapUsed> <heapTotal> <external> <arrayBuffers> <afterMajorGc>`
// where afterMajorGc is the highest heapUsed read right after a major (mark-sweep-compact) GC since the previous
// line, or -1 if there was none: an upper bound of the live heap, without the garbage that heapUsed includes.

import { appendFileSync } from 'node:fs';
import { PerformanceObserver, constants } from 'node:perf_hooks';

export const HEAP_FILE_ENV = 'BENCH_HEAP_FILE';
export const SAMPLE_MS = 250;

/** Starts sampling into `file` (unref'd timer: never keeps the process alive). */
export function startHeapSampler(file: string): void {
  let afterMajorGc = -1;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) afterMajorGc = Math.max(afterMajorGc, process.memoryUsage().heapUsed);
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  const sample = () => {
    const m = process.memoryUsage();
    try {
      appendFileSync(file, `${Date.now()} ${m.rss} ${m.heapUsed} ${m.heapTotal} ${m.external} ${m.arrayBuffers} ${afterMajorGc}\n`);
    } catch {
      /* the temp dir may be gone while the broker shuts down */
    }
    afterMajorGc = -1;
  };
  sample();
  setInterval(sample, SAMPLE_MS).unref();
  // With --expose-gc among the node flags, SIGUSR2 runs a full GC: a benchmark can take a baseline without garbage.
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) process.on('SIGUSR2', () => gc());
}
