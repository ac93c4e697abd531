// The broker's side of durability: which session, message and retained changes go to the store, and the
// collection of their durability promises so that PUBACK/PUBREC/SUBACK/CONNACK wait for the commit.
// Only persistent sessions (session expiry > 0) are written; a clean session dies with its connection anyway.

import type { Logger } from '../log/logger.js';
import { StoreError, StoreFullError } from '../store/errors.js';
import type { Store } from '../store/store.js';
import type { DurabilityWaiter } from '../store/commit-scheduler.js';
import type { SessionMessage, SessionState, StoredMessage, StoredOutgoing, StoredSubscription } from '../store/types.js';
import type { Message } from '../protocol/message.js';
import type { Outgoing, Session, SessionHooks, StoredPage } from './session.js';

/**
 * Hears of the durability of the writes of one operation: a connection's PendingAck (the publish path, no promise
 * per message), or a WritesPromise for finish(). `waiting` counts the writes handed to it (waiter() adds one).
 */
export interface DurabilityGroup extends DurabilityWaiter {
  waiting: number;
}

/** The writes of an operation nobody waits for (a will, QoS 0): failures go unheard, as a caught promise's did. */
class Unheard implements DurabilityGroup {
  waiting = 0;
  durable(): void {
    this.waiting--;
  }
}
const UNHEARD = new Unheard();

/** The writes of one operation as one promise (finish()), made only when something was written. */
class WritesPromise implements DurabilityGroup {
  waiting = 0;
  private error: unknown = undefined;
  private settle: ((err: unknown) => void) | undefined;

  durable(err: unknown): void {
    if (err !== undefined && this.error === undefined) this.error = err;
    if (--this.waiting === 0) this.settle?.(this.error);
  }

  promise(): Promise<void> | undefined {
    if (this.waiting === 0) return this.error === undefined ? undefined : Promise.reject(this.error);
    return new Promise<void>((resolve, reject) => {
      this.settle = (err) => (err === undefined ? resolve() : reject(err));
    });
  }
}

export class BrokerPersistence implements SessionHooks {
  /** Hears of the writes of the operation being handled (one PUBLISH, SUBSCRIBE or CONNECT). */
  private group: DurabilityGroup = UNHEARD;
  private readonly loggedFailures = new Set<string>();
  /** Messages finished with in this turn, per session: removed from the store together at its end. */
  private removals = new Map<Session, { seqs: number[]; inline: boolean[] }>();

  constructor(
    readonly store: Store,
    private readonly log: Logger,
  ) {}

  /**
   * Starts collecting for one operation: into `group` (a connection's acknowledgement), ended by end(); or, without
   * one, into a promise that finish() hands back.
   */
  begin(group?: DurabilityGroup): void {
    this.group = group ?? new WritesPromise();
  }

  /** Ends a collection begun with a group. */
  end(): void {
    this.group = UNHEARD;
  }

  /** undefined when nothing durable was written, else a promise that settles once all of it is on disk. */
  finish(): Promise<void> | undefined {
    const group = this.group;
    this.group = UNHEARD;
    return group instanceof WritesPromise ? group.promise() : undefined;
  }

  /** The waiter for one more write of the operation being handled (the store tells it of the write's durability). */
  waiter(): DurabilityWaiter {
    const group = this.group;
    group.waiting++;
    return group;
  }

  track(p: Promise<void>): void {
    // Whoever waits for the operation sees a failure; one nobody collected (a will) must not crash the process.
    const waiter = this.waiter();
    p.then(
      () => waiter.durable(undefined),
      (err) => waiter.durable(err),
    );
  }

  /** Writes nobody waits for (acknowledgement bookkeeping): failures are logged once per kind. */
  private background(what: string, p: Promise<void>): void {
    p.catch((err) => this.failed(what, err));
  }

  failed(what: string, err: unknown): void {
    const kind = `${what}:${err instanceof StoreError ? err.code : 'other'}`;
    if (this.loggedFailures.has(kind)) return;
    this.loggedFailures.add(kind);
    const level = err instanceof StoreFullError ? 'warn' : 'error';
    this.log[level]('store write failed', { what, error: (err as Error)?.message ?? String(err) });
  }

  // Sessions ------------------------------------------------------------------------------------------------

  /** CONNECT, SUBSCRIBE, UNSUBSCRIBE: the acknowledgement waits for the returned promise. */
  saveSession(session: Session, connected: boolean): Promise<void> {
    return this.store.saveSession(sessionState(session, connected));
  }

  saveSessionInBackground(session: Session, connected: boolean): void {
    this.background('session', this.store.saveSession(sessionState(session, connected)));
  }

  deleteSession(clientId: string): void {
    this.background('session delete', this.store.deleteSession(clientId));
  }

  // SessionHooks: the message life cycle of a persistent session -------------------------------------------------

  stored(session: Session, out: Outgoing): boolean {
    // Refused up front when full, so the message is not delivered from memory either: the publisher hears 0x97
    // and will send it again; delivering it now as well would only make a duplicate.
    const waiter = this.waiter();
    if (this.store.isFull()) {
      waiter.durable(new StoreFullError('storage limit reached'));
      return false;
    }
    try {
      const appended = this.store.appendSessionMessage(session.clientId, storedOutgoing(out), waiter);
      out.seq = appended.seq;
      out.inline = appended.inline;
      return true;
    } catch (err) {
      waiter.durable(err);
      return false;
    }
  }

