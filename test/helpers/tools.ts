// System tools used by tests (mosquitto_pub/sub, openssl, ...): a test that needs one is registered through
// requireTool(). Present: the test runs. Missing: locally a loud skip, counted by uvu ("Skipped: K" in its
// summary, which .ci/run turns into the closing line) and listed again when the run ends; under CI=true a failure.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import type { Callback, Test } from 'uvu';

const found = new Map<string, boolean>();

/** Whether `name` is on the PATH (or in /usr/sbin); looked up once per name, silently. */
function installed(name: string): boolean {
  let ok = found.get(name);
  if (ok === undefined) {
    try {
      execFileSync('sh', ['-c', `PATH="$PATH:/usr/sbin" command -v ${name}`], { stdio: 'ignore' });
      ok = true;
    } catch {
      ok = false;
    }
    found.set(name, ok);
  }
  return ok;
}

/** Registers tests on a suite, or skips (counted) / fails (CI=true) them; `available` is for hooks. */
export interface ConditionalTest {
  (name: string, fn: Callback): void;
  readonly available: boolean;
}

const skipped: string[] = [];
process.once('exit', () => {
  if (skipped.length === 0) return;
  const bar = '!'.repeat(78);
  process.stderr.write(`\n${bar}\n!! ${skipped.length} test(s) SKIPPED, not passed (under CI=true they fail):\n${skipped.map((s) => `!!   ${s}\n`).join('')}${bar}\n`);
});

/**
 * Tests of `test` registered through the result run when `missing` is undefined. Otherwise each is skipped with
 * uvu's test.skip (so the summary counts it) and a loud line, or, under CI=true, registered as a test that fails
 * with `missing`: CI installs everything the suite needs, so a skip there would hide a broken setup.
 */
export function requireAvailable(test: Test, missing: string | undefined): ConditionalTest {
  const register = (name: string, fn: Callback): void => {
    if (missing === undefined) test(name, fn);
    else if (process.env.CI === 'true') test(name, () => assertNever(`${missing} (CI=true: required)`));
    else {
      test.skip(name, fn);
      skipped.push(`${name}: ${missing}`);
      process.stderr.write(`\n!!! SKIPPED (${missing}): ${name}\n`);
    }
  };
  return Object.assign(register, { available: missing === undefined });
}

/** Debian packages of the tools tests use, for the message that says what to install. */
const PACKAGE_OF: Record<string, string> = { mosquitto_pub: 'mosquitto-clients', mosquitto_sub: 'mosquitto-clients', mosquitto: 'mosquitto', openssl: 'openssl', socat: 'socat' };

/** requireAvailable() for system tools: every one of `tools` must be installed. */
export function requireTool(test: Test, ...tools: string[]): ConditionalTest {
  const absent = tools.filter((t) => !installed(t));
  if (absent.length === 0) return requireAvailable(test, undefined);
  const packages = [...new Set(absent.map((t) => PACKAGE_OF[t] ?? t))];
  return requireAvailable(test, `${absent.join(', ')} not installed (apt-get install ${packages.join(' ')})`);
}

function assertNever(message: string): never {
  throw new Error(message);
}

export interface ToolRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, killing it after `timeoutMs`. */
export function run(cmd: string, args: string[], timeoutMs = 10000): Promise<ToolRun> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts a long-running command and resolves once `ready` matches its output (or after `settleMs`). */
export function startProcess(cmd: string, args: string[]): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

export async function waitFor(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** `p`, or a failure naming `what` if it has not settled within `timeoutMs` (a bound, not a speed check). */
export async function within<T>(p: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}
