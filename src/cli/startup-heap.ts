// One compacting full GC once `wharf start` runs (issue 13). Startup (loading ~170 module files, the configuration,
// opening the store) leaves the old space with pages that are partly garbage; a full GC frees the garbage but V8
// only compacts, and so gives the pages back, in the GC its memory reducer starts some 8 s after startup. Until then
// the idle broker held about 0.8 MB more RSS (1.4 MB with the yaml library dropped after parsing, yaml-parse.ts).
// This asks for that compaction at once, when the broker has started and before any client connects. (The memory
// reducer also shrinks the young generation, 1.7 MB more; no GC a program can ask for does that in Node 20.)
// The same GC drops the bytecode of the functions startup ran (configuration checks, store opening, restore): V8
// flushes bytecode not run for 5 full GCs, but a GC a program asks for leaves the ages as they are, so without
// --stress-flush-code (set for this one GC only: flush whatever is not running, whatever its age) they stayed until
// the memory reducer's GCs had aged them. A flushed function that runs again is compiled again from its source,
// once. Idle RSS -0.3 MB (issue 13).

import v8 from 'node:v8';
import vm from 'node:vm';

/** V8 flags (without `--`/`no-`) this module sets and clears; with any of them given, nothing is changed. */
const HEAP_FLAGS: readonly string[] = ['expose-gc', 'compact-on-every-full-gc', 'stress-flush-code', 'flush-bytecode'];

/** `--expose_gc` -> `expose-gc`; `--no-compact-on-every-full-gc` -> `compact-on-every-full-gc`. */
function flagName(arg: string): string {
  return arg.replace(/^-+/, '').split('=', 1)[0]!.replace(/_/g, '-').replace(/^no-/, '');
}

/** True when the command line or NODE_OPTIONS sets one of the flags this module would change. */
export function operatorSetsHeapFlags(execArgv: readonly string[], nodeOptions = ''): boolean {
  return [...execArgv, ...nodeOptions.split(/\s+/)].some((a) => a.startsWith('-') && HEAP_FLAGS.includes(flagName(a)));
}

/**
 * Runs `work` with a `gc` function from a throwaway context made while --expose-gc is set (V8 installs it in
 * contexts created with the flag on), so the broker's own global object never has it. The context is garbage
 * once `work` returns.
 */
function withGc(work: (gc: () => void) => void): void {
  v8.setFlagsFromString('--expose-gc');
  let gc: (() => void) | undefined;
  try {
    gc = vm.runInNewContext('gc') as () => void;
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
  work(gc);
}

/** One full GC with --compact-on-every-full-gc (and --stress-flush-code when `flushCode`) set for it alone. */
export function compactHeapNow(flushCode: boolean): void {
  withGc((gc) => {
    v8.setFlagsFromString('--compact-on-every-full-gc');
    if (flushCode) v8.setFlagsFromString('--stress-flush-code');
    try {
      gc();
    } finally {
      if (flushCode) v8.setFlagsFromString('--no-stress-flush-code');
      v8.setFlagsFromString('--no-compact-on-every-full-gc');
    }
  });
}

/**
 * Runs one full GC that compacts the old space and flushes the bytecode startup ran; returns false (and does
 * nothing) when an operator's flags decide these matters.
 */
export function compactHeapOnce(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): boolean {
  if (operatorSetsHeapFlags(execArgv, nodeOptions)) return false;
  compactHeapNow(true);
  return true;
}
