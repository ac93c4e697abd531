// Metrics over real HTTP while real MQTT.js clients publish and consume: queue depth, consumer lag, per-QoS
// counters, per-consumer figures, rates; every /metrics answer goes through the strict exposition checker.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AdminTestBed } from '../helpers/admin-test-bed.js';
import { collect, endClient } from '../helpers/mqttjs.js';
import { readStoreWrittenBytes } from '../../scripts/bench/store-counters.js';
import { sampleValue } from '../helpers/prom-checker.js';
import { waitFor } from '../helpers/tools.js';
import { RawClient } from '../helpers/raw-client.js';
import type { IPublishPacket, Packet } from 'mqtt-packet';

const test = suite('admin: metrics');

const bed = new AdminTestBed();
let raws: RawClient[] = [];

test.after.each(async () => {
  for (const r of raws) r.end();
  raws = [];
  await bed.stop();
});

function jobsQueue(consumerInflight: number) {
  return (c: import('../../src/config/types.js').WharfConfig) => {
    c.queues.definitions = [{ ...c.queues.defaults, name: 'jobs', topicFilter: 'jobs/#', consumerInflight }];
  };
}

/** A consumer whose PUBACKs wait until the test releases them (a raw client: MQTT.js would stop reading). */
async function heldConsumer(clientId: string, filter = '$queue/jobs') {
  const { client: raw } = await RawClient.connected(bed.tb.port, { clientId });
  raws.push(raw);
  raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 1 }] } as Packet);
  await raw.next('suback');
  const held: IPublishPacket[] = [];
  void (async () => {
    for (;;) {
      const p = await raw.next(undefined, 600_000).catch(() => null);
      if (p === null) return;
      if (p.cmd === 'publish') held.push(p as IPublishPacket);
    }
  })();
  return {
    held,
    payload: (i: number) => held[i]!.payload.toString(),
    ackAll(): number {
      const n = held.length;
      for (const p of held.splice(0)) raw.send({ cmd: 'puback', messageId: p.messageId!, reasonCode: 0 } as Packet);
      return n;
    },
  };
}

test('queue depth rises while no consumer is connected and falls as the consumer acknowledges', async () => {
  const tb = await bed.start(jobsQueue(3));
  const pub = await bed.client('pub');
  const payloads = Array.from({ length: 10 }, (_, i) => `job-${i}-${'x'.repeat(i)}`);
  const bytes = payloads.reduce((n, p) => n + Buffer.byteLength(p), 0);
  const depths: number[] = [];
  for (const [i, p] of payloads.entries()) {
    await pub.publishAsync(`jobs/${i}`, p, { qos: 1 });
    const q = (await tb.api('GET', '/api/v1/queues/jobs')).body;
    depths.push(q.depth);
  }
  assert.equal(depths, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'depth grows by one per publish');
  let q = (await tb.api('GET', '/api/v1/queues/jobs')).body;
  assert.is(q.depthBytes, bytes);
  assert.is(q.consumers, 0);
  assert.is(q.inflight, 0);
  assert.is(q.counters.enqueued, 10);
  let m = await tb.scrape();
  assert.is(sampleValue(m, 'wharf_queue_depth_messages', { queue: 'jobs' }), 10);
  assert.is(sampleValue(m, 'wharf_queue_depth_bytes', { queue: 'jobs' }), bytes);
  assert.is(sampleValue(m, 'wharf_queue_enqueued_total', { queue: 'jobs' }), 10);
  assert.is(sampleValue(m, 'wharf_queue_consumers', { queue: 'jobs' }), 0);

  const consumer = await heldConsumer('worker-1');
  await waitFor(() => consumer.held.length === 3, 3000, 'three deliveries (consumerInflight 3)');
  q = (await tb.api('GET', '/api/v1/queues/jobs')).body;
  assert.is(q.inflight, 3);
  assert.is(q.depth, 10, 'in-flight messages still count in depth until acknowledged');
  assert.is(q.consumers, 1);
  assert.equal(q.consumerList, [{ clientId: 'worker-1', qos: 1, inflight: 3, delivered: 3, acknowledged: 0, rejected: 0 }]);
  m = await tb.scrape();
  assert.is(sampleValue(m, 'wharf_consumer_inflight_messages', { queue: 'jobs', client: 'worker-1' }), 3);
  assert.is(sampleValue(m, 'wharf_queue_inflight_messages', { queue: 'jobs' }), 3);

  const falling: number[] = [];
  let acked = 0;
  while (acked < 10) {
    await waitFor(() => consumer.held.length > 0, 3000, 'a delivery');
    acked += consumer.ackAll();
    await waitFor(() => bed.tb.broker.queues!.queueByName('jobs')!.counters.acknowledged === acked, 3000, 'acknowledgements counted');
    falling.push((await tb.api('GET', '/api/v1/queues/jobs')).body.depth);
  }
  for (let i = 1; i < falling.length; i++) assert.ok(falling[i]! < falling[i - 1]!, `depth falls with each batch of acks: ${falling.join(' ')}`);
  assert.is(falling[falling.length - 1], 0);
  m = await tb.scrape();
  assert.is(sampleValue(m, 'wharf_queue_depth_messages', { queue: 'jobs' }), 0);
  assert.is(sampleValue(m, 'wharf_queue_delivered_total', { queue: 'jobs' }), 10);
  assert.is(sampleValue(m, 'wharf_queue_acknowledged_total', { queue: 'jobs' }), 10);
  assert.is(sampleValue(m, 'wharf_consumer_acknowledged_total', { queue: 'jobs', client: 'worker-1' }), 10);
  assert.is(sampleValue(m, 'wharf_queue_oldest_message_age_seconds', { queue: 'jobs' }), 0);
});

