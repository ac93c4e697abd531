// End to end, issue 4 "Tests that must exist and pass", against a real `wharf` process with raw MQTT 5 workers:
// - a worker killed (socket destroyed, no DISCONNECT) while holding jobs: its jobs go to the others, none is lost;
// - a worker that rejects (PUBACK 0x80): the job goes to another worker; a job every worker rejects moves to the
//   dead-letter queue after maxDeliveries, with user properties saying from where, why and after how many.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Workspace, type WharfProcess } from '../helpers/broker-process.js';
import { JobPublisher, QueueWorker, until, type JobDelivery } from '../helpers/queue-clients.js';

const test = suite('e2e queues: workers that die or reject');

const WAIT_MS = 5000;
const sorted = (xs: Iterable<number>) => [...xs].sort((a, b) => a - b);
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

/** How often each job was delivered, over all the workers. */
function deliveryCounts(workers: QueueWorker[]): Map<number, number> {
  const seen = new Map<number, number>();
  for (const w of workers) for (const d of w.deliveries) seen.set(d.job, (seen.get(d.job) ?? 0) + 1);
  return seen;
}

async function publishAll(port: number, clientId: string, topic: string, jobs: number[]): Promise<void> {
  const pub = await JobPublisher.connect(port, clientId);
  try {
    const r = await pub.run({ topic, jobs, window: 32 });
    assert.is(r.acked.size, jobs.length, `publishes acknowledged (refused: ${JSON.stringify([...r.refused])})`);
  } finally {
    pub.destroy();
  }
}

test('a worker killed while holding 5 jobs: they are redelivered to the other workers, every job is acknowledged exactly once', async () => {
  const JOBS = 300;
  const INFLIGHT = 5;
  const VICTIM_ACKS = 10;
  const ws = Workspace.create(
    undefined,
    `queues:
  definitions:
    - name: images
      topicFilter: images/+
      dispatch: least_inflight
      consumerInflight: ${INFLIGHT}
`,
  );
  let broker: WharfProcess | undefined;
  const survivors = [QueueWorker.steady('kill-survivor-1', 3), QueueWorker.steady('kill-survivor-2', 3)];
  const kept: number[] = [];
  let heldAtDeath: number[] = [];
  let diedAt = 0;
  // Acknowledges its first 10 jobs, then keeps what it gets; holding 5 (its whole inflight allowance, so the
  // broker has read all 10 PUBACKs) it dies without DISCONNECT.
  const victim: QueueWorker = new QueueWorker('kill-victim', (d: JobDelivery) => {
    if (victim.deliveries.length <= VICTIM_ACKS) return { delayMs: 3 };
    kept.push(d.job);
    if (kept.length === INFLIGHT) {
      heldAtDeath = sorted(kept);
      diedAt = d.at;
      victim.destroy();
    }
    return 'hold';
  });
  const all = [victim, ...survivors];
  try {
    broker = await ws.start();
    await publishAll(broker.port, 'kill-publisher', 'images/process', range(0, JOBS));
    await Promise.all(all.map((w) => w.connect(broker!.port)));
    const granted = await Promise.all(all.map((w) => w.subscribe('$q/images/+', 1)));
    assert.equal(granted, [[1], [1], [1]]);

    const acked = () => victim.processed().length + survivors.reduce((n, w) => n + w.processed().length, 0);
    const done = await until(() => acked() >= JOBS, WAIT_MS);
    await Promise.all(survivors.map((w) => w.ping()));

    const counts = deliveryCounts(all);
    const duplicates = sorted([...counts].filter(([, n]) => n > 1).map(([job]) => job));
    const redelivered = survivors.flatMap((w) => w.deliveries.filter((d) => heldAtDeath.includes(d.job)));
    console.log(
      `\n  killed worker: acknowledged ${victim.processed().length}, held ${JSON.stringify(heldAtDeath)} when its socket was destroyed; ` +
        `survivors acknowledged ${survivors.map((w) => w.processed().length).join(' + ')}; delivered twice: ${JSON.stringify(duplicates)}`,
    );

    assert.ok(done, `all jobs acknowledged within ${WAIT_MS} ms (got ${acked()} of ${JOBS})`);
    assert.ok(victim.isClosed, 'the victim is gone');
    assert.is(victim.deliveries.length, VICTIM_ACKS + INFLIGHT, 'the victim got 10 jobs, then 5 it held');
    assert.is(victim.processed().length, VICTIM_ACKS, 'the victim acknowledged its first 10 jobs before it died');
    assert.is(heldAtDeath.length, INFLIGHT, 'the victim held consumerInflight jobs when it died');
    // None lost, none processed twice: the union of what was acknowledged is every job exactly once.
    assert.equal(sorted([...victim.processed(), ...survivors.flatMap((w) => w.processed())]), range(0, JOBS));
    // The held jobs, and only they, were delivered a second time: to a survivor, after the death.
    assert.equal(duplicates, heldAtDeath);
    assert.equal(sorted(redelivered.map((d) => d.job)), heldAtDeath);
    for (const d of redelivered) assert.ok(d.at >= diedAt, `job ${d.job} reached a survivor after the victim died`);
    for (const w of survivors) assert.is(w.holding.size, 0, `${w.name} holds nothing at the end`);
  } finally {
    for (const w of all) w.dispose();
    await broker?.crash();
    await ws.dispose();
  }
});

