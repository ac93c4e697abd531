// Replacement while a value is out for delivery: the in-flight value's delivery is not disturbed (no second copy,
// its PUBACK is taken as usual); the newer value of that key waits and is delivered once the old one is settled
// (acknowledged, rejected, or given back by a consumer that went away); a settled old value never comes back once
// a newer one exists; other keys keep flowing meanwhile.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IPublishPacket } from 'mqtt-packet';
import type { RawClient } from '../../helpers/raw-client.js';
import type { Harness } from '../../helpers/sub-harness.js';
import { ack, declare, flushed, queueOf, rawConsumer, send, text, until, withQueues } from '../../helpers/queue-kit.js';
import type { QueueDefinition } from '../../../src/queue/types.js';

const test = suite('12-lastvalue: replacement while a value is in flight');

const TOPIC = 'lights/light-123/commands';
const lastValue = (extra: Partial<QueueDefinition> = {}) =>
  declare({ name: 'cmds', topicFilter: 'lights/+/commands', type: 'lastvalue', key: 'userProperty:command_type', ...extra });

const cmd = (pub: RawClient, payload: string, type = 'set-color') => send(pub, TOPIC, payload, { properties: { userProperties: { command_type: type } } });

async function sendCmd(pub: RawClient, payload: string, type = 'set-color'): Promise<void> {
  const rc = await cmd(pub, payload, type);
  if (rc >= 0x80) throw new Error(`PUBACK 0x${rc.toString(16)} for ${payload}`);
}

const nextPublish = async (c: RawClient, timeoutMs?: number) => (await c.next('publish', timeoutMs)) as IPublishPacket;
const texts = (ps: IPublishPacket[] | undefined) => (ps ?? []).map(text);

test('a newer value of a key in flight waits: red is sent only after blue is acknowledged, and blue is not sent again', async () => {
  await withQueues(lastValue(), async (h) => {
    const light = await rawConsumer(h, '$q/lights/+/commands', { clientId: 'light-123' });
    const pub = await h.raw();
    await sendCmd(pub, 'blue');
    const blue = await nextPublish(light);
    assert.is(text(blue), 'blue');
    await sendCmd(pub, 'red');
    const q = queueOf(h, 'cmds');
    assert.equal([q.depth, q.inflight, q.counters.superseded], [1, 1, 1], 'red replaced blue in the store; blue is still out');
    const [waiting] = await flushed(pub, [light]);
    assert.equal(texts(waiting), [], 'red waits while blue is in flight');
    ack(light, blue);
    const red = await nextPublish(light);
    assert.equal([text(red), red.dup, red.qos], ['red', false, 1]);
    ack(light, red);
    await until(() => q.depth === 0 && q.inflight === 0);
    const [rest] = await flushed(pub, [light]);
    assert.equal(texts(rest), [], 'nothing more: blue is not offered again');
    assert.equal([q.counters.delivered, q.counters.acknowledged, q.counters.superseded, q.counters.redelivered], [2, 2, 1, 0]);
  });
});

test('PUBACK 0x80 for a value that a newer one replaced does not bring it back: the newer one is delivered instead', async () => {
  await withQueues(lastValue(), async (h) => {
    const light = await rawConsumer(h, '$q/lights/+/commands', { clientId: 'light-123' });
    const pub = await h.raw();
    await sendCmd(pub, 'blue');
    const blue = await nextPublish(light);
    await sendCmd(pub, 'red');
    await sendCmd(pub, 'green');
    const q = queueOf(h, 'cmds');
    assert.equal([q.depth, q.counters.superseded], [1, 2]);
    ack(light, blue, 0x80);
    const next = await nextPublish(light);
    assert.equal([text(next), next.dup], ['green', false], 'the latest value, not the rejected one');
    ack(light, next);
    await until(() => q.depth === 0 && q.inflight === 0);
    const [rest] = await flushed(pub, [light]);
    assert.equal(texts(rest), [], 'blue and red never come back');
    assert.equal([q.counters.delivered, q.counters.acknowledged, q.counters.redelivered, q.counters.deadLettered], [2, 1, 0, 0]);
  });
});

test('PUBACK 0x80 for a value nothing replaced: it is redelivered as in a standard queue', async () => {
  await withQueues(lastValue(), async (h) => {
    const light = await rawConsumer(h, '$q/lights/+/commands', { clientId: 'light-123' });
    const pub = await h.raw();
    await sendCmd(pub, 'blue');
    ack(light, await nextPublish(light), 0x80);
    const again = await nextPublish(light);
    assert.is(text(again), 'blue');
    ack(light, again);
    const q = queueOf(h, 'cmds');
    await until(() => q.depth === 0);
    assert.equal([q.counters.rejected, q.counters.redelivered, q.counters.acknowledged, q.counters.superseded], [1, 1, 1, 0]);
  });
});

test('a consumer that disconnects holding a replaced value: the other consumer gets only the newer value', async () => {
  await withQueues(lastValue(), async (h) => {
    const a = await rawConsumer(h, '$q/lights/+/commands', { clientId: 'a' });
    const pub = await h.raw();
    await sendCmd(pub, 'blue');
    await nextPublish(a);
    await sendCmd(pub, 'red');
    const b = await rawConsumer(h, '$q/lights/+/commands', { clientId: 'b' });
    const q = queueOf(h, 'cmds');
    const [toB] = await flushed(pub, [b]);
    assert.equal(texts(toB), [], 'red waits for blue, which a holds');
    a.end();
    const red = await nextPublish(b);
    assert.is(text(red), 'red');
    ack(b, red);
    await until(() => q.depth === 0 && q.inflight === 0);
    const [rest] = await flushed(pub, [b]);
    assert.equal(texts(rest), [], 'blue is not given to b');
    assert.equal([q.counters.delivered, q.counters.acknowledged, q.counters.redelivered], [2, 1, 0]);
  });
});

