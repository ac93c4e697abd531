// `wharf start` with the V8 heap sizing of its board profile (boards/<name>.json, `node` section). V8 reads these
// flags only when the process starts, so a process started without them starts the broker again as its child with
// them, forwards the stop signals and exits with the child's code. Flags already on the command line or in
// NODE_OPTIONS win and cost no second process (the systemd unit can give them: README "Memory"), except the
// embedded default's own values (EMBEDDED_NODE_FLAGS, given by npm start and the packaged launcher): a board
// replaces those.

import os from 'node:os';
import { loadBoard, nodeFlagsOf } from '../config/boards.js';
import { nodeChildProcess } from '../lazy-builtins.js';
import { loadConfigWithSources } from '../config/load.js';
import { withMallocDefaults } from './malloc-env.js';
import { writeStd } from '../log/logger.js';
import type { StartArgs } from './args.js';
import { StartExitCode } from './exit-codes.js';

/**
 * Flags every broker process gets besides its board's heap sizes. V8 compiles hot functions on its worker threads;
 * each thread's malloc arena keeps what the compiler's zones took, which came to 8 MB of RSS (about half of what
 * 50 Modbus devices added, issue 14): compiled on the main thread, the memory goes back to one arena that is reused.
 * Steady-state speed is the same (the code is the same), only the first compilation of each hot function delays
 * the event loop once, by a few ms.
 */
export const COMMON_NODE_FLAGS: readonly string[] = ['--no-concurrent-recompilation'];

/**
 * The flags `npm start` (the embedded default, package.json) runs node with: a young generation of 1 MiB
 * semi-spaces instead of V8's up to 16 MiB (which Node grows to under load and keeps: 48 MB of RSS after a storm
 * of connections); an old space of 256 MiB, as the rpi4 profile, instead of V8's default sized from the machine's
 * RAM (gigabytes), because V8 sets its first major-GC limits from it: with gigabytes, garbage promoted during a
 * storm or a steady poll stayed resident for minutes (RSS 1.2x idle 10 s after 10,000 connections; 0.99x with
 * 256), and 256 MiB is several times the live heap of the heaviest bench (backlog drain, 71 MiB); and the common
 * flags. Test: test/cli/node-flags.test.ts reads package.json.
 */
export const EMBEDDED_NODE_FLAGS: readonly string[] = ['--max-old-space-size=256', '--max-semi-space-size=1', ...COMMON_NODE_FLAGS];

/** Set in the child's environment: it runs the broker itself and never starts another process. */
export const NODE_FLAGS_CHILD_ENV = 'WHARF_NODE_FLAGS_CHILD';

/** Stop signals the parent passes on; the child's own handlers (src/cli/start.ts) stop the broker. */
const FORWARDED: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/** `--max_old_space_size=96` -> `max-old-space-size`; `--no-concurrent-recompilation` -> `concurrent-recompilation`. */
function flagName(flag: string): string {
  return flag.replace(/^-+/, '').split('=', 1)[0]!.replace(/_/g, '-').replace(/^no-/, '');
}

/** The flags of `wanted` whose name is neither in `execArgv` nor in `nodeOptions` (an operator's value wins). */
export function missingNodeFlags(wanted: string[], execArgv: readonly string[], nodeOptions = ''): string[] {
  const present = new Set([...execArgv, ...nodeOptions.split(/\s+/)].filter((a) => a.startsWith('-')).map(flagName));
  return wanted.filter((f) => !present.has(flagName(f)));
}

/**
 * The command line's node flags an operator chose: all but the embedded default's own values (npm start and the
 * packaged launcher give those to every process), which a board's sizing replaces. An operator who wants exactly
 * an embedded value against a board gives it in NODE_OPTIONS.
 */
export function operatorNodeFlags(execArgv: readonly string[]): string[] {
  return execArgv.filter((a) => !EMBEDDED_NODE_FLAGS.includes(a));
}

/** `execArgv` without the flags named in `replaced` (the child gets the board's values instead). */
function withoutFlagsOf(execArgv: readonly string[], replaced: readonly string[]): string[] {
  const names = new Set(replaced.map(flagName));
  return execArgv.filter((a) => !a.startsWith('-') || !names.has(flagName(a)));
}

/** The node flags of the configuration's board profile; none when there is no board or the configuration is invalid. */
export function boardNodeFlags(opts: StartArgs): string[] {
  try {
    const loaded = loadConfigWithSources({
      file: opts.config ?? (process.env.WHARF_CONFIG || undefined),
      overrides: { port: opts.port, wsPort: opts.wsPort, dataDir: opts.data, logLevel: opts.logLevel, admin: opts.admin },
    });
    if (loaded.board === undefined) return [];
    const profile = loadBoard(loaded.board.name, []);
    return profile === undefined ? [] : nodeFlagsOf(profile.node);
  } catch {
    return []; // runStart reports the configuration error with its exit code
  }
}

/**
 * In the child: a parent that is gone (SIGKILL, crash) can no longer pass a signal on, so its end stops the broker
 * as SIGTERM would. The IPC channel closes when the parent dies; it does not keep the child alive.
 */
function stopWhenParentGoes(): void {
  const channel = process.channel;
  if (channel === undefined) return;
  channel.unref();
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}

/**
 * Starts the broker as a child with the board's node flags when this process lacks some of them; resolves with the
 * child's exit code (128 + signal number if a signal ended it). Resolves undefined when this process is to run the
 * broker itself: no board flags, all present already, or this is the child.
 */
export function startWithNodeFlags(opts: StartArgs): Promise<number> | undefined {
  if (process.env[NODE_FLAGS_CHILD_ENV] === '1') {
    stopWhenParentGoes();
    return undefined;
  }
  const given = operatorNodeFlags(process.execArgv);
  // A board value the embedded default already gives needs no second process (rpi4's old space is 256 MiB).
  const sizing = missingNodeFlags(boardNodeFlags(opts), given, process.env.NODE_OPTIONS).filter((f) => !process.execArgv.includes(f));
  if (sizing.length === 0) return undefined;
  // The common flags ride along when a child is started anyway; alone they are not worth a second process (a
  // service unit that gives the board's sizes but not them keeps running as one process).
  const missing = [...sizing, ...missingNodeFlags([...COMMON_NODE_FLAGS], process.execArgv, process.env.NODE_OPTIONS)];
  const keptArgv = withoutFlagsOf(process.execArgv, sizing);
  // Own process group (detached): a Ctrl-C on the terminal reaches the parent only, which passes it on once; the
  // child's handlers take one signal each (process.once), a second one would kill it without a clean stop.
  const child = nodeChildProcess().spawn(process.execPath, [...keptArgv, ...missing, ...process.argv.slice(1)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...withMallocDefaults(process.env), [NODE_FLAGS_CHILD_ENV]: '1' },
    detached: true,
  });
  const forward = (signal: NodeJS.Signals) => () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  const handlers = FORWARDED.map((signal) => [signal, forward(signal)] as const);
  for (const [signal, handler] of handlers) process.on(signal, handler);
  return new Promise<number>((resolve) => {
    child.once('error', (err) => {
      writeStd(process.stderr, `wharf: cannot start the broker with ${missing.join(' ')}: ${err.message}\n`);
      resolve(StartExitCode.Failure);
    });
    child.once('exit', (code, signal) => {
      for (const [s, handler] of handlers) process.off(s, handler);
      resolve(code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0));
    });
  });
}
