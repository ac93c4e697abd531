// Capture and delivery: every PUBLISH (QoS 0, 1, 2) whose topic matches a queue's filter is appended to it, to
// each matching queue; delivered messages keep topic, payload and MQTT 5 properties; delivery QoS is 1 when the
// subscription asks 1 or 2 (granted 1) and 0 when it asks 0.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import { ack, declare, flushed, queueOf, rawConsumer, send, subscribeCodes, text, until, withQueues } from '../../helpers/queue-kit.js';

const test = suite('11-queues: capture and delivery');

test('a message whose topic matches two queues is appended to each, and each queue delivers it to its consumer', async () => {
  await withQueues(declare({ name: 'everything', topicFilter: 'orders/#' }, { name: 'eu', topicFilter: 'orders/eu/+' }, { name: 'us', topicFilter: 'orders/us/+' }), async (h) => {
    const all = await rawConsumer(h, '$queue/everything');
    const eu = await rawConsumer(h, '$queue/eu');
    const pub = await h.raw();
    assert.is(await send(pub, 'orders/eu/1', 'o1'), 0x00, 'a queued message has a receiver: PUBACK 0x00, not 0x10');
    const [qAll, qEu, qUs] = ['everything', 'eu', 'us'].map((n) => queueOf(h, n));
    assert.equal([qAll!.counters.enqueued, qEu!.counters.enqueued, qUs!.counters.enqueued], [1, 1, 0]);
    await until(() => qAll!.inflight === 1 && qEu!.inflight === 1);
    const [a, e] = await flushed(pub, [all, eu]);
    assert.equal(a!.map((p) => [p.topic, text(p)]), [['orders/eu/1', 'o1']]);
    assert.equal(e!.map((p) => [p.topic, text(p)]), [['orders/eu/1', 'o1']]);
  });
});

test('a 5.0 QoS 1 publish captured only by a queue (no subscriber, no consumer yet) gets PUBACK 0x00: it was stored', async () => {
  await withQueues(declare({ name: 'jobs', topicFilter: 'jobs/+' }), async (h) => {
    const pub = await h.raw();
    assert.is(await send(pub, 'jobs/a', 'j'), 0x00);
    assert.is(await send(pub, 'other/a', 'x'), 0x10, 'nothing matched: 0x10 No matching subscribers');
    assert.is(queueOf(h, 'jobs').depth, 1);
  });
});

test('QoS 0, 1 and 2 publishes are all captured and delivered in order at QoS 1', async () => {
  await withQueues(declare({ name: 'jobs', topicFilter: 'jobs/+' }), async (h) => {
    const c = await rawConsumer(h, '$q/jobs/+');
    const pub = await h.raw();
    await send(pub, 'jobs/a', 'qos0', { qos: 0 });
    await send(pub, 'jobs/a', 'qos1', { qos: 1 });
    pub.send({ cmd: 'publish', topic: 'jobs/a', payload: Buffer.from('qos2'), qos: 2, retain: false, dup: false, messageId: 42 } as Packet);
    assert.is((await pub.next('pubrec')).messageId, 42);
    pub.send({ cmd: 'pubrel', messageId: 42 } as Packet);
    assert.is((await pub.next('pubcomp')).messageId, 42);
    const q = queueOf(h, 'jobs');
    await until(() => q.inflight === 3);
    const [got] = await flushed(pub, [c]);
    assert.equal(got!.map((p) => [text(p), p.qos]), [['qos0', 1], ['qos1', 1], ['qos2', 1]]);
    assert.is(new Set(got!.map((p) => p.messageId)).size, 3, 'distinct packet identifiers');
    for (const p of got!) ack(c, p);
    await until(() => q.depth === 0);
    assert.equal([q.counters.enqueued, q.counters.delivered, q.counters.acknowledged], [3, 3, 3]);
  });
});

