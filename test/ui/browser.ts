// Debian's chromium driven headless by playwright-core for the status page tests: nothing downloads a browser,
// the system one at CHROMIUM_PATH (default /usr/bin/chromium) runs with a fresh profile per launch.

import { readFileSync } from 'node:fs';
import type { Test } from 'uvu';
import { requireTool, type ConditionalTest } from '../helpers/tools.js';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The suite's tests run when chromium is installed (requireTool: skipped loudly locally, failing under CI). */
export function requireChromium(test: Test): ConditionalTest {
  return requireTool(test, 'chromium');
}

export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  // --no-sandbox: CI runs as root, where chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}

/** Width and height from a PNG's IHDR chunk, and its size in bytes. */
export function pngInfo(path: string): { width: number; height: number; bytes: number } {
  const buf = readFileSync(path);
  if (buf.subarray(1, 4).toString('latin1') !== 'PNG' || buf.subarray(12, 16).toString('latin1') !== 'IHDR') throw new Error(`${path}: not a PNG`);
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20), bytes: buf.length };
}
