// Consumers share a queue (each message to exactly one of them), one session consumes several queues, and queues
// live beside ordinary routing: the same topic also reaches plain and `$share/` subscribers, and nothing of the
// consuming forms ever reaches a plain `#` subscriber.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MqttClient } from 'mqtt';
import { collect } from '../../helpers/mqttjs.js';
import { receivedOn } from '../../helpers/sub-harness.js';
import { ack, declare, flushed, queueOf, rawConsumer, send, sendAll, SENTINEL, subscribeCodes, text, until, withQueues } from '../../helpers/queue-kit.js';

const test = suite('11-queues: sharing and interplay');

const range = (n: number, p = 'm') => Array.from({ length: n }, (_, i) => `${p}${i}`);

/** MQTT.js clients get the sentinel last: everything sent to them before it has arrived. */
async function sentinelReached(pub: Parameters<typeof send>[0], clients: MqttClient[]): Promise<void> {
  const done = clients.map((c) => receivedOn(c, SENTINEL));
  await send(pub, SENTINEL, 'end', { qos: 0 });
  await Promise.all(done);
}

test('three consumers (MQTT.js 5.0, 5.0, 3.1.1) share a queue: each message reaches exactly one of them, all take part', async () => {
  await withQueues(declare({ name: 'jobs', topicFilter: 'jobs/+' }), async (h) => {
    const clients: MqttClient[] = [];
    const got: Array<ReturnType<typeof collect>> = [];
    for (const protocolVersion of [5, 5, 4] as const) {
      const c = await h.mqtt({ protocolVersion });
      got.push(collect(c));
      await c.subscribeAsync(['$q/jobs/+', SENTINEL], { qos: 1 });
      clients.push(c);
    }
    const q = queueOf(h, 'jobs');
    assert.is(q.consumers.length, 3);
    const pub = await h.raw();
    await sendAll(pub, 'jobs/x', range(30));
    await until(() => q.counters.acknowledged === 30);
    await sentinelReached(pub, clients);
    const per = got.map((g) => g.messages.filter((m) => m.topic !== SENTINEL).map((m) => m.payload));
    assert.equal(per.flat().sort(), range(30).sort(), 'every message once, none twice');
    assert.ok(per.every((p) => p.length > 0), `every consumer took part: ${per.map((p) => p.length).join('/')}`);
    assert.equal([q.depth, q.inflight, q.counters.delivered, q.counters.redelivered], [0, 0, 30, 0]);
  });
});

test('one session consumes two queues: it gets the messages of both, and acknowledging empties both', async () => {
  await withQueues(declare({ name: 'qa', topicFilter: 'a/+' }, { name: 'qb', topicFilter: 'b/+' }), async (h) => {
    const c = await rawConsumer(h, '$q/a/+');
    assert.equal(await subscribeCodes(c, ['$queue/qb']), [1]);
    const pub = await h.raw();
    await sendAll(pub, 'a/1', ['from-a']);
    await sendAll(pub, 'b/1', ['from-b']);
    const [qa, qb] = [queueOf(h, 'qa'), queueOf(h, 'qb')];
    await until(() => qa.inflight === 1 && qb.inflight === 1);
    const [got] = await flushed(pub, [c]);
    assert.equal(got!.map((p) => [p.topic, text(p)]).sort(), [['a/1', 'from-a'], ['b/1', 'from-b']]);
    for (const p of got!) ack(c, p);
    await until(() => qa.depth === 0 && qb.depth === 0);
    assert.equal([qa.counters.acknowledged, qb.counters.acknowledged], [1, 1]);
  });
});

test('a message delivered from a queue reaches the consumer once, and a plain "#" subscriber only as its own copy of the original topic', async () => {
  await withQueues(declare({ name: 'jobs', topicFilter: 'jobs/+' }), async (h) => {
    const consumer = await rawConsumer(h, '$q/jobs/+');
    const plain = await h.raw();
    assert.equal(await subscribeCodes(plain, ['#']), [1]);
    const pub = await h.raw();
    await sendAll(pub, 'jobs/a', ['j1']);
    // A topic that looks like a consuming form is just a "$" topic: "#" does not match it [MQTT-4.7.2-1], and
    // no queue captures it.
    await sendAll(pub, '$q/jobs/a', ['not-a-job']);
    await sendAll(pub, '$queue/jobs', ['not-a-job-either']);
    const q = queueOf(h, 'jobs');
    await until(() => q.inflight === 1);
    const [fromQueue, fromPlain] = await flushed(pub, [consumer, plain]);
    assert.equal(fromQueue!.map((p) => [p.topic, text(p)]), [['jobs/a', 'j1']]);
    assert.equal(fromPlain!.map((p) => [p.topic, text(p)]), [['jobs/a', 'j1']]);
    assert.is(q.counters.enqueued, 1);
  });
});

test('the same topic is queued, delivered to a plain subscriber and to one member of a $share group', async () => {
  await withQueues(declare({ name: 'jobs', topicFilter: 'jobs/+' }), async (h) => {
    const queueConsumer = await h.mqtt();
    const plain = await h.mqtt();
    const members = [await h.mqtt(), await h.mqtt({ protocolVersion: 4 })];
    const clients = [queueConsumer, plain, ...members];
    const got = clients.map((c) => collect(c));
    await queueConsumer.subscribeAsync(['$q/jobs/+', SENTINEL], { qos: 1 });
    await plain.subscribeAsync(['jobs/+', SENTINEL], { qos: 1 });
    for (const m of members) await m.subscribeAsync(['$share/g/jobs/+', SENTINEL], { qos: 1 });
    const pub = await h.raw();
    await sendAll(pub, 'jobs/x', range(10));
    const q = queueOf(h, 'jobs');
    await until(() => q.counters.acknowledged === 10);
    await sentinelReached(pub, clients);
    const payloads = got.map((g) => g.messages.filter((m) => m.topic !== SENTINEL).map((m) => m.payload));
    assert.equal(payloads[0], range(10), 'the queue consumer, in order');
    assert.equal(payloads[1], range(10), 'the plain subscriber');
    assert.equal([...payloads[2]!, ...payloads[3]!].sort(), range(10).sort(), 'the group, each once');
    assert.equal([q.counters.enqueued, q.counters.delivered, q.depth], [10, 10, 0]);
  });
});

test.run();