test('a delivered message keeps its topic, payload and MQTT 5 properties; message expiry counts from publication', async () => {
  await withQueues(declare({ name: 'rpc', topicFilter: 'rpc/#' }), async (h) => {
    const v5 = await rawConsumer(h, '$q/rpc/#');
    const pub = await h.raw();
    const properties = {
      payloadFormatIndicator: true,
      contentType: 'application/json',
      responseTopic: 'rpc/replies/42',
      correlationData: Buffer.from([1, 2, 3, 0xff]),
      userProperties: { job: 'ocr', tags: ['a', 'b'] },
      messageExpiryInterval: 60,
    };
    await send(pub, 'rpc/calls/ocr', '{"page":1}', { properties });
    await until(() => queueOf(h, 'rpc').inflight === 1);
    const [[p]] = (await flushed(pub, [v5])) as [[IPublishPacket]];
    assert.equal([p.topic, text(p), p.qos, p.retain], ['rpc/calls/ocr', '{"page":1}', 1, false]);
    const { messageExpiryInterval, userProperties, ...rest } = p.properties ?? {};
    // mqtt-packet decodes user properties into a null-prototype object: compared as a plain one.
    assert.equal({ ...rest, userProperties: { ...userProperties } }, {
      payloadFormatIndicator: true,
      contentType: 'application/json',
      responseTopic: 'rpc/replies/42',
      correlationData: Buffer.from([1, 2, 3, 0xff]),
      userProperties: { job: 'ocr', tags: ['a', 'b'] },
    });
    assert.ok(messageExpiryInterval === 60 || messageExpiryInterval === 59, `expiry ${messageExpiryInterval}`);
  });
});

test('a 3.1.1 consumer gets the topic and payload of a message published with 5.0 properties', async () => {
  await withQueues(declare({ name: 'rpc', topicFilter: 'rpc/#' }), async (h) => {
    const v4 = await rawConsumer(h, '$q/rpc/#', { version: 4 });
    const pub = await h.raw();
    await send(pub, 'rpc/calls/x', 'body', { properties: { contentType: 'text/plain', userProperties: { k: 'v' } } });
    await until(() => queueOf(h, 'rpc').inflight === 1);
    const [got] = await flushed(pub, [v4]);
    assert.equal(got!.map((p) => [p.topic, text(p), p.qos]), [['rpc/calls/x', 'body', 1]]);
  });
});

test('delivery QoS: a subscription asking 0 gets QoS 0 (acknowledged when sent), asking 1 or 2 is granted and delivered 1', async () => {
  await withQueues(declare({ name: 'q0', topicFilter: 't/0' }, { name: 'q1', topicFilter: 't/1' }, { name: 'q2', topicFilter: 't/2' }), async (h) => {
    const consumers = [];
    for (const qos of [0, 1, 2] as const) {
      const c = await h.raw();
      assert.equal(await subscribeCodes(c, [`$queue/q${qos}`], qos), [Math.min(qos, 1)], `SUBACK for QoS ${qos}`);
      assert.equal(await subscribeCodes(c, ['sentinel/end'], 0), [0]);
      consumers.push(c);
    }
    const pub = await h.raw();
    for (const n of [0, 1, 2]) await send(pub, `t/${n}`, `m${n}`);
    const [q0, q1, q2] = ['q0', 'q1', 'q2'].map((n) => queueOf(h, n));
    await until(() => q0!.counters.delivered === 1 && q1!.inflight === 1 && q2!.inflight === 1);
    const got = await flushed(pub, consumers);
    assert.equal(got.map((g) => g.map((p) => [p.topic, p.qos])), [[['t/0', 0]], [['t/1', 1]], [['t/2', 1]]]);
    assert.equal([q0!.depth, q0!.inflight, q0!.counters.acknowledged], [0, 0, 1], 'QoS 0: done when written');
    assert.equal([q1!.depth, q2!.depth], [1, 1], 'QoS 1: kept until PUBACK');
    ack(consumers[2]!, got[2]![0]!);
    await until(() => q2!.depth === 0);
  });
});

test.run();
