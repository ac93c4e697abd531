// Topic name and topic filter rules of MQTT 5.0 section 4.7, and shared-subscription parsing (4.8.2).

export const MAX_TOPIC_BYTES = 65535;

/** A topic name a client may publish to: no wildcards, not empty, no NUL [MQTT-4.7.1-1] [MQTT-4.7.3-1] [MQTT-4.7.3-2]. */
export function isValidTopicName(topic: string): boolean {
  if (topic.length === 0 || topic.length > MAX_TOPIC_BYTES) return false;
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === 0x23 /* # */ || c === 0x2b /* + */ || c === 0) return false;
  }
  return true;
}

/**
 * A topic filter a client may subscribe to: `#` only as the last whole level [MQTT-4.7.1-1],
 * `+` only as a whole level [MQTT-4.7.1-2], not empty [MQTT-4.7.3-1], no NUL [MQTT-4.7.3-2].
 */
export function isValidTopicFilter(filter: string): boolean {
  if (filter.length === 0 || filter.length > MAX_TOPIC_BYTES) return false;
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level.includes('\u0000')) return false;
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return false;
    if (level.includes('+') && level !== '+') return false;
  }
  return true;
}

export interface SharedFilter {
  group: string;
  filter: string;
}

const SHARE_PREFIX = '$share/';

/**
 * Splits `$share/<group>/<filter>`. Returns null for a non-shared filter and 'invalid' when the group name
 * is empty or holds a wildcard, or the filter is missing [MQTT-4.8.2-1] [MQTT-4.8.2-2].
 */
export function parseSharedFilter(filter: string): SharedFilter | null | 'invalid' {
  if (!filter.startsWith(SHARE_PREFIX)) return null;
  const slash = filter.indexOf('/', SHARE_PREFIX.length);
  if (slash < 0) return 'invalid';
  const group = filter.slice(SHARE_PREFIX.length, slash);
  const rest = filter.slice(slash + 1);
  if (group.length === 0 || group.includes('+') || group.includes('#')) return 'invalid';
  if (!isValidTopicFilter(rest)) return 'invalid';
  return { group, filter: rest };
}

export function hasWildcard(filter: string): boolean {
  return filter.includes('+') || filter.includes('#');
}

/**
 * Does `topic` match `filter`? Topics starting with `$` are not matched by a filter starting
 * with a wildcard [MQTT-4.7.2-1]. Used where a trie is not worth it (retained messages on subscribe).
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.charCodeAt(0) === 0x24 /* $ */ && (filter[0] === '+' || filter[0] === '#')) return false;
  let fi = 0;
  let ti = 0;
  const fl = filter.length;
  const tl = topic.length;
  while (fi < fl) {
    const fc = filter.charCodeAt(fi);
    if (fc === 0x23 /* # */) return true;
    if (fc === 0x2b /* + */) {
      while (ti < tl && topic.charCodeAt(ti) !== 0x2f) ti++;
      fi++;
    } else {
      if (ti >= tl) {
        // "a/#" matches "a": the filter's remaining "/#" stands for the parent level
        return filter.charCodeAt(fi) === 0x2f && fi + 2 === fl && filter.charCodeAt(fi + 1) === 0x23;
      }
      if (fc !== topic.charCodeAt(ti)) return false;
      fi++;
      ti++;
    }
  }
  return ti === tl;
}
