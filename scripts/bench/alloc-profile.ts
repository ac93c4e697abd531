// Allocation profile of the process it runs in, garbage included: V8's sampling heap profiler with the objects
// that minor and major GCs collected kept in the samples (plain --heap-prof keeps only what is still alive).
// With BENCH_ALLOC_PROFILE=<file> set, wharf-heap.ts starts it; the profile is written when the process exits.
// Summarise with: node dist/scripts/bench/alloc-top.js <file> [N]

import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

export const ALLOC_PROFILE_ENV = 'BENCH_ALLOC_PROFILE';

export function startAllocationProfile(file: string): void {
  const session = new Session();
  session.connect();
  session.post('HeapProfiler.enable');
  session.post('HeapProfiler.startSampling', {
    samplingInterval: 32 * 1024,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  process.once('exit', () => {
    // post() runs synchronously on the main thread's session, so the profile is written before the exit completes.
    session.post('HeapProfiler.stopSampling', (err, result) => {
      if (err === null) writeFileSync(file, JSON.stringify((result as { profile: unknown }).profile));
    });
  });
}