test('other keys are not held up while a replaced value is in flight: a firmware update is delivered at once', async () => {
  await withQueues(lastValue(), async (h) => {
    const light = await rawConsumer(h, '$q/lights/+/commands', { clientId: 'light-123' });
    const pub = await h.raw();
    await sendCmd(pub, 'blue');
    const blue = await nextPublish(light);
    await sendCmd(pub, 'red');
    await sendCmd(pub, 'v2', 'update-firmware');
    await sendCmd(pub, 'on', 'set-power');
    const [meanwhile] = await flushed(pub, [light]);
    assert.equal(texts(meanwhile), ['v2', 'on'], 'the other keys go out while blue is unacknowledged');
    for (const p of meanwhile!) ack(light, p);
    ack(light, blue);
    const red = await nextPublish(light);
    assert.is(text(red), 'red');
    ack(light, red);
    const q = queueOf(h, 'cmds');
    await until(() => q.depth === 0 && q.inflight === 0);
    assert.equal([q.counters.delivered, q.counters.acknowledged, q.counters.superseded], [4, 4, 1]);
  });
});

/** Blue is sent, rejected, and waits for its redelivery delay; returns the consumer, publisher and queue. */
async function blueWaitingForRedelivery(h: Harness) {
  const light = await rawConsumer(h, '$q/lights/+/commands', { clientId: 'light-123' });
  const pub = await h.raw();
  await sendCmd(pub, 'blue');
  ack(light, await nextPublish(light), 0x80);
  const q = queueOf(h, 'cmds');
  await until(() => q.counters.rejected === 1 && q.waitingRedelivery === 1);
  return { light, pub, q };
}

test('while a rejected value waits for redelivery (redeliveryDelay 60 s), its newer value and other keys go out at once', async () => {
  await withQueues(lastValue({ redeliveryDelayMs: 60_000 }), async (h) => {
    const { light, pub, q } = await blueWaitingForRedelivery(h);
    // Held behind blue's timer they would not come within nextPublish's bound, long before the 60 s.
    await sendCmd(pub, 'red');
    const red = await nextPublish(light);
    assert.is(text(red), 'red');
    await sendCmd(pub, 'v2', 'update-firmware');
    const fw = await nextPublish(light);
    assert.is(text(fw), 'v2');
    assert.is(q.waitingRedelivery, 1, 'blue is still waiting for its redelivery time');
    ack(light, red);
    ack(light, fw);
    await until(() => q.depth === 0 && q.inflight === 0);
    const [rest] = await flushed(pub, [light]);
    assert.equal(texts(rest), [], 'blue is not offered meanwhile');
    assert.equal([q.counters.superseded, q.counters.acknowledged], [1, 2]);
  });
});

test('a value replaced while it waits for redelivery (redeliveryDelay 300 ms) is never redelivered once the delay is over', async () => {
  await withQueues(lastValue({ redeliveryDelayMs: 300 }), async (h) => {
    const { light, pub, q } = await blueWaitingForRedelivery(h);
    await sendCmd(pub, 'red');
    const red = await nextPublish(light);
    assert.is(text(red), 'red');
    ack(light, red);
    await until(() => q.depth === 0 && q.inflight === 0);
    // Past blue's redelivery time (its timer has run): still nothing.
    await until(() => q.waitingRedelivery === 0, "blue's redelivery time", 10_000);
    const [rest] = await flushed(pub, [light]);
    assert.equal(texts(rest), [], 'blue is not redelivered');
    assert.equal([q.depth, q.counters.redelivered, q.counters.superseded, q.counters.acknowledged], [0, 1, 1, 1]);
  });
});

test('with hash_key dispatch on the same key, a newer value waits for the in-flight one just the same', async () => {
  await withQueues(lastValue({ dispatch: 'hash_key' }), async (h) => {
    const a = await rawConsumer(h, '$q/lights/+/commands', { clientId: 'a' });
    const b = await rawConsumer(h, '$q/lights/+/commands', { clientId: 'b' });
    const pub = await h.raw();
    await sendCmd(pub, 'blue');
    await sendCmd(pub, 'red');
    await sendCmd(pub, 'v2', 'update-firmware');
    const [toA, toB] = await flushed(pub, [a, b]);
    const all = [...toA!, ...toB!];
    assert.equal(all.map(text).sort(), ['blue', 'v2'], 'blue went out before red replaced it; red waits');
    const blueHolder = toA!.some((p) => text(p) === 'blue') ? a : b;
    for (const p of toA!) ack(a, p);
    for (const p of toB!) ack(b, p);
    const red = await nextPublish(blueHolder);
    assert.is(text(red), 'red', 'red goes to the consumer that had blue');
    ack(blueHolder, red);
    const q = queueOf(h, 'cmds');
    await until(() => q.depth === 0 && q.inflight === 0);
  });
});

test.run();
