// glibc malloc settings every broker process starts with (issue 14). glibc reads them from the environment once,
// when the process starts, so they are set by whoever starts node: npm start (package.json), the packaged
// launcher (/usr/bin/wharf), and `wharf start` for the broker child it starts with a board's node flags.
//
// Measured with 50 Modbus devices polled every second (scripts/bench/modbus-poll.js --only load), against the
// idle broker with the same settings: without them the polling broker kept 8.4 MB more anonymous memory and 3.0 MB
// more brk heap; each libuv and V8 worker thread that touched malloc got its own arena (up to 8 per core) and
// kept what it had freed, and glibc's mmap threshold, which grows to 32 MiB once a large block is freed, turned
// the sockets' and LMDB's short-lived large blocks into brk heap that is never given back. Two arenas and a fixed
// 128 KiB threshold (glibc's starting value) keep both down. An operator's own value in the environment wins.

/** Variable -> value, as mallopt(3) documents them (M_ARENA_MAX, M_MMAP_THRESHOLD). */
export const EMBEDDED_MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '131072',
};

/** `env` with the embedded malloc settings added where it has none of its own. */
export function withMallocDefaults(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  for (const [name, value] of Object.entries(EMBEDDED_MALLOC_ENV)) if (out[name] === undefined || out[name] === '') out[name] = value;
  return out;
}

/** The settings as POSIX shell words that keep a value already in the environment: `A=${A:-2} B=${B:-131072}`. */
export function mallocShellAssignments(): string {
  return Object.entries(EMBEDDED_MALLOC_ENV)
    .map(([name, value]) => `${name}=\${${name}:-${value}}`)
    .join(' ');
}