test('a rejected job (PUBACK 0x80) goes to another worker; one that every worker rejects is dead-lettered after maxDeliveries: 3', async () => {
  const ws = Workspace.create(
    undefined,
    `queues:
  definitions:
    - name: images
      topicFilter: images/+
      dispatch: least_inflight
      consumerInflight: 1
      maxDeliveries: 3
      deadLetter: images-dlq
    - name: images-dlq
      topicFilter: $dead/images-dlq
`,
  );
  let broker: WharfProcess | undefined;
  let publisher: JobPublisher | undefined;
  const rejecter = new QueueWorker('dlq-rejecter-1', () => ({ delayMs: 1, reasonCode: 0x80 }));
  const rejecter2 = new QueueWorker('dlq-rejecter-2', () => ({ delayMs: 1, reasonCode: 0x80 }));
  const acceptor = QueueWorker.steady('dlq-acceptor', 2);
  const deadLetters = QueueWorker.steady('dlq-reader', 0);
  try {
    broker = await ws.start();
    const port = broker.port;
    publisher = await JobPublisher.connect(port, 'dlq-publisher');
    await rejecter.connect(port);
    await acceptor.connect(port);
    assert.equal(await rejecter.subscribe('$q/images/+', 1), [1]);
    assert.equal(await acceptor.subscribe('$q/images/+', 1), [1]);

    // One job at a time with both workers idle: whichever gets it first, the acceptor ends up doing it.
    const first = range(0, 20);
    for (const job of first) {
      const r = await publisher.run({ topic: 'images/process', jobs: [job], window: 1 });
      assert.ok(r.acked.has(job), `job ${job} publish acknowledged`);
      assert.ok(await until(() => acceptor.processed().includes(job), WAIT_MS), `job ${job} processed by the acceptor`);
      // Its PINGRESP comes after the broker has read that PUBACK: both workers are idle for the next job.
      await acceptor.ping();
    }
    const rejected = rejecter.acks.filter((a) => a.reasonCode === 0x80);
    console.log(`\n  rejecter refused ${rejected.length} of ${first.length} jobs, acceptor processed ${acceptor.processed().length}`);
    assert.equal(sorted(acceptor.processed()), first, 'the acceptor processed every job exactly once');
    assert.ok(rejected.length >= 5, `the rejecter got (and refused) a fair part of the jobs: ${rejected.length}`);
    assert.equal(sorted(rejecter.deliveries.map((d) => d.job)), sorted(rejected.map((a) => a.job)), 'the rejecter saw each job at most once and refused it');
    assert.is(new Set(rejected.map((a) => a.job)).size, rejected.length);
    for (const a of rejected) {
      const again = acceptor.deliveries.find((d) => d.job === a.job);
      assert.ok(again !== undefined && again.at > a.at, `job ${a.job} went to the acceptor after it was refused`);
    }

    // Now only rejecting workers: every job is refused three times, then moves to images-dlq.
    acceptor.disconnect();
    await acceptor.closed;
    await rejecter2.connect(port);
    assert.equal(await rejecter2.subscribe('$q/images/+', 1), [1]);
    const doomed = range(100, 10);
    const r = await publisher.run({ topic: 'images/process', jobs: doomed, window: 10 });
    assert.is(r.acked.size, doomed.length, 'publishes acknowledged');
    const refusals = () => [rejecter, rejecter2].reduce((n, w) => n + w.acks.filter((a) => a.job >= 100).length, 0);
    assert.ok(await until(() => refusals() >= doomed.length * 3, WAIT_MS), `30 refusals (got ${refusals()})`);
    await Promise.all([rejecter, rejecter2].map((w) => w.ping()));
    const counts = deliveryCounts([rejecter, rejecter2]);
    for (const job of doomed) assert.is(counts.get(job), 3, `job ${job} delivered exactly maxDeliveries times`);
    assert.is(refusals(), doomed.length * 3, 'no fourth delivery');

    await deadLetters.connect(port);
    assert.equal(await deadLetters.subscribe('$queue/images-dlq', 1), [1]);
    assert.ok(await until(() => deadLetters.processed().length >= doomed.length, WAIT_MS), `dead letters arrive (got ${deadLetters.deliveries.length})`);
    await deadLetters.ping();
    console.log(`  dead letters: ${JSON.stringify(deadLetters.deliveries.map((d) => d.job))}, properties of the first: ${JSON.stringify(deadLetters.deliveries[0]?.userProperties)}`);
    assert.equal(sorted(deadLetters.deliveries.map((d) => d.job)), doomed, 'exactly the jobs everyone refused, once each');
    for (const d of deadLetters.deliveries) {
      assert.is(d.topic, 'images/process', 'a dead letter keeps its topic');
      assert.is(d.qos, 1);
      assert.equal(d.userProperties, { 'wharf-dead-letter-queue': 'images', 'wharf-dead-letter-reason': 'rejected', 'wharf-delivery-count': '3' });
    }
  } finally {
    for (const w of [rejecter, rejecter2, acceptor, deadLetters]) w.dispose();
    publisher?.destroy();
    await broker?.crash();
    await ws.dispose();
  }
});

test.run();
