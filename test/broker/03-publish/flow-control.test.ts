// Flow control in both directions: Receive Maximum (the client's, which bounds what the broker keeps in flight
// to it, and the broker's, which a client must not exceed) and Maximum Packet Size (the broker's, enforced on
// incoming packets, and the client's, which decides what the broker may send it).

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import mqtt from 'mqtt-packet';
import type { IConnackPacket, IDisconnectPacket, IPubrecPacket } from 'mqtt-packet';
import { collect } from '../../helpers/mqttjs.js';
import { nextPublish, PubKit, publishPacket, sync } from '../../helpers/publish-kit.js';
import { beforePing } from '../../helpers/end-marker.js';

const test = suite('03-publish: Receive Maximum and Maximum Packet Size');

test('client Receive Maximum 2: never more than 2 unacknowledged QoS 1 messages to it; the rest follow one per PUBACK [MQTT-3.3.4-9]', async () => {
  await PubKit.run({}, async (k) => {
    const sub = await k.rawSub([{ topic: 'rm/t', qos: 1 }], { connect: { clientId: 'rm-sub', properties: { receiveMaximum: 2 } } });
    const { client: pub } = await k.raw({ clientId: 'rm-pub' });
    for (let i = 0; i < 5; i++) pub.send(publishPacket('rm/t', `m${i}`, { qos: 1, messageId: i + 1 }));
    for (let i = 0; i < 5; i++) await pub.next('puback');

    const a = await nextPublish(sub);
    const b = await nextPublish(sub);
    assert.equal([a.payload.toString(), b.payload.toString()], ['m0', 'm1']);
    assert.equal(await beforePing(sub), [], 'a third message was sent with 2 unacknowledged');
    assert.is(k.session('rm-sub').inflight.size, 2);
    assert.is(k.session('rm-sub').pending.length, 3);

    sub.send({ cmd: 'puback', messageId: a.messageId! });
    const c = await nextPublish(sub);
    assert.is(c.payload.toString(), 'm2');
    assert.equal(await beforePing(sub), []);

    sub.send({ cmd: 'puback', messageId: b.messageId! });
    sub.send({ cmd: 'puback', messageId: c.messageId! });
    const d = await nextPublish(sub);
    const e = await nextPublish(sub);
    assert.equal([d.payload.toString(), e.payload.toString()], ['m3', 'm4']);
    sub.send({ cmd: 'puback', messageId: d.messageId! });
    sub.send({ cmd: 'puback', messageId: e.messageId! });
    await sync(sub);
    assert.is(k.session('rm-sub').inflight.size, 0);
    assert.is(k.session('rm-sub').pending.length, 0);
  });
});

test('client Receive Maximum 1 with QoS 2: PUBREC does not open the window, PUBCOMP does [MQTT-3.3.4-9]', async () => {
  await PubKit.run({}, async (k) => {
    const sub = await k.rawSub([{ topic: 'rm2/t', qos: 2 }], { connect: { clientId: 'rm2-sub', properties: { receiveMaximum: 1 } } });
    const pub = await k.mqttjs();
    await pub.publishAsync('rm2/t', 'one', { qos: 2 });
    await pub.publishAsync('rm2/t', 'two', { qos: 2 });
    const one = await nextPublish(sub);
    assert.is(one.payload.toString(), 'one');
    sub.send({ cmd: 'pubrec', messageId: one.messageId! });
    assert.is((await sub.next('pubrel')).messageId, one.messageId);
    assert.equal(await beforePing(sub), [], 'the next PUBLISH came before PUBCOMP');
    sub.send({ cmd: 'pubcomp', messageId: one.messageId! });
    const two = await nextPublish(sub);
    assert.is(two.payload.toString(), 'two');
  });
});

test('a client exceeding the broker Receive Maximum with uncompleted QoS 2 PUBLISHes gets DISCONNECT 0x93; completing one frees a slot [MQTT-3.3.4-7]', async () => {
  await PubKit.run({ receiveMaximum: 2 }, async (k) => {
    const { client, connack } = await k.raw({ clientId: 'rm-over' });
    assert.is((connack as IConnackPacket).properties?.receiveMaximum, 2);
    client.send(publishPacket('over/t', 'a', { qos: 2, messageId: 1 }));
    client.send(publishPacket('over/t', 'b', { qos: 2, messageId: 2 }));
    assert.is(((await client.next('pubrec')) as IPubrecPacket).messageId, 1);
    assert.is(((await client.next('pubrec')) as IPubrecPacket).messageId, 2);
    // Completing id 1 frees its slot: a third message is within the limit.
    client.send({ cmd: 'pubrel', messageId: 1 });
    assert.is((await client.next('pubcomp')).messageId, 1);
    client.send(publishPacket('over/t', 'c', { qos: 2, messageId: 3 }));
    assert.is(((await client.next('pubrec')) as IPubrecPacket).messageId, 3);
    // Ids 2 and 3 are uncompleted: a fourth exceeds Receive Maximum 2.
    client.send(publishPacket('over/t', 'd', { qos: 2, messageId: 4 }));
    const rest = await client.expectClose();
    assert.is(rest.length, 1);
    assert.is(rest[0]!.cmd, 'disconnect');
    assert.is((rest[0] as IDisconnectPacket).reasonCode, 0x93);
  });
});

