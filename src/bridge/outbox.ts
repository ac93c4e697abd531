// The bridge's durable outbox is made of ordinary Wharf queues, one per forward rule (`bridge.<name>.<index>`),
// capturing the rule's local filter: a matching QoS 1/2 publish is in the outbox in the same commit as the rest of
// what it causes, and queue limits, counters and monitoring apply. keep_all rules get a standard queue,
// last_value rules a last-value queue keyed by topic (one message per topic while the link is down).

import type { BridgeConfig, ForwardRule } from '../config/bridges.js';
import type { QueueEngine } from '../queue/engine.js';
import type { Queue } from '../queue/queue.js';
import { DEFAULT_QUEUE_SETTINGS, type QueueDefinition } from '../queue/types.js';

/** Upstream rejections and oversize messages are dead-lettered locally into this queue. */
export function deadLetterQueueName(bridge: string): string {
  return `bridge.${bridge}.dead`;
}

export function outboxQueueName(bridge: string, ruleIndex: number): string {
  return `bridge.${bridge}.${ruleIndex}`;
}

/**
 * The bridge-wide limits are split evenly across the rules' queues (rounded down, at least 1 where a limit is set):
 * each rule's backlog is bounded on its own, so a telemetry flood cannot evict a quiet alarm rule's messages.
 */
export function splitLimit(limit: number, rules: number): number {
  if (limit === 0 || rules === 0) return limit;
  return Math.max(1, Math.floor(limit / rules));
}

export function outboxDefinition(bridge: BridgeConfig, index: number, rule: ForwardRule): QueueDefinition {
  const n = bridge.forward.length;
  const lastValue = rule.whileOffline === 'last_value';
  return {
    ...DEFAULT_QUEUE_SETTINGS,
    name: outboxQueueName(bridge.name, index),
    topicFilter: rule.filter,
    type: lastValue ? 'lastvalue' : 'standard',
    key: lastValue ? 'topic' : undefined,
    missingKey: 'fallback',
    dispatch: 'least_inflight',
    // The bridge is the only consumer; its window across all rules is enforced by the lane arbiter.
    consumerInflight: bridge.outbox.inflight,
    maxMessages: splitLimit(bridge.outbox.maxMessages, n),
    maxBytes: splitLimit(bridge.outbox.maxBytes, n),
    overflow: bridge.outbox.overflow,
    // A lost link is not the message's fault: never dead-lettered for it; upstream rejections are handled by the bridge.
    maxDeliveries: 0,
    deadLetter: deadLetterQueueName(bridge.name),
    // A transient upstream refusal (0x97 Quota exceeded, 0x80) is tried again after this.
    redeliveryDelayMs: 1000,
    ackTimeoutMs: 0,
  };
}

/** Declares (or updates) the queues of every forward rule; resolves once their definitions are durable. */
export async function declareOutbox(engine: QueueEngine, bridge: BridgeConfig): Promise<Queue[]> {
  const queues: Queue[] = [];
  for (const [i, rule] of bridge.forward.entries()) queues.push(await engine.declare(outboxDefinition(bridge, i, rule)));
  return queues;
}
