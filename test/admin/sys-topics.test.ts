// $SYS/ topics: published every sys.interval, retained for new subscribers, per-queue JSON, received by MQTT.js
// and by mosquitto_sub, and not matched by a leading wildcard.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AdminTestBed } from '../helpers/admin-test-bed.js';
import { collect } from '../helpers/mqttjs.js';
import { requireTool, run, waitFor as waitUntil } from '../helpers/tools.js';

const test = suite('admin: $SYS topics');

/** Bound for the interval's ticks to come (1 s interval): generous for a loaded machine, fails only if they stop. */
const TICKS_WITHIN_MS = 10_000;

const bed = new AdminTestBed();
test.after.each(() => bed.stop());

function withQueue(intervalMs: number) {
  return (c: import('../../src/config/types.js').WharfConfig) => {
    c.sys.intervalMs = intervalMs;
    c.queues.definitions = [{ ...c.queues.defaults, name: 'jobs', topicFilter: 'jobs/#' }];
  };
}

test('broker figures and queue JSON arrive on $SYS every interval, with current values', async () => {
  await bed.start(withQueue(1000));
  const pub = await bed.client('sys-pub');
  for (let i = 0; i < 3; i++) await pub.publishAsync('jobs/x', `j${i}`, { qos: 1 });
  const sub = await bed.client('sys-sub');
  const got = collect(sub);
  await sub.subscribeAsync('$SYS/#', { qos: 0 });
  // Retained: the first values arrive at once; the next ticks bring the current ones.
  await got.waitCount(2, 3000);
  const waitFor = (pred: () => boolean, what: string) => waitUntil(pred, TICKS_WITHIN_MS, what);
  const latest = (topic: string) => [...got.messages].reverse().find((m) => m.topic === topic)?.payload;
  await waitFor(() => latest('$SYS/wharf/queues/jobs') !== undefined && JSON.parse(latest('$SYS/wharf/queues/jobs')!).depth === 3, 'queue JSON with depth 3');
  const q = JSON.parse(latest('$SYS/wharf/queues/jobs')!);
  assert.is(q.name, 'jobs');
  assert.is(q.counters.enqueued, 3);
  await waitFor(() => latest('$SYS/broker/clients/connected') === '2', 'two connected clients');
  assert.is(latest('$SYS/broker/version'), 'wharf 0.0.0-test');
  assert.match(latest('$SYS/broker/uptime')!, /^\d+ seconds$/);
  await waitFor(() => latest('$SYS/broker/publish/messages/received') === '3', 'three messages received');
  // Besides the retained copy sent on SUBSCRIBE, live ticks follow, again and again: two of them show the interval
  // timer runs (a single one could be a publish at subscribe time). How soon they come is a matter for benchmarks.
  const liveTicks = () => got.messages.filter((m) => m.topic === '$SYS/broker/uptime' && !m.packet.retain).length;
  await waitFor(() => liveTicks() >= 2, 'two live (not retained) ticks');
});

test('a deleted queue has its $SYS topic cleared', async () => {
  const tb = await bed.start(withQueue(1000));
  assert.ok(tb.broker.retained.get('$SYS/wharf/queues/jobs') !== undefined, 'published at start');
  await tb.api('DELETE', '/api/v1/queues/jobs');
  tb.monitoring.sys!.publishAll();
  assert.is(tb.broker.retained.get('$SYS/wharf/queues/jobs'), undefined);
});

test('a # subscription does not receive $SYS topics [MQTT-4.7.2-1]', async () => {
  const tb = await bed.start(withQueue(1000));
  const sub = await bed.client('hash-sub');
  const got = collect(sub);
  await sub.subscribeAsync('#', { qos: 0 });
  tb.monitoring.sys!.publishAll();
  const pub = await bed.client('hash-pub');
  await pub.publishAsync('plain/topic', 'x', { qos: 1 });
  // publishAll() ran before this publish and writes to the same connection: a $SYS message matched by # would
  // have arrived before plain/topic, which is the end marker.
  await got.waitCount(1);
  assert.equal(got.messages.map((m) => m.topic), ['plain/topic']);
});

test('sys.interval 0 publishes nothing', async () => {
  const tb = await bed.start(withQueue(0));
  assert.is(tb.monitoring.sys, null);
  assert.is(tb.broker.retained.get('$SYS/broker/uptime'), undefined);
});

requireTool(test, 'mosquitto_sub')('mosquitto_sub receives $SYS/broker/version and the queue JSON', async () => {
  const tb = await bed.start(withQueue(1000));
  const r = await run('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(tb.port), '-t', '$SYS/broker/version', '-t', '$SYS/wharf/queues/jobs', '-C', '2', '-W', '5', '-v']);
  assert.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').sort();
  assert.is(lines[0], '$SYS/broker/version wharf 0.0.0-test');
  assert.ok(lines[1]!.startsWith('$SYS/wharf/queues/jobs {'), lines[1]);
  assert.is(JSON.parse(lines[1]!.slice('$SYS/wharf/queues/jobs '.length)).depth, 0);
});

test.run();
