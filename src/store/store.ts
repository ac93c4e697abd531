// The store as the broker and the queue engine see it: typed methods over sessions, retained messages and
// queues; LMDB, the payload store and the commit scheduler stay behind it. Every method that changes something
// returns a promise that resolves only when the change is durable (fsync'd), or rejects with a StoreError:
// StoreFullError when there is no room (answer 0x97 Quota exceeded), StoreWriteError, StoreClosedError.

import { statfsSync } from 'node:fs';
import { join } from 'node:path';
import { CapacityGuard, DEFAULT_MIN_FREE_DISK_BYTES } from './capacity.js';
import { CommitScheduler, type DurabilityWaiter } from './commit-scheduler.js';
import type { Database } from 'lmdb';
import { CommitLog } from './log/commit-log.js';
import { registerDatabaseNames } from './log/log-entry.js';
import { replayCommitLog } from './log/replay.js';
import { fileSegmentIo } from './payload/file-segment-io.js';
import { loadSegmentsAddon } from './payload/native-addon.js';
import { nativeSegmentIo } from './payload/native-segment-io.js';
import type { SegmentIo } from './payload/segment-io.js';
import { DEFAULT_LOG_FILE_BYTES } from './log/commit-log.js';
import { StoreEnvironment } from './environment.js';
import { StoreError, StoreOpenError, errorNumber, isSpaceError } from './errors.js';
import { idPrefixRange, seqKey } from './keys.js';
import type { StoreContext } from './message-records.js';
import { StoreMetrics, type StoreMetricsSnapshot } from './metrics.js';
import { CompositeOp, RangeRemoveOp, RemoveOp } from './ops.js';
import { openPayloadStore, type PayloadStoreChoice } from './payload/open-payload-store.js';
import type { PayloadRef, PayloadStore, ReconcileReport } from './payload/payload-store.js';
import { PayloadCompactor, type CompactionReport, type CompactorOptions } from './payload-compactor.js';
import { QueueTable } from './queue-table.js';
import { scanForRecovery } from './recovery.js';
import { RetainedTable } from './retained-table.js';
import { MessageIndex, registerMessageIndex } from './runs/message-index.js';
import { SessionMessageTable } from './session-message-table.js';
import { SessionTable } from './session-table.js';
import type * as T from './types.js';

export interface StoreOptions {
  /** storage.dataDir: LMDB goes to <dataDir>/lmdb/, large payloads to <dataDir>/payloads/. */
  dataDir: string;
  /** storage.commitIntervalMs: longest a write waits for its commit to start. Default 5. */
  commitIntervalMs?: number;
  /** storage.commitMaxBytes: most bytes of operations in one commit. Default 1 MiB. */
  commitMaxBytes?: number;
  /** storage.commitMaxPerSecond: most commits (fsyncs) started per second. Default 2000. */
  commitMaxPerSecond?: number;
  /** storage.commitMinBatchBytes: batch a commit waits for while commits run back to back. Default 16 KiB. */
  commitMinBatchBytes?: number;
  /** storage.inlineMaxBytes: larger payloads go to the payload store. Default 2048 (no LMDB overflow pages). */
  inlineMaxBytes?: number;
  /** storage.mapSizeBytes: cap on the space of live LMDB pages. Default 1 GiB. */
  mapSizeBytes?: number;
  /** Refuse growing writes when the disk has less free space than this. Default 8 MiB; 0 disables. */
  minFreeDiskBytes?: number;
  /** Size at which a payload segment file is sealed. Default 16 MiB. */
  payloadSegmentBytes?: number;
  /** Cap on payload segment files. Default 0 (bounded by minFreeDiskBytes only). */
  payloadMaxBytes?: number;
  /** storage.payloadStore: native (addon), js (file I/O) or auto (native when it loads). Default auto. */
  payloadStoreKind?: PayloadStoreChoice;
  /** Compaction of mostly-dead payload segments (ratio 0.25, 16 MiB per round, every 1000 ms by default). */
  payloadCompaction?: Partial<CompactorOptions>;
  /** A PayloadStore to use instead of opening one in <dataDir>/payloads (tests). */
  payloadStore?: PayloadStore;
  /**
   * storage.commitLog: acknowledge windows after an fdatasync of the append-only commit log in <dataDir>/log/
   * and commit them to LMDB later in batches (README.md in this folder). Default true. A data directory with
   * log records is replayed on open either way.
   */
  commitLog?: boolean;
  /** With commitLog: LMDB takes acknowledged operations once this many wait (default 4096)... */
  logIndexMaxOps?: number;
  /** ...or once the oldest removal or update waited this long (default 100 ms)... */
  logIndexIntervalMs?: number;
  /** ...or once the oldest of all waited this long (default 5 s, or logIndexIntervalMs if longer). */
  logGrowthIndexIntervalMs?: number;
  /**
   * Store format 4 (design (b) of issue 13): small messages appended through the commit log stay in its records
   * and LMDB holds index entries referring to them. Default true. Either way index entries already written are
   * read, and the log files they refer to kept.
   */
  logRecords?: boolean;
  /**
   * With logRecords: consecutive messages of one session or queue share one index entry, a run
   * (runs/run-entry.ts, store format 5). Default true; false writes an entry per message as format 4 did (tests,
   * benches). Runs already written are read either way.
   */
  indexRuns?: boolean;
  /** Size at which a commit-log file is left for the next one (default 8 MiB; tests use small ones). */
  logFileBytes?: number;
}

