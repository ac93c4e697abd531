// Primitives for the durable queues: definitions, messages keyed by queue id + sequence, and consumer state.
// A last-value record carries its key; which record holds a key is known to the queue in memory (rebuilt from
// the records at start), so replacing a value costs no index lookup in the commit. Reads come in bounded batches.

import { refused, type DurabilityWaiter, type TxnScope, type WriteOp } from './commit-scheduler.js';
import { LogKind, type LogEntry } from './log/log-entry.js';
import { idKey, idPrefixRange, idTextKey, readKeyId, seqKey } from './keys.js';
import { packLogRef, type LogRef } from './log/commit-log.js';
import { decodeInline, decodeMessage, encodeMessage, isIndexEntry, readScannedRecords, type MessageRecord, type StoreContext } from './message-records.js';
import { CompositeOp, PutOp, RangeRemoveOp, RemoveOp, ReplaceOp, keyIdentity } from './ops.js';
import type { PayloadRef } from './payload/payload-store.js';
import { lastSeq } from './sequences.js';
import type { Appended, ConsumerState, QueueDefinition, QueueMessage, ReplacedMessage, StoredMessage } from './types.js';

/** [message, delivery count, enqueued at (ms since the epoch), last-value key?] */
type QueueMessageRecord = [m: MessageRecord, deliveryCount: number, enqueuedAt: number, key?: string];
/** Index entry (store format 4): [log reference, delivery count]; the rest is in the log record. */
type QueueIndexEntry = [ref: [number, number, number], deliveryCount: number];

/**
 * Appends a message; the message it replaces (last-value: the key's previous value, which the queue knows) is
 * removed in the same commit. Its record is read only when it may hold a payload-store reference to free.
 *
 * Last-value values replaced within one commit window are never written: a value whose replacement is in the
 * same window skips its put, and the replacement then has nothing to remove. Both are in one transaction, so
 * either both take effect or neither (when the window is applied op by op after a failure, nothing is skipped).
 */
export class AppendQueueMessageOp implements WriteOp {
  readonly grows = true;
  readonly releases: boolean;
  readonly stagedRefs: readonly PayloadRef[] | undefined;
  /** A later append of the same window replaces this one (set only for inline payloads: nothing to free). */
  replacedInWindow: AppendQueueMessageOp | undefined;
  /** The append this one replaces, when it is of the same window. */
  replacesInWindow: AppendQueueMessageOp | undefined;
  /** This op's put was skipped in the current attempt at applying the window. */
  skipped = false;
  cancelled?: boolean;
  private logRef: LogRef | undefined;

  constructor(
    private readonly ctx: StoreContext,
    private readonly queueId: number,
    readonly seq: number,
    /** Released once the log holds it and a run will refer to it (logged): kept only by ops that may still write it. */
    private record: QueueMessageRecord | undefined,
    readonly bytes: number,
    readonly payloadBytes: number,
    stagedRef: PayloadRef | undefined,
    private readonly replaces: ReplacedMessage | undefined,
    logRef?: LogRef,
  ) {
    this.stagedRefs = stagedRef === undefined ? undefined : [stagedRef];
    this.releases = replaces !== undefined;
    if (logRef !== undefined) this.logged(logRef);
  }

  apply(scope: TxnScope): void {
    const { queueMessages } = this.ctx.dbs;
    const previous = this.replaces;
    // Not written (skipped earlier in this same attempt): nothing to remove.
    if (previous !== undefined && this.replacesInWindow?.skipped !== true) {
      // Read even when its payload is inline: an index entry's log record is freed from it.
      this.ctx.messageIndexes.queueMessages.remove(scope, seqKey(this.queueId, previous.seq), true);
    }
    this.skipped = (this.replacedInWindow !== undefined || this.cancelled === true) && !scope.isolating;
    if (this.skipped) {
      if (this.ctx.indexRuns) this.ctx.messageIndexes.queueMessages.skipInRun(scope, this.queueId, this.seq);
      return;
    }
    const ref = this.logRef;
    if (ref === undefined) {
      queueMessages.put(seqKey(this.queueId, this.seq), this.record!);
      return;
    }
    if (this.ctx.indexRuns) {
      this.ctx.messageIndexes.queueMessages.appendToRun(scope, this.queueId, this.seq, ref);
      return;
    }
    // The message is in the log: LMDB keeps the reference and the one field that changes.
    const entry: QueueIndexEntry = [packLogRef(ref), this.record![1]];
    queueMessages.put(seqKey(this.queueId, this.seq), entry);
    scope.logRecordLive(ref);
  }

