// Queue limits and expiry: overflow reject (5.0 publisher: PUBACK 0x97; 3.1.1 publisher: connection closed without
// PUBACK, as src/broker/handlers/publish.ts does for any refused store), drop_oldest (evicts the oldest message not
// in flight), maxBytes, retention, and the MQTT 5 Message Expiry Interval of a queued message.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IPublishPacket } from 'mqtt-packet';
import { ack, declare, flushed, queueOf, rawConsumer, send, sendAll, text, until, withQueues } from '../../helpers/queue-kit.js';

const test = suite('11-queues: limits, retention and expiry');

const nextPublish = async (c: Parameters<typeof ack>[0]) => (await c.next('publish')) as IPublishPacket;

test('overflow reject at maxMessages 2: a 5.0 publisher gets PUBACK 0x97 for the third, stays connected, and the message is not stored', async () => {
  await withQueues(declare({ name: 'jobs', topicFilter: 'jobs/+', maxMessages: 2, overflow: 'reject' }), async (h) => {
    const pub = await h.raw();
    assert.equal([await send(pub, 'jobs/a', 'm1'), await send(pub, 'jobs/a', 'm2'), await send(pub, 'jobs/a', 'm3')], [0, 0, 0x97]);
    await send(pub, 'jobs/a', 'qos0-dropped', { qos: 0 });
    const q = queueOf(h, 'jobs');
    assert.equal([q.depth, q.counters.enqueued, q.counters.publishRejected], [2, 2, 2]);
    const c = await rawConsumer(h, '$q/jobs/+');
    await until(() => q.inflight === 2);
    const [got] = await flushed(pub, [c]);
    assert.equal(got!.map(text), ['m1', 'm2']);
    // Room again once one is acknowledged.
    ack(c, got![0]!);
    await until(() => q.depth === 1);
    assert.is(await send(pub, 'jobs/a', 'm4'), 0);
  });
});

test('overflow reject at maxMessages 1: a 3.1.1 publisher gets no PUBACK for the refused message, its connection is closed, nothing is stored', async () => {
  await withQueues(declare({ name: 'jobs', topicFilter: 'jobs/+', maxMessages: 1, overflow: 'reject' }), async (h) => {
    const pub = await h.raw({}, 4);
    assert.is(await send(pub, 'jobs/a', 'm1'), 0);
    pub.send({ cmd: 'publish', topic: 'jobs/a', payload: Buffer.from('m2'), qos: 1, retain: false, dup: false, messageId: 7 });
    assert.equal(await pub.expectClose(), [], 'closed, and no PUBACK before the close');
    const q = queueOf(h, 'jobs');
    assert.equal([q.depth, q.counters.enqueued, q.counters.publishRejected], [1, 1, 1]);
  });
});

test('drop_oldest at maxMessages 3 with no consumer: the two oldest are evicted and counted; a consumer later gets the newest three', async () => {
  await withQueues(declare({ name: 'jobs', topicFilter: 'jobs/+', maxMessages: 3, overflow: 'drop_oldest' }), async (h) => {
    const pub = await h.raw();
    await sendAll(pub, 'jobs/a', ['m1', 'm2', 'm3', 'm4', 'm5']);
    const q = queueOf(h, 'jobs');
    assert.equal([q.depth, q.counters.enqueued, q.counters.dropped, q.counters.publishRejected], [3, 5, 2, 0]);
    const c = await rawConsumer(h, '$q/jobs/+');
    await until(() => q.inflight === 3);
    const [got] = await flushed(pub, [c]);
    assert.equal(got!.map(text), ['m3', 'm4', 'm5']);
  });
});

test('drop_oldest never evicts a message in flight: the consumer holding m1 still settles it, and gets the newest after it', async () => {
  await withQueues(declare({ name: 'jobs', topicFilter: 'jobs/+', maxMessages: 3, overflow: 'drop_oldest', consumerInflight: 1 }), async (h) => {
    const c = await rawConsumer(h, '$q/jobs/+');
    const pub = await h.raw();
    await sendAll(pub, 'jobs/a', ['m1']);
    const m1 = await nextPublish(c);
    await sendAll(pub, 'jobs/a', ['m2', 'm3', 'm4', 'm5']);
    const q = queueOf(h, 'jobs');
    assert.equal([q.depth, q.inflight, q.counters.dropped], [3, 1, 2]);
    ack(c, m1);
    const m4 = await nextPublish(c);
    ack(c, m4);
    const m5 = await nextPublish(c);
    ack(c, m5);
    assert.equal([text(m1), text(m4), text(m5)], ['m1', 'm4', 'm5']);
    await until(() => q.depth === 0);
    assert.is(q.counters.acknowledged, 3);
  });
});

