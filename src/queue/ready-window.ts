// The ready messages of a queue: a window of its backlog in sequence order, read from the store ahead of
// dispatch. Taking from the head is O(1) (a moving head index, compacted now and then); a redelivered message is
// put back in sequence order, usually at the head.

import type { HeldMessage } from './queue.js';

/** Head index past which the array is compacted, when the dead part is more than half of it. */
const COMPACT_AFTER = 512;

export class ReadyWindow {
  private items: HeldMessage[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  /** The oldest ready message, if any. */
  first(): HeldMessage | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  /** Index-based walk for dispatch: indexes run from `start()` to `end()`, and shift only through `removeAt`. */
  start(): number {
    return this.head;
  }

  end(): number {
    return this.items.length;
  }

  at(i: number): HeldMessage {
    return this.items[i]!;
  }

  /** Appends a message newer than every ready one. */
  push(held: HeldMessage): void {
    this.items.push(held);
  }

  /** Takes the oldest ready message out. */
  take(): HeldMessage {
    const held = this.items[this.head]!;
    this.items[this.head++] = undefined as unknown as HeldMessage;
    if (this.head > COMPACT_AFTER && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return held;
  }

  /** Takes the message at index `i` out; returns the index of the one that follows it now. */
  removeAt(i: number): number {
    if (i === this.head) {
      this.take();
      return this.head; // take() may have compacted the array
    }
    this.items.splice(i, 1);
    return i;
  }

  /** Removes this message if it is ready; false if it is not among them. */
  remove(held: HeldMessage): boolean {
    for (let i = this.head; i < this.items.length; i++) {
      if (this.items[i] === held) {
        this.removeAt(i);
        return true;
      }
    }
    return false;
  }

  /** Puts a message back among the ready ones, in sequence order (a redelivery is usually the oldest). */
  requeue(held: HeldMessage): void {
    let i = this.items.length;
    while (i > this.head && this.items[i - 1]!.seq > held.seq) i--;
    if (i === this.head && this.head > 0) this.items[--this.head] = held;
    else this.items.splice(i, 0, held);
  }
}
