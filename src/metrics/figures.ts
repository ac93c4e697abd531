// The figures monitoring reports, as plain objects: what /metrics, the JSON API and $SYS render. Built on
// demand from the broker's counters (a scrape, an API call, a $SYS tick), never on the message path.

import type { RefusalReason } from '../queue/errors.js';
import type { StoreMetricsSnapshot } from '../store/metrics.js';
import type { QueueCounters } from '../queue/counters.js';
import type { EventLoopLag } from './event-loop.js';

export type PerQos = readonly [number, number, number];

export interface BrokerFigures {
  version: string;
  startedAt: number;
  uptimeSeconds: number;
  connections: number;
  connectionsAccepted: number;
  connectsRefused: number;
  /** Sessions known to the broker, connected or not. */
  sessions: number;
  sessionsConnected: number;
  subscriptions: number;
  retained: number;
  queues: number;
  messages: {
    received: PerQos;
    sent: PerQos;
    receivedBytes: PerQos;
    sentBytes: PerQos;
    dropped: number;
    droppedTooLarge: number;
    sessionQueueFull: number;
    retainedRejected: number;
    /** Client QoS 1/2 publishes refused at admission, by reason. */
    publishRefused: Record<RefusalReason, number>;
  };
  /** Messages per second over the last sampling window; null while metrics are off or not sampled twice yet. */
  rates: { receivedPerSec: number; sentPerSec: number } | null;
  store: StoreMetricsSnapshot | null;
  process: {
    heapUsedBytes: number;
    heapTotalBytes: number;
    rssBytes: number;
    eventLoopLag: EventLoopLag | null;
  };
}

export interface ConsumerFigures {
  clientId: string;
  qos: 0 | 1;
  inflight: number;
  delivered: number;
  acknowledged: number;
  rejected: number;
}

export interface QueueFigures {
  name: string;
  type: string;
  topicFilter: string;
  depth: number;
  depthBytes: number;
  inflight: number;
  waitingRedelivery: number;
  consumers: number;
  /** Age of the oldest message not yet acknowledged (consumer lag), ms; 0 when empty. */
  oldestAgeMs: number;
  counters: QueueCounters;
  rates: { enqueuedPerSec: number; deliveredPerSec: number; acknowledgedPerSec: number } | null;
}
