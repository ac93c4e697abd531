// random: a consumer chosen uniformly among those with room.

import type { ConsumerView, DispatchStrategy } from '../types.js';

/** Returns a number in [0, 1), like Math.random (the default). */
export type Rng = () => number;

export class RandomStrategy implements DispatchStrategy {
  constructor(private readonly rng: Rng = Math.random) {}

  pick(consumers: readonly ConsumerView[], _key: string | undefined): ConsumerView | undefined {
    const n = consumers.length;
    if (n === 0) return undefined;
    // Fast path: a uniform draw over all consumers, kept when it has room. Otherwise a uniform draw over the k
    // with room. Each consumer with room ends up with probability 1/n + (n-k)/n * 1/k = 1/k: still uniform.
    const first = consumers[index(this.rng(), n)]!;
    if (first.hasRoom()) return first;
    let withRoom = 0;
    for (let i = 0; i < n; i++) if (consumers[i]!.hasRoom()) withRoom++;
    if (withRoom === 0) return undefined;
    let r = index(this.rng(), withRoom);
    for (let i = 0; i < n; i++) {
      const c = consumers[i]!;
      if (c.hasRoom() && r-- === 0) return c;
    }
    return undefined; // hasRoom changed under us; not expected
  }

  removed(_consumerId: string): void {
    // Stateless.
  }
}

function index(x: number, n: number): number {
  const i = Math.floor(x * n);
  return i >= n ? n - 1 : i < 0 ? 0 : i;
}
