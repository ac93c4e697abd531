// Retained messages (MQTT 5.0 section 3.3.1.3, 3.1.1 section 3.3.1.3): stored, sent on subscribe with RETAIN 1,
// replaced, cleared by an empty payload, and RETAIN 0 on live delivery to existing subscriptions.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { collect } from '../../helpers/mqttjs.js';
import { nextPublish, publish, subscribe, withBroker } from '../../helpers/sub-harness.js';
import { beforePing } from '../../helpers/end-marker.js';

const test = suite('04-retain: retained messages');

test('a retained message is stored and sent to a later subscriber with RETAIN 1 [MQTT-3.3.1-5] [MQTT-3.3.1-9]', async () => {
  await withBroker(async (h) => {
    const pub = await h.raw();
    await publish(pub, 'r/state', 'on', { qos: 1, retain: true, properties: { contentType: 'text/plain', userProperties: { k: 'v' } } });
    assert.is(h.broker.retained.size, 1);
    const c = await h.raw();
    assert.equal((await subscribe(c, [{ topic: 'r/state', qos: 1 }])).granted, [1]);
    const m = await nextPublish(c);
    assert.equal([m.topic, m.text, m.retain, m.qos, m.dup], ['r/state', 'on', true, 1, false]);
    assert.equal([m.properties?.contentType, { ...m.properties?.userProperties }], ['text/plain', { k: 'v' }]);
    c.send({ cmd: 'puback', messageId: m.messageId! });
    assert.equal(await beforePing(c), [], 'sent once');
  });
});

test('a retained message is sent at the minimum of its QoS and the granted QoS [MQTT-3.8.4-8]', async () => {
  await withBroker(async (h) => {
    const pub = await h.raw();
    await publish(pub, 'rq/one', 'q1', { qos: 1, retain: true });
    await publish(pub, 'rq/zero', 'q0', { qos: 0, retain: true });
    const c0 = await h.raw();
    await subscribe(c0, [{ topic: 'rq/one', qos: 0 }]);
    const m0 = await nextPublish(c0);
    assert.equal([m0.text, m0.qos, m0.retain], ['q1', 0, true]);
    const c2 = await h.raw();
    await subscribe(c2, [{ topic: 'rq/zero', qos: 2 }]);
    const m2 = await nextPublish(c2);
    assert.equal([m2.text, m2.qos, m2.retain], ['q0', 0, true]);
  });
});

test('a new retained message replaces the previous one for its topic [MQTT-3.3.1-5]', async () => {
  await withBroker(async (h) => {
    const pub = await h.raw();
    await publish(pub, 'r/level', '1', { qos: 1, retain: true });
    await publish(pub, 'r/level', '2', { qos: 1, retain: true });
    await publish(pub, 'r/level', '3', { qos: 0, retain: true });
    assert.is(h.broker.retained.size, 1);
    const c = await h.raw();
    await subscribe(c, [{ topic: 'r/level', qos: 1 }]);
    const m = await nextPublish(c);
    assert.equal([m.text, m.retain, m.qos], ['3', true, 0]);
    assert.equal(await beforePing(c), [], 'only the latest');
  });
});

test('a PUBLISH with RETAIN 0 neither stores nor replaces the retained message [MQTT-3.3.1-8]', async () => {
  await withBroker(async (h) => {
    const pub = await h.raw();
    await publish(pub, 'r/keep', 'retained', { qos: 1, retain: true });
    await publish(pub, 'r/keep', 'live', { qos: 1 });
    await publish(pub, 'r/none', 'live', { qos: 1 });
    assert.is(h.broker.retained.size, 1);
    const c = await h.raw();
    await subscribe(c, [{ topic: 'r/#', qos: 0 }]);
    const m = await nextPublish(c);
    assert.equal([m.topic, m.text, m.retain], ['r/keep', 'retained', true]);
    assert.equal(await beforePing(c), []);
  });
});

