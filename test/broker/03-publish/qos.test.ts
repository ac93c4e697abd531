// PUBLISH at QoS 0, 1 and 2 in both directions: the QoS downgrade matrix, the QoS 1 and QoS 2 handshakes
// seen from a raw client on each side, and the broker's outgoing packet identifiers.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IPubackPacket, IPubcompPacket, IPublishPacket, IPubrecPacket, IPubrelPacket, QoS } from 'mqtt-packet';
import { collect } from '../../helpers/mqttjs.js';
import { nextPublish, PubKit, publishPacket, sync } from '../../helpers/publish-kit.js';
import { beforePing } from '../../helpers/end-marker.js';

const test = suite('03-publish: QoS levels and acknowledgement flows');

for (const version of [4, 5] as const) {
  test(`MQTT ${version === 5 ? '5.0' : '3.1.1'} (MQTT.js): each of the 9 publish QoS x subscription QoS pairs is delivered once at the lower QoS [MQTT-3.8.4-8]`, async () => {
    await PubKit.run({}, async (k) => {
      const sub = await k.mqttjs({ protocolVersion: version, clientId: `matrix-sub-${version}` });
      const pub = await k.mqttjs({ protocolVersion: version, clientId: `matrix-pub-${version}` });
      const inbox = collect(sub);
      await sub.subscribeAsync({ 'm/0': { qos: 0 }, 'm/1': { qos: 1 }, 'm/2': { qos: 2 } });
      const expected: Record<string, number> = {};
      for (const pq of [0, 1, 2] as QoS[]) {
        for (const sq of [0, 1, 2] as QoS[]) {
          await pub.publishAsync(`m/${sq}`, `p${pq}s${sq}`, { qos: pq });
          expected[`m/${sq} p${pq}s${sq}`] = Math.min(pq, sq);
        }
      }
      await inbox.waitCount(9);
      const got: Record<string, number> = {};
      for (const m of inbox.messages) got[`${m.topic} ${m.payload}`] = m.packet.qos;
      assert.equal(got, expected);
      assert.is(inbox.messages.length, 9);
    });
  });
}

for (const version of [4, 5] as const) {
  const v = version === 5 ? '5.0' : '3.1.1';

  test(`MQTT ${v}: QoS 1 PUBLISH is answered by PUBACK with its packet identifier; the subscriber's copy stays in flight until its PUBACK`, async () => {
    await PubKit.run({}, async (k) => {
      const sub = await k.rawSub([{ topic: 'q1/t', qos: 1 }], { version, connect: { clientId: 'q1-sub' } });
      const { client: pub } = await k.raw({ clientId: 'q1-pub' }, version);
      pub.send(publishPacket('q1/t', 'hello', { qos: 1, messageId: 42 }));
      const ack = (await pub.next('puback')) as IPubackPacket;
      assert.is(ack.messageId, 42);
      assert.is(ack.reasonCode, version === 5 ? 0 : undefined);
      const p = await nextPublish(sub);
      assert.is(p.topic, 'q1/t');
      assert.is(p.payload.toString(), 'hello');
      assert.is(p.qos, 1);
      assert.is(p.dup, false);
      assert.ok(p.messageId! > 0);
      assert.equal([...k.session('q1-sub').inflight.keys()], [p.messageId]);
      sub.send({ cmd: 'puback', messageId: p.messageId! });
      await sync(sub);
      assert.is(k.session('q1-sub').inflight.size, 0);
    });
  });

  test(`MQTT ${v}: incoming QoS 2 — PUBREC, a duplicate before PUBREL is acknowledged but not delivered again, PUBREL gets PUBCOMP, then the id is new again [MQTT-4.3.3-8] [MQTT-4.3.3-10] [MQTT-4.3.3-11] [MQTT-4.3.3-12]`, async () => {
    await PubKit.run({}, async (k) => {
      const sub = await k.rawSub([{ topic: 'q2/t', qos: 2 }], { version, connect: { clientId: 'q2-sub' } });
      const { client: pub } = await k.raw({ clientId: 'q2-pub' }, version);

      pub.send(publishPacket('q2/t', 'first', { qos: 2, messageId: 7 }));
      const rec = (await pub.next('pubrec')) as IPubrecPacket;
      assert.is(rec.messageId, 7);
      assert.is(rec.reasonCode, version === 5 ? 0 : undefined);
      const first = await nextPublish(sub);
      assert.is(first.payload.toString(), 'first');
      assert.is(first.qos, 2);

      // Resent (DUP) before PUBREL: PUBREC again, no second delivery.
      pub.send(publishPacket('q2/t', 'first', { qos: 2, messageId: 7, dup: true }));
      assert.is(((await pub.next('pubrec')) as IPubrecPacket).messageId, 7);
      // Same id without DUP is still the same exchange until PUBREL.
      pub.send(publishPacket('q2/t', 'first', { qos: 2, messageId: 7 }));
      assert.is(((await pub.next('pubrec')) as IPubrecPacket).messageId, 7);
      assert.equal(await beforePing(sub), [], 'the duplicate QoS 2 PUBLISH was delivered again');

      pub.send({ cmd: 'pubrel', messageId: 7 });
      const comp = (await pub.next('pubcomp')) as IPubcompPacket;
      assert.is(comp.messageId, 7);
      assert.is(comp.reasonCode, version === 5 ? 0 : undefined);

      // After PUBCOMP the identifier starts a new message, which is delivered.
      pub.send(publishPacket('q2/t', 'second', { qos: 2, messageId: 7 }));
      assert.is(((await pub.next('pubrec')) as IPubrecPacket).messageId, 7);
      const second = await nextPublish(sub);
      assert.is(second.payload.toString(), 'second');
      pub.send({ cmd: 'pubrel', messageId: 7 });
      assert.is(((await pub.next('pubcomp')) as IPubcompPacket).messageId, 7);
      assert.equal(await beforePing(sub), []);
    });
  });

  test(`MQTT ${v}: PUBREL for a packet identifier the broker does not know is answered by PUBCOMP${version === 5 ? ' 0x92 Packet Identifier not found' : ''} [MQTT-4.3.3-11]`, async () => {
    await PubKit.run({}, async (k) => {
      const { client } = await k.raw({ clientId: 'unknown-pubrel' }, version);
      client.send({ cmd: 'pubrel', messageId: 999 });
      const comp = (await client.next('pubcomp')) as IPubcompPacket;
      assert.is(comp.messageId, 999);
      assert.is(comp.reasonCode, version === 5 ? 0x92 : undefined);
      // The connection stays usable.
      await sync(client);
    });
  });

  test(`MQTT ${v}: outgoing QoS 2 — PUBLISH, client PUBREC, broker PUBREL with the same id, client PUBCOMP frees it [MQTT-4.3.3-1] [MQTT-4.3.3-4]`, async () => {
    await PubKit.run({}, async (k) => {
      const sub = await k.rawSub([{ topic: 'out2/#', qos: 2 }], { version, connect: { clientId: 'out2-sub' } });
      const pub = await k.mqttjs({ protocolVersion: version });
      await pub.publishAsync('out2/a', 'exactly-once', { qos: 2 });
      const p = await nextPublish(sub);
      assert.is(p.qos, 2);
      assert.is(p.dup, false);
      assert.is(p.payload.toString(), 'exactly-once');
      const id = p.messageId!;
      assert.equal(await beforePing(sub), [], 'PUBLISH resent before PUBREC on a live connection');

      sub.send({ cmd: 'pubrec', messageId: id });
      const rel = (await sub.next('pubrel')) as IPubrelPacket;
      assert.is(rel.messageId, id);
      assert.is(rel.reasonCode, version === 5 ? 0 : undefined);
      assert.is(k.session('out2-sub').inflight.get(id)?.released, true);

      sub.send({ cmd: 'pubcomp', messageId: id });
      await sync(sub);
      assert.is(k.session('out2-sub').inflight.size, 0);
      assert.equal(await beforePing(sub), []);
    });
  });
}

