// Group commit: write operations queue up in a window while the previous commit runs; when none runs, the
// window goes into ONE LMDB write transaction with one sync at the end of the event-loop turn, and each
// caller's promise resolves only once that transaction is on disk. The disk's own latency makes the windows;
// commit-pacing.ts bounds commits per second for flash wear (DESIGN.md, "Durability contract").

import type { CapacityGuard } from './capacity.js';
import { CommitPacer, REAL_CLOCK, type CommitClock, type CommitPacingOptions, type CommitWait, type WaitingWindow } from './commit-pacing.js';
import type { StoreEnvironment } from './environment.js';
import type { CommitLog, LogRef } from './log/commit-log.js';
import type { LogEntry } from './log/log-entry.js';
import { StoreClosedError, StoreFullError, writeFailure, type StoreError } from './errors.js';
import type { StoreMetrics } from './metrics.js';
import type { PayloadRef, PayloadStore } from './payload/payload-store.js';

/**
 * Node's timers have a resolution of 1 ms (a shorter delay still waits about 1 ms): a shorter wait before a
 * commit may start (the rate cap's spacing is 0.5 ms at 2000 per second) is made by re-checking each turn.
 */
const TIMER_RESOLUTION_MS = 1;

/** What an operation can ask of the transaction it runs in. */
export interface TxnScope {
  /** Frees a payload once this transaction is durable: the record that referred to it is then gone for good. */
  freeAfterCommit(ref: PayloadRef): void;
  /** Payloads of `segment` freed by operations applied before in this transaction: offset -> count. */
  pendingFrees(segment: number): Map<number, number>;
  /** Runs `fn` once this transaction is durable, before its payloads are freed (dropped if the operation fails). */
  afterCommit(fn: () => void): void;
  /** An index entry referring to this log record was written: the record is live once this transaction is durable. */
  logRecordLive(ref: LogRef): void;
  /** The index entry referring to this log record was removed: freed once this transaction is durable. */
  freeLogAfterCommit(ref: LogRef): void;
  /**
   * True while the window's operations are applied one by one after one of them failed: an operation must then
   * not count on a later one of the window taking effect.
   */
  readonly isolating: boolean;
  /**
   * State that operations of this attempt at the transaction share, kept by `owner` and written out by its
   * flush() after the last operation, inside the same child transaction (a run index entry that 64 appends
   * extend is encoded and put once, not 64 times). Undefined while isolating: each operation then writes its own
   * changes, so that one rolled back takes nothing of the others with it.
   */
  deferred<T extends DeferredWrites>(owner: object, create: () => T): T | undefined;
}

/** Writes an owner of TxnScope.deferred state makes once the transaction's operations are applied. */
export interface DeferredWrites {
  flush(): void;
}

/** One durable change, applied inside the window's write transaction. */
export interface WriteOp {
  /** Approximate bytes of keys and values written: counts toward commitMaxBytes, pendingBytes() and the cap. */
  readonly bytes: number;
  /** False for operations that only remove or shrink data: they are accepted even when the store is full. */
  readonly grows: boolean;
  /**
   * A growing operation that also removes something (a last-value append and the value it replaces): the index
   * commit takes it within logIndexIntervalMs, as a removal, so that the replaced payload's space comes back.
   */
  readonly releases?: boolean;
  /** Application payload bytes this operation stores (for write amplification). */
  readonly payloadBytes: number;
  /** Payloads staged in the payload store for this operation: freed again if it fails. */
  readonly stagedRefs: readonly PayloadRef[] | undefined;
  /** Synchronous; reads see earlier operations of the same window. Throwing rolls back this operation only. */
  apply(scope: TxnScope): void;
  /**
   * The operation as a commit-log entry (log/log-ops.ts builds it again on replay); null when a later entry of
   * the same window covers it. Without one, a window holding this operation is committed to LMDB before it is
   * acknowledged, as without a commit log.
   */
  logEntry?(): LogEntry | null | undefined;
  /**
   * Where the log put this operation's record (its entry was not null): an append's index entry refers to it,
   * unless `holdsRecord` is false (a window too small to hold messages in the log: see MIN_RECORDS_WINDOW_BYTES).
   */
  logged?(ref: LogRef, holdsRecord: boolean): void;
  /** An append's key (no record held it before), when its payload is inline: see cancelRemovedAppends. */
  createdKey?(): string | undefined;
  /** The one key a removal removes. */
  removedKey?(): string | undefined;
  /** The keys a removal of several records removes (a batch of queue acknowledgements). */
  removedKeys?(): readonly string[];
  /**
   * Set by the index commit: the append of `key` is cancelled (it removes a record never written), so, except while
   * isolating, the removal of that key has nothing to do; finding that out costs a cursor step in a store with runs.
   */
  cancelRemoval?(key: string): void;
  /** The one key an update in place changes (an in-flight or delivery-count update). */
  updatedKey?(): string | undefined;
  /** Set by the index commit: a later operation of its batch removes what this append writes. */
  cancelled?: boolean;
}

