// FIFO of messages waiting for a session: O(1) push and shift, so draining a large backlog one
// acknowledgement at a time stays linear (an array's shift or slice would copy the rest each time).

import type { Outgoing } from './session.js';

export class OutgoingQueue {
  private items: (Outgoing | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(out: Outgoing): void {
    this.items.push(out);
  }

  peek(): Outgoing | undefined {
    return this.items[this.head];
  }

  shift(): Outgoing | undefined {
    if (this.head >= this.items.length) return undefined;
    const out = this.items[this.head];
    this.items[this.head++] = undefined;
    // Compact once the consumed prefix dominates: amortised O(1) per element.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return out;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }

  *[Symbol.iterator](): IterableIterator<Outgoing> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i]!;
  }
}
