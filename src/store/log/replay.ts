// What open does with the commit log: the records after LMDB's checkpoint are operations that were
// acknowledged but never reached LMDB (a crash between the log's fdatasync and the index commit). They are
// applied again, in LSN order, in one LMDB transaction with the new checkpoint. Payload frees and the log's live
// records are left to reconcile, which runs after this and counts only what LMDB holds.

import { Packr } from 'msgpackr';
import type { TxnScope } from '../commit-scheduler.js';
import type { StoreContext } from '../message-records.js';
import type { CommitLog } from './commit-log.js';
import type { LogEntry } from './log-entry.js';
import { opFromLogEntry } from './log-ops.js';
import { isStringTableBody } from './log-strings.js';

const unpackr = new Packr({ useRecords: false });

const REPLAY_SCOPE: TxnScope = {
  freeAfterCommit: () => undefined,
  pendingFrees: () => new Map(),
  afterCommit: () => undefined,
  // Which log records are live is counted after replay, from LMDB (CommitLog.reconcile).
  logRecordLive: () => undefined,
  freeLogAfterCommit: () => undefined,
  // Replayed one by one, as after a failure: no operation counts on a later one.
  isolating: true,
  deferred: () => undefined,
};

/** Applies the log records after the checkpoint to LMDB; returns how many there were (string tables not counted). */
export async function replayCommitLog(ctx: StoreContext, log: CommitLog): Promise<number> {
  const { env } = ctx;
  const records = log.recordsAfter(env.checkpoint());
  if (records.length > 0) {
    const ops = records.map((record) =>
      opFromLogEntry(unpackr.unpack(record.body) as LogEntry, ctx, { file: record.file, offset: record.offset, length: record.body.length }, log.stringsOf(record.file)),
    );
    const last = records[records.length - 1]!.lsn;
    await env.transaction(() => {
      for (const op of ops) {
        try {
          env.atomically(() => op.apply(REPLAY_SCOPE));
        } catch {
          // It failed when it was first applied too (the same operation over the same state): skipped then.
        }
      }
      env.putCheckpoint(last);
    });
  }
  // Files are released by reconcile, once the live records are counted from LMDB.
  let tables = 0;
  for (const record of records) if (isStringTableBody(record.body)) tables++;
  return records.length - tables;
}
