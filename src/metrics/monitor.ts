// Collects the broker's figures for the admin API, /metrics and $SYS: counters read as they are, gauges computed
// on demand, and (while metrics are enabled) a sampling timer for rates and the event-loop lag window.

import type { Broker } from '../broker/broker.js';
import { total } from '../broker/stats.js';
import type { Queue } from '../queue/queue.js';
import { EventLoopMonitor } from './event-loop.js';
import { storeFigures, type BrokerFigures, type ConsumerFigures, type QueueFigures } from './figures.js';
import { RateTracker } from './rates.js';
import { FlashWear } from './flash-wear.js';
import { logWriteStats } from '../log/logger.js';

export interface MonitorOptions {
  /** metrics.enabled: event-loop lag, rates (and with them /metrics and $SYS, which their owners check). */
  enabled: boolean;
  /** How often rates and the event-loop window are sampled. */
  sampleIntervalMs?: number;
}

export class BrokerMonitor {
  readonly startedAt = Date.now();
  readonly enabled: boolean;
  private readonly eventLoop = new EventLoopMonitor();
  private readonly brokerRates = new RateTracker();
  /** By queue object: a queue deleted and created again under its name starts with fresh rates. */
  private readonly queueRates = new WeakMap<Queue, RateTracker>();
  private timer: NodeJS.Timeout | null = null;
  private readonly sampleIntervalMs: number;
  private readonly flashWear: FlashWear;

  constructor(
    readonly broker: Broker,
    readonly version: string,
    options: MonitorOptions,
  ) {
    this.enabled = options.enabled;
    this.sampleIntervalMs = options.sampleIntervalMs ?? 5000;
    this.flashWear = new FlashWear(broker.config.storage.dataDir);
  }

  start(): void {
    if (!this.enabled || this.timer !== null) return;
    this.eventLoop.start();
    this.sample();
    this.timer = setInterval(() => this.sample(), this.sampleIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.eventLoop.stop();
  }

  /** Takes a sample now (the timer does it every sampleIntervalMs; tests call it to get rates at once). */
  sample(now = Date.now()): void {
    this.eventLoop.roll();
    const stats = this.broker.stats;
    this.brokerRates.sample(now, [total(stats.messagesInByQos), total(stats.messagesOutByQos)]);
    for (const q of this.broker.queues?.queues() ?? []) {
      let tracker = this.queueRates.get(q);
      if (tracker === undefined) this.queueRates.set(q, (tracker = new RateTracker()));
      tracker.sample(now, [q.counters.enqueued, q.counters.delivered, q.counters.acknowledged]);
    }
  }

  queues(): Queue[] {
    return this.broker.queues?.queues() ?? [];
  }

  brokerFigures(now = Date.now()): BrokerFigures {
    const broker = this.broker;
    const storeSnapshot = broker.storeOpen() ? broker.persistence!.store.metrics() : null;
    const stats = broker.stats;
    let subscriptions = 0;
    let connected = 0;
    for (const s of broker.sessions.byClientId.values()) {
      subscriptions += s.subscriptions.size;
      if (s.link !== null) connected++;
    }
    const mem = process.memoryUsage();
    const rates = this.brokerRates.current();
    return {
      version: this.version,
      startedAt: this.startedAt,
      uptimeSeconds: Math.floor((now - this.startedAt) / 1000),
      connections: broker.connections.size,
      connectionsAccepted: stats.connectionsAccepted,
      connectsRefused: stats.connectsRefused,
      auth: { ...broker.auth.counters },
      sessions: broker.sessions.size,
      sessionsConnected: connected,
      subscriptions,
      retained: broker.retained.clientCount,
      retainedSys: broker.retained.systemTopicCount,
      queues: broker.queues?.queues().length ?? 0,
      messages: {
        received: [...stats.messagesInByQos],
        sent: [...stats.messagesOutByQos],
        receivedBytes: [...stats.bytesInByQos],
        sentBytes: [...stats.bytesOutByQos],
        dropped: stats.dropped,
        droppedTooLarge: stats.droppedTooLarge,
        sessionQueueFull: stats.queueFull,
        deliveriesWithheld: stats.deliveriesWithheld,
        sharedGroupDenied: stats.sharedGroupDenied,
        retainedRejected: stats.retainedRejected,
        publishRefused: { ...stats.publishRefused },
      },
      rates: this.enabled && rates !== null ? { receivedPerSec: rates[0]!, sentPerSec: rates[1]! } : null,
      // A closed store (shutting down) has no figures to read.
      store: storeSnapshot === null ? null : storeFigures(storeSnapshot),
      flash: storeSnapshot === null ? null : this.flashWear.figures(storeSnapshot, now),
      log: { writeErrors: logWriteStats.errors },
      process: {
        heapUsedBytes: mem.heapUsed,
        heapTotalBytes: mem.heapTotal,
        rssBytes: mem.rss,
        eventLoopLag: this.enabled ? this.eventLoop.lag() : null,
      },
    };
  }

  queueFigures(queue: Queue, now = Date.now()): QueueFigures {
    const rates = this.enabled ? (this.queueRates.get(queue)?.current() ?? null) : null;
    return {
      name: queue.name,
      type: queue.definition.type,
      topicFilter: queue.definition.topicFilter,
      template: queue.definition.template ?? null,
      depth: queue.depth,
      depthBytes: queue.depthBytes,
      inflight: queue.inflight,
      waitingRedelivery: queue.waitingRedelivery,
      consumers: queue.consumers.length,
      oldestAgeMs: queue.oldestAgeMs(now),
      counters: { ...queue.counters },
      rates: rates === null ? null : { enqueuedPerSec: rates[0]!, deliveredPerSec: rates[1]!, acknowledgedPerSec: rates[2]! },
    };
  }

  consumerFigures(queue: Queue): ConsumerFigures[] {
    return queue.consumers.map((c) => ({
      clientId: c.id,
      qos: c.qos,
      inflight: c.inflight,
      delivered: c.delivered,
      acknowledged: c.acknowledged,
      rejected: c.rejected,
    }));
  }
}