/** The commit log and how LMDB follows it (storage.commitLog). */
export interface CommitLogBinding {
  log: CommitLog;
  /** LMDB takes the acknowledged operations once this many wait... */
  indexMaxOps: number;
  /** ...or once the oldest operation that does not grow the store (a removal, an update) has waited this long... */
  indexIntervalMs: number;
  /**
   * ...or once the oldest of all has waited this long. Operations that only add (a backlog for an offline
   * subscriber or queue) lose nothing by waiting: they are durable in the log, and an index commit costs LMDB
   * 5-6 pages and two flushes however few it takes. Removals free space and are not kept waiting.
   */
  growthIndexIntervalMs: number;
}

export interface CommitSchedulerOptions extends CommitPacingOptions {
  /** The log files LMDB index entries refer to (open whether or not storage.commitLog writes to them). */
  records?: CommitLog;
  /** Near a space limit, windows still go through the log and LMDB takes them before the acknowledgement. */
  nearLimitThroughLog?: boolean;
  /** A window closes once it holds this many bytes: one commit writes at most about this much. */
  commitMaxBytes: number;
  /** With a commit log, windows are acknowledged after its fdatasync and LMDB commits them later in batches. */
  commitLog?: CommitLogBinding;
  /** Time and timers (tests drive their own). Default: performance.now and setTimeout. */
  clock?: CommitClock;
}

/**
 * Told once an operation is durable (`err` undefined) or failed (`err` a StoreError), instead of a promise per
 * operation: the publish path acknowledges tens of thousands of messages a second, and a promise with its
 * executor and resolving functions per message was a good part of its garbage (issue 13). Called synchronously
 * from inside the commit (or from enqueue when the operation is refused at once): it must not throw.
 */
export interface DurabilityWaiter {
  durable(err: unknown): void;
}

/** What enqueue returns when a waiter is told instead: it never settles. */
export const NOTIFIED: Promise<void> = new Promise<void>(() => undefined);

/** An operation refused before it was queued: a rejected promise, or the waiter told at once. */
export function refused(err: unknown, waiter: DurabilityWaiter | undefined): Promise<void> {
  if (waiter === undefined) return Promise.reject(err);
  waiter.durable(err);
  return NOTIFIED;
}

interface Pending {
  op: WriteOp;
  resolve: (() => void) | undefined;
  reject: ((err: StoreError) => void) | undefined;
  waiter: DurabilityWaiter | undefined;
  failure: StoreError | undefined;
}

function settle(pending: Pending, err: StoreError | undefined): void {
  if (pending.waiter !== undefined) pending.waiter.durable(err);
  else if (err === undefined) pending.resolve!();
  else pending.reject!(err);
}

/** Operations that go into one transaction, in the order enqueued. */
interface Window extends WaitingWindow {
  readonly id: number;
  readonly ops: Pending[];
  bytes: number;
  full: boolean;
  urgent: boolean;
}

