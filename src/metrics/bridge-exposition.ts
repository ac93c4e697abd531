// The wharf_bridge_* families of GET /metrics, one sample per bridge (label `bridge`).

import type { BridgeView } from '../bridge/status.js';
import { ExpositionWriter, type Labels } from './prometheus.js';

const STATES = ['connecting', 'connected', 'healthy', 'disconnected', 'stopped'];

export function renderBridgeMetrics(views: readonly BridgeView[]): string {
  if (views.length === 0) return '';
  const w = new ExpositionWriter();
  const by = (f: (v: BridgeView) => number): [Labels, number][] => views.map((v) => [{ bridge: v.name }, f(v)]);
  w.family('wharf_bridge_state', 'gauge', 'The bridge state (1 for the current one).', views.flatMap((v) => STATES.map((s) => [{ bridge: v.name, state: s }, v.state === s ? 1 : 0] as [Labels, number])));
  w.family('wharf_bridge_healthy', 'gauge', 'The upstream acknowledged recently (or answered a probe with an empty outbox).', by((v) => (v.healthy ? 1 : 0)));
  w.family('wharf_bridge_outbox_messages', 'gauge', 'Messages in the outbox, in flight included.', by((v) => v.outbox.depth));
  w.family('wharf_bridge_outbox_bytes', 'gauge', 'Payload bytes in the outbox.', by((v) => v.outbox.bytes));
  w.family('wharf_bridge_outbox_oldest_age_seconds', 'gauge', 'Age of the oldest message in the outbox.', by((v) => v.outbox.oldestAgeMs / 1000));
  w.family('wharf_bridge_inflight_messages', 'gauge', 'Messages sent upstream and not acknowledged yet.', by((v) => v.outbox.inflight));
  w.family('wharf_bridge_forwarded_total', 'counter', 'PUBLISH packets sent upstream, resends included.', by((v) => v.counters.forwarded));
  w.family('wharf_bridge_acknowledged_total', 'counter', 'Messages the upstream acknowledged (they left the outbox).', by((v) => v.counters.acknowledged));
  w.family('wharf_bridge_resent_total', 'counter', 'Messages sent again after a break (DUP).', by((v) => v.counters.resent));
  w.family('wharf_bridge_dropped_total', 'counter', 'Outbox messages dropped by overflow drop_oldest.', by((v) => v.outbox.dropped));
  w.family('wharf_bridge_dead_lettered_total', 'counter', 'Messages moved to the bridge dead-letter queue (too large, refused upstream).', by((v) => v.counters.deadLettered));
  w.family('wharf_bridge_reconnects_total', 'counter', 'Connections to the upstream after the first.', by((v) => v.counters.reconnects));
  w.family('wharf_bridge_stalls_total', 'counter', 'Links torn down for acknowledging nothing within stallTimeout.', by((v) => v.counters.stalls));
  w.family('wharf_bridge_last_ack_age_seconds', 'gauge', 'Seconds since the last upstream acknowledgement (-1: none yet).', by((v) => (v.lastAckAgeMs === null ? -1 : v.lastAckAgeMs / 1000)));
  w.family('wharf_bridge_catch_up_seconds', 'gauge', 'Estimated seconds to drain the outbox at the recent rate (-1: unknown).', by((v) => v.estimatedCatchUpSeconds ?? -1));
  w.family('wharf_bridge_received_total', 'counter', 'Messages received from the upstream (subscribe rules).', by((v) => v.downlink.received));
  w.family('wharf_bridge_downlink_denied_total', 'counter', 'Messages from the upstream not published: localUsername may not write the topic.', by((v) => v.downlink.denied));
  return w.text();
}
