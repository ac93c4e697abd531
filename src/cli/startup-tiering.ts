// V8's optimising compilers held back while `wharf start` loads and starts, given back as soon as the broker runs
// (issue 13). Resolving some 200 module files makes Node's own path and URL functions hot enough for TurboFan
// (and Sparkplug) to compile them once; that first compilation pages about 3.7 MB of the node binary's compiler code
// in and leaves its code and zone memory behind (idle RSS 58.3 -> 54.1 MB with both held), for functions that never
// run again after startup. The broker's own hot paths are compiled as before once the flags are back, so
// throughput is the same. An operator who sets any of these flags on the command line or in NODE_OPTIONS keeps
// them untouched.

import v8 from 'node:v8';

/** V8 flags (without `--`/`no-`) whose values an operator may have chosen; with any of them given, nothing is changed. */
const TIERING_FLAGS: readonly string[] = ['turbofan', 'opt', 'sparkplug', 'max-opt', 'jitless', 'lite-mode', 'always-turbofan', 'always-opt', 'always-sparkplug'];

/** `--max_opt=2` -> `max-opt`; `--no-sparkplug` -> `sparkplug`. */
function flagName(arg: string): string {
  return arg.replace(/^-+/, '').split('=', 1)[0]!.replace(/_/g, '-').replace(/^no-/, '');
}

/** True when the command line or NODE_OPTIONS sets one of the flags this module would change. */
export function operatorSetsTiering(execArgv: readonly string[], nodeOptions = ''): boolean {
  return [...execArgv, ...nodeOptions.split(/\s+/)].some((a) => a.startsWith('-') && TIERING_FLAGS.includes(flagName(a)));
}

/**
 * Turns TurboFan and Sparkplug off (V8 reads these two flags at each tier-up decision, so they take effect at
 * once) and returns the function that turns them on again; calling it more than once does nothing more.
 */
export function holdOptimisersDuringStartup(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): () => void {
  if (operatorSetsTiering(execArgv, nodeOptions)) return () => undefined;
  v8.setFlagsFromString('--no-turbofan');
  v8.setFlagsFromString('--no-sparkplug');
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    v8.setFlagsFromString('--turbofan');
    v8.setFlagsFromString('--sparkplug');
  };
}