export class CommitScheduler implements TxnScope {
  /** Windows waiting for their commit, oldest first; only the last one takes new operations. */
  private windows: Window[] = [];
  private queuedBytes = 0;
  private committingBytes = 0;
  private committing: Promise<void> | undefined;
  private timer: unknown;
  /**
   * What the pending timer waits for: only the rate cap, or a minimum batch or company for background writes,
   * which more bytes or a write someone waits for can make due sooner.
   */
  private timerWait: CommitWait = 'cap';
  private startQueued = false;
  private flushing = 0;
  private settledWaiters: (() => void)[] = [];
  private closed = false;
  private frees: PayloadRef[] = [];
  private logLive: LogRef[] = [];
  private logFrees: LogRef[] = [];
  private committed: (() => void)[] = [];
  private deferredWrites = new Map<object, DeferredWrites>();
  private isolatingNow = false;
  private nextWindowId = 0;
  /** Acknowledged (logged) operations LMDB does not hold yet, in log order, and the LSN of the last one. */
  private indexBatch: Pending[] = [];
  /** Bytes of the operations in indexBatch, and of those in the index commit running. */
  private unindexedBytes = 0;
  private indexingBytes = 0;
  private indexLsn = 0;
  private indexing: Promise<void> | undefined;
  private indexTimer: ReturnType<typeof setTimeout> | undefined;
  /** When indexTimer fires (performance.now()); a removal arriving may bring it forward. */
  private indexDueAt = 0;
  /** indexBatch holds an operation that does not grow the store: the shorter interval applies. */
  private indexBatchShrinks = false;
  /** After a failed index commit (full disk), the next attempt waits this long. */
  private indexRetryMs = 0;
  /** LMDB transactions run one at a time: index commits and direct commits share the scope state below. */
  private lmdbChain: Promise<unknown> = Promise.resolve();
  private readonly clock: CommitClock;
  private readonly pacer: CommitPacer;

  constructor(
    private readonly env: StoreEnvironment,
    private readonly payloads: PayloadStore,
    private readonly capacity: CapacityGuard,
    private readonly metrics: StoreMetrics,
    private readonly options: CommitSchedulerOptions,
  ) {
    this.clock = options.clock ?? REAL_CLOCK;
    this.pacer = new CommitPacer(options);
  }

  /** Queues an operation for the current window; resolves when it is durable, rejects with a StoreError. */
  enqueue(op: WriteOp): Promise<void> {
    return this.enqueueJoining(op).durable;
  }

  /**
   * enqueue() for a write nobody answers after (a removal once a PUBACK came in, an in-flight update): a window
   * of such writes only waits up to commitIntervalMs for others to share its commit (commit-pacing.ts). Near a
   * space limit it does not wait: what it frees is wanted at once.
   */
  enqueueBackground(op: WriteOp): Promise<void> {
    return this.enqueueJoining(op, undefined, true).durable;
  }

  /**
   * enqueue(), also telling which commit window the operation joined (undefined when it was refused).
   * Operations that joined the same window are applied in one transaction, in the order enqueued. With a
   * `waiter`, the waiter is told of the outcome and `durable` is NOTIFIED.
   */
  enqueueJoining(op: WriteOp, waiter?: DurabilityWaiter, background = false): { durable: Promise<void>; window: number | undefined } {
    if (this.closed) return { durable: this.refuse(op, new StoreClosedError(), waiter), window: undefined };
    if (op.grows) {
      const refusal = this.capacity.admit(op.bytes);
      if (refusal !== undefined) {
        // Removals still waiting in the log free their space only when LMDB takes them: now, not in 100 ms.
        if (this.indexBatch.length > 0 && this.indexRetryMs === 0) this.startIndex();
        return { durable: this.refuse(op, refusal, waiter), window: undefined };
      }
    }
    const window = this.openWindow(op.bytes);
    let durable: Promise<void>;
    if (waiter !== undefined) {
      window.ops.push({ op, resolve: undefined, reject: undefined, waiter, failure: undefined });
      durable = NOTIFIED;
    } else {
      durable = new Promise<void>((resolve, reject) => {
        window.ops.push({ op, resolve, reject, waiter: undefined, failure: undefined });
      });
    }
    window.bytes += op.bytes;
    if (!background) window.urgent = true;
    this.queuedBytes += op.bytes;
    if (window.bytes >= this.options.commitMaxBytes) window.full = true;
    this.schedule();
    return { durable, window: window.id };
  }

  /** The error a growing write of about `bytes` would be refused with now, without queuing anything. */
  refusal(bytes: number): StoreError | undefined {
    if (this.closed) return new StoreClosedError();
    return this.capacity.wouldRefuse(bytes);
  }

  /**
   * Bytes queued or being committed and not yet durable, and (with the commit log) acknowledged but not yet in
   * LMDB: callers slow down when this grows. LMDB takes the log's operations once commitMaxBytes of them wait,
   * so with a healthy LMDB this stays below a commit window plus commitMaxBytes; when LMDB falls behind (a slow
   * or blocked commit), the backlog held in memory stops publishers like a slow disk does without a log.
   */
  pendingBytes(): number {
    return this.queuedBytes + this.committingBytes + this.unindexedBytes + this.indexingBytes;
  }

