// Topic aliases (MQTT 5.0 section 3.3.2.3.4) in both directions: a publisher's aliases resolved by the broker,
// invalid ones refused, and aliases the broker assigns to a subscriber that announced a Topic Alias Maximum.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IConnackPacket, IDisconnectPacket, IPubackPacket, IPublishPacket } from 'mqtt-packet';
import { collect } from '../../helpers/mqttjs.js';
import { nextPublish, PubKit, publishPacket, sync } from '../../helpers/publish-kit.js';
import type { RawClient } from '../../helpers/raw-client.js';

const test = suite('03-publish: topic aliases');

const aliased = (topic: string, payload: string, alias: number, fields: Partial<IPublishPacket> = {}) =>
  publishPacket(topic, payload, { ...fields, properties: { topicAlias: alias } });

async function expectDisconnect(client: RawClient, reasonCode: number): Promise<void> {
  const rest = await client.expectClose();
  assert.is(rest.length, 1, `expected only DISCONNECT, got ${JSON.stringify(rest)}`);
  assert.is(rest[0]!.cmd, 'disconnect');
  assert.is((rest[0] as IDisconnectPacket).reasonCode, reasonCode);
}

test('a client sets an alias with a topic, then publishes with an empty topic and the alias; re-mapping an alias switches its topic [MQTT-3.3.2-12]', async () => {
  await PubKit.run({}, async (k) => {
    const sub = await k.mqttjs({ protocolVersion: 4, clientId: 'alias-in-sub' });
    const inbox = collect(sub);
    await sub.subscribeAsync('alias/#', { qos: 1 });
    const { client: pub } = await k.raw({ clientId: 'alias-in-pub' });
    pub.send(aliased('alias/one', 'm1', 1));
    pub.send(aliased('', 'm2', 1, { qos: 1, messageId: 1 }));
    assert.is(((await pub.next('puback')) as IPubackPacket).reasonCode, 0);
    pub.send(aliased('alias/two', 'm3', 1)); // alias 1 now stands for alias/two
    pub.send(aliased('', 'm4', 1));
    pub.send(aliased('alias/three', 'm5', 64)); // the broker's default Topic Alias Maximum is 64
    pub.send(aliased('', 'm6', 64));
    await sync(pub);
    await inbox.waitCount(6);
    assert.equal(
      inbox.messages.map((m) => [m.topic, m.payload]),
      [['alias/one', 'm1'], ['alias/one', 'm2'], ['alias/two', 'm3'], ['alias/two', 'm4'], ['alias/three', 'm5'], ['alias/three', 'm6']],
    );
  });
});

test('MQTT.js with autoAssignTopicAlias: repeated publishes to one topic use one alias and arrive with the full topic', async () => {
  await PubKit.run({ topicAliasMaximum: 4 }, async (k) => {
    const sub = await k.mqttjs({ clientId: 'auto-alias-sub' });
    const inbox = collect(sub);
    await sub.subscribeAsync('auto/#', { qos: 1 });
    const pub = await k.mqttjs({ clientId: 'auto-alias-pub', autoAssignTopicAlias: true });
    for (let i = 0; i < 3; i++) await pub.publishAsync('auto/topic', `n${i}`, { qos: 1 });
    await inbox.waitCount(3);
    assert.equal(inbox.messages.map((m) => [m.topic, m.payload]), [['auto/topic', 'n0'], ['auto/topic', 'n1'], ['auto/topic', 'n2']]);
    assert.equal([...(k.connection('auto-alias-pub').aliasesIn ?? [])], [[1, 'auto/topic']]);
  });
});

test('topic alias 0 is refused with DISCONNECT 0x94 Topic Alias invalid [MQTT-3.3.2-8]', async () => {
  await PubKit.run({}, async (k) => {
    const { client } = await k.raw({ clientId: 'alias-zero' });
    client.send(aliased('zero/t', 'x', 0));
    await expectDisconnect(client, 0x94);
  });
});

test('a topic alias above the broker Topic Alias Maximum (4, announced in CONNACK) is refused with DISCONNECT 0x94 [MQTT-3.3.2-9]', async () => {
  await PubKit.run({ topicAliasMaximum: 4 }, async (k) => {
    const { client, connack } = await k.raw({ clientId: 'alias-high' });
    assert.is((connack as IConnackPacket).properties?.topicAliasMaximum, 4);
    client.send(aliased('high/t', 'fine', 4));
    await sync(client);
    client.send(aliased('high/t', 'too high', 5));
    await expectDisconnect(client, 0x94);
  });
});

test('an empty topic with an alias never set on this connection is a protocol error: DISCONNECT 0x82', async () => {
  await PubKit.run({}, async (k) => {
    const { client } = await k.raw({ clientId: 'alias-unknown' });
    client.send(aliased('', 'x', 3));
    await expectDisconnect(client, 0x82);
  });
});

test('aliases do not carry over to the next connection of the same session: reusing one is DISCONNECT 0x82 [MQTT-3.3.2-7]', async () => {
  await PubKit.run({}, async (k) => {
    const connect = { clientId: 'alias-carry', clean: false, properties: { sessionExpiryInterval: 60 } };
    const first = (await k.raw(connect)).client;
    first.send(aliased('carry/t', 'x', 1));
    await sync(first);
    first.send({ cmd: 'disconnect', reasonCode: 0 });
    await first.expectClose();
    const { client: second, connack } = await k.raw(connect);
    assert.is((connack as IConnackPacket).sessionPresent, true);
    second.send(aliased('', 'y', 1));
    await expectDisconnect(second, 0x82);
  });
});

