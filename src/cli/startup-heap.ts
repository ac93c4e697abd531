// One compacting full GC once `wharf start` runs (issue 13). Startup (loading ~170 module files, the configuration,
// opening the store) leaves the old space with pages that are partly garbage; a full GC frees the garbage but V8
// only compacts, and so gives the pages back, in the GC its memory reducer starts some 8 s after startup. Until then
// the idle broker held about 0.8 MB more RSS (1.4 MB with the yaml library dropped after parsing, yaml-parse.ts).
// This asks for that compaction at once, when the broker has started and before any client connects. (The memory
// reducer also shrinks the young generation, 1.7 MB more; no GC a program can ask for does that in Node 20.)

import v8 from 'node:v8';
import vm from 'node:vm';

/** V8 flags (without `--`/`no-`) this module sets and clears; with any of them given, nothing is changed. */
const HEAP_FLAGS: readonly string[] = ['expose-gc', 'compact-on-every-full-gc'];

/** `--expose_gc` -> `expose-gc`; `--no-compact-on-every-full-gc` -> `compact-on-every-full-gc`. */
function flagName(arg: string): string {
  return arg.replace(/^-+/, '').split('=', 1)[0]!.replace(/_/g, '-').replace(/^no-/, '');
}

/** True when the command line or NODE_OPTIONS sets one of the flags this module would change. */
export function operatorSetsHeapFlags(execArgv: readonly string[], nodeOptions = ''): boolean {
  return [...execArgv, ...nodeOptions.split(/\s+/)].some((a) => a.startsWith('-') && HEAP_FLAGS.includes(flagName(a)));
}

/**
 * Runs one full GC that compacts the old space; returns false (and does nothing) when an operator's flags decide
 * these matters. The `gc` function comes from a throwaway context made while --expose-gc is set (V8 installs it in
 * contexts created with the flag on), so the broker's own global object never has it.
 */
export function compactHeapOnce(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): boolean {
  if (operatorSetsHeapFlags(execArgv, nodeOptions)) return false;
  v8.setFlagsFromString('--expose-gc');
  let gc: (() => void) | undefined;
  try {
    gc = vm.runInNewContext('gc') as () => void;
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
  v8.setFlagsFromString('--compact-on-every-full-gc');
  try {
    gc();
  } finally {
    v8.setFlagsFromString('--no-compact-on-every-full-gc');
  }
  return true;
}
