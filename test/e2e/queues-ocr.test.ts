// End to end, issue 4 "Tests that must exist and pass": the OCR job scenario against a real `wharf` process.
// 2,000 jobs wait in the least_inflight queue `images/+` (consumerInflight 1) before any worker exists; four
// workers then take them at 2, 4, 6 and 8 ms per job, one job in flight each. Every job must be processed exactly
// once, and the faster a worker, the more jobs it gets. How close the total time and the shares come to the ideal
// is a benchmark (scripts/bench/ocr-shares.ts, scenario 12 in scripts/bench/README.md), not a test: it depends on
// this machine's load.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Workspace, type WharfProcess } from '../helpers/broker-process.js';
import { JobPublisher, QueueWorker, until } from '../helpers/queue-clients.js';

const test = suite('e2e queues: the OCR job scenario (least_inflight, one job in flight per worker)');

const JOBS = 2000;
const SPEEDS_MS = [2, 4, 6, 8];
/** The workers stopped getting jobs: no job finished for this long (a bound, not a speed). */
const STALL_MS = 5000;
/** Upper bound of the whole run, whatever its progress (the ideal is about 2 s). */
const RUN_LIMIT_MS = 60_000;
const QUEUES_YAML = `queues:
  definitions:
    - name: images
      topicFilter: images/+
      dispatch: least_inflight
      consumerInflight: 1
`;

const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);

/** Waits until `done()`, failing when `progress()` stops moving for STALL_MS or RUN_LIMIT_MS pass. */
async function untilDone(done: () => boolean, progress: () => number): Promise<void> {
  const deadline = Date.now() + RUN_LIMIT_MS;
  let last = progress();
  let lastAt = Date.now();
  while (!done()) {
    const now = Date.now();
    if (progress() !== last) [last, lastAt] = [progress(), now];
    if (now - lastAt > STALL_MS) throw new Error(`no job finished for ${STALL_MS} ms (${last} of ${JOBS} done)`);
    if (now > deadline) throw new Error(`${last} of ${JOBS} jobs done within ${RUN_LIMIT_MS} ms`);
    await until(done, 20);
  }
}

test('2,000 queued jobs are processed exactly once by four workers; the 2 ms worker does more than the 8 ms one', async () => {
  const ws = Workspace.create(undefined, QUEUES_YAML);
  let broker: WharfProcess | undefined;
  let publisher: JobPublisher | undefined;
  const workers = SPEEDS_MS.map((ms) => QueueWorker.steady(`ocr-worker-${ms}ms`, ms));
  try {
    broker = await ws.start();
    publisher = await JobPublisher.connect(broker.port, 'ocr-publisher');
    const jobs = Array.from({ length: JOBS }, (_, i) => i);
    const published = await publisher.run({ topic: 'images/process', jobs, window: 64 });
    assert.is(published.acked.size, JOBS, `publishes acknowledged (refused: ${JSON.stringify([...published.refused])})`);
    publisher.destroy();

    // All connected first, then the four SUBSCRIBEs written in one tick.
    await Promise.all(workers.map((w) => w.connect(broker!.port)));
    const granted = await Promise.all(workers.map((w) => w.subscribe('$q/images/+', 1)));
    assert.equal(granted, [[1], [1], [1], [1]]);

    const processed = () => sum(workers.map((w) => w.acks.length));
    await untilDone(() => processed() >= JOBS, processed);
    // A duplicate still on its way would arrive before the PINGRESP.
    await Promise.all(workers.map((w) => w.ping()));
    const perWorker = workers.map((w) => w.acks.length);
    console.log(`  OCR scenario: jobs per worker (2/4/6/8 ms) ${perWorker.join(' / ')}`);

    // Exactly once: every job delivered once and acknowledged once, nothing else delivered.
    const seen = new Map<number, number>();
    for (const w of workers) for (const d of w.deliveries) seen.set(d.job, (seen.get(d.job) ?? 0) + 1);
    assert.equal(
      [...seen].filter(([, n]) => n > 1).map(([job]) => job),
      [],
      'jobs delivered more than once',
    );
    assert.equal(
      jobs.filter((j) => !seen.has(j)),
      [],
      'jobs never delivered',
    );
    assert.is(seen.size, JOBS, 'distinct jobs delivered');
    assert.equal(
      workers.flatMap((w) => w.processed()).sort((a, b) => a - b),
      jobs,
      'every job acknowledged exactly once',
    );
    for (const w of workers) {
      assert.ok(
        w.deliveries.every((d) => d.topic === 'images/process' && d.qos === 1 && !d.dup),
        `${w.name}: deliveries keep their topic, at QoS 1, first deliveries`,
      );
      assert.is(w.holding.size, 0, `${w.name}: nothing left unacknowledged`);
    }
    // least_inflight gives the next job to whoever is free: the 2 ms worker is free four times as often as the
    // 8 ms one. Round robin would split the jobs evenly; only the direction is asserted, not the ratio.
    assert.ok(perWorker[0]! > perWorker[3]!, `the 2 ms worker does more jobs than the 8 ms one: ${perWorker.join(' / ')}`);
  } finally {
    for (const w of workers) w.dispose();
    publisher?.destroy();
    await broker?.crash();
    await ws.dispose();
  }
});

test.run();
