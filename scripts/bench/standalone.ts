// What the Wharf-only bench runners (lastvalue.ts, payloads.ts, ocr-shares.ts) share: the check that Wharf can run,
// writing the --json record, and exiting non-zero when main() throws.

import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { peerUnavailableReason } from './peers.js';

/** Exits with the reason when `name` cannot be started here. */
export function requirePeer(name: 'wharf'): void {
  const why = peerUnavailableReason(name);
  if (why) {
    console.error(why);
    process.exit(1);
  }
}

/** Writes the run's record, with the machine's load, to `path` when --json was given. */
export function writeJsonRecord(path: string | undefined, record: Record<string, unknown>): void {
  if (path === undefined) return;
  writeFileSync(path, JSON.stringify({ ...record, loadavg: os.loadavg() }, null, 2));
  console.log(`results: ${path}`);
}

export function runStandalone(main: () => Promise<void>): void {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
