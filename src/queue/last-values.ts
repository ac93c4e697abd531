// The bookkeeping of a last-value queue: which stored message is each key's live value (so a new value knows
// what it replaces without asking the store), and which keys are out for delivery (a newer value waits for them).
// Rebuilt from the stored records at start.

import type { ReplacedMessage } from '../store/types.js';
import type { HeldMessage } from './queue.js';

/** The live message of one key. */
export interface LastValue {
  seq: number;
  bytes: number;
  inline: boolean;
  /** Set while the message is in memory (ready, in flight or waiting for redelivery). */
  held: HeldMessage | undefined;
}

export class LastValues {
  /** Keys in the order their live value was appended (a replaced key moves to the end). */
  private readonly live = new Map<string, LastValue>();
  private readonly inFlight = new Set<string>();

  get(key: string): LastValue | undefined {
    return this.live.get(key);
  }

  /** A new live value of `key` (its previous one, if any, must have been taken out with `take`). */
  set(key: string, value: LastValue): void {
    this.live.set(key, value);
  }

  /** Removes and returns the live value of `key`. */
  take(key: string): LastValue | undefined {
    const value = this.live.get(key);
    if (value !== undefined) this.live.delete(key);
    return value;
  }

  /** What a new value of `key` replaces in the store. */
  replaced(key: string): ReplacedMessage | undefined {
    const value = this.live.get(key);
    return value === undefined ? undefined : { seq: value.seq, inline: value.inline };
  }

  /** True when `seq` holds the live value of `key`. */
  isLive(key: string, seq: number): boolean {
    return this.live.get(key)?.seq === seq;
  }

  /** A message left the queue: its key has no live value any more, unless a newer one replaced it already. */
  forget(held: HeldMessage): void {
    if (held.key !== undefined && this.isLive(held.key, held.seq)) this.live.delete(held.key);
  }

  /** The oldest live value not in memory (still only on disk), taken out; undefined if every one is in memory. */
  takeOldestOnDisk(): LastValue | undefined {
    for (const [key, value] of this.live) {
      if (value.held !== undefined) continue;
      this.live.delete(key);
      return value;
    }
    return undefined;
  }

  /** True when takeOldestOnDisk() would find a value. */
  anyOnDisk(): boolean {
    for (const value of this.live.values()) if (value.held === undefined) return true;
    return false;
  }

  keyInFlight(key: string): boolean {
    return this.inFlight.has(key);
  }

  deliveryStarted(key: string): void {
    this.inFlight.add(key);
  }

  /** True when the key was out for delivery (a value waiting behind it may go now). */
  deliveryEnded(key: string): boolean {
    return this.inFlight.delete(key);
  }
}
