// End to end, issue 4 "Tests that must exist and pass": the broker is killed with SIGKILL in the middle of the
// OCR-like scenario (a publisher still publishing into the least_inflight queue `images/+`, four workers at 2, 4,
// 6 and 8 ms per job consuming it, one job in flight each), restarted on the same data directory; the workers
// reconnect and finish. Every job whose publish was acknowledged must be processed at least once. A job may be
// processed twice only if nothing the test saw proves that its removal was on disk at the kill (see
// removalProvenDurable): the duplicates must be exactly within that set, however slow the machine. The kill
// comes after an observed point (a number of acknowledged publishes and processed jobs), not at a time. Two
// rounds at different kill points; set WHARF_QUEUE_CRASH_SEED to replay a run's points.

import { performance } from 'node:perf_hooks';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Workspace, type WharfProcess } from '../helpers/broker-process.js';
import { JobPublisher, QueueWorker, until, type JobAck, type JobPublishResult } from '../helpers/queue-clients.js';
import { prng, seedFrom } from '../helpers/prng.js';

const test = suite('e2e queues: SIGKILL in the middle of the job scenario loses no acknowledged job');

const JOBS = 2000;
const SPEEDS_MS = [2, 4, 6, 8];
/** Publishing takes about 1 s at this pace, about twice as fast as the workers take jobs (about 1,000 jobs/s). */
const PUBLISH_RATE = 2000;
/** The kill comes right after this many publishes were acknowledged (fewer than JOBS: still publishing then)... */
const KILL_AFTER_ACKED: [number, number] = [250, 1200];
/** ...and at least this many jobs were processed: the workers are consuming too. */
const KILL_AFTER_PROCESSED = 50;
/** Reaching the kill point takes about a second; a run that never reaches it fails after this long. */
const KILL_POINT_LIMIT_MS = 30_000;
const ROUNDS = 2;
const FINISH_LIMIT_MS = 20_000;
/**
 * Queued after every acknowledged job is done, this job is delivered after anything still in the queue (FIFO; no
 * worker goes away then, so nothing is given back to the front): once it is processed and nothing is held, the
 * queue is drained.
 */
const END_MARKER_JOB = 1_000_000;
const SEED = seedFrom('WHARF_QUEUE_CRASH_SEED');
const QUEUES_YAML = `queues:
  definitions:
    - name: images
      topicFilter: images/+
      dispatch: least_inflight
      consumerInflight: 1
`;

const sorted = (xs: Iterable<number>) => [...xs].sort((a, b) => a - b);

async function connectAll(workers: QueueWorker[], port: number): Promise<void> {
  await Promise.all(workers.map((w) => w.connect(port)));
  const granted = await Promise.all(workers.map((w) => w.subscribe('$q/images/+', 1)));
  assert.equal(granted, [[1], [1], [1], [1]]);
}

/**
 * Whether what the test saw proves that the removal caused by `ack` (a PUBACK `worker` wrote before the kill) was
 * durable at the kill. With one job in flight per consumer, the broker delivers the worker's next job only after
 * it processed that PUBACK, which enqueues the removal in the store at once; a publish this process wrote after
 * receiving that next job is read by the broker later still, so its append joins the same or a later commit
 * (commits are applied in order). Its PUBACK, which the broker sends once that commit is on disk, proves the
 * removal durable. Without such a publish (no next job, or nothing written after it was acknowledged), the
 * removal may have been lost with the process and the job processed again.
 */
function removalProvenDurable(worker: QueueWorker, ack: JobAck, closedAt: number, lastAckedPublishSentAt: number): boolean {
  const next = worker.deliveries.find((d) => d.at > ack.at && d.at < closedAt);
  return next !== undefined && lastAckedPublishSentAt > next.at;
}

