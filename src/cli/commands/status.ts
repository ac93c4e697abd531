// `wharf status`: the broker's health and figures on one screen.

import { call, type AdminTarget } from '../admin-client.js';
import { age, bytes, json, rate } from '../format.js';
import type { CommandIo } from './io.js';

type Status = {
  version: string;
  uptimeSeconds: number;
  connections: number;
  sessions: number;
  sessionsConnected: number;
  subscriptions: number;
  retained: number;
  retainedSys: number;
  queues: number;
  messages: { received: number[]; sent: number[]; receivedBytes: number[]; sentBytes: number[]; dropped: number };
  rates: { receivedPerSec: number; sentPerSec: number } | null;
  store: { commits: number; syncs: number; writeAmplification: number | null; payloadBytesAccepted: number; commitLatencyMs: { p50: number; p99: number }; usedBytes: number; capacityBytes: number; full: boolean } | null;
  process: { heapUsedBytes: number; rssBytes: number; eventLoopLag: { p99Ms: number; maxMs: number } | null };
  health: { ready: boolean; checks: { store: string; listeners: string }; problems: string[] };
  listeners: { type: string; host: string; port: number }[];
};

const total = (v: number[]) => v.reduce((a, b) => a + b, 0);

/** The API sends null until enough payload was stored for the ratio to mean something. */
function writeAmplification(st: NonNullable<Status['store']>): string {
  if (st.writeAmplification === null) return `write amplification - (${bytes(st.payloadBytesAccepted)} of payload stored so far, too little to tell)`;
  return `write amplification ${st.writeAmplification.toFixed(2)}`;
}

export async function statusCommand(target: AdminTarget, asJson: boolean, io: CommandIo): Promise<void> {
  const s = (await call(target, '/api/v1/status')) as Status;
  if (asJson) return io.out(json(s));
  const h = s.health;
  const rows: [string, string][] = [
    ['health', h.ready ? `ready (store ${h.checks.store}, listeners ${h.checks.listeners})` : `NOT READY: ${h.problems.join('; ')}`],
    ['uptime', age(s.uptimeSeconds * 1000)],
    ['listeners', s.listeners.map((l) => `${l.type} ${l.host}:${l.port}`).join(', ')],
    ['clients', `${s.sessionsConnected} connected, ${s.sessions} sessions, ${s.subscriptions} subscriptions`],
    ['messages in', `${total(s.messages.received)} (QoS 0/1/2: ${s.messages.received.join('/')}), ${bytes(total(s.messages.receivedBytes))}`],
    ['messages out', `${total(s.messages.sent)} (QoS 0/1/2: ${s.messages.sent.join('/')}), ${bytes(total(s.messages.sentBytes))}, ${s.messages.dropped} dropped`],
    ['rates', s.rates === null ? '- (metrics off or not sampled yet)' : `${rate(s.rates.receivedPerSec)}/s in, ${rate(s.rates.sentPerSec)}/s out`],
    ['retained', `${s.retained} (and ${s.retainedSys} $SYS topics)`],
    ['queues', String(s.queues)],
  ];
  if (s.store !== null) {
    const st = s.store;
    rows.push(['store', `${bytes(st.usedBytes)} of ${bytes(st.capacityBytes)}${st.full ? ' FULL' : ''}, ${st.commits} commits, ${st.syncs} syncs, commit p50/p99 ${st.commitLatencyMs.p50}/${st.commitLatencyMs.p99} ms, ${writeAmplification(st)}`]);
  }
  const lag = s.process.eventLoopLag;
  rows.push(['memory', `heap ${bytes(s.process.heapUsedBytes)}, rss ${bytes(s.process.rssBytes)}${lag ? `, event-loop lag p99 ${lag.p99Ms.toFixed(1)} ms (max ${lag.maxMs.toFixed(1)} ms)` : ''}`]);
  const width = Math.max(...rows.map(([k]) => k.length));
  io.out(`Wharf ${s.version} at ${target.address}\n` + rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}\n`).join(''));
}
