// SUBSCRIBE / SUBACK (MQTT 5.0 section 3.8-3.9, 3.1.1 section 3.8-3.9): one reason code per filter in order,
// invalid filters refused individually, granted QoS, the per-session subscription quota.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { collect } from '../../helpers/mqttjs.js';
import { nextPublish, publish, subscribe, unsubscribe, withBroker } from '../../helpers/sub-harness.js';
import { beforePing } from '../../helpers/end-marker.js';

const test = suite('02-subscribe: SUBACK');

// Valid and invalid filters mixed: [filter, requested QoS, valid?]
const mixed: Array<[string, 0 | 1 | 2, boolean]> = [
  ['s/a', 0, true],
  ['s/#', 1, true],
  ['sport+', 2, false], // "+" not a whole level [MQTT-4.7.1-2]
  ['s/+/c', 2, true],
  ['s/#/b', 1, false], // "#" not last [MQTT-4.7.1-1]
  ['', 0, false], // empty filter [MQTT-4.7.3-1]
  ['$share//s', 1, false], // empty ShareName [MQTT-4.8.2-1]
  ['$share/g/s/x', 1, true],
  ['s/tennis#', 0, false],
];

test('5.0: one SUBACK answers every filter in order, granted QoS or 0x8F per filter [MQTT-3.8.4-6] [MQTT-3.9.3-1]', async () => {
  await withBroker(async (h) => {
    const c = await h.raw({ clientId: 'sub5' });
    const suback = await subscribe(
      c,
      mixed.map(([topic, qos]) => ({ topic, qos })),
    );
    assert.equal(
      suback.granted,
      mixed.map(([, qos, ok]) => (ok ? qos : 0x8f)),
    );
    // Only the valid filters became subscriptions [MQTT-3.8.4-5].
    const session = h.broker.sessions.byClientId.get('sub5')!;
    assert.equal([...session.subscriptions.keys()].sort(), ['$share/g/s/x', 's/#', 's/+/c', 's/a']);
    assert.is(h.broker.trie.size, 4);
  });
});

test('3.1.1: invalid filters get 0x80 in SUBACK next to the granted QoS of valid ones [MQTT-3.9.3-2 3.1.1]', async () => {
  await withBroker(async (h) => {
    const c = await h.raw({ clientId: 'sub4' }, 4);
    const suback = await subscribe(
      c,
      mixed.map(([topic, qos]) => ({ topic, qos })),
    );
    assert.equal(
      suback.granted,
      mixed.map(([, qos, ok]) => (ok ? qos : 0x80)),
    );
    assert.is(h.broker.sessions.byClientId.get('sub4')!.subscriptions.size, 4);
  });
});

test('a SUBSCRIBE of only invalid filters is still answered, and the connection stays usable [MQTT-3.8.4-1]', async () => {
  await withBroker(async (h) => {
    const c = await h.raw();
    const suback = await subscribe(c, [
      { topic: 'a/#/b', qos: 1 },
      { topic: '+x', qos: 0 },
    ]);
    assert.equal(suback.granted, [0x8f, 0x8f]);
    const ok = await subscribe(c, [{ topic: 'fine', qos: 1 }]);
    assert.equal(ok.granted, [1]);
    const pub = await h.raw();
    await publish(pub, 'fine', 'x', { qos: 1 });
    assert.is((await nextPublish(c)).text, 'x');
  });
});

test('messages are delivered at the minimum of published and granted QoS [MQTT-3.8.4-8]', async () => {
  await withBroker(async (h) => {
    const q0 = await h.raw();
    const q1 = await h.raw();
    const q2 = await h.raw();
    assert.equal((await subscribe(q0, [{ topic: 'q', qos: 0 }])).granted, [0]);
    assert.equal((await subscribe(q1, [{ topic: 'q', qos: 1 }])).granted, [1]);
    assert.equal((await subscribe(q2, [{ topic: 'q', qos: 2 }])).granted, [2]);
    const pub = await h.raw();
    await publish(pub, 'q', 'at1', { qos: 1 });
    await publish(pub, 'q', 'at0', { qos: 0 });
    for (const [c, first] of [
      [q0, 0],
      [q1, 1],
      [q2, 1],
    ] as const) {
      const m1 = await nextPublish(c);
      assert.equal([m1.text, m1.qos], ['at1', first]);
      if (m1.qos === 1) c.send({ cmd: 'puback', messageId: m1.messageId! });
      const m2 = await nextPublish(c);
      assert.equal([m2.text, m2.qos], ['at0', 0]);
    }
  });
});