/** What the store found and repaired when it opened. */
export interface OpenReport {
  payloads: ReconcileReport;
  /** Sessions whose leftover messages were removed (their record was gone). */
  orphanSessionsRemoved: number;
  /** Commit-log records after LMDB's checkpoint, applied to LMDB on open. */
  logRecordsReplayed: number;
  /** Index entries referring to a log record that is missing (a broken durability contract). */
  missingLogRefs: number;
  /** Which payload store is in use: 'native' (addon) or 'js' (file I/O). */
  payloadStore: 'native' | 'js';
  /** Set when storage.payloadStore auto fell back to the TypeScript store: why the addon did not load. */
  payloadStoreFallbackReason: string | undefined;
}

export class Store {
  private constructor(
    private readonly ctx: StoreContext,
    private readonly capacity: CapacityGuard,
    private readonly counters: StoreMetrics,
    private readonly sessions: SessionTable,
    private readonly sessionMessages: SessionMessageTable,
    private readonly retained: RetainedTable,
    private readonly queues: QueueTable,
    private readonly compactor: PayloadCompactor,
    readonly openReport: OpenReport,
  ) {}

  /** Opens (creating if empty) the store in options.dataDir. Throws StoreOpenError with the path and the fix. */
  static async open(options: StoreOptions): Promise<Store> {
    const env = await StoreEnvironment.open({ dataDir: options.dataDir, mapSizeBytes: options.mapSizeBytes ?? 1 << 30 });
    registerDatabaseNames(env.dbs as unknown as Record<string, Database>);
    let payloads: PayloadStore | undefined;
    let capacity: CapacityGuard | undefined;
    let log: CommitLog | undefined;
    try {
      let fallbackReason: string | undefined;
      if (options.payloadStore !== undefined) payloads = options.payloadStore;
      else {
        const opened = await openPayloadStore(join(options.dataDir, 'payloads'), options.payloadStoreKind ?? 'auto', {
          segmentMaxBytes: options.payloadSegmentBytes,
          maxBytes: options.payloadMaxBytes,
          // A refused publisher is taken again as soon as a deleted segment's space is back, not at the next poll.
          onSegmentDeleted: () => capacity?.diskSpaceFreed(),
        });
        payloads = opened.store;
        fallbackReason = opened.fallbackReason;
      }
      const metrics = new StoreMetrics(() => env.bytesWritten());
      const staged = payloads;
      // storage.mapSizeBytes caps what the store holds: LMDB's live pages and the messages in live log records
      // that its index entries refer to (store format 4), so a cap means about as many messages as before.
      const space = (): { usedBytes: number; fileBytes: number } => {
        const lmdb = env.space();
        const inLog = log?.liveBytes() ?? 0;
        return { usedBytes: lmdb.usedBytes + inLog, fileBytes: lmdb.fileBytes + inLog };
      };
      capacity = new CapacityGuard(space, () => staged.pendingBytes(), {
        maxUsedBytes: options.mapSizeBytes ?? 1 << 30,
        minFreeDiskBytes: options.minFreeDiskBytes ?? DEFAULT_MIN_FREE_DISK_BYTES,
        dataDir: options.dataDir,
        // Spare log files, and a reused file's part not yet written over, count as reusable like LMDB's free
        // pages: the log writes over them first.
        logReusableBytes: () => log?.reusableBytes() ?? 0,
      });
      log = await CommitLog.open(join(options.dataDir, 'log'), (options.commitLog ?? true), logFileIo(options.payloadStoreKind ?? 'auto'), options.logFileBytes, env.checkpoint());
      const guard = capacity;
      // A drained store's log files come back as free (or reusable) space at once, not at the next commit.
      log.onFilesReleased = () => {
        guard.refresh();
        guard.diskSpaceFreed();
      };
      const scheduler = new CommitScheduler(env, payloads, capacity, metrics, {
        records: log,
        nearLimitThroughLog: options.logRecords ?? true,
        commitLog: (options.commitLog ?? true) ? { log, indexMaxOps: options.logIndexMaxOps ?? 4096, ...indexIntervals(options) } : undefined,
        commitIntervalMs: options.commitIntervalMs ?? 5,
        commitMaxBytes: options.commitMaxBytes ?? 1024 * 1024,
        commitMaxPerSecond: options.commitMaxPerSecond ?? 2000,
        commitMinBatchBytes: options.commitMinBatchBytes ?? 16 * 1024,
      });
      const messageIndexes = {
        // A session message's packet id and release state, a queue message's delivery count (their records' fields).
        sessionMessages: new MessageIndex(env.dbs.sessionMessages, [3, 4]),
        queueMessages: new MessageIndex(env.dbs.queueMessages, [1]),
      };
      registerMessageIndex(messageIndexes.sessionMessages);
      registerMessageIndex(messageIndexes.queueMessages);
      const ctx: StoreContext = {
        env,
        dbs: env.dbs,
        messageIndexes,
        indexRuns: options.indexRuns ?? true,
        scheduler,
        payloads,
        log,
        logRecords: options.logRecords ?? true,
        inlineMaxBytes: options.inlineMaxBytes ?? 2048,
        refCache: new WeakMap<Buffer, PayloadRef>(),
      };
      // Before anything reads LMDB, and before reconcile may cut a payload only a log record refers to.
      const replayed = await replayCommitLog(ctx, log);
      // With storage.commitLog off the log stays open for reading: index entries may refer to its records.
      const sessions = new SessionTable(ctx);
      sessions.buildIndex();
      const scan = scanForRecovery(env.dbs, sessions.sessionIds());
      const reconciled = await payloads.reconcile(scan.liveRefs);
      // LSNs go on past everything on disk; files covered by that (records after a gap were never acknowledged)
      // and holding no message an index entry refers to go.
      const missingLogRefs = await log.reconcile(scan.liveLogRefs, log.next - 1);
      const report: OpenReport = {
        payloads: reconciled,
        orphanSessionsRemoved: scan.orphanSessionIds.size,
        logRecordsReplayed: replayed,
        missingLogRefs,
        payloadStore: payloads.kind,
        payloadStoreFallbackReason: fallbackReason,
      };
      await capacity.start();
      // The log's next file is written with zeros ahead of need, away from a space limit (log-preallocate.ts).
      if (options.commitLog ?? true) {
        const minFreeDiskBytes = options.minFreeDiskBytes ?? DEFAULT_MIN_FREE_DISK_BYTES;
        const written = (bytes: number): void => {
          guard.diskWritten(bytes);
          metrics.logPreparedBytes += bytes;
        };
        log.preparation = { allowed: () => !guard.nearLimit(), minFreeDiskBytes, written };
        log.prepareAhead();
      }
      for (const sid of scan.orphanSessionIds) {
        const range = idPrefixRange(sid);
        // Not freeing payloads: reconcile did not count the orphans' references as owners.
        const leftovers = [new RangeRemoveOp(env.dbs.sessionMessages, range), new RangeRemoveOp(env.dbs.incomingQos2, range)];
        await scheduler.enqueue(new CompositeOp(leftovers));
      }
      const tables = [new SessionMessageTable(ctx, sessions), new RetainedTable(ctx), new QueueTable(ctx)] as const;
      const compactor = new PayloadCompactor(
        ctx,
        {
          ratio: options.payloadCompaction?.ratio ?? 0.25,
          maxBytesPerRound: options.payloadCompaction?.maxBytesPerRound ?? 16 * 1024 * 1024,
          intervalMs: options.payloadCompaction?.intervalMs ?? 1000,
        },
        capacity,
      );
      compactor.start();
      return new Store(ctx, capacity, metrics, sessions, ...tables, compactor, report);
    } catch (err) {
      capacity?.stop();
      await log?.close().catch(() => undefined);
      await payloads?.close().catch(() => undefined);
      await env.close().catch(() => undefined);
      if (err instanceof StoreError) throw err;
      const noRoom = noRoomToOpen(env.path, options.dataDir, options.minFreeDiskBytes ?? DEFAULT_MIN_FREE_DISK_BYTES, err);
      if (noRoom !== undefined) throw noRoom;
      const reason = `reading it failed (${(err as Error).message})`;
      throw new StoreOpenError(env.path, reason, 'Move the data directory away to start with a new store', { cause: err });
    }
  }

