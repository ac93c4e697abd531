// Acknowledgement and redelivery: PUBACK >= 0x80 rejects (offered again after redeliveryDelay, to another consumer
// when one has room), maxDeliveries dead-letters (to the deadLetter queue with user properties saying from where
// and why, or dropped and counted), a lost consumer's messages go elsewhere at once, and ackTimeout counts as a
// rejection whose late PUBACK is ignored.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IPublishPacket } from 'mqtt-packet';
import { unsubscribe } from '../../helpers/sub-harness.js';
import { ack, declare, flushed, queueOf, rawConsumer, send, sendAll, sync, text, until, withQueues } from '../../helpers/queue-kit.js';

const test = suite('11-queues: acknowledgement and redelivery');

const nextPublish = async (c: Parameters<typeof ack>[0], timeoutMs?: number) => (await c.next('publish', timeoutMs)) as IPublishPacket;
/** A bound on waiting for a delivery that must come: it fails only when the delivery never comes (no timing). */
const MUST_ARRIVE_MS = 10_000;
/**
 * "At once" is shown without a clock: with a redeliveryDelay far longer than MUST_ARRIVE_MS (the longest the
 * configuration allows, 7 days), a message that waited for it could not arrive within the test at all.
 */
const NEVER_MS = 7 * 24 * 60 * 60 * 1000;

test('PUBACK 0x80 rejects: after redeliveryDelay (300 ms) the message goes to the other consumer, not back to the rejecting one', async () => {
  await withQueues(declare({ name: 'jobs', topicFilter: 'jobs/+', redeliveryDelayMs: 300 }), async (h) => {
    const a = await rawConsumer(h, '$q/jobs/+', { clientId: 'a' });
    const pub = await h.raw();
    await sendAll(pub, 'jobs/a', ['j1']);
    const first = await nextPublish(a);
    const b = await rawConsumer(h, '$q/jobs/+', { clientId: 'b' });
    const q = queueOf(h, 'jobs');
    const rejectedAt = Date.now();
    ack(a, first, 0x80);
    await until(() => q.counters.rejected === 1);
    assert.equal([q.depth, q.inflight], [1, 0], 'waiting for its redelivery delay');
    const again = await nextPublish(b, MUST_ARRIVE_MS);
    // Not before the delay (a lower bound, which machine speed can only lengthen); the wait itself is bounded
    // only by MUST_ARRIVE_MS.
    const waited = Date.now() - rejectedAt;
    assert.ok(waited >= 290, `redelivered after ${waited} ms, before redeliveryDelay`);
    assert.equal([again.topic, text(again), again.qos], ['jobs/a', 'j1', 1]);
    const [toA] = await flushed(pub, [a]);
    assert.equal(toA, [], 'nothing more for the rejecting consumer');
    ack(b, again);
    await until(() => q.depth === 0);
    assert.equal([q.counters.delivered, q.counters.rejected, q.counters.redelivered, q.counters.acknowledged], [2, 1, 1, 1]);
  });
});

test('maxDeliveries 3: an MQTT.js consumer rejecting every time gets it 3 times, then it is in the dead-letter queue with its origin and why', async () => {
  const tweak = declare(
    { name: 'jobs', topicFilter: 'jobs/+', maxDeliveries: 3, deadLetter: 'jobs-dlq' },
    { name: 'jobs-dlq', topicFilter: 'dead/jobs' },
  );
  await withQueues(tweak, async (h) => {
    const seen: string[] = [];
    // MQTT.js answers PUBACK with the code given to customHandleAcks (and emits no 'message' for a failure code).
    const rejecter = await h.mqtt({ customHandleAcks: (_t, m, _p, done) => (seen.push(m.toString()), done(0x80)) });
    await rejecter.subscribeAsync('$q/jobs/+', { qos: 1 });
    const pub = await h.raw();
    await send(pub, 'jobs/ocr', 'page-1', { properties: { contentType: 'image/png', userProperties: { job: '17' } } });
    const [q, dlq] = [queueOf(h, 'jobs'), queueOf(h, 'jobs-dlq')];
    await until(() => dlq.depth === 1);
    assert.equal(seen, ['page-1', 'page-1', 'page-1']);
    assert.equal([q.depth, q.inflight, q.counters.rejected, q.counters.redelivered, q.counters.deadLettered], [0, 0, 3, 2, 1]);
    const reader = await rawConsumer(h, '$queue/jobs-dlq');
    const dead = await nextPublish(reader);
    assert.equal([dead.topic, text(dead), dead.properties?.contentType], ['jobs/ocr', 'page-1', 'image/png']);
    assert.equal({ ...dead.properties?.userProperties }, {
      job: '17',
      'wharf-dead-letter-queue': 'jobs',
      'wharf-dead-letter-reason': 'rejected',
      'wharf-delivery-count': '3',
    });
    ack(reader, dead);
    await until(() => dlq.depth === 0);
  });
});

