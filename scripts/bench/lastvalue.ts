// Scenario 9: last-value queue (issue 5), Wharf only, with its own small runner (kept out of run.ts/scenarios.ts).
//
//   npm run build && node dist/scripts/bench/lastvalue.js [--messages 100000] [--keys 1000] [--runs 3] [--json FILE]
//
// 100,000 QoS 1 publishes of 256 bytes spread over 1,000 keys (topic bench/lv/k<key>, key `topicLevel:2`) go into a
// declared last-value queue nobody consumes (4 publisher connections × up to 500 in flight, MQTT 3.1.1); then one
// consumer drains it. The same publishes go into a standard queue on the same filter for the ratio. Each run starts
// a fresh broker process per queue type (durable configuration: storage.commitIntervalMs 5), standard first.

import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { exitWithUsage, readFlags } from './cli-args.js';
import { deviceWriteBytes } from './disk-stats.js';
import { LoadClient, PublishTemplate } from './load-client.js';
import { drainQueue } from './queue-drain.js';
import { startPeer, type RunningPeer } from './peers.js';
import { requirePeer, runStandalone, writeJsonRecord } from './standalone.js';

const PUBLISHERS = 4;
const INFLIGHT = 500;
const PAYLOAD = 256;
const FILTER = 'bench/lv/+';
/** Unacknowledged messages the draining consumer may hold (both queue types). */
const CONSUMER_INFLIGHT = 256;
const PUBLISH_LIMIT_MS = 120_000;
const DRAIN_LIMIT_MS = 120_000;
/** After the expected count arrived, wait this long for anything more (which would be a bug for last-value). */
const SETTLE_MS = 500;
const IDLE_MS = 5_000;
/** Target of issue 5: the last-value publish rate within 20% of the standard queue's. */
const TARGET_RATIO = 0.8;

const QUEUE_TYPES = ['standard', 'lastvalue'] as const;
type QueueType = (typeof QUEUE_TYPES)[number];

interface Args {
  messages: number;
  keys: number;
  runs: number;
  types: QueueType[];
  json: string | undefined;
}

const USAGE =
  'usage: node dist/scripts/bench/lastvalue.js [--messages N] [--keys K] [--runs R] [--types standard,lastvalue] [--json FILE]\n' +
  '  --messages  publishes per run and queue type (default 100000)\n' +
  `  --keys      distinct keys, a multiple of ${PUBLISHERS} (default 1000)\n` +
  '  --runs      runs per queue type; the table shows medians (default 3)\n' +
  '  --types     queue types to run (default both; one alone, e.g. for a CPU profile, gives no ratio)\n' +
  '  --json      also write the results as JSON to FILE';

function parseArgs(argv: string[]): Args {
  const a: Args = { messages: 100_000, keys: 1000, runs: 3, types: ['standard', 'lastvalue'], json: undefined };
  readFlags(argv, USAGE, (flag, value) => {
    if (flag === '--messages') a.messages = value.int(1);
    else if (flag === '--keys') a.keys = value.int(PUBLISHERS);
    else if (flag === '--runs') a.runs = value.int(1);
    else if (flag === '--types') a.types = value.oneOrMoreOf(QUEUE_TYPES);
    else if (flag === '--json') a.json = value.text();
    else return false;
    return true;
  });
  // Key k is published by publisher k % PUBLISHERS alone, so its last value is known: per-key order holds on one connection.
  if (a.keys % PUBLISHERS !== 0) exitWithUsage(USAGE, `--keys must be a multiple of ${PUBLISHERS}`);
  if (a.messages < a.keys) exitWithUsage(USAGE, '--messages must be at least --keys');
  return a;
}

function queueYaml(type: QueueType): string[] {
  return [
    'queues:',
    '  definitions:',
    '    - name: bench-lv',
    `      topicFilter: ${FILTER}`,
    `      type: ${type}`,
    ...(type === 'lastvalue' ? ['      key: topicLevel:2'] : []),
    `      consumerInflight: ${CONSUMER_INFLIGHT}`,
  ];
}

