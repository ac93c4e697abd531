// What a queue needs of whoever takes its messages. An MQTT session's consuming subscription
// (src/broker/session-consumer.ts) and in-process consumers such as a device bridge both extend QueueConsumer:
// the queue hands a message to deliver() and hears back through settle(), and never knows who is on the other side.

import type { HeldMessage, Queue } from './queue.js';
import type { ConsumerView } from './types.js';

interface Delivery {
  held: HeldMessage;
  deadline: number;
}

/**
 * A consumer of one queue: its deliveries in flight (by a key of the consumer's choosing, a packet identifier for
 * MQTT), its inflight limit, and what happens to them when settled, on timeout and when the consumer goes away.
 */
export abstract class QueueConsumer<K = number> implements ConsumerView {
  private readonly deliveries = new Map<K, Delivery>();
  /** Per-consumer counters for the admin API and /metrics; they start at 0 each time the consumer (re)attaches. */
  delivered = 0;
  acknowledged = 0;
  /** Deliveries that came back: rejected by the consumer or past ackTimeout (not a disconnect, which is not its verdict). */
  rejected = 0;

  constructor(
    readonly queue: Queue,
    /** Whose consumer this is (a session, a device bridge): one consumer per owner and queue. */
    readonly owner: object,
    /** 0: at most once (acknowledged when handed over); 1: at least once, acknowledged by settle(). */
    readonly qos: 0 | 1,
  ) {}

  /** Identifies the consumer in dispatch strategies, counters and redelivery preferences. */
  abstract get id(): string;

  /** Takes one message the queue dispatched to this consumer; calls begin() first. */
  abstract deliver(held: HeldMessage): void;

  /** True while the transport behind the consumer can take one more message now. */
  protected abstract transportHasRoom(): boolean;

  /** A delivery the queue took back (timeout, release): the transport forgets it (e.g. frees a packet id). */
  protected forget(_key: K): void {}

  get inflight(): number {
    return this.deliveries.size;
  }

  hasRoom(): boolean {
    return this.deliveries.size < this.queue.definition.consumerInflight && this.transportHasRoom();
  }

  /** The messages in flight to this consumer (consumer lag, the admin API's peek). */
  *inflightMessages(): Iterable<HeldMessage> {
    for (const d of this.deliveries.values()) yield d.held;
  }

  /** Counts a delivery as started; at QoS 0 it is also done, otherwise it waits for settle(key). */
  protected begin(held: HeldMessage, key: K): void {
    this.queue.deliveryStarted(held);
    this.delivered++;
    if (this.qos === 0) {
      this.acknowledged++;
      this.queue.acknowledged(held);
      return;
    }
    const timeout = this.queue.definition.ackTimeoutMs;
    this.deliveries.set(key, { held, deadline: timeout > 0 ? Date.now() + timeout : 0 });
  }

  /**
   * The consumer's verdict: accepted acknowledges the message, otherwise it is rejected (redelivery, dead letter);
   * `detail` says why (kept with a dead letter).
   */
  protected settle(key: K, accepted: boolean, detail?: string): void {
    const d = this.deliveries.get(key);
    if (d === undefined) return; // already timed out or released
    this.deliveries.delete(key);
    if (accepted) {
      this.acknowledged++;
      this.queue.acknowledged(d.held);
    } else {
      this.rejected++;
      this.queue.failed(d.held, this.id, 'rejected', detail);
    }
  }

  /** Deliveries past ackTimeout count as rejected; a late verdict for them is then ignored. */
  expireDeliveries(now: number): void {
    for (const [key, d] of this.deliveries) {
      if (d.deadline === 0 || d.deadline > now) continue;
      this.deliveries.delete(key);
      this.forget(key);
      this.rejected++;
      this.queue.failed(d.held, this.id, 'ack_timeout');
    }
  }

  /** The consumer went away (disconnect, takeover, unsubscribe, stop): everything in flight goes back to the queue. */
  release(): void {
    for (const [key, d] of this.deliveries) {
      this.forget(key);
      this.queue.failed(d.held, this.id, 'consumer_lost');
    }
    this.deliveries.clear();
  }
}
