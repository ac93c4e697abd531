// The figures monitoring reports, as plain objects: what /metrics, the JSON API and $SYS render. Built on
// demand from the broker's counters (a scrape, an API call, a $SYS tick), never on the message path.

import type { AuthCounters } from '../auth/authenticator.js';
import type { RefusalReason } from '../queue/errors.js';
import type { StoreMetricsSnapshot } from '../store/metrics.js';
import type { QueueCounters } from '../queue/counters.js';
import type { EventLoopLag } from './event-loop.js';
import type { FlashWearFigures } from './flash-wear.js';

export type PerQos = readonly [number, number, number];

/**
 * Write amplification (bytes written per payload byte) is a ratio since the store opened: after a few small
 * publishes, LMDB's first page writes over a few hundred payload bytes give figures in the thousands that say
 * nothing about the steady state. Below this much payload it is reported as null ("not yet meaningful").
 */
export const WRITE_AMPLIFICATION_MIN_PAYLOAD_BYTES = 1024 * 1024;

/** The store's figures as reported: write amplification null until WRITE_AMPLIFICATION_MIN_PAYLOAD_BYTES. */
export type StoreFigures = Omit<StoreMetricsSnapshot, 'writeAmplification'> & { writeAmplification: number | null };

export function storeFigures(s: StoreMetricsSnapshot): StoreFigures {
  return { ...s, writeAmplification: s.payloadBytesAccepted >= WRITE_AMPLIFICATION_MIN_PAYLOAD_BYTES ? s.writeAmplification : null };
}

export interface BrokerFigures {
  version: string;
  startedAt: number;
  uptimeSeconds: number;
  connections: number;
  connectionsAccepted: number;
  connectsRefused: number;
  /** Failed logins, ACL denials and password/ACL file reloads (src/auth/). */
  auth: AuthCounters;
  /** Sessions known to the broker, connected or not. */
  sessions: number;
  sessionsConnected: number;
  subscriptions: number;
  /** Retained messages of clients (what `wharf retained` lists). */
  retained: number;
  /** Retained $SYS topics the broker publishes itself, counted apart. */
  retainedSys: number;
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
    /** Queued messages dropped unsent: the session's client may not read them (auth.aclFile). */
    deliveriesWithheld: number;
    /** Messages no member of a shared subscription group may read (given to none). */
    sharedGroupDenied: number;
    /** Client QoS 1/2 publishes refused at admission, by reason. */
    publishRefused: Record<RefusalReason, number>;
  };
  /** Messages per second over the last sampling window; null while metrics are off or not sampled twice yet. */
  rates: { receivedPerSec: number; sentPerSec: number } | null;
  store: StoreFigures | null;
  /** Flash wear: bytes per day reaching the data directory's device, fsyncs per second; null while the store is closed. */
  flash: FlashWearFigures | null;
  /** Log lines that could not be written (stdout or stderr closed): counted, never fatal. */
  log: { writeErrors: number };
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
  /** The template this queue is an instance of (src/queue/template.ts), or null. */
  template: string | null;
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