test('the oldest message age is the age of the oldest unacknowledged message', async () => {
  const tb = await bed.start(jobsQueue(1));
  const pub = await bed.client('pub');
  const t1 = Date.now();
  await pub.publishAsync('jobs/a', 'first', { qos: 1 });
  await new Promise((r) => setTimeout(r, 400));
  const t2 = Date.now();
  await pub.publishAsync('jobs/b', 'second', { qos: 1 });
  let q = (await tb.api('GET', '/api/v1/queues/jobs')).body;
  let now = Date.now();
  assert.ok(q.oldestAgeMs >= 400 && q.oldestAgeMs <= now - t1 + 5, `age ${q.oldestAgeMs} ms is the first message's (published ${now - t1} ms ago)`);
  const consumer = await heldConsumer('worker-lag');
  await waitFor(() => consumer.held.length === 1, 3000, 'first delivery');
  assert.is(consumer.payload(0), 'first');
  q = (await tb.api('GET', '/api/v1/queues/jobs')).body;
  assert.ok(q.oldestAgeMs >= 400, 'a message in flight still counts as the oldest');
  consumer.ackAll();
  await waitFor(() => consumer.held.length === 1, 3000, 'second delivery');
  assert.is(consumer.payload(0), 'second');
  q = (await tb.api('GET', '/api/v1/queues/jobs')).body;
  now = Date.now();
  assert.ok(q.oldestAgeMs <= now - t2 + 5, `age ${q.oldestAgeMs} ms is now the second message's (published ${now - t2} ms ago)`);
  assert.ok(q.oldestAgeMs < now - t1 - 300, 'the acknowledged first message no longer counts');
  const m = await tb.scrape();
  const seconds = sampleValue(m, 'wharf_queue_oldest_message_age_seconds', { queue: 'jobs' });
  assert.ok(seconds > 0 && seconds <= (Date.now() - t2 + 5) / 1000, `metric ${seconds} s`);
  consumer.ackAll();
});

test('broker counters match the messages, QoS levels and bytes sent', async () => {
  const tb = await bed.start();
  const sub = await bed.client('counter-sub');
  const got = collect(sub);
  await sub.subscribeAsync('count/#', { qos: 2 });
  const pub = await bed.client('counter-pub');
  const sends: Array<[0 | 1 | 2, string]> = [
    [0, 'a'.repeat(10)],
    [0, 'b'.repeat(10)],
    [0, 'c'.repeat(10)],
    [1, 'd'.repeat(20)],
    [1, 'e'.repeat(20)],
    [2, 'f'.repeat(30)],
  ];
  for (const [qos, payload] of sends) await pub.publishAsync(`count/${qos}`, payload, { qos });
  await got.waitCount(6);
  await pub.publishAsync('retained/one', 'kept', { qos: 1, retain: true });
  const m = await tb.scrape();
  assert.is(sampleValue(m, 'wharf_messages_received_total', { qos: '0' }), 3);
  assert.is(sampleValue(m, 'wharf_messages_received_total', { qos: '1' }), 3, 'two to count/ and the retained one');
  assert.is(sampleValue(m, 'wharf_messages_received_total', { qos: '2' }), 1);
  assert.is(sampleValue(m, 'wharf_received_bytes_total', { qos: '0' }), 30);
  assert.is(sampleValue(m, 'wharf_received_bytes_total', { qos: '1' }), 44);
  assert.is(sampleValue(m, 'wharf_received_bytes_total', { qos: '2' }), 30);
  assert.is(sampleValue(m, 'wharf_messages_sent_total', { qos: '0' }), 3);
  assert.is(sampleValue(m, 'wharf_messages_sent_total', { qos: '1' }), 2);
  assert.is(sampleValue(m, 'wharf_messages_sent_total', { qos: '2' }), 1);
  assert.is(sampleValue(m, 'wharf_sent_bytes_total', { qos: '1' }), 40);
  assert.is(sampleValue(m, 'wharf_connections'), 2);
  assert.is(sampleValue(m, 'wharf_sessions'), 2);
  assert.is(sampleValue(m, 'wharf_subscriptions'), 1);
  assert.is(sampleValue(m, 'wharf_retained_messages'), 1);
  assert.is(sampleValue(m, 'wharf_messages_dropped_total'), 0);
  assert.ok(sampleValue(m, 'wharf_store_commits_total') > 0, 'the retained message was committed');
  const kind = tb.broker.persistence!.store.metrics().payloads.kind;
  assert.is(sampleValue(m, 'wharf_store_payload_store_info', { kind }), 1);
  assert.ok(sampleValue(m, 'wharf_resident_memory_bytes') > 0);
  const status = (await tb.api('GET', '/api/v1/status')).body;
  assert.equal(status.messages.received, [3, 3, 1]);
  assert.equal(status.messages.sent, [3, 2, 1]);
  assert.is(status.health.ready, true);
});

