// /api/v1/queues: list, show, create, update settings, delete, purge, peek. Inputs go through the configuration
// file's validator (src/config/queues.ts), so a queue made here obeys the same rules as one declared in the file.

import { deadLetterLoop, validateQueueDefinition } from '../../config/queues.js';
import { isMapping } from '../../config/rules.js';
import type { QueueSettings } from '../../config/types.js';
import type { QueueEngine } from '../../queue/engine.js';
import { purgeQueue } from '../../queue/purge.js';
import type { Queue } from '../../queue/queue.js';
import type { QueueDefinition } from '../../queue/types.js';
import type { AdminContext } from '../context.js';
import { ApiError, badRequest, conflict, intParam, notFound, readJson, sendJson } from '../http.js';
import type { Route, RouteContext } from '../router.js';
import { definitionView, queueDetail, queuedMessageView } from '../views.js';

/** What identifies a queue and decides its storage layout; changing them means delete and create. */
const IMMUTABLE = ['name', 'topicFilter', 'type', 'key'] as const;
const MAX_PEEK = 1000;

function engineOf(ctx: AdminContext): QueueEngine {
  const engine = ctx.broker.queues;
  if (engine === null) throw conflict('this broker runs without a store, so it has no queues');
  return engine;
}

function queueOf(ctx: AdminContext, name: string): Queue {
  const queue = ctx.broker.queues?.queueByName(name);
  if (queue === undefined) throw notFound(`no queue named "${name}"`);
  return queue;
}

function settingsOf(d: QueueDefinition): QueueSettings {
  const { name: _name, topicFilter: _filter, ...settings } = d;
  return settings;
}

/** Validation errors become one 400 naming every field; the list is there for programs. */
function invalid(errors: string[]): ApiError {
  return new ApiError(400, errors.join('; '), {}, { errors });
}

/**
 * A dead-letter target must exist, and dead letters must not go round in a circle: the checks the configuration
 * file gets (config/queues.ts), against the queues that exist with `def` in place.
 */
function checkDeadLetter(engine: QueueEngine, def: QueueDefinition, given: boolean): void {
  if (given && def.deadLetter !== undefined && engine.queueByName(def.deadLetter) === undefined) {
    throw invalid([`deadLetter: no queue named "${def.deadLetter}"`]);
  }
  const byName = new Map(engine.queues().map((q) => [q.name, q.definition] as const));
  byName.set(def.name, def);
  const loop = deadLetterLoop(def, byName);
  if (loop !== undefined) throw invalid([`deadLetter: dead letters would go round in a circle: ${loop.join(' -> ')}`]);
}

function detail(ctx: AdminContext, queue: Queue): Record<string, unknown> {
  return queueDetail(ctx.monitor.queueFigures(queue), queue.definition, ctx.monitor.consumerFigures(queue));
}

async function create(ctx: AdminContext, { req, res }: RouteContext): Promise<void> {
  const engine = engineOf(ctx);
  const body = await readJson(req);
  if (!isMapping(body)) throw badRequest('request body: expected a JSON object with at least topicFilter');
  const errors: string[] = [];
  const def = validateQueueDefinition(body, '', ctx.config.queues.defaults, errors);
  if (def === undefined) throw invalid(errors);
  if (def.maxInstances !== undefined) return createTemplate(ctx, engine, def, body.deadLetter !== undefined, res);
  if (engine.queueByName(def.name) !== undefined) throw conflict(`a queue named "${def.name}" already exists`);
  const sameFilter = engine.queues().find((q) => q.definition.topicFilter === def.topicFilter);
  if (sameFilter !== undefined) throw conflict(`topicFilter: "${def.topicFilter}" is already the filter of queue "${sameFilter.name}"`);
  checkDeadLetter(engine, def, body.deadLetter !== undefined);
  const queue = await engine.declare(def);
  sendJson(res, 201, detail(ctx, queue), { location: `/api/v1/queues/${encodeURIComponent(queue.name)}` });
}

/** A template (a topicFilter with named levels): its instances are made by the publishes and subscriptions to them. */
async function createTemplate(ctx: AdminContext, engine: QueueEngine, def: QueueDefinition, deadLetterGiven: boolean, res: RouteContext['res']): Promise<void> {
  if (engine.templates().some((t) => t.name === def.name)) throw conflict(`a queue template named "${def.name}" already exists`);
  if (engine.templates().some((t) => t.topicFilter === def.topicFilter)) throw conflict(`topicFilter: "${def.topicFilter}" is already the filter of a queue template`);
  if (deadLetterGiven && def.deadLetter !== undefined && engine.queueByName(def.deadLetter) === undefined) throw invalid([`deadLetter: no queue named "${def.deadLetter}"`]);
  await engine.declareTemplate(def);
  sendJson(res, 201, { template: engine.templates().find((t) => t.name === def.name), settings: definitionView(def) });
}