test('re-subscribing to the same filter replaces the subscription: one copy, the new QoS [MQTT-3.8.4-3]', async () => {
  await withBroker(async (h) => {
    const c = await h.raw({ clientId: 'resub' });
    assert.equal((await subscribe(c, [{ topic: 'r/+', qos: 0 }])).granted, [0]);
    assert.equal((await subscribe(c, [{ topic: 'r/+', qos: 1 }])).granted, [1]);
    assert.is(h.broker.sessions.byClientId.get('resub')!.subscriptions.size, 1);
    assert.is(h.broker.trie.size, 1);
    const pub = await h.raw();
    await publish(pub, 'r/x', 'once', { qos: 1 });
    const m = await nextPublish(c);
    assert.equal([m.text, m.qos], ['once', 1]);
    assert.equal(await beforePing(c), [], 'no second copy');
  });
});

test('the same filter twice in one SUBSCRIBE is handled as two SUBSCRIBEs in a row: the second wins [MQTT-3.8.4-5]', async () => {
  await withBroker(async (h) => {
    const c = await h.raw({ clientId: 'twice' });
    const suback = await subscribe(c, [
      { topic: 'tw', qos: 2 },
      { topic: 'tw', qos: 0 },
    ]);
    assert.equal(suback.granted, [2, 0]);
    assert.is(h.broker.sessions.byClientId.get('twice')!.subscriptions.get('tw')!.qos, 0);
    const pub = await h.raw();
    await publish(pub, 'tw', 'x', { qos: 1 });
    const m = await nextPublish(c);
    assert.equal([m.text, m.qos], ['x', 0]);
    assert.equal(await beforePing(c), []);
  });
});

test('MQTT.js 5.0 and 3.1.1 clients are granted the QoS they ask for and receive on it', async () => {
  await withBroker(async (h) => {
    for (const protocolVersion of [5, 4] as const) {
      const sub = await h.mqtt({ protocolVersion, clientId: `js${protocolVersion}` });
      const got = collect(sub);
      const granted = await sub.subscribeAsync({ [`v${protocolVersion}/a`]: { qos: 0 }, [`v${protocolVersion}/b`]: { qos: 1 }, [`v${protocolVersion}/c`]: { qos: 2 } });
      assert.equal(
        granted.map((g) => [g.topic, g.qos]),
        [
          [`v${protocolVersion}/a`, 0],
          [`v${protocolVersion}/b`, 1],
          [`v${protocolVersion}/c`, 2],
        ],
      );
      const pub = await h.mqtt({ protocolVersion });
      await pub.publishAsync(`v${protocolVersion}/c`, 'hello', { qos: 2 });
      await got.waitCount(1);
      assert.equal([got.messages[0]!.topic, got.messages[0]!.payload, got.messages[0]!.packet.qos], [`v${protocolVersion}/c`, 'hello', 2]);
    }
  });
});

test('beyond maxSubscriptionsPerSession a new filter gets 0x97 Quota exceeded; replacing one still works', async () => {
  await withBroker(
    async (h) => {
      const c = await h.raw({ clientId: 'quota' });
      const suback = await subscribe(c, [
        { topic: 'q/1', qos: 1 },
        { topic: 'q/2', qos: 0 },
        { topic: 'q/3', qos: 1 },
      ]);
      assert.equal(suback.granted, [1, 0, 0x97]);
      assert.equal([...h.broker.sessions.byClientId.get('quota')!.subscriptions.keys()].sort(), ['q/1', 'q/2']);
      // The same filter again is a replacement, not a new subscription [MQTT-3.8.4-3].
      assert.equal((await subscribe(c, [{ topic: 'q/2', qos: 2 }])).granted, [2]);
      // Freeing a slot admits a new filter.
      assert.equal((await unsubscribe(c, ['q/1'])).granted, [0]);
      assert.equal((await subscribe(c, [{ topic: 'q/3', qos: 1 }])).granted, [1]);
      assert.equal((await subscribe(c, [{ topic: '$share/g/q/4', qos: 1 }])).granted, [0x97]);
    },
    { maxSubscriptionsPerSession: 2 },
  );
});

test('3.1.1: beyond maxSubscriptionsPerSession a new filter gets 0x80', async () => {
  await withBroker(
    async (h) => {
      const c = await h.raw({ clientId: 'quota4' }, 4);
      assert.equal((await subscribe(c, [{ topic: 'a', qos: 0 }])).granted, [0]);
      assert.equal(
        (
          await subscribe(c, [
            { topic: 'b', qos: 1 },
            { topic: 'a', qos: 1 },
          ])
        ).granted,
        [0x80, 1],
      );
      assert.is(h.broker.sessions.byClientId.get('quota4')!.subscriptions.size, 1);
    },
    { maxSubscriptionsPerSession: 1 },
  );
});

test.run();
