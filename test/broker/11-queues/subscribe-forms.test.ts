// Consuming subscriptions (DESIGN "Queues"): `$q/<filter>` (a declared queue, or auto-created), `$queue/<name>`
// and `$queue/<name>/<filter>`, over MQTT 5 and 3.1.1, with MQTT.js and raw clients; and the failures: a queue
// that does not exist and may not be created, and malformed `$queue/` names, never get a success SUBACK.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { queueNameFromFilter } from '../../../src/config/queues.js';
import type { WharfConfig } from '../../../src/config/types.js';
import { collect } from '../../helpers/mqttjs.js';
import { unsubscribe } from '../../helpers/sub-harness.js';
import { declare, flushed, queueOf, rawConsumer, send, sendAll, subscribeCodes, text, withQueues, ack, until, SENTINEL } from '../../helpers/queue-kit.js';

const test = suite('11-queues: subscription forms');

for (const version of [5, 4] as const) {
  test(`MQTT.js ${version === 5 ? '5.0' : '3.1.1'}: $q/<filter> consumes the declared queue with that filter, messages buffered before it subscribed included`, async () => {
    await withQueues(declare({ name: 'jobs', topicFilter: 'jobs/+' }), async (h) => {
      const pub = await h.raw();
      await sendAll(pub, 'jobs/a', ['m1', 'm2']);
      assert.is(queueOf(h, 'jobs').depth, 2);
      const c = await h.mqtt({ protocolVersion: version });
      const got = collect(c);
      const granted = await c.subscribeAsync('$q/jobs/+', { qos: 1 });
      assert.equal(granted.map((g) => g.qos), [1]);
      await sendAll(pub, 'jobs/b', ['m3']);
      await got.waitCount(3);
      assert.equal(got.messages.map((m) => [m.topic, m.payload, m.packet.qos]), [['jobs/a', 'm1', 1], ['jobs/a', 'm2', 1], ['jobs/b', 'm3', 1]]);
      assert.equal(h.broker.queues!.queues().map((q) => q.name), ['jobs'], 'no other queue was created');
      // MQTT.js acknowledged each one: the queue is empty.
      const q = queueOf(h, 'jobs');
      await until(() => q.counters.acknowledged === 3);
      assert.equal([q.depth, q.inflight, q.counters.delivered], [0, 0, 3]);
    });
  });
}

test('raw 3.1.1: $q/<filter> for a filter without a queue auto-creates one named after the filter, with the defaults', async () => {
  await withQueues(undefined, async (h) => {
    const c = await rawConsumer(h, '$q/images/+', { version: 4 });
    const name = queueNameFromFilter('images/+');
    assert.is(name, 'images._plus_');
    const q = queueOf(h, name);
    assert.is(q.definition.topicFilter, 'images/+');
    assert.equal({ ...q.definition, name: undefined, topicFilter: undefined }, { ...h.tb.config.queues.defaults, name: undefined, topicFilter: undefined });
    const pub = await h.raw();
    await sendAll(pub, 'images/cat', ['jpg']);
    const [got] = await flushed(pub, [c]);
    assert.equal(got!.map((p) => [p.topic, text(p), p.qos]), [['images/cat', 'jpg', 1]]);
    ack(c, got![0]!);
    await send(c, 'noop', 'x', { qos: 0 });
    assert.equal([q.depth, q.inflight, q.counters.acknowledged], [0, 0, 1]);
  });
});

test('MQTT.js 3.1.1: $queue/<name> consumes an existing queue by name', async () => {
  await withQueues(declare({ name: 'orders.eu', topicFilter: 'orders/eu/#' }), async (h) => {
    const c = await h.mqtt({ protocolVersion: 4 });
    const got = collect(c);
    assert.equal((await c.subscribeAsync('$queue/orders.eu', { qos: 1 })).map((g) => g.qos), [1]);
    const pub = await h.raw();
    await sendAll(pub, 'orders/eu/fr/1', ['o1']);
    await got.waitCount(1);
    assert.equal(got.messages.map((m) => [m.topic, m.payload]), [['orders/eu/fr/1', 'o1']]);
  });
});

