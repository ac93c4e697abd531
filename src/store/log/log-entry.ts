// How write operations are named in the commit log: each logged operation gives a small msgpack-able array
// (its kind first, databases by name), from which log-ops.ts builds the same operation again on replay.

import type { Database } from 'lmdb';

export const enum LogKind {
  Put = 0,
  Remove = 1,
  RangeRemove = 2,
  Composite = 3,
  UpdateInflight = 4,
  AppendQueueMessage = 5,
  SetDeliveryCount = 6,
}

export type LogEntry = [LogKind, ...unknown[]];

const names = new WeakMap<Database, string>();

/** Remembers the name of each database of an environment, so operations can name theirs in the log. */
export function registerDatabaseNames(dbs: Record<string, Database>): void {
  for (const [name, db] of Object.entries(dbs)) names.set(db, name);
}

export function databaseName(db: Database): string {
  const name = names.get(db);
  if (name === undefined) throw new Error('database without a registered name');
  return name;
}
