// Scenario 12: the OCR work distribution against its ideal (issue 4's figures, moved out of the e2e test by
// issue 12), Wharf only, with its own small runner.
//
//   npm run build && node dist/scripts/bench/ocr-shares.js [--jobs 2000] [--runs 3] [--json FILE]
//
// The e2e test (test/e2e/queues-ocr.test.ts) checks that every job is done exactly once and that the faster
// worker does more; this measures how well: 2,000 jobs wait in the least_inflight queue `images/+`
// (consumerInflight 1) of a fresh broker; four workers (the e2e test's clients) take them at 2, 4, 6 and 8 ms per
// job, one at a time. The ideal uses what this machine does, not the broker:
// - the real time per job (setTimeout(2) runs 2.1-2.4 ms);
// - the round trip no dispatcher can save with one job in flight: after its PUBACK a worker waits at least for
//   one message to reach the broker's process and one to come back. It is measured during the run, under the same
//   load, against an echo server in a process of its own (echo-probe.ts), sent from a timer as the workers send
//   their PUBACKs: ideal = jobs / sum(1 / (measured time per job + mean echo round trip)).
// Everything the broker does per job (reading the PUBACK, removing the message, choosing the next consumer,
// writing the next PUBLISH, its commits, any stall of its event loop) counts against the targets: the total within
// 15% of the ideal, each worker's jobs within 15% of its share of the per-job cycles.

import os from 'node:os';
import { JobPublisher, QueueWorker, until } from '../../test/helpers/queue-clients.js';
import { readFlags } from './cli-args.js';
import { EchoProbe } from './echo-probe.js';
import { startPeer } from './peers.js';
import { requirePeer, runStandalone, writeJsonRecord } from './standalone.js';

const SPEEDS_MS = [2, 4, 6, 8];
/** Pause between the echo probe's round trips. */
const PING_EVERY_MS = 2;
const RUN_LIMIT_MS = 60_000;
/** Issue 4's targets: total and each share within 15% of the ideal. */
const TOLERANCE = 0.15;
const QUEUE_YAML = ['queues:', '  definitions:', '    - { name: images, topicFilter: images/+, dispatch: least_inflight, consumerInflight: 1 }'];

interface Args {
  jobs: number;
  runs: number;
  json: string | undefined;
}

const USAGE =
  'usage: node dist/scripts/bench/ocr-shares.js [--jobs N] [--runs R] [--json FILE]\n' +
  '  --jobs  jobs queued before the workers start (default 2000)\n' +
  '  --runs  runs, each on a fresh broker; the table shows medians (default 3)\n' +
  '  --json  also write the results as JSON to FILE';

function parseArgs(argv: string[]): Args {
  const a: Args = { jobs: 2000, runs: 3, json: undefined };
  readFlags(argv, USAGE, (flag, value) => {
    if (flag === '--jobs') a.jobs = value.int(SPEEDS_MS.length);
    else if (flag === '--runs') a.runs = value.int(1);
    else if (flag === '--json') a.json = value.text();
    else return false;
    return true;
  });
  return a;
}

interface WorkerRow {
  worker: string;
  jobs: number;
  expectedJobs: number;
  msPerJob: number;
  /** PUBACK written to the next PUBLISH parsed, mean: the round trip and the broker's work per job. */
  ackToNextMs: number;
}

interface RunResult {
  totalMs: number;
  idealMs: number;
  /** The ideal without the round trip, and with the nominal 2/4/6/8 ms (diagnostics). */
  serviceIdealMs: number;
  nominalIdealMs: number;
  rttMeanMs: number;
  rttSamples: number;
  workers: WorkerRow[];
  distinct: number;
  duplicates: number;
  errors: string[];
}

const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
const mean = (xs: number[]) => sum(xs) / Math.max(1, xs.length);
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function runOnce(jobCount: number): Promise<RunResult> {
  const peer = await startPeer('wharf', { wharfYaml: QUEUE_YAML });
  const workers = SPEEDS_MS.map((ms) => QueueWorker.steady(`ocr-worker-${ms}ms`, ms));
  let publisher: JobPublisher | undefined;
  let echo: EchoProbe | undefined;
  const errors: string[] = [];
  try {
    echo = await EchoProbe.start();
    publisher = await JobPublisher.connect(peer.port, 'ocr-publisher');
    const jobs = Array.from({ length: jobCount }, (_, i) => i);
    const published = await publisher.run({ topic: 'images/process', jobs, window: 64 });
    if (published.acked.size !== jobCount) errors.push(`${jobCount - published.acked.size} jobs not PUBACKed`);
    publisher.destroy();

    await Promise.all(workers.map((w) => w.connect(peer.port)));
    await Promise.all(workers.map((w) => w.subscribe('$q/images/+', 1)));
    const processed = () => sum(workers.map((w) => w.acks.length));
    const rtts: number[] = [];
    const echoing = (async () => {
      const deadline = Date.now() + RUN_LIMIT_MS;
      while (processed() < jobCount && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, PING_EVERY_MS));
        rtts.push(await echo!.roundTrip());
      }
    })();
    if (!(await until(() => processed() >= jobCount, RUN_LIMIT_MS))) errors.push(`${processed()} of ${jobCount} jobs done within ${RUN_LIMIT_MS} ms`);
    await echoing;
    await Promise.all(workers.map((w) => w.ping()));

    const rttMeanMs = mean(rtts);
    const perJob = workers.map((w) => mean(w.acks.map((a) => a.serviceMs)));
    const rates = perJob.map((ms) => 1 / (ms + rttMeanMs));
    const rows = workers.map<WorkerRow>((w, i) => {
      const gaps = w.acks.slice(0, -1).map((a, k) => (w.deliveries[k + 1]?.at ?? a.at) - a.at);
      return { worker: w.name, jobs: w.acks.length, expectedJobs: (jobCount * rates[i]!) / sum(rates), msPerJob: perJob[i]!, ackToNextMs: mean(gaps) };
    });
    const firstDelivery = Math.min(...workers.map((w) => w.deliveries[0]?.at ?? Infinity));
    const lastAck = Math.max(...workers.map((w) => w.acks[w.acks.length - 1]?.at ?? -Infinity));
    const seen = new Map<number, number>();
    for (const w of workers) for (const d of w.deliveries) seen.set(d.job, (seen.get(d.job) ?? 0) + 1);
    return {
      totalMs: lastAck - firstDelivery,
      idealMs: jobCount / sum(rates),
      serviceIdealMs: jobCount / sum(perJob.map((ms) => 1 / ms)),
      nominalIdealMs: jobCount / sum(SPEEDS_MS.map((ms) => 1 / ms)),
      rttMeanMs,
      rttSamples: rtts.length,
      workers: rows,
      distinct: seen.size,
      duplicates: sum([...seen.values()].map((n) => n - 1)),
      errors,
    };
  } finally {
    for (const w of workers) w.dispose();
    publisher?.destroy();
    await echo?.close();
    await peer.stop();
  }
}

