// The messages waiting for a session, oldest first. A persistent session keeps only a bounded head of them in
// memory; the store is the record of the rest, read back in pages as the head drains (issue 13: a backlog of
// Outgoing objects with their payloads, old-generation garbage, made an offline session slower than a queue
// and a 100,000-message backlog cost 200 MB of RSS). A session without a store keeps all of them in memory.

import { Fifo } from './fifo.js';
import type { Outgoing } from './session.js';

/** At most this many messages of a persistent session in memory; the rest wait in the store only. */
export const HEAD_MAX_MESSAGES = 256;
/** ...and at most about this many payload bytes (large payloads). */
export const HEAD_MAX_BYTES = 1 << 20;
/** The store is read again once the head is below half of either bound. */
const REFILL_BELOW_MESSAGES = HEAD_MAX_MESSAGES / 2;
const REFILL_BELOW_BYTES = HEAD_MAX_BYTES / 2;

export class OutgoingQueue {
  private readonly head = new Fifo<Outgoing>();
  private headBytes = 0;
  /** Messages kept by the store alone, all with sequence numbers after `readCursor`, in order. */
  private stored = 0;
  /** Highest sequence number taken into memory (or passed over): the store is read after it. */
  private cursor = 0;
  /** Changed by clear(): the result of a read begun before it is dropped. */
  private gen = 0;
  /** A read of the store is under way. */
  reading = false;

  /** Every waiting message, in memory or in the store only: what mqtt.maxQueuedMessages limits. */
  get length(): number {
    return this.head.length + this.stored;
  }

  /** Waiting messages held in memory (the head). */
  get inMemory(): number {
    return this.head.length;
  }

  /** Waiting messages kept by the store alone. */
  get onDisk(): number {
    return this.stored;
  }

  get readCursor(): number {
    return this.cursor;
  }

  get generation(): number {
    return this.gen;
  }

  /**
   * Adds a message after all others. A stored one (`out.seq` > 0, `spill`: the session is persistent) stays in the
   * store only once the head is full, and so does every one after it while older ones are still there, so that
   * the order of delivery is the order of the sequence numbers.
   */
  push(out: Outgoing, spill: boolean): void {
    if (spill && out.seq > 0 && (this.stored > 0 || this.head.length >= HEAD_MAX_MESSAGES || this.headBytes >= HEAD_MAX_BYTES)) {
      this.stored++;
      return;
    }
    this.keep(out);
  }

  peek(): Outgoing | undefined {
    return this.head.peek();
  }

  shift(): Outgoing | undefined {
    const out = this.head.shift();
    if (out !== undefined) this.headBytes -= out.msg.payload.length;
    return out;
  }

  /** True when the head runs low while more messages wait in the store, and no read is under way. */
  wantsRead(): boolean {
    return this.stored > 0 && !this.reading && this.head.length < REFILL_BELOW_MESSAGES && this.headBytes < REFILL_BELOW_BYTES;
  }

  /** How many messages the next read may bring in. */
  readLimit(): number {
    return Math.max(1, HEAD_MAX_MESSAGES - this.head.length);
  }

  /** A message read back from the store (its sequence number after the cursor) joins the head. */
  readBack(out: Outgoing): void {
    this.keep(out);
    if (this.stored > 0) this.stored--;
  }

  /** A stored record after the cursor that is not waiting (restored in flight at start-up): not read again. */
  passOver(seq: number): void {
    if (seq > this.cursor) this.cursor = seq;
  }

  /** Messages counted as in the store that it does not have (their writes failed): no longer counted. */
  forget(count: number): number {
    const n = Math.min(count, this.stored);
    this.stored -= n;
    return n;
  }

  clear(): void {
    this.head.clear();
    this.headBytes = 0;
    this.stored = 0;
    this.cursor = 0;
    this.gen++;
    this.reading = false;
  }

  /** The messages in memory, oldest first. */
  [Symbol.iterator](): IterableIterator<Outgoing> {
    return this.head[Symbol.iterator]();
  }

  private keep(out: Outgoing): void {
    this.head.push(out);
    this.headBytes += out.msg.payload.length;
    if (out.seq > this.cursor) this.cursor = out.seq;
  }
}
