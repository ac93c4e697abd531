// Subscription options about retained messages (MQTT 5.0 section 3.8.3.1): Retain Handling 0/1/2 and
// Retain As Published, and the Subscription Identifier on retained messages sent on subscribe.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { collect } from '../../helpers/mqttjs.js';
import { nextPublish, publish, subscribe, unsubscribe, withBroker } from '../../helpers/sub-harness.js';
import { beforePing } from '../../helpers/end-marker.js';

const test = suite('04-retain: Retain Handling and Retain As Published');

test('Retain Handling 0 sends retained messages on every SUBSCRIBE, re-subscribes included [MQTT-3.3.1-9] [MQTT-3.8.4-4]', async () => {
  await withBroker(async (h) => {
    const pub = await h.raw();
    await publish(pub, 'rh0/t', 'kept', { qos: 1, retain: true });
    const c = await h.raw();
    for (let i = 0; i < 2; i++) {
      assert.equal((await subscribe(c, [{ topic: 'rh0/t', qos: 0, rh: 0 }])).granted, [0]);
      const m = await nextPublish(c);
      assert.equal([m.text, m.retain], ['kept', true]);
    }
    assert.equal(await beforePing(c), []);
  });
});

test('Retain Handling 1 sends retained messages only when the subscription is new [MQTT-3.3.1-10]', async () => {
  await withBroker(async (h) => {
    const pub = await h.raw();
    await publish(pub, 'rh1/t', 'kept', { qos: 1, retain: true });
    const c = await h.raw();
    await subscribe(c, [{ topic: 'rh1/t', qos: 0, rh: 1 }]);
    assert.equal([(await nextPublish(c)).text], ['kept']);
    // Same filter again: the subscription exists, nothing is re-sent.
    await subscribe(c, [{ topic: 'rh1/t', qos: 1, rh: 1 }]);
    assert.equal(await beforePing(c), [], 'not re-sent for an existing subscription');
    // After UNSUBSCRIBE the next one is new again.
    await unsubscribe(c, ['rh1/t']);
    await subscribe(c, [{ topic: 'rh1/t', qos: 0, rh: 1 }]);
    const m = await nextPublish(c);
    assert.equal([m.text, m.retain], ['kept', true]);
  });
});

test('Retain Handling 1: the same filter twice in one SUBSCRIBE gets the retained message once [MQTT-3.8.4-5]', async () => {
  await withBroker(async (h) => {
    const pub = await h.raw();
    await publish(pub, 'rh1d/t', 'kept', { qos: 1, retain: true });
    const c = await h.raw();
    await subscribe(c, [
      { topic: 'rh1d/t', qos: 0, rh: 1 },
      { topic: 'rh1d/t', qos: 0, rh: 1 },
    ]);
    assert.is((await nextPublish(c)).text, 'kept');
    assert.equal(await beforePing(c), [], 'once');
  });
});

test('Retain Handling 2 never sends retained messages, live messages still arrive [MQTT-3.3.1-11]', async () => {
  await withBroker(async (h) => {
    const pub = await h.raw();
    await publish(pub, 'rh2/t', 'kept', { qos: 1, retain: true });
    const c = await h.raw();
    assert.equal((await subscribe(c, [{ topic: 'rh2/#', qos: 1, rh: 2 }])).granted, [1]);
    assert.equal(await beforePing(c), [], 'no retained message');
    await publish(pub, 'rh2/t', 'live', { qos: 1 });
    const m = await nextPublish(c);
    assert.equal([m.text, m.retain], ['live', false]);
    // The retained message is still stored for others.
    const other = await h.raw();
    await subscribe(other, [{ topic: 'rh2/t', qos: 0 }]);
    assert.is((await nextPublish(other)).text, 'kept');
  });
});

test('Retain As Published keeps the RETAIN flag of live messages; without it RETAIN is 0 [MQTT-3.3.1-12] [MQTT-3.3.1-13]', async () => {
  await withBroker(async (h) => {
    const rap = await h.raw();
    const plain = await h.raw();
    await subscribe(rap, [{ topic: 'rap/+', qos: 0, rap: true }]);
    await subscribe(plain, [{ topic: 'rap/+', qos: 0, rap: false }]);
    const pub = await h.raw();
    await publish(pub, 'rap/a', 'retained', { retain: true });
    await publish(pub, 'rap/a', 'not-retained', { retain: false });
    const r1 = await nextPublish(rap);
    const r2 = await nextPublish(rap);
    const p1 = await nextPublish(plain);
    const p2 = await nextPublish(plain);
    assert.equal(
      [
        [r1.text, r1.retain],
        [r2.text, r2.retain],
      ],
      [
        ['retained', true],
        ['not-retained', false],
      ],
    );
    assert.equal(
      [
        [p1.text, p1.retain],
        [p2.text, p2.retain],
      ],
      [
        ['retained', false],
        ['not-retained', false],
      ],
    );
  });
});

test('overlapping subscriptions: RETAIN is 1 when any matching one has Retain As Published', async () => {
  await withBroker(async (h) => {
    const c = await h.raw();
    await subscribe(c, [
      { topic: 'ovr/+', qos: 0, rap: false },
      { topic: 'ovr/#', qos: 0, rap: true },
    ]);
    const pub = await h.raw();
    await publish(pub, 'ovr/x', 'r', { retain: true });
    const m = await nextPublish(c);
    assert.equal([m.text, m.retain], ['r', true]);
    assert.equal(await beforePing(c), []);
  });
});

test('retained messages sent on subscribe carry RETAIN 1 whatever Retain As Published says', async () => {
  await withBroker(async (h) => {
    const pub = await h.raw();
    await publish(pub, 'rs/t', 'kept', { qos: 1, retain: true });
    for (const rap of [false, true]) {
      const c = await h.raw();
      await subscribe(c, [{ topic: 'rs/t', qos: 0, rap }]);
      assert.is((await nextPublish(c)).retain, true, `rap=${rap}`);
    }
  });
});

test('retained messages sent on subscribe carry the Subscription Identifier of the subscription', async () => {
  await withBroker(async (h) => {
    const pub = await h.raw();
    await publish(pub, 'rid/a', 'a', { qos: 1, retain: true });
    const c = await h.raw();
    await subscribe(c, [{ topic: 'rid/+', qos: 0 }], { subscriptionIdentifier: 99 });
    const m = await nextPublish(c);
    assert.equal([m.text, m.retain, m.properties?.subscriptionIdentifier], ['a', true, 99]);
  });
});

test('MQTT.js: rh 2 gets no retained message, rh 0 with rap gets it and keeps RETAIN on live messages', async () => {
  await withBroker(async (h) => {
    const pub = await h.mqtt();
    await pub.publishAsync('js/r', 'kept', { qos: 1, retain: true });
    const none = await h.mqtt();
    const all = await h.mqtt();
    const gotNone = collect(none);
    const gotAll = collect(all);
    await none.subscribeAsync('js/r', { qos: 1, rh: 2 });
    await all.subscribeAsync('js/r', { qos: 1, rh: 0, rap: true });
    await gotAll.waitCount(1);
    await pub.publishAsync('js/r', 'live', { qos: 1, retain: true });
    await gotAll.waitCount(2);
    await gotNone.waitCount(1);
    assert.equal(
      gotAll.messages.map((m) => [m.payload, m.packet.retain]),
      [
        ['kept', true],
        ['live', true],
      ],
    );
    assert.equal(
      gotNone.messages.map((m) => [m.payload, m.packet.retain]),
      [['live', false]],
    );
  });
});

test.run();
