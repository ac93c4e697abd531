// GET /api/v1/events over real HTTP: the token rule, Server-Sent Events framing, snapshots made of the list
// endpoints' own JSON (no second source of figures), at most one a second, a section whose endpoint is missing
// or answers 404 shown as null, the cap on open streams, and streams ended when the listener stops.

import { request, type IncomingMessage } from 'node:http';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startAdminBroker, type AdminBroker } from '../helpers/admin.js';
import { connectClient, endClient } from '../helpers/mqttjs.js';
import { within } from '../helpers/tools.js';
import { EVENTS_MAX_CLIENTS, EVENTS_MIN_INTERVAL_MS } from '../../src/admin/routes/events.js';
import { snapshot } from '../../src/admin/routes/events-snapshot.js';
import { Router } from '../../src/admin/router.js';
import { notFound, sendJson } from '../../src/admin/http.js';

const test = suite('admin: live events stream');
const TOKEN = 'events-token-0123456789';
let tb: AdminBroker | undefined;
const streams: EventStream[] = [];

test.after.each(async () => {
  for (const s of streams.splice(0)) s.close();
  await tb?.stop();
  tb = undefined;
});

interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

/** A Server-Sent Events reader over node:http: the events as they arrive, and a way to wait for the next. */
class EventStream {
  readonly events: SseEvent[] = [];
  private buf = '';
  private waiters: (() => void)[] = [];
  ended = false;
  private constructor(readonly res: IncomingMessage) {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      this.buf += chunk;
      let end;
      while ((end = this.buf.indexOf('\n\n')) >= 0) {
        const block = this.buf.slice(0, end);
        this.buf = this.buf.slice(end + 2);
        const ev: SseEvent = { data: '' };
        for (const line of block.split('\n')) {
          const [k, ...rest] = line.split(':');
          const v = rest.join(':').replace(/^ /, '');
          if (k === 'id') ev.id = v;
          else if (k === 'event') ev.event = v;
          else if (k === 'data') ev.data += v;
        }
        if (ev.event !== undefined) this.events.push(ev);
      }
      this.wake();
    });
    res.on('end', () => ((this.ended = true), this.wake()));
    res.on('error', () => ((this.ended = true), this.wake()));
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  static open(url: string, token?: string): Promise<EventStream> {
    return new Promise((resolve, reject) => {
      const req = request(url + '/api/v1/events', { headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
        const s = new EventStream(res);
        streams.push(s);
        resolve(s);
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** Resolves once `count` events arrived (or the stream ended). */
  async waitEvents(count: number, timeoutMs = 10_000): Promise<void> {
    await within(
      (async () => {
        while (this.events.length < count && !this.ended) await new Promise<void>((r) => this.waiters.push(r));
      })(),
      timeoutMs,
      `${count} events`,
    );
  }

  async waitEnd(timeoutMs = 10_000): Promise<void> {
    await within(
      (async () => {
        while (!this.ended) await new Promise<void>((r) => this.waiters.push(r));
      })(),
      timeoutMs,
      'the stream to end',
    );
  }

  snapshots(): any[] { // eslint-disable-line @typescript-eslint/no-explicit-any -- the API's JSON, asserted field by field
    return this.events.filter((e) => e.event === 'snapshot').map((e) => JSON.parse(e.data));
  }

  close(): void {
    this.res.destroy();
  }
}

test('the token rule is the API\'s; a stream is text/event-stream whose snapshots are the list endpoints\' own JSON', async () => {
  tb = await startAdminBroker((c) => (c.admin.token = TOKEN));
  const refused = await EventStream.open(tb.adminUrl);
  assert.is(refused.res.statusCode, 401);
  const wrong = await EventStream.open(tb.adminUrl, `${TOKEN}x`);
  assert.is(wrong.res.statusCode, 401);
  assert.is((await tb.api('POST', '/api/v1/queues', { token: TOKEN, body: { name: 'jobs', topicFilter: 'jobs/#' } })).status, 201);

  const s = await EventStream.open(tb.adminUrl, TOKEN);
  assert.is(s.res.statusCode, 200);
  assert.is(s.res.headers['content-type'], 'text/event-stream; charset=utf-8');
  assert.is(s.res.headers['cache-control'], 'no-store');
  await s.waitEvents(1);
  const [snap] = s.snapshots();
  assert.equal(Object.keys(snap).sort(), ['at', 'bridges', 'devices', 'queues', 'status']);
  const bridges = (await tb.api('GET', '/api/v1/bridges', { token: TOKEN })).body;
  assert.equal(snap.bridges, bridges, 'the same JSON as GET /api/v1/bridges');
  assert.equal(snap.bridges, { bridges: [] }, 'no bridge configured: an empty list, which the page shows as not configured');
  const status = (await tb.api('GET', '/api/v1/status', { token: TOKEN })).body;
  assert.equal(Object.keys(snap.status).sort(), Object.keys(status).sort(), 'the same fields as GET /api/v1/status');
  assert.equal(snap.status.storage, { commitIntervalMs: tb.config.storage.commitIntervalMs, commitMaxPerSecond: tb.config.storage.commitMaxPerSecond });
  const queues = (await tb.api('GET', '/api/v1/queues', { token: TOKEN })).body;
  const strip = (q: Record<string, unknown>) => ({ ...q, oldestAgeMs: 0 });
  assert.equal(snap.queues.queues.map(strip), queues.queues.map(strip), 'the same queues as GET /api/v1/queues');
  assert.equal(snap.devices, (await tb.api('GET', '/api/v1/devices', { token: TOKEN })).body);
});

test('snapshots come at most once a second, numbered, and show a new depth', async () => {
  tb = await startAdminBroker();
  await tb.api('POST', '/api/v1/queues', { body: { name: 'jobs', topicFilter: 'jobs/#' } });
  const first = await EventStream.open(tb.adminUrl);
  await first.waitEvents(1);
  const pub = await connectClient(tb.url, { clientId: 'pub' });
  try {
    await Promise.all(Array.from({ length: 7 }, (_, i) => pub.publishAsync('jobs/x', `m${i}`, { qos: 1 })));
  } finally {
    await endClient(pub);
  }
  // A second stream joins between ticks: it must not get two snapshots within a second either.
  const second = await EventStream.open(tb.adminUrl);
  await Promise.all([first.waitEvents(3), second.waitEvents(3)]);
  for (const s of [first, second]) {
    const snaps = s.snapshots();
    const ids = s.events.map((e) => Number(e.id));
    assert.ok(ids.every((id, i) => i === 0 || id > ids[i - 1]!), `ids increase: ${ids}`);
    for (let i = 1; i < snaps.length; i++) {
      const gap = snaps[i].at - snaps[i - 1].at;
      // The interval less the few ms by which a timer and the clock may disagree.
      assert.ok(gap >= EVENTS_MIN_INTERVAL_MS - 50, `at most once a second: ${gap} ms between snapshots`);
    }
    assert.is(snaps[snaps.length - 1].queues.queues[0].depth, 7);
  }
});

test('a section whose endpoint is missing or answers 404 is null; an error of one section is that section\'s', async () => {
  tb = await startAdminBroker();
  const router = new Router().add([
    { method: 'GET', path: '/api/v1/status', handle: ({ res }) => sendJson(res, 200, { up: true }) },
    { method: 'GET', path: '/api/v1/devices', handle: () => { throw notFound('devices are not configured'); } },
    { method: 'GET', path: '/api/v1/queues', handle: () => { throw new Error('store read failed'); } },
    { method: 'GET', path: '/api/v1/bridges', handle: async ({ res }) => sendJson(res, 200, { bridges: [{ name: 'cloud', state: 'healthy' }] }) },
  ]);
  const snap = await snapshot(router, {} as IncomingMessage);
  assert.equal(snap.status, { up: true });
  assert.is(snap.devices, null);
  assert.equal(snap.queues, { error: 'store read failed' });
  assert.equal(snap.bridges, { bridges: [{ name: 'cloud', state: 'healthy' }] });
  const bare = await snapshot(new Router(), {} as IncomingMessage);
  assert.equal([bare.status, bare.queues, bare.devices, bare.bridges], [null, null, null, null]);
});

test('streams beyond the cap get 503; a closed one frees its place; stopping the listener ends them', async () => {
  tb = await startAdminBroker();
  const open: EventStream[] = [];
  for (let i = 0; i < EVENTS_MAX_CLIENTS; i++) open.push(await EventStream.open(tb.adminUrl));
  assert.ok(open.every((s) => s.res.statusCode === 200));
  const extra = await EventStream.open(tb.adminUrl);
  assert.is(extra.res.statusCode, 503);
  assert.is(extra.res.headers['retry-after'], '10');
  open[0]!.close();
  // The server sees the close asynchronously: try until the place is free (bounded).
  let again: EventStream | undefined;
  for (let i = 0; i < 50; i++) {
    again = await EventStream.open(tb.adminUrl);
    if (again.res.statusCode === 200) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.is(again?.res.statusCode, 200);
  await tb.monitoring.admin!.stop();
  await Promise.all(open.slice(1).map((s) => s.waitEnd()));
  await again!.waitEnd();
});

test.run();
