// A session consuming one queue: its deliveries in flight (by packet identifier), its inflight limit, and what
// happens to them on PUBACK, on timeout and when the session goes away.

import type { DeliveryOwner, Outgoing, Session } from '../broker/session.js';
import type { HeldMessage, Queue } from './queue.js';
import type { ConsumerView } from './types.js';

interface Delivery {
  held: HeldMessage;
  deadline: number;
}

export class Consumer implements ConsumerView, DeliveryOwner {
  readonly deliveries = new Map<number, Delivery>();
  /** Per-consumer counters for the admin API and /metrics; they start at 0 each time the session (re)connects. */
  delivered = 0;
  acknowledged = 0;
  /** Deliveries that came back: PUBACK >= 0x80 or ackTimeout (not a disconnect, which is not this consumer's verdict). */
  rejected = 0;

  constructor(
    readonly queue: Queue,
    readonly session: Session,
    /** 0: at most once (acknowledged when written); 1: at least once, acknowledged by PUBACK. */
    readonly qos: 0 | 1,
    readonly subscriptionId: number | undefined,
  ) {}

  get id(): string {
    return this.session.clientId;
  }

  get inflight(): number {
    return this.deliveries.size;
  }

  hasRoom(): boolean {
    return this.deliveries.size < this.queue.definition.consumerInflight && this.session.canTakeDelivery();
  }

  deliver(held: HeldMessage): void {
    const queue = this.queue;
    queue.deliveryStarted(held);
    this.delivered++;
    const out: Outgoing = {
      msg: held.message,
      qos: this.qos,
      retain: false,
      subscriptionIds: this.subscriptionId === undefined ? undefined : [this.subscriptionId],
      packetId: 0,
      released: false,
      seq: 0,
      owner: this,
    };
    const link = this.session.link!;
    if (this.qos === 0) {
      link.sendPublish(out, false);
      this.acknowledged++;
      queue.acknowledged(held);
      return;
    }
    const id = this.session.assignInflight(out);
    const timeout = queue.definition.ackTimeoutMs;
    this.deliveries.set(id, { held, deadline: timeout > 0 ? Date.now() + timeout : 0 });
    link.sendPublish(out, false);
  }

  /** PUBACK (or a discard by the connection): acknowledge or reject. */
  settle(out: Outgoing, reasonCode: number): void {
    const d = this.deliveries.get(out.packetId);
    if (d === undefined) return;
    this.deliveries.delete(out.packetId);
    if (reasonCode < 0x80) {
      this.acknowledged++;
      this.queue.acknowledged(d.held);
    } else {
      this.rejected++;
      this.queue.failed(d.held, this.id, 'rejected');
    }
  }

  /** Deliveries past ackTimeout count as rejected; a late PUBACK for them is then ignored. */
  expireDeliveries(now: number): void {
    for (const [id, d] of this.deliveries) {
      if (d.deadline === 0 || d.deadline > now) continue;
      this.deliveries.delete(id);
      this.session.inflight.delete(id);
      this.rejected++;
      this.queue.failed(d.held, this.id, 'ack_timeout');
    }
  }

  /** The session disconnected, was taken over or unsubscribed: everything in flight goes back to the queue. */
  release(): void {
    for (const [id, d] of this.deliveries) {
      this.session.inflight.delete(id);
      this.queue.failed(d.held, this.id, 'consumer_lost');
    }
    this.deliveries.clear();
  }
}
