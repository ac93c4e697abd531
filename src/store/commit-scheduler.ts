// Group commit: write operations queue up for a window of commitIntervalMs (or until commitMaxBytes are queued,
// whichever comes first); then all of them go into ONE LMDB write transaction with one sync, and each caller's
// promise resolves only once that transaction is on disk. Syncs per second are bounded by the window, not by
// the operation rate (DESIGN.md, "Durability contract").

import type { CapacityGuard } from './capacity.js';
import type { StoreEnvironment } from './environment.js';
import { StoreClosedError, StoreFullError, writeFailure, type StoreError } from './errors.js';
import type { StoreMetrics } from './metrics.js';
import type { PayloadRef, PayloadStore } from './payload/payload-store.js';

/** What an operation can ask of the transaction it runs in. */
export interface TxnScope {
  /** Frees a payload once this transaction is durable: the record that referred to it is then gone for good. */
  freeAfterCommit(ref: PayloadRef): void;
  /** Payloads of `segment` freed by operations applied before in this transaction: offset -> count. */
  pendingFrees(segment: number): Map<number, number>;
  /** Runs `fn` once this transaction is durable, before its payloads are freed (dropped if the operation fails). */
  afterCommit(fn: () => void): void;
  /**
   * True while the window's operations are applied one by one after one of them failed: an operation must then
   * not count on a later one of the window taking effect.
   */
  readonly isolating: boolean;
}

/** One durable change, applied inside the window's write transaction. */
export interface WriteOp {
  /** Approximate bytes of keys and values written: counts toward commitMaxBytes, pendingBytes() and the cap. */
  readonly bytes: number;
  /** False for operations that only remove or shrink data: they are accepted even when the store is full. */
  readonly grows: boolean;
  /** Application payload bytes this operation stores (for write amplification). */
  readonly payloadBytes: number;
  /** Payloads staged in the payload store for this operation: freed again if it fails. */
  readonly stagedRefs: readonly PayloadRef[] | undefined;
  /** Synchronous; reads see earlier operations of the same window. Throwing rolls back this operation only. */
  apply(scope: TxnScope): void;
}

export interface CommitSchedulerOptions {
  commitIntervalMs: number;
  commitMaxBytes: number;
}

interface Pending {
  op: WriteOp;
  resolve: () => void;
  reject: (err: StoreError) => void;
  failure: StoreError | undefined;
}

export class CommitScheduler implements TxnScope {
  private queue: Pending[] = [];
  private queuedBytes = 0;
  private committingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private windowDue = false;
  private committing: Promise<void> | undefined;
  private closed = false;
  private frees: PayloadRef[] = [];
  private committed: (() => void)[] = [];
  private isolatingNow = false;
  /** Number of the window operations join now; a new one starts when a window is taken for its commit. */
  private windowId = 0;

  constructor(
    private readonly env: StoreEnvironment,
    private readonly payloads: PayloadStore,
    private readonly capacity: CapacityGuard,
    private readonly metrics: StoreMetrics,
    private readonly options: CommitSchedulerOptions,
  ) {}

