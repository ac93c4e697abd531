// The broker's side of durability: which session, message and retained changes go to the store, and the
// collection of their durability promises so that PUBACK/PUBREC/SUBACK/CONNACK wait for the commit.
// Only persistent sessions (session expiry > 0) are written; a clean session dies with its connection anyway.

import type { Logger } from '../log/logger.js';
import { StoreError, StoreFullError } from '../store/errors.js';
import type { Store } from '../store/store.js';
import type { SessionState, StoredMessage, StoredOutgoing, StoredSubscription } from '../store/types.js';
import type { Message } from '../protocol/message.js';
import type { Outgoing, Session, SessionHooks } from './session.js';

export class BrokerPersistence implements SessionHooks {
  /** Durability promises of the operation being handled (one PUBLISH, SUBSCRIBE or CONNECT). */
  private collected: Promise<void>[] = [];
  private readonly loggedFailures = new Set<string>();

  constructor(
    readonly store: Store,
    private readonly log: Logger,
  ) {}

  /** Starts collecting for one operation; `finish()` hands back what it must wait for. */
  begin(): void {
    this.collected.length = 0;
  }

  /** undefined when nothing durable was written, else a promise that settles once all of it is on disk. */
  finish(): Promise<void> | undefined {
    const c = this.collected;
    if (c.length === 0) return undefined;
    const p = c.length === 1 ? c[0]! : Promise.all(c).then(() => undefined);
    this.collected = [];
    return p;
  }

  track(p: Promise<void>): void {
    // Whoever awaits finish() sees a failure; an operation nobody collected (a will) must not crash the process.
    p.catch(noop);
    this.collected.push(p);
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
    if (this.store.isFull()) {
      this.track(Promise.reject(new StoreFullError('storage limit reached')));
      return false;
    }
    try {
      const appended = this.store.appendSessionMessage(session.clientId, storedOutgoing(out));
      out.seq = appended.seq;
      out.inline = appended.inline;
      this.track(appended.durable);
      return true;
    } catch (err) {
      this.track(Promise.reject(err));
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
    if (out.seq > 0) this.background('ack', this.store.removeSessionMessage(session.clientId, out.seq, out.inline));
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

function noop(): void {}

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

function storedOutgoing(out: Outgoing): StoredOutgoing {
  return {
    message: storedMessage(out.msg),
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