  /**
   * Commits what is queued without waiting for a minimum batch, and waits until all of it is durable (or
   * failed). The rate cap still holds: a flush under backpressure must not bring back one fsync per write.
   */
  async flush(): Promise<void> {
    this.flushing++;
    try {
      while (this.windows.length > 0 || this.committing !== undefined) {
        this.schedule();
        await new Promise<void>((settled) => this.settledWaiters.push(settled));
      }
    } finally {
      this.flushing--;
    }
  }

  /** Flushes, then refuses new operations with StoreClosedError. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    this.clearTimer();
    await this.indexNow();
    if (this.indexTimer !== undefined) clearTimeout(this.indexTimer);
    this.indexTimer = undefined;
  }

  freeAfterCommit(ref: PayloadRef): void {
    this.frees.push(ref);
  }

  pendingFrees(segment: number): Map<number, number> {
    const counts = new Map<number, number>();
    for (const ref of this.frees) if (ref.segment === segment) counts.set(ref.offset, (counts.get(ref.offset) ?? 0) + 1);
    return counts;
  }

  get isolating(): boolean {
    return this.isolatingNow;
  }

  deferred<T extends DeferredWrites>(owner: object, create: () => T): T | undefined {
    if (this.isolatingNow) return undefined;
    let state = this.deferredWrites.get(owner) as T | undefined;
    if (state === undefined) this.deferredWrites.set(owner, (state = create()));
    return state;
  }

  afterCommit(fn: () => void): void {
    this.committed.push(fn);
  }

  logRecordLive(ref: LogRef): void {
    this.logLive.push(ref);
  }

  freeLogAfterCommit(ref: LogRef): void {
    this.logFrees.push(ref);
  }

  /** Log records made live and freed by the transaction that just committed. */
  private settleLogRecords(): void {
    const records = this.options.records ?? this.options.commitLog?.log;
    if (records !== undefined) {
      for (const ref of this.logLive) records.markLive(ref);
      for (const ref of this.logFrees) records.free(ref);
    }
    this.logLive = [];
    this.logFrees = [];
  }

  private resetScope(): void {
    this.deferredWrites = new Map();
    this.frees = [];
    this.committed = [];
    this.logLive = [];
    this.logFrees = [];
  }

  private refuse(op: WriteOp, err: StoreError, waiter?: DurabilityWaiter): Promise<void> {
    this.freeStaged(op);
    this.metrics.opsFailed++;
    return refused(err, waiter);
  }

  /** The window a new operation of `bytes` joins: the last one, unless that would take it past commitMaxBytes. */
  private openWindow(bytes: number): Window {
    const last = this.windows[this.windows.length - 1];
    if (last !== undefined && !last.full) {
      if (last.bytes + bytes <= this.options.commitMaxBytes) return last;
      last.full = true;
    }
    const window: Window = { id: this.nextWindowId++, ops: [], bytes: 0, openedAt: this.clock.now(), full: false, urgent: false };
    this.windows.push(window);
    return window;
  }

  /**
   * Asks for a commit at the end of this event-loop turn, so that everything arriving in the same turn (one
   * socket read of pipelined publishes) joins it. Cheap per operation: nothing to do while a commit runs or
   * one is already asked for, and a pending timer is revisited only when the window reached its minimum batch.
   */
  private schedule(): void {
    if (this.committing !== undefined || this.startQueued || this.windows.length === 0) return;
    if (this.timer !== undefined) {
      if (this.timerWait === 'cap') return;
      const first = this.windows[0]!;
      const stillWaits = this.timerWait === 'background' ? !first.urgent : first.bytes < this.options.commitMinBatchBytes;
      if (this.flushing === 0 && !first.full && stillWaits) return;
    }
    this.startQueued = true;
    setImmediate(this.onTurnEnd);
  }

