// An acknowledgement (PUBACK, PUBREC, PUBCOMP, SUBACK, UNSUBACK) waiting for the store: one object that counts
// the writes it waits for and hears of their durability directly (store DurabilityWaiter), queued per connection
// so that acknowledgements leave in the order of their packets [MQTT-4.6.0-2] [MQTT-4.6.0-3]. It replaces a chain
// of promises and closures per message (issue 13: 7 promises and 8 closures per QoS 1 publish).

import type { DurabilityWaiter } from '../store/commit-scheduler.js';

/** What an acknowledgement does once everything before it has left: `err` is the first write failure, if any. */
export type AckAction = (ack: PendingAck, err: unknown) => void;

/** The connection side of an acknowledgement queue. */
export interface AckOwner {
  /** An acknowledgement's writes are all settled: send it, and those after it, once those before it have left. */
  ackReady(): void;
}

export class PendingAck implements DurabilityWaiter {
  /** Writes not settled yet, plus one held by the handler while it collects them (release()). */
  waiting = 1;
  /** The first failure among the writes. */
  error: unknown = undefined;

  constructor(
    readonly owner: AckOwner,
    public action: AckAction,
    /** Packet identifier, QoS and reason code of a PUBLISH's acknowledgement; `detail` for anything else. */
    public packetId: number,
    public qos: number,
    public reasonCode: number,
    public detail: unknown,
  ) {}

  /** A store write settled (DurabilityWaiter): told from inside the commit, so the send waits for the next tick. */
  durable(err: unknown): void {
    if (err !== undefined && this.error === undefined) this.error = err;
    if (--this.waiting === 0) this.owner.ackReady();
  }

  /** The handler has collected every write: true when none is outstanding. */
  release(): boolean {
    return --this.waiting === 0;
  }
}