test('a subscriber announcing Topic Alias Maximum 2: first PUBLISH per topic carries topic + alias, later ones an empty topic + alias, never an alias above 2 [MQTT-3.3.2-11]', async () => {
  await PubKit.run({}, async (k) => {
    const sub = await k.rawSub([{ topic: 'ta/#', qos: 0 }], { connect: { clientId: 'ta-sub', properties: { topicAliasMaximum: 2 } } });
    const { client: pub } = await k.raw({ clientId: 'ta-pub' });
    const topics = ['ta/1', 'ta/1', 'ta/2', 'ta/3', 'ta/1', 'ta/3', 'ta/2'];
    topics.forEach((t, i) => pub.send(publishPacket(t, `p${i}`)));
    const got: Array<[string, number | undefined, string]> = [];
    for (let i = 0; i < topics.length; i++) {
      const p = await nextPublish(sub);
      got.push([p.topic, p.properties?.topicAlias, p.payload.toString()]);
    }
    assert.equal(got, [
      ['ta/1', 1, 'p0'],
      ['', 1, 'p1'],
      ['ta/2', 2, 'p2'],
      ['ta/3', undefined, 'p3'], // both aliases in use: the full topic, no alias
      ['', 1, 'p4'],
      ['ta/3', undefined, 'p5'],
      ['', 2, 'p6'],
    ]);
  });
});

test('a subscriber that announced no Topic Alias Maximum never receives a topic alias', async () => {
  await PubKit.run({}, async (k) => {
    const sub = await k.rawSub([{ topic: 'na/#', qos: 1 }], { connect: { clientId: 'na-sub' } });
    const pub = await k.mqttjs({ clientId: 'na-pub' });
    await pub.publishAsync('na/t', 'a', { qos: 1 });
    await pub.publishAsync('na/t', 'b', { qos: 1 });
    for (const payload of ['a', 'b']) {
      const p = await nextPublish(sub);
      assert.is(p.topic, 'na/t');
      assert.is(p.payload.toString(), payload);
      assert.is(p.properties?.topicAlias, undefined);
      sub.send({ cmd: 'puback', messageId: p.messageId! });
    }
  });
});

test('MQTT.js subscriber with topicAliasMaximum resolves the aliased publishes to their topics', async () => {
  await PubKit.run({}, async (k) => {
    const sub = await k.mqttjs({ clientId: 'mj-ta-sub', properties: { topicAliasMaximum: 8 } });
    const inbox = collect(sub);
    await sub.subscribeAsync('mj/#', { qos: 1 });
    const pub = await k.mqttjs({ clientId: 'mj-ta-pub' });
    for (const [t, p] of [['mj/a', '1'], ['mj/b', '2'], ['mj/a', '3'], ['mj/b', '4']]) await pub.publishAsync(t!, p!, { qos: 1 });
    await inbox.waitCount(4);
    assert.equal(inbox.messages.map((m) => [m.topic, m.payload]), [['mj/a', '1'], ['mj/b', '2'], ['mj/a', '3'], ['mj/b', '4']]);
  });
});

test('a message discarded for the subscriber Maximum Packet Size does not use up a topic alias: the next one carries the topic [MQTT-3.1.2-25]', async () => {
  await PubKit.run({}, async (k) => {
    const sub = await k.rawSub([{ topic: 'tamps/#', qos: 0 }], {
      connect: { clientId: 'tamps-sub', properties: { topicAliasMaximum: 4, maximumPacketSize: 128 } },
    });
    const { client: pub } = await k.raw({ clientId: 'tamps-pub' });
    pub.send(publishPacket('tamps/t', 'x'.repeat(200)));
    pub.send(publishPacket('tamps/t', 'small'));
    pub.send(publishPacket('tamps/t', 'again'));
    const first = await nextPublish(sub);
    assert.equal([first.topic, first.properties?.topicAlias, first.payload.toString()], ['tamps/t', 1, 'small']);
    const second = await nextPublish(sub);
    assert.equal([second.topic, second.properties?.topicAlias, second.payload.toString()], ['', 1, 'again']);
  });
});

test('a PUBLISH resent after reconnect carries its full topic, not an alias of the old connection [MQTT-3.3.2-7]', async () => {
  await PubKit.run({}, async (k) => {
    const connect = { clientId: 'ta-resend', clean: false, properties: { sessionExpiryInterval: 60, topicAliasMaximum: 4 } };
    const first = await k.rawSub([{ topic: 'rs/#', qos: 1 }], { connect });
    const { client: pub } = await k.raw({ clientId: 'ta-resend-pub' });
    pub.send(publishPacket('rs/t', 'one', { qos: 1, messageId: 1 }));
    pub.send(publishPacket('rs/t', 'two', { qos: 1, messageId: 2 }));
    const one = await nextPublish(first);
    const two = await nextPublish(first);
    assert.equal([one.topic, two.topic, two.properties?.topicAlias], ['rs/t', '', 1]);
    first.send({ cmd: 'puback', messageId: one.messageId! });
    first.send({ cmd: 'disconnect', reasonCode: 0 });
    await first.expectClose();
    const { client: again } = await k.raw({ ...connect, clean: false });
    const resent = await nextPublish(again);
    assert.equal([resent.topic, resent.dup, resent.messageId, resent.payload.toString()], ['rs/t', true, two.messageId, 'two']);
  });
});

test.run();
