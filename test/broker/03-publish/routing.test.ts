// Where a PUBLISH goes: "No matching subscribers" acknowledgements, topic names with wildcards refused,
// `$` topics hidden from wildcard filters, and one copy per client for overlapping subscriptions.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IDisconnectPacket, IPubackPacket, IPubcompPacket, IPublishPacket, IPubrecPacket } from 'mqtt-packet';
import { collect } from '../../helpers/mqttjs.js';
import { nextPublish, PubKit, publishPacket, subscribe, sync } from '../../helpers/publish-kit.js';
import { beforePing } from '../../helpers/end-marker.js';

const test = suite('03-publish: routing');

test('MQTT 5.0: PUBACK and PUBREC carry 0x10 No matching subscribers when nobody subscribed, 0x00 once someone has', async () => {
  await PubKit.run({}, async (k) => {
    const { client: pub } = await k.raw({ clientId: 'nms-pub' });
    pub.send(publishPacket('nms/t', 'nobody', { qos: 1, messageId: 1 }));
    assert.equal(await pub.next('puback').then((p) => [(p as IPubackPacket).messageId, (p as IPubackPacket).reasonCode]), [1, 0x10]);
    pub.send(publishPacket('nms/t', 'nobody', { qos: 2, messageId: 2 }));
    assert.equal(await pub.next('pubrec').then((p) => [(p as IPubrecPacket).messageId, (p as IPubrecPacket).reasonCode]), [2, 0x10]);
    // 0x10 is a success code: the QoS 2 exchange continues normally.
    pub.send({ cmd: 'pubrel', messageId: 2 });
    assert.is(((await pub.next('pubcomp')) as IPubcompPacket).reasonCode, 0);

    await k.rawSub([{ topic: 'nms/#', qos: 0 }], { connect: { clientId: 'nms-sub' } });
    pub.send(publishPacket('nms/t', 'somebody', { qos: 1, messageId: 3 }));
    assert.equal(await pub.next('puback').then((p) => [(p as IPubackPacket).messageId, (p as IPubackPacket).reasonCode]), [3, 0]);
  });
});

test('MQTT 3.1.1: PUBACK with no subscribers is a plain PUBACK (no reason code)', async () => {
  await PubKit.run({}, async (k) => {
    const { client: pub } = await k.raw({ clientId: 'nms4-pub' }, 4);
    pub.send(publishPacket('nms4/t', 'nobody', { qos: 1, messageId: 5 }));
    const ack = (await pub.next('puback')) as IPubackPacket;
    assert.equal([ack.messageId, ack.reasonCode, ack.length], [5, undefined, 2]);
  });
});

for (const version of [4, 5] as const) {
  for (const topic of ['wild/+', 'wild/#', 'wild/a+b', '+']) {
    test(`MQTT ${version === 5 ? '5.0' : '3.1.1'}: PUBLISH to "${topic}" ends the connection${version === 5 ? ' with DISCONNECT 0x90 Topic Name invalid' : ''}, nothing is delivered [MQTT-3.3.2-2]`, async () => {
      await PubKit.run({}, async (k) => {
        const sub = await k.rawSub([{ topic: '#', qos: 0 }], { connect: { clientId: 'wild-sub' } });
        const { client } = await k.raw({ clientId: 'wild-pub' }, version);
        client.send(publishPacket(topic, 'x', { qos: 1, messageId: 1 }));
        const rest = await client.expectClose();
        if (version === 5) {
          assert.is(rest.length, 1);
          assert.is(rest[0]!.cmd, 'disconnect');
          assert.is((rest[0] as IDisconnectPacket).reasonCode, 0x90);
        } else {
          assert.is(rest.length, 0);
        }
        assert.equal(await beforePing(sub), []);
        await sync(sub);
      });
    });
  }
}

