// Topic mapping between the local and the remote namespace, as Mosquitto's bridge prefixes do: a rule's filter is
// written in full in its source namespace; the source prefix is stripped and the destination prefix added.

import { topicMatches } from '../protocol/topic.js';
import type { ForwardRule, SubscribeRule } from '../config/bridges.js';

/** Local topic -> remote topic for a forward rule (the topic matched the rule's filter, so it has the prefix). */
export function remoteTopicOf(rule: ForwardRule, localTopic: string): string {
  return rule.remotePrefix + localTopic.slice(rule.localPrefix.length);
}

/** The first subscribe rule whose remote filter matches `remoteTopic`, and the local topic it maps to. */
export function localTopicOf(rules: readonly SubscribeRule[], remoteTopic: string): { rule: SubscribeRule; topic: string } | undefined {
  for (const rule of rules) {
    if (!topicMatches(rule.filter, remoteTopic)) continue;
    const rest = remoteTopic.slice(rule.remotePrefix.length);
    const topic = rule.localPrefix + rest;
    if (topic.length === 0) continue;
    return { rule, topic };
  }
  return undefined;
}
