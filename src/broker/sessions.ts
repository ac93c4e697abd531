// Session lifecycle: open (create, resume or take over), attach to a connection, detach on close, will
// messages with their delay, and expiry.

import type { Broker } from './broker.js';
import type { Connection, Will } from './connection.js';
import type { Message } from './message.js';
import { ReasonCode } from '../protocol/reason-codes.js';
import { Session } from './session.js';

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

  constructor(private readonly broker: Broker) {}

  get size(): number {
    return this.byClientId.size;
  }

  /** Finds or creates the session for a CONNECT; an existing connection with the same id is taken over. */
  open(conn: Connection, clientId: string, cleanStart: boolean, expiryInterval: number): { session: Session; present: boolean } {
    let session = this.byClientId.get(clientId);
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
    return { session, present };
  }

  attach(conn: Connection, session: Session): void {
    conn.session = session;
    // Reconnecting before the will delay has passed cancels the will [MQTT-3.1.3-9].
    this.cancelWill(session);
    session.resume(conn);
  }

  connectionClosed(conn: Connection): void {
    const session = conn.session;
    if (session === null || session.link !== conn) return;
    session.detach();
    if (conn.will !== null && !conn.graceful) {
      const delay = Math.min(conn.will.delayInterval, session.expiryInterval);
      if (delay === 0) this.publishWill(conn.will, session.clientId);
      else this.scheduleWill(session, conn.will, delay);
    }
    if (session.expiryInterval === 0) {
      this.end(session);
    } else if (session.expiryInterval !== NEVER) {
      longTimeout(() => this.end(session), session.expiryInterval * 1000, (t) => (session.expiryTimer = t));
    }
    this.broker.log.info('client disconnected', { clientId: session.clientId, graceful: conn.graceful, sessionKept: this.byClientId.get(session.clientId) === session });
  }

  /** Ends a session: its subscriptions go, and a will still waiting for its delay is published now [MQTT-3.1.2-8]. */
  end(session: Session): void {
    if (this.byClientId.get(session.clientId) === session) this.byClientId.delete(session.clientId);
    if (session.expiryTimer) clearTimeout(session.expiryTimer);
    session.expiryTimer = null;
    for (const sub of session.subscriptions.values()) this.broker.trie.remove(sub);
    session.subscriptions.clear();
    session.pending = [];
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