  /** Queues an operation for the current window; resolves when it is durable, rejects with a StoreError. */
  enqueue(op: WriteOp): Promise<void> {
    if (this.closed) return this.refuse(op, new StoreClosedError());
    if (op.grows) {
      const refusal = this.capacity.admit(op.bytes);
      if (refusal !== undefined) return this.refuse(op, refusal);
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ op, resolve, reject, failure: undefined });
      this.queuedBytes += op.bytes;
      if (this.queuedBytes >= this.options.commitMaxBytes) {
        this.windowDue = true;
        this.startCommit();
      } else if (this.timer === undefined && !this.windowDue) {
        this.timer = setTimeout(this.onWindowElapsed, this.options.commitIntervalMs);
      }
    });
  }

  /**
   * enqueue(), also telling which commit window the operation joined (undefined when it was refused).
   * Operations that joined the same window are applied in one transaction, in the order enqueued.
   */
  enqueueJoining(op: WriteOp): { durable: Promise<void>; window: number | undefined } {
    const queue = this.queue;
    const window = this.windowId;
    const durable = this.enqueue(op);
    // Refused operations are not queued; a queued one is last in the window's list even if enqueue started its commit.
    return { durable, window: queue[queue.length - 1]?.op === op ? window : undefined };
  }

  /** The error a growing write of about `bytes` would be refused with now, without queuing anything. */
  refusal(bytes: number): StoreError | undefined {
    if (this.closed) return new StoreClosedError();
    return this.capacity.wouldRefuse(bytes);
  }

  /** Bytes queued or being committed and not yet durable: callers slow down when this grows. */
  pendingBytes(): number {
    return this.queuedBytes + this.committingBytes;
  }

  /** Closes the current window now and waits until everything queued so far is durable (or failed). */
  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.committing !== undefined) {
      if (this.queue.length > 0) {
        this.windowDue = true;
        this.startCommit();
      }
      await this.committing;
    }
  }

  /** Flushes, then refuses new operations with StoreClosedError. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
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

  afterCommit(fn: () => void): void {
    this.committed.push(fn);
  }

  private readonly onWindowElapsed = (): void => {
    this.timer = undefined;
    this.windowDue = true;
    this.startCommit();
  };

  private refuse(op: WriteOp, err: StoreError): Promise<void> {
    this.freeStaged(op);
    this.metrics.opsFailed++;
    return Promise.reject(err);
  }

  /** At most one commit is in flight: windows closing meanwhile wait, and then go in one transaction together. */
  private startCommit(): void {
    if (this.committing !== undefined || !this.windowDue || this.queue.length === 0) return;
    this.windowDue = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queue;
    this.queue = [];
    this.windowId++;
    this.committingBytes = this.queuedBytes;
    this.queuedBytes = 0;
    this.committing = this.commit(batch).finally(() => {
      this.committing = undefined;
      this.committingBytes = 0;
      if (this.queue.length === 0) return;
      if (this.queuedBytes >= this.options.commitMaxBytes) this.windowDue = true;
      if (this.windowDue) this.startCommit();
      else if (this.timer === undefined) this.timer = setTimeout(this.onWindowElapsed, this.options.commitIntervalMs);
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
      }
    } catch (err) {
      this.failAll(batch, writeFailure(err, 'payload store flush'));
      return;
    }
    await this.runTransaction(batch, true);
    this.metrics.commitLatency.record(performance.now() - started);
  }

  private async runTransaction(batch: Pending[], retryShrinking: boolean): Promise<void> {
    this.frees = [];
    this.committed = [];
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
    let grew = false;
    for (const pending of batch) {
      if (pending.failure !== undefined) {
        this.failOne(pending, pending.failure);
        continue;
      }
      if (pending.op.grows) {
        this.capacity.release(pending.op.bytes);
        grew = true;
      }
      this.metrics.opsCommitted++;
      this.metrics.payloadBytesAccepted += pending.op.payloadBytes;
      pending.resolve();
    }
    // Compaction hands payload owners to their copies first: a record removed later in this window already
    // referred to the copy, so its free must find the copy owned.
    for (const fn of this.committed) fn();
    this.committed = [];
    for (const ref of this.frees) this.payloads.free(ref);
    this.frees = [];
    this.capacity.refresh(grew);
  }

  /** Runs inside the write transaction: the whole window in one child transaction, op by op only on error. */
  private applyAll(batch: Pending[]): void {
    try {
      this.env.atomically(() => {
        for (const pending of batch) pending.op.apply(this);
      });
      return;
    } catch {
      // Some operation threw and the child transaction rolled the window back: isolate it.
    }
    this.frees = [];
    this.committed = [];
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
      try {
        this.env.atomically(() => pending.op.apply(this));
      } catch (err) {
        this.frees.length = mark;
        this.committed.length = committedMark;
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
    pending.reject(err);
  }

  private freeStaged(op: WriteOp): void {
    if (op.stagedRefs === undefined) return;
    for (const ref of op.stagedRefs) this.payloads.free(ref);
  }
}