test('drop_oldest when every stored message is in flight: nothing can be evicted, so the publisher gets 0x97', async () => {
  await withQueues(declare({ name: 'jobs', topicFilter: 'jobs/+', maxMessages: 2, overflow: 'drop_oldest' }), async (h) => {
    const c = await rawConsumer(h, '$q/jobs/+');
    const pub = await h.raw();
    await sendAll(pub, 'jobs/a', ['m1', 'm2']);
    const q = queueOf(h, 'jobs');
    await until(() => q.inflight === 2);
    assert.is(await send(pub, 'jobs/a', 'm3'), 0x97);
    assert.equal([q.depth, q.counters.dropped, q.counters.publishRejected], [2, 0, 1]);
    const [held] = await flushed(pub, [c]);
    assert.equal(held!.map(text), ['m1', 'm2']);
  });
});

test('maxBytes 10 (payload bytes) with reject: 4 + 4 fit, 3 more is refused with 0x97, 2 more fits exactly', async () => {
  await withQueues(declare({ name: 'jobs', topicFilter: 'jobs/+', maxBytes: 10, overflow: 'reject' }), async (h) => {
    const pub = await h.raw();
    const codes = [];
    for (const p of ['aaaa', 'bbbb', 'ccc', 'dd']) codes.push(await send(pub, 'jobs/a', p));
    assert.equal(codes, [0, 0, 0x97, 0]);
    const q = queueOf(h, 'jobs');
    assert.equal([q.depth, q.depthBytes, q.counters.publishRejected], [3, 10, 1]);
  });
});

test('maxBytes 10 with drop_oldest: the oldest are evicted until the new message fits', async () => {
  await withQueues(declare({ name: 'jobs', topicFilter: 'jobs/+', maxBytes: 10, overflow: 'drop_oldest' }), async (h) => {
    const pub = await h.raw();
    await sendAll(pub, 'jobs/a', ['aaaa', 'bbbb', 'cccccc']);
    const q = queueOf(h, 'jobs');
    assert.equal([q.depth, q.depthBytes, q.counters.dropped], [2, 10, 1]);
    const c = await rawConsumer(h, '$q/jobs/+');
    await until(() => q.inflight === 2);
    const [got] = await flushed(pub, [c]);
    assert.equal(got!.map(text), ['bbbb', 'cccccc']);
  });
});

test('retention 300 ms: messages older than that expire (counted) and are never delivered; newer ones are', async () => {
  await withQueues(declare({ name: 'jobs', topicFilter: 'jobs/+', retentionMs: 300 }), async (h) => {
    const pub = await h.raw();
    await sendAll(pub, 'jobs/a', ['old1', 'old2']);
    const q = queueOf(h, 'jobs');
    await until(() => q.counters.expired === 2);
    assert.equal([q.depth, q.depthBytes], [0, 0]);
    const c = await rawConsumer(h, '$q/jobs/+');
    await sendAll(pub, 'jobs/a', ['new']);
    await until(() => q.inflight === 1);
    const [got] = await flushed(pub, [c]);
    assert.equal(got!.map(text), ['new']);
  });
});

test('Message Expiry Interval: a queued message whose interval (1 s) has passed is not delivered and counts as expired', async () => {
  await withQueues(declare({ name: 'jobs', topicFilter: 'jobs/+' }), async (h) => {
    const pub = await h.raw();
    await send(pub, 'jobs/a', 'short-lived', { properties: { messageExpiryInterval: 1 } });
    await send(pub, 'jobs/a', 'durable');
    await new Promise((r) => setTimeout(r, 1100)); // the interval itself has to pass
    const c = await rawConsumer(h, '$q/jobs/+');
    const q = queueOf(h, 'jobs');
    await until(() => q.inflight === 1);
    const [got] = await flushed(pub, [c]);
    assert.equal(got!.map(text), ['durable']);
    assert.equal([q.depth, q.counters.expired], [1, 1]);
  });
});

test.run();
