// A bridge's counters for the admin API, /metrics and `wharf bridges`; they start at 0 with the process.

export interface BridgeCounters {
  /** PUBLISH packets sent upstream (first sends and resends). */
  forwarded: number;
  /** Messages the upstream acknowledged (PUBACK, PUBCOMP): they left the outbox. */
  acknowledged: number;
  /** Sent again after a break (DUP). */
  resent: number;
  /** Refused by the upstream with a reason code of 0x80 or more. */
  refusedUpstream: number;
  /** Moved to the bridge's dead-letter queue (too large for the upstream, refused for good). */
  deadLettered: number;
  /** Messages that came down through this bridge and matched a forward rule: not sent back up. */
  loopsSkipped: number;
  /** Connections that were up and went away. */
  disconnects: number;
  /** Links torn down for acknowledging nothing within stallTimeout. */
  stalls: number;
  lastAckAt: number;
}

export function newBridgeCounters(): BridgeCounters {
  return { forwarded: 0, acknowledged: 0, resent: 0, refusedUpstream: 0, deadLettered: 0, loopsSkipped: 0, disconnects: 0, stalls: 0, lastAckAt: 0 };
}