test('topics starting with $ are not delivered to "#" or "+/..." subscribers, but are to filters naming the $ level [MQTT-4.7.2-1]', async () => {
  await PubKit.run({}, async (k) => {
    const wild = await k.mqttjs({ clientId: 'dollar-wild', protocolVersion: 4 });
    const wildIn = collect(wild);
    await wild.subscribeAsync({ '#': { qos: 0 }, '+/broker/status': { qos: 0 }, '+/#': { qos: 0 } });
    const sys = await k.mqttjs({ clientId: 'dollar-sys' });
    const sysIn = collect(sys);
    await sys.subscribeAsync({ '$SYS/#': { qos: 1 }, '$SYS/+/status': { qos: 1 }, '$SYS/broker/status': { qos: 1 } });

    const pub = await k.mqttjs({ clientId: 'dollar-pub' });
    await pub.publishAsync('$SYS/broker/status', 'sys', { qos: 1 });
    await pub.publishAsync('$internal/x', 'internal', { qos: 1 });
    await pub.publishAsync('plain/broker/status', 'plain', { qos: 1 });

    // A last message both receive: anything routed before it has arrived once it has.
    await sys.subscribeAsync('barrier', { qos: 1 });
    await pub.publishAsync('barrier', 'end', { qos: 1 });
    await wildIn.waitCount(2);
    await sysIn.waitCount(2);
    assert.equal(wildIn.messages.map((m) => [m.topic, m.payload]), [['plain/broker/status', 'plain'], ['barrier', 'end']]);
    // Three overlapping $SYS filters: one copy [MQTT-3.3.4-2].
    assert.equal(sysIn.messages.map((m) => [m.topic, m.payload]), [['$SYS/broker/status', 'sys'], ['barrier', 'end']]);
  });
});

test('overlapping subscriptions of one client: one copy at the highest granted QoS with all subscription identifiers [MQTT-3.3.4-2] [MQTT-3.3.4-3]', async () => {
  await PubKit.run({}, async (k) => {
    const { client: sub } = await k.raw({ clientId: 'overlap-sub' });
    await subscribe(sub, [{ topic: 'ov/#', qos: 0 }], 11, 1);
    await subscribe(sub, [{ topic: 'ov/+', qos: 2 }], 22, 2);
    await subscribe(sub, [{ topic: 'ov/a', qos: 1 }], 33, 3);
    await subscribe(sub, [{ topic: '+/b', qos: 1 }], undefined, 4);
    const { client: pub } = await k.raw({ clientId: 'overlap-pub' });

    const sent: Array<[string, 0 | 1 | 2]> = [
      ['ov/a', 2], // ov/#(0) ov/+(2) ov/a(1) -> QoS 2, ids 11 22 33
      ['ov/a', 1], // -> QoS 1
      ['ov/b', 2], // ov/#(0) ov/+(2) +/b(1, no id) -> QoS 2, ids 11 22
      ['ov/x/y', 2], // only ov/#(0) -> QoS 0, id 11
    ];
    sent.forEach(([t, q], i) => pub.send(publishPacket(t, `m${i}`, q === 0 ? {} : { qos: q, messageId: i + 1 })));
    const got: Array<[string, string, number, number[]]> = [];
    for (let i = 0; i < sent.length; i++) {
      const p: IPublishPacket = await nextPublish(sub);
      const ids = p.properties?.subscriptionIdentifier;
      got.push([p.topic, p.payload.toString(), p.qos, (Array.isArray(ids) ? [...ids] : ids === undefined ? [] : [ids]).sort((a, b) => a - b)]);
    }
    assert.equal(got, [
      ['ov/a', 'm0', 2, [11, 22, 33]],
      ['ov/a', 'm1', 1, [11, 22, 33]],
      ['ov/b', 'm2', 2, [11, 22]],
      ['ov/x/y', 'm3', 0, [11]],
    ]);
    assert.equal(await beforePing(sub), [], 'a second copy was delivered');
  });
});

test('MQTT 3.1.1 (MQTT.js): overlapping subscriptions deliver one copy at the highest QoS', async () => {
  await PubKit.run({}, async (k) => {
    const sub = await k.mqttjs({ clientId: 'overlap4', protocolVersion: 4 });
    const inbox = collect(sub);
    await sub.subscribeAsync({ 'o4/#': { qos: 0 }, 'o4/+': { qos: 1 }, '+/t': { qos: 2 }, barrier: { qos: 2 } });
    const pub = await k.mqttjs({ clientId: 'overlap4-pub', protocolVersion: 4 });
    await pub.publishAsync('o4/t', 'once', { qos: 2 });
    // A last message on its own subscription: a second copy of the first would have arrived before it.
    await pub.publishAsync('barrier', 'end', { qos: 2 });
    await inbox.waitCount(2);
    assert.equal(inbox.messages.map((m) => [m.topic, m.payload, m.packet.qos]), [['o4/t', 'once', 2], ['barrier', 'end', 2]]);
  });
});

test.run();