  sent(session: Session, out: Outgoing): void {
    // QoS 2 must be resent with the same identifier after a restart, or the client could deliver it twice;
    // QoS 1 may take a new one (at least once), which saves a write per message.
    if (out.qos === 2 && out.seq > 0) this.background('inflight', this.store.updateInflight(session.clientId, out.seq, out.packetId, false));
  }

  released(session: Session, out: Outgoing): void {
    if (out.seq > 0) this.background('inflight', this.store.updateInflight(session.clientId, out.seq, out.packetId, true));
  }

  done(session: Session, out: Outgoing): void {
    if (out.seq <= 0) return;
    // Removals of this turn (the PUBACKs of one socket read, a backlog draining) go to the store as one operation
    // per session at the end of the turn, as the queue engine does: an operation and a promise per message cost
    // more than the removal itself.
    let batch = this.removals.get(session);
    if (batch === undefined) {
      if (this.removals.size === 0) process.nextTick(this.flushRemovals);
      batch = { seqs: [], inline: [] };
      this.removals.set(session, batch);
    }
    batch.seqs.push(out.seq);
    batch.inline.push(out.inline === true);
  }

  /** Hands this turn's removals to the store now (also before the store closes). */
  readonly flushRemovals = (): void => {
    const removals = this.removals;
    this.removals = new Map();
    for (const [session, { seqs, inline }] of removals) {
      // A session that ended meanwhile took all its records with it (and a new one with its client id has other keys).
      if (session.hooks !== this) continue;
      try {
        const p = seqs.length === 1 ? this.store.removeSessionMessage(session.clientId, seqs[0]!, inline[0]) : this.store.removeSessionMessages(session.clientId, seqs, inline);
        this.background('ack', p);
      } catch (err) {
        this.failed('ack', err);
      }
    }
  };

  readStored(session: Session, afterSeq: number, limit: number): Promise<StoredPage | null> {
    // Asked before the read: with nothing waiting for a commit, every message appended so far is in what it sees.
    const complete = this.store.pendingBytes() === 0;
    return this.readPage(session.clientId, afterSeq, limit, complete).then(
      (rows) => ({ messages: rows.map(outgoingOf), complete }),
      (err) => {
        this.failed('session read', err);
        return null;
      },
    );
  }

  /** What LMDB holds first (no index commit per page); only when that has none yet, the commit log's part too. */
  private async readPage(clientId: string, afterSeq: number, limit: number, complete: boolean): Promise<SessionMessage[]> {
    const rows = await this.store.readIndexedSessionMessages(clientId, afterSeq, limit);
    if (rows.length > 0 || complete) return rows;
    return this.store.loadSessionMessages(clientId, { afterSeq, limit });
  }

  // Incoming QoS 2 and retained -------------------------------------------------------------------------------

  addIncomingQos2(clientId: string, packetId: number): void {
    this.track(this.store.addIncomingQos2(clientId, packetId));
  }

  removeIncomingQos2(clientId: string, packetId: number): Promise<void> {
    return this.store.removeIncomingQos2(clientId, packetId);
  }

  /** An expired retained message: nobody waits for its removal, it only must not linger on disk. */
  forgetRetained(topic: string): void {
    this.background('retained expiry', this.store.deleteRetained(topic));
  }

  retain(msg: Message): void {
    this.track(msg.payload.length === 0 ? this.store.deleteRetained(msg.topic) : this.store.setRetained(storedMessage(msg)));
  }
}

export function storedMessage(msg: Message): StoredMessage {
  return {
    topic: msg.topic,
    payload: msg.payload,
    qos: msg.qos,
    retain: msg.retain,
    properties: msg.properties,
    expiresAt: msg.expiresAt,
    origin: msg.origin,
  };
}

/** A stored message as the session holds it. */
export function outgoingOf(m: SessionMessage): Outgoing {
  return { msg: m.message, qos: m.qos, retain: m.retain, subscriptionIds: m.subscriptionIds, packetId: m.packetId, released: m.released, seq: m.seq, inline: m.inline };
}

function storedOutgoing(out: Outgoing): StoredOutgoing {
  return {
    // The message itself, not a copy: the store only reads it (a Message has every field of a StoredMessage).
    message: out.msg,
    qos: out.qos as 1 | 2,
    retain: out.retain,
    subscriptionIds: out.subscriptionIds,
    packetId: out.packetId,
    released: out.released,
  };
}

function sessionState(session: Session, connected: boolean): SessionState {
  const subscriptions: StoredSubscription[] = [];
  for (const s of session.subscriptions.values()) {
    subscriptions.push({
      topicFilter: s.topicFilter,
      qos: s.qos,
      noLocal: s.noLocal,
      retainAsPublished: s.retainAsPublished,
      retainHandling: s.retainHandling,
      subscriptionId: s.subscriptionId,
    });
  }
  const state: SessionState = {
    clientId: session.clientId,
    protocolVersion: session.protocolVersion,
    sessionExpiryInterval: session.expiryInterval,
    disconnectedAt: connected ? null : Date.now(),
    subscriptions,
  };
  // The owner goes with the record, so the ACL still applies to the session after a restart (src/auth/session-owner.ts).
  if (session.username !== undefined) state.username = session.username;
  return state;
}
