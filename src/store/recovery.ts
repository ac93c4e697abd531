// What the store does on open after a crash or power cut: find every payload reference held by a committed
// record (the rest of the payload store is garbage from windows that never committed), and the keys left
// behind by sessions whose record is gone.

import type { Databases } from './environment.js';
import { readKeyId, readKeySeq } from './keys.js';
import type { LogRef } from './log/commit-log.js';
import { logRefOf, refOf } from './message-records.js';
import type { PayloadRef } from './payload/payload-store.js';
import { decodeRun, isRunEntry, liveRefsOf } from './runs/run-entry.js';

export interface RecoveryScan {
  /** Payload references of committed records: one entry per owner. */
  liveRefs: PayloadRef[];
  /** Log records that index entries refer to (store format 4). */
  liveLogRefs: LogRef[];
  /** Session ids with messages or QoS 2 state but no session record. */
  orphanSessionIds: Set<number>;
}

/**
 * One pass over the databases that hold messages. Reading every record also surfaces LMDB page errors
 * (MDB_CORRUPTED, MDB_PAGE_NOTFOUND) at open, where they become a StoreOpenError, rather than mid-flight.
 */
export function scanForRecovery(dbs: Databases, liveSessionIds: Set<number>): RecoveryScan {
  const liveRefs: PayloadRef[] = [];
  const liveLogRefs: LogRef[] = [];
  const orphanSessionIds = new Set<number>();
  for (const { key, value } of dbs.sessionMessages.getRange({})) {
    const sid = readKeyId(key as Buffer);
    if (!liveSessionIds.has(sid)) {
      orphanSessionIds.add(sid);
      continue;
    }
    collect(key as Buffer, value, liveRefs, liveLogRefs);
  }
  for (const key of dbs.incomingQos2.getKeys({})) {
    const sid = readKeyId(key as Buffer);
    if (!liveSessionIds.has(sid)) orphanSessionIds.add(sid);
  }
  for (const db of [dbs.retained, dbs.queueMessages]) {
    for (const { key, value } of db.getRange({})) collect(key as Buffer, value, liveRefs, liveLogRefs);
  }
  return { liveRefs, liveLogRefs, orphanSessionIds };
}

/** What one stored value holds: a payload reference, a log record, or (a run) the log records of its messages. */
function collect(key: Buffer, value: unknown, liveRefs: PayloadRef[], liveLogRefs: LogRef[]): void {
  if (isRunEntry(value)) {
    liveLogRefs.push(...liveRefsOf(decodeRun(readKeySeq(key), value)));
    return;
  }
  const ref = refOf(value);
  if (ref !== undefined) liveRefs.push(ref);
  const logRef = logRefOf(value);
  if (logRef !== undefined) liveLogRefs.push(logRef);
}
