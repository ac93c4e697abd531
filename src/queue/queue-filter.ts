// The consuming subscription forms: `$q/<filter>` (EMQX 6.0) and `$queue/<name>[/<filter>]` (EMQX 6.1).

import { isValidTopicFilter } from '../protocol/topic.js';

/** What a consuming subscription names: `$q/<filter>` or `$queue/<name>[/<filter>]`. */
export type QueueRef = { name: string | undefined; topicFilter: string | undefined };

const Q_PREFIX = '$q/';
const QUEUE_PREFIX = '$queue/';

/** Parses a consuming subscription's filter; null for an ordinary one, 'invalid' for a malformed one. */
export function parseQueueFilter(filter: string): QueueRef | null | 'invalid' {
  if (filter.startsWith(Q_PREFIX)) {
    const topicFilter = filter.slice(Q_PREFIX.length);
    return isValidTopicFilter(topicFilter) ? { name: undefined, topicFilter } : 'invalid';
  }
  if (filter.startsWith(QUEUE_PREFIX)) {
    const rest = filter.slice(QUEUE_PREFIX.length);
    const slash = rest.indexOf('/');
    const name = slash < 0 ? rest : rest.slice(0, slash);
    const topicFilter = slash < 0 ? undefined : rest.slice(slash + 1);
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) return 'invalid';
    if (topicFilter !== undefined && !isValidTopicFilter(topicFilter)) return 'invalid';
    return { name, topicFilter };
  }
  return null;
}
