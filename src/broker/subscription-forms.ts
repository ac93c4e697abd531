// What a subscription's topic filter names: a queue ($q/<filter>, $queue/<name>[/<filter>]), a shared
// subscription ($share/<group>/<filter>), or an ordinary filter. `queues.dollarQueue` decides what `$queue/` means:
// EMQX 6.1's named queue (`named`, the default) or EMQX 4.x/5.x's shared subscription without a group (`shared`).

import type { DollarQueueMeaning } from '../config/types.js';
import { isValidTopicFilter, parseSharedFilter, type SharedFilter } from '../protocol/topic.js';
import { parseQueueFilter, type QueueRef } from '../queue/queue-filter.js';

const DOLLAR_QUEUE = '$queue/';

/**
 * The group of EMQX 4/5's `$queue/<filter>` subscribers: all of them share one group per filter, as EMQX's
 * `$queue/t` is its `$share/$queue/t` (a `$share/$queue/t` subscriber here joins the same group).
 */
export const LEGACY_QUEUE_GROUP = '$queue';

/** The queue a consuming subscription names; null for any other filter, 'invalid' for a malformed one. */
export function queueRefOf(filter: string, dollarQueue: DollarQueueMeaning): QueueRef | null | 'invalid' {
  if (dollarQueue === 'shared' && filter.startsWith(DOLLAR_QUEUE)) return null;
  return parseQueueFilter(filter);
}

/** The shared subscription a filter names; null for any other filter, 'invalid' for a malformed one. */
export function sharedFilterOf(filter: string, dollarQueue: DollarQueueMeaning): SharedFilter | null | 'invalid' {
  if (dollarQueue === 'shared' && filter.startsWith(DOLLAR_QUEUE)) {
    const rest = filter.slice(DOLLAR_QUEUE.length);
    return isValidTopicFilter(rest) ? { group: LEGACY_QUEUE_GROUP, filter: rest } : 'invalid';
  }
  return parseSharedFilter(filter);
}
