// Payload-store benchmark (issue 6), Wharf only, with its own small runner like lastvalue.ts:
//
//   npm run build && node dist/scripts/bench/payloads.js [--messages 50000] [--bytes 65536] [--variants native,js,inline] [--json FILE]
//
// A queue backlog of large payloads (camera images: 50,000 × 64 KiB = 3.2 GB by default) is published by 4 QoS 1
// publishers (64 in flight each) into a declared queue nobody consumes, held 1 s, then drained by one consumer
// ($q/, QoS 1, consumerInflight 64). One fresh broker per variant, on loopback:
//   native  storage.payloadStore: native (addon: pwritev + fdatasync, zero-copy mmap reads)
//   js      storage.payloadStore: js     (TypeScript fallback: file I/O, payloads copied into Buffers)
//   inline  storage.inlineMaxBytes: 64KiB: payloads inside the LMDB records (mapSizeBytes raised to fit)
// Bytes written come from /proc/<broker>/io write_bytes over the publish phase, divided by the payload bytes
// PUBACKed. Heap is the broker's own process.memoryUsage() sampled every 250 ms (heap-sampler.ts).

import { statfsSync } from 'node:fs';
import { EMBEDDED_NODE_FLAGS } from '../../src/cli/node-flags.js';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { readFlags } from './cli-args.js';
import { LoadClient, PublishTemplate } from './load-client.js';
import { drainQueue } from './queue-drain.js';
import { startPeer, type MemorySample, type RunningPeer } from './peers.js';
import { requirePeer, runStandalone, writeJsonRecord } from './standalone.js';

const PUBLISHERS = 4;
const INFLIGHT = 64;
const CONSUMER_INFLIGHT = 64;
const FILTER = 'images/+';
const PUBLISH_LIMIT_MS = 300_000;
const DRAIN_LIMIT_MS = 300_000;
const IDLE_MS = 10_000;
const TARGETS = { drainVsJs: 1.5, heapGrowthVsJs: 0.1, writtenPerPayloadByte: 1.1 } as const;

const VARIANTS = ['native', 'js', 'inline'] as const;
type Variant = (typeof VARIANTS)[number];

interface Args {
  messages: number;
  bytes: number;
  variants: Variant[];
  json: string | undefined;
}

const USAGE =
  'usage: node dist/scripts/bench/payloads.js [--messages N] [--bytes B] [--variants native,js,inline] [--json FILE]\n' +
  '  --messages  payloads per variant (default 50000; scale down when the disk is short: N × B bytes per variant)\n' +
  '  --bytes     payload size (default 65536)\n' +
  '  --variants  which stores to run (default native,js,inline)\n' +
  '  --json      also write the results as JSON to FILE';

function parseArgs(argv: string[]): Args {
  const a: Args = { messages: 50_000, bytes: 64 * 1024, variants: [...VARIANTS], json: undefined };
  readFlags(argv, USAGE, (flag, value) => {
    if (flag === '--messages') a.messages = value.int(PUBLISHERS, 10_000_000);
    else if (flag === '--bytes') a.bytes = value.int(4096, 1024 * 1024);
    else if (flag === '--variants') a.variants = value.oneOrMoreOf(VARIANTS);
    else if (flag === '--json') a.json = value.text();
    else return false;
    return true;
  });
  return a;
}

