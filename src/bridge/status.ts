// What the admin API, `wharf bridges`, /metrics and the retained status topics show of a bridge.

import type { Bridge } from './bridge.js';
import { deadLetterQueueName } from './outbox.js';

export interface BridgeRuleView {
  queue: string;
  filter: string;
  priority: string;
  whileOffline: string;
  depth: number;
  bytes: number;
  inflight: number;
  dropped: number;
  superseded: number;
  refused: number;
}

export interface BridgeView {
  name: string;
  state: string;
  healthy: boolean;
  stateSince: string;
  url: string;
  lastReason: string | null;
  outbox: { depth: number; bytes: number; oldestAgeMs: number; inflight: number; window: number; dropped: number; rules: BridgeRuleView[]; deadLetterQueue: string };
  counters: { forwarded: number; acknowledged: number; resent: number; refusedUpstream: number; deadLettered: number; loopsSkipped: number; disconnects: number; stalls: number; reconnects: number };
  lastAckAt: string | null;
  lastAckAgeMs: number | null;
  ackRatePerSec: number;
  /** Outbox depth over the recent acknowledgement rate; null while nothing is acknowledged (or nothing to send). */
  estimatedCatchUpSeconds: number | null;
  upstream: { receiveMaximum: number; maximumPacketSize: number; nextAttemptAt: string | null };
  downlink: { received: number; published: number; refused: number; loopsDropped: number; denied: number };
}

const iso = (ms: number): string | null => (ms > 0 ? new Date(ms).toISOString() : null);

export function bridgeView(b: Bridge, now = Date.now()): BridgeView {
  const rules = b.consumers.map((c): BridgeRuleView => {
    const q = c.queue;
    return { queue: q.name, filter: c.rule.filter, priority: c.rule.priority, whileOffline: c.rule.whileOffline, depth: q.depth, bytes: q.depthBytes, inflight: q.inflight, dropped: q.counters.dropped, superseded: q.counters.superseded, refused: q.counters.publishRejected };
  });
  const depth = rules.reduce((n, r) => n + r.depth, 0);
  const c = b.counters;
  const h = b.health;
  return {
    name: b.name,
    state: h.state,
    healthy: h.healthy,
    stateSince: new Date(h.since).toISOString(),
    url: b.link.url,
    lastReason: h.lastReason ?? null,
    outbox: {
      depth,
      bytes: rules.reduce((n, r) => n + r.bytes, 0),
      oldestAgeMs: Math.max(0, ...b.queues.map((q) => q.oldestAgeMs(now))),
      inflight: b.inflight,
      window: Math.min(b.config.outbox.inflight, b.link.receiveMaximum),
      dropped: rules.reduce((n, r) => n + r.dropped, 0),
      rules,
      deadLetterQueue: deadLetterQueueName(b.name),
    },
    counters: { forwarded: c.forwarded, acknowledged: c.acknowledged, resent: c.resent, refusedUpstream: c.refusedUpstream, deadLettered: c.deadLettered, loopsSkipped: c.loopsSkipped, disconnects: c.disconnects, stalls: c.stalls, reconnects: b.link.reconnects },
    lastAckAt: iso(c.lastAckAt),
    lastAckAgeMs: c.lastAckAt > 0 ? now - c.lastAckAt : null,
    ackRatePerSec: Math.round(b.ackRate * 10) / 10,
    estimatedCatchUpSeconds: depth === 0 ? 0 : b.ackRate > 0 ? Math.ceil(depth / b.ackRate) : null,
    upstream: { receiveMaximum: b.link.receiveMaximum, maximumPacketSize: b.link.maximumPacketSize, nextAttemptAt: iso(b.link.nextAttemptAt) },
    downlink: { ...b.downlink.counters },
  };
}
