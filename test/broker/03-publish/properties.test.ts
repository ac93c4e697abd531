// MQTT 5.0 PUBLISH properties on their way through the broker: Message Expiry Interval (counted down while a
// message waits, expired messages dropped, but never for a PUBLISH already sent), and the end-to-end properties
// (payload format indicator, content type, response topic, correlation data, user properties) passed unchanged.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IConnackPacket, IPublishPacket } from 'mqtt-packet';
import { collect } from '../../helpers/mqttjs.js';
import { advanceClock, nextPublish, PubKit, publishPacket, sync } from '../../helpers/publish-kit.js';
import type { RawClient } from '../../helpers/raw-client.js';
import { beforePing } from '../../helpers/end-marker.js';

const test = suite('03-publish: message expiry and end-to-end properties');

const persistent = (clientId: string) => ({ clientId, clean: false, properties: { sessionExpiryInterval: 300 } });

async function goOffline(client: RawClient): Promise<void> {
  client.send({ cmd: 'disconnect', reasonCode: 0 });
  await client.expectClose();
}

test('a live delivery forwards the Message Expiry Interval as published; a message without one gets none', async () => {
  await PubKit.run({}, async (k) => {
    const sub = await k.rawSub([{ topic: 'exp/live', qos: 1 }], { connect: { clientId: 'exp-live-sub' } });
    const { client: pub } = await k.raw({ clientId: 'exp-live-pub' });
    pub.send(publishPacket('exp/live', 'with', { qos: 1, messageId: 1, properties: { messageExpiryInterval: 60 } }));
    pub.send(publishPacket('exp/live', 'without', { qos: 1, messageId: 2 }));
    const a = await nextPublish(sub);
    const b = await nextPublish(sub);
    assert.equal([a.payload.toString(), a.properties?.messageExpiryInterval], ['with', 60]);
    assert.equal([b.payload.toString(), b.properties?.messageExpiryInterval], ['without', undefined]);
  });
});

test('messages queued for an offline session: the forwarded expiry is reduced by the time waited, expired ones are not delivered [MQTT-3.3.2-5] [MQTT-3.3.2-6]', async () => {
  await PubKit.run({}, async (k) => {
    const sub = await k.rawSub([{ topic: 'exp/q', qos: 1 }], { connect: persistent('exp-q-sub') });
    await goOffline(sub);
    const { client: pub } = await k.raw({ clientId: 'exp-q-pub' });
    pub.send(publishPacket('exp/q', 'sixty', { qos: 1, messageId: 1, properties: { messageExpiryInterval: 60 } }));
    pub.send(publishPacket('exp/q', 'five', { qos: 1, messageId: 2, properties: { messageExpiryInterval: 5 } }));
    pub.send(publishPacket('exp/q', 'forever', { qos: 1, messageId: 3 }));
    pub.send(publishPacket('exp/q', 'ten', { qos: 1, messageId: 4, properties: { messageExpiryInterval: 10 } }));
    for (let i = 0; i < 4; i++) await pub.next('puback');
    assert.is(k.session('exp-q-sub').pending.length, 4);

    const restore = advanceClock(9_000);
    try {
      const { client: back, connack } = await k.raw(persistent('exp-q-sub'));
      assert.is((connack as IConnackPacket).sessionPresent, true);
      const got: Array<[string, number | undefined]> = [];
      for (let i = 0; i < 3; i++) {
        const p = await nextPublish(back);
        got.push([p.payload.toString(), p.properties?.messageExpiryInterval]);
        back.send({ cmd: 'puback', messageId: p.messageId! });
      }
      // Rounded up to whole seconds: 60 s - 9 s waited (plus the test's own few ms) = 51; 'five' expired; 10 s - 9 s = 1.
      assert.equal(got, [['sixty', 51], ['forever', undefined], ['ten', 1]]);
      assert.equal(await beforePing(back), [], 'the expired message was delivered');
    } finally {
      restore();
    }
  });
});

test('a message that expires while waiting behind a full Receive Maximum window is skipped when the window opens [MQTT-3.3.2-5]', async () => {
  await PubKit.run({}, async (k) => {
    const sub = await k.rawSub([{ topic: 'exp/w', qos: 1 }], { connect: { clientId: 'exp-w-sub', properties: { receiveMaximum: 1 } } });
    const { client: pub } = await k.raw({ clientId: 'exp-w-pub' });
    pub.send(publishPacket('exp/w', 'first', { qos: 1, messageId: 1 }));
    pub.send(publishPacket('exp/w', 'short', { qos: 1, messageId: 2, properties: { messageExpiryInterval: 2 } }));
    pub.send(publishPacket('exp/w', 'last', { qos: 1, messageId: 3 }));
    for (let i = 0; i < 3; i++) await pub.next('puback');
    const first = await nextPublish(sub);
    assert.is(first.payload.toString(), 'first');
    const restore = advanceClock(3_000);
    try {
      sub.send({ cmd: 'puback', messageId: first.messageId! });
      const next = await nextPublish(sub);
      assert.equal([next.payload.toString(), next.properties?.messageExpiryInterval], ['last', undefined]);
    } finally {
      restore();
    }
  });
});