test('raw 5.0: $queue/<name>/<filter> creates the queue with that name and filter, and later forms find it', async () => {
  await withQueues(undefined, async (h) => {
    const c = await rawConsumer(h, '$queue/thumbs/images/thumb/#');
    const q = queueOf(h, 'thumbs');
    assert.is(q.definition.topicFilter, 'images/thumb/#');
    const other = await h.raw();
    await subscribeCodes(other, [SENTINEL], 0);
    // The same queue by name alone, and by its filter: no new queue.
    assert.equal(await subscribeCodes(other, ['$queue/thumbs', '$q/images/thumb/#']), [1, 1]);
    assert.equal(h.broker.queues!.queues().map((x) => x.name), ['thumbs']);
    assert.is(q.consumers.length, 2, 'one consumer per session, however many forms it used');
    const pub = await h.raw();
    await sendAll(pub, 'images/thumb/1', ['t1']);
    await sendAll(pub, 'images/full/1', ['f1']);
    await until(() => q.inflight === 1);
    assert.is(q.counters.enqueued, 1, 'only the matching topic is captured');
    const got = await flushed(pub, [c, other]);
    assert.equal(got.flat().map((p) => [p.topic, text(p)]), [['images/thumb/1', 't1']], 'to exactly one of the two');
  });
});

test('a session consuming one queue through two forms stays its consumer until it unsubscribes both', async () => {
  await withQueues(declare({ name: 'jobs', topicFilter: 'jobs/+' }), async (h) => {
    const c = await rawConsumer(h, '$q/jobs/+');
    assert.equal(await subscribeCodes(c, ['$queue/jobs']), [1]);
    const q = queueOf(h, 'jobs');
    assert.is(q.consumers.length, 1);
    assert.equal((await unsubscribe(c, ['$q/jobs/+'])).granted, [0]);
    assert.is(q.consumers.length, 1, 'still a consumer through $queue/jobs');
    const pub = await h.raw();
    await sendAll(pub, 'jobs/a', ['m1']);
    await until(() => q.inflight === 1);
    const [got] = await flushed(pub, [c]);
    assert.equal(got!.map(text), ['m1']);
    assert.equal((await unsubscribe(c, ['$queue/jobs'])).granted, [0]);
    assert.equal([q.consumers.length, q.inflight, q.depth], [0, 0, 1], 'no longer a consumer; m1 back in the queue');
  });
});

for (const version of [5, 4] as const) {
  test(`autoCreate off (${version === 5 ? '5.0' : '3.1.1'}): consuming an unknown queue gets SUBACK 0x80 in every form, and creates nothing`, async () => {
    const tweak = (c: WharfConfig) => {
      c.queues.autoCreate = false;
      declare({ name: 'known', topicFilter: 'known/+' })(c);
    };
    await withQueues(tweak, async (h) => {
      const c = await h.raw({}, version);
      assert.equal(await subscribeCodes(c, ['$q/unknown/+', '$queue/nope', '$queue/nope/a/b', '$q/known/+', '$queue/known']), [0x80, 0x80, 0x80, 1, 1]);
      assert.equal(h.broker.queues!.queues().map((q) => q.name), ['known']);
      assert.equal([...h.broker.sessions.byClientId.values()].flatMap((s) => [...s.subscriptions.keys()]), ['$q/known/+', '$queue/known']);
    });
  });
}

test('autoCreate on: $queue/<name> without a filter names no queue to create: SUBACK 0x80', async () => {
  await withQueues(undefined, async (h) => {
    const c = await h.raw();
    assert.equal(await subscribeCodes(c, ['$queue/missing']), [0x80]);
    assert.equal(h.broker.queues!.queues().length, 0);
  });
});

for (const version of [5, 4] as const) {
  test(`malformed consuming filters fail (${version === 5 ? '5.0: 0x8F Topic Filter invalid or 0x80' : '3.1.1: 0x80'}), none creates a queue`, async () => {
    await withQueues(undefined, async (h) => {
      const c = await h.raw({}, version);
      const invalid = ['$queue/', '$queue/bad name', '$queue/a+b/x', '$queue/a#', '$queue/ok/a/#/b', '$q/a/#/b', '$q/'];
      const reserved = ['$q/$share/g/t', '$queue/n/$queue/x', `$queue/${'n'.repeat(256)}/t`];
      const codes = await subscribeCodes(c, [...invalid, ...reserved]);
      const bad = version === 5 ? 0x8f : 0x80;
      assert.equal(codes, [...invalid.map(() => bad), ...reserved.map(() => 0x80)]);
      assert.equal(h.broker.queues!.queues().length, 0);
      assert.is([...h.broker.sessions.byClientId.values()][0]!.subscriptions.size, 0);
    });
  });
}

test.run();
