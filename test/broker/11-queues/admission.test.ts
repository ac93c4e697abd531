// Admission before routing (issue 11): a refused QoS 1/2 publish reaches no subscriber, no queue and no session.
// Each case has an ordinary live subscriber of the topic beside the queues, and a sentinel to prove what it got.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Packet } from 'mqtt-packet';
import { declare, flushed, queueOf, rawConsumer, send, sendAll, text, until, withQueues } from '../../helpers/queue-kit.js';

const test = suite('11-queues: admission before routing');

test('two queues match, one is full: the publish is refused (0x97) and the other queue and the live subscriber get nothing', async () => {
  await withQueues(declare({ name: 'full', topicFilter: 'a/#', maxMessages: 1 }, { name: 'roomy', topicFilter: 'a/+' }), async (h) => {
    const live = await rawConsumer(h, 'a/#', { qos: 1 });
    const pub = await h.raw();
    assert.is(await send(pub, 'a/x', 'one'), 0);
    assert.is(await send(pub, 'a/x', 'two'), 0x97);
    const [got] = await flushed(pub, [live]);
    assert.equal(got!.map(text), ['one']);
    assert.equal([queueOf(h, 'full').depth, queueOf(h, 'roomy').depth, queueOf(h, 'roomy').counters.enqueued], [1, 1, 1]);
    assert.is(h.broker.stats.publishRefused.queue_full, 1);
  });
});

test('a drop_oldest queue evicts nothing for a message another queue refuses', async () => {
  await withQueues(
    declare({ name: 'evicting', topicFilter: 'b/+', maxMessages: 1, overflow: 'drop_oldest' }, { name: 'strict', topicFilter: 'b/#', maxMessages: 1 }),
    async (h) => {
      const pub = await h.raw();
      assert.is(await send(pub, 'b/x', 'kept'), 0);
      assert.is(await send(pub, 'b/x', 'refused'), 0x97);
      const evicting = queueOf(h, 'evicting');
      assert.equal([evicting.depth, evicting.counters.dropped], [1, 0]);
      const c = await rawConsumer(h, '$queue/evicting');
      const [got] = await flushed(pub, [c]);
      assert.equal(got!.map(text), ['kept']);
    },
  );
});

test('QoS 0 is never refused: a full queue does not take it, the live subscriber does', async () => {
  await withQueues(declare({ name: 'full', topicFilter: 'c/#', maxMessages: 1 }), async (h) => {
    const live = await rawConsumer(h, 'c/#', { qos: 0 });
    const pub = await h.raw();
    await sendAll(pub, 'c/x', ['one']);
    await send(pub, 'c/x', 'qos0', { qos: 0 });
    const [got] = await flushed(pub, [live]);
    assert.equal(got!.map(text), ['one', 'qos0']);
    assert.equal([queueOf(h, 'full').depth, queueOf(h, 'full').counters.publishRejected], [1, 1]);
    assert.is(h.broker.stats.publishRefused.queue_full, 0, 'no publish was refused: QoS 0 has no refusal');
  });
});

test('a refused retained publish does not replace the retained value', async () => {
  await withQueues(declare({ name: 'full', topicFilter: 'r/#', maxMessages: 1 }), async (h) => {
    const pub = await h.raw();
    pub.send({ cmd: 'publish', topic: 'r/x', payload: Buffer.from('v1'), qos: 1, retain: true, dup: false, messageId: 1 } as Packet);
    assert.is(((await pub.next('puback')) as { reasonCode?: number }).reasonCode ?? 0, 0);
    pub.send({ cmd: 'publish', topic: 'r/x', payload: Buffer.from('v2'), qos: 1, retain: true, dup: false, messageId: 2 } as Packet);
    assert.is(((await pub.next('puback')) as { reasonCode?: number }).reasonCode, 0x97);
    assert.equal([...h.broker.retained.match('r/#', Date.now())].map((m) => m.payload.toString()), ['v1']);
  });
});

test('a shared group passes over a member whose session queue is full; when every member is full the publish is refused', async () => {
  await withQueues(
    undefined,
    async (h) => {
      // Two persistent members of one group, both offline: each can hold one message.
      const member = async (clientId: string) => {
        const { client, connack } = await h.rawConnack({ clientId, clean: false, properties: { sessionExpiryInterval: 300 } });
        if (!connack.sessionPresent) {
          client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$share/g/s/t', qos: 1 }] } as Packet);
          await client.next('suback');
        }
        return client;
      };
      const offline = async (c: Awaited<ReturnType<typeof member>>) => {
        c.end();
        await c.closed;
      };
      const pendingOf = (id: string) => [...h.broker.sessions.byClientId.get(id)!.pending].map((o) => o.msg.payload.toString());
      for (const id of ['m1', 'm2']) await offline(await member(id));
      await until(() => [...h.broker.sessions.byClientId.values()].filter((s) => s.link === null).length === 2, 'both members offline');
      const pub = await h.raw();
      assert.equal([await send(pub, 's/t', 'one'), await send(pub, 's/t', 'two')], [0, 0]);
      assert.equal([pendingOf('m1'), pendingOf('m2')], [['one'], ['two']]);
      // m2 comes back for its message and leaves again; the turn is m1's, whose queue is still full.
      const back = await member('m2');
      const p = (await back.next('publish')) as { messageId?: number };
      back.send({ cmd: 'puback', messageId: p.messageId! } as Packet);
      await until(() => pendingOf('m2').length === 0 && h.broker.sessions.byClientId.get('m2')!.inflight.size === 0, 'm2 drained');
      await offline(back);
      assert.is(await send(pub, 's/t', 'three'), 0, 'passed over full m1 to m2');
      assert.equal([pendingOf('m1'), pendingOf('m2')], [['one'], ['three']]);
      assert.is(await send(pub, 's/t', 'four'), 0x97, 'every member full');
      assert.is(h.broker.stats.publishRefused.session_queue_full, 1);
    },
    { maxQueuedMessages: 1 },
  );
});

test('at the store limit the publish is refused with 0x97 before routing: the live subscriber gets only what was accepted', async () => {
  await withQueues(
    (c) => {
      declare({ name: 'fill', topicFilter: 'fill/#' })(c);
      c.storage.mapSizeBytes = 1024 * 1024;
    },
    async (h) => {
      const live = await rawConsumer(h, 'fill/#', { qos: 1 });
      const pub = await h.raw();
      const payload = 'x'.repeat(2000);
      let accepted = 0;
      let refusal = 0;
      for (let i = 0; i < 2000 && refusal === 0; i++) {
        const rc = await send(pub, 'fill/t', payload);
        if (rc >= 0x80) refusal = rc;
        else accepted++;
      }
      assert.is(refusal, 0x97);
      // Once full, every further publish is refused at admission too.
      assert.is(await send(pub, 'fill/t', 'after'), 0x97);
      const got = [];
      for (;;) {
        const p = (await live.next('publish', 5000)) as { topic: string; payload: Buffer; messageId?: number };
        live.send({ cmd: 'puback', messageId: p.messageId! } as Packet);
        if (p.payload.toString() === 'after') assert.unreachable('a refused message was delivered');
        got.push(p);
        if (got.length === accepted) break;
      }
      const [rest] = await flushed(pub, [live]);
      assert.equal(rest!.length, 0, 'nothing beyond the accepted messages');
      assert.ok(h.broker.stats.publishRefused.store_full >= 1, `store_full refusals: ${h.broker.stats.publishRefused.store_full}`);
    },
  );
});

test.run();