test('a dead-letter queue that is not declared is created on the first dead letter and consumable by $queue/<name>', async () => {
  await withQueues(declare({ name: 'jobs', topicFilter: 'jobs/+', maxDeliveries: 1, deadLetter: 'later-dlq' }), async (h) => {
    const a = await rawConsumer(h, '$q/jobs/+');
    const pub = await h.raw();
    await sendAll(pub, 'jobs/a', ['j1']);
    ack(a, await nextPublish(a), 0x83);
    await until(() => h.broker.queues!.queueByName('later-dlq')?.depth === 1);
    const reader = await rawConsumer(h, '$queue/later-dlq', { version: 4 });
    const dead = await nextPublish(reader);
    assert.equal([dead.topic, text(dead)], ['jobs/a', 'j1']);
    assert.is(queueOf(h, 'jobs').counters.deadLettered, 1);
  });
});

test('a delivery that times out (ackTimeout) at maxDeliveries 1 is dead-lettered with reason ack_timeout', async () => {
  const tweak = declare({ name: 'jobs', topicFilter: 'jobs/+', maxDeliveries: 1, ackTimeoutMs: 200, deadLetter: 'dlq' }, { name: 'dlq', topicFilter: 'dead/jobs' });
  await withQueues(tweak, async (h) => {
    const a = await rawConsumer(h, '$q/jobs/+');
    const pub = await h.raw();
    await sendAll(pub, 'jobs/a', ['slow']);
    const late = await nextPublish(a);
    const dlq = queueOf(h, 'dlq');
    await until(() => dlq.depth === 1);
    ack(a, late); // too late: ignored
    await sync(a);
    const reader = await rawConsumer(h, '$queue/dlq');
    const dead = await nextPublish(reader);
    assert.equal([text(dead), dead.properties?.userProperties?.['wharf-dead-letter-reason'], dead.properties?.userProperties?.['wharf-delivery-count']], ['slow', 'ack_timeout', '1']);
    const q = queueOf(h, 'jobs');
    assert.equal([q.depth, q.counters.ackTimeouts, q.counters.deadLettered, q.counters.acknowledged], [0, 1, 1, 0]);
  });
});

test('maxDeliveries without deadLetter: the message is dropped and counted as dead-lettered; nothing is redelivered', async () => {
  await withQueues(declare({ name: 'jobs', topicFilter: 'jobs/+', maxDeliveries: 2 }), async (h) => {
    const a = await rawConsumer(h, '$q/jobs/+');
    const pub = await h.raw();
    await sendAll(pub, 'jobs/a', ['j1']);
    const first = await nextPublish(a);
    ack(a, first, 0x80);
    const second = await nextPublish(a);
    assert.equal([text(second), second.dup], ['j1', false]);
    ack(a, second, 0x80);
    const q = queueOf(h, 'jobs');
    await until(() => q.counters.deadLettered === 1);
    const [rest] = await flushed(pub, [a]);
    assert.equal(rest, []);
    assert.equal([q.depth, q.inflight, q.counters.rejected, q.counters.redelivered], [0, 0, 2, 1]);
    assert.equal(h.broker.queues!.queues().map((x) => x.name), ['jobs'], 'no queue was made for it');
  });
});

