// Dispatch strategies with real consumers: round_robin takes turns among consumers with room, least_inflight
// favours the consumer with fewer unacknowledged messages, hash_key keeps a key on one consumer (in order), and
// random never picks a consumer without room.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MqttClient } from 'mqtt';
import type { IPublishPacket } from 'mqtt-packet';
import type { QueueDefinition } from '../../../src/queue/types.js';
import { collect } from '../../helpers/mqttjs.js';
import { receivedOn, type Harness } from '../../helpers/sub-harness.js';
import { declare, flushed, queueOf, rawConsumer, send, sendAll, SENTINEL, text, until, withQueues, ack } from '../../helpers/queue-kit.js';

const test = suite('11-queues: dispatch strategies');

const range = (n: number) => Array.from({ length: n }, (_, i) => `m${i}`);
const jobs = (fields: Partial<QueueDefinition> = {}) => declare({ name: 'jobs', topicFilter: 'jobs/+', ...fields });

/** MQTT.js consumers of `$q/jobs/+` (they acknowledge every message), in subscription order. */
async function autoAckers(h: Harness, n: number): Promise<{ clients: MqttClient[]; got: Array<ReturnType<typeof collect>> }> {
  const clients: MqttClient[] = [];
  const got: Array<ReturnType<typeof collect>> = [];
  for (let i = 0; i < n; i++) {
    const c = await h.mqtt({ clientId: `auto${i}` });
    got.push(collect(c));
    await c.subscribeAsync(['$q/jobs/+', SENTINEL], { qos: 1 });
    clients.push(c);
  }
  return { clients, got };
}

/** Payloads each MQTT.js client got before the sentinel. */
async function received(pub: Parameters<typeof send>[0], clients: MqttClient[], got: Array<ReturnType<typeof collect>>): Promise<string[][]> {
  const done = clients.map((c) => receivedOn(c, SENTINEL));
  await send(pub, SENTINEL, 'end', { qos: 0 });
  await Promise.all(done);
  return got.map((g) => g.messages.filter((m) => m.topic !== SENTINEL).map((m) => m.payload));
}

test('round_robin: three consumers with room get equal shares, 10 each of 30', async () => {
  await withQueues(jobs({ dispatch: 'round_robin' }), async (h) => {
    const { clients, got } = await autoAckers(h, 3);
    const pub = await h.raw();
    await sendAll(pub, 'jobs/a', range(30));
    const q = queueOf(h, 'jobs');
    await until(() => q.counters.acknowledged === 30);
    const per = await received(pub, clients, got);
    assert.equal(per.map((p) => p.length), [10, 10, 10]);
    assert.equal(per.flat().sort(), range(30).sort());
  });
});

test('round_robin skips a consumer without room: it holds exactly consumerInflight, the others alternate', async () => {
  await withQueues(jobs({ dispatch: 'round_robin', consumerInflight: 2 }), async (h) => {
    const stuck = await rawConsumer(h, '$q/jobs/+', { clientId: 'stuck' });
    const { clients, got } = await autoAckers(h, 2);
    const pub = await h.raw();
    await sendAll(pub, 'jobs/a', range(20));
    const q = queueOf(h, 'jobs');
    await until(() => q.counters.acknowledged === 18);
    const [held] = await flushed(pub, [stuck]);
    const per = await received(pub, clients, got);
    assert.is(held!.length, 2);
    assert.is(per[0]!.length + per[1]!.length, 18);
    assert.ok(Math.abs(per[0]!.length - per[1]!.length) <= 1, `alternating: ${per.map((p) => p.length).join('/')}`);
  });
});

test('least_inflight: a new consumer gets messages until it holds as many unacknowledged as the busy one, then ties alternate', async () => {
  await withQueues(jobs({ dispatch: 'least_inflight', consumerInflight: 10 }), async (h) => {
    const a = await rawConsumer(h, '$q/jobs/+', { clientId: 'a' });
    const pub = await h.raw();
    await sendAll(pub, 'jobs/a', ['a1', 'a2', 'a3']);
    const q = queueOf(h, 'jobs');
    await until(() => q.inflight === 3);
    const b = await rawConsumer(h, '$q/jobs/+', { clientId: 'b' });
    const inflight = () => Object.fromEntries(q.consumers.map((c) => [c.id, c.inflight]));
    await sendAll(pub, 'jobs/a', ['n1', 'n2', 'n3']);
    await until(() => q.inflight === 6);
    assert.equal(inflight(), { a: 3, b: 3 }, 'all three to the idle consumer');
    await sendAll(pub, 'jobs/a', ['t1', 't2']);
    await until(() => q.inflight === 8);
    assert.equal(inflight(), { a: 4, b: 4 }, 'a tie alternates');
    const [ofA, ofB] = await flushed(pub, [a, b]);
    assert.equal(ofA!.map(text), ['a1', 'a2', 'a3', 't1']);
    assert.equal(ofB!.map(text), ['n1', 'n2', 'n3', 't2']);
    // a acknowledges three: it now has the fewest, and takes the next three.
    for (const p of ofA!.slice(0, 3)) ack(a, p);
    await until(() => q.inflight === 5);
    await sendAll(pub, 'jobs/a', ['x1', 'x2', 'x3']);
    await until(() => q.inflight === 8);
    assert.equal(inflight(), { a: 4, b: 4 });
    const [moreA, moreB] = await flushed(pub, [a, b]);
    assert.equal([moreA!.map(text), moreB!.map(text)], [['x1', 'x2', 'x3'], []]);
  });
});