test('MQTT 5.0: PUBREC for a packet identifier the broker never sent is answered by PUBREL 0x92', async () => {
  await PubKit.run({}, async (k) => {
    const { client } = await k.raw({ clientId: 'unknown-pubrec' });
    client.send({ cmd: 'pubrec', messageId: 321 });
    const rel = (await client.next('pubrel')) as IPubrelPacket;
    assert.is(rel.messageId, 321);
    assert.is(rel.reasonCode, 0x92);
  });
});

test('outgoing packet identifiers are non-zero and never one still in flight, also when the counter wraps past 65535 [MQTT-2.2.1-4]', async () => {
  await PubKit.run({}, async (k) => {
    const sub = await k.rawSub([{ topic: 'ids/t', qos: 1 }], { connect: { clientId: 'ids-sub' } });
    const { client: pub } = await k.raw({ clientId: 'ids-pub' });
    const publishN = async (n: number, tag: string) => {
      for (let i = 0; i < n; i++) pub.send(publishPacket('ids/t', `${tag}${i}`, { qos: 1, messageId: i + 1 }));
      for (let i = 0; i < n; i++) await pub.next('puback');
      const ids: number[] = [];
      for (let i = 0; i < n; i++) {
        const p = await nextPublish(sub);
        assert.is(p.payload.toString(), `${tag}${i}`);
        ids.push(p.messageId!);
      }
      return ids;
    };
    const first = await publishN(10, 'a');
    assert.equal(first, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (const id of first.slice(0, 5)) sub.send({ cmd: 'puback', messageId: id });
    await sync(sub);
    const second = await publishN(10, 'b');
    assert.equal(second, [11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    // Reaching the end of the identifier space takes 65 533 exchanges; start the counter there instead.
    (k.session('ids-sub') as unknown as { nextPacketId: number }).nextPacketId = 65534;
    const third = await publishN(8, 'c');
    // 1-5 were acknowledged and are free again; 6-20 are still in flight and skipped.
    assert.equal(third, [65534, 65535, 1, 2, 3, 4, 5, 21]);
    assert.is(k.session('ids-sub').inflight.size, 23);
  });
});

test.run();
