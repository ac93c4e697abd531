// Subscription options and properties (MQTT 5.0 section 3.8.2.1.2 and 3.8.3.1): No Local and Subscription
// Identifiers carried on the messages a subscription delivers.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IPublishPacket } from 'mqtt-packet';
import { collect } from '../../helpers/mqttjs.js';
import { nextPublish, publish, subscribe, withBroker } from '../../helpers/sub-harness.js';
import { beforePing } from '../../helpers/end-marker.js';

const test = suite('02-subscribe: options');

function ids(p: IPublishPacket): number[] | undefined {
  const v = p.properties?.subscriptionIdentifier as number | number[] | undefined;
  return v === undefined ? undefined : ([] as number[]).concat(v).sort((a, b) => a - b);
}

test('No Local: a client does not get its own messages back, others do [MQTT-3.8.3-3]', async () => {
  await withBroker(async (h) => {
    const self = await h.raw({ clientId: 'nl-self' });
    const other = await h.raw({ clientId: 'nl-other' });
    assert.equal((await subscribe(self, [{ topic: 'nl/t', qos: 1, nl: true }])).granted, [1]);
    assert.equal((await subscribe(other, [{ topic: 'nl/t', qos: 1 }])).granted, [1]);
    // The broker routes before acknowledging: had it sent the message back, it would precede the PUBACK.
    await publish(self, 'nl/t', 'mine', { qos: 1 });
    const m = await nextPublish(other);
    assert.is(m.text, 'mine');
    other.send({ cmd: 'puback', messageId: m.messageId! });
    assert.equal(await beforePing(self), [], 'own message not delivered');
    // A message from someone else still arrives.
    await publish(other, 'nl/t', 'theirs', { qos: 1, noWait: true });
    assert.is((await nextPublish(self)).text, 'theirs');
  });
});

test('No Local applies per subscription: an overlapping subscription without it still delivers, once', async () => {
  await withBroker(async (h) => {
    const c = await h.raw({ clientId: 'nl-overlap' });
    assert.equal(
      (
        await subscribe(c, [
          { topic: 'ov/t', qos: 1, nl: true },
          { topic: 'ov/#', qos: 0 },
        ])
      ).granted,
      [1, 0],
    );
    await publish(c, 'ov/t', 'echo', { qos: 1, noWait: true });
    const m = await nextPublish(c);
    assert.equal([m.text, m.qos], ['echo', 0]);
    assert.is((await c.next('puback')).cmd, 'puback');
    assert.equal(await beforePing(c), [], 'exactly one copy');
  });
});

test('No Local with MQTT.js: the publishing client receives nothing, a second client receives', async () => {
  await withBroker(async (h) => {
    const a = await h.mqtt({ clientId: 'js-nl-a' });
    const b = await h.mqtt({ clientId: 'js-nl-b' });
    const gotA = collect(a);
    const gotB = collect(b);
    await a.subscribeAsync('js/nl', { qos: 1, nl: true });
    await b.subscribeAsync('js/nl', { qos: 1 });
    await a.publishAsync('js/nl', 'from-a', { qos: 1 });
    await b.publishAsync('js/nl', 'from-b', { qos: 1 });
    await gotA.waitCount(1);
    await gotB.waitCount(2);
    assert.equal(
      gotA.messages.map((m) => m.payload),
      ['from-b'],
    );
    assert.equal(
      gotB.messages.map((m) => m.payload),
      ['from-a', 'from-b'],
    );
  });
});

test('a Subscription Identifier is sent with every message the subscription delivers [MQTT-3.3.4-3]', async () => {
  await withBroker(async (h) => {
    const c = await h.raw();
    assert.equal((await subscribe(c, [{ topic: 'id/one', qos: 0 }], { subscriptionIdentifier: 7 })).granted, [0]);
    assert.equal((await subscribe(c, [{ topic: 'id/max', qos: 0 }], { subscriptionIdentifier: 268435455 })).granted, [0]);
    assert.equal((await subscribe(c, [{ topic: 'id/none', qos: 0 }])).granted, [0]);
    const pub = await h.raw();
    await publish(pub, 'id/one', '1');
    await publish(pub, 'id/max', '2');
    await publish(pub, 'id/none', '3');
    const m1 = await nextPublish(c);
    const m2 = await nextPublish(c);
    const m3 = await nextPublish(c);
    assert.equal([m1.text, ids(m1)], ['1', [7]]);
    assert.equal([m2.text, ids(m2)], ['2', [268435455]]);
    assert.equal([m3.text, ids(m3)], ['3', undefined]);
  });
});

