// Thousands of keys: 5,000 keys × 3 values leave a depth of 5,000 (10,000 superseded), far more than the
// in-memory read-ahead window, and the consumers get exactly the last value of every key; the same while a
// consumer drains as the values are being replaced (reads of the backlog race with the commits that replace it).

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import type { RawClient } from '../../helpers/raw-client.js';
import { declare, queueOf, rawConsumer, withQueues } from '../../helpers/queue-kit.js';

const test = suite('12-lastvalue: thousands of keys');

const KEYS = 5000;
const VALUES = 3;
/** Below the broker's Receive Maximum (1024): publishes are pipelined in windows of this many. */
const WINDOW = 500;

const byDevice = (consumerInflight: number) =>
  declare({ name: 'cmds', topicFilter: 'devices/+/cmd', type: 'lastvalue', key: 'topicLevel:1', consumerInflight });

let packetId = 0;
/** Publishes (QoS 1) `devices/<key>/cmd` = `<key>:<value>` for every pair, WINDOW at a time; every PUBACK must be a success. */
async function publishAll(pub: RawClient, pairs: Array<[number, number]>): Promise<void> {
  for (let i = 0; i < pairs.length; i += WINDOW) {
    const ids: number[] = [];
    for (const [k, v] of pairs.slice(i, i + WINDOW)) {
      packetId = packetId >= 65000 ? 1 : packetId + 1;
      ids.push(packetId);
      pub.send({ cmd: 'publish', topic: `devices/${k}/cmd`, payload: Buffer.from(`${k}:${v}`), qos: 1, retain: false, dup: false, messageId: packetId } as Packet);
    }
    for (const id of ids) {
      const ack = (await pub.next('puback')) as Packet & { messageId?: number; reasonCode?: number };
      if (ack.messageId !== id || (ack.reasonCode ?? 0) >= 0x80) throw new Error(`PUBACK ${JSON.stringify(ack)} for ${id}`);
    }
  }
}

/** Every (key, value) pair, value-major: all keys get value 1, then all get value 2, ... */
function rounds(keys: number, values: number): Array<[number, number]> {
  const pairs: Array<[number, number]> = [];
  for (let v = 1; v <= values; v++) for (let k = 0; k < keys; k++) pairs.push([k, v]);
  return pairs;
}

/** A drain that stops making progress for this long has stopped (a bound, not a speed: no drain time is asserted). */
const STALL_MS = 5000;
/** Upper bound of a whole drain, whatever its progress. */
const DRAIN_LIMIT_MS = 60_000;

/**
 * A consumer that acknowledges at once and records, per key, the values it got in order, until `stop()` holds,
 * nothing arrived for STALL_MS, or DRAIN_LIMIT_MS passed.
 */
function consume(c: RawClient, got: Map<number, number[]>, stop: () => boolean): Promise<void> {
  return (async () => {
    const deadline = Date.now() + DRAIN_LIMIT_MS;
    let lastProgress = Date.now();
    while (!stop() && Date.now() < deadline && Date.now() - lastProgress < STALL_MS) {
      let p: IPublishPacket;
      try {
        p = (await c.next('publish', 50)) as IPublishPacket;
      } catch (err) {
        if (/timed out/.test((err as Error).message)) continue;
        throw err;
      }
      lastProgress = Date.now();
      c.send({ cmd: 'puback', messageId: p.messageId!, reasonCode: 0 } as Packet);
      const [k, v] = p.payload.toString().split(':').map(Number) as [number, number];
      if (p.topic !== `devices/${k}/cmd`) throw new Error(`value ${p.payload.toString()} arrived on ${p.topic}`);
      const list = got.get(k) ?? [];
      list.push(v);
      got.set(k, list);
    }
  })();
}

test('5,000 keys × 3 values published with no consumer: depth 5,000, 10,000 superseded; two consumers get exactly the last value of every key', async () => {
  await withQueues(byDevice(256), async (h) => {
    const pub = await h.raw();
    await publishAll(pub, rounds(KEYS, VALUES));
    const q = queueOf(h, 'cmds');
    assert.equal([q.depth, q.counters.enqueued, q.counters.superseded], [KEYS, KEYS * VALUES, KEYS * (VALUES - 1)]);
    assert.is(q.depthBytes, rounds(KEYS, 1).reduce((n, [k]) => n + `${k}:${VALUES}`.length, 0));

    const got = new Map<number, number[]>();
    const consumers = [await rawConsumer(h, '$q/devices/+/cmd', { clientId: 'c1' }), await rawConsumer(h, '$q/devices/+/cmd', { clientId: 'c2' })];
    const done = () => q.depth === 0 && q.inflight === 0;
    await Promise.all(consumers.map((c) => consume(c, got, done)));
    assert.ok(done(), `drained (depth ${q.depth}, in flight ${q.inflight})`);
    const wrong = [...got].filter(([, vs]) => vs.length !== 1 || vs[0] !== VALUES);
    assert.equal(wrong.slice(0, 5), [], 'every key once, with its last value');
    assert.is(got.size, KEYS);
    assert.equal([q.counters.delivered, q.counters.acknowledged, q.depthBytes], [KEYS, KEYS, 0]);
    const store = h.broker.persistence!.store;
    await store.flush(); // the last acknowledgements' removals are committed
    const left = await store.readQueueMessages(q.id, { limit: 10 });
    assert.equal(left, [], 'nothing left on disk');
  });
});

test('2,000 keys × 3 values replaced while a consumer drains: per key the values arrive in order, none twice, the last one always, and the queue ends empty', async () => {
  await withQueues(byDevice(64), async (h) => {
    const keys = 2000;
    const pub = await h.raw();
    const c = await rawConsumer(h, '$q/devices/+/cmd', { clientId: 'c1' });
    const q = queueOf(h, 'cmds');
    const got = new Map<number, number[]>();
    let published = false;
    const done = () => published && q.depth === 0 && q.inflight === 0;
    const consuming = consume(c, got, done);
    await publishAll(pub, rounds(keys, VALUES));
    published = true;
    await consuming;
    assert.ok(done(), `drained (depth ${q.depth}, in flight ${q.inflight})`);
    const disordered = [...got].filter(([, vs]) => vs.some((v, i) => i > 0 && v <= vs[i - 1]!));
    assert.equal(disordered.slice(0, 5), [], 'per key: increasing values, no duplicates');
    const missingLast = [...got].filter(([, vs]) => vs[vs.length - 1] !== VALUES);
    assert.equal(missingLast.slice(0, 5), [], 'the last value of every key is delivered');
    assert.is(got.size, keys);
    const received = [...got.values()].reduce((n, vs) => n + vs.length, 0);
    assert.equal([q.depth, q.depthBytes, q.counters.enqueued, q.counters.delivered, q.counters.acknowledged], [0, 0, keys * VALUES, received, received]);
    const store = h.broker.persistence!.store;
    await store.flush(); // the last acknowledgements' removals are committed
    const left = await store.readQueueMessages(q.id, { limit: 10 });
    assert.equal(left, [], 'nothing left on disk');
  });
});

test.run();
