// Sequence numbers of session and queue messages: per id, increasing, found again after a restart from the
// last key stored under the id (a reverse cursor step, no scan).

import type { Database } from 'lmdb';
import { idPrefixRange, readKeySeq } from './keys.js';

/** Highest sequence stored under `id` in a seqKey database, or 0 if there is none. */
export function lastSeq(db: Database, id: number): number {
  const range = idPrefixRange(id);
  // Reverse iteration starts at `start` (the next id's prefix, or the end of the database) and stops at `end`.
  const options =
    range.end === undefined
      ? { end: range.start, reverse: true, limit: 1 }
      : { start: range.end, end: range.start, reverse: true, limit: 1 };
  for (const key of db.getKeys(options)) return readKeySeq(key as Buffer);
  return 0;
}
