// least_inflight: the consumer with room that has the fewest unacknowledged messages. Ties are broken round-robin
// (the scan starts just after the consumer picked last and the first minimum wins), so equal consumers share evenly.

import type { ConsumerView, DispatchStrategy } from '../types.js';
import { Rotation } from './rotation.js';

export class LeastInflightStrategy implements DispatchStrategy {
  private readonly rotation = new Rotation();

  pick(consumers: readonly ConsumerView[], _key: string | undefined): ConsumerView | undefined {
    const n = consumers.length;
    if (n === 0) return undefined;
    let i = this.rotation.start(consumers);
    let best = -1;
    let bestInflight = Infinity;
    for (let seen = 0; seen < n; seen++) {
      const c = consumers[i]!;
      const inflight = c.inflight;
      if (inflight < bestInflight && c.hasRoom()) {
        best = i;
        bestInflight = inflight;
        if (inflight <= 0) break; // nobody can have fewer
      }
      if (++i === n) i = 0;
    }
    if (best < 0) return undefined;
    const picked = consumers[best]!;
    this.rotation.picked(best, picked);
    return picked;
  }

  removed(_consumerId: string): void {
    // Nothing tied to a consumer.
  }
}
