// The page's number formatting (src/ui/format.js) and what it derives from snapshots (src/ui/figures.js): the
// same modules the browser loads, imported here from the build's copy.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const test = suite('ui: formatting and derived figures');
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- plain JavaScript modules without types
const load = async (name: string): Promise<any> => import(new URL(`../../src/ui/${name}`, import.meta.url).href);

test('numbers have thousands separators and units; ages read as "3 min"', async () => {
  const f = await load('format.js');
  assert.is(f.count(1234567), '1,234,567');
  assert.is(f.count(null), '–');
  assert.is(f.rate(0), '0/s');
  assert.is(f.rate(0.44), '0.4/s');
  assert.is(f.rate(12345.6), '12,346/s');
  assert.is(f.bytes(512), '512 B');
  assert.is(f.bytes(1536), '1.5 KiB');
  assert.is(f.bytes(1024 ** 3), '1 GiB');
  assert.is(f.age(999), '0 s');
  assert.is(f.age(45_000), '45 s');
  assert.is(f.age(3 * 60_000 + 59_000), '3 min');
  assert.is(f.age(2 * 3600_000 + 5 * 60_000), '2 h 5 min');
  assert.is(f.age(4 * 86400_000 + 3 * 3600_000), '4 d 3 h');
  assert.is(f.ms(0.42), '0.4 ms');
  assert.is(f.percent(0.423), '42%');
  assert.is(f.esc('<a href="x">&\'</a>'), '&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;');
});

const queue = (name: string, depth: number, deadLettered = 0) => ({ name, depth, depthBytes: depth * 10, counters: { enqueued: depth, acknowledged: 0, deadLettered } });

test('alerts: queue at its limit, dead-lettering now, device offline, bridge not healthy, store refusing writes', async () => {
  const { alerts } = await load('figures.js');
  const limits = new Map([['jobs', { maxMessages: 100, maxBytes: 0, overflow: 'reject' }], ['free', { maxMessages: 0, maxBytes: 0 }]]);
  const snap = (at: number, over: Record<string, unknown> = {}) => ({
    at,
    status: { store: { full: false }, health: { checks: { store: 'open' }, problems: [] } },
    queues: { queues: [queue('jobs', 10), queue('free', 1_000_000)] },
    devices: { devices: [{ name: 'meter', state: 'online' }], buses: [] },
    bridges: null,
    ...over,
  });
  assert.equal(alerts(snap(1000), limits, null), [], 'nothing wrong, no limit on "free"');
  const bad = snap(61_000, {
    status: { store: { full: true }, health: { checks: { store: 'full' }, problems: [] } },
    queues: { queues: [queue('jobs', 100, 3), queue('free', 5)] },
    devices: { devices: [{ name: 'meter', state: 'offline' }], buses: [] },
    bridges: { bridges: [{ name: 'cloud', state: 'disconnected' }] },
  });
  const past = snap(1000, { queues: { queues: [queue('jobs', 10, 1), queue('free', 5)] } });
  assert.equal(alerts(bad, limits, past).map((a: { text: string }) => a.text), [
    'Store full: new messages are refused',
    'Queue jobs at its limit (reject)',
    'Queue jobs is dead-lettering',
    'Device meter offline',
    'Bridge cloud disconnected',
  ]);
  assert.equal(alerts(snap(2000, { bridges: { bridges: [{ name: 'cloud', state: 'healthy', healthy: true }] } }), limits, null), [], 'a healthy bridge');
});

test('rates come from counters between snapshots, and not across a restart', async () => {
  const { counterRate, pastSnapshot, storeView } = await load('figures.js');
  const at = (t: number, syncs: number, bytesWritten: number) => ({ at: t, status: { store: { syncs, bytesWritten, usedBytes: 1, capacityBytes: 2, full: false, commitLatencyMs: { p99: 3 } }, storage: { commitIntervalMs: 5, commitMaxPerSecond: 100 } } });
  const history = [at(0, 0, 0), at(5000, 50, 1000), at(10_000, 100, 2000)];
  assert.is(pastSnapshot(history, 10_000), history[0]);
  assert.is(pastSnapshot(history, 4000), history[1]);
  const v = storeView(history[2], history[0]);
  assert.is(v.fsyncsPerSec, 10);
  assert.is(v.bytesPerDay, 200 * 86400);
  assert.is(v.commitIntervalMs, 5);
  assert.is(counterRate(history[2], at(11_000, 3, 0), (s: { status: { store: { syncs: number } } }) => s.status.store.syncs), null, 'a counter that went back: a restart');
});

test('sparkline: spans at least a minute, scaled to its maximum', async () => {
  const { sparkline } = await load('spark.js');
  const svg: string = sparkline([[0, 0], [30_000, 10], [60_000, 0]], 60_000, 300_000, 'depth');
  const pts = /points="([^"]*)"/.exec(svg)![1]!.split(' ').map((p) => p.split(',').map(Number));
  assert.equal(pts.map((p) => p[0]), [0, 60, 120]);
  assert.equal(pts.map((p) => p[1]), [23, 1, 23]);
});

test('the bridge section: the figures of GET /api/v1/bridges, "not configured" without one', async () => {
  const views = await load('views.js');
  const at = 1_000_000;
  const s = (bridges: unknown) => ({ snap: { at, bridges } });
  assert.match(views.bridge(s(null)), /No bridge configured/);
  assert.match(views.bridge(s({ bridges: [] })), /No bridge configured/);
  const html: string = views.bridge(s({ bridges: [{ name: 'cloud', state: 'disconnected', healthy: false, outbox: { depth: 12345, oldestAgeMs: 180_000, inflight: 0, window: 64 }, estimatedCatchUpSeconds: 7200, lastAckAt: new Date(at - 45_000).toISOString(), lastReason: 'connection refused' }] }));
  for (const part of ['cloud', 'disconnected', '12,345', '3 min', '2 h', '45 s ago', 'connection refused']) assert.ok(html.includes(part), `${part} in ${html}`);
  assert.match(views.bridge(s({ bridges: [{ name: 'cloud', state: 'connected', healthy: true, outbox: { depth: 0 } }] })), /badge ok/);
});

test.run();