test('a consumer whose socket is destroyed: its unacknowledged messages go to another consumer at once (no redeliveryDelay)', async () => {
  await withQueues(declare({ name: 'jobs', topicFilter: 'jobs/+', redeliveryDelayMs: NEVER_MS }), async (h) => {
    const a = await rawConsumer(h, '$q/jobs/+', { clientId: 'a' });
    const pub = await h.raw();
    await sendAll(pub, 'jobs/a', ['j1', 'j2', 'j3']);
    const q = queueOf(h, 'jobs');
    await until(() => q.inflight === 3);
    const b = await rawConsumer(h, '$q/jobs/+', { clientId: 'b' });
    a.end();
    // At once: had they waited for redeliveryDelay (NEVER_MS), none would arrive within MUST_ARRIVE_MS.
    const again = [await nextPublish(b, MUST_ARRIVE_MS), await nextPublish(b, MUST_ARRIVE_MS), await nextPublish(b, MUST_ARRIVE_MS)];
    assert.equal(again.map((p) => [text(p), p.dup]), [['j1', false], ['j2', false], ['j3', false]]);
    for (const p of again) ack(b, p);
    await until(() => q.depth === 0);
    assert.equal([q.counters.redelivered, q.counters.rejected, q.counters.acknowledged, q.consumers.length], [3, 0, 3, 1]);
  });
});

test('unsubscribing, or being taken over, gives a consumer\'s unacknowledged messages to another consumer at once', async () => {
  await withQueues(declare({ name: 'jobs', topicFilter: 'jobs/+', redeliveryDelayMs: NEVER_MS }), async (h) => {
    const a = await rawConsumer(h, '$q/jobs/+', { clientId: 'a' });
    const b = await rawConsumer(h, '$q/jobs/+', { clientId: 'b', connect: { properties: { receiveMaximum: 1 } } });
    const pub = await h.raw();
    await sendAll(pub, 'jobs/a', ['j1', 'j2']);
    const q = queueOf(h, 'jobs');
    await until(() => q.inflight === 2);
    const [ofA, ofB] = await flushed(pub, [a, b]);
    assert.equal([ofA!.map(text), ofB!.map(text)], [['j1'], ['j2']]);
    assert.equal((await unsubscribe(b, ['$q/jobs/+'])).granted, [0]);
    // At once, as above: a wait for redeliveryDelay (NEVER_MS) would outlast MUST_ARRIVE_MS.
    assert.is(text(await nextPublish(a, MUST_ARRIVE_MS)), 'j2');
    // A new connection with a's client identifier takes its session over: j1 and j2 go to the newcomer.
    const a2 = await rawConsumer(h, '$q/jobs/+', { clientId: 'a' });
    const again = [await nextPublish(a2, MUST_ARRIVE_MS), await nextPublish(a2, MUST_ARRIVE_MS)];
    assert.equal(again.map(text), ['j1', 'j2']);
    assert.equal([q.counters.redelivered, q.inflight, q.consumers.map((c) => c.id)], [3, 2, ['a']]);
  });
});

test('ackTimeout 300 ms: an unacknowledged delivery goes to another consumer; the late PUBACK is ignored and later deliveries are unaffected', async () => {
  await withQueues(declare({ name: 'jobs', topicFilter: 'jobs/+', ackTimeoutMs: 300 }), async (h) => {
    const a = await rawConsumer(h, '$q/jobs/+', { clientId: 'a' });
    const pub = await h.raw();
    await sendAll(pub, 'jobs/a', ['j1']);
    const late = await nextPublish(a);
    const sentAt = Date.now();
    const b = await rawConsumer(h, '$q/jobs/+', { clientId: 'b' });
    const q = queueOf(h, 'jobs');
    const moved = await nextPublish(b, MUST_ARRIVE_MS);
    assert.ok(Date.now() - sentAt >= 290, 'not before the timeout');
    assert.is(text(moved), 'j1');
    assert.equal([q.counters.ackTimeouts, q.counters.redelivered, q.counters.rejected], [1, 1, 0]);
    // The next message goes to a (it holds nothing now), then a's PUBACK for the timed-out delivery arrives.
    await sendAll(pub, 'jobs/a', ['j2']);
    const fresh = await nextPublish(a);
    assert.is(text(fresh), 'j2');
    assert.ok(fresh.messageId !== late.messageId, 'a fresh packet identifier');
    ack(a, late);
    await sync(a);
    assert.equal([q.counters.acknowledged, q.depth, q.inflight], [0, 2, 2], 'the late PUBACK settled nothing');
    ack(a, fresh);
    ack(b, moved);
    await until(() => q.depth === 0);
    assert.equal([q.counters.acknowledged, q.counters.delivered, q.counters.ackTimeouts], [2, 3, 1]);
  });
});

test.run();
