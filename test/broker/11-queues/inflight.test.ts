// Inflight limits: a consumer never holds more unacknowledged queue messages than min(consumerInflight, its
// Receive Maximum), and a session's Receive Maximum also counts its ordinary QoS 1 deliveries. Raw consumers that do
// not acknowledge count the PUBLISH packets they get.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IPublishPacket } from 'mqtt-packet';
import { ack, declare, flushed, queueOf, rawConsumer, send, sendAll, subscribeCodes, text, until, withQueues } from '../../helpers/queue-kit.js';

const test = suite('11-queues: inflight limits');

const range = (n: number) => Array.from({ length: n }, (_, i) => `m${i}`);

test('Receive Maximum 3 below consumerInflight 5: exactly 3 unacknowledged; each PUBACK lets exactly one more through, in order', async () => {
  await withQueues(declare({ name: 'jobs', topicFilter: 'jobs/+', consumerInflight: 5 }), async (h) => {
    const c = await rawConsumer(h, '$q/jobs/+', { connect: { properties: { receiveMaximum: 3 } } });
    const pub = await h.raw();
    await sendAll(pub, 'jobs/a', range(10));
    const q = queueOf(h, 'jobs');
    await until(() => q.inflight === 3);
    const [first] = await flushed(pub, [c]);
    assert.equal(first!.map(text), ['m0', 'm1', 'm2']);
    assert.equal([q.depth, q.inflight, q.counters.delivered], [10, 3, 3]);
    ack(c, first![1]!);
    await until(() => q.counters.delivered === 4);
    const [second] = await flushed(pub, [c]);
    assert.equal(second!.map(text), ['m3']);
    assert.equal([q.depth, q.inflight], [9, 3]);
  });
});

test('consumerInflight 2 below the Receive Maximum: a 5.0 and a 3.1.1 consumer each hold exactly 2', async () => {
  await withQueues(declare({ name: 'jobs', topicFilter: 'jobs/+', consumerInflight: 2 }), async (h) => {
    const v5 = await rawConsumer(h, '$q/jobs/+', { clientId: 'v5', connect: { properties: { receiveMaximum: 100 } } });
    const v4 = await rawConsumer(h, '$q/jobs/+', { clientId: 'v4', version: 4 });
    const pub = await h.raw();
    await sendAll(pub, 'jobs/a', range(10));
    const q = queueOf(h, 'jobs');
    await until(() => q.inflight === 4);
    const got = await flushed(pub, [v5, v4]);
    assert.equal(got.map((g) => g.length), [2, 2]);
    assert.equal(got.flat().map(text).sort(), ['m0', 'm1', 'm2', 'm3']);
    assert.equal(q.consumers.map((c) => [c.id, c.inflight]).sort(), [['v4', 2], ['v5', 2]]);
    assert.is(q.depth, 10);
  });
});

test('the Receive Maximum counts ordinary QoS 1 deliveries too; acknowledging one of them frees a slot for the queue', async () => {
  await withQueues(declare({ name: 'jobs', topicFilter: 'jobs/+' }), async (h) => {
    const c = await rawConsumer(h, '$q/jobs/+', { connect: { properties: { receiveMaximum: 2 } } });
    assert.equal(await subscribeCodes(c, ['plain/t'], 1), [1]);
    const pub = await h.raw();
    await send(pub, 'plain/t', 'p1');
    const plain = (await c.next('publish')) as IPublishPacket;
    assert.is(text(plain), 'p1');
    await sendAll(pub, 'jobs/a', range(5));
    const q = queueOf(h, 'jobs');
    await until(() => q.inflight === 1);
    const [fromQueue] = await flushed(pub, [c]);
    assert.equal(fromQueue!.map(text), ['m0'], 'one slot left of 2');
    ack(c, plain);
    await until(() => q.inflight === 2);
    const [next] = await flushed(pub, [c]);
    assert.equal(next!.map(text), ['m1']);
    const session = h.broker.sessions.byClientId.get(q.consumers[0]!.id)!;
    assert.is(session.inflight.size, 2);
  });
});

test.run();
