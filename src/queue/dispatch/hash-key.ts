// hash_key: every message of one key goes to the same consumer while that consumer is a member, so per-key order
// holds. A key seen for the first time is assigned to the consumer with room that has the fewest keys (then the
// fewest in flight, then round-robin) and sticks there. When its consumer has no room, pick returns undefined and
// the message waits rather than overtaking the key's earlier messages. Messages without a key go least_inflight.
//
// Memory: one entry per assigned key (the key string, a Map slot and a small record, roughly 80 bytes plus the key)
// and one record per consumer. Keys are forgotten when their consumer leaves (`removed`), and the map holds at most
// `maxKeys` keys: past that, a key not picked recently is forgotten (CLOCK, an approximation of least recently
// used). A forgotten key is assigned afresh on its next message, which may pick another consumer: that can reorder
// the key only if one of its messages is still unacknowledged after `maxKeys` other keys were picked since, so
// maxKeys should stay well above the number of messages a queue can have in flight (consumers x consumerInflight).

import type { ConsumerView, DispatchStrategy } from '../types.js';
import { LeastInflightStrategy } from './least-inflight.js';
import { Rotation } from './rotation.js';

/** Default bound of the key-to-consumer map: about 5-10 MiB with short keys. */
export const DEFAULT_MAX_KEYS = 65_536;

interface Owner {
  readonly id: string;
  /** Keys assigned to this consumer. */
  keys: number;
  /** Where the consumer was in the list last time: checked before scanning for it. */
  index: number;
}

interface Assignment {
  readonly owner: Owner;
  /** Picked since the CLOCK hand last passed (second chance before eviction). */
  used: boolean;
}

export interface HashKeyOptions {
  /** Most keys remembered at once (>= 1). */
  maxKeys?: number;
}

export class HashKeyStrategy implements DispatchStrategy {
  private readonly assignments = new Map<string, Assignment>();
  private readonly owners = new Map<string, Owner>();
  private readonly unkeyed = new LeastInflightStrategy();
  private readonly rotation = new Rotation();
  private readonly maxKeys: number;

  constructor(options: HashKeyOptions = {}) {
    this.maxKeys = Math.max(1, Math.floor(options.maxKeys ?? DEFAULT_MAX_KEYS));
  }

  /** Keys currently assigned (for tests and metrics). */
  get size(): number {
    return this.assignments.size;
  }

  /** The consumer id a key is assigned to, if any (for tests and diagnostics). */
  ownerOf(key: string): string | undefined {
    return this.assignments.get(key)?.owner.id;
  }

  pick(consumers: readonly ConsumerView[], key: string | undefined): ConsumerView | undefined {
    if (key === undefined) return this.unkeyed.pick(consumers, undefined);
    const assignment = this.assignments.get(key);
    if (assignment !== undefined) {
      assignment.used = true;
      const view = locate(consumers, assignment.owner);
      if (view !== undefined) return view.hasRoom() ? view : undefined;
      // Its consumer is gone without `removed` having been called: release everything it held.
      this.removed(assignment.owner.id);
    }
    return this.assign(consumers, key);
  }

  removed(consumerId: string): void {
    const owner = this.owners.get(consumerId);
    if (owner === undefined) return;
    this.owners.delete(consumerId);
    if (owner.keys === 0) return;
    // O(keys), on membership change only. Deleting the current entry while iterating a Map is safe.
    for (const [key, a] of this.assignments) if (a.owner === owner) this.assignments.delete(key);
  }

  private assign(consumers: readonly ConsumerView[], key: string): ConsumerView | undefined {
    const n = consumers.length;
    if (n === 0) return undefined;
    let i = this.rotation.start(consumers);
    let best = -1;
    let bestKeys = Infinity;
    let bestInflight = Infinity;
    for (let seen = 0; seen < n; seen++) {
      const c = consumers[i]!;
      const keys = this.owners.get(c.id)?.keys ?? 0;
      if ((keys < bestKeys || (keys === bestKeys && c.inflight < bestInflight)) && c.hasRoom()) {
        best = i;
        bestKeys = keys;
        bestInflight = c.inflight;
      }
      if (++i === n) i = 0;
    }
    if (best < 0) return undefined; // nobody has room: the key stays unassigned until someone does
    const picked = consumers[best]!;
    this.rotation.picked(best, picked);
    if (this.assignments.size >= this.maxKeys) this.evictOne();
    let owner = this.owners.get(picked.id);
    if (owner === undefined) {
      owner = { id: picked.id, keys: 0, index: best };
      this.owners.set(picked.id, owner);
    }
    owner.index = best;
    owner.keys++;
    this.assignments.set(key, { owner, used: false });
    return picked;
  }

  /** CLOCK: from the oldest entry on, a recently used one gets a second chance (moved to the back, bit cleared). */
  private evictOne(): void {
    for (let guard = this.assignments.size + 1; guard > 0; guard--) {
      const oldest = this.assignments.entries().next();
      if (oldest.done === true) return;
      const [key, a] = oldest.value;
      this.assignments.delete(key);
      if (a.used && guard > 1) {
        a.used = false;
        this.assignments.set(key, a);
        continue;
      }
      a.owner.keys--;
      return;
    }
  }
}

/** The member view of `owner`, found at its last known index or by id; undefined when it is no longer a member. */
function locate(consumers: readonly ConsumerView[], owner: Owner): ConsumerView | undefined {
  const hinted = consumers[owner.index];
  if (hinted !== undefined && hinted.id === owner.id) return hinted;
  for (let i = 0; i < consumers.length; i++) {
    const c = consumers[i]!;
    if (c.id === owner.id) {
      owner.index = i;
      return c;
    }
  }
  return undefined;
}
