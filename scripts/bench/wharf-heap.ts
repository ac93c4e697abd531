// Starts Wharf's CLI (dist/src/cli/main.js, same arguments) with the memory sampler of heap-sampler.ts running
// in the broker process when BENCH_HEAP_FILE is set. Usage: node [flags] wharf-heap.js start --config <file>
// The CLI reads process.argv.slice(2), which is exactly the arguments given here.

import { ALLOC_PROFILE_ENV, startAllocationProfile } from './alloc-profile.js';
import { HEAP_FILE_ENV, startHeapSampler } from './heap-sampler.js';

const file = process.env[HEAP_FILE_ENV];
if (file) startHeapSampler(file);
const allocFile = process.env[ALLOC_PROFILE_ENV];
if (allocFile) startAllocationProfile(allocFile);
// A computed specifier: dist/scripts/bench -> dist/src/cli/main.js, loaded at run time (not type-checked here).
await import(new URL('../../src/cli/main.js', import.meta.url).href);
