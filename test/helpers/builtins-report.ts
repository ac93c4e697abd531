// A real `wharf start` child with the builtins-probe preload (test/helpers/builtins-probe.ts), for tests of what a
// running broker has loaded: its output, its exit, and the built-in modules it reports on SIGUSR2.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WHARF_MAIN } from './broker-process.js';

const BUILTINS_PROBE = fileURLToPath(new URL('./builtins-probe.js', import.meta.url));

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface ProbedWharf {
  readonly child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Its exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** Waits (bounded) until its output holds `text` or it exits; true if the text came. */
  waitForOutput(text: string): Promise<boolean>;
  /** The built-in modules it has loaded now. */
  builtins(): Promise<string[]>;
  /** SIGTERM, SIGKILL if it has not exited 15 s later; resolves with its exit code. */
  terminate(): Promise<number | null>;
  /** After the test, whatever happened: SIGKILL if it still runs, and waits for its exit. */
  dispose(): Promise<void>;
}

/** Starts `wharf start --config <config>`; the probe's answers go to a file in `dir`. */
export function startProbedWharf(config: string, dir: string): ProbedWharf {
  const file = join(dir, 'builtins.json');
  const child = spawn(process.execPath, ['--import', BUILTINS_PROBE, WHARF_MAIN, 'start', '--config', config], {
    env: { ...process.env, WHARF_TEST_BUILTINS_FILE: file },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  let killer: NodeJS.Timeout | undefined;
  return {
    child,
    output: () => out,
    exited,
    async waitForOutput(text) {
      for (let i = 0; i < 500 && !out.includes(text) && child.exitCode === null; i++) await sleep(20);
      return out.includes(text);
    },
    async builtins() {
      if (existsSync(file)) unlinkSync(file);
      child.kill('SIGUSR2');
      for (let i = 0; i < 500 && !existsSync(file); i++) await sleep(20);
      return JSON.parse(readFileSync(file, 'utf8')) as string[];
    },
    terminate() {
      child.kill('SIGTERM');
      killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      return exited;
    },
    async dispose() {
      clearTimeout(killer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
