// Compaction of payload segments: a sealed segment whose live payloads fill less than `ratio` of it has them
// copied forward and the records referring to them rewritten in one commit; the segment is then deleted.
//
// Crash safety comes from the commit order: the copies are staged in the payload store and flushed (fdatasync)
// before the LMDB commit that rewrites the references; the old segment is dropped only after that commit is
// durable. A crash before the commit leaves unreferenced copies (cut or compacted later); after it, an
// unreferenced old segment, which the next open deletes.
//
// Which records refer to a segment is found by scanning the message tables in chunks outside the write
// transaction (no index to maintain per message). The scan may miss records added meanwhile, so the commit
// checks every payload's owner count against the records it rewrote and gives up on the segment on a mismatch:
// a reference is never left pointing at a segment about to be deleted.

import type { Database } from 'lmdb';
import type { TxnScope, WriteOp } from './commit-scheduler.js';
import { LogCompactor } from './log/log-compactor.js';
import { refOf, type MessageRecord, type StoreContext } from './message-records.js';
import { packRef, type PayloadRef } from './payload/payload-store.js';

export interface CompactorOptions {
  /** Segments whose live payload bytes are below this fraction of their size are compacted. Default 0.25. */
  ratio: number;
  /** Live payload bytes copied per round at most (bounds one commit). Default 16 MiB. */
  maxBytesPerRound: number;
  /** How often to look for segments to compact; 0 = only when compact() is called. Default 1000. */
  intervalMs: number;
}

export interface CompactionReport {
  segmentsCompacted: number;
  payloadsMoved: number;
  bytesCopied: number;
  /** Segments given up on this round (owners found changed, a read failed): tried again later. */
  segmentsSkipped: number;
}

/** What compaction needs to know of the disk (the store's CapacityGuard). */
export interface CompactionSpace {
  /** True while the store refuses writes (payloads among them) for lack of space. */
  shortOfSpace(): boolean;
  /** Bytes the disk can take now, the free-space reserve included. */
  spareDiskBytes(): Promise<number>;
}

/** A record that refers to a payload of a segment being compacted. */
interface Owner {
  db: Database;
  key: Buffer;
}

interface Move {
  from: PayloadRef;
  to: PayloadRef;
  owners: Owner[];
}

const SCAN_CHUNK = 2000;
/** Room kept beyond the copies themselves while the store is full: padding per flush, a new segment's header. */
const COPY_MARGIN_BYTES = 64 * 1024;

/** Rewrites the references of one segment's live payloads to their copies, all or nothing. */
class RelocateOp implements WriteOp {
  readonly grows = false;
  readonly payloadBytes = 0;
  readonly bytes: number;
  readonly stagedRefs: readonly PayloadRef[];

  constructor(
    private readonly ctx: StoreContext,
    private readonly segment: number,
    private readonly moves: Move[],
  ) {
    this.bytes = moves.reduce((sum, m) => sum + 48 * m.owners.length, 0);
    this.stagedRefs = moves.map((m) => m.to);
  }

  apply(scope: TxnScope): void {
    const freed = scope.pendingFrees(this.segment);
    const done: [PayloadRef, PayloadRef, number][] = [];
    for (const move of this.moves) {
      // Owners now = records holding the reference, plus those removed earlier in this transaction.
      const expected = this.ctx.payloads.owners(move.from) - (freed.get(move.from.offset) ?? 0);
      let rewritten = 0;
      for (const owner of move.owners) {
        const record = owner.db.get(owner.key) as [MessageRecord, ...unknown[]] | undefined;
        const ref = refOf(record);
        if (record === undefined || ref === undefined || ref.segment !== move.from.segment || ref.offset !== move.from.offset) continue;
        record[0][4] = packRef(move.to);
        owner.db.put(owner.key, record);
        rewritten++;
      }
      if (rewritten !== expected) {
        // Throwing rolls back this operation alone; its copies are freed by the scheduler.
        throw new Error(`payload ${this.segment}:${move.from.offset} has ${expected} owners, ${rewritten} records found`);
      }
      done.push([move.from, move.to, rewritten]);
    }
    scope.afterCommit(() => {
      for (const [from, to, owners] of done) this.ctx.payloads.moveOwners(from, to, owners);
    });
  }
}

export class PayloadCompactor {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<CompactionReport> | undefined;
  private stopped = false;
  /** Totals since open, for metrics. */
  readonly totals: CompactionReport = { segmentsCompacted: 0, payloadsMoved: 0, bytesCopied: 0, segmentsSkipped: 0 };
  /** The commit log's files are compacted in the same rounds, with the same ratio. */
  readonly logFiles: LogCompactor;

  constructor(
    private readonly ctx: StoreContext,
    private readonly options: CompactorOptions,
    private readonly space: CompactionSpace = {
      shortOfSpace: () => ctx.scheduler.refusal(1) !== undefined,
      spareDiskBytes: async () => Number.POSITIVE_INFINITY,
    },
  ) {
    this.logFiles = new LogCompactor(ctx, options.ratio, options.maxBytesPerRound);
  }