test('a QoS 1 or QoS 2 PUBLISH already sent is resent on reconnect even after its expiry passed [MQTT-4.3.3-7] [MQTT-4.4.0-1]', async () => {
  await PubKit.run({}, async (k) => {
    const sub = await k.rawSub(
      [
        { topic: 'exp/s1', qos: 1 },
        { topic: 'exp/s2', qos: 2 },
      ],
      { connect: persistent('exp-s-sub') },
    );
    const { client: pub } = await k.raw({ clientId: 'exp-s-pub' });
    pub.send(publishPacket('exp/s1', 'q1', { qos: 1, messageId: 1, properties: { messageExpiryInterval: 2 } }));
    pub.send(publishPacket('exp/s2', 'q2', { qos: 2, messageId: 2, properties: { messageExpiryInterval: 2 } }));
    const q1 = await nextPublish(sub);
    const q2 = await nextPublish(sub);
    assert.equal([q1.payload.toString(), q2.payload.toString()], ['q1', 'q2']);
    await goOffline(sub); // neither acknowledged

    const restore = advanceClock(5_000);
    try {
      const { client: back } = await k.raw(persistent('exp-s-sub'));
      const r1 = await nextPublish(back);
      const r2 = await nextPublish(back);
      assert.equal([r1.payload.toString(), r1.dup, r1.messageId, r1.qos], ['q1', true, q1.messageId, 1]);
      assert.equal([r2.payload.toString(), r2.dup, r2.messageId, r2.qos], ['q2', true, q2.messageId, 2]);
      back.send({ cmd: 'puback', messageId: r1.messageId! });
      back.send({ cmd: 'pubrec', messageId: r2.messageId! });
      assert.is((await back.next('pubrel')).messageId, r2.messageId);
      back.send({ cmd: 'pubcomp', messageId: r2.messageId! });
      await sync(back);
      assert.is(k.session('exp-s-sub').inflight.size, 0);
    } finally {
      restore();
    }
  });
});

const endToEnd = {
  payloadFormatIndicator: true,
  contentType: 'application/json; charset=utf-8',
  responseTopic: 'reply/to/me',
  correlationData: Buffer.from([0x00, 0x01, 0xfe, 0xff, 0x7f]),
  userProperties: { trace: 'abc-123', tag: ['first', 'second', 'third'], 'ключ': 'значение' },
};

/** mqtt-packet decodes user properties into a null-prototype object; copy it to a plain one to compare. */
function plain(props: IPublishPacket['properties']): IPublishPacket['properties'] {
  if (props?.userProperties === undefined) return props;
  return { ...props, userProperties: { ...props.userProperties } };
}

test('payload format indicator, content type, response topic, correlation data and user properties reach a raw 5.0 subscriber exactly as sent [MQTT-3.3.2-4] [MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-17] [MQTT-3.3.2-18] [MQTT-3.3.2-20]', async () => {
  await PubKit.run({}, async (k) => {
    const subs = [
      await k.rawSub([{ topic: 'props/#', qos: 0 }], { connect: { clientId: 'props-sub-q0' } }),
      await k.rawSub([{ topic: 'props/#', qos: 2 }], { connect: { clientId: 'props-sub-q2' } }),
    ];
    const { client: pub } = await k.raw({ clientId: 'props-pub' });
    const payload = Buffer.from('{"temp":21.5}');
    pub.send(publishPacket('props/t', payload, { qos: 1, messageId: 9, properties: { ...endToEnd } }));
    await pub.next('puback');
    for (const sub of subs) {
      const p = await nextPublish(sub);
      assert.is(p.topic, 'props/t');
      assert.ok(Buffer.compare(p.payload as Buffer, payload) === 0);
      assert.equal(plain(p.properties), endToEnd);
    }
  });
});

test('MQTT.js 5.0 subscriber sees the end-to-end properties exactly as an MQTT.js publisher sent them; a 3.1.1 subscriber gets the same payload', async () => {
  await PubKit.run({}, async (k) => {
    const sub5 = await k.mqttjs({ clientId: 'props-mj5' });
    const sub4 = await k.mqttjs({ clientId: 'props-mj4', protocolVersion: 4 });
    const in5 = collect(sub5);
    const in4 = collect(sub4);
    await sub5.subscribeAsync('mjprops/#', { qos: 1 });
    await sub4.subscribeAsync('mjprops/#', { qos: 1 });
    const pub = await k.mqttjs({ clientId: 'props-mjpub' });
    await pub.publishAsync('mjprops/t', 'body', { qos: 1, properties: { ...endToEnd } });
    await in5.waitCount(1);
    await in4.waitCount(1);
    assert.equal(plain((in5.messages[0]!.packet as IPublishPacket).properties), endToEnd);
    assert.equal([in4.messages[0]!.topic, in4.messages[0]!.payload], ['mjprops/t', 'body']);
  });
});

test('a PUBLISH without properties reaches a 5.0 subscriber with no properties added', async () => {
  await PubKit.run({}, async (k) => {
    const sub = await k.rawSub([{ topic: 'bare/t', qos: 1 }], { connect: { clientId: 'bare-sub' } });
    const { client: pub } = await k.raw({ clientId: 'bare-pub' });
    pub.send(publishPacket('bare/t', 'plain', { qos: 1, messageId: 1 }));
    const p = await nextPublish(sub);
    assert.is(p.payload.toString(), 'plain');
    assert.is(p.properties, undefined);
  });
});

test.run();
