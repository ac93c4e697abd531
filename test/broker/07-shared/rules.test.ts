// Shared-subscription rules (MQTT 5.0 sections 3.8.3.1 and 4.8.2): ShareName syntax, No Local is a protocol
// error, no retained messages on a shared subscribe, replacement on re-subscribe.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { nextPublish, publish, subscribe, withBroker } from '../../helpers/sub-harness.js';
import { beforePing } from '../../helpers/end-marker.js';

const test = suite('07-shared: rules');

const filters: Array<[string, boolean]> = [
  ['$share/ok/a/b', true],
  ['$share//a', false], // empty ShareName [MQTT-4.8.2-1]
  ['$share/g+/a', false], // wildcard in ShareName [MQTT-4.8.2-2]
  ['$share/#/a', false],
  ['$share/g', false], // no "/" and Topic Filter after the ShareName [MQTT-4.8.2-2]
  ['$share/g/', false], // empty Topic Filter
  ['$share/g/a#', false], // invalid Topic Filter
  ['$share/ok/+/#', true],
];

test('5.0: invalid shared filters get 0x8F in the SUBACK, valid ones beside them are granted', async () => {
  await withBroker(async (h) => {
    const c = await h.raw({ clientId: 'names' });
    const suback = await subscribe(
      c,
      filters.map(([topic]) => ({ topic, qos: 1 })),
    );
    assert.equal(
      suback.granted,
      filters.map(([, ok]) => (ok ? 1 : 0x8f)),
    );
    assert.equal([...h.broker.sessions.byClientId.get('names')!.subscriptions.keys()].sort(), ['$share/ok/+/#', '$share/ok/a/b']);
  });
});

test('3.1.1: invalid shared filters get 0x80', async () => {
  await withBroker(async (h) => {
    const c = await h.raw({}, 4);
    const suback = await subscribe(
      c,
      filters.map(([topic]) => ({ topic, qos: 0 })),
    );
    assert.equal(
      suback.granted,
      filters.map(([, ok]) => (ok ? 0 : 0x80)),
    );
  });
});

test('No Local on a shared subscription is a protocol error: DISCONNECT 0x82 [MQTT-3.8.3-4]', async () => {
  await withBroker(async (h) => {
    const c = await h.raw({ clientId: 'nl-shared' });
    c.send({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: '$share/g/t', qos: 1, nl: true }] });
    const packets = await c.expectClose();
    assert.equal(
      packets.map((p) => [p.cmd, (p as { reasonCode?: number }).reasonCode]),
      [['disconnect', 0x82]],
    );
    assert.is(h.broker.trie.size, 0);
  });
});

test('retained messages are not sent when a shared subscription is made, whatever the Retain Handling', async () => {
  await withBroker(async (h) => {
    const pub = await h.raw();
    await publish(pub, 'rt/a', 'kept', { qos: 1, retain: true });
    const c = await h.raw();
    for (const rh of [0, 1] as const) {
      assert.equal((await subscribe(c, [{ topic: `$share/g${rh}/rt/+`, qos: 1, rh }])).granted, [1]);
    }
    assert.equal(await beforePing(c), [], 'no retained message');
    // Live messages still flow, with RETAIN 0.
    await publish(pub, 'rt/a', 'live', { qos: 1, retain: true });
    const m1 = await nextPublish(c);
    const m2 = await nextPublish(c);
    assert.equal(
      [
        [m1.text, m1.retain],
        [m2.text, m2.retain],
      ],
      [
        ['live', false],
        ['live', false],
      ],
    );
  });
});

test('re-subscribing to the same shared filter replaces the membership, it does not add a second one', async () => {
  await withBroker(async (h) => {
    const c = await h.raw({ clientId: 'again' });
    const other = await h.raw({ clientId: 'other' });
    await subscribe(c, [{ topic: '$share/g/rs', qos: 0 }]);
    await subscribe(other, [{ topic: '$share/g/rs', qos: 0 }]);
    assert.equal((await subscribe(c, [{ topic: '$share/g/rs', qos: 1 }])).granted, [1]);
    assert.is(h.broker.trie.size, 2);
    const pub = await h.raw();
    for (let i = 0; i < 4; i++) await publish(pub, 'rs', `m${i}`, { qos: 1 });
    const mine = [await nextPublish(c), await nextPublish(c)];
    const theirs = [await nextPublish(other), await nextPublish(other)];
    assert.equal([...mine, ...theirs].map((m) => m.text).sort(), ['m0', 'm1', 'm2', 'm3']);
    assert.equal(
      mine.map((m) => m.qos),
      [1, 1],
      'the replaced subscription has the new QoS',
    );
  });
});

test('a $share filter does not receive $-topics through a leading wildcard [MQTT-4.7.2-1]', async () => {
  await withBroker(async (h) => {
    const c = await h.raw();
    await subscribe(c, [
      { topic: '$share/g/#', qos: 0 },
      { topic: '$share/s/$SYS/#', qos: 0 },
    ]);
    const pub = await h.raw();
    await publish(pub, '$SYS/x', 'sys');
    await publish(pub, 'plain', 'plain');
    assert.equal([(await nextPublish(c)).text, (await nextPublish(c)).text], ['sys', 'plain']);
    assert.equal(await beforePing(c), []);
  });
});

test.run();