test('consumer identifiers with quotes, backslashes and newlines are escaped in labels', async () => {
  const tb = await bed.start(jobsQueue(1));
  const nasty = 'worker "one"\\\nsecond line';
  await heldConsumer(nasty);
  await waitFor(() => bed.tb.broker.queues!.queueByName('jobs')!.consumers.length === 1, 3000, 'consumer attached');
  const r = await tb.api('GET', '/metrics');
  assert.ok(r.text.includes('client="worker \\"one\\"\\\\\\nsecond line"'), 'escaped in the text');
  const m = await tb.scrape();
  assert.is(sampleValue(m, 'wharf_consumer_inflight_messages', { queue: 'jobs', client: nasty }), 0);
});

test('rates are the growth of the counters between two samples', async () => {
  const tb = await bed.start(jobsQueue(1));
  const pub = await bed.client('rate-pub');
  const t = Date.now();
  tb.monitoring.monitor.sample(t + 1000);
  for (let i = 0; i < 6; i++) await pub.publishAsync('jobs/r', `r${i}`, { qos: 1 });
  tb.monitoring.monitor.sample(t + 4000);
  const q = (await tb.api('GET', '/api/v1/queues/jobs')).body;
  assert.equal(q.rates, { enqueuedPerSec: 2, deliveredPerSec: 0, acknowledgedPerSec: 0 });
  const s = (await tb.api('GET', '/api/v1/status')).body;
  assert.is(s.rates.receivedPerSec, 2);
});

test('event-loop lag shows a loop blocked for 250 ms', async () => {
  const tb = await bed.start();
  // The sampler measures between its own ticks, and its first tick only starts the clock: wait for a recorded one.
  const histogram = () => (tb.monitoring.monitor as unknown as { eventLoop: { histogram: { count: number } | null } }).eventLoop.histogram;
  await waitFor(() => (histogram()?.count ?? 0) > 0, 5000, 'the lag sampler to record a tick');
  const blockedAt = performance.now();
  const until = Date.now() + 250;
  while (Date.now() < until) {
    // Busy: timers (the lag sampler's too) cannot run.
  }
  // The sampler records how late its next tick was; each sample() closes a window, so look until one has it.
  let seconds = 0;
  const deadline = Date.now() + 5000;
  while (seconds < 0.15 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    tb.monitoring.monitor.sample();
    seconds = sampleValue(await tb.scrape(), 'wharf_eventloop_lag_max_seconds');
  }
  // At least the block less the sampler's 20 ms resolution and some slack; at most all the time since it began.
  const elapsedS = (performance.now() - blockedAt) / 1000;
  assert.ok(seconds >= 0.15 && seconds <= elapsedS, `max lag ${seconds} s, ${elapsedS} s since the block began`);
});

test('metrics.enabled false: /metrics answers 404 with the reason, the JSON API still works', async () => {
  const tb = await bed.start((c) => (c.metrics.enabled = false));
  const r = await tb.api('GET', '/metrics');
  assert.is(r.status, 404);
  assert.is(r.body.error, 'metrics are disabled (metrics.enabled: false)');
  const s = await tb.api('GET', '/api/v1/status');
  assert.is(s.status, 200);
  assert.is(s.body.rates, null);
  assert.is(s.body.process.eventLoopLag, null);
});


test("the store's bytes and the commit log's part, as scenario 13 of the benchmarks reads them", async () => {
  const tb = await bed.start();
  const port = Number(new URL(tb.adminUrl).port);
  const sub = await bed.client('held', { protocolVersion: 4, clean: false });
  await sub.subscribeAsync('held/#', { qos: 1 });
  await endClient(sub);
  bed.clients = bed.clients.filter((c) => c !== sub);
  const before = await readStoreWrittenBytes(port);
  assert.ok(before !== null, 'read from /metrics');
  const pub = await bed.client('pub');
  const payload = Buffer.alloc(256, 0x61);
  for (let i = 0; i < 50; i++) await pub.publishAsync('held/x', payload, { qos: 1 });
  const after = (await readStoreWrittenBytes(port))!;
  const log = after.log - before.log;
  assert.ok(log >= 50 * 256, `the commit log holds the 50 messages (${log} bytes)`);
  assert.ok(after.total - before.total >= log, 'the log is part of the store total');
  const m = await tb.scrape();
  assert.ok(sampleValue(m, 'wharf_store_log_written_bytes_total') >= after.log);
  // The zeros the log writes ahead into its next file are exported beside the total, not in it.
  assert.ok(sampleValue(m, 'wharf_store_log_prepared_bytes_total') >= after.logPrepared);
  assert.is(await readStoreWrittenBytes(1), null);
});

test.run();
