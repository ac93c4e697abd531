// Dead-letter reason `consumer_lost` (README "Queues", Acknowledgement): a consumer that goes away holding a
// delivery, by a dropped socket, an UNSUBSCRIBE or a takeover, has failed that delivery. It counts towards
// maxDeliveries like a rejection, and the last failure names the reason on the dead letter.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IPublishPacket } from 'mqtt-packet';
import { unsubscribe } from '../../helpers/sub-harness.js';
import { ack, declare, flushed, queueOf, rawConsumer, send, sendAll, text, until, withQueues } from '../../helpers/queue-kit.js';
import type { RawClient } from '../../helpers/raw-client.js';
import type { Harness } from '../../helpers/sub-harness.js';

const test = suite('11-queues: dead-letter reason consumer_lost');

const nextPublish = async (c: RawClient) => (await c.next('publish')) as IPublishPacket;

/** `jobs/+` dead-letters into `dlq` after `maxDeliveries`; a lost consumer's message is offered again at once. */
const jobsWithDlq = (maxDeliveries: number) =>
  declare({ name: 'jobs', topicFilter: 'jobs/+', maxDeliveries, deadLetter: 'dlq', redeliveryDelayMs: 0 }, { name: 'dlq', topicFilter: 'dead/jobs' });

/** The one dead letter in `dlq`: its topic, payload and the user properties Wharf adds. */
async function readDeadLetter(h: Harness): Promise<{ topic: string; payload: string; userProperties: Record<string, unknown> }> {
  const dlq = queueOf(h, 'dlq');
  await until(() => dlq.depth === 1, 'the dead letter in dlq');
  const reader = await rawConsumer(h, '$queue/dlq');
  const dead = await nextPublish(reader);
  ack(reader, dead);
  await until(() => dlq.depth === 0, 'the dead letter acknowledged');
  return { topic: dead.topic, payload: text(dead), userProperties: { ...dead.properties?.userProperties } };
}

test('maxDeliveries 2: two consumers that drop their socket while holding the job: it is dead-lettered with reason consumer_lost and delivery count 2', async () => {
  await withQueues(jobsWithDlq(2), async (h) => {
    const a = await rawConsumer(h, '$q/jobs/+', { clientId: 'a' });
    const pub = await h.raw();
    await send(pub, 'jobs/ocr', 'page-1', { properties: { userProperties: { job: '17' } } });
    assert.is(text(await nextPublish(a)), 'page-1');
    const b = await rawConsumer(h, '$q/jobs/+', { clientId: 'b' });
    const q = queueOf(h, 'jobs');
    a.end();
    const again = await nextPublish(b);
    assert.equal([text(again), q.counters.redelivered], ['page-1', 1], 'the first loss is a redelivery');
    b.end();
    const dead = await readDeadLetter(h);
    assert.equal(dead, {
      topic: 'jobs/ocr',
      payload: 'page-1',
      userProperties: { job: '17', 'wharf-dead-letter-queue': 'jobs', 'wharf-dead-letter-reason': 'consumer_lost', 'wharf-delivery-count': '2' },
    });
    assert.equal([q.depth, q.inflight, q.counters.deadLettered, q.counters.redelivered, q.counters.rejected, q.counters.ackTimeouts, q.counters.acknowledged], [0, 0, 1, 1, 0, 0, 0]);
  });
});

test('the reason is that of the last failure: rejected once (0x80), then the consumer is lost: consumer_lost, count 2', async () => {
  await withQueues(jobsWithDlq(2), async (h) => {
    const a = await rawConsumer(h, '$q/jobs/+', { clientId: 'a' });
    const pub = await h.raw();
    await sendAll(pub, 'jobs/a', ['j1']);
    ack(a, await nextPublish(a), 0x80);
    assert.is(text(await nextPublish(a)), 'j1', 'offered again to the only consumer');
    a.end();
    const dead = await readDeadLetter(h);
    assert.equal([dead.userProperties['wharf-dead-letter-reason'], dead.userProperties['wharf-delivery-count']], ['consumer_lost', '2']);
    const q = queueOf(h, 'jobs');
    assert.equal([q.counters.rejected, q.counters.redelivered, q.counters.deadLettered], [1, 1, 1]);
  });
});

test('UNSUBSCRIBE with a job in flight at maxDeliveries 1 loses it: dead-lettered with reason consumer_lost; the late PUBACK changes nothing', async () => {
  await withQueues(jobsWithDlq(1), async (h) => {
    const a = await rawConsumer(h, '$q/jobs/+', { clientId: 'a' });
    const pub = await h.raw();
    await sendAll(pub, 'jobs/a', ['j1']);
    const held = await nextPublish(a);
    const unsuback = await unsubscribe(a, ['$q/jobs/+']);
    assert.equal(unsuback.granted, [0]);
    ack(a, held); // no longer a consumer: this PUBACK must not acknowledge anything
    const [toA] = await flushed(pub, [a]);
    assert.equal(toA, []);
    const dead = await readDeadLetter(h);
    assert.equal([dead.payload, dead.userProperties['wharf-dead-letter-reason'], dead.userProperties['wharf-delivery-count']], ['j1', 'consumer_lost', '1']);
    assert.equal([queueOf(h, 'jobs').counters.acknowledged, queueOf(h, 'jobs').counters.deadLettered], [0, 1]);
  });
});

test('a takeover (same client id connects again) with a job in flight at maxDeliveries 1: dead-lettered with reason consumer_lost', async () => {
  await withQueues(jobsWithDlq(1), async (h) => {
    const persistent = { clientId: 'worker', clean: false, properties: { sessionExpiryInterval: 600 } };
    const first = await rawConsumer(h, '$q/jobs/+', { connect: persistent });
    const pub = await h.raw();
    await sendAll(pub, 'jobs/a', ['j1']);
    assert.is(text(await nextPublish(first)), 'j1');
    // The session stays (clean start 0) and so does its consuming subscription; only the delivery is lost.
    const second = await h.raw(persistent);
    const taken = await first.expectClose();
    assert.equal(taken.map((p) => [p.cmd, (p as { reasonCode?: number }).reasonCode]), [['disconnect', 0x8e]]);
    const dead = await readDeadLetter(h);
    assert.equal([dead.payload, dead.userProperties['wharf-dead-letter-reason'], dead.userProperties['wharf-delivery-count']], ['j1', 'consumer_lost', '1']);
    const q = queueOf(h, 'jobs');
    assert.equal([q.depth, q.counters.deadLettered, q.consumers.length], [0, 1, 1], 'the new connection is still a consumer, with nothing to do');
    second.end();
  });
});

test.run();