/** CLOCK_MONOTONIC in µs: the clock of V8 .cpuprofile timestamps on Linux. */
function monoUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

interface PublishResult {
  acked: number;
  rate: number;
  durationS: number;
  error: string | null;
}

/**
 * Message i (0 <= i < total) goes to key i % keys, on publisher (i % keys) % PUBLISHERS, with i in the first four
 * payload bytes; each publisher keeps at most INFLIGHT unacknowledged.
 */
function publishAll(pubs: LoadClient[], tpls: PublishTemplate[], total: number, keys: number): Promise<PublishResult> {
  // Per publisher, its messages in order: i = p, p + P, p + 2P, ... (i % keys % P === p since P divides keys).
  const perPub = pubs.map((_, p) => Math.ceil((total - p) / PUBLISHERS));
  const sentBy = new Array<number>(PUBLISHERS).fill(0);
  const ackedBy = new Array<number>(PUBLISHERS).fill(0);
  let acked = 0;
  let firstSend = -1;
  let lastAck = -1;
  let lastProgress = performance.now();
  let finished = false;
  let error: string | null = null;
  return new Promise<PublishResult>((resolve) => {
    const finish = () => {
      if (finished) return;
      finished = true;
      clearInterval(watchdog);
      const durationS = lastAck > firstSend && firstSend >= 0 ? (lastAck - firstSend) / 1000 : 0;
      resolve({ acked, durationS, rate: durationS > 0 ? acked / durationS : 0, error });
    };
    const pump = (p: number) => {
      const pub = pubs[p]!;
      while (!finished && sentBy[p]! < perPub[p]! && sentBy[p]! - ackedBy[p]! < INFLIGHT && !pub.isClosed) {
        const i = p + PUBLISHERS * sentBy[p]!++;
        if (firstSend < 0) firstSend = performance.now();
        pub.publishWith(tpls[i % keys]!, (buf, po) => buf.writeUInt32LE(i, po)).then(
          () => {
            acked++;
            ackedBy[p]!++;
            lastAck = performance.now();
            lastProgress = lastAck;
            if (acked >= total) finish();
            else pump(p);
          },
          (e: Error) => {
            error ??= e.message;
            finish();
          },
        );
      }
    };
    const watchdog = setInterval(() => {
      if (performance.now() - lastProgress > 10_000) {
        error ??= 'no PUBACK for 10 s';
        finish();
      } else if (performance.now() - (firstSend < 0 ? lastProgress : firstSend) > PUBLISH_LIMIT_MS) {
        error ??= `not done within ${PUBLISH_LIMIT_MS / 1000} s`;
        finish();
      }
    }, 100);
    for (let p = 0; p < PUBLISHERS; p++) pump(p);
  });
}

interface DrainResult {
  unique: number;
  duplicates: number;
  /** last-value: messages that are not the last value of their key */
  stale: number;
  rate: number;
  durationS: number;
  error: string | null;
}

/** One consumer on $q/<filter> (auto-PUBACK) until `expected` distinct messages arrived and SETTLE_MS passed quietly. */
async function drain(port: number, total: number, keys: number, expected: number, lastValue: boolean): Promise<DrainResult> {
  const seen = new Uint8Array(total);
  let unique = 0;
  let duplicates = 0;
  let stale = 0;
  let lastRecv = -1;
  let lastProgress = performance.now();
  let error: string | null = null;
  const onPublish = (payload: Buffer) => {
    const i = payload.readUInt32LE(0);
    if (i >= total) {
      error ??= `unknown message ${i}`;
      return;
    }
    if (seen[i]) duplicates++;
    else {
      seen[i] = 1;
      unique++;
      // The last value of key i % keys is the highest i of that key: one of the last `keys` messages.
      if (lastValue && i < total - keys) stale++;
    }
    lastRecv = performance.now();
    lastProgress = lastRecv;
  };
  const run = await drainQueue({
    port,
    filter: FILTER,
    clientId: 'bench-lv-consumer',
    onPublish,
    // Done once the expected count arrived and nothing more came for SETTLE_MS (more would be a bug).
    done: () => unique >= expected && performance.now() - lastProgress >= SETTLE_MS,
    lastReceived: () => lastRecv,
    idleMs: IDLE_MS,
    limitMs: DRAIN_LIMIT_MS,
  });
  const t0 = run.t0;
  error ??= run.error;
  const durationS = lastRecv > t0 ? (lastRecv - t0) / 1000 : 0;
  return { unique, duplicates, stale, durationS, rate: durationS > 0 ? unique / durationS : 0, error };
}

