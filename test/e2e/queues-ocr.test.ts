// End to end, issue 4 "Tests that must exist and pass": the OCR job scenario against a real `wharf` process.
// 2,000 jobs wait in the least_inflight queue `images/+` (consumerInflight 1) before any worker exists; four
// workers then take them at 2, 4, 6 and 8 ms per job, one job in flight each. Every job must be processed exactly
// once, the work must split in proportion to speed, and the backlog must be done within 15% of the ideal time.
//
// The ideal. With nominal job times it is 2000 / (1/2 + 1/4 + 1/6 + 1/8) = 1920 ms, and the shares are
// 1/2 : 1/4 : 1/6 : 1/8 (the 2 ms worker does 4x the jobs of the 8 ms one). Two things of this machine, not of
// the broker, are measured and put into it:
// - the real time per job: delivery to PUBACK as this machine's timers run setTimeout(2) etc. (2.1-2.4 ms);
// - the round trip no dispatcher can save with one job in flight: after its PUBACK a worker waits at least for one
//   message to reach the dispatcher's process and one to come back. It is measured during the run, under the same
//   load, against a trivial echo server in a process of its own (EchoProbe), with messages sent from a timer as
//   the workers send their PUBACKs: ideal = jobs / sum(1 / (measured time per job + mean echo round trip)).
//   On this 2-core VM that round trip is 0.1-0.2 ms when idle and 0.4-0.6 ms under the test's own load: at 2 ms
//   per job it is worth up to a quarter of the fast worker's time, which is why it cannot be left out.
// Everything the broker does per job (reading the PUBACK, removing the message, choosing the next consumer,
// writing the next PUBLISH, its commits and any stall of its event loop) counts against the 15%. The figures
// without the round trip are printed too. The expected shares follow the same per-job cycles.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Workspace, type WharfProcess } from '../helpers/broker-process.js';
import { EchoProbe, JobPublisher, QueueWorker, until } from '../helpers/queue-clients.js';

const test = suite('e2e queues: the OCR job scenario (least_inflight, one job in flight per worker)');

const JOBS = 2000;
const SPEEDS_MS = [2, 4, 6, 8];
/** Pause between the echo probe's round trips, each sent from a timer as the workers send their PUBACKs. */
const PING_EVERY_MS = 2;
const RUN_LIMIT_MS = 15_000;
const QUEUES_YAML = `queues:
  definitions:
    - name: images
      topicFilter: images/+
      dispatch: least_inflight
      consumerInflight: 1
`;

const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
const mean = (xs: number[]) => sum(xs) / Math.max(1, xs.length);
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? 0;

