// Outgoing QoS 1/2 messages of persistent sessions, queued or inflight, keyed by session id + sequence so a
// reconnecting client's messages come back in order with one range scan [MQTT-4.4.0-1].

import { refused, type DurabilityWaiter, type TxnScope, type WriteOp } from './commit-scheduler.js';
import { LogKind, type LogEntry } from './log/log-entry.js';
import { seqKey, readKeySeq, seqRangeAfter } from './keys.js';
import { packLogRef, type LogRef } from './log/commit-log.js';
import { decodeInline, decodeMessage, encodeMessage, isIndexEntry, logRefOf, readLoggedRecords, type MessageRecord, type StoreContext } from './message-records.js';
import { AppendOp, RemoveOp } from './ops.js';
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
    ctx: StoreContext,
    private readonly sid: number,
    private readonly seq: number,
    private readonly record: OutgoingRecord,
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
    if (this.cancelled === true && !scope.isolating) return;
    const entry: unknown[] = this.record.slice();
    entry[0] = packLogRef(ref);
    this.db.put(this.key, entry);
    scope.logRecordLive(ref);
  }

  override logEntry(): LogEntry {
    return [LogKind.SessionAppend, this.sid, this.seq, this.record];
  }

  logged(ref: LogRef, holdsRecord = true): void {
    // A payload in the payload store keeps its whole record in LMDB: a removal frees the payload from it.
    if (this.record[0][4] === null && this.logRecords && holdsRecord) this.logRef = ref;
  }
}

/** Changes the inflight state of a stored message in place (absent: already removed, nothing to do). */
export class UpdateInflightOp implements WriteOp {
  readonly grows = false;
  readonly bytes = 16;
  readonly payloadBytes = 0;
  readonly stagedRefs = undefined;

  constructor(
    private readonly ctx: StoreContext,
    private readonly key: Buffer,
    private readonly packetId: number,
    private readonly released: boolean,
  ) {}

  apply(_scope: TxnScope): void {
    const db = this.ctx.dbs.sessionMessages;
    const record = db.get(this.key) as OutgoingRecord | undefined;
    if (record === undefined) return;
    record[3] = this.packetId;
    record[4] = this.released ? 1 : 0;
    db.put(this.key, record);
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
    const range = seqRangeAfter(this.sessions.entry(clientId).sid, afterSeq);
    const rows: { seq: number; record: OutgoingRecord }[] = [];
    for (const { key, value } of this.ctx.dbs.sessionMessages.getRange({ start: range.start, end: range.end })) {
      if (rows.length >= limit) break;
      rows.push({ seq: readKeySeq(key as Buffer), record: value as OutgoingRecord });
    }
    const logged = await readLoggedRecords(this.ctx.log, rows.flatMap(({ record }) => logRefOf(record) ?? []));
    let next = 0;
    const messages: SessionMessage[] = [];
    for (const { seq, record } of rows) {
      const [, qos, retain, packetId, released, subscriptionIds] = record;
      // An index entry's message is in the log; its packet id and release state are LMDB's.
      const m = isIndexEntry(record) ? (logged[next++]![0] as MessageRecord) : record[0];
      const message = decodeInline(m) ?? (await decodeMessage(m, this.ctx.payloads));
      messages.push({ seq, message, qos, retain: retain === 1, subscriptionIds, packetId, released: released === 1, inline: m[4] === null });
    }
    return messages;
  }
}