interface RunResult {
  type: QueueType;
  publishRate: number;
  publishS: number;
  acked: number;
  /** write_bytes of /proc/<broker>/io over the publish phase ÷ PUBACKed publishes */
  writeBytesPerPublish: number;
  /** sectors written by the whole machine over the publish phase ÷ PUBACKed publishes (diagnostic) */
  diskBytesPerPublish: number;
  cpuUsPerPublish: number;
  stored: number;
  duplicates: number;
  stale: number;
  drainRate: number;
  drainS: number;
  peakRssMiB: number;
  errors: string[];
}

async function runOnce(type: QueueType, total: number, keys: number): Promise<RunResult> {
  const peer: RunningPeer = await startPeer('wharf', { durable: true, wharfYaml: queueYaml(type) });
  const clients: LoadClient[] = [];
  let peakRss = peer.rssBytes();
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, peer.rssBytes())), 100);
  try {
    for (let p = 0; p < PUBLISHERS; p++) {
      clients.push(await LoadClient.connect({ port: peer.port, clientId: `bench-lv-pub-${p}`, protocolVersion: 4, maxInflight: INFLIGHT }));
    }
    const tpls = Array.from({ length: keys }, (_, k) => new PublishTemplate(`bench/lv/k${k}`, PAYLOAD, 1, 4));
    const w0 = peer.writeBytes();
    const d0 = deviceWriteBytes();
    const c0 = peer.cpuSeconds();
    const mono0 = monoUs();
    const pub = await publishAll(clients, tpls, total, keys);
    const mono1 = monoUs();
    if (process.env.WHARF_BENCH_CPU_PROF === '1') console.log(`  ${type}: CLOCK_MONOTONIC µs window of the publish phase (cpuprofile-top.js --window): ${mono0},${mono1}`);
    const w1 = peer.writeBytes();
    const d1 = deviceWriteBytes();
    const c1 = peer.cpuSeconds();
    await Promise.all(clients.map((c) => c.end(2000).catch(() => undefined)));
    const expected = type === 'lastvalue' ? keys : total;
    const dr = await drain(peer.port, total, keys, expected, type === 'lastvalue');
    const errors = [pub.error, dr.error].filter((e): e is string => e !== null);
    if (pub.acked < total) errors.push(`${total - pub.acked} publishes not PUBACKed`);
    return {
      type,
      publishRate: pub.rate,
      publishS: pub.durationS,
      acked: pub.acked,
      writeBytesPerPublish: (w1 - w0) / pub.acked,
      diskBytesPerPublish: (d1 - d0) / pub.acked,
      cpuUsPerPublish: ((c1 - c0) * 1e6) / pub.acked,
      stored: dr.unique,
      duplicates: dr.duplicates,
      stale: dr.stale,
      drainRate: dr.rate,
      drainS: dr.durationS,
      peakRssMiB: peakRss / 1024 / 1024,
      errors,
    };
  } finally {
    clearInterval(rssTimer);
    for (const c of clients) if (!c.isClosed) await c.end(1000).catch(() => undefined);
    await peer.stop();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a');

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  requirePeer('wharf');
  console.log(
    `scenario 9: ${fmt(args.messages)} publishes (QoS 1, ${PAYLOAD} B) over ${fmt(args.keys)} keys, ` +
      `${PUBLISHERS} publishers × ${INFLIGHT} in flight, ${args.runs} run(s) per queue type; ${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(2)}`,
  );
  const results: RunResult[] = [];
  for (let r = 1; r <= args.runs; r++) {
    for (const type of args.types) {
      const res = await runOnce(type, args.messages, args.keys);
      results.push(res);
      console.log(
        `  run ${r} ${type.padEnd(9)}: publish ${fmt(res.publishRate)} msg/s (${res.publishS.toFixed(2)} s), ` +
          `${fmt(res.writeBytesPerPublish)} B written/publish, CPU ${fmt(res.cpuUsPerPublish, 1)} µs/publish; ` +
          `drained ${fmt(res.stored)} at ${fmt(res.drainRate)} msg/s (${res.drainS.toFixed(2)} s)` +
          (res.duplicates + res.stale > 0 ? `, ${res.duplicates} duplicates, ${res.stale} stale` : '') +
          (res.errors.length > 0 ? `; ERRORS: ${res.errors.join('; ')}` : ''),
      );
    }
  }

  const of = (type: QueueType, f: (r: RunResult) => number) => median(results.filter((r) => r.type === type).map(f));
  const rows: Array<[string, (r: RunResult) => number, number, 'higher' | 'lower' | 'none']> = [
    ['publish msg/s (PUBACKed) ↑', (r) => r.publishRate, 0, 'higher'],
    ['stored messages (drained)', (r) => r.stored, 0, 'none'],
    ['drain msg/s ↑', (r) => r.drainRate, 0, 'higher'],
    ['drain time s ↓', (r) => r.drainS, 2, 'lower'],
    ['bytes written/publish (write_bytes) ↓', (r) => r.writeBytesPerPublish, 0, 'lower'],
    ['disk bytes/publish, whole machine ↓', (r) => r.diskBytesPerPublish, 0, 'lower'],
    ['broker CPU µs/publish ↓', (r) => r.cpuUsPerPublish, 1, 'lower'],
    ['broker peak RSS MiB ↓', (r) => r.peakRssMiB, 1, 'lower'],
  ];
  console.log(`\n| metric (median of ${args.runs}) | standard | lastvalue | lastvalue/standard |`);
  console.log('|---|---:|---:|---:|');
  for (const [name, f, digits, better] of rows) {
    const s = of('standard', f);
    const l = of('lastvalue', f);
    const ratio = better === 'higher' ? l / s : better === 'lower' ? s / l : NaN;
    console.log(`| ${name} | ${fmt(s, digits)} | ${fmt(l, digits)} | ${better === 'none' ? '' : `${ratio.toFixed(2)}×`} |`);
  }
  console.log('(ratios > 1 mean the last-value queue is better)');

  const ratio = of('lastvalue', (r) => r.publishRate) / of('standard', (r) => r.publishRate);
  const lv = results.filter((r) => r.type === 'lastvalue');
  const storedOk = lv.every((r) => r.stored === args.keys && r.stale === 0 && r.duplicates === 0);
  const errors = results.flatMap((r) => r.errors.map((e) => `${r.type}: ${e}`));
  const targets = {
    publishRatio: { value: ratio, target: TARGET_RATIO, met: ratio >= TARGET_RATIO },
    storedIsKeys: { value: lv.map((r) => r.stored), target: args.keys, met: storedOk },
  };
  console.log(`\ntarget: last-value publish rate ≥ ${TARGET_RATIO} × standard: ${ratio.toFixed(2)}× ${targets.publishRatio.met ? 'met' : 'MISSED'}`);
  console.log(`target: stored messages = ${fmt(args.keys)} keys, each its last value, every run: ${storedOk ? 'met' : 'MISSED'}`);
  if (errors.length > 0) console.log(`errors: ${errors.join('; ')}`);
  writeJsonRecord(args.json, { args, results, targets });
  if (errors.length > 0 || !storedOk) process.exitCode = 1;
}

runStandalone(main);
