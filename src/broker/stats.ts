// Broker-wide counters, plain numbers updated on the hot path without allocation. The per-QoS arrays are
// allocated once with the stats and indexed by QoS (0, 1, 2): an element increment, no branch per QoS.

import type { RefusalReason } from '../queue/errors.js';

export interface BrokerStats {
  connectionsAccepted: number;
  /** PUBLISH packets received, by QoS. */
  messagesInByQos: [number, number, number];
  /** Payload bytes of PUBLISH packets received, by QoS. */
  bytesInByQos: [number, number, number];
  /** PUBLISH packets sent (deliveries, resends with DUP included), by QoS. */
  messagesOutByQos: [number, number, number];
  /** Payload bytes of PUBLISH packets sent, by QoS. */
  bytesOutByQos: [number, number, number];
  /** Messages not delivered: QoS 0 to a slow or offline client, or a session queue at its limit. */
  dropped: number;
  droppedTooLarge: number;
  /** QoS 1/2 messages a session could not take because its queue was full (the broker's own messages; a client's publish is refused instead). */
  queueFull: number;
  retainedRejected: number;
  /** QoS 1/2 publishes refused before they went anywhere, by reason (wharf_publish_refused_total). */
  publishRefused: Record<RefusalReason, number>;
  /** CONNECTs refused (bad client identifier, protocol errors in CONNECT, unsupported authentication). */
  connectsRefused: number;
  /** Queued QoS 1/2 messages dropped unsent because the session's client may not read them (src/auth/). */
  deliveriesWithheld: number;
  /** Messages not given to a shared subscription group because no member may read their topic. */
  sharedGroupDenied: number;
}

export function newBrokerStats(): BrokerStats {
  return {
    connectionsAccepted: 0,
    messagesInByQos: [0, 0, 0],
    bytesInByQos: [0, 0, 0],
    messagesOutByQos: [0, 0, 0],
    bytesOutByQos: [0, 0, 0],
    dropped: 0,
    droppedTooLarge: 0,
    queueFull: 0,
    retainedRejected: 0,
    publishRefused: { queue_full: 0, missing_key: 0, store_full: 0, session_queue_full: 0, invalid_command: 0, instance_limit: 0, instance_invalid: 0 },
    connectsRefused: 0,
    deliveriesWithheld: 0,
    sharedGroupDenied: 0,
  };
}

/** Sum of a per-QoS counter (the totals are derived, not counted a second time on the hot path). */
export function total(byQos: readonly [number, number, number]): number {
  return byQos[0] + byQos[1] + byQos[2];
}
