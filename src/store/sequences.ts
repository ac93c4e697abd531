// Sequence numbers of session and queue messages: per id, increasing, found again after a restart from the
// last key stored under the id (a reverse cursor step, no scan).

import type { Database } from 'lmdb';
import { idKey, readKeySeq, seqKey, MAX_SEQ } from './keys.js';
import { isRunEntry } from './runs/run-entry.js';

/** Highest sequence stored under `id` in a seqKey database, or 0 if there is none: a run's last message counts. */
export function lastSeq(db: Database, id: number): number {
  // Reverse iteration starts at `start` (the greatest key at or below it) and stops before `end`.
  for (const { key, value } of db.getRange({ start: seqKey(id, MAX_SEQ), end: idKey(id), reverse: true, limit: 1 })) {
    const seq = readKeySeq(key as Buffer);
    // A run's entry: [file, offset, count, ...] under its first seq (run-entry.ts).
    return isRunEntry(value) ? seq + value[2] - 1 : seq;
  }
  return 0;
}
