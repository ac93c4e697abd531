// Where a rotation over a queue's consumers continues: just after the consumer picked last.

import type { ConsumerView } from '../types.js';

/**
 * Remembers the consumer picked last by index and id. The consumer list can change between picks (members join
 * at the end, leave from anywhere); the id finds the last pick again when it moved, and when it left, its
 * successor has slid into its index, so the rotation goes on from there. O(1) per pick while membership is stable.
 */
export class Rotation {
  private lastIndex = -1;
  private lastId: string | undefined = undefined;

  /** Index of the first consumer to look at in `consumers` (non-empty). */
  start(consumers: readonly ConsumerView[]): number {
    const n = consumers.length;
    if (this.lastId === undefined) return 0;
    const i = this.lastIndex;
    if (i < n && consumers[i]!.id === this.lastId) return i + 1 === n ? 0 : i + 1;
    for (let j = 0; j < n; j++) if (consumers[j]!.id === this.lastId) return j + 1 === n ? 0 : j + 1;
    return i < n ? i : 0;
  }

  picked(index: number, consumer: ConsumerView): void {
    this.lastIndex = index;
    this.lastId = consumer.id;
  }
}
