// How write operations are named in the commit log: each logged operation gives a small msgpack-able array
// (its kind first, databases by a one-byte id), from which log-ops.ts builds the same operation again on replay.

import type { Database } from 'lmdb';

export const enum LogKind {
  Put = 0,
  Remove = 1,
  RangeRemove = 2,
  Composite = 3,
  UpdateInflight = 4,
  AppendQueueMessage = 5,
  SetDeliveryCount = 6,
  /** Store format 4: [7, session id, seq, outgoing record]; LMDB's index entry refers to this record. */
  SessionAppend = 7,
  /** Store format 4: [8, queue id, seq, queue record, replaces [seq, inline] | null]; likewise. */
  QueueAppend = 8,
  /**
   * Store format 4: [9, db id, key, from file, from offset, body of the record copied (its strings resolved),
   * length of the original body]: compaction's copy.
   */
  MoveRecord = 9,
  /** Store format 4: [10, first id, [strings]]: topics and origins later records of the file name by number (log-strings.ts). */
  StringTable = 10,
  /**
   * Store format 5: [11, db id, key of a run, from file, from offset, [body of each record of the run, its
   * strings resolved; empty for a removed one]]: compaction's copy of a whole run, which then refers to this one
   * record for all of them (log-compactor.ts).
   */
  MoveRun = 11,
}

export type LogEntry = [LogKind, ...unknown[]];

/**
 * The databases a log entry may name, by a one-byte id (its index here: msgpack writes 0..127 in one byte). The
 * order is part of the store format: append, never reorder. Store format 2 named them by string.
 */
const LOG_DATABASES = ['meta', 'sessions', 'sessionMessages', 'incomingQos2', 'retained', 'queues', 'queueMessages', 'consumers'] as const;

const ids = new WeakMap<Database, number>();

/** Remembers the id of each database of an environment (by its field name in Databases). */
export function registerDatabaseNames(dbs: Record<string, Database>): void {
  for (const [name, db] of Object.entries(dbs)) {
    const id = (LOG_DATABASES as readonly string[]).indexOf(name);
    if (id >= 0) ids.set(db, id);
  }
}

/** The database's log id; throws for one without (its operations are then committed to LMDB directly). */
export function databaseId(db: Database): number {
  const id = ids.get(db);
  if (id === undefined) throw new Error('database without a commit-log id');
  return id;
}

/** The field name in Databases of a log id, undefined for an unknown one. */
export function databaseOfId(id: unknown): string | undefined {
  return typeof id === 'number' ? LOG_DATABASES[id] : undefined;
}