  /** Waits for every queued write to be durable, then closes LMDB and the payload store. */
  async close(): Promise<void> {
    await this.compactor.stop();
    await this.ctx.scheduler.close();
    await this.ctx.log.close();
    this.capacity.stop();
    await this.ctx.payloads.close();
    await this.ctx.env.close();
  }

  /** Closes the current commit window now and waits until what was queued is durable. */
  async flush(): Promise<void> {
    await this.ctx.scheduler.flush();
    // With a commit log, also what LMDB does not hold yet: afterwards removed payloads are freed.
    await this.ctx.scheduler.indexNow();
  }

  /**
   * Compacts payload segments whose live payloads fill less than the compaction ratio now (the store also does
   * this every payloadCompaction.intervalMs); resolves when the rewritten references are durable.
   */
  compactPayloads(): Promise<CompactionReport> {
    return this.compactor.compact();
  }

  /** Bytes accepted but not yet durable: stop reading from publishers while this is high. */
  pendingBytes(): number {
    return this.ctx.scheduler.pendingBytes() + this.ctx.payloads.pendingBytes();
  }

  /**
   * True when a write adding about `bytes` would be refused now (StoreFullError): what the broker's admission asks
   * before routing a message, so that a refused publish goes nowhere.
   */
  refuses(bytes: number): boolean {
    return this.ctx.scheduler.refusal(bytes) !== undefined;
  }