test('hash_key (userProperty:k): all messages of a key reach one consumer in order; 6 keys spread 2 per consumer', async () => {
  await withQueues(jobs({ dispatch: 'hash_key', key: 'userProperty:k' }), async (h) => {
    const { clients, got } = await autoAckers(h, 3);
    const pub = await h.raw();
    for (let i = 0; i < 5; i++) {
      for (let k = 0; k < 6; k++) await send(pub, 'jobs/a', `k${k}-${i}`, { properties: { userProperties: { k: `k${k}` } } });
    }
    const q = queueOf(h, 'jobs');
    await until(() => q.counters.acknowledged === 30);
    const per = await received(pub, clients, got);
    const owners = new Map<string, Set<number>>();
    per.forEach((payloads, i) => {
      for (const p of payloads) {
        const key = p.split('-')[0]!;
        owners.set(key, (owners.get(key) ?? new Set()).add(i));
      }
    });
    assert.equal([...owners.values()].map((s) => s.size), [1, 1, 1, 1, 1, 1], 'one consumer per key');
    assert.equal(per.map((p) => new Set(p.map((x) => x.split('-')[0])).size), [2, 2, 2]);
    for (const payloads of per) {
      for (const key of new Set(payloads.map((x) => x.split('-')[0]))) {
        const ofKey = payloads.filter((x) => x.startsWith(`${key}-`));
        assert.equal(ofKey, [0, 1, 2, 3, 4].map((i) => `${key}-${i}`), `order of ${key}`);
      }
    }
  });
});

test('hash_key: a key whose consumer is busy waits for it rather than going elsewhere; when it leaves, the key moves', async () => {
  await withQueues(jobs({ dispatch: 'hash_key', key: 'userProperty:k', consumerInflight: 1 }), async (h) => {
    const a = await rawConsumer(h, '$q/jobs/+', { clientId: 'a' });
    const pub = await h.raw();
    const withKey = (k: string) => ({ properties: { userProperties: { k } } });
    await send(pub, 'jobs/a', 'x-1', withKey('x'));
    const q = queueOf(h, 'jobs');
    await until(() => q.inflight === 1);
    const b = await rawConsumer(h, '$q/jobs/+', { clientId: 'b' });
    await send(pub, 'jobs/a', 'x-2', withKey('x'));
    await send(pub, 'jobs/a', 'y-1', withKey('y'));
    await until(() => q.inflight === 2);
    const [ofA, ofB] = await flushed(pub, [a, b]);
    assert.equal([ofA!.map(text), ofB!.map(text)], [['x-1'], ['y-1']], 'x-2 waits for a, y goes to b');
    assert.is(q.depth, 3);
    ack(b, ofB![0]!);
    a.end();
    // a is gone: its x-1 and the waiting x-2 go to b, in order.
    const again = (await b.next('publish')) as IPublishPacket;
    assert.is(text(again), 'x-1');
    ack(b, again);
    const next = (await b.next('publish')) as IPublishPacket;
    assert.is(text(next), 'x-2');
  });
});

test('random: never to a consumer without room — a consumer that does not acknowledge holds exactly consumerInflight', async () => {
  await withQueues(jobs({ dispatch: 'random', consumerInflight: 2 }), async (h) => {
    const stuck = await rawConsumer(h, '$q/jobs/+', { clientId: 'stuck' });
    const { clients, got } = await autoAckers(h, 2);
    const pub = await h.raw();
    await sendAll(pub, 'jobs/a', range(40));
    const q = queueOf(h, 'jobs');
    await until(() => q.counters.acknowledged === 38);
    const [held] = await flushed(pub, [stuck]);
    const per = await received(pub, clients, got);
    assert.is(held!.length, 2);
    assert.equal([...held!.map(text), ...per.flat()].sort(), range(40).sort());
    assert.ok(per.every((p) => p.length > 0), `both acknowledging consumers used: ${per.map((p) => p.length).join('/')}`);
    assert.equal(q.consumers.find((c) => c.id === 'stuck')!.inflight, 2);
  });
});

test.run();
