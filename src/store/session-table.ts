// Persistent sessions: the session record with its subscriptions, keyed by client identifier, and the incoming
// QoS 2 packet identifiers still waiting for PUBREL. Each session gets a numeric id, the prefix of its keys in
// session-messages and incoming-qos2; ids are never reused, so a deleted session's keys cannot be inherited.

import type { WriteOp } from './commit-scheduler.js';
import { StoreError } from './errors.js';
import { idPrefixRange, packetIdKey, readKeyPacketId, textKey } from './keys.js';
import type { StoreContext } from './message-records.js';
import { CompositeOp, PutOp, RangeRemoveOp, RemoveOp, ReplaceOp } from './ops.js';
import { lastSeq } from './sequences.js';
import type { SessionState, StoredSubscription } from './types.js';

interface SessionRecord {
  /** client identifier */
  c: string;
  /** session id: key prefix of the session's messages */
  s: number;
  v: 3 | 4 | 5;
  /** session expiry interval, seconds */
  e: number;
  /** disconnectedAt, ms since the epoch, or null */
  d: number | null;
  u: StoredSubscription[];
  /** owner's user name, null when anonymous; absent in records written before owners were recorded */
  n?: string | null;
}

export interface SessionEntry {
  readonly sid: number;
  /** Next sequence number of an outgoing message; found lazily from the last stored key. */
  nextSeq: number | undefined;
}

export class SessionTable {
  private readonly index = new Map<string, SessionEntry>();
  private nextSid = 1;

  constructor(private readonly ctx: StoreContext) {}

  /** At open: builds the client id -> session id index from the stored sessions. */
  buildIndex(): void {
    for (const { value } of this.ctx.dbs.sessions.getRange({})) {
      const record = value as SessionRecord;
      this.index.set(record.c, { sid: record.s, nextSeq: undefined });
      if (record.s >= this.nextSid) this.nextSid = record.s + 1;
    }
  }

  /** Every stored session as committed (writes still in a commit window are not seen). */
  load(): SessionState[] {
    const states: SessionState[] = [];
    for (const { value } of this.ctx.dbs.sessions.getRange({})) {
      const record = value as SessionRecord;
      const state: SessionState = {
        clientId: record.c,
        protocolVersion: record.v,
        sessionExpiryInterval: record.e,
        disconnectedAt: record.d,
        subscriptions: record.u,
      };
      // Older records have no owner: left out, "not known", which the broker treats apart from anonymous (null).
      if (record.n !== undefined) state.username = record.n;
      states.push(state);
    }
    return states;
  }

  /** Session ids of every stored session. */
  sessionIds(): Set<number> {
    return new Set([...this.index.values()].map((entry) => entry.sid));
  }

  /** The session's index entry; throws for a client without a saved session (a caller bug). */
  entry(clientId: string): SessionEntry {
    const entry = this.index.get(clientId);
    if (entry === undefined) {
      throw new StoreError('UNKNOWN_SESSION', `no stored session for client "${clientId}": saveSession first`);
    }
    return entry;
  }

  has(clientId: string): boolean {
    return this.index.has(clientId);
  }

  /** Creates or replaces the session record (subscriptions included). */
  save(state: SessionState): Promise<void> {
    let entry = this.index.get(state.clientId);
    const exists = entry !== undefined;
    if (entry === undefined) {
      // A new id has no keys yet; ids are never reused, so nothing is inherited from a deleted session.
      entry = { sid: this.nextSid++, nextSeq: 1 };
      this.index.set(state.clientId, entry);
    }
    const record: SessionRecord = {
      c: state.clientId,
      s: entry.sid,
      v: state.protocolVersion,
      e: state.sessionExpiryInterval,
      d: state.disconnectedAt,
      u: state.subscriptions,
    };
    if (state.username !== undefined) record.n = state.username;
    let bytes = 64 + state.clientId.length + (state.username?.length ?? 0);
    for (const sub of state.subscriptions) bytes += 48 + sub.topicFilter.length;
    // Rewriting an existing session is admitted even when the store is full: a consumer must be able to
    // reconnect and drain its queue, which is what frees the space.
    const op = exists ? new ReplaceOp(this.ctx.dbs.sessions, textKey(state.clientId), record, bytes) : new PutOp(this.ctx.dbs.sessions, textKey(state.clientId), record, bytes);
    return this.ctx.scheduler.enqueue(op);
  }

  /** Removes the session, its queued and inflight messages (and their payloads) and its QoS 2 state. */
  delete(clientId: string): Promise<void> {
    const { dbs } = this.ctx;
    const ops: WriteOp[] = [new RemoveOp(dbs.sessions, textKey(clientId))];
    const entry = this.index.get(clientId);
    if (entry !== undefined) {
      this.index.delete(clientId);
      const range = idPrefixRange(entry.sid);
      ops.push(new RangeRemoveOp(dbs.sessionMessages, range, true), new RangeRemoveOp(dbs.incomingQos2, range));
    }
    return this.ctx.scheduler.enqueue(new CompositeOp(ops));
  }

  /** Records an incoming QoS 2 PUBLISH whose PUBREL has not arrived [MQTT-4.3.3-9]. */
  addIncomingQos2(clientId: string, packetId: number): Promise<void> {
    const key = packetIdKey(this.entry(clientId).sid, packetId);
    return this.ctx.scheduler.enqueue(new PutOp(this.ctx.dbs.incomingQos2, key, Date.now(), 24));
  }

  removeIncomingQos2(clientId: string, packetId: number): Promise<void> {
    const key = packetIdKey(this.entry(clientId).sid, packetId);
    return this.ctx.scheduler.enqueue(new RemoveOp(this.ctx.dbs.incomingQos2, key));
  }

  /** Packet identifiers of incoming QoS 2 messages awaiting PUBREL, in ascending order. */
  loadIncomingQos2(clientId: string): number[] {
    const entry = this.index.get(clientId);
    if (entry === undefined) return [];
    const ids: number[] = [];
    const range = idPrefixRange(entry.sid);
    for (const key of this.ctx.dbs.incomingQos2.getKeys({ start: range.start, end: range.end })) {
      ids.push(readKeyPacketId(key as Buffer));
    }
    return ids;
  }

  /** Next sequence number for the session's outgoing messages. */
  takeSeq(entry: SessionEntry): number {
    entry.nextSeq ??= lastSeq(this.ctx.dbs.sessionMessages, entry.sid) + 1;
    return entry.nextSeq++;
  }
}