test('2,000 queued jobs are processed exactly once by four workers, in proportion to their speed, within 15% of the ideal time', async () => {
  const ws = Workspace.create(undefined, QUEUES_YAML);
  let broker: WharfProcess | undefined;
  let publisher: JobPublisher | undefined;
  let echo: EchoProbe | undefined;
  const workers = SPEEDS_MS.map((ms) => QueueWorker.steady(`ocr-worker-${ms}ms`, ms));
  try {
    broker = await ws.start();
    echo = await EchoProbe.start();
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
    const echoRtts: number[] = [];
    const echoing = (async () => {
      const deadline = Date.now() + RUN_LIMIT_MS;
      while (processed() < JOBS && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, PING_EVERY_MS));
        echoRtts.push(await echo!.roundTrip());
      }
    })();
    const finished = await until(() => processed() >= JOBS, RUN_LIMIT_MS);
    await echoing;
    // A duplicate still on its way would arrive before the PINGRESP.
    await Promise.all(workers.map((w) => w.ping()));

    const rttMs = mean(echoRtts);
    const rows = workers.map((w, i) => {
      const perJob = mean(w.acks.map((a) => a.serviceMs));
      // PUBACK written to the next PUBLISH parsed: the round trip and the broker's work, per job.
      const gaps = w.acks
        .slice(0, -1)
        .map((a, k) => (w.deliveries[k + 1]?.at ?? a.at) - a.at)
        .sort((x, y) => x - y);
      return {
        worker: w.name,
        jobs: w.acks.length,
        deliveries: w.deliveries.length,
        msPerJob: Number(perJob.toFixed(3)),
        ackToNextMean: Number(mean(gaps).toFixed(3)),
        ackToNextP50: Number(quantile(gaps, 0.5).toFixed(3)),
        ackToNextP90: Number(quantile(gaps, 0.9).toFixed(3)),
      };
    });
    const firstDelivery = Math.min(...workers.map((w) => w.deliveries[0]?.at ?? Infinity));
    const lastAck = Math.max(...workers.map((w) => w.acks[w.acks.length - 1]?.at ?? -Infinity));
    const totalMs = lastAck - firstDelivery;
    const rates = rows.map((r) => 1 / (r.msPerJob + rttMs));
    const idealMs = JOBS / sum(rates);
    const expectedJobs = rates.map((r) => (JOBS * r) / sum(rates));
    const serviceIdealMs = JOBS / sum(rows.map((r) => 1 / r.msPerJob));
    const nominalIdealMs = JOBS / sum(SPEEDS_MS.map((ms) => 1 / ms));
    const ratio = rows[0]!.jobs / rows[3]!.jobs;
    const expectedRatio = expectedJobs[0]! / expectedJobs[3]!;
    const over = (ideal: number) => `${((totalMs / ideal - 1) * 100).toFixed(1)}%`;
    console.log('\n  OCR scenario (times in ms):');
    console.table(rows.map((r, i) => ({ ...r, expectedJobs: Math.round(expectedJobs[i]!) })));
    echoRtts.sort((a, b) => a - b);
    console.log(
      `  total ${totalMs.toFixed(1)} ms, first delivery to last PUBACK\n` +
        `  ideal ${idealMs.toFixed(1)} ms = ${JOBS} / sum(1 / (ms per job + ${rttMs.toFixed(3)} ms mean round trip between two processes under this load)): ${over(idealMs)} over\n` +
        `  (round trip p50 ${quantile(echoRtts, 0.5).toFixed(3)} ms, p90 ${quantile(echoRtts, 0.9).toFixed(3)} ms, ${echoRtts.length} samples); ` +
        `without it ${serviceIdealMs.toFixed(1)} ms (${over(serviceIdealMs)} over); nominal 2/4/6/8 ms ${nominalIdealMs.toFixed(1)} ms\n` +
        `  2 ms : 8 ms worker jobs ${ratio.toFixed(2)} (expected ${expectedRatio.toFixed(2)}; ${(rows[3]!.msPerJob / rows[0]!.msPerJob).toFixed(2)} without the round trip)`,
    );

    assert.ok(finished, `all jobs processed within ${RUN_LIMIT_MS} ms (got ${processed()} of ${JOBS})`);
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
    // Shares follow speed: each worker within 15% of its share of the per-job cycles, faster ones do more.
    for (let i = 0; i < rows.length; i++) {
      const dev = rows[i]!.jobs / expectedJobs[i]! - 1;
      assert.ok(Math.abs(dev) <= 0.15, `${rows[i]!.worker} did ${rows[i]!.jobs} jobs, expected ${expectedJobs[i]!.toFixed(0)} (${(dev * 100).toFixed(1)}%)`);
    }
    for (let i = 1; i < rows.length; i++) assert.ok(rows[i - 1]!.jobs > rows[i]!.jobs, `a faster worker does more jobs: ${JSON.stringify(rows.map((r) => r.jobs))}`);
    assert.ok(
      ratio >= expectedRatio * 0.85 && ratio <= 5.0,
      `2 ms worker did ${rows[0]!.jobs} jobs, 8 ms worker ${rows[3]!.jobs}: ratio ${ratio.toFixed(2)}, expected ${expectedRatio.toFixed(2)}`,
    );
    assert.ok(totalMs <= idealMs * 1.15, `total ${totalMs.toFixed(1)} ms exceeds the ideal ${idealMs.toFixed(1)} ms by more than 15%`);
  } finally {
    for (const w of workers) w.dispose();
    publisher?.destroy();
    await echo?.close();
    await broker?.crash();
    await ws.dispose();
  }
});

test.run();