test('one SUBSCRIBE with an identifier gives it to all its filters; overlapping matches carry every identifier once [MQTT-3.3.4-4]', async () => {
  await withBroker(async (h) => {
    const c = await h.raw();
    await subscribe(
      c,
      [
        { topic: 'ov/a', qos: 1 },
        { topic: 'ov/b', qos: 1 },
      ],
      { subscriptionIdentifier: 3 },
    );
    await subscribe(c, [{ topic: 'ov/+', qos: 0 }], { subscriptionIdentifier: 11 });
    await subscribe(c, [{ topic: 'ov/#', qos: 0 }]);
    const pub = await h.raw();
    await publish(pub, 'ov/a', 'a', { qos: 1 });
    await publish(pub, 'ov/b', 'b', { qos: 1 });
    await publish(pub, 'ov/c', 'c', { qos: 1 });
    const got = [await nextPublish(c), await nextPublish(c), await nextPublish(c)];
    assert.equal(
      got.map((m) => [m.text, m.qos, ids(m)]),
      [
        ['a', 1, [3, 11]],
        ['b', 1, [3, 11]],
        ['c', 0, [11]],
      ],
    );
    assert.equal(await beforePing(c), [], 'one copy per message');
  });
});

test('re-subscribing without an identifier removes it from the replaced subscription [MQTT-3.8.4-3]', async () => {
  await withBroker(async (h) => {
    const c = await h.raw();
    await subscribe(c, [{ topic: 'rid', qos: 0 }], { subscriptionIdentifier: 5 });
    await subscribe(c, [{ topic: 'rid', qos: 0 }], { subscriptionIdentifier: 6 });
    const pub = await h.raw();
    await publish(pub, 'rid', 'x');
    assert.equal(ids(await nextPublish(c)), [6]);
    await subscribe(c, [{ topic: 'rid', qos: 0 }]);
    await publish(pub, 'rid', 'y');
    const m = await nextPublish(c);
    assert.equal([m.text, ids(m)], ['y', undefined]);
  });
});

test('a Subscription Identifier of 0 is a protocol error: DISCONNECT 0x82 and the connection closes', async () => {
  await withBroker(async (h) => {
    const c = await h.raw({ clientId: 'id-zero' });
    c.send({ cmd: 'subscribe', messageId: 9, subscriptions: [{ topic: 'z', qos: 0 }], properties: { subscriptionIdentifier: 0 } });
    const packets = await c.expectClose();
    assert.equal(
      packets.map((p) => [p.cmd, (p as { reasonCode?: number }).reasonCode]),
      [['disconnect', 0x82]],
    );
    assert.is(h.broker.trie.size, 0);
  });
});

test('a Subscription Identifier included twice in one SUBSCRIBE is a protocol error: DISCONNECT 0x82', async () => {
  await withBroker(async (h) => {
    const c = await h.raw({ clientId: 'id-twice' });
    c.send({ cmd: 'subscribe', messageId: 10, subscriptions: [{ topic: 'z', qos: 0 }], properties: { subscriptionIdentifier: [1, 2] } } as never);
    const packets = await c.expectClose();
    assert.equal(
      packets.map((p) => [p.cmd, (p as { reasonCode?: number }).reasonCode]),
      [['disconnect', 0x82]],
    );
    assert.is(h.broker.trie.size, 0);
  });
});

test('MQTT.js: the identifier given on subscribe comes back in the message properties', async () => {
  await withBroker(async (h) => {
    const sub = await h.mqtt();
    const got = collect(sub);
    await sub.subscribeAsync('js/id/+', { qos: 1, properties: { subscriptionIdentifier: 42 } });
    const pub = await h.mqtt();
    await pub.publishAsync('js/id/x', 'p', { qos: 1 });
    await got.waitCount(1);
    assert.is(got.messages[0]!.packet.properties?.subscriptionIdentifier, 42);
  });
});

test.run();
