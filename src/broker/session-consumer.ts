// An MQTT session consuming one queue through a $q/ or $queue/ subscription: deliveries are PUBLISH packets with
// the session's packet identifiers, settled by the PUBACK's reason code.

import type { HeldMessage, Queue } from '../queue/queue.js';
import { QueueConsumer } from '../queue/consumer.js';
import type { QueueEngine } from '../queue/engine.js';
import type { DeliveryOwner, Outgoing, Session } from './session.js';
import type { Subscription } from './subscription.js';

export class SessionConsumer extends QueueConsumer<number> implements DeliveryOwner {
  constructor(
    queue: Queue,
    readonly session: Session,
    qos: 0 | 1,
    readonly subscriptionId: number | undefined,
  ) {
    super(queue, session, qos);
  }

  get id(): string {
    return this.session.clientId;
  }

  protected transportHasRoom(): boolean {
    return this.session.canTakeDelivery();
  }

  deliver(held: HeldMessage): void {
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
    // The packet identifier is assigned, and the delivery recorded, before the send.
    const key = this.qos === 0 ? 0 : this.session.assignInflight(out);
    this.begin(held, key);
    link.sendPublish(out, false);
  }

  /** PUBACK (or a discard by the connection): a reason code below 0x80 acknowledges, 0x80 or more rejects. */
  settleOutgoing(out: Outgoing, reasonCode: number): void {
    this.settle(out.packetId, reasonCode < 0x80);
  }

  protected override forget(packetId: number): void {
    this.session.inflight.delete(packetId);
  }
}

/** Makes a connected session a consumer of the queue its subscription names (once per queue). */
export function consumeQueue(engine: QueueEngine | null, session: Session, sub: Subscription): void {
  if (engine === null || sub.queueName === undefined || session.link === null) return;
  const queue = engine.queueByName(sub.queueName);
  if (queue === undefined) return;
  session.onSlotFreed ??= () => engine.ownerHasRoom(session);
  engine.addConsumer(new SessionConsumer(queue, session, sub.qos === 0 ? 0 : 1, sub.subscriptionId));
}

/** A session (re)connected: its queue subscriptions become consumers again. */
export function resumeQueueConsumers(engine: QueueEngine | null, session: Session): void {
  if (engine === null) return;
  for (const sub of session.subscriptions.values()) if (sub.queueName !== undefined) consumeQueue(engine, session, sub);
}
