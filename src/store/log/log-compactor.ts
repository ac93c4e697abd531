// Compaction of commit-log files (store format 4): a sealed log file whose live records (messages LMDB index
// entries refer to) fill less than `ratio` of it has them copied forward, each as a MoveRecord entry logged like
// any operation, whose own record then holds the message; applying it repoints the index entry. A run's messages
// (store format 5) are copied together into one MoveRun record, which the run then refers to for all of them. The old file is
// released once its last record is no longer referred to.
//
// Crash safety: a copy is acknowledged only once the log holds it (fdatasync); the repoint reaches LMDB in an
// index commit, or on replay at open (the entry repoints only if it still names the old record, so a message
// removed meanwhile stays removed). Until then the old record is still live and its file stays.

import type { Database } from 'lmdb';
import type { TxnScope, WriteOp } from '../commit-scheduler.js';
import { readKeySeq } from '../keys.js';
import { isIndexEntry, logRefOf, loggedRecord, moveBody, packedBodies, type StoreContext } from '../message-records.js';
import { messageIndexOf, placeOf, type RunPlace } from '../runs/message-index.js';
import { decodeRun, isRemoved, isRunEntry, recordRef, type RunEntry } from '../runs/run-entry.js';
import { packLogRef, type CommitLog, type LogRef } from './commit-log.js';
import { LogKind, databaseId, type LogEntry } from './log-entry.js';

/** Moves one index entry's message to a copy of its log record (or, committed without the log, into LMDB). */
export class MoveRecordOp implements WriteOp {
  readonly grows = false;
  readonly payloadBytes = 0;
  readonly stagedRefs = undefined;
  readonly bytes: number;
  private logRef: LogRef | undefined;

  constructor(
    private readonly ctx: StoreContext,
    private readonly db: Database,
    private readonly key: Buffer,
    private readonly from: LogRef,
    private readonly body: Buffer,
    logRef?: LogRef,
  ) {
    this.bytes = 32;
    this.logRef = logRef;
  }

  apply(scope: TxnScope): void {
    const value = this.db.get(this.key) as unknown[] | undefined;
    const current = logRefOf(value);
    // Removed or moved meanwhile: the copy is dead at birth.
    if (value === undefined || current === undefined || current.file !== this.from.file || current.offset !== this.from.offset) return;
    const entry = value.slice();
    if (this.logRef !== undefined) {
      entry[0] = packLogRef(this.logRef);
      scope.logRecordLive(this.logRef);
    } else {
      // Committed to LMDB directly (near a space limit): the entry becomes a whole record, which frees the file too.
      const whole = loggedRecord(this.body);
      if (this.db === this.ctx.dbs.queueMessages) entry.push(...whole.slice(2));
      entry[0] = whole[0];
    }
    this.db.put(this.key, entry);
    scope.freeLogAfterCommit(this.from);
  }

  logEntry(): LogEntry {
    return [LogKind.MoveRecord, databaseId(this.db), this.key, this.from.file, this.from.offset, this.body, this.from.length];
  }

  logged(ref: LogRef): void {
    this.logRef = ref;
  }
}

/**
 * Moves a run's messages (runs/run-entry.ts) to one copy holding all their bodies, a MoveRun record (or, committed
 * without the log, makes them records of their own in LMDB).
 */
export class MoveRunOp implements WriteOp {
  readonly grows = false;
  readonly payloadBytes = 0;
  readonly stagedRefs = undefined;
  readonly bytes: number;
  private logRef: LogRef | undefined;

  constructor(
    private readonly ctx: StoreContext,
    private readonly db: Database,
    private readonly key: Buffer,
    private readonly from: RunPlace,
    private readonly bodies: readonly Buffer[],
    logRef?: LogRef,
  ) {
    this.bytes = 32 + 4 * bodies.length;
    this.logRef = logRef;
  }

  apply(scope: TxnScope): void {
    const index = messageIndexOf(this.db);
    if (index === undefined) throw new Error('a run moved in a database without runs');
    index.moveRun(scope, this.key, this.from, this.bodies, this.logRef, (body) => loggedRecord(body) as unknown[]);
  }

  logEntry(): LogEntry {
    return [LogKind.MoveRun, databaseId(this.db), this.key, this.from.file, this.from.offset, this.bodies];
  }

  logged(ref: LogRef): void {
    this.logRef = ref;
  }
}

