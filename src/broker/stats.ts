// Broker-wide counters, plain numbers updated on the hot path without allocation.

export interface BrokerStats {
  connectionsAccepted: number;
  messagesIn: number;
  bytesIn: number;
  messagesOut: number;
  /** Messages not delivered: QoS 0 to a slow or offline client, or a session queue at its limit. */
  dropped: number;
  droppedTooLarge: number;
  retainedRejected: number;
}

export function newBrokerStats(): BrokerStats {
  return { connectionsAccepted: 0, messagesIn: 0, bytesIn: 0, messagesOut: 0, dropped: 0, droppedTooLarge: 0, retainedRejected: 0 };
}