  /** True while writes that add data are refused (StoreFullError); removals still work. */
  isFull(): boolean {
    return this.capacity.full;
  }

  metrics(): StoreMetricsSnapshot {
    return this.counters.snapshot({
      pendingBytes: this.pendingBytes(),
      usedBytes: this.capacity.usedBytes,
      capacityBytes: this.capacity.capacityBytes,
      full: this.capacity.full,
      payloads: { kind: this.ctx.payloads.kind, diskBytes: this.ctx.payloads.diskBytes(), ...this.compactor.totals },
    });
  }

  // Sessions ---------------------------------------------------------------------------------------------------

  /** Sessions as committed, with their subscriptions (read once at start; expiry is the broker's decision). */
  async loadSessions(): Promise<T.SessionState[]> {
    await this.ctx.scheduler.indexNow();
    return this.sessions.load();
  }

  /** Creates or replaces a session record with all its subscriptions (CONNECT, SUBSCRIBE, DISCONNECT). */
  saveSession(state: T.SessionState): Promise<void> {
    return this.sessions.save(state);
  }

  /** Removes a session with its messages and QoS 2 state (clean start, expiry). */
  deleteSession(clientId: string): Promise<void> {
    return this.sessions.delete(clientId);
  }

  /**
   * Stores an outgoing QoS 1/2 message of a saved session. Throws StoreError UNKNOWN_SESSION without one. With a
   * `waiter`, the waiter is told when it is durable (or failed) and `durable` never settles.
   */
  appendSessionMessage(clientId: string, out: T.StoredOutgoing, waiter?: DurabilityWaiter): T.Appended {
    return this.sessionMessages.append(clientId, out, waiter);
  }

  /**
   * Removes a session message once completed (PUBACK, PUBCOMP) or expired; `inline` (from its append or load)
   * spares reading back a record without a reference. A background write, like the in-flight and delivery-count
   * updates and the other removals of messages: nothing is answered after it, so its commit may wait up to
   * commitIntervalMs for a write someone waits for (commit-pacing.ts).
   */
  removeSessionMessage(clientId: string, seq: number, inline?: boolean): Promise<void> {
    return this.sessionMessages.remove(clientId, seq, inline);
  }

