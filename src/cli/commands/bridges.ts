// `wharf bridges`: list the upstream bridges (a table) or show one (state, outbox per rule, counters).

import { call, type AdminTarget } from '../admin-client.js';
import type { BridgeView } from '../../bridge/status.js';
import type { ClientArgs } from '../client-args.js';
import { age, bytes, json, table } from '../format.js';
import type { CommandIo } from './io.js';

const catchUp = (v: BridgeView): string => (v.estimatedCatchUpSeconds === null ? '-' : age(v.estimatedCatchUpSeconds * 1000));
const lastAck = (v: BridgeView): string => (v.lastAckAgeMs === null ? 'never' : `${age(v.lastAckAgeMs)} ago`);

function listTable(bridges: BridgeView[]): string {
  if (bridges.length === 0) return 'no bridges\n';
  const rows = bridges.map((b) => [b.name, b.state, b.url, String(b.outbox.depth), bytes(b.outbox.bytes), String(b.outbox.inflight), age(b.outbox.oldestAgeMs), lastAck(b), catchUp(b)]);
  return table(['NAME', 'STATE', 'URL', 'OUTBOX', 'BYTES', 'INFLIGHT', 'OLDEST', 'LAST ACK', 'CATCH-UP'], rows, new Set([3, 4, 5, 6]));
}

function detailText(b: BridgeView): string {
  const c = b.counters;
  const lines = [
    `bridge ${b.name} -> ${b.url}`,
    `  state      ${b.state}${b.healthy ? '' : ' (not healthy)'} since ${b.stateSince}${b.lastReason ? `; last break: ${b.lastReason}` : ''}`,
    `  outbox     ${b.outbox.depth} messages, ${bytes(b.outbox.bytes)}; ${b.outbox.inflight} in flight of ${b.outbox.window}; oldest ${age(b.outbox.oldestAgeMs)}; ${b.outbox.dropped} dropped`,
    `  upstream   last ack ${lastAck(b)}, ${b.ackRatePerSec}/s, catch-up ${catchUp(b)}; Receive Maximum ${b.upstream.receiveMaximum}${b.upstream.maximumPacketSize ? `, Maximum Packet Size ${b.upstream.maximumPacketSize}` : ''}`,
    `  counters   forwarded ${c.forwarded}, acknowledged ${c.acknowledged}, resent ${c.resent}, refused ${c.refusedUpstream}, dead-lettered ${c.deadLettered} (${b.outbox.deadLetterQueue}), loops skipped ${c.loopsSkipped}, disconnects ${c.disconnects}, stalls ${c.stalls}, reconnects ${c.reconnects}`,
    `  downlink   received ${b.downlink.received}, published ${b.downlink.published}, refused ${b.downlink.refused}, loops dropped ${b.downlink.loopsDropped}, denied ${b.downlink.denied}`,
  ];
  let out = lines.join('\n') + '\n';
  if (b.outbox.rules.length > 0) {
    out += '\n' + table(['QUEUE', 'FILTER', 'PRIORITY', 'OFFLINE', 'DEPTH', 'BYTES', 'INFLIGHT', 'DROPPED'], b.outbox.rules.map((r) => [r.queue, r.filter, r.priority, r.whileOffline, String(r.depth), bytes(r.bytes), String(r.inflight), String(r.dropped)]), new Set([4, 5, 6, 7]));
  }
  return out;
}

export async function bridgesCommand(target: AdminTarget, args: ClientArgs, io: CommandIo): Promise<void> {
  if (args.action === 'show') {
    const b = (await call(target, `/api/v1/bridges/${encodeURIComponent(args.target!)}`)) as BridgeView;
    return io.out(args.json ? json(b) : detailText(b));
  }
  const { bridges } = (await call(target, '/api/v1/bridges')) as { bridges: BridgeView[] };
  io.out(args.json ? json(bridges) : listTable(bridges));
}