/** The records removalProvenDurable relies on: before the kill, each worker held one job at a time. */
function assertOneInFlight(worker: QueueWorker, closedAt: number): void {
  const delivered = worker.deliveries.filter((d) => d.at < closedAt);
  const acked = worker.acks.filter((a) => a.at < closedAt);
  assert.ok(delivered.length - acked.length <= 1, `${worker.name}: at most one delivery unanswered at the kill`);
  acked.forEach((a, i) => {
    assert.is(a.job, delivered[i]!.job, `${worker.name}: answers in delivery order`);
    if (i + 1 < delivered.length) assert.ok(delivered[i + 1]!.at > a.at, `${worker.name}: next job only after the PUBACK of ${a.job}`);
  });
}

const random = prng(SEED);
console.log(`\n  queue crash rounds: seed ${SEED} (WHARF_QUEUE_CRASH_SEED=${SEED} replays the kill points)`);

for (let round = 1; round <= ROUNDS; round++) {
  const killAfterAcked = Math.round(KILL_AFTER_ACKED[0] + random() * (KILL_AFTER_ACKED[1] - KILL_AFTER_ACKED[0]));
  test(`round ${round}: SIGKILL after ${killAfterAcked} acknowledged publishes, mid-consumption; after the restart every acknowledged job is processed, duplicates only where the removal was not proven durable`, async () => {
    const ws = Workspace.create(undefined, QUEUES_YAML);
    let broker: WharfProcess | undefined;
    const publishers: JobPublisher[] = [];
    const workers = SPEEDS_MS.map((ms) => QueueWorker.steady(`crash-worker-${ms}ms`, ms));
    try {
      broker = await ws.start();
      await connectAll(workers, broker.port);
      const jobs = Array.from({ length: JOBS }, (_, i) => i);

      // Before: paced publishing while the workers consume; SIGKILL in the middle.
      const pub1 = await JobPublisher.connect(broker.port, 'crash-publisher');
      publishers.push(pub1);
      const before = pub1.run({ topic: 'images/process', jobs, window: 32, ratePerSec: PUBLISH_RATE });
      const processedNow = () => workers.reduce((n, w) => n + w.processed().length, 0);
      const atKillPoint = await until(() => pub1.ackedCount >= killAfterAcked && processedNow() >= KILL_AFTER_PROCESSED, KILL_POINT_LIMIT_MS, 1);
      assert.ok(atKillPoint, `${killAfterAcked} publishes acknowledged and ${KILL_AFTER_PROCESSED} jobs processed within ${KILL_POINT_LIMIT_MS} ms`);
      const killAt = performance.now();
      await broker.crash();
      const first: JobPublishResult = await before;
      await Promise.all(workers.map((w) => w.closed));
      const closedAt = workers.map((w) => w.closedAt);
      const processedBefore = processedNow();
      const lastAckedPublishSentAt = Math.max(...[...first.acked].map((j) => pub1.sentAt.get(j)!));
      assert.ok(first.connectionLost, 'the publisher was still publishing at the kill');
      assert.ok(first.sent.length < JOBS, `jobs left to publish at the kill (sent ${first.sent.length})`);
      assert.ok(processedBefore > 0, 'the workers were consuming at the kill');

      // After: same data directory; workers back, the rest of the jobs published.
      broker = await ws.start();
      await connectAll(workers, broker.port);
      const sentBefore = new Set(first.sent);
      const pub2 = await JobPublisher.connect(broker.port, 'crash-publisher');
      publishers.push(pub2);
      const second = await pub2.run({ topic: 'images/process', jobs: jobs.filter((j) => !sentBefore.has(j)), window: 64 });
      assert.ok(!second.connectionLost && !second.timedOut, 'the publisher finished after the restart');
      assert.is(second.refused.size, 0, 'no publish refused after the restart');
      const acknowledged = new Set([...first.acked, ...second.acked]);

      const processedSet = () => new Set(workers.flatMap((w) => w.processed()));
      const allDone = await until(() => {
        const done = processedSet();
        for (const j of acknowledged) if (!done.has(j)) return false;
        return true;
      }, FINISH_LIMIT_MS);
      // Then until the queue is drained (jobs published but not acknowledged before the kill may be in it too).
      const markerPub = await JobPublisher.connect(broker.port, 'crash-end-marker');
      publishers.push(markerPub);
      const marker = await markerPub.run({ topic: 'images/process', jobs: [END_MARKER_JOB], window: 1 });
      assert.is(marker.acked.size, 1, 'the end marker job was queued');
      const drained = await until(() => processedSet().has(END_MARKER_JOB) && workers.every((w) => w.holding.size === 0), FINISH_LIMIT_MS, 20);
      await Promise.all(workers.map((w) => w.ping()));

      const counts = new Map<number, number>();
      for (const w of workers) for (const j of w.processed()) if (j !== END_MARKER_JOB) counts.set(j, (counts.get(j) ?? 0) + 1);
      const lost = sorted([...acknowledged].filter((j) => !counts.has(j)));
      const phantom = sorted([...counts.keys()].filter((j) => !sentBefore.has(j) && !second.sent.includes(j)));
      const duplicates = sorted([...counts].filter(([, n]) => n > 1).map(([j]) => j));
      const extra = [...counts.values()].reduce((s, n) => s + n - 1, 0);
      // Jobs acknowledged on the connections the kill closed, and those among them whose removal nothing proves
      // durable: the only ones that may come back.
      const ackedBeforeKill = new Map<number, number>(); // job -> PUBACKs written before the kill
      const unproven = new Set<number>();
      workers.forEach((w, i) => {
        for (const a of w.acks) {
          if (a.at >= closedAt[i]! || a.reasonCode >= 0x80) continue;
          ackedBeforeKill.set(a.job, (ackedBeforeKill.get(a.job) ?? 0) + 1);
          if (!removalProvenDurable(w, a, closedAt[i]!, lastAckedPublishSentAt)) unproven.add(a.job);
        }
      });
      const unexpected = duplicates.filter((j) => counts.get(j) !== 2 || ackedBeforeKill.get(j) !== 1 || !unproven.has(j));
      const unansweredProcessed = first.unanswered.filter((j) => counts.has(j)).length;
      const abandoned = workers.reduce((n, w) => n + w.abandoned.length, 0);
      console.log(
        `  round ${round}: kill after ${pub1.ackedCount} acknowledged publishes (point ${killAfterAcked}): published ${first.sent.length}, acknowledged ${first.acked.size}, unanswered ${first.unanswered.length}; ` +
          `processed ${processedBefore} before the kill (${abandoned} in progress abandoned), ${unproven.size} of their removals not proven durable\n` +
          `    after the restart: published ${second.sent.length} more; ${acknowledged.size} acknowledged jobs, lost ${lost.length}; ` +
          `processed twice: ${duplicates.length} jobs (${extra} extra) ${JSON.stringify(duplicates)} ` +
          `(${(Math.max(...closedAt) - killAt).toFixed(1)} ms until the workers saw the broker gone); ` +
          `unanswered publishes processed anyway: ${unansweredProcessed}; per worker ${workers.map((w) => w.processed().length).join('/')}`,
      );

      assert.ok(allDone, `every acknowledged job processed within ${FINISH_LIMIT_MS} ms; missing: ${JSON.stringify(lost.slice(0, 20))}`);
      assert.ok(drained, 'the queue drained');
      assert.equal(lost, [], 'acknowledged jobs never processed');
      assert.equal(phantom, [], 'jobs processed that were never published');
      workers.forEach((w, i) => assertOneInFlight(w, closedAt[i]!));
      // Each duplicate: processed exactly twice, once before the kill and once after, and its removal was never
      // proven durable. Anything else is an acknowledgement the broker lost although it had committed it, or a
      // job it handed out twice.
      assert.equal(unexpected, [], `duplicates outside the ${unproven.size} jobs whose removal was not proven durable`);
      for (const w of workers) assert.ok(w.deliveries.every((d) => d.topic === 'images/process'), `${w.name}: deliveries keep their topic`);
    } finally {
      for (const w of workers) w.dispose();
      for (const p of publishers) p.destroy();
      await broker?.crash();
      await ws.dispose();
    }
  });
}

test.run();
