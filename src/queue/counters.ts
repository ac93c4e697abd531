// Per-queue counters, plain numbers bumped on the hot path (exposed by the monitoring issue).

export interface QueueCounters {
  enqueued: number;
  delivered: number;
  acknowledged: number;
  rejected: number;
  ackTimeouts: number;
  redelivered: number;
  expired: number;
  dropped: number;
  deadLettered: number;
  /** Last-value queues: messages replaced by a newer one with the same key before being consumed. */
  superseded: number;
  /** Publishes refused because the queue was at a limit (overflow: reject) or the store was full. */
  publishRejected: number;
}

export function newQueueCounters(): QueueCounters {
  return { enqueued: 0, delivered: 0, acknowledged: 0, rejected: 0, ackTimeouts: 0, redelivered: 0, expired: 0, dropped: 0, deadLettered: 0, superseded: 0, publishRejected: 0 };
}
