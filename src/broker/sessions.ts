// Session lifecycle: open (create, resume or take over), attach to a connection, detach on close, will
// messages with their delay, and expiry.

import type { Broker } from './broker.js';
import type { Connection, Will } from './connection.js';
import type { Message } from '../protocol/message.js';
import { ReasonCode } from '../protocol/reason-codes.js';
import { Session } from './session.js';
import { resumeQueueConsumers } from './session-consumer.js';

/** Session expiry interval meaning "never expires" [MQTT-3.1.2-?, section 3.1.2.11.2]. */
const NEVER = 0xffffffff;

/** Node timers fire after 1 ms for delays above 2^31-1 ms (~24.8 days); longer delays are re-armed in steps. */
const MAX_TIMER_MS = 0x7fffffff;

function longTimeout(fn: () => void, ms: number, store: (t: NodeJS.Timeout) => void): void {
  const at = Date.now() + ms;
  const arm = (left: number): void => {
    const t = setTimeout(() => {
      const rest = at - Date.now();
      if (rest > 0) arm(rest);
      else fn();
    }, Math.min(left, MAX_TIMER_MS));
    t.unref();
    store(t);
  };
  arm(ms);
}

export class SessionRegistry {
  readonly byClientId = new Map<string, Session>();
  private readonly pendingWills = new Map<Session, Will>();
  /** Connections whose CONNACK waits for their session record to be durable, by client identifier. */
  private readonly connecting = new Map<string, Connection>();

  constructor(private readonly broker: Broker) {}

  get size(): number {
    return this.byClientId.size;
  }

  /** Finds or creates the session for a CONNECT; an existing connection with the same id is taken over. */
  open(conn: Connection, clientId: string, cleanStart: boolean, expiryInterval: number): { session: Session; present: boolean } {
    let session = this.byClientId.get(clientId);
    const waiting = this.connecting.get(clientId);
    if (waiting !== undefined && waiting !== conn) {
      // A CONNECT for this id still waits for its commit: it is taken over like a connected one, without the
      // DISCONNECT (it never got its CONNACK [MQTT-3.14.0-1]); what it sent before, its will and the expiry
      // rules count as they would had its commit been quicker.
      this.connecting.delete(clientId);
      waiting.close();
      if (session !== undefined && waiting.session === null) this.acceptClosed(waiting, session);
      session = this.byClientId.get(clientId);
    }
    const previous = session?.link as Connection | null | undefined;
    if (previous) {
      // Takeover: the older connection is closed with 0x8E [MQTT-3.1.4-3]; closing it runs its will and expiry rules.
      this.broker.log.info('session taken over', { clientId, remote: conn.remoteAddress });
      previous.close(ReasonCode.SessionTakenOver);
      session = this.byClientId.get(clientId);
    }
    if (session !== undefined && cleanStart) {
      // Clean Start discards any existing session [MQTT-3.1.2-4].
      this.end(session);
      session = undefined;
    }
    let present = true;
    if (session === undefined) {
      session = new Session(clientId, this.broker.config.mqtt.maxQueuedMessages, this.broker.stats);
      this.byClientId.set(clientId, session);
      present = false;
    }
    if (session.expiryTimer) clearTimeout(session.expiryTimer);
    session.expiryTimer = null;
    session.expiryInterval = expiryInterval;
    session.protocolVersion = conn.protocolVersion;
    return { session, present };
  }

  /**
   * Makes the session record durable before CONNACK: a persistent session is saved (and its messages will be);
   * a session that stopped being persistent loses its record. Returns what CONNACK must wait for.
   */
  persistOnConnect(conn: Connection, session: Session): Promise<void> | undefined {
    const persistence = this.broker.persistence;
    if (persistence === null) return undefined;
    // A session that stops being persistent loses its record, unless part of its queue is in the store alone (the
    // backlog beyond its in-memory head): it stays until the session ends with this connection, for those messages.
    if (session.expiryInterval === 0 && (session.hooks === null || session.pending.onDisk === 0)) {
      if (session.hooks !== null) persistence.deleteSession(session.clientId);
      session.hooks = null;
      return undefined;
    }
    session.hooks = persistence;
    this.connecting.set(session.clientId, conn);
    return persistence.saveSession(session, true);
  }

  /**
   * The CONNACK wait is over: true when the connection is to be attached. A connection that went away
   * meanwhile (a device that sends CONNECT, PUBLISH, DISCONNECT and closes without waiting) was accepted all the
   * same: its packets are handled and it is closed as an accepted connection would be.
   */
  connectSettled(conn: Connection, session: Session, stored: boolean): boolean {
    if (this.connecting.get(session.clientId) === conn) this.connecting.delete(session.clientId);
    const ours = this.byClientId.get(session.clientId) === session;
    if (!conn.closed && ours) return true;
    if (!stored) {
      if (session.link === null && ours && !this.connecting.has(session.clientId)) this.scheduleExpiry(session);
    } else if (ours && conn.session === null) {
      this.acceptClosed(conn, session);
    }
    return false;
  }

