// A forward rule's consumer of its outbox queue: a delivery is a PUBLISH upstream, settled when the upstream's
// PUBACK (QoS 1) or PUBCOMP (QoS 2) arrives; on link loss the bridge releases it, so the queue offers the message
// again, before younger ones, on the next connection.

import type { ForwardRule } from '../config/bridges.js';
import { QueueConsumer } from '../queue/consumer.js';
import type { HeldMessage, Queue } from '../queue/queue.js';

/** What the consumer needs of its bridge: room in the shared window, the send itself, and delivery keys. */
export interface ForwardSender {
  hasRoom(consumer: ForwardConsumer): boolean;
  send(consumer: ForwardConsumer, key: number, held: HeldMessage): void;
  nextKey(): number;
}

export class ForwardConsumer extends QueueConsumer<number> {
  constructor(
    queue: Queue,
    owner: object,
    readonly bridgeName: string,
    readonly rule: ForwardRule,
    readonly rank: number,
    private readonly sender: ForwardSender,
  ) {
    super(queue, owner, rule.qos === 0 ? 0 : 1);
  }

  get id(): string {
    return `$bridge/${this.bridgeName}`;
  }

  protected transportHasRoom(): boolean {
    return this.sender.hasRoom(this);
  }

  deliver(held: HeldMessage): void {
    const key = this.sender.nextKey();
    this.begin(held, key);
    this.sender.send(this, key, held);
  }

  /** The upstream's verdict (or the bridge's own: a loop, a dead letter): accepted removes it from the outbox. */
  verdict(key: number, accepted: boolean): void {
    this.settle(key, accepted);
  }
}
