// round_robin: consumers with room take turns; one without room is skipped, and the turn goes on after the one picked.

import type { ConsumerView, DispatchStrategy } from '../types.js';
import { Rotation } from './rotation.js';

export class RoundRobinStrategy implements DispatchStrategy {
  private readonly rotation = new Rotation();

  pick(consumers: readonly ConsumerView[], _key: string | undefined): ConsumerView | undefined {
    const n = consumers.length;
    if (n === 0) return undefined;
    let i = this.rotation.start(consumers);
    for (let seen = 0; seen < n; seen++) {
      const c = consumers[i]!;
      if (c.hasRoom()) {
        this.rotation.picked(i, c);
        return c;
      }
      if (++i === n) i = 0;
    }
    return undefined;
  }

  removed(_consumerId: string): void {
    // Nothing tied to a consumer: the rotation finds its place again on the next pick.
  }
}