  private readonly onTurnEnd = (): void => {
    this.startQueued = false;
    this.tryStart();
  };

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.tryStart();
  };

  private clearTimer(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** At most one commit is in flight: what arrives meanwhile waits in the next window(s). */
  private tryStart(): void {
    if (this.committing !== undefined || this.windows.length === 0) return;
    this.clearTimer();
    const first = this.windows[0]!;
    const now = this.clock.now();
    const flushing = this.flushing > 0;
    if (!first.urgent && this.capacity.nearLimit()) first.urgent = true;
    const due = this.pacer.dueAt(first, now, flushing);
    if (due > now) {
      if (due - now < TIMER_RESOLUTION_MS) {
        // A timer would fire a whole millisecond later: a writer with one write outstanding at 2000 commits per
        // second would get fewer than 1000. Looked at again at the end of each turn until due.
        this.startQueued = true;
        setImmediate(this.onTurnEnd);
        return;
      }
      this.timerWait = this.pacer.waitFor(first, now, flushing);
      this.timer = this.clock.setTimeout(this.onTimer, due - now);
      return;
    }
    this.windows.shift();
    this.pacer.started(now);
    this.queuedBytes -= first.bytes;
    this.committingBytes = first.bytes;
    this.committing = this.commit(first.ops).finally(() => {
      this.committing = undefined;
      this.committingBytes = 0;
      // Background writes waiting (a subscriber's PUBACKs) do not make the pace the disk's: only writes someone
      // waits for do. Otherwise a publisher with one message in flight and a live subscriber was held at half the
      // cap by the minimum batch, its every commit looking back to back because of the acknowledgements behind it.
      this.pacer.finished(this.windows.some((w) => w.urgent));
      this.schedule();
      const waiters = this.settledWaiters;
      this.settledWaiters = [];
      for (const settled of waiters) settled();
    });
  }

  private async commit(batch: Pending[]): Promise<void> {
    const started = performance.now();
    try {
      // Payloads first, with their own fdatasync: a durable LMDB record must never refer to a payload that is not.
      const written = await this.payloads.flush();
      if (written > 0) {
        this.metrics.syncs++;
        this.metrics.payloadFileBytes += written;
        this.capacity.diskWritten(written);
      }
    } catch (err) {
      this.failAll(batch, writeFailure(err, 'payload store flush'));
      return;
    }
    const binding = this.options.commitLog;
    // Near a space limit the window is in LMDB before it is acknowledged: what it removes is free space at once,
    // and a refusal rests on LMDB's figures rather than on a batch still waiting in the log (capacity.ts,
    // nearLimit). It still goes through the log, so LMDB takes index entries as it does otherwise (whole records
    // among them would split pages the estimates do not foresee).
    const near = binding !== undefined && this.capacity.nearLimit();
    // Without index entries (logRecords off), near a limit the window goes to LMDB directly (below), as before.
    const bodies = binding === undefined || (near && this.options.nearLimitThroughLog !== true) ? undefined : logBodies(batch);
    if (bodies !== undefined && binding !== undefined) {
      if (near) await this.indexNow();
      await this.commitToLog(binding.log, batch, bodies, near);
      this.metrics.commitLatency.record(performance.now() - started);
      return;
    }
    if (binding === undefined) {
      await this.runTransaction(batch, true);
    } else {
      // Not all of the window can be logged (compaction, repairs at open), or the store is near a space limit:
      // LMDB commits it before its acknowledgement, after everything acknowledged before it.
      await this.indexNow();
      if (this.indexBatch.length > 0) {
        this.failAll(batch, writeFailure(new Error('acknowledged operations could not be committed to LMDB'), 'LMDB commit'));
        return;
      }
      await this.serialLmdb(() => this.runTransaction(batch, true));
    }
    this.metrics.commitLatency.record(performance.now() - started);
  }

  /** The window's records to the log with one fdatasync; acknowledged then, handed to LMDB later. */
  private async commitToLog(log: CommitLog, batch: Pending[], bodies: LogBodies, indexBeforeAck = false): Promise<void> {
    let written;
    try {
      written = await log.writeEntries(bodies.entries);
    } catch (err) {
      this.failAll(batch, writeFailure(err, 'commit log write'));
      return;
    }
    const holdsRecords = written.recordBytes >= MIN_RECORDS_WINDOW_BYTES;
    for (let i = 0; i < bodies.ops.length; i++) bodies.ops[i]!.logged?.(written.refs[i]!, holdsRecords);
    // A window committed (to the log): LMDB's index commits count as syncs only.
    this.metrics.commits++;
    this.metrics.syncs++;
    this.metrics.logFileBytes += written.bytes;
    this.committingBytes = 0;
    // In the index batch before anyone hears of it: a read after the acknowledgement waits for this batch.
    for (const pending of batch) {
      this.indexBatch.push(pending);
      if (!pending.op.grows || pending.op.releases === true) this.indexBatchShrinks = true;
      this.unindexedBytes += pending.op.bytes;
    }
    this.indexLsn = written.lastLsn;
    // Near a space limit, what the window removes must free its space at once (a refused publisher waits for it).
    const urgent = this.capacity.nearLimit();
    // Log files take disk space too: what a write adds past a reused file's old length is counted like payload
    // files (statfs corrects it); the part written over was reusable space (CommitLog.reusableBytes) until now.
    this.capacity.diskWritten(written.newDiskBytes);
    for (const pending of batch) {
      if (pending.op.grows) this.capacity.logged(pending.op.bytes);
      this.metrics.opsCommitted++;
      this.metrics.payloadBytesAccepted += pending.op.payloadBytes;
    }
    // Near a limit: LMDB takes it before anyone hears of it (a failed index commit keeps it in the log and the batch).
    if (indexBeforeAck) await this.indexNow();
    for (const pending of batch) {
      settle(pending, undefined);
      // The index batch keeps only the op: whoever waited has heard, and is not kept alive until the index commit.
      pending.waiter = pending.resolve = pending.reject = undefined;
    }
    if (urgent && this.indexRetryMs === 0) this.startIndex();
    else this.planIndex();
  }

  /**
   * Makes LMDB hold every acknowledged operation now (reads outside the write transaction see LMDB only):
   * one attempt; after a failure (full disk) the operations stay in the log and in the batch for the next.
   */
  async indexNow(): Promise<void> {
    if (this.indexing !== undefined) await this.indexing;
    if (this.indexBatch.length === 0) return;
    this.startIndex();
    await this.indexing;
  }

  /** After close(): the log's file goes too. */
  async closeLog(): Promise<void> {
    await this.options.commitLog?.log.close();
  }

  /** Operations acknowledged from the log and not yet in LMDB (tests, metrics). */
  unindexedOps(): number {
    return this.indexBatch.length;
  }

  private planIndex(): void {
    const binding = this.options.commitLog!;
    const due = this.indexBatch.length >= binding.indexMaxOps || this.unindexedBytes >= this.options.commitMaxBytes;
    if (due && this.indexRetryMs === 0) {
      this.startIndex();
      return;
    }
    if (this.indexing !== undefined) return;
    const wait = this.indexRetryMs > 0 ? this.indexRetryMs : this.indexBatchShrinks ? binding.indexIntervalMs : binding.growthIndexIntervalMs;
    const dueAt = performance.now() + wait;
    // A timer already set stays unless this is sooner (a removal behind a backlog that was waiting).
    if (this.indexTimer !== undefined) {
      if (dueAt >= this.indexDueAt) return;
      clearTimeout(this.indexTimer);
    }
    this.indexDueAt = dueAt;
    this.indexTimer = setTimeout(() => {
      this.indexTimer = undefined;
      if (this.indexBatch.length > 0) this.startIndex();
    }, wait);
    this.indexTimer.unref?.();
  }

  private startIndex(): void {
    if (this.indexing !== undefined) return;
    if (this.indexTimer !== undefined) clearTimeout(this.indexTimer);
    this.indexTimer = undefined;
    this.indexing = this.serialLmdb(() => this.runIndex()).finally(() => {
      this.indexing = undefined;
      if (this.indexBatch.length > 0 && !this.closed) this.planIndex();
    });
  }

  private serialLmdb(fn: () => Promise<void>): Promise<void> {
    const run = this.lmdbChain.then(fn);
    this.lmdbChain = run.catch(() => undefined);
    return run;
  }

  /** One LMDB transaction with the whole index batch and the checkpoint that says so. */
  private async runIndex(): Promise<void> {
    const batch = this.indexBatch;
    const lsn = this.indexLsn;
    if (batch.length === 0) return;
    this.indexBatch = [];
    this.indexBatchShrinks = false;
    this.indexingBytes = this.unindexedBytes;
    this.unindexedBytes = 0;
    this.resetScope();
    try {
      cancelRemovedAppends(batch);
      await this.env.transaction(() => {
        this.applyAll(batch);
        this.env.putCheckpoint(lsn);
      });
    } catch (err) {
      // Nothing of it reached LMDB; the log still holds all of it and replays it on open if need be.
      this.indexBatch = batch.concat(this.indexBatch);
      this.indexBatchShrinks = this.indexBatch.some((p) => !p.op.grows);
      this.unindexedBytes += this.indexingBytes;
      this.indexingBytes = 0;
      const failure = writeFailure(err, 'LMDB commit');
      if (failure instanceof StoreFullError) this.capacity.markFull();
      this.indexRetryMs = Math.min(Math.max(this.indexRetryMs * 2, 50), 1000);
      return;
    }
    this.indexRetryMs = 0;
    this.indexingBytes = 0;
    this.metrics.syncs++;
    let grownBytes = 0;
    for (const pending of batch) {
      if (pending.op.grows) this.capacity.indexed(pending.op.bytes);
      if (pending.failure !== undefined) {
        // Acknowledged, but it could not be applied (nor will it be on replay): its staged payload is unowned.
        this.freeStaged(pending.op);
        this.metrics.opsFailed++;
      } else if (pending.op.grows) grownBytes += pending.op.bytes;
    }
    for (const fn of this.committed) fn();
    this.committed = [];
    for (const ref of this.frees) this.payloads.free(ref);
    this.frees = [];
    this.settleLogRecords();
    this.capacity.refresh(grownBytes);
    await this.options.commitLog?.log.release(lsn).catch(() => undefined);
  }

  private async runTransaction(batch: Pending[], retryShrinking: boolean): Promise<void> {
    this.resetScope();
    try {
      await this.env.transaction(() => this.applyAll(batch));
    } catch (err) {
      const failure = writeFailure(err, 'LMDB commit');
      if (!(failure instanceof StoreFullError) || !retryShrinking) {
        this.failAll(batch, failure);
        return;
      }
      // Out of space: refuse what adds data, but still commit removals, which are what makes room again.
      this.capacity.markFull();
      const shrinking: Pending[] = [];
      for (const pending of batch) {
        if (pending.op.grows) this.failOne(pending, failure);
        else shrinking.push(pending);
      }
      if (shrinking.length > 0) await this.runTransaction(shrinking, false);
      return;
    }
    this.metrics.commits++;
    this.metrics.syncs++;
    this.committingBytes = 0;
    let grownBytes = 0;
    for (const pending of batch) {
      if (pending.failure !== undefined) {
        this.failOne(pending, pending.failure);
        continue;
      }
      if (pending.op.grows) {
        this.capacity.release(pending.op.bytes);
        grownBytes += pending.op.bytes;
      }
      this.metrics.opsCommitted++;
      this.metrics.payloadBytesAccepted += pending.op.payloadBytes;
      settle(pending, undefined);
    }
    // Compaction hands payload owners to their copies first: a record removed later in this window already
    // referred to the copy, so its free must find the copy owned.
    for (const fn of this.committed) fn();
    this.committed = [];
    for (const ref of this.frees) this.payloads.free(ref);
    this.frees = [];
    this.settleLogRecords();
    this.capacity.refresh(grownBytes);
  }

  /** Runs inside the write transaction: the whole window in one child transaction, op by op only on error. */
  private applyAll(batch: Pending[]): void {
    try {
      this.env.atomically(() => {
        for (const pending of batch) pending.op.apply(this);
        for (const state of this.deferredWrites.values()) state.flush();
      });
      this.deferredWrites = new Map();
      return;
    } catch {
      // Some operation threw and the child transaction rolled the window back: isolate it.
    }
    this.resetScope();
    this.isolatingNow = true;
    try {
      this.applyEach(batch);
    } finally {
      this.isolatingNow = false;
    }
  }

  private applyEach(batch: Pending[]): void {
    for (const pending of batch) {
      const mark = this.frees.length;
      const committedMark = this.committed.length;
      const liveMark = this.logLive.length;
      const logFreeMark = this.logFrees.length;
      try {
        this.env.atomically(() => pending.op.apply(this));
      } catch (err) {
        this.frees.length = mark;
        this.committed.length = committedMark;
        this.logLive.length = liveMark;
        this.logFrees.length = logFreeMark;
        pending.failure = writeFailure(err, 'operation');
      }
    }
  }

  private failAll(batch: Pending[], err: StoreError): void {
    if (err instanceof StoreFullError) this.capacity.markFull();
    this.committingBytes = 0;
    for (const pending of batch) this.failOne(pending, err);
  }

  private failOne(pending: Pending, err: StoreError): void {
    if (pending.op.grows) this.capacity.release(pending.op.bytes);
    this.freeStaged(pending.op);
    this.metrics.opsFailed++;
    settle(pending, err);
  }

  private freeStaged(op: WriteOp): void {
    if (op.stagedRefs === undefined) return;
    for (const ref of op.stagedRefs) this.payloads.free(ref);
  }
}

