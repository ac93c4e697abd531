// Dispatch strategies by name (QueueDefinition.dispatch).

import type { DispatchName, DispatchStrategy } from '../types.js';
import { HashKeyStrategy } from './hash-key.js';
import { LeastInflightStrategy } from './least-inflight.js';
import { RandomStrategy } from './random.js';
import { RoundRobinStrategy } from './round-robin.js';

export { HashKeyStrategy, DEFAULT_MAX_KEYS, type HashKeyOptions } from './hash-key.js';
export { LeastInflightStrategy } from './least-inflight.js';
export { RandomStrategy, type Rng } from './random.js';
export { RoundRobinStrategy } from './round-robin.js';

/** A fresh strategy (each queue has its own state: cursor, key assignments). */
export function createStrategy(name: DispatchName): DispatchStrategy {
  switch (name) {
    case 'random':
      return new RandomStrategy();
    case 'round_robin':
      return new RoundRobinStrategy();
    case 'least_inflight':
      return new LeastInflightStrategy();
    case 'hash_key':
      return new HashKeyStrategy();
    default: {
      const unknown: never = name;
      throw new Error(`unknown dispatch strategy: ${String(unknown)}`);
    }
  }
}