  /** A CONNECT whose connection closed before its CONNACK could be sent: accepted, then closed at once. */
  private acceptClosed(conn: Connection, session: Session): void {
    conn.session = session;
    this.cancelWill(session);
    conn.handleHeldAfterClose();
    this.closeRules(conn, session);
  }

  attach(conn: Connection, session: Session): void {
    conn.session = session;
    // Reconnecting before the will delay has passed cancels the will [MQTT-3.1.3-9].
    this.cancelWill(session);
    session.resume(conn);
    resumeQueueConsumers(this.broker.queues, session);
  }

  connectionClosed(conn: Connection): void {
    const session = conn.session;
    if (session === null || session.link !== conn) return;
    this.broker.queues?.ownerDetached(session);
    session.detach();
    this.closeRules(conn, session);
  }

  /** What a closed connection leaves behind: its will (now or after its delay), the expiry of its session. */
  private closeRules(conn: Connection, session: Session): void {
    if (conn.will !== null && !conn.graceful) {
      const delay = Math.min(conn.will.delayInterval, session.expiryInterval);
      if (delay === 0) this.publishWill(conn.will, session.clientId);
      else this.scheduleWill(session, conn.will, delay);
    }
    this.scheduleExpiry(session);
    if (session.hooks !== null && this.byClientId.get(session.clientId) === session) {
      // The disconnection time makes expiry survive a restart.
      this.broker.persistence?.saveSessionInBackground(session, false);
    }
    this.broker.log.info('client disconnected', { clientId: session.clientId, graceful: conn.graceful, reason: conn.closeReason, sessionKept: this.byClientId.get(session.clientId) === session });
  }

  private scheduleExpiry(session: Session, afterMs = session.expiryInterval * 1000): void {
    if (session.expiryInterval === 0) this.end(session);
    else if (session.expiryInterval !== NEVER) longTimeout(() => this.end(session), afterMs, (t) => (session.expiryTimer = t));
  }

  /** A persistent session read from the store at start-up: disconnected, its expiry counting from `disconnectedAt`. */
  restore(session: Session, disconnectedAt: number): void {
    this.byClientId.set(session.clientId, session);
    for (const sub of session.subscriptions.values()) if (sub.queueName === undefined) this.broker.trie.add(sub);
    this.scheduleExpiry(session, Math.max(0, disconnectedAt + session.expiryInterval * 1000 - Date.now()));
  }

  /** Ends a session: its subscriptions go, and a will still waiting for its delay is published now [MQTT-3.1.2-8]. */
  end(session: Session): void {
    if (this.byClientId.get(session.clientId) === session) this.byClientId.delete(session.clientId);
    if (session.hooks !== null) {
      this.broker.persistence?.deleteSession(session.clientId);
      session.hooks = null;
    }
    if (session.expiryTimer) clearTimeout(session.expiryTimer);
    session.expiryTimer = null;
    for (const sub of session.subscriptions.values()) if (sub.queueName === undefined) this.broker.trie.remove(sub);
    session.subscriptions.clear();
    session.pending.clear();
    session.inflight.clear();
    const will = this.pendingWills.get(session);
    if (will !== undefined) {
      this.cancelWill(session);
      this.publishWill(will, session.clientId);
    }
  }

  private scheduleWill(session: Session, will: Will, delaySeconds: number): void {
    this.pendingWills.set(session, will);
    longTimeout(
      () => {
        this.cancelWill(session);
        this.publishWill(will, session.clientId);
      },
      delaySeconds * 1000,
      (t) => (session.willTimer = t),
    );
  }

  private cancelWill(session: Session): void {
    if (session.willTimer) clearTimeout(session.willTimer);
    session.willTimer = null;
    this.pendingWills.delete(session);
  }

  private publishWill(will: Will, clientId: string): void {
    const now = Date.now();
    const { messageExpiryInterval, ...rest } = will.properties ?? {};
    const msg: Message = {
      topic: will.topic,
      payload: will.payload,
      qos: will.qos,
      retain: will.retain,
      properties: Object.keys(rest).length > 0 ? rest : undefined,
      expiresAt: messageExpiryInterval !== undefined ? now + messageExpiryInterval * 1000 : 0,
      origin: clientId,
    };
    this.broker.log.debug('will published', { clientId, topic: will.topic });
    this.broker.publish(msg);
  }

  /** Timers of every session, cleared on shutdown so the process can exit. */
  stopTimers(): void {
    for (const s of this.byClientId.values()) {
      if (s.expiryTimer) clearTimeout(s.expiryTimer);
      if (s.willTimer) clearTimeout(s.willTimer);
    }
  }
}