/**
 * A window whose records fill less than one log page keeps its messages as whole LMDB records (store format 4
 * otherwise leaves them in the log). Such a window is padded to 4 KiB anyway, so its records save little of what
 * it writes; and log files holding live records cannot be reused, so the log grows into new blocks, and every
 * fdatasync of a growing file also commits the ext4 journal (a second device flush). Scenario 13's 1 × 1 row
 * (one message per window, an offline subscriber, after the other rows filled the log) with every record held:
 * 1,067 msg/s against 1,404 without index entries (medians of 5, load 0.2-0.8), 35-49 disk bytes per payload
 * byte against 22-27. With this, a store taking small windows only reuses its log files as without index
 * entries; one whose log a backlog filled still grows a new file until a file is released.
 */
const MIN_RECORDS_WINDOW_BYTES = 4096;

/** A window's log entries, and the operation of each (told where its record went). */
interface LogBodies {
  entries: LogEntry[];
  ops: WriteOp[];
}

/** The window's operations as log entries (CommitLog.writeEntries encodes them), or undefined if one cannot be logged. */
function logBodies(batch: Pending[]): LogBodies | undefined {
  const entries: LogEntry[] = [];
  const ops: WriteOp[] = [];
  try {
    for (const pending of batch) {
      const entry = pending.op.logEntry?.();
      if (entry === undefined) return undefined;
      if (entry === null) continue;
      entries.push(entry);
      ops.push(pending.op);
    }
  } catch {
    return undefined; // a database without a log id: committed to LMDB directly, as without a log
  }
  return { entries, ops };
}