  logged(ref: LogRef, holdsRecord = true): void {
    // A payload in the payload store keeps its whole record in LMDB: a removal frees the payload from it.
    if (this.record === undefined) return; // released by an earlier call
    if (this.record[0][4] === null && this.ctx.logRecords && holdsRecord) this.logRef = ref;
    // A run refers to the log's copy; this op waits for the index commit (thousands of them, promoted to V8's old
    // space) and needs only its queue, seq and reference from here on (issue 13: garbage collection).
    if (this.logRef !== undefined && this.ctx.indexRuns) this.record = undefined;
  }

  createdKey(): string | undefined {
    return this.stagedRefs === undefined ? keyIdentity(this.ctx.dbs.queueMessages, seqKey(this.queueId, this.seq)) : undefined;
  }

  /**
   * A value replaced in its own window is not logged at all (null): its replacement's entry removes what it
   * replaced instead, so that a replayed record never leaves a key without a value, even when a torn window is
   * cut after it. The value then reaches neither the log nor LMDB.
   */
  logEntry(): LogEntry | null {
    if (this.replacedInWindow !== undefined) return null;
    let first: AppendQueueMessageOp = this;
    while (first.replacesInWindow !== undefined) first = first.replacesInWindow;
    const replaces = first.replaces === undefined ? null : [first.replaces.seq, first.replaces.inline];
    return [LogKind.QueueAppend, this.queueId, this.seq, this.record!, replaces];
  }
}

/** Sets the delivery count of a stored message (absent: nothing to do). */
export class SetDeliveryCountOp implements WriteOp {
  readonly grows = false;
  readonly bytes = 16;
  readonly payloadBytes = 0;
  readonly stagedRefs = undefined;
  /** Its message's append is cancelled in the same index commit (cancelRemovedAppends): nothing to change. */
  cancelled?: boolean;

  constructor(
    private readonly ctx: StoreContext,
    private readonly key: Buffer,
    private readonly deliveryCount: number,
  ) {}

  apply(scope: TxnScope): void {
    if (this.cancelled === true && !scope.isolating) return;
    const update = (value: unknown): QueueMessageRecord => {
      const record = value as QueueMessageRecord;
      record[1] = this.deliveryCount;
      return record;
    };
    // A message in a run keeps [delivery count] as its changed field (read applies it).
    this.ctx.messageIndexes.queueMessages.change(scope, this.key, update, [this.deliveryCount]);
  }

  updatedKey(): string {
    return keyIdentity(this.ctx.dbs.queueMessages, this.key);
  }

  logEntry(): LogEntry {
    return [LogKind.SetDeliveryCount, this.key, this.deliveryCount];
  }
}

export class QueueTable {
  private readonly nextSeq = new Map<number, number>();
  /** The latest last-value append per queue id and key, while its commit window is the newest one joined. */
  private readonly windowAppends = new Map<string, AppendQueueMessageOp>();
  private windowAppendsOf: number | undefined;

  constructor(private readonly ctx: StoreContext) {}

  saveQueue(queueId: number, definition: QueueDefinition): Promise<void> {
    const key = idKey(queueId);
    // Redeclaring a queue that exists (every start does, from the configuration) replaces a record of about the
    // same size: not refused while the store is full, or a broker restarted on a full disk could not start.
    const Op = this.ctx.dbs.queues.get(key) === undefined ? PutOp : ReplaceOp;
    return this.ctx.scheduler.enqueue(new Op(this.ctx.dbs.queues, key, definition, 256));
  }

  /** Removes a queue with all its messages and consumers, in one commit. */
  deleteQueue(queueId: number): Promise<void> {
    const { dbs } = this.ctx;
    const range = idPrefixRange(queueId);
    this.nextSeq.delete(queueId);
    return this.ctx.scheduler.enqueue(
      new CompositeOp([
        new RemoveOp(dbs.queues, idKey(queueId)),
        new RangeRemoveOp(dbs.queueMessages, range, true),
        new RangeRemoveOp(dbs.consumers, range),
      ]),
    );
  }

  loadQueues(): { queueId: number; definition: QueueDefinition }[] {
    const queues: { queueId: number; definition: QueueDefinition }[] = [];
    for (const { key, value } of this.ctx.dbs.queues.getRange({})) {
      queues.push({ queueId: readKeyId(key as Buffer), definition: value as QueueDefinition });
    }
    return queues;
  }

  /** Appends with the next sequence of the queue, recording its last-value `key` and removing what it `replaces`. */
  append(queueId: number, message: StoredMessage, key?: string, replaces?: ReplacedMessage, waiter?: DurabilityWaiter): Appended {
    let seq = this.nextSeq.get(queueId);
    if (seq === undefined) seq = lastSeq(this.ctx.dbs.queueMessages, queueId) + 1;
    this.nextSeq.set(queueId, seq + 1);
    let durable: Promise<void>;
    let inline = true;
    try {
      const encoded = encodeMessage(message, this.ctx);
      inline = encoded.record[4] === null;
      const record: QueueMessageRecord = [encoded.record, 0, Date.now()];
      if (key !== undefined) record.push(key);
      const bytes = encoded.bytes + 16 + (key === undefined ? 0 : 2 * key.length + 24);
      const op = new AppendQueueMessageOp(this.ctx, queueId, seq, record, bytes, message.payload.length, encoded.ref, replaces);
      const joined = this.ctx.scheduler.enqueueJoining(op, waiter);
      durable = joined.durable;
      if (key !== undefined && joined.window !== undefined) this.coalesce(joined.window, queueId, key, op, replaces);
    } catch (err) {
      durable = refused(err, waiter);
    }
    return { seq, durable, inline };
  }