  /**
   * Removes several messages of a session in one operation with one promise (a turn's PUBACKs); `inline[i]` as for
   * removeSessionMessage. Durable, or failed, together.
   */
  removeSessionMessages(clientId: string, seqs: readonly number[], _inline: readonly boolean[]): Promise<void> {
    const sid = this.sessions.entry(clientId).sid;
    const db = this.ctx.dbs.sessionMessages;
    // Every record is read, inline or not: an index entry's log record is freed from it (store format 4).
    return this.ctx.scheduler.enqueueBackground(new CompositeOp(seqs.map((seq) => new RemoveOp(db, seqKey(sid, seq), true))));
  }

  /** Records the packet identifier a message was sent with, or that it was released (PUBREC received). */
  updateInflight(clientId: string, seq: number, packetId: number, released: boolean): Promise<void> {
    return this.sessionMessages.updateInflight(clientId, seq, packetId, released);
  }

  /** A session's stored messages in order; page with afterSeq (the last seq seen) and limit. */
  async loadSessionMessages(clientId: string, options: { afterSeq?: number; limit?: number } = {}): Promise<T.SessionMessage[]> {
    // Reads see LMDB: acknowledged operations still only in the commit log go into it first.
    await this.ctx.scheduler.indexNow();
    return this.sessionMessages.load(clientId, options.afterSeq ?? 0, options.limit);
  }

  /**
   * A page of a session's stored messages after `afterSeq` as LMDB holds them now, without first indexing what only
   * the commit log holds: a prefix of the page loadSessionMessages would return (operations reach LMDB in order), so
   * a reader paging forward through messages nothing else changes (a session's backlog) does not force an LMDB
   * commit per page.
   */
  readIndexedSessionMessages(clientId: string, afterSeq: number, limit: number): Promise<T.SessionMessage[]> {
    return this.sessionMessages.load(clientId, afterSeq, limit);
  }

  addIncomingQos2(clientId: string, packetId: number): Promise<void> {
    return this.sessions.addIncomingQos2(clientId, packetId);
  }

  removeIncomingQos2(clientId: string, packetId: number): Promise<void> {
    return this.sessions.removeIncomingQos2(clientId, packetId);
  }

  /** Incoming QoS 2 packet identifiers still awaiting PUBREL. */
  async loadIncomingQos2(clientId: string): Promise<number[]> {
    await this.ctx.scheduler.indexNow();
    return this.sessions.loadIncomingQos2(clientId);
  }

  // Retained messages ------------------------------------------------------------------------------------------

  setRetained(message: T.StoredMessage): Promise<void> {
    return this.retained.set(message);
  }

  deleteRetained(topic: string): Promise<void> {
    return this.retained.delete(topic);
  }

  async loadRetained(): Promise<T.StoredMessage[]> {
    await this.ctx.scheduler.indexNow();
    return this.retained.load();
  }

  // Queues (primitives for the queue engine) --------------------------------------------------------------------

  saveQueue(queueId: number, definition: T.QueueDefinition): Promise<void> {
    return this.queues.saveQueue(queueId, definition);
  }

  /** Removes a queue with all its messages, last-value keys and consumers. */
  deleteQueue(queueId: number): Promise<void> {
    return this.queues.deleteQueue(queueId);
  }

  async loadQueues(): Promise<{ queueId: number; definition: T.QueueDefinition }[]> {
    await this.ctx.scheduler.indexNow();
    return this.queues.loadQueues();
  }

  /** Appends with the queue's next sequence; with `key`, replaces the queue's message holding that key. */
  /** With a `waiter`, as appendSessionMessage. */
  appendQueueMessage(queueId: number, message: T.StoredMessage, key?: string, replaces?: T.ReplacedMessage, waiter?: DurabilityWaiter): T.Appended {
    return this.queues.append(queueId, message, key, replaces, waiter);
  }

  /** Up to `limit` messages after `afterSeq` (0: from the start), in sequence order. */
  async readQueueMessages(queueId: number, options: { afterSeq?: number; limit: number }): Promise<T.QueueMessage[]> {
    await this.ctx.scheduler.indexNow();
    return this.queues.read(queueId, options.afterSeq ?? 0, options.limit);
  }

