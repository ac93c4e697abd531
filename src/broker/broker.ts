// The broker: listeners, connections, sessions, the subscription trie and retained messages, wired together.

import type { Duplex } from 'node:stream';
import type { WharfConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { ReasonCode } from '../protocol/reason-codes.js';
import { Connection } from './connection.js';
import { startListener, type Listener, type PeerInfo } from './listeners.js';
import { Authenticator } from '../auth/authenticator.js';
import { anonymousNetworkListeners } from '../config/auth.js';
import { PendingConnections } from '../auth/pending-connections.js';
import { applyOwnerAcls } from '../auth/session-owner.js';
import { bindFailureReason, ListenError } from './listen-error.js';
import type { Message } from '../protocol/message.js';
import { RetainedStore } from './retained.js';
import { RefusalLog } from './refusal-log.js';
import { Router } from './router.js';
import { SessionRegistry } from './sessions.js';
import { newBrokerStats, type BrokerStats } from './stats.js';
import { TopicTrie } from './topic-trie.js';
import type { Store } from '../store/store.js';
import { BrokerPersistence, outgoingOf } from './persistence.js';
import { Session } from './session.js';
import type { Subscription } from './subscription.js';
import { messageBytes, QueueEngine } from '../queue/engine.js';
import { queueRefOf, sharedFilterOf } from './subscription-forms.js';
import { SESSION_QUEUE_FULL, STORE_FULL, type Refusal } from '../queue/errors.js';

/** Session messages read from the store per read at start-up. */
const RESTORE_PAGE = 1024;

export interface BoundListener {
  type: string;
  host: string;
  port: number;
  path?: string;
}

export class Broker {
  readonly stats: BrokerStats = newBrokerStats();
  readonly trie = new TopicTrie();
  readonly router = new Router(this.trie, this.stats);
  readonly retained: RetainedStore;
  readonly sessions = new SessionRegistry(this);
  readonly connections = new Set<Connection>();
  /** A connection that has not sent CONNECT within this time is dropped (mqtt.connectTimeout). */
  connectTimeoutMs: number;
  /** Passwords, ACL, anonymous access (src/auth/). */
  readonly auth: Authenticator;
  /** Sockets per source address that have not sent CONNECT yet (mqtt.maxPendingConnectionsPerAddress). */
  readonly pendingConnections = new PendingConnections(() => this.config.mqtt.maxPendingConnectionsPerAddress);
  /** Durable state; null runs the broker in memory only (tests of the protocol alone). */
  readonly persistence: BrokerPersistence | null;
  /** Durable queues; they need the store, so an in-memory broker has none. */
  readonly queues: QueueEngine | null;
  private listeners: Listener[] = [];
  private stopping = false;
  private retainedFullLogged = false;
  readonly refusalLog: RefusalLog;

  constructor(
    readonly config: WharfConfig,
    readonly log: Logger,
    store: Store | null = null,
  ) {
    this.connectTimeoutMs = config.mqtt.connectTimeout;
    this.auth = new Authenticator(config, log);
    this.retained = new RetainedStore(config.mqtt.maxRetainedMessages);
    this.refusalLog = new RefusalLog(log);
    this.persistence = store === null ? null : new BrokerPersistence(store, log);
    this.queues = store === null ? null : new QueueEngine(store, log, { autoCreate: config.queues.autoCreate, defaults: config.queues.defaults });
    if (this.persistence !== null) {
      const persistence = this.persistence;
      this.retained.onExpired = (topic) => persistence.forgetRetained(topic);
    }
    if (this.queues !== null) {
      const persistence = this.persistence!;
      this.queues.track = (p) => persistence.track(p);
      this.queues.waiter = () => persistence.waiter();
    }
  }

  /** Reads retained messages and persistent sessions (with their messages) back from the store. */
  async restore(): Promise<{ sessions: number; sessionMessages: number; queues: number; queueMessages: number; retained: number; expired: number }> {
    const report = { sessions: 0, sessionMessages: 0, queues: 0, queueMessages: 0, retained: 0, expired: 0 };
    const store = this.persistence?.store;
    if (!store) return report;
    await this.queues!.load(this.config.queues.definitions);
    for (const q of this.queues!.queues()) {
      report.queues++;
      report.queueMessages += q.depth;
    }
    const now = Date.now();
    for (const m of await store.loadRetained()) {
      if (m.expiresAt !== 0 && m.expiresAt <= now) {
        this.persistence!.forgetRetained(m.topic);
        continue;
      }
      this.retained.set(m);
      report.retained++;
    }
    for (const state of await store.loadSessions()) {
      // A session that was connected when the broker stopped counts as disconnected now.
      const disconnectedAt = state.disconnectedAt ?? now;
      if (state.sessionExpiryInterval !== 0xffffffff && disconnectedAt + state.sessionExpiryInterval * 1000 <= now) {
        this.persistence!.deleteSession(state.clientId);
        report.expired++;
        continue;
      }
      const session = new Session(state.clientId, this.config.mqtt.maxQueuedMessages, this.stats);
      session.expiryInterval = state.sessionExpiryInterval;
      session.protocolVersion = state.protocolVersion;
      session.username = state.username;
      session.hooks = this.persistence;
      for (const s of state.subscriptions) {
        const dollarQueue = this.config.queues.dollarQueue;
        const queueRef = queueRefOf(s.topicFilter, dollarQueue);
        const shared = queueRef === null ? sharedFilterOf(s.topicFilter, dollarQueue) : null;
        const sub: Subscription = {
          session,
          topicFilter: s.topicFilter,
          matchFilter: shared !== null && shared !== 'invalid' ? shared.filter : s.topicFilter,
          shareGroup: shared !== null && shared !== 'invalid' ? shared.group : undefined,
          qos: s.qos,
          noLocal: s.noLocal,
          retainAsPublished: s.retainAsPublished,
          retainHandling: s.retainHandling,
          subscriptionId: s.subscriptionId,
        };
        if (queueRef !== null && queueRef !== 'invalid') {
          const queue = await this.queues!.resolve(queueRef);
          if (typeof queue === 'string') continue;
          sub.queueName = queue.name;
        }
        session.subscriptions.set(s.topicFilter, sub);
      }
      // In pages: beyond its in-memory head, a session's backlog stays in the store (Session.pending).
      for (let afterSeq = 0; ; ) {
        const page = await store.loadSessionMessages(state.clientId, { afterSeq, limit: RESTORE_PAGE });
        for (const m of page) {
          session.restoreOutgoing(outgoingOf(m));
          afterSeq = m.seq;
        }
        report.sessionMessages += page.length;
        if (page.length < RESTORE_PAGE) break;
      }
      for (const id of await store.loadIncomingQos2(state.clientId)) session.incomingQos2.add(id);
      this.sessions.restore(session, disconnectedAt);
      report.sessions++;
    }
    return report;
  }

  async start(): Promise<BoundListener[]> {
    // The password and ACL files are read before any client can connect; one that cannot be read stops the start.
    this.auth.load();
    // Sessions restored from the store are held to their recorded owner's rules before any message flows.
    applyOwnerAcls(this);
    try {
      for (const [i, lc] of this.config.listeners.entries()) {
        const name = `listeners[${i}]`;
        const onError = (err: Error) => this.log.error('listener error', { listener: name, type: lc.type, error: err.message });
        try {
          this.listeners.push(await startListener(lc, (stream, remote, peer) => this.accept(stream, remote, peer), onError));
        } catch (err) {
          throw new ListenError(name, lc.type, lc.host, lc.port, bindFailureReason(err), { cause: err });
        }
      }
    } catch (err) {
      await Promise.all(this.listeners.map((l) => l.close()));
      this.listeners = [];
      throw err;
    }
    const bound = this.boundListeners();
    for (const b of bound) this.log.info('listening', { type: b.type, host: b.host, port: b.port, path: b.path });
    for (const l of anonymousNetworkListeners(this.config)) {
      this.log.warn('listener accepts anonymous clients from the network: set auth.passwordFile or auth.allowAnonymous: false', { listener: l });
    }
    return bound;
  }

  /** True from start() until stop() begins: every configured listener is bound (readiness for /healthz). */
  isListening(): boolean {
    return !this.stopping && this.listeners.length > 0 && this.listeners.length === this.config.listeners.length;
  }

  /** True while the broker is not stopping and its store (if it has one) is open. */
  storeOpen(): boolean {
    return this.persistence !== null && !this.stopping;
  }

  boundListeners(): BoundListener[] {
    return this.listeners.map((l) => ({
      type: l.config.type,
      host: l.config.host,
      port: l.port(),
      path: l.config.type === 'ws' || l.config.type === 'wss' ? l.config.path : undefined,
    }));
  }

  /**
   * Routes an application message to subscribers, appends it to matching queues and updates retained state;
   * returns the number of receivers (subscriptions plus queues that took it), so a queued message is not answered
   * 0x10 No matching subscribers. A queue or session that cannot take it just does not (counted): for QoS 0 and
   * the broker's own messages (wills, $SYS), which nobody could be told about.
   */
  publish(msg: Message): number {
    const queued = this.queues?.capture(msg) ?? 0;
    this.retain(msg);
    return this.router.route(msg) + queued;
  }

  /**
   * A client's QoS 1/2 publish: admitted everywhere or nowhere. Every matching queue (limits, key), the store (not
   * full) and every receiving session (queue not at mqtt.maxQueuedMessages) are asked before anything is
   * delivered, so a refusal means the message reached no subscriber, no queue and no session, and a publisher's
   * resend after a refusal is never a duplicate. Returns the receivers, as publish() does, or the refusal.
   */
  publishOrRefuse(msg: Message): number | Refusal {
    const queues = this.queues;
    // Asked once per message: what adding it would need (a queue append, a persistent session's copy, a retained value).
    const storeFull = this.persistence !== null && this.persistence.store.refuses(messageBytes(msg));
    const refusedByQueue = queues === null ? null : queues.admit(msg, true, storeFull);
    if (refusedByQueue !== null) return this.refused(refusedByQueue);
    // A retained value is written too: a full store refuses it (deleting one, empty payload, frees space).
    if (storeFull && msg.retain && msg.payload.length > 0) return this.refused(STORE_FULL);
    const refusedBySession = this.router.admit(msg, storeFull);
    if (refusedBySession === 'store_full') return this.refused(STORE_FULL);
    if (refusedBySession !== null) {
      this.stats.queueFull++;
      return this.refused(SESSION_QUEUE_FULL);
    }
    const queued = queues === null ? 0 : queues.captureAdmitted(msg);
    this.retain(msg);
    return this.router.deliverMatched(msg) + queued;
  }

  private refused(refusal: Refusal): Refusal {
    this.stats.publishRefused[refusal.reason]++;
    return refusal;
  }

  private retain(msg: Message): void {
    if (!msg.retain) return;
    if (this.retained.set(msg)) this.persistence?.retain(msg);
    else {
      this.stats.retainedRejected++;
      if (!this.retainedFullLogged) {
        this.retainedFullLogged = true;
        this.log.warn('retained store full: new retained topics are not kept', { max: this.config.mqtt.maxRetainedMessages });
      }
    }
  }

  /** True while the store has more bytes waiting for commit than allowed: publishers should be paused. */
  storeBehind(): boolean {
    return this.persistence !== null && this.persistence.store.pendingBytes() > this.config.storage.maxPendingBytes;
  }

  private accept(stream: Duplex, remoteAddress: string, peer?: PeerInfo): void {
    if (this.stopping) {
      stream.destroy();
      return;
    }
    this.stats.connectionsAccepted++;
    const conn = new Connection(stream, this, remoteAddress);
    if (peer !== undefined) conn.peer = peer;
    this.connections.add(conn);
    if (!this.pendingConnections.add(conn, remoteAddress)) conn.close(undefined, 'too many pending connections from this address');
  }

  connectionClosed(conn: Connection): void {
    this.pendingConnections.settle(conn);
    this.connections.delete(conn);
    this.sessions.connectionClosed(conn);
  }

  /** Graceful stop: no new connections, DISCONNECT 0x8B to every client, then close. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const closing = this.listeners.map((l) => l.close());
    this.queues?.stop();
    for (const conn of [...this.connections]) {
      conn.graceful = true; // a shutdown is not the client's failure: wills stay unpublished
      conn.close(ReasonCode.ServerShuttingDown);
    }
    this.sessions.stopTimers();
    await Promise.all(closing);
    // Closing flushes the last commit window: what was acknowledged stays acknowledged.
    if (this.persistence) {
      // PUBACKs of the last turn are removed with everything else before the store closes.
      this.persistence.flushRemovals();
      await this.persistence.store.close();
    }
    this.log.info('stopped');
  }
}