async function update(ctx: AdminContext, { req, res, params }: RouteContext): Promise<void> {
  const engine = engineOf(ctx);
  const queue = queueOf(ctx, params.name!);
  const body = await readJson(req);
  if (!isMapping(body)) throw badRequest('request body: expected a JSON object with the settings to change');
  const current = queue.definition;
  const errors: string[] = [];
  for (const k of IMMUTABLE) {
    // Compared as JSON: a composite key is a list, equal when its parts are.
    if (body[k] !== undefined && JSON.stringify(body[k]) !== JSON.stringify(current[k] ?? null)) errors.push(`${k}: cannot be changed on an existing queue (delete it and create it again)`);
  }
  if (errors.length > 0) throw invalid(errors);
  const { name: _n, topicFilter: _t, type: _y, key: _k, ...changes } = body;
  const def = validateQueueDefinition({ name: current.name, topicFilter: current.topicFilter, ...changes }, '', settingsOf(current), errors);
  if (def === undefined) throw invalid(errors);
  checkDeadLetter(engine, def, changes.deadLetter !== undefined);
  await engine.declare(def);
  ctx.log.info('queue updated', { queue: def.name, changed: Object.keys(changes).join(',') });
  sendJson(res, 200, detail(ctx, queue));
}

async function remove(ctx: AdminContext, { res, params }: RouteContext): Promise<void> {
  const engine = engineOf(ctx);
  const queue = queueOf(ctx, params.name!);
  // As in the configuration file, a dead letter always has somewhere to go.
  const feeding = engine.queues().filter((q) => q !== queue && q.definition.deadLetter === queue.name);
  if (feeding.length > 0) {
    throw conflict(`queue "${queue.name}" is the deadLetter of ${feeding.map((q) => `"${q.name}"`).join(', ')}: change or delete those first`);
  }
  const depth = queue.depth;
  await engine.delete(queue.name);
  sendJson(res, 200, { name: queue.name, deleted: true, messagesDeleted: depth });
}

/**
 * Purge answers once at the end, or with `Accept: application/x-ndjson` one JSON line per progress step and a
 * last line with `"done": true`, so a terminal can show progress on a large backlog.
 */
async function purge(ctx: AdminContext, { req, res, params }: RouteContext): Promise<void> {
  const engine = engineOf(ctx);
  const queue = queueOf(ctx, params.name!);
  const streaming = /application\/x-ndjson/i.test(req.headers.accept ?? '');
  if (streaming) res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store' });
  const line = (v: unknown) => res.write(JSON.stringify(v) + '\n');
  const startedAt = Date.now();
  const result = await purgeQueue(
    queue,
    (p) => streaming && line({ queue: queue.name, ...p, done: false }),
    // Not for a client that went away, a broker shutting down or a queue deleted meanwhile.
    () => !res.destroyed && !engine.stopping && engine.queueByName(queue.name) === queue,
  );
  ctx.log.info('queue purged', { queue: queue.name, purged: result.purged, remaining: result.remaining, ms: Date.now() - startedAt });
  const final = { queue: queue.name, ...result, inflight: queue.inflight, done: true };
  if (streaming) res.end(JSON.stringify(final) + '\n');
  else sendJson(res, 200, final);
}

/** The first messages (or those after `after`), read from the store: nothing is delivered or changed. */
async function peek(ctx: AdminContext, { res, url, params }: RouteContext): Promise<void> {
  const engine = engineOf(ctx);
  const queue = queueOf(ctx, params.name!);
  const limit = intParam(url, 'limit', 10, 1, MAX_PEEK);
  const after = intParam(url, 'after', 0, 0, Number.MAX_SAFE_INTEGER);
  const inflight = new Set<number>();
  for (const c of queue.consumers) for (const held of c.inflightMessages()) inflight.add(held.seq);
  const messages = await engine.store.readQueueMessages(queue.id, { afterSeq: after, limit });
  sendJson(res, 200, { queue: queue.name, depth: queue.depth, messages: messages.map((m) => queuedMessageView(m, inflight.has(m.seq))) });
}

export function queueRoutes(ctx: AdminContext): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/v1/queues',
      handle: ({ res }) => {
        const now = Date.now();
        sendJson(res, 200, { queues: ctx.monitor.queues().map((q) => ctx.monitor.queueFigures(q, now)), templates: ctx.broker.queues?.templates() ?? [] });
      },
    },
    { method: 'POST', path: '/api/v1/queues', handle: (c) => create(ctx, c) },
    { method: 'GET', path: '/api/v1/queues/:name', handle: ({ res, params }) => sendJson(res, 200, detail(ctx, queueOf(ctx, params.name!))) },
    { method: 'PATCH', path: '/api/v1/queues/:name', handle: (c) => update(ctx, c) },
    { method: 'DELETE', path: '/api/v1/queues/:name', handle: (c) => remove(ctx, c) },
    { method: 'POST', path: '/api/v1/queues/:name/purge', handle: (c) => purge(ctx, c) },
    { method: 'GET', path: '/api/v1/queues/:name/messages', handle: (c) => peek(ctx, c) },
  ];
}