/** The body of each message of a run as a copy carries it (strings resolved), empty for a removed one. */
async function runBodies(log: CommitLog, run: RunEntry): Promise<Buffer[]> {
  const bodies: Buffer[] = new Array<Buffer>(run.count).fill(EMPTY);
  if (run.packed !== undefined) {
    const packed = packedBodies(await log.read(run.packed));
    for (let i = 0; i < run.count; i++) if (!isRemoved(run, i)) bodies[i] = packed[i] ?? EMPTY;
    return bodies;
  }
  const live: number[] = [];
  for (let i = 0; i < run.count; i++) if (!isRemoved(run, i)) live.push(i);
  const read = await log.readMany(live.map((i) => recordRef(run, i)));
  const strings = log.stringsOf(run.file);
  live.forEach((i, j) => (bodies[i] = moveBody(read[j]!, strings)));
  return bodies;
}

const EMPTY = Buffer.alloc(0);

export interface LogCompactionReport {
  filesCompacted: number;
  recordsMoved: number;
}

const SCAN_CHUNK = 2000;

/** Finds mostly-dead log files and moves their live records forward; one round at a time. */
export class LogCompactor {
  readonly totals: LogCompactionReport = { filesCompacted: 0, recordsMoved: 0 };

  constructor(
    private readonly ctx: StoreContext,
    private readonly ratio: number,
    private readonly maxBytesPerRound: number,
  ) {}

  /** The sparse files one round takes: as many as fit in maxBytesPerRound of live records (at least one). */
  private pick(): number[] {
    const picked: number[] = [];
    let bytes = 0;
    for (const usage of this.ctx.log.sparseFiles(this.ratio)) {
      if (picked.length > 0 && bytes + usage.liveBytes > this.maxBytesPerRound) break;
      picked.push(usage.file);
      bytes += usage.liveBytes;
    }
    return picked;
  }

  /**
   * One round; `stopped` is polled between chunks. Resolves when the moves are in LMDB. Without `catchUp` (the
   * compactor's timer) files are chosen from the removals LMDB holds, and a round that finds none commits no index.
   */
  async compact(stopped: () => boolean = () => false, catchUp = true): Promise<LogCompactionReport> {
    const report: LogCompactionReport = { filesCompacted: 0, recordsMoved: 0 };
    const { log, scheduler } = this.ctx;
    if (!catchUp && this.pick().length === 0) return report;
    // The checkpoint must cover what was acknowledged, and removals must have freed their records.
    await scheduler.indexNow();
    const picked = this.pick();
    if (picked.length === 0) return report;
    log.setCompacting(picked, true);
    const moves: Promise<void>[] = [];
    try {
      const files = new Set(picked);
      const { dbs } = this.ctx;
      for (const db of [dbs.sessionMessages, dbs.queueMessages]) {
        let start: Buffer | undefined;
        for (;;) {
          let seen = 0;
          let last: Buffer | undefined;
          const found: [Buffer, LogRef][] = [];
          const runs: [Buffer, RunEntry][] = [];
          for (const { key, value } of db.getRange({ start, limit: SCAN_CHUNK + 1 })) {
            const k = key as Buffer;
            if (start !== undefined && seen === 0 && k.equals(start)) continue;
            seen++;
            last = k;
            if (isRunEntry(value)) {
              const run = decodeRun(readKeySeq(k), value);
              if (run.live > 0 && files.has(placeOf(run).file)) runs.push([Buffer.from(k), run]);
              continue;
            }
            if (!isIndexEntry(value)) continue;
            const ref = logRefOf(value)!;
            if (files.has(ref.file)) found.push([Buffer.from(k), ref]);
          }
          for (const [key, ref] of found) {
            let body: Buffer;
            try {
              body = moveBody(await log.read(ref), log.stringsOf(ref.file));
            } catch {
              continue; // unreadable: the entry keeps its reference (reads report the corruption)
            }
            moves.push(scheduler.enqueue(new MoveRecordOp(this.ctx, db, key, ref, body)).then(() => void report.recordsMoved++, () => undefined));
          }
          for (const [key, run] of runs) {
            let bodies: Buffer[];
            try {
              bodies = await runBodies(log, run);
            } catch {
              continue; // unreadable: the run keeps its place (reads report the corruption)
            }
            const op = new MoveRunOp(this.ctx, db, key, placeOf(run), bodies);
            moves.push(scheduler.enqueue(op).then(() => void (report.recordsMoved += run.live), () => undefined));
          }
          if (last === undefined || seen < SCAN_CHUNK || stopped()) break;
          start = Buffer.from(last);
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
      await Promise.all(moves);
      await scheduler.indexNow();
    } finally {
      log.setCompacting(picked, false);
    }
    for (const id of picked) if (log.liveRecords(id) === 0) report.filesCompacted++;
    await log.release(0);
    this.totals.filesCompacted += report.filesCompacted;
    this.totals.recordsMoved += report.recordsMoved;
    return report;
  }
}
