// Each key source of a last-value queue (userProperty, topicLevel, topic, clientId, json:path): messages with the
// same key replace each other, different keys live side by side; and the missingKey policy for a message without
// a key: reject (MQTT 5 PUBACK 0x99 Payload format invalid; 3.1.1 PUBACK, dropped and counted) or fallback (kept
// under the empty key, where keyless messages replace each other).

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import type { RawClient } from '../../helpers/raw-client.js';
import type { Harness } from '../../helpers/sub-harness.js';
import { ack, declare, flushed, queueOf, rawConsumer, send, text, until, withQueues } from '../../helpers/queue-kit.js';
import type { QueueDefinition } from '../../../src/queue/types.js';

const test = suite('12-lastvalue: key sources and missing keys');

const lastValue = (topicFilter: string, key: string, extra: Partial<QueueDefinition> = {}) =>
  declare({ name: 'lv', topicFilter, type: 'lastvalue', key, ...extra });

type Props = Record<string, unknown>;

async function ok(pub: RawClient, topic: string, payload: string, properties?: Props): Promise<void> {
  const rc = await send(pub, topic, payload, { properties });
  if (rc >= 0x80) throw new Error(`PUBACK 0x${rc.toString(16)} for ${topic} ${payload}`);
}

/** Consumes the queue `lv` and returns [topic, payload] of everything it holds, acknowledging all of it. */
async function contents(h: Harness, pub: RawClient, filter: string): Promise<Array<[string, string]>> {
  const q = queueOf(h, 'lv');
  const depth = q.depth;
  const c = await rawConsumer(h, filter);
  await until(() => q.inflight === depth, `${depth} in flight`);
  const [got] = await flushed(pub, [c]);
  for (const p of got!) ack(c, p);
  await until(() => q.depth === 0 && q.inflight === 0);
  return got!.map((p: IPublishPacket) => [p.topic, text(p)]);
}

const up = (name: string, ...values: string[]) => ({ userProperties: { [name]: values.length === 1 ? values[0]! : values } });

test('key userProperty:command_type: same property value replaces, another value is another key; a repeated property is keyed by its last value', async () => {
  await withQueues(lastValue('lights/+/commands', 'userProperty:command_type'), async (h) => {
    const pub = await h.raw();
    const t = 'lights/l1/commands';
    await ok(pub, t, 'blue', up('command_type', 'set-color'));
    await ok(pub, t, 'fw-1', up('command_type', 'update-firmware'));
    await ok(pub, t, 'red', up('command_type', 'set-color'));
    await ok(pub, t, 'fw-2', up('command_type', 'ignored', 'update-firmware'));
    await ok(pub, t, '', up('command_type', '')); // an empty value is a key too
    const q = queueOf(h, 'lv');
    assert.equal([q.depth, q.counters.superseded], [3, 2]);
    assert.equal(await contents(h, pub, '$q/lights/+/commands'), [[t, 'red'], [t, 'fw-2'], [t, '']]);
  });
});

test('key topicLevel:1: one value per device of lights/<device>/commands', async () => {
  await withQueues(lastValue('lights/+/commands', 'topicLevel:1'), async (h) => {
    const pub = await h.raw();
    await ok(pub, 'lights/l1/commands', 'l1-a');
    await ok(pub, 'lights/l2/commands', 'l2-a');
    await ok(pub, 'lights/l1/commands', 'l1-b');
    await ok(pub, 'lights/l3/commands', 'l3-a');
    await ok(pub, 'lights/l2/commands', 'l2-b');
    const q = queueOf(h, 'lv');
    assert.equal([q.depth, q.counters.superseded], [3, 2]);
    assert.equal(await contents(h, pub, '$q/lights/+/commands'), [
      ['lights/l1/commands', 'l1-b'],
      ['lights/l3/commands', 'l3-a'],
      ['lights/l2/commands', 'l2-b'],
    ]);
  });
});

test('key topic: one value per topic under sensors/#', async () => {
  await withQueues(lastValue('sensors/#', 'topic'), async (h) => {
    const pub = await h.raw();
    await ok(pub, 'sensors/room1/temp', '20');
    await ok(pub, 'sensors/room1/hum', '40');
    await ok(pub, 'sensors/room1/temp', '21');
    await ok(pub, 'sensors/room2/temp', '18');
    await ok(pub, 'sensors/room1/temp', '22');
    const q = queueOf(h, 'lv');
    assert.equal([q.depth, q.counters.superseded], [3, 2]);
    assert.equal(await contents(h, pub, '$q/sensors/#'), [
      ['sensors/room1/hum', '40'],
      ['sensors/room2/temp', '18'],
      ['sensors/room1/temp', '22'],
    ]);
  });
});

test('key clientId: one value per publisher, whatever the topic', async () => {
  await withQueues(lastValue('status/#', 'clientId'), async (h) => {
    const gw1 = await h.raw({ clientId: 'gw-1' });
    const gw2 = await h.raw({ clientId: 'gw-2' });
    await ok(gw1, 'status/a', 'gw1-a');
    await ok(gw2, 'status/a', 'gw2-a');
    await ok(gw1, 'status/b', 'gw1-b');
    const q = queueOf(h, 'lv');
    assert.equal([q.depth, q.counters.superseded], [2, 1]);
    assert.equal(await contents(h, gw1, '$q/status/#'), [['status/a', 'gw2-a'], ['status/b', 'gw1-b']]);
  });
});

