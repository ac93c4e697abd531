// `wharf queues`: list (a table), show, create, update, delete, purge (with progress on a terminal), peek.

import { call, type AdminTarget } from '../admin-client.js';
import type { ConsumerFigures, QueueFigures } from '../../metrics/figures.js';
import type { ClientArgs } from '../client-args.js';
import { age, bytes, json, rate, table } from '../format.js';
import type { CommandIo } from './io.js';

/** GET /api/v1/queues/<name>: the monitoring figures, the settings in the configuration file's form and the consumers (src/admin/views.ts). */
interface QueueDetail extends QueueFigures {
  settings: Record<string, unknown>;
  consumerList: ConsumerFigures[];
}

const path = (name: string, rest = '') => `/api/v1/queues/${encodeURIComponent(name)}${rest}`;

function listTable(queues: QueueFigures[]): string {
  if (queues.length === 0) return 'no queues\n';
  const rows = queues.map((q) => [
    q.name,
    q.type,
    String(q.depth),
    bytes(q.depthBytes),
    String(q.inflight),
    String(q.consumers),
    age(q.oldestAgeMs),
    rate(q.rates?.enqueuedPerSec),
    rate(q.rates?.acknowledgedPerSec),
  ]);
  const headers = ['NAME', 'TYPE', 'DEPTH', 'BYTES', 'INFLIGHT', 'CONSUMERS', 'OLDEST', 'IN/S', 'ACK/S'];
  // Which template a queue comes from, when any does (a column only then, to keep the common table narrow).
  if (queues.some((q) => q.template != null)) {
    headers.push('TEMPLATE');
    queues.forEach((q, i) => rows[i]!.push(q.template ?? '-'));
  }
  return table(headers, rows, new Set([2, 3, 4, 5, 6, 7, 8]));
}

interface TemplateFigures {
  name: string;
  topicFilter: string;
  maxInstances: number | null;
  instances: number;
  refused: number;
}

/** Queue templates (a topicFilter with named levels) and how many queues each made, under the queue table. */
function templateTable(templates: TemplateFigures[] | undefined): string {
  if (templates === undefined || templates.length === 0) return '';
  const rows = templates.map((t) => [t.name, t.topicFilter, String(t.instances), t.maxInstances === null ? '-' : String(t.maxInstances), String(t.refused)]);
  return '\n' + table(['TEMPLATE', 'TOPIC FILTER', 'INSTANCES', 'MAX', 'REFUSED'], rows, new Set([2, 3, 4]));
}

function detailText(q: QueueDetail): string {
  const lines = [
    `queue ${q.name} (${q.type}, topic filter ${q.topicFilter}${q.template !== null && q.template !== undefined ? `, from template ${q.template}` : ''})`,
    `  depth      ${q.depth} messages, ${bytes(q.depthBytes)}; ${q.inflight} in flight; oldest ${age(q.oldestAgeMs)}`,
    `  rates      ${rate(q.rates?.enqueuedPerSec)}/s in, ${rate(q.rates?.deliveredPerSec)}/s delivered, ${rate(q.rates?.acknowledgedPerSec)}/s acknowledged`,
    `  counters   ${Object.entries(q.counters).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `  settings   ${Object.entries(q.settings).filter(([, v]) => v !== null).map(([k, v]) => `${k}=${String(v)}`).join(' ')}`,
  ];
  let out = lines.join('\n') + '\n';
  if (q.consumerList.length > 0) {
    out += '\n' + table(['CONSUMER', 'QOS', 'INFLIGHT', 'DELIVERED', 'ACKED', 'REJECTED'], q.consumerList.map((c) => [c.clientId, String(c.qos), String(c.inflight), String(c.delivered), String(c.acknowledged), String(c.rejected)]), new Set([1, 2, 3, 4, 5]));
  } else out += '  consumers  none\n';
  return out;
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/[\r\n\t]+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export async function queuesCommand(target: AdminTarget, args: ClientArgs, io: CommandIo): Promise<void> {
  const name = args.target!;
  const show = (v: unknown, text: () => string) => io.out(args.json ? json(v) : text());
  switch (args.action) {
    case 'list': {
      const r = (await call(target, '/api/v1/queues')) as { queues: QueueFigures[]; templates?: TemplateFigures[] };
      return show(r, () => listTable(r.queues) + templateTable(r.templates));
    }
    case 'show': {
      const q = (await call(target, path(name))) as QueueDetail;
      return show(q, () => detailText(q));
    }
    case 'create': {
      const q = (await call(target, '/api/v1/queues', { method: 'POST', body: { name, ...args.settings } })) as QueueDetail;
      return show(q, () => `created queue ${q.name} (topic filter ${q.topicFilter}; consume with $queue/${q.name})\n`);
    }
    case 'update': {
      const q = (await call(target, path(name), { method: 'PATCH', body: args.settings })) as QueueDetail;
      return show(q, () => `updated queue ${q.name}: ${Object.keys(args.settings).join(', ') || 'nothing changed'}\n`);
    }
    case 'delete': {
      const r = (await call(target, path(name), { method: 'DELETE' })) as { messagesDeleted: number };
      return show(r, () => `deleted queue ${name} with ${r.messagesDeleted} messages\n`);
    }
    case 'purge': {
      const onLine = (v: unknown) => {
        const p = v as { purged: number; remaining: number; done: boolean };
        if (io.progressTty && !p.done) io.progress(`\rpurging ${name}: ${p.purged} removed, about ${p.remaining} left `);
      };
      const r = (await call(target, path(name, '/purge'), { method: 'POST', accept: 'application/x-ndjson', onLine })) as { purged: number; remaining: number; inflight: number };
      if (io.progressTty) io.progress('\r\x1b[K');
      return show(r, () => `purged ${r.purged} messages from ${name}${r.inflight > 0 ? `; ${r.inflight} in flight left to their consumers` : ''}${r.remaining > 0 ? `; ${r.remaining} could not be removed now` : ''}\n`);
    }
    case 'peek': {
      const r = (await call(target, path(name, `/messages?limit=${args.limit ?? 10}`))) as {
        depth: number;
        messages: { seq: number; topic: string; payload: string; encoding: string; enqueuedAt: string; deliveryCount: number; inflight: boolean; key: string | null }[];
      };
      return show(r, () => {
        if (r.messages.length === 0) return `queue ${name} is empty\n`;
        const now = Date.now();
        // Last-value queues (and hash_key dispatch) keep a key per message: the one thing that tells their rows apart.
        const keyed = r.messages.some((m) => m.key !== null);
        const rows = r.messages.map((m) => [
          String(m.seq),
          age(now - Date.parse(m.enqueuedAt)),
          String(m.deliveryCount),
          m.inflight ? 'yes' : '',
          m.topic,
          ...(keyed ? [oneLine(m.key ?? '-', 40)] : []),
          oneLine(m.encoding === 'utf8' ? m.payload : `base64:${m.payload}`, 60),
        ]);
        const headers = ['SEQ', 'AGE', 'DELIVERIES', 'INFLIGHT', 'TOPIC', ...(keyed ? ['KEY'] : []), 'PAYLOAD'];
        return table(headers, rows, new Set([0, 1, 2])) + `(${r.messages.length} of ${r.depth})\n`;
      });
    }
  }
}
