// Queues are durable: a broker stopped and started again on the same data directory finds its queues (declared
// or auto-created) with depth, bytes and messages intact, in order, acknowledged ones gone; a backlog larger than
// the read-ahead window comes back from disk in order; deleting a queue deletes its messages for good.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IPublishPacket } from 'mqtt-packet';
import { onDataDir } from '../../helpers/restartable.js';
import { ack, declare, flushed, queueOf, rawConsumer, send, sendAll, sendMany, subscribeCodes, text, until } from '../../helpers/queue-kit.js';

const test = suite('11-queues: restart and deletion');


const range = (n: number) => Array.from({ length: n }, (_, i) => `m${String(i).padStart(4, '0')}`);

test('a declared queue survives a restart: depth, bytes, order and properties intact; acknowledged messages stay gone, unacknowledged ones come back', async () => {
  await onDataDir('wharf-queues-', async (boot) => {
    const tweak = declare({ name: 'jobs', topicFilter: 'jobs/+' });
    let h = await boot(tweak);
    const pub = await h.raw();
    for (const p of ['m1', 'm2', 'm3', 'm4', 'm5']) {
      await send(pub, 'jobs/a', p, { properties: { userProperties: { n: p }, contentType: 'text/plain' } });
    }
    const c = await rawConsumer(h, '$q/jobs/+');
    await until(() => queueOf(h, 'jobs').inflight === 5);
    const [got] = await flushed(pub, [c]);
    ack(c, got![0]!);
    ack(c, got![1]!);
    await until(() => queueOf(h, 'jobs').depth === 3);

    h = await boot(tweak);
    const q = queueOf(h, 'jobs');
    assert.equal([q.depth, q.depthBytes, q.inflight], [3, 6, 0]);
    const back = await rawConsumer(h, '$queue/jobs');
    const pub2 = await h.raw();
    await until(() => q.inflight === 3);
    const [again] = await flushed(pub2, [back]);
    assert.equal(again!.map((p) => [p.topic, text(p), { ...p.properties?.userProperties }, p.properties?.contentType]), [
      ['jobs/a', 'm3', { n: 'm3' }, 'text/plain'],
      ['jobs/a', 'm4', { n: 'm4' }, 'text/plain'],
      ['jobs/a', 'm5', { n: 'm5' }, 'text/plain'],
    ]);
    for (const p of again!) ack(back, p);
    await until(() => q.depth === 0);
  });
});

test('an auto-created queue survives a restart without being in the configuration, and keeps capturing its filter', async () => {
  await onDataDir('wharf-queues-', async (boot) => {
    let h = await boot();
    const c = await h.raw();
    assert.equal(await subscribeCodes(c, ['$queue/made/made/+']), [1]);
    c.end();
    const pub = await h.raw();
    await sendAll(pub, 'made/x', ['before']);

    h = await boot();
    const q = queueOf(h, 'made');
    assert.equal([q.definition.topicFilter, q.depth], ['made/+', 1]);
    const pub2 = await h.raw();
    await sendAll(pub2, 'made/y', ['after']);
    const back = await rawConsumer(h, '$queue/made');
    await until(() => q.inflight === 2);
    const [got] = await flushed(pub2, [back]);
    assert.equal(got!.map((p) => [p.topic, text(p)]), [['made/x', 'before'], ['made/y', 'after']]);
  });
});

test('a backlog of 600 (over the read-ahead window) comes back after a restart complete and in order', async () => {
  await onDataDir('wharf-queues-', async (boot) => {
    const tweak = declare({ name: 'bulk', topicFilter: 'bulk/#' });
    let h = await boot(tweak);
    await sendMany(await h.raw(), 'bulk/t', range(600));
    assert.is(queueOf(h, 'bulk').depth, 600);

    h = await boot(tweak);
    const q = queueOf(h, 'bulk');
    assert.equal([q.depth, q.depthBytes], [600, 600 * 5]);
    const c = await rawConsumer(h, '$q/bulk/#');
    const got: string[] = [];
    while (got.length < 600) {
      const p = (await c.next('publish')) as IPublishPacket;
      got.push(text(p));
      ack(c, p);
    }
    assert.equal(got, range(600));
    await until(() => q.depth === 0);
    assert.equal([q.counters.delivered, q.counters.redelivered], [600, 0]);
  });
});

