// Shared subscriptions (MQTT 5.0 section 4.8.2): each message goes to exactly one member of a group, spread
// round robin among members; every group, and every non-shared subscriber, gets its own copy.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MqttClient } from 'mqtt';
import { collect } from '../../helpers/mqttjs.js';
import { nextPublish, publish, receivedOn, subscribe, unsubscribe, withBroker } from '../../helpers/sub-harness.js';
import { beforePing } from '../../helpers/end-marker.js';

const test = suite('07-shared: distribution');

/**
 * Each client also subscribes (non-shared) to "sentinel": published last, it reaches every client after all
 * the shared messages that client was going to get, since one connection keeps the order.
 */
async function publishAll(pub: MqttClient, clients: MqttClient[], topic: string, n: number, qos: 0 | 1 = 0): Promise<void> {
  const done = clients.map((c) => receivedOn(c, 'sentinel'));
  for (let i = 0; i < n; i++) await pub.publishAsync(topic, `m${i}`, { qos });
  await pub.publishAsync('sentinel', 'end', { qos: 1 });
  await Promise.all(done);
}

function payloads(got: ReturnType<typeof collect>): string[] {
  return got.messages.filter((m) => m.topic !== 'sentinel').map((m) => m.payload);
}

const all = (n: number) =>
  Array.from({ length: n }, (_, i) => `m${i}`).sort();

for (const qos of [0, 1] as const) {
  test(`QoS ${qos}: each message reaches exactly one member, spread round robin (section 4.8.2)`, async () => {
    await withBroker(async (h) => {
      const members: MqttClient[] = [];
      const got: Array<ReturnType<typeof collect>> = [];
      for (let i = 0; i < 3; i++) {
        const c = await h.mqtt({ clientId: `member${i}` });
        got.push(collect(c));
        await c.subscribeAsync(['$share/workers/jobs/+', 'sentinel'], { qos });
        members.push(c);
      }
      const pub = await h.mqtt();
      await publishAll(pub, members, 'jobs/a', 30, qos);
      const per = got.map(payloads);
      assert.equal(per.flat().sort(), all(30), 'every message once, none twice');
      const counts = per.map((p) => p.length);
      assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `fair split, got ${counts.join('/')}`);
      for (const m of got.flatMap((g) => g.messages)) assert.is(m.packet.qos, qos);
    });
  });
}

test('two groups each get every message once, and a non-shared subscriber gets its own copy', async () => {
  await withBroker(async (h) => {
    const clients: MqttClient[] = [];
    const byGroup: Record<string, Array<ReturnType<typeof collect>>> = { a: [], b: [], plain: [] };
    for (const [group, filter] of [
      ['a', '$share/a/t'],
      ['a', '$share/a/t'],
      ['b', '$share/b/t'],
      ['b', '$share/b/t'],
      ['plain', 't'],
    ] as const) {
      const c = await h.mqtt();
      byGroup[group]!.push(collect(c));
      await c.subscribeAsync([filter, 'sentinel'], { qos: 1 });
      clients.push(c);
    }
    const pub = await h.mqtt();
    await publishAll(pub, clients, 't', 10, 1);
    for (const group of ['a', 'b', 'plain']) {
      assert.equal(byGroup[group]!.flatMap(payloads).sort(), all(10), group);
    }
    assert.ok(byGroup.a!.every((g) => payloads(g).length > 0) && byGroup.b!.every((g) => payloads(g).length > 0), 'both members of each group used');
  });
});

test('one client in two groups gets one copy per group', async () => {
  await withBroker(async (h) => {
    const c = await h.raw();
    assert.equal(
      (
        await subscribe(c, [
          { topic: '$share/g1/dup', qos: 0 },
          { topic: '$share/g2/dup', qos: 0 },
        ])
      ).granted,
      [0, 0],
    );
    const pub = await h.raw();
    await publish(pub, 'dup', 'x');
    assert.equal([(await nextPublish(c)).text, (await nextPublish(c)).text], ['x', 'x']);
    assert.equal(await beforePing(c), []);
  });
});

test('a member is sent messages at its own granted QoS, with its Subscription Identifier', async () => {
  await withBroker(async (h) => {
    const c = await h.raw();
    assert.equal((await subscribe(c, [{ topic: '$share/g/q', qos: 0 }], { subscriptionIdentifier: 12 })).granted, [0]);
    const pub = await h.raw();
    await publish(pub, 'q', 'x', { qos: 1 });
    const m = await nextPublish(c);
    assert.equal([m.text, m.qos, m.properties?.subscriptionIdentifier], ['x', 0, 12]);
  });
});

test('after a member unsubscribes the others get everything; with no member left nothing matches', async () => {
  await withBroker(async (h) => {
    const a = await h.raw({ clientId: 'leaver' });
    const b = await h.raw({ clientId: 'stayer' });
    await subscribe(a, [{ topic: '$share/g/u', qos: 0 }]);
    await subscribe(b, [{ topic: '$share/g/u', qos: 0 }]);
    assert.equal((await unsubscribe(a, ['$share/g/u'])).granted, [0]);
    // A different group name is a different subscription.
    assert.equal((await unsubscribe(b, ['$share/other/u'])).granted, [0x11]);
    const pub = await h.raw();
    for (let i = 0; i < 4; i++) await publish(pub, 'u', `m${i}`);
    const got: string[] = [];
    for (let i = 0; i < 4; i++) got.push((await nextPublish(b)).text);
    assert.equal(got, ['m0', 'm1', 'm2', 'm3']);
    assert.equal(await beforePing(a), []);
    assert.equal((await unsubscribe(b, ['$share/g/u'])).granted, [0]);
    assert.is(h.broker.trie.size, 0);
    pub.send({ cmd: 'publish', topic: 'u', payload: Buffer.from('x'), qos: 1, messageId: 500, retain: false, dup: false });
    const ack = await pub.next('puback');
    assert.is((ack as { reasonCode?: number }).reasonCode, 0x10, 'No matching subscribers');
  });
});

test('3.1.1 clients can share a subscription too (MQTT.js)', async () => {
  await withBroker(async (h) => {
    const members: MqttClient[] = [];
    const got: Array<ReturnType<typeof collect>> = [];
    for (let i = 0; i < 2; i++) {
      const c = await h.mqtt({ protocolVersion: 4 });
      got.push(collect(c));
      await c.subscribeAsync(['$share/v4/t', 'sentinel'], { qos: 1 });
      members.push(c);
    }
    const pub = await h.mqtt({ protocolVersion: 4 });
    await publishAll(pub, members, 't', 6, 1);
    assert.equal(got.flatMap(payloads).sort(), all(6));
    assert.equal(
      got.map((g) => payloads(g).length),
      [3, 3],
      'round robin between two idle members',
    );
  });
});

test.run();
