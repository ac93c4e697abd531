// Outgoing QoS 1/2 messages of persistent sessions, queued or inflight, keyed by session id + sequence so a
// reconnecting client's messages come back in order with one range scan [MQTT-4.4.0-1].

import { refused, type DurabilityWaiter, type TxnScope, type WriteOp } from './commit-scheduler.js';
import { LogKind, type LogEntry } from './log/log-entry.js';
import { seqKey } from './keys.js';
import { packLogRef, type LogRef } from './log/commit-log.js';
import { decodeInline, decodeMessage, encodeMessage, isIndexEntry, readScannedRecords, type MessageRecord, type StoreContext } from './message-records.js';
import { AppendOp, RemoveOp, keyIdentity } from './ops.js';
import type { PayloadRef } from './payload/payload-store.js';
import type { SessionTable } from './session-table.js';
import type { Appended, SessionMessage, StoredOutgoing } from './types.js';

/** [message, delivery qos, retain as delivered 0/1, packet id (0 while queued), released 0/1, subscription ids?] */
type OutgoingRecord = [
  m: MessageRecord,
  qos: 1 | 2,
  retain: number,
  packetId: number,
  released: number,
  subscriptionIds?: number[],
];

/**
 * A session message's append. Logged as [SessionAppend, session id, seq, record]; once the log holds it, a
 * message with an inline payload goes into LMDB as an index entry (the record with its message replaced by the
 * log reference: ~15 bytes instead of ~300), and the log record stays live until the entry is removed.
 */
export class SessionAppendOp extends AppendOp {
  private logRef: LogRef | undefined;
  private readonly logRecords: boolean;

  constructor(
    private readonly ctx: StoreContext,
    private readonly sid: number,
    private readonly seq: number,
    /** Released once the log holds it and a run will refer to it (logged), as AppendQueueMessageOp's. */
    private record: OutgoingRecord | undefined,
    bytes: number,
    payloadBytes: number,
    stagedRef: PayloadRef | undefined,
    logRef?: LogRef,
  ) {
    super(ctx.dbs.sessionMessages, seqKey(sid, seq), record, bytes, payloadBytes, stagedRef);
    this.logRecords = ctx.logRecords;
    if (logRef !== undefined) this.logged(logRef);
  }

  override apply(scope: TxnScope): void {
    const ref = this.logRef;
    if (ref === undefined) {
      super.apply(scope);
      return;
    }
    if (this.cancelled === true && !scope.isolating) {
      if (this.ctx.indexRuns) this.ctx.messageIndexes.sessionMessages.skipInRun(scope, this.sid, this.seq);
      return;
    }
    if (this.ctx.indexRuns) {
      this.ctx.messageIndexes.sessionMessages.appendToRun(scope, this.sid, this.seq, ref);
      return;
    }
    const entry: unknown[] = this.record!.slice();
    entry[0] = packLogRef(ref);
    this.db.put(this.key, entry);
    scope.logRecordLive(ref);
  }

  override logEntry(): LogEntry {
    return [LogKind.SessionAppend, this.sid, this.seq, this.record!];
  }

  logged(ref: LogRef, holdsRecord = true): void {
    // A payload in the payload store keeps its whole record in LMDB: a removal frees the payload from it.
    if (this.record === undefined) return; // released by an earlier call
    if (this.record[0][4] === null && this.logRecords && holdsRecord) this.logRef = ref;
    // As AppendQueueMessageOp.logged: from here on the op needs only its session, seq and reference.
    if (this.logRef !== undefined && this.ctx.indexRuns) {
      this.record = undefined;
      this.releaseValue();
    }
  }
}

/** Changes the inflight state of a stored message in place (absent: already removed, nothing to do). */
export class UpdateInflightOp implements WriteOp {
  readonly grows = false;
  readonly bytes = 16;
  readonly payloadBytes = 0;
  readonly stagedRefs = undefined;
  /** Its message's append is cancelled in the same index commit (cancelRemovedAppends): nothing to change. */
  cancelled?: boolean;

  constructor(
    private readonly ctx: StoreContext,
    private readonly key: Buffer,
    private readonly packetId: number,
    private readonly released: boolean,
  ) {}

