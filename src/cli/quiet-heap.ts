// A compacting GC once the broker is quiet again after its heap grew (issue 13): after a storm of 50,000 short
// connections V8's old space had grown by ~9 MB of pages that were mostly free, and only V8's memory reducer gives
// such pages back. It runs 8 s after the last major GC if V8 then measures a low allocation rate, else 8 s later:
// on a loaded machine (a CPU hog beside the broker) V8's GC speeds came out lower, the first check after a storm
// said "high alloc", and 10 s after the storm RSS was still 1.30x idle (1.08x when the reducer ran in time).
// This does the same work on a rule that does not depend on the machine's load: the physical heap is GROWTH_BYTES
// above the lowest it was since the last compaction, and the broker's own CPU time was below QUIET_CPU_SHARE for
// QUIET_TICKS ticks in a row. Waiting 5 quiet seconds matters: V8 also gives the young generation's pages back in a
// full GC only when its allocation rate over the last 5 s is low (1.7 MB at 1 MiB semi-spaces). A busy broker never
// gets here (its own GCs do the work); each compaction resets the baseline, so a heap that stays big costs one GC.

import v8 from 'node:v8';
import { compactHeapNow } from './startup-heap.js';

export const TICK_MS = 1_000;
export const QUIET_TICKS = 5;
export const QUIET_CPU_SHARE = 0.05;
export const GROWTH_BYTES = 4 * 1024 * 1024;

/** What one tick reads: the heap's physical size and the CPU time the process used since the previous tick. */
export interface HeapTick {
  physicalBytes: number;
  cpuMicros: number;
  elapsedMs: number;
}

/** The decision alone, without timers or V8 (tested in test/cli/quiet-heap.test.ts). */
export class QuietCompactionRule {
  private lowest: number;
  private quietTicks = 0;

  constructor(physicalBytes: number) {
    this.lowest = physicalBytes;
  }

  /** True when a compaction is due now; the caller then runs it and reports the heap with compacted(). */
  tick(t: HeapTick): boolean {
    this.lowest = Math.min(this.lowest, t.physicalBytes);
    const quiet = t.elapsedMs > 0 && t.cpuMicros / 1000 < QUIET_CPU_SHARE * t.elapsedMs;
    this.quietTicks = quiet ? this.quietTicks + 1 : 0;
    return this.quietTicks >= QUIET_TICKS && t.physicalBytes >= this.lowest + GROWTH_BYTES;
  }

  compacted(physicalBytes: number): void {
    this.lowest = physicalBytes;
    this.quietTicks = 0;
  }
}

/** Starts the rule on an unref'd timer (never keeps the process alive); returns a function that stops it. */
export function startQuietCompaction(onCompacted?: (before: number, after: number) => void): () => void {
  const physical = () => v8.getHeapStatistics().total_physical_size;
  const rule = new QuietCompactionRule(physical());
  let cpu = process.cpuUsage();
  let at = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    const used = process.cpuUsage(cpu);
    cpu = process.cpuUsage();
    const before = physical();
    const due = rule.tick({ physicalBytes: before, cpuMicros: used.user + used.system, elapsedMs: now - at });
    at = now;
    if (!due) return;
    compactHeapNow(false);
    const after = physical();
    rule.compacted(after);
    onCompacted?.(before, after);
    cpu = process.cpuUsage(); // the GC's own CPU time is not the broker's load
    at = performance.now();
  }, TICK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
