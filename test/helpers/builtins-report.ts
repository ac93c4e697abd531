// Reads the built-in modules a child started with the builtins-probe preload has loaded (test/helpers/builtins-probe.ts).

import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The preload to give the child: `node --import BUILTINS_PROBE ...`, with WHARF_TEST_BUILTINS_FILE in its env. */
export const BUILTINS_PROBE = fileURLToPath(new URL('./builtins-probe.js', import.meta.url));

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Asks the child for its built-in modules and waits (bounded) for the answer. */
export async function loadedBuiltins(pid: number, file: string): Promise<string[]> {
  if (existsSync(file)) unlinkSync(file);
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 500 && !existsSync(file); i++) await sleep(20);
  return JSON.parse(readFileSync(file, 'utf8')) as string[];
}