  /** Removes a queue message; `inline` (from its append or read) spares reading back a record without a reference. */
  removeQueueMessage(queueId: number, seq: number, inline?: boolean): Promise<void> {
    return this.queues.remove(queueId, seq, inline);
  }

  /**
   * Removes several messages of one queue in one operation with one promise (a burst of acknowledgements);
   * `inline[i]` as for removeQueueMessage. Durable, or failed, together.
   */
  removeQueueMessages(queueId: number, seqs: readonly number[], inline: readonly boolean[]): Promise<void> {
    return this.queues.removeMany(queueId, seqs, inline);
  }

  setQueueDeliveryCount(queueId: number, seq: number, deliveryCount: number): Promise<void> {
    return this.queues.setDeliveryCount(queueId, seq, deliveryCount);
  }

  saveConsumer(queueId: number, consumerId: string, state: T.ConsumerState): Promise<void> {
    return this.queues.saveConsumer(queueId, consumerId, state);
  }

  deleteConsumer(queueId: number, consumerId: string): Promise<void> {
    return this.queues.deleteConsumer(queueId, consumerId);
  }

  async loadConsumers(queueId: number): Promise<{ consumerId: string; state: T.ConsumerState }[]> {
    await this.ctx.scheduler.indexNow();
    return this.queues.loadConsumers(queueId);
  }
}

/** The commit log writes through the addon where the payload store would (one worker job per write + sync). */
function logFileIo(choice: PayloadStoreChoice): SegmentIo {
  if (choice === 'js') return fileSegmentIo;
  const loaded = loadSegmentsAddon();
  return 'addon' in loaded ? nativeSegmentIo(loaded.addon, DEFAULT_LOG_FILE_BYTES + 64 * 1024) : fileSegmentIo;
}

/**
 * How long operations that only add (appends to an offline session or queue) may wait in the log for LMDB. An
 * index commit costs LMDB 5-6 pages and two flushes however little it takes, and what it takes is already
 * durable in the log: at a few messages a second one every 100 ms was one per message, 20 KiB of LMDB writes for
 * a 256-byte message. Busy windows reach logIndexMaxOps or commitMaxBytes long before this; a removal or update
 * (space to give back) waits logIndexIntervalMs at most; a read, a compaction that found something to move (or
 * was asked for) and a store near its limits bring LMDB up to date at once.
 */
const DEFAULT_GROWTH_INDEX_INTERVAL_MS = 5000;

/** The two intervals of the index commits; appends never wait less than removals. */
function indexIntervals(options: StoreOptions): { indexIntervalMs: number; growthIndexIntervalMs: number } {
  const indexIntervalMs = options.logIndexIntervalMs ?? 100;
  return { indexIntervalMs, growthIndexIntervalMs: options.logGrowthIndexIntervalMs ?? Math.max(indexIntervalMs, DEFAULT_GROWTH_INDEX_INTERVAL_MS) };
}

/** errno of an I/O error; LMDB also answers a short page write (a disk with a few blocks left) with it. */
const EIO = 5;

/**
 * Opening writes: the commit log's records after LMDB's checkpoint are replayed into LMDB, leftovers removed. On
 * a file system with no room left (filled by something else, or a kill -9 at the edge of the reserve) that fails,
 * and the data directory is intact: the remedy is space, never a new store. An EIO counts as no room when the
 * disk has less free than the reserve: LMDB reports a short write as EIO, not ENOSPC.
 */
function noRoomToOpen(path: string, dataDir: string, reserve: number, err: unknown): StoreOpenError | undefined {
  let free: number | undefined;
  try {
    const fs = statfsSync(dataDir);
    free = fs.bavail * fs.bsize;
  } catch {
    // Without the figure only the error itself can say so.
  }
  const shortWrite = errorNumber(err) === EIO && free !== undefined && free < Math.max(reserve, 1024 * 1024);
  if (!isSpaceError(err) && !shortWrite) return undefined;
  const reason = `the file system has no room to bring it up to date (${(err as Error).message}${free === undefined ? '' : `, ${free} bytes free`})`;
  const remedy = 'Free space on that file system (nothing in the data directory: everything acknowledged is still there) and start again';
  return new StoreOpenError(path, reason, remedy, { cause: err, retryable: true });
}