const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;
const shareDeviation = (w: WorkerRow) => w.jobs / w.expectedJobs - 1;
const totalMet = (r: RunResult) => r.totalMs <= r.idealMs * (1 + TOLERANCE);
const sharesMet = (r: RunResult) => r.workers.every((w) => Math.abs(shareDeviation(w)) <= TOLERANCE);

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  requirePeer('wharf');
  console.log(
    `scenario 12: ${args.jobs} OCR jobs, workers at ${SPEEDS_MS.join('/')} ms per job, least_inflight, consumerInflight 1, ` +
      `${args.runs} run(s); ${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(2)}`,
  );
  const results: RunResult[] = [];
  for (let r = 1; r <= args.runs; r++) {
    const res = await runOnce(args.jobs);
    results.push(res);
    console.log(
      `  run ${r}: total ${res.totalMs.toFixed(0)} ms, ideal ${res.idealMs.toFixed(0)} ms (${pct(res.totalMs / res.idealMs - 1)}; round trip ${res.rttMeanMs.toFixed(3)} ms, ` +
        `${res.rttSamples} samples; without it ${res.serviceIdealMs.toFixed(0)} ms, nominal ${res.nominalIdealMs.toFixed(0)} ms), ` +
        `jobs ${res.workers.map((w) => w.jobs).join(' / ')}, distinct ${res.distinct}, duplicates ${res.duplicates}` +
        (res.errors.length > 0 ? `; ERRORS: ${res.errors.join('; ')}` : ''),
    );
  }

  const med = (f: (r: RunResult) => number) => median(results.map(f));
  console.log(`\n| worker (median of ${args.runs}) | jobs | expected | deviation | ms per job | PUBACK -> next job ms |`);
  console.log('|---|---:|---:|---:|---:|---:|');
  SPEEDS_MS.forEach((ms, i) => {
    const w = (r: RunResult) => r.workers[i]!;
    console.log(
      `| ${ms} ms | ${med((r) => w(r).jobs).toFixed(0)} | ${med((r) => w(r).expectedJobs).toFixed(0)} | ${pct(med((r) => shareDeviation(w(r))))} | ` +
        `${med((r) => w(r).msPerJob).toFixed(3)} | ${med((r) => w(r).ackToNextMs).toFixed(3)} |`,
    );
  });
  console.log(`\n| run figure (median of ${args.runs}) | value |`);
  console.log('|---|---:|');
  console.log(`| total ms (first delivery -> last PUBACK) | ${med((r) => r.totalMs).toFixed(0)} |`);
  console.log(`| ideal ms (measured job times + round trip) | ${med((r) => r.idealMs).toFixed(0)} |`);
  console.log(`| total / ideal | ${med((r) => r.totalMs / r.idealMs).toFixed(3)} |`);
  console.log(`| ideal ms without the round trip (diag) | ${med((r) => r.serviceIdealMs).toFixed(0)} |`);
  console.log(`| mean round trip between two processes ms (diag) | ${med((r) => r.rttMeanMs).toFixed(3)} |`);
  console.log(`| 2 ms : 8 ms worker jobs (expected) | ${med((r) => r.workers[0]!.jobs / r.workers[3]!.jobs).toFixed(2)} (${med((r) => r.workers[0]!.expectedJobs / r.workers[3]!.expectedJobs).toFixed(2)}) |`);

  const targets = {
    totalWithinTolerance: { runsMet: results.filter(totalMet).length, runs: results.length },
    sharesWithinTolerance: { runsMet: results.filter(sharesMet).length, runs: results.length },
  };
  const verdict = (t: { runsMet: number; runs: number }) => `${t.runsMet} of ${t.runs} runs: ${t.runsMet === t.runs ? 'met' : 'MISSED'}`;
  console.log(`\ntarget: total within ${TOLERANCE * 100}% of the ideal: ${verdict(targets.totalWithinTolerance)}`);
  console.log(`target: each worker within ${TOLERANCE * 100}% of its share: ${verdict(targets.sharesWithinTolerance)}`);
  const errors = results.flatMap((r) => r.errors);
  const wrong = results.filter((r) => r.distinct !== args.jobs || r.duplicates > 0).length;
  if (wrong > 0) errors.push(`${wrong} run(s) did not do every job exactly once`);
  if (errors.length > 0) console.log(`errors: ${errors.join('; ')}`);
  writeJsonRecord(args.json, { args, results, targets });
  if (errors.length > 0) process.exitCode = 1;
}

runStandalone(main);