  /** Links a last-value append to the value it replaces when both joined the same commit window. */
  private coalesce(window: number, queueId: number, key: string, op: AppendQueueMessageOp, replaces: ReplacedMessage | undefined): void {
    if (window !== this.windowAppendsOf) {
      this.windowAppends.clear();
      this.windowAppendsOf = window;
    }
    const slot = `${queueId}/${key}`;
    const prev = this.windowAppends.get(slot);
    // Only an inline value is skipped: one in the payload store would have a staged payload to free as well.
    if (prev !== undefined && replaces !== undefined && prev.seq === replaces.seq && prev.stagedRefs === undefined) {
      prev.replacedInWindow = op;
      op.replacesInWindow = prev;
    }
    this.windowAppends.set(slot, op);
  }

  /** Up to `limit` messages of a queue with a sequence above `afterSeq`, in order. */
  async read(queueId: number, afterSeq: number, limit: number): Promise<QueueMessage[]> {
    const found = this.ctx.messageIndexes.queueMessages.scan(queueId, afterSeq, limit);
    const logged = await readScannedRecords(this.ctx.log, found);
    const messages: QueueMessage[] = [];
    for (let i = 0; i < found.length; i++) {
      const row = found[i]!;
      let record: QueueMessageRecord;
      let deliveryCount: number;
      if (row.run !== undefined) {
        // A run's message is as appended (delivery count 0), but for a delivery count set since.
        record = logged[i] as QueueMessageRecord;
        deliveryCount = row.run.changed.get(row.index)?.[0] ?? record[1];
      } else {
        // An index entry's message, enqueue time and key are in the log; its delivery count is LMDB's.
        const value = row.value as QueueMessageRecord | QueueIndexEntry;
        record = isIndexEntry(value) ? (logged[i] as QueueMessageRecord) : value;
        deliveryCount = value[1];
      }
      const [m, , enqueuedAt, key] = record;
      const message = decodeInline(m) ?? (await decodeMessage(m, this.ctx.payloads));
      messages.push({ seq: row.seq, message, key, deliveryCount, enqueuedAt, inline: m[4] === null });
    }
    return messages;
  }

  /**
   * Removes a message. The record is read even when its payload is inline (`_inline`, from its append or read):
   * an index entry's log record is freed from it (store format 4).
   */
  remove(queueId: number, seq: number, _inline?: boolean): Promise<void> {
    return this.ctx.scheduler.enqueueBackground(new RemoveOp(this.ctx.dbs.queueMessages, seqKey(queueId, seq), true));
  }

  /** Removes several messages of a queue in one operation; `_inline[i]` as for remove(). */
  removeMany(queueId: number, seqs: readonly number[], _inline: readonly boolean[]): Promise<void> {
    // One operation and one promise for a turn's acknowledgements, logged as the single removals it holds.
    const db = this.ctx.dbs.queueMessages;
    return this.ctx.scheduler.enqueueBackground(new CompositeOp(seqs.map((seq) => new RemoveOp(db, seqKey(queueId, seq), true))));
  }

  setDeliveryCount(queueId: number, seq: number, deliveryCount: number): Promise<void> {
    return this.ctx.scheduler.enqueueBackground(new SetDeliveryCountOp(this.ctx, seqKey(queueId, seq), deliveryCount));
  }

  saveConsumer(queueId: number, consumerId: string, state: ConsumerState): Promise<void> {
    const record = { c: consumerId, s: state };
    const key = idTextKey(queueId, consumerId);
    return this.ctx.scheduler.enqueue(new PutOp(this.ctx.dbs.consumers, key, record, 128 + consumerId.length));
  }

  deleteConsumer(queueId: number, consumerId: string): Promise<void> {
    return this.ctx.scheduler.enqueue(new RemoveOp(this.ctx.dbs.consumers, idTextKey(queueId, consumerId)));
  }

  loadConsumers(queueId: number): { consumerId: string; state: ConsumerState }[] {
    const range = idPrefixRange(queueId);
    const consumers: { consumerId: string; state: ConsumerState }[] = [];
    for (const { value } of this.ctx.dbs.consumers.getRange({ start: range.start, end: range.end })) {
      const record = value as { c: string; s: ConsumerState };
      consumers.push({ consumerId: record.c, state: record.s });
    }
    return consumers;
  }
}