test('an empty retained payload clears the retained message, is not stored, and still reaches current subscribers [MQTT-3.3.1-6] [MQTT-3.3.1-7]', async () => {
  await withBroker(async (h) => {
    const pub = await h.raw();
    await publish(pub, 'r/gone', 'x', { qos: 1, retain: true });
    const live = await h.raw();
    await subscribe(live, [{ topic: 'r/gone', qos: 1 }]);
    const first = await nextPublish(live);
    live.send({ cmd: 'puback', messageId: first.messageId! });
    await publish(pub, 'r/gone', '', { qos: 1, retain: true });
    const cleared = await nextPublish(live);
    assert.equal([cleared.text, cleared.retain], ['', false]);
    assert.is(h.broker.retained.size, 0);
    const later = await h.raw();
    assert.equal((await subscribe(later, [{ topic: 'r/gone', qos: 1 }])).granted, [1]);
    assert.equal(await beforePing(later), [], 'nothing retained any more');
    // Clearing a topic that holds nothing stores nothing either.
    await publish(pub, 'r/never', '', { qos: 1, retain: true });
    assert.is(h.broker.retained.size, 0);
  });
});

test('a live message to an existing subscription has RETAIN 0 though published with RETAIN 1 [MQTT-3.3.1-12]', async () => {
  await withBroker(async (h) => {
    const c = await h.raw();
    await subscribe(c, [{ topic: 'live/+', qos: 1 }]);
    const pub = await h.raw();
    await publish(pub, 'live/a', 'now', { qos: 1, retain: true });
    const m = await nextPublish(c);
    assert.equal([m.text, m.retain], ['now', false]);
  });
});

test('3.1.1: retained on subscribe has RETAIN 1, live delivery RETAIN 0 (MQTT.js, 3.1.1 [MQTT-3.3.1-8] [MQTT-3.3.1-9])', async () => {
  await withBroker(async (h) => {
    const pub = await h.mqtt({ protocolVersion: 4 });
    await pub.publishAsync('v4/r', 'stored', { qos: 1, retain: true });
    const sub = await h.mqtt({ protocolVersion: 4 });
    const got = collect(sub);
    await sub.subscribeAsync('v4/r', { qos: 1 });
    await got.waitCount(1);
    await pub.publishAsync('v4/r', 'fresh', { qos: 1, retain: true });
    await got.waitCount(2);
    assert.equal(
      got.messages.map((m) => [m.payload, m.packet.retain]),
      [
        ['stored', true],
        ['fresh', false],
      ],
    );
  });
});

test('a wildcard subscription gets every matching retained message, and "#" no $-topics [MQTT-4.7.2-1]', async () => {
  await withBroker(async (h) => {
    const pub = await h.raw();
    const retained = ['w/a', 'w/b/c', 'w', 'x/a', '$SYS/w', 'w/b'];
    for (const t of retained) await publish(pub, t, `v-${t}`, { qos: 1, retain: true });
    const cases: Array<[string, string[]]> = [
      ['w/#', ['w', 'w/a', 'w/b', 'w/b/c']],
      ['w/+', ['w/a', 'w/b']],
      ['+/a', ['w/a', 'x/a']],
      ['#', ['w', 'w/a', 'w/b', 'w/b/c', 'x/a']],
      ['$SYS/#', ['$SYS/w']],
      ['nothing/#', []],
    ];
    for (const [filter, expected] of cases) {
      const c = await h.raw();
      await subscribe(c, [{ topic: filter, qos: 0 }]);
      const got: string[] = [];
      for (let i = 0; i < expected.length; i++) {
        const m = await nextPublish(c);
        assert.is(m.retain, true);
        assert.is(m.text, `v-${m.topic}`);
        got.push(m.topic);
      }
      assert.equal(await beforePing(c), [], `${filter}: no extra messages`);
      assert.equal(got.sort(), expected, filter);
    }
  });
});

test.run();
