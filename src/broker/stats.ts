// Broker-wide counters, plain numbers updated on the hot path without allocation.

export interface BrokerStats {
  connectionsAccepted: number;
  messagesIn: number;
  bytesIn: number;
  messagesOut: number;
  /** Messages not delivered: QoS 0 to a slow or offline client, or a session queue at its limit. */
  dropped: number;
  droppedTooLarge: number;
  /** QoS 1/2 messages a session could not take because its queue was full (publisher told 0x97 on 5.0). */
  queueFull: number;
  retainedRejected: number;
}

export function newBrokerStats(): BrokerStats {
  return { connectionsAccepted: 0, messagesIn: 0, bytesIn: 0, messagesOut: 0, dropped: 0, droppedTooLarge: 0, queueFull: 0, retainedRejected: 0 };
}