/**
 * Appends that a later removal of the same index batch takes away again (a message acknowledged by its
 * consumer within the 100 ms the log holds it) are not written to LMDB at all: their key held nothing before,
 * so skipping the put and running the removal (of an absent key) leaves LMDB as applying both would. Only
 * inline payloads: a payload-store reference must be freed by its removal. The log holds both, so a replay
 * after a crash (which applies every operation) ends in the same state.
 */
function cancelRemovedAppends(batch: Pending[]): void {
  // Only appends before the batch's last removal can be cancelled: a stream into an offline session or a queue
  // without consumers (no removals at all) builds no key identities and no maps.
  let end = batch.length;
  while (end > 0 && !removes(batch[end - 1]!.op)) end--;
  if (end === 0) return;
  let created: Map<string, WriteOp> | undefined;
  /** Updates of keys appended in this batch: they go with their append when it is cancelled. */
  let updates: Map<string, WriteOp[]> | undefined;
  for (let i = 0; i < end; i++) {
    const op = batch[i]!.op;
    const key = op.createdKey?.();
    if (key !== undefined) {
      (created ??= new Map()).set(key, op);
      continue;
    }
    if (created === undefined) continue;
    const updated = op.updatedKey?.();
    if (updated !== undefined && created.has(updated)) {
      updates ??= new Map();
      const list = updates.get(updated);
      if (list === undefined) updates.set(updated, [op]);
      else list.push(op);
    }
    const removed = op.removedKey?.();
    if (removed !== undefined && cancelAppend(created, removed, updates)) op.cancelRemoval?.(removed);
    const many = op.removedKeys?.();
    if (many !== undefined) for (const key of many) if (cancelAppend(created, key, updates)) op.cancelRemoval?.(key);
  }
}

function removes(op: WriteOp): boolean {
  return op.removedKey !== undefined || op.removedKeys !== undefined;
}

function cancelAppend(created: Map<string, WriteOp>, removed: string, updates: Map<string, WriteOp[]> | undefined): boolean {
  const append = created.get(removed);
  if (append === undefined) return false;
  append.cancelled = true;
  created.delete(removed);
  for (const update of updates?.get(removed) ?? []) update.cancelled = true;
  updates?.delete(removed);
  return true;
}