function storageLines(variant: Variant, bytes: number, messages: number): string[] {
  const lines = ['  commitIntervalMs: 5', '  payloadSegmentBytes: 64MiB'];
  if (variant === 'inline') {
    // Everything in LMDB: the record limit and the map must hold the whole backlog (with B-tree overhead).
    const mapMiB = Math.ceil((messages * (bytes + 4096) * 1.5) / 1024 / 1024) + 256;
    lines.push('  inlineMaxBytes: 64KiB', `  mapSizeBytes: ${mapMiB}MiB`, '  payloadStore: js');
  } else {
    lines.push(`  payloadStore: ${variant}`);
  }
  return lines;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const MiB = 1024 * 1024;

interface PhaseResult {
  count: number;
  rate: number;
  seconds: number;
  error: string | null;
}

/** Each publisher sends its share with at most INFLIGHT unacknowledged; message i carries i in its first 4 bytes. */
async function publishAll(pubs: LoadClient[], tpl: PublishTemplate, total: number): Promise<PhaseResult> {
  let next = 0;
  let acked = 0;
  let error: string | null = null;
  const t0 = performance.now();
  let last = t0;
  await Promise.all(
    pubs.map(async (pub) => {
      const inflight = new Set<Promise<void>>();
      while (next < total && error === null) {
        if (performance.now() - t0 > PUBLISH_LIMIT_MS) {
          error ??= `not done within ${PUBLISH_LIMIT_MS / 1000} s`;
          break;
        }
        const i = next++;
        const p = pub.publishWith(tpl, (buf, po) => buf.writeUInt32LE(i, po)).then(
          () => {
            acked++;
            last = performance.now();
          },
          (e: Error) => void (error ??= e.message),
        );
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
        if (inflight.size >= INFLIGHT) await Promise.race(inflight);
      }
      await Promise.all(inflight);
    }),
  );
  const seconds = (last - t0) / 1000;
  return { count: acked, seconds, rate: seconds > 0 ? acked / seconds : 0, error };
}

async function drain(port: number, total: number): Promise<PhaseResult & { duplicates: number; corrupt: number; clientCpuPct: number }> {
  const seen = new Uint8Array(total);
  let unique = 0;
  let duplicates = 0;
  let corrupt = 0;
  let lastRecv = -1;
  let error: string | null = null;
  const onPublish = (payload: Buffer) => {
    const i = payload.readUInt32LE(0);
    if (i >= total) corrupt++;
    else if (seen[i]) duplicates++;
    else {
      seen[i] = 1;
      unique++;
    }
    lastRecv = performance.now();
  };
  const cpu0 = process.cpuUsage();
  const run = await drainQueue({
    port,
    filter: FILTER,
    clientId: 'bench-payload-consumer',
    onPublish,
    done: () => unique >= total,
    lastReceived: () => lastRecv,
    idleMs: IDLE_MS,
    limitMs: DRAIN_LIMIT_MS,
  });
  const t0 = run.t0;
  if (run.error !== null) error ??= `${run.error} (${unique}/${total})`;
  const seconds = lastRecv > t0 ? (lastRecv - t0) / 1000 : 0;
  const cpu = process.cpuUsage(cpu0);
  const clientCpuPct = seconds > 0 ? ((cpu.user + cpu.system) / 1e6 / seconds) * 100 : NaN;
  return { count: unique, seconds, rate: seconds > 0 ? unique / seconds : 0, error, duplicates, corrupt, clientCpuPct };
}

interface RunResult {
  variant: Variant;
  publishRate: number;
  publishMiBs: number;
  drainRate: number;
  drainMiBs: number;
  drained: number;
  /** write_bytes of the broker over the publish phase ÷ payload bytes PUBACKed */
  writtenPerPayloadByte: number;
  /** heapUsed + arrayBuffers (JavaScript-owned memory, Buffers included): peak during drain − after a full GC before it */
  heapGrowthMiB: number;
  heapUsedPeakMiB: number;
  arrayBuffersPeakMiB: number;
  rssPeakMiB: number;
  /** RSS without file-backed pages (the native store's mapped segments and LMDB's map are file-backed) */
  rssAnonPeakMiB: number;
  /** broker CPU time per drained message */
  drainCpuUs: number;
  /** the benchmark's own CPU during the drain (100 = one core): near 100 means the consumer is the bottleneck */
  clientCpuPct: number;
  errors: string[];
}

function peak(samples: MemorySample[] | null, f: (s: MemorySample) => number): number {
  return samples === null || samples.length === 0 ? NaN : Math.max(...samples.map(f));
}

async function runOnce(variant: Variant, args: Args): Promise<RunResult> {
  // --expose-gc: heap-sampler.ts then runs a full GC on SIGUSR2, for a drain baseline without publish garbage.
  const flags = process.env.WHARF_BENCH_NODE_FLAGS ?? EMBEDDED_NODE_FLAGS.join(' '); // as npm start, unless set
  if (!flags.includes('--expose-gc')) process.env.WHARF_BENCH_NODE_FLAGS = `${flags} --expose-gc`.trim();
  const peer: RunningPeer = await startPeer('wharf', {
    wharfStorage: storageLines(variant, args.bytes, args.messages),
    wharfYaml: ['queues:', '  definitions:', `    - { topicFilter: ${JSON.stringify(FILTER)}, consumerInflight: ${CONSUMER_INFLIGHT} }`],
    sampleHeap: true,
  });
  const clients: LoadClient[] = [];
  let rssPeak = 0;
  let rssAnonPeak = 0;
  const rssTimer = setInterval(() => {
    rssPeak = Math.max(rssPeak, peer.rssBytes());
    rssAnonPeak = Math.max(rssAnonPeak, peer.rssAnonBytes());
  }, 100);
  try {
    for (let p = 0; p < PUBLISHERS; p++) {
      clients.push(await LoadClient.connect({ port: peer.port, clientId: `bench-payload-pub-${p}`, protocolVersion: 4, maxInflight: INFLIGHT }));
    }
    const tpl = new PublishTemplate('images/cam1', args.bytes, 1, 4);
    const w0 = peer.writeBytes();
    const pub = await publishAll(clients, tpl, args.messages);
    const w1 = peer.writeBytes();
    await Promise.all(clients.map((c) => c.end(2000).catch(() => undefined)));
    await sleep(400);
    process.kill(peer.pid, 'SIGUSR2');
    await sleep(600);
    const drainStart = Date.now();
    const holdSamples = peer.memorySamples(drainStart - 300, drainStart);
    const c0 = peer.cpuSeconds();
    const mono0 = process.hrtime.bigint() / 1000n;
    const dr = await drain(peer.port, pub.count);
    const c1 = peer.cpuSeconds();
    if (process.env.WHARF_BENCH_CPU_PROF === '1') console.log(`  ${variant}: drain window (cpuprofile-top.js --window): ${mono0},${process.hrtime.bigint() / 1000n}`);
    const drainSamples = peer.memorySamples(drainStart, Date.now());
    const js = (s: MemorySample) => s.heapUsed + s.arrayBuffers;
    if (process.env.BENCH_PAYLOADS_DEBUG === '1') {
      for (const m of peer.memorySamples(drainStart - 1500, Date.now()) ?? []) console.log(`    ${m.t - drainStart} heapUsed ${(m.heapUsed / MiB).toFixed(1)} arrayBuffers ${(m.arrayBuffers / MiB).toFixed(1)} afterGc ${(m.afterMajorGc / MiB).toFixed(1)}`);
    }
    // Baseline: JS memory after a full GC with the backlog held (the publish phase's garbage gone).
    const base = holdSamples !== null && holdSamples.length > 0 ? Math.min(...holdSamples.map(js)) : NaN;
    const errors = [pub.error, dr.error].filter((e): e is string => e !== null);
    if (pub.count < args.messages) errors.push(`${args.messages - pub.count} publishes not PUBACKed`);
    if (dr.corrupt > 0) errors.push(`${dr.corrupt} payloads with a wrong index`);
    if (dr.duplicates > 0) errors.push(`${dr.duplicates} duplicates`);
    if (peer.exited()) errors.push(`broker exited: ${peer.output().slice(-500)}`);
    return {
      variant,
      publishRate: pub.rate,
      publishMiBs: (pub.rate * args.bytes) / MiB,
      drainRate: dr.rate,
      drainMiBs: (dr.rate * args.bytes) / MiB,
      drained: dr.count,
      writtenPerPayloadByte: (w1 - w0) / (pub.count * args.bytes),
      heapGrowthMiB: (peak(drainSamples, js) - base) / MiB,
      heapUsedPeakMiB: peak(drainSamples, (s) => s.heapUsed) / MiB,
      arrayBuffersPeakMiB: peak(drainSamples, (s) => s.arrayBuffers) / MiB,
      rssPeakMiB: rssPeak / MiB,
      rssAnonPeakMiB: rssAnonPeak / MiB,
      drainCpuUs: dr.count > 0 ? ((c1 - c0) * 1e6) / dr.count : NaN,
      clientCpuPct: dr.clientCpuPct,
      errors,
    };
  } finally {
    clearInterval(rssTimer);
    for (const c of clients) if (!c.isClosed) await c.end(1000).catch(() => undefined);
    await peer.stop();
  }
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a');

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  requirePeer('wharf');
  const need = args.messages * args.bytes * 1.3;
  const fs = statfsSync(os.tmpdir());
  const free = fs.bavail * fs.bsize;
  if (free < need) {
    console.error(`only ${fmt(free / MiB)} MiB free in ${os.tmpdir()}, a variant needs about ${fmt(need / MiB)} MiB: use --messages ${Math.floor((free / 1.3 / args.bytes) * 0.8)}`);
    process.exit(1);
  }
  console.log(
    `payload store: ${fmt(args.messages)} payloads × ${fmt(args.bytes)} B (${fmt((args.messages * args.bytes) / MiB)} MiB) per variant, ` +
      `${PUBLISHERS} QoS 1 publishers × ${INFLIGHT} in flight, 1 consumer × ${CONSUMER_INFLIGHT}; ${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(2)}`,
  );
  const results: RunResult[] = [];
  for (const variant of args.variants) {
    const r = await runOnce(variant, args);
    results.push(r);
    console.log(
      `  ${variant.padEnd(6)}: publish ${fmt(r.publishRate)} msg/s, drain ${fmt(r.drainRate)} msg/s (${fmt(r.drained)}), ` +
        `written ${r.writtenPerPayloadByte.toFixed(3)} B/payload B, heap growth ${fmt(r.heapGrowthMiB, 1)} MiB, RSS peak ${fmt(r.rssPeakMiB)} MiB` +
        (r.errors.length > 0 ? `; ERRORS: ${r.errors.join('; ')}` : ''),
    );
  }
  const of = (v: Variant) => results.find((r) => r.variant === v);
  const rows: Array<[string, (r: RunResult) => number, number]> = [
    ['publish msg/s (PUBACKed) ↑', (r) => r.publishRate, 0],
    ['publish MiB/s ↑', (r) => r.publishMiBs, 0],
    ['drain msg/s ↑', (r) => r.drainRate, 0],
    ['drain MiB/s ↑', (r) => r.drainMiBs, 0],
    ['messages drained', (r) => r.drained, 0],
    ['bytes written / payload byte (write_bytes, publish) ↓', (r) => r.writtenPerPayloadByte, 3],
    ['JS memory growth during drain MiB (heapUsed + arrayBuffers, peak − after GC) ↓', (r) => r.heapGrowthMiB, 1],
    ['heapUsed peak during drain MiB ↓', (r) => r.heapUsedPeakMiB, 1],
    ['arrayBuffers peak during drain MiB ↓', (r) => r.arrayBuffersPeakMiB, 1],
    ['broker peak RSS MiB (file-backed mapped pages included) ↓', (r) => r.rssPeakMiB, 0],
    ['broker peak RssAnon MiB ↓', (r) => r.rssAnonPeakMiB, 0],
    ['broker CPU µs per drained message ↓', (r) => r.drainCpuUs, 0],
    ['benchmark (consumer) CPU % during drain', (r) => r.clientCpuPct, 0],
  ];
  const shown = args.variants;
  console.log(`\n| metric | ${shown.join(' | ')} |`);
  console.log(`|---|${shown.map(() => '---:').join('|')}|`);
  for (const [name, f, digits] of rows) console.log(`| ${name} | ${shown.map((v) => fmt(f(of(v)!), digits)).join(' | ')} |`);

  const native = of('native');
  const js = of('js');
  const targets: Record<string, { value: number; target: number; met: boolean }> = {};
  if (native !== undefined && js !== undefined) {
    const drainRatio = native.drainRate / js.drainRate;
    targets.drainVsJs = { value: drainRatio, target: TARGETS.drainVsJs, met: drainRatio >= TARGETS.drainVsJs };
    const heapRatio = Math.max(0, native.heapGrowthMiB) / Math.max(js.heapGrowthMiB, 1e-9);
    targets.heapGrowthVsJs = { value: heapRatio, target: TARGETS.heapGrowthVsJs, met: heapRatio < TARGETS.heapGrowthVsJs };
  }
  if (native !== undefined) {
    const w = native.writtenPerPayloadByte;
    targets.writtenPerPayloadByte = { value: w, target: TARGETS.writtenPerPayloadByte, met: w <= TARGETS.writtenPerPayloadByte };
  }
  for (const [name, t] of Object.entries(targets)) console.log(`target ${name}: ${t.value.toFixed(3)} (${name === 'drainVsJs' ? '≥' : name === 'heapGrowthVsJs' ? '<' : '≤'} ${t.target}) ${t.met ? 'met' : 'MISSED'}`);
  const errors = results.flatMap((r) => r.errors.map((e) => `${r.variant}: ${e}`));
  if (errors.length > 0) console.log(`errors: ${errors.join('; ')}`);
  writeJsonRecord(args.json, { args, results, targets });
  if (errors.length > 0) process.exitCode = 1;
}

runStandalone(main);
