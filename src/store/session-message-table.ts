// Outgoing QoS 1/2 messages of persistent sessions, queued or inflight, keyed by session id + sequence so a
// reconnecting client's messages come back in order with one range scan [MQTT-4.4.0-1].

import { refused, type DurabilityWaiter, type TxnScope, type WriteOp } from './commit-scheduler.js';
import { LogKind, type LogEntry } from './log/log-entry.js';
import { seqKey, readKeySeq, seqRangeAfter } from './keys.js';
import { decodeInline, decodeMessage, encodeMessage, type MessageRecord, type StoreContext } from './message-records.js';
import { AppendOp, RemoveOp } from './ops.js';
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
      const key = seqKey(entry.sid, seq);
      const op = new AppendOp(this.ctx.dbs.sessionMessages, key, record, encoded.bytes + 24, out.message.payload.length, encoded.ref);
      durable = this.ctx.scheduler.enqueueJoining(op, waiter).durable;
    } catch (err) {
      durable = refused(err, waiter); // the payload store refused the payload (StoreFullError)
    }
    return { seq, durable, inline };
  }

  /** Removes a message: PUBACK, PUBCOMP, or expiry. Its payload is freed once the removal is durable. */
  remove(clientId: string, seq: number, inline?: boolean): Promise<void> {
    const key = seqKey(this.sessions.entry(clientId).sid, seq);
    // A record known to hold its payload inline has no payload-store reference: it need not be read to free one.
    return this.ctx.scheduler.enqueue(new RemoveOp(this.ctx.dbs.sessionMessages, key, inline !== true));
  }

  /** Records that a message was sent with a packet identifier, or that its PUBREC arrived (released). */
  updateInflight(clientId: string, seq: number, packetId: number, released: boolean): Promise<void> {
    const key = seqKey(this.sessions.entry(clientId).sid, seq);
    return this.ctx.scheduler.enqueue(new UpdateInflightOp(this.ctx, key, packetId, released));
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
    const messages: SessionMessage[] = [];
    for (const { seq, record } of rows) {
      const [m, qos, retain, packetId, released, subscriptionIds] = record;
      const message = decodeInline(m) ?? (await decodeMessage(m, this.ctx.payloads));
      messages.push({ seq, message, qos, retain: retain === 1, subscriptionIds, packetId, released: released === 1, inline: m[4] === null });
    }
    return messages;
  }
}
