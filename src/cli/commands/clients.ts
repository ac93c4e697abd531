// `wharf clients` (connected clients), `wharf sessions` (all sessions) and `wharf retained`.

import { call, type AdminTarget } from '../admin-client.js';
import type { ClientArgs } from '../client-args.js';
import { age, json, table } from '../format.js';
import type { CommandIo } from './io.js';

interface SessionRow {
  clientId: string;
  connected: boolean;
  protocol: string;
  remote?: string;
  subscriptions: number;
  inflight: number;
  queued: number;
  sessionExpiryInterval: number | null;
  connectedSeconds?: number;
}

const enc = encodeURIComponent;

function sessionTable(rows: SessionRow[], clients: boolean): string {
  if (rows.length === 0) return clients ? 'no clients connected\n' : 'no sessions\n';
  return table(
    ['CLIENT ID', clients ? 'REMOTE' : 'CONNECTED', 'PROTOCOL', clients ? 'CONNECTED FOR' : 'EXPIRY', 'SUBS', 'INFLIGHT', 'QUEUED'],
    rows.map((r) => [
      r.clientId,
      clients ? (r.remote ?? '') : r.connected ? 'yes' : 'no',
      r.protocol,
      clients ? age((r.connectedSeconds ?? 0) * 1000) : r.sessionExpiryInterval === null ? 'never' : `${r.sessionExpiryInterval}s`,
      String(r.subscriptions),
      String(r.inflight),
      String(r.queued),
    ]),
    new Set([4, 5, 6]),
  );
}

function detailText(v: Record<string, unknown>): string {
  const subs = (v.subscriptionList as { topicFilter: string; qos: number; queue: string | null }[]) ?? [];
  const head = Object.entries(v)
    .filter(([k, val]) => k !== 'subscriptionList' && val !== undefined)
    .map(([k, val]) => `  ${k}: ${String(val)}\n`)
    .join('');
  const subText = subs.length === 0 ? '  no subscriptions\n' : '\n' + table(['TOPIC FILTER', 'QOS', 'QUEUE'], subs.map((s) => [s.topicFilter, String(s.qos), s.queue ?? '']));
  return head + subText;
}

export async function clientsCommand(target: AdminTarget, args: ClientArgs, io: CommandIo): Promise<void> {
  const show = (v: unknown, text: () => string) => io.out(args.json ? json(v) : text());
  const id = args.target!;
  const base = args.resource === 'clients' ? '/api/v1/clients' : '/api/v1/sessions';
  switch (args.action) {
    case 'list': {
      const r = (await call(target, base)) as { clients?: SessionRow[]; sessions?: SessionRow[] };
      return show(r, () => sessionTable(r.clients ?? r.sessions ?? [], args.resource === 'clients'));
    }
    case 'show': {
      const r = (await call(target, `${base}/${enc(id)}`)) as Record<string, unknown>;
      return show(r, () => detailText(r));
    }
    case 'disconnect':
    case 'delete': {
      const r = await call(target, `${base}/${enc(id)}`, { method: 'DELETE' });
      return show(r, () => (args.action === 'disconnect' ? `disconnected ${id}\n` : `deleted session ${id}\n`));
    }
  }
}

export async function retainedCommand(target: AdminTarget, args: ClientArgs, io: CommandIo): Promise<void> {
  const show = (v: unknown, text: () => string) => io.out(args.json ? json(v) : text());
  if (args.action === 'delete') {
    const r = await call(target, `/api/v1/retained?topic=${enc(args.target!)}`, { method: 'DELETE' });
    return show(r, () => `deleted the retained message of ${args.target}\n`);
  }
  const r = (await call(target, `/api/v1/retained?filter=${enc(args.filter ?? '#')}&limit=${args.limit ?? 100}`)) as {
    total: number;
    messages: { topic: string; qos: number; payload: string; encoding: string; bytes: number }[];
  };
  return show(r, () => {
    if (r.messages.length === 0) return 'no retained messages\n';
    const rows = r.messages.map((m) => [m.topic, String(m.qos), String(m.bytes), m.encoding === 'utf8' ? m.payload.replace(/\s+/g, ' ').slice(0, 60) : `base64:${m.payload.slice(0, 52)}`]);
    return table(['TOPIC', 'QOS', 'BYTES', 'PAYLOAD'], rows, new Set([1, 2])) + (r.total > r.messages.length ? `(${r.messages.length} of ${r.total})\n` : '');
  });
}