test('key json:command.type: one value per field value of the JSON payload; a number is keyed by its JSON text', async () => {
  await withQueues(lastValue('gw/+/commands', 'json:command.type'), async (h) => {
    const pub = await h.raw();
    const t = 'gw/g1/commands';
    const blue = JSON.stringify({ command: { type: 'set-color', value: 'blue' } });
    const sp1 = JSON.stringify({ command: { type: 'set-point', value: 19 } });
    const green = JSON.stringify({ value: 'green', command: { type: 'set-color' } });
    const seven = JSON.stringify({ command: { type: 7 } });
    const sp2 = JSON.stringify({ command: { type: 'set-point', value: 21 } });
    const sevenStr = JSON.stringify({ command: { type: '7' } });
    for (const p of [blue, sp1, green, seven, sp2, sevenStr]) await ok(pub, t, p);
    const q = queueOf(h, 'lv');
    assert.equal([q.depth, q.counters.superseded], [3, 3], 'type 7 and type "7" are the same key');
    assert.equal(await contents(h, pub, '$q/gw/+/commands'), [[t, green], [t, sp2], [t, sevenStr]]);
  });
});

test('missingKey reject: an MQTT 5 publisher gets PUBACK 0x99 for a message without the key; it is not stored, and counted', async () => {
  await withQueues(lastValue('lights/+/commands', 'userProperty:command_type', { missingKey: 'reject' }), async (h) => {
    const pub = await h.raw();
    const t = 'lights/l1/commands';
    assert.is(await send(pub, t, 'blue', { properties: up('command_type', 'set-color') }), 0);
    assert.is(await send(pub, t, 'no-key'), 0x99);
    assert.is(await send(pub, t, 'other-prop', { properties: up('kind', 'set-color') }), 0x99);
    await send(pub, t, 'qos0-no-key', { qos: 0 });
    assert.is(await send(pub, t, 'red', { properties: up('command_type', 'set-color') }), 0, 'the connection is still usable');
    const q = queueOf(h, 'lv');
    assert.equal([q.depth, q.counters.enqueued, q.counters.publishRejected, q.counters.superseded], [1, 2, 3, 1]);
    assert.equal(await contents(h, pub, '$q/lights/+/commands'), [[t, 'red']]);
  });
});

test('missingKey reject with key json:command.type: a payload that is not JSON, or lacks the field, gets PUBACK 0x99', async () => {
  await withQueues(lastValue('gw/+/commands', 'json:command.type', { missingKey: 'reject' }), async (h) => {
    const pub = await h.raw();
    const t = 'gw/g1/commands';
    assert.equal(
      [await send(pub, t, 'not json'), await send(pub, t, '{"command":{}}'), await send(pub, t, '{"command":{"type":null}}'), await send(pub, t, '{"command":{"type":"x"}}')],
      [0x99, 0x99, 0x99, 0],
    );
    const q = queueOf(h, 'lv');
    assert.equal([q.depth, q.counters.publishRejected], [1, 3]);
  });
});

test('missingKey reject: a 3.1.1 publisher (no user properties) gets a plain PUBACK, stays connected; the message is dropped and counted', async () => {
  await withQueues(lastValue('lights/+/commands', 'userProperty:command_type', { missingKey: 'reject' }), async (h) => {
    const pub = await h.raw({}, 4);
    pub.send({ cmd: 'publish', topic: 'lights/l1/commands', payload: Buffer.from('blue'), qos: 1, retain: false, dup: false, messageId: 11 } as Packet);
    const ackPacket = (await pub.next('puback')) as Packet & { messageId?: number };
    assert.is(ackPacket.messageId, 11);
    pub.send({ cmd: 'pingreq' });
    await pub.next('pingresp');
    assert.is(pub.isClosed, false);
    const q = queueOf(h, 'lv');
    assert.equal([q.depth, q.counters.enqueued, q.counters.publishRejected], [0, 0, 1]);
  });
});

test('missingKey fallback: messages without a key are kept under the empty key (the latest one), beside keyed ones', async () => {
  await withQueues(lastValue('lights/+/commands', 'userProperty:command_type', { missingKey: 'fallback' }), async (h) => {
    const pub = await h.raw();
    const t = 'lights/l1/commands';
    await ok(pub, t, 'no-key-1');
    await ok(pub, t, 'blue', up('command_type', 'set-color'));
    await ok(pub, t, 'no-key-2');
    const v311 = await h.raw({ clientId: 'old-device' }, 4);
    await ok(v311, t, 'no-key-3');
    const q = queueOf(h, 'lv');
    assert.equal([q.depth, q.counters.superseded, q.counters.publishRejected], [2, 2, 0]);
    assert.equal(await contents(h, pub, '$q/lights/+/commands'), [[t, 'blue'], [t, 'no-key-3']]);
  });
});

test('missingKey fallback: a keyless message and one whose key is the empty string share the empty key', async () => {
  await withQueues(lastValue('lights/+/commands', 'userProperty:command_type', { missingKey: 'fallback' }), async (h) => {
    const pub = await h.raw();
    const t = 'lights/l1/commands';
    await ok(pub, t, 'no-key');
    await ok(pub, t, 'empty-key', up('command_type', ''));
    const q = queueOf(h, 'lv');
    assert.equal([q.depth, q.counters.superseded], [1, 1]);
    assert.equal(await contents(h, pub, '$q/lights/+/commands'), [[t, 'empty-key']]);
  });
});

test.run();
