// Limits of last-value queues: maxMessages counts keys (a new value of a stored key is always taken, a new key
// at the limit is refused with 0x97 or evicts the oldest key under drop_oldest), also for keys restored from disk
// after a restart.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IPublishPacket } from 'mqtt-packet';
import { onDataDir } from '../../helpers/restartable.js';
import type { RawClient } from '../../helpers/raw-client.js';
import { Harness } from '../../helpers/sub-harness.js';
import { ack, declare, flushed, queueOf, rawConsumer, send, text, until, withQueues } from '../../helpers/queue-kit.js';
import type { QueueDefinition } from '../../../src/queue/types.js';

const test = suite('12-lastvalue: maxMessages counts keys');

/** Key = level 1 of the topic: devices/<key>/cmd. */
const byDevice = (extra: Partial<QueueDefinition>) => declare({ name: 'cmds', topicFilter: 'devices/+/cmd', type: 'lastvalue', key: 'topicLevel:1', ...extra });
const put = (pub: RawClient, key: string, value: string) => send(pub, `devices/${key}/cmd`, value);
const label = (p: IPublishPacket) => `${p.topic.split('/')[1]}=${text(p)}`;

async function drainAll(h: Harness, pub: RawClient, expected: number): Promise<string[]> {
  const c = await rawConsumer(h, '$q/devices/+/cmd');
  const q = queueOf(h, 'cmds');
  await until(() => q.inflight === expected);
  const [got] = await flushed(pub, [c]);
  for (const p of got!) ack(c, p);
  await until(() => q.depth === 0 && q.inflight === 0);
  return got!.map(label);
}

test('maxMessages 3, overflow reject: new values of the three stored keys are taken at the limit; a fourth key gets PUBACK 0x97', async () => {
  await withQueues(byDevice({ maxMessages: 3, overflow: 'reject' }), async (h) => {
    const pub = await h.raw();
    const codes: number[] = [];
    for (const [k, v] of [['a', '1'], ['b', '1'], ['c', '1'], ['a', '2'], ['b', '2'], ['d', '1'], ['c', '2']] as const) codes.push(await put(pub, k, v));
    assert.equal(codes, [0, 0, 0, 0, 0, 0x97, 0]);
    const q = queueOf(h, 'cmds');
    assert.equal([q.depth, q.counters.enqueued, q.counters.superseded, q.counters.publishRejected], [3, 6, 3, 1]);
    assert.equal(await drainAll(h, pub, 3), ['a=2', 'b=2', 'c=2']);
  });
});

test('maxMessages 2, overflow drop_oldest: a new value replaces its key without eviction; a new key evicts the key written longest ago', async () => {
  await withQueues(byDevice({ maxMessages: 2, overflow: 'drop_oldest' }), async (h) => {
    const pub = await h.raw();
    for (const [k, v] of [['a', '1'], ['b', '1'], ['a', '2'], ['c', '1']] as const) assert.is(await put(pub, k, v), 0);
    const q = queueOf(h, 'cmds');
    assert.equal([q.depth, q.counters.superseded, q.counters.dropped], [2, 1, 1], 'b=1 was the oldest (a=2 is newer)');
    assert.equal(await drainAll(h, pub, 2), ['a=2', 'c=1']);
  });
});


test('after a restart, maxMessages still counts the keys on disk: replacing one is taken at the limit, a new key is refused', async () => {
  await onDataDir('wharf-lastvalue-', async (boot) => {
    const tweak = byDevice({ maxMessages: 2, overflow: 'reject' });
    let h = await boot(tweak);
    let pub = await h.raw();
    assert.equal([await put(pub, 'a', '1'), await put(pub, 'b', '1')], [0, 0]);
    h = await boot(tweak);
    pub = await h.raw();
    assert.equal([await put(pub, 'a', '2'), await put(pub, 'c', '1')], [0, 0x97]);
    const q = queueOf(h, 'cmds');
    assert.equal([q.depth, q.counters.superseded, q.counters.publishRejected], [2, 1, 1]);
    assert.equal(await drainAll(h, pub, 2), ['b=1', 'a=2']);
  });
});

test('after a restart, drop_oldest evicts the oldest key on disk; publishing that key again is a new key and evicts the next oldest', async () => {
  await onDataDir('wharf-lastvalue-', async (boot) => {
    const tweak = byDevice({ maxMessages: 3, overflow: 'drop_oldest' });
    let h = await boot(tweak);
    let pub = await h.raw();
    for (const k of ['a', 'b', 'c']) assert.is(await put(pub, k, '1'), 0);
    h = await boot(tweak);
    pub = await h.raw();
    assert.is(await put(pub, 'd', '1'), 0, 'evicts a=1');
    assert.is(await put(pub, 'a', '2'), 0, 'a is gone: a new key, evicts b=1');
    const q = queueOf(h, 'cmds');
    assert.equal([q.depth, q.counters.dropped, q.counters.superseded], [3, 2, 0]);
    assert.equal(await drainAll(h, pub, 3), ['c=1', 'd=1', 'a=2']);
    // Nothing of the evicted keys is left on disk either.
    h = await boot(tweak);
    assert.is(queueOf(h, 'cmds').depth, 0);
  });
});

test.run();