test('after a restart, drop_oldest evicts the oldest message still on disk', async () => {
  await onDataDir('wharf-queues-', async (boot) => {
    const tweak = declare({ name: 'jobs', topicFilter: 'jobs/+', maxMessages: 3, overflow: 'drop_oldest' });
    let h = await boot(tweak);
    await sendAll(await h.raw(), 'jobs/a', ['m1', 'm2', 'm3']);

    h = await boot(tweak);
    const pub = await h.raw();
    await sendAll(pub, 'jobs/a', ['m4']);
    const q = queueOf(h, 'jobs');
    assert.equal([q.depth, q.counters.dropped], [3, 1]);
    const c = await rawConsumer(h, '$q/jobs/+');
    await until(() => q.inflight === 3);
    const [got] = await flushed(pub, [c]);
    assert.equal(got!.map(text), ['m2', 'm3', 'm4']);
  });
});

test('deleting a queue deletes its messages (in flight or not): its consumer gets nothing more, and it does not come back after a restart', async () => {
  await onDataDir('wharf-queues-', async (boot) => {
    let h = await boot();
    const c = await rawConsumer(h, '$queue/jobs/jobs/+', { qos: 1, connect: { properties: { receiveMaximum: 2 } } });
    const pub = await h.raw();
    await sendAll(pub, 'jobs/a', ['m1', 'm2', 'm3', 'm4']);
    const q = queueOf(h, 'jobs');
    await until(() => q.inflight === 2);
    const [held] = await flushed(pub, [c]);
    assert.is(await h.broker.queues!.delete('jobs'), true);
    assert.is(h.broker.queues!.queueByName('jobs'), undefined);
    const store = h.broker.persistence!.store;
    await store.flush();
    assert.equal(await store.readQueueMessages(q.id, { limit: 10 }), []);
    for (const p of held!) ack(c, p); // late PUBACKs for a deleted queue are ignored
    await sendAll(pub, 'jobs/a', ['m5']);
    const [after] = await flushed(pub, [c]);
    assert.equal(after, []);
    assert.is(await h.broker.queues!.delete('jobs'), false);

    h = await boot();
    assert.equal(h.broker.queues!.queues().length, 0);
    // The same name again is a new, empty queue: nothing of the old one comes back.
    const again = await rawConsumer(h, '$queue/jobs/jobs/+');
    const pub2 = await h.raw();
    await sendAll(pub2, 'jobs/a', ['fresh']);
    await until(() => queueOf(h, 'jobs').inflight === 1);
    const [got] = await flushed(pub2, [again]);
    assert.equal(got!.map(text), ['fresh']);
    assert.is(queueOf(h, 'jobs').depth, 1);
  });
});

test('a persistent session stays a consumer: after reconnecting, and after a restart, it gets what was queued meanwhile without subscribing again', async () => {
  await onDataDir('wharf-queues-', async (boot) => {
    const tweak = declare({ name: 'jobs', topicFilter: 'jobs/+' });
    const persistent = { clientId: 'worker', clean: false, properties: { sessionExpiryInterval: 3600 } };
    let h = await boot(tweak);
    const first = await rawConsumer(h, '$q/jobs/+', { connect: persistent });
    first.end();
    await until(() => queueOf(h, 'jobs').consumers.length === 0);
    const pub = await h.raw();
    await sendAll(pub, 'jobs/a', ['while-away']);
    const { client: back, connack } = await h.rawConnack(persistent);
    assert.is(connack.sessionPresent, true);
    const p1 = (await back.next('publish')) as IPublishPacket;
    assert.is(text(p1), 'while-away');
    ack(back, p1);
    await until(() => queueOf(h, 'jobs').depth === 0);
    back.end();
    await until(() => queueOf(h, 'jobs').consumers.length === 0);
    await sendAll(pub, 'jobs/a', ['across-restart']);

    h = await boot(tweak);
    const { client: after, connack: ack2 } = await h.rawConnack(persistent);
    assert.is(ack2.sessionPresent, true);
    const p2 = (await after.next('publish')) as IPublishPacket;
    assert.equal([p2.topic, text(p2), p2.qos], ['jobs/a', 'across-restart', 1]);
    assert.equal(queueOf(h, 'jobs').consumers.map((c) => c.id), ['worker']);
  });
});

test.run();
