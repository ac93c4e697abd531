// The broker: listeners, connections, sessions, the subscription trie and retained messages, wired together.

import type { Duplex } from 'node:stream';
import type { WharfConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { ReasonCode } from '../protocol/reason-codes.js';
import { Connection } from './connection.js';
import { startListener, type Listener } from './listeners.js';
import type { Message } from './message.js';
import { RetainedStore } from './retained.js';
import { Router } from './router.js';
import { SessionRegistry } from './sessions.js';
import { newBrokerStats, type BrokerStats } from './stats.js';
import { TopicTrie } from './topic-trie.js';

export interface BoundListener {
  type: string;
  host: string;
  port: number;
  path?: string;
}

export class Broker {
  readonly stats: BrokerStats = newBrokerStats();
  readonly trie = new TopicTrie();
  readonly router = new Router(this.trie);
  readonly retained: RetainedStore;
  readonly sessions = new SessionRegistry(this);
  readonly connections = new Set<Connection>();
  /** A connection that has not sent CONNECT within this time is dropped. */
  connectTimeoutMs = 10_000;
  private listeners: Listener[] = [];
  private stopping = false;
  private retainedFullLogged = false;

  constructor(
    readonly config: WharfConfig,
    readonly log: Logger,
  ) {
    this.retained = new RetainedStore(config.mqtt.maxRetainedMessages);
  }

  async start(): Promise<BoundListener[]> {
    try {
      for (const [i, lc] of this.config.listeners.entries()) {
        try {
          this.listeners.push(await startListener(lc, (stream, remote) => this.accept(stream, remote)));
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          const why = code === 'EADDRINUSE' ? 'the port is already in use' : code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)' : (err as Error).message;
          throw new Error(`listeners[${i}] (${lc.type} on ${lc.host}:${lc.port}): ${why}`);
        }
      }
    } catch (err) {
      await Promise.all(this.listeners.map((l) => l.close()));
      this.listeners = [];
      throw err;
    }
    const bound = this.boundListeners();
    for (const b of bound) this.log.info('listening', { type: b.type, host: b.host, port: b.port, path: b.path });
    return bound;
  }

  boundListeners(): BoundListener[] {
    return this.listeners.map((l) => ({
      type: l.config.type,
      host: l.config.host,
      port: l.port(),
      path: l.config.type === 'ws' || l.config.type === 'wss' ? l.config.path : undefined,
    }));
  }

  /** Routes an application message to subscribers and updates retained state; returns the number of receivers. */
  publish(msg: Message): number {
    if (msg.retain && !this.retained.set(msg)) {
      this.stats.retainedRejected++;
      if (!this.retainedFullLogged) {
        this.retainedFullLogged = true;
        this.log.warn('retained store full: new retained topics are not kept', { max: this.config.mqtt.maxRetainedMessages });
      }
    }
    return this.router.route(msg);
  }

  private accept(stream: Duplex, remoteAddress: string): void {
    if (this.stopping) {
      stream.destroy();
      return;
    }
    this.stats.connectionsAccepted++;
    this.connections.add(new Connection(stream, this, remoteAddress));
  }

  connectionClosed(conn: Connection): void {
    this.connections.delete(conn);
    this.sessions.connectionClosed(conn);
  }

  /** Graceful stop: no new connections, DISCONNECT 0x8B to every client, then close. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const closing = this.listeners.map((l) => l.close());
    for (const conn of [...this.connections]) {
      conn.graceful = true; // a shutdown is not the client's failure: wills stay unpublished
      conn.close(ReasonCode.ServerShuttingDown);
    }
    this.sessions.stopTimers();
    await Promise.all(closing);
    this.log.info('stopped');
  }
}