  apply(scope: TxnScope): void {
    if (this.cancelled === true && !scope.isolating) return;
    const released = this.released ? 1 : 0;
    const update = (value: unknown): OutgoingRecord => {
      const record = value as OutgoingRecord;
      record[3] = this.packetId;
      record[4] = released;
      return record;
    };
    // A message in a run keeps [packet id, released] as its changed fields (load applies them).
    this.ctx.messageIndexes.sessionMessages.change(scope, this.key, update, [this.packetId, released]);
  }

  updatedKey(): string {
    return keyIdentity(this.ctx.dbs.sessionMessages, this.key);
  }

  logEntry(): LogEntry {
    return [LogKind.UpdateInflight, this.key, this.packetId, this.released];
  }
}

export class SessionMessageTable {
  constructor(
    private readonly ctx: StoreContext,
    private readonly sessions: SessionTable,
  ) {}

  /** Stores a message for the session; the sequence number is known at once, durability later. */
  append(clientId: string, out: StoredOutgoing, waiter?: DurabilityWaiter): Appended {
    const entry = this.sessions.entry(clientId);
    const seq = this.sessions.takeSeq(entry);
    let durable: Promise<void>;
    let inline = true;
    try {
      const encoded = encodeMessage(out.message, this.ctx);
      inline = encoded.record[4] === null;
      const record: OutgoingRecord = [encoded.record, out.qos, out.retain ? 1 : 0, out.packetId, out.released ? 1 : 0];
      if (out.subscriptionIds !== undefined) record.push(out.subscriptionIds);
      const op = new SessionAppendOp(this.ctx, entry.sid, seq, record, encoded.bytes + 24, out.message.payload.length, encoded.ref);
      durable = this.ctx.scheduler.enqueueJoining(op, waiter).durable;
    } catch (err) {
      durable = refused(err, waiter); // the payload store refused the payload (StoreFullError)
    }
    return { seq, durable, inline };
  }

  /** Removes a message: PUBACK, PUBCOMP, or expiry. Its payload is freed once the removal is durable. */
  remove(clientId: string, seq: number, _inline?: boolean): Promise<void> {
    const key = seqKey(this.sessions.entry(clientId).sid, seq);
    // Read even when its payload is inline (`_inline`): an index entry's log record is freed from it.
    return this.ctx.scheduler.enqueueBackground(new RemoveOp(this.ctx.dbs.sessionMessages, key, true));
  }

  /** Records that a message was sent with a packet identifier, or that its PUBREC arrived (released). */
  updateInflight(clientId: string, seq: number, packetId: number, released: boolean): Promise<void> {
    const key = seqKey(this.sessions.entry(clientId).sid, seq);
    return this.ctx.scheduler.enqueueBackground(new UpdateInflightOp(this.ctx, key, packetId, released));
  }

  /** The session's messages in sequence order, after `afterSeq`, at most `limit` of them. */
  async load(clientId: string, afterSeq = 0, limit = Number.POSITIVE_INFINITY): Promise<SessionMessage[]> {
    if (!this.sessions.has(clientId)) return [];
    const found = this.ctx.messageIndexes.sessionMessages.scan(this.sessions.entry(clientId).sid, afterSeq, limit);
    const logged = await readScannedRecords(this.ctx.log, found);
    const messages: SessionMessage[] = [];
    for (let i = 0; i < found.length; i++) {
      const row = found[i]!;
      let record: OutgoingRecord;
      if (row.run !== undefined) {
        // A run's message is as appended, but for the packet id and release state changed since.
        record = logged[i] as OutgoingRecord;
        const changed = row.run.changed.get(row.index);
        if (changed !== undefined) [record[3], record[4]] = [changed[0]!, changed[1]!];
      } else if (isIndexEntry(row.value)) {
        // An index entry's message is in the log; its packet id and release state are LMDB's.
        record = (row.value as unknown[]).slice() as OutgoingRecord;
        record[0] = (logged[i] as OutgoingRecord)[0];
      } else {
        record = row.value as OutgoingRecord;
      }
      const [m, qos, retain, packetId, released, subscriptionIds] = record;
      const message = decodeInline(m) ?? (await decodeMessage(m, this.ctx.payloads));
      messages.push({ seq: row.seq, message, qos, retain: retain === 1, subscriptionIds, packetId, released: released === 1, inline: m[4] === null });
    }
    return messages;
  }
}