for (const version of [4, 5] as const) {
  test(`MQTT ${version === 5 ? '5.0' : '3.1.1'}: a packet over mqtt.maxPacketSize ends the connection${version === 5 ? ' with DISCONNECT 0x95' : ''}; exactly the limit is accepted; other clients are unaffected`, async () => {
    await PubKit.run({ maxPacketSize: 1024 }, async (k) => {
      const sub = await k.mqttjs({ protocolVersion: 4, clientId: 'mps-witness-sub' });
      const other = await k.mqttjs({ clientId: 'mps-witness-pub' });
      const inbox = collect(sub);
      await sub.subscribeAsync('mps/#', { qos: 1 });

      const { client, connack } = await k.raw({ clientId: 'mps-big' }, version);
      if (version === 5) assert.is((connack as IConnackPacket).properties?.maximumPacketSize, 1024);
      const fits = publishPacket('mps/t', Buffer.alloc(version === 5 ? 1011 : 1012, 0x61), { qos: 1, messageId: 1 });
      assert.is(mqtt.generate(fits, { protocolVersion: version }).length, 1024);
      client.send(fits);
      assert.is((await client.next('puback')).messageId, 1);
      await inbox.waitCount(1);

      const tooBig = publishPacket('mps/t', Buffer.alloc(version === 5 ? 1012 : 1013, 0x62), { qos: 1, messageId: 2 });
      assert.is(mqtt.generate(tooBig, { protocolVersion: version }).length, 1025);
      client.send(tooBig);
      const rest = await client.expectClose();
      if (version === 5) {
        assert.is(rest.length, 1);
        assert.is((rest[0] as IDisconnectPacket).cmd, 'disconnect');
        assert.is((rest[0] as IDisconnectPacket).reasonCode, 0x95);
      } else {
        assert.is(rest.length, 0);
      }

      await other.publishAsync('mps/after', 'still routing', { qos: 1 });
      await inbox.waitCount(2);
      assert.equal(inbox.messages.map((m) => [m.topic, m.payload.length]), [['mps/t', version === 5 ? 1011 : 1012], ['mps/after', 13]]);
      assert.ok(k.connection('mps-witness-sub'));
    });
  });
}

test('client Maximum Packet Size: larger messages (QoS 0 and 1) are skipped and counted, later ones still arrive [MQTT-3.1.2-24] [MQTT-3.1.2-25]', async () => {
  await PubKit.run({}, async (k) => {
    const sub = await k.rawSub([{ topic: 'cmps/#', qos: 1 }], { connect: { clientId: 'cmps-sub', properties: { maximumPacketSize: 256 } } });
    const { client: pub } = await k.raw({ clientId: 'cmps-pub' });
    const big = Buffer.alloc(300, 0x78);
    pub.send(publishPacket('cmps/t', 'a', { qos: 1, messageId: 1 }));
    pub.send(publishPacket('cmps/t', big, { qos: 1, messageId: 2 }));
    pub.send(publishPacket('cmps/t', 'c'));
    pub.send(publishPacket('cmps/t', big));
    pub.send(publishPacket('cmps/t', 'e', { qos: 1, messageId: 3 }));
    for (const id of [1, 2, 3]) assert.is((await pub.next('puback')).messageId, id);
    const got = [];
    for (let i = 0; i < 3; i++) {
      const p = await nextPublish(sub);
      got.push([p.payload.toString(), p.qos]);
      if (p.qos > 0) sub.send({ cmd: 'puback', messageId: p.messageId! });
    }
    assert.equal(got, [['a', 1], ['c', 0], ['e', 1]]);
    assert.equal(await beforePing(sub), []);
    assert.is(k.broker.stats.droppedTooLarge, 2);
    await sync(sub);
    // The skipped QoS 1 message behaves as if delivered: it holds no inflight slot.
    assert.is(k.session('cmps-sub').inflight.size, 0);
  });
});

test('client Maximum Packet Size: an oversized message queued behind a full Receive Maximum window is skipped when the window opens', async () => {
  await PubKit.run({}, async (k) => {
    const sub = await k.rawSub([{ topic: 'qmps/t', qos: 1 }], {
      connect: { clientId: 'qmps-sub', properties: { maximumPacketSize: 256, receiveMaximum: 1 } },
    });
    const { client: pub } = await k.raw({ clientId: 'qmps-pub' });
    const payloads = ['a', 'x'.repeat(300), 'c', 'y'.repeat(300), 'e'];
    payloads.forEach((p, i) => pub.send(publishPacket('qmps/t', p, { qos: 1, messageId: i + 1 })));
    for (let i = 0; i < payloads.length; i++) await pub.next('puback');
    const got: string[] = [];
    for (let i = 0; i < 3; i++) {
      const p = await nextPublish(sub);
      got.push(p.payload.toString());
      assert.equal(await beforePing(sub), [], 'more than Receive Maximum in flight');
      sub.send({ cmd: 'puback', messageId: p.messageId! });
    }
    assert.equal(got, ['a', 'c', 'e']);
    await sync(sub);
    assert.is(k.session('qmps-sub').inflight.size, 0);
    assert.is(k.session('qmps-sub').pending.length, 0);
    assert.is(k.broker.stats.droppedTooLarge, 2);
  });
});

test.run();
