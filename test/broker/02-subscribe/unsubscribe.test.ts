// UNSUBSCRIBE / UNSUBACK (MQTT 5.0 sections 3.10-3.11, 3.1.1 sections 3.10-3.11): per-filter reason codes,
// filters compared character by character, and delivery stopping for removed subscriptions only.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { collect } from '../../helpers/mqttjs.js';
import { nextPublish, publish, subscribe, unsubscribe, withBroker } from '../../helpers/sub-harness.js';
import { beforePing } from '../../helpers/end-marker.js';

const test = suite('02-subscribe: UNSUBSCRIBE');

test('5.0: UNSUBACK has one reason code per filter in order: 0x00, 0x11 or 0x8F [MQTT-3.11.3-1]', async () => {
  await withBroker(async (h) => {
    const c = await h.raw({ clientId: 'unsub5' });
    await subscribe(c, [
      { topic: 'u/a', qos: 1 },
      { topic: '$share/g/u/b', qos: 1 },
      { topic: 'u/keep', qos: 1 },
    ]);
    const unsuback = await unsubscribe(c, ['u/a', 'u/none', 'u/#/x', '$share/g/u/b', '$share//u', 'u/a']);
    assert.equal(unsuback.granted, [0x00, 0x11, 0x8f, 0x00, 0x8f, 0x11]);
    assert.equal([...h.broker.sessions.byClientId.get('unsub5')!.subscriptions.keys()], ['u/keep']);
    assert.is(h.broker.trie.size, 1);
  });
});

test('after UNSUBSCRIBE the removed filters deliver nothing, the others still do [MQTT-3.10.4-1] [MQTT-3.10.4-2]', async () => {
  await withBroker(async (h) => {
    const c = await h.raw();
    await subscribe(c, [
      { topic: 'd/a', qos: 1 },
      { topic: 'd/+', qos: 1 },
      { topic: '$share/g/d/s', qos: 1 },
      { topic: 'd/keep', qos: 1 },
    ]);
    assert.equal((await unsubscribe(c, ['d/a', 'd/+', '$share/g/d/s'])).granted, [0, 0, 0]);
    const pub = await h.raw();
    await publish(pub, 'd/a', 'gone', { qos: 1 });
    await publish(pub, 'd/s', 'gone-shared', { qos: 1 });
    await publish(pub, 'd/keep', 'kept', { qos: 1 });
    const m = await nextPublish(c);
    assert.is(m.text, 'kept');
    assert.equal(await beforePing(c), []);
  });
});

test('filters are compared character by character: a wildcard does not unsubscribe a filter it covers [MQTT-3.10.4-1]', async () => {
  await withBroker(async (h) => {
    const c = await h.raw();
    await subscribe(c, [{ topic: 'x/a', qos: 0 }]);
    assert.equal((await unsubscribe(c, ['x/+', 'x/#', '#', 'x/a/'])).granted, [0x11, 0x11, 0x11, 0x11]);
    const pub = await h.raw();
    await publish(pub, 'x/a', 'still');
    assert.is((await nextPublish(c)).text, 'still');
  });
});

test('UNSUBACK is sent even when nothing matched, with the packet identifier of the UNSUBSCRIBE [MQTT-3.10.4-4] [MQTT-3.10.4-5]', async () => {
  await withBroker(async (h) => {
    const c = await h.raw();
    c.send({ cmd: 'unsubscribe', messageId: 4321, unsubscriptions: ['never/subscribed'] });
    const unsuback = await c.next('unsuback');
    assert.is(unsuback.messageId, 4321);
    assert.equal((unsuback as { granted?: number[] }).granted, [0x11]);
  });
});

test('3.1.1: UNSUBACK carries no reason codes and delivery stops', async () => {
  await withBroker(async (h) => {
    const c = await h.raw({ clientId: 'unsub4' }, 4);
    await subscribe(c, [
      { topic: 'v4/a', qos: 1 },
      { topic: 'v4/b', qos: 0 },
    ]);
    c.send({ cmd: 'unsubscribe', messageId: 77, unsubscriptions: ['v4/a', 'v4/none'] });
    const unsuback = await c.next('unsuback');
    assert.is(unsuback.messageId, 77);
    assert.is((unsuback as { granted?: number[] }).granted, undefined);
    assert.equal([...h.broker.sessions.byClientId.get('unsub4')!.subscriptions.keys()], ['v4/b']);
    const pub = await h.raw({}, 4);
    await publish(pub, 'v4/a', 'gone', { qos: 1 });
    await publish(pub, 'v4/b', 'kept', { qos: 1 });
    assert.is((await nextPublish(c)).text, 'kept');
    assert.equal(await beforePing(c), []);
  });
});

test('MQTT.js 5.0 and 3.1.1: unsubscribe stops delivery', async () => {
  await withBroker(async (h) => {
    for (const protocolVersion of [5, 4] as const) {
      const sub = await h.mqtt({ protocolVersion });
      const got = collect(sub);
      await sub.subscribeAsync([`js${protocolVersion}/a`, `js${protocolVersion}/b`], { qos: 1 });
      await sub.unsubscribeAsync(`js${protocolVersion}/a`);
      const pub = await h.mqtt({ protocolVersion });
      await pub.publishAsync(`js${protocolVersion}/a`, 'gone', { qos: 1 });
      await pub.publishAsync(`js${protocolVersion}/b`, 'kept', { qos: 1 });
      await got.waitCount(1);
      // Per-connection order: "gone" would have arrived before "kept".
      assert.equal(
        got.messages.map((m) => m.payload),
        ['kept'],
      );
    }
  });
});

test.run();