  start(): void {
    if (this.options.intervalMs <= 0) return;
    const tick = (): void => {
      this.timer = undefined;
      void this.compact(false)
        .catch(() => undefined)
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.options.intervalMs).unref();
        });
    };
    this.timer = setTimeout(tick, this.options.intervalMs).unref();
  }

  /** Waits for a round in progress and stops the timer. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /**
   * One round now (or the one in progress): resolves when its commits are durable. With `catchUp` (a call from
   * outside) LMDB first takes everything the commit log acknowledged, so the round sees every removal made
   * before the call. The timer's rounds choose from what LMDB already holds and commit the index only once they
   * found something to move: removals still in the log count from the next index commit on, and an index commit
   * per tick cost a store at a few messages a second one LMDB commit (5-6 pages, two flushes) each second.
   */
  compact(catchUp = true): Promise<CompactionReport> {
    this.running ??= this.round(catchUp)
      .then(async (report) => {
        if (!this.stopped) await this.logFiles.compact(() => this.stopped, catchUp);
        return report;
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async round(catchUp: boolean): Promise<CompactionReport> {
    const report: CompactionReport = { segmentsCompacted: 0, payloadsMoved: 0, bytesCopied: 0, segmentsSkipped: 0 };
    const { payloads } = this.ctx;
    // With a commit log, LMDB first takes what the log acknowledged: the removals among it free their payloads
    // (which decides what is mostly dead). The scan below must see every acknowledged record either way.
    if (catchUp) await this.ctx.scheduler.indexNow();
    let maxBytes = this.options.maxBytesPerRound;
    let shortOfSpace = false;
    if (this.space.shortOfSpace()) {
      // While the store refuses writes, compaction is how the space that a few live payloads pin comes back, so it
      // runs on the free-space reserve, but only with copies that fit in what the disk has now: a copy failing
      // for lack of space would fail the payload flush it shares with the window's removals.
      const spare = (await this.space.spareDiskBytes().catch(() => 0)) - COPY_MARGIN_BYTES;
      if (!(spare > 0)) return report;
      maxBytes = Math.min(maxBytes, spare);
      shortOfSpace = true;
    }
    const segments = payloads.beginCompaction(this.options.ratio, maxBytes, shortOfSpace);
    if (segments.length === 0) return report;
    // Records acknowledged meanwhile: the scan sees them too (any it still misses fail the owner check).
    await this.ctx.scheduler.indexNow();
    const count = (key: keyof CompactionReport, n: number): void => {
      report[key] += n;
      this.totals[key] += n;
    };
    // Each segment's relocation is its own operation (a mismatch gives up one segment only); they are queued as
    // their copies are staged, without waiting for each other, so they share commit windows.
    const relocations: Promise<void>[] = [];
    try {
      const owners = await this.scanOwners(new Set(segments));
      for (const segment of segments) {
        if (this.stopped) break;
        const moves: Move[] = [];
        try {
          for (const [from, records] of owners.get(segment)?.values() ?? []) {
            if (payloads.owners(from) === 0) continue;
            moves.push({ from, to: await payloads.copyForward(from), owners: records });
          }
        } catch {
          for (const move of moves) payloads.free(move.to);
          count('segmentsSkipped', 1);
          continue;
        }
        // No record found for any live payload: their owners are not committed yet; the next round sees them.
        if (moves.length === 0) continue;
        const bytes = moves.reduce((sum, m) => sum + m.to.length, 0);
        relocations.push(
          this.ctx.scheduler.enqueue(new RelocateOp(this.ctx, segment, moves)).then(
            () => {
              count('segmentsCompacted', 1);
              count('payloadsMoved', moves.length);
              count('bytesCopied', bytes);
            },
            () => count('segmentsSkipped', 1),
          ),
        );
      }
    } finally {
      await Promise.all(relocations);
      payloads.endCompaction(segments);
    }
    return report;
  }

  /**
   * Records referring to payloads of `segments`, grouped by segment and payload offset. Reads committed data in
   * chunks and yields to the event loop between them, so a large table does not stall the broker.
   */
  private async scanOwners(segments: Set<number>): Promise<Map<number, Map<number, [PayloadRef, Owner[]]>>> {
    const found = new Map<number, Map<number, [PayloadRef, Owner[]]>>();
    const { dbs } = this.ctx;
    for (const db of [dbs.sessionMessages, dbs.retained, dbs.queueMessages]) {
      let start: Buffer | undefined;
      for (;;) {
        let seen = 0;
        let last: Buffer | undefined;
        for (const { key, value } of db.getRange({ start, limit: SCAN_CHUNK + 1 })) {
          const k = key as Buffer;
          if (start !== undefined && seen === 0 && k.equals(start)) continue; // the previous chunk's last key
          seen++;
          last = k;
          const ref = refOf(value);
          if (ref === undefined || !segments.has(ref.segment)) continue;
          let bySegment = found.get(ref.segment);
          if (bySegment === undefined) found.set(ref.segment, (bySegment = new Map()));
          let entry = bySegment.get(ref.offset);
          if (entry === undefined) bySegment.set(ref.offset, (entry = [ref, []]));
          entry[1].push({ db, key: Buffer.from(k) });
        }
        if (last === undefined || seen < SCAN_CHUNK) break;
        start = Buffer.from(last);
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (this.stopped) return found;
      }
    }
    return found;
  }
}
