// Scenario 13 (issue 13): durable QoS 1 publishing with a bounded window, against the disk's own limit.
// A publisher with W messages in flight can get at most W per fsync; this scenario measures the fsync latency
// of the data directory's disk in the same run and reports each rate against W / latency, for an offline
// persistent session and for a `$q/` queue (peers without queues: a second offline persistent session).

import { closeSync, fdatasyncSync, openSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { STEAL_NOTE_PERCENT, cpuTimes, stealPercent } from './cpu-times.js';
import { deviceWriteBytes } from './disk-stats.js';
import { LoadClient, PublishTemplate } from './load-client.js';
import type { RunningPeer, StartOptions } from './peers.js';
import type { Metric, ScenarioContext, ScenarioResult } from './scenarios.js';

const PAYLOAD = 256;
const SESSION_FILTER = 'bench/window/session/#';
const QUEUE_FILTER = 'bench/window/queue/#';
const SUBSCRIBER_ID = 'bench-window-sub';
const QUEUE_STANDIN_ID = 'bench-window-queue-sub';
/**
 * The warm-up's own session and queue (warmUp): the same paths as the rows, so the same code is compiled, but
 * their backlogs stay out of the measured ones, which start empty and within the peers' per-session limits
 * (Wharf's mqtt.maxQueuedMessages, Mosquitto's max_queued_messages: 200,000 here).
 */
const WARM_SESSION_FILTER = 'bench/window/warm/session/#';
const WARM_QUEUE_FILTER = 'bench/window/warm/queue/#';
const WARM_SUBSCRIBER_ID = 'bench-window-warm-sub';
const WARM_QUEUE_STANDIN_ID = 'bench-window-warm-queue-sub';
/**
 * The live rows' session and queue: a subscriber that is connected and acknowledges every message as it comes
 * (Wharf: a consumer of a declared queue), so the broker also removes each message once it is acknowledged.
 */
const LIVE_SESSION_FILTER = 'bench/window/live/session/#';
const LIVE_QUEUE_FILTER = 'bench/window/live/queue/#';
const LIVE_SUBSCRIBER_ID = 'bench-window-live-sub';
/** After the last PUBACK of a live row, at most this long for the subscriber to have every message. */
const LIVE_DRAIN_MS = 10_000;

/**
 * Wharf: a declared queue nobody consumes, so every publish is committed before its PUBACK; with the commit log
 * (storage.commitLog, acknowledged after the log's fdatasync), BENCH_COMMIT_LOG=0 for the LMDB-only commit.
 */
export const DURABLE_WINDOW_START: StartOptions = {
  durable: true,
  traceSyncs: true,
  wharfStorage: process.env.BENCH_COMMIT_LOG === '0' ? ['  commitLog: false'] : ['  commitLog: true'],
  wharfYaml: [
    'queues:',
    '  definitions:',
    `    - { topicFilter: ${JSON.stringify(QUEUE_FILTER)} }`,
    `    - { topicFilter: ${JSON.stringify(WARM_QUEUE_FILTER)} }`,
    `    - { topicFilter: ${JSON.stringify(LIVE_QUEUE_FILTER)} }`,
  ],
};

/** One variant: publishers × window, the path, and how many messages per publisher. */
interface Variant {
  key: string;
  label: string;
  publishers: number;
  window: number;
  path: 'session' | 'queue';
  /** A connected subscriber (queue: consumer) takes every message as it is published, instead of an offline one. */
  live?: boolean;
  perPublisher: (quick: boolean) => number;
}

const VARIANTS: readonly Variant[] = [
  { key: 'session64', label: 'session, 1 pub × 64', publishers: 1, window: 64, path: 'session', perPublisher: (q) => (q ? 5_000 : 50_000) },
  { key: 'queue64', label: 'queue, 1 pub × 64', publishers: 1, window: 64, path: 'queue', perPublisher: (q) => (q ? 5_000 : 50_000) },
  { key: 'session16x16', label: 'session, 16 pub × 16', publishers: 16, window: 16, path: 'session', perPublisher: (q) => (q ? 300 : 3_000) },
  { key: 'queue16x16', label: 'queue, 16 pub × 16', publishers: 16, window: 16, path: 'queue', perPublisher: (q) => (q ? 300 : 3_000) },
  { key: 'session1', label: 'session, 1 pub × 1', publishers: 1, window: 1, path: 'session', perPublisher: (q) => (q ? 300 : 3_000) },
  { key: 'session64live', label: 'session, 1 pub × 64, live subscriber', publishers: 1, window: 64, path: 'session', live: true, perPublisher: (q) => (q ? 5_000 : 50_000) },
  { key: 'queue64live', label: 'queue, 1 pub × 64, live consumer', publishers: 1, window: 64, path: 'queue', live: true, perPublisher: (q) => (q ? 5_000 : 50_000) },
  { key: 'session1live', label: 'session, 1 pub × 1, live subscriber', publishers: 1, window: 1, path: 'session', live: true, perPublisher: (q) => (q ? 300 : 3_000) },
  { key: 'queue1live', label: 'queue, 1 pub × 1, live consumer', publishers: 1, window: 1, path: 'queue', live: true, perPublisher: (q) => (q ? 300 : 3_000) },
];

/** Median fdatasync latency (ms) of 4 KiB appends in `dir`: what one commit cannot beat on this disk. */
export function measureFdatasyncMs(dir: string, rounds = 200): number {
  const file = path.join(dir, `fdatasync-probe-${process.pid}`);
  const block = Buffer.alloc(4096, 0x5a);
  const fd = openSync(file, 'w');
  const samples: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      writeSync(fd, block);
      const t0 = performance.now();
      fdatasyncSync(fd);
      samples.push(performance.now() - t0);
    }
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

interface WindowRun {
  acked: number;
  durationS: number;
  rate: number;
  firstSendMs: number;
  lastAckMs: number;
  error: string | null;
}

/** Each publisher keeps `window` QoS 1 messages in flight until it has `perPub` PUBACKs (bounded by `limitMs`). */
function windowedPublish(pubs: LoadClient[], tpls: PublishTemplate[], window: number, perPub: number, limitMs: number): Promise<WindowRun> {
  let acked = 0;
  let first = -1;
  let firstSendMs = 0;
  let last = -1;
  let lastAckMs = 0;
  let error: string | null = null;
  return new Promise((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const durationS = last > first && first >= 0 ? (last - first) / 1000 : 0;
      resolve({ acked, durationS, rate: durationS > 0 ? acked / durationS : 0, firstSendMs, lastAckMs, error });
    };
    const timer = setTimeout(() => {
      error ??= `hit the ${limitMs / 1000} s bound`;
      finish();
    }, limitMs);
    pubs.forEach((pub, p) => {
      let sent = 0;
      let ackedHere = 0;
      const pump = () => {
        while (!done && sent < perPub && sent - ackedHere < window) {
          sent++;
          if (first < 0) {
            first = performance.now();
            firstSendMs = Date.now();
          }
          pub.publishWith(tpls[p]!).then(
            () => {
              ackedHere++;
              acked++;
              last = performance.now();
              lastAckMs = Date.now();
              if (acked === pubs.length * perPub) finish();
              else pump();
            },
            (e: Error) => {
              error ??= e.message;
              finish();
            },
          );
        }
      };
      pump();
    });
  });
}

/** A persistent session (clean session 0) that starts empty: whatever a former run left is cleared first. */
async function freshPersistentSession(port: number, clientId: string, onPublish?: () => void): Promise<LoadClient> {
  const fresh = await LoadClient.connect({ port, clientId, clean: true, protocolVersion: 4 });
  await fresh.end(2000);
  return LoadClient.connect({ port, clientId, clean: false, protocolVersion: 4, ...(onPublish === undefined ? {} : { onPublish }) });
}

async function offlineSubscriber(port: number, clientId: string, filter: string): Promise<void> {
  const sub = await freshPersistentSession(port, clientId);
  try {
    await sub.subscribe([{ topic: filter, qos: 1 }]);
  } finally {
    await sub.end(2000);
  }
}

/**
 * The live rows' subscriber: a persistent session (clean session 0) on the session filter, or Wharf's consumer of
 * the declared queue (`$q/`); peers without queues get a persistent session on the queue filter. It acknowledges
 * each message on arrival (LoadClient's automatic PUBACK) and counts them.
 */
async function liveSubscriber(peer: RunningPeer, path: 'session' | 'queue'): Promise<{ client: LoadClient; received: () => number }> {
  const filter = path === 'session' ? LIVE_SESSION_FILTER : LIVE_QUEUE_FILTER;
  const clientId = `${LIVE_SUBSCRIBER_ID}-${path}`;
  let received = 0;
  const client = await freshPersistentSession(peer.port, clientId, () => void received++);
  await client.subscribe([{ topic: path === 'queue' && peer.name === 'wharf' ? `$q/${filter}` : filter, qos: 1 }]);
  return { client, received: () => received };
}

async function waitForDeliveries(received: () => number, expected: number, limitMs: number): Promise<void> {
  const until = performance.now() + limitMs;
  while (received() < expected && performance.now() < until) await new Promise((r) => setTimeout(r, 20));
}

async function runVariant(peer: RunningPeer, v: Variant, quick: boolean, fsyncMs: number, notes: string[]): Promise<Metric[]> {
  const perPub = v.perPublisher(quick);
  const topicRoot = `bench/window/${v.live === true ? 'live/' : ''}${v.path}`;
  const pubs: LoadClient[] = [];
  const live = v.live === true ? await liveSubscriber(peer, v.path) : undefined;
  try {
    for (let p = 0; p < v.publishers; p++) {
      pubs.push(await LoadClient.connect({ port: peer.port, clientId: `bench-window-${v.key}-${p}`, protocolVersion: 4, maxInflight: v.window }));
    }
    const tpls = pubs.map((_, p) => new PublishTemplate(`${topicRoot}/${p}`, PAYLOAD, 1, 4));
    const store0 = await peer.storeWrittenBytes();
    const dev0 = deviceWriteBytes();
    const cpu0 = cpuTimes();
    const brokerCpu0 = peer.cpuSeconds();
    const r = await windowedPublish(pubs, tpls, v.window, perPub, 120_000);
    const brokerCpuS = peer.cpuSeconds() - brokerCpu0;
    const steal = stealPercent(cpu0, cpuTimes());
    // A live row's disk bytes include the removals of what the subscriber acknowledged by the last PUBACK.
    const dev1 = deviceWriteBytes();
    const store1 = await peer.storeWrittenBytes();
    const syncs = peer.syncCalls(r.firstSendMs, r.lastAckMs);
    if (r.error !== null) notes.push(`${v.label}: ${r.error} (${r.acked}/${v.publishers * perPub} PUBACKed)`);
    if (live !== undefined) {
      await waitForDeliveries(live.received, r.acked, LIVE_DRAIN_MS);
      if (live.received() < r.acked) notes.push(`${v.label}: the subscriber had ${live.received()} of ${r.acked} PUBACKed messages ${LIVE_DRAIN_MS / 1000} s after the last PUBACK`);
    }
    if (steal !== null && steal >= STEAL_NOTE_PERCENT) notes.push(`${v.label}: the hypervisor took ${steal.toFixed(0)} % of the CPU time (steal): this row's rate is the host's`);
    const limit = (v.publishers * v.window) / (fsyncMs / 1000);
    const payloadBytes = r.acked * PAYLOAD;
    const k = `window.${v.key}`;
    return [
      { key: `${k}.rate`, label: `${v.label}: publish msg/s`, unit: 'msg/s', value: r.rate, better: 'higher', digits: 0 },
      { key: `${k}.ofLimit`, label: `${v.label}: of the physical limit (${v.publishers * v.window} / fdatasync)`, unit: '×', value: r.rate / limit, better: 'higher', digits: 3 },
      // What the broker process spent per message (all its threads: the fdatasyncs' too), less subject to the host's
      // scheduling than the rate: what an A/B of a change to the per-message path reads first.
      { key: `${k}.cpuPerMsg`, label: `${v.label}: broker CPU µs per message (diag)`, unit: 'µs', value: r.acked > 0 ? (brokerCpuS * 1e6) / r.acked : null, better: 'none', digits: 1 },
      { key: `${k}.syncsPerS`, label: `${v.label}: fsyncs/s`, unit: '/s', value: syncs === null || r.durationS <= 0 ? null : syncs / r.durationS, better: 'lower', digits: 0 },
      {
        key: `${k}.diskPerPayload`,
        label: `${v.label}: disk bytes / payload byte (whole machine)`,
        unit: '×',
        value: payloadBytes > 0 && Number.isFinite(dev1 - dev0) ? (dev1 - dev0) / payloadBytes : null,
        better: 'lower',
        digits: 2,
      },
      storeShare(`${k}.storePerPayload`, `${v.label}: of which the store wrote`, store0?.total, store1?.total, payloadBytes),
      storeShare(`${k}.logPerPayload`, `${v.label}: of which the commit log`, store0?.log, store1?.log, payloadBytes),
      storeShare(`${k}.preparedPerPayload`, `${v.label}: and zeros written ahead into log files`, store0?.logPrepared, store1?.logPrepared, payloadBytes),
      { key: `${k}.steal`, label: `${v.label}: CPU time stolen by the hypervisor, % (diag)`, unit: '%', value: steal, better: 'none', digits: 1 },
    ];
  } finally {
    await Promise.all([...pubs, ...(live === undefined ? [] : [live.client])].map((c) => c.end(1000).catch(() => undefined)));
  }
}

/** A diagnostic row: what one of the store's byte counters (store-counters.ts) grew by, per payload byte. */
function storeShare(key: string, label: string, before: number | undefined, after: number | undefined, payloadBytes: number): Metric {
  const value = payloadBytes > 0 && before !== undefined && after !== undefined ? (after - before) / payloadBytes : null;
  return { key, label: `${label}, bytes / payload byte (diag)`, unit: '×', value, better: 'none', digits: 2 };
}

/**
 * Before the rows, each path is warmed up: a broker whose code is compiled on first use (Wharf's JavaScript,
 * RabbitMQ's Erlang) or whose files grow on first writes would otherwise lose its first rows to the start. A count
 * was not enough: Wharf's rate still rose for some 100,000 messages (3-5 s) after 10,000, as V8 optimised the
 * functions called once per commit (the log write, the commit itself) only then, so the session row (always first)
 * ran 15-25 % below the queue row, and either path did when it went first. So each path runs for WARM_UP_MS, in
 * chunks of WARM_UP_CHUNK, and at least one chunk; every peer gets the same. The first chunk's rate is a
 * diagnostic row: what the first messages after a start get. BENCH_WINDOW_WARMUP=0: no warm-up.
 */
const WARM_UP_MS = (quick: boolean) => (process.env.BENCH_WINDOW_WARMUP === '0' ? 0 : quick ? 500 : 4_000);
const WARM_UP_CHUNK = (quick: boolean) => (quick ? 1_000 : 10_000);
/** At most this many warm-up messages per path (a very fast peer), within the peers' per-session limits. */
const WARM_UP_MAX_MESSAGES = 190_000;

async function warmUp(peer: RunningPeer, quick: boolean): Promise<Metric[]> {
  const forMs = WARM_UP_MS(quick);
  if (forMs === 0) return [];
  const chunk = WARM_UP_CHUNK(quick);
  const metrics: Metric[] = [];
  await offlineSubscriber(peer.port, WARM_SUBSCRIBER_ID, WARM_SESSION_FILTER);
  if (peer.name !== 'wharf') await offlineSubscriber(peer.port, WARM_QUEUE_STANDIN_ID, WARM_QUEUE_FILTER);
  for (const path of ['session', 'queue'] as const) {
    const root = `bench/window/warm/${path}`;
    const pub = await LoadClient.connect({ port: peer.port, clientId: `bench-window-warm-${path}`, protocolVersion: 4, maxInflight: 64 });
    try {
      const tpl = [new PublishTemplate(`${root}/0`, PAYLOAD, 1, 4)];
      const started = performance.now();
      let sent = 0;
      do {
        const r = await windowedPublish([pub], tpl, 64, chunk, 60_000);
        if (sent === 0) {
          metrics.push({ key: `window.warmUp.${path}`, label: `warm-up, ${path}, first ${chunk.toLocaleString('en-US')} after start, 1 pub × 64: msg/s (diag)`, unit: 'msg/s', value: r.rate, better: 'none', digits: 0 });
        }
        sent += r.acked;
        if (r.error !== null) break;
      } while (performance.now() - started < forMs && sent + chunk <= WARM_UP_MAX_MESSAGES);
      metrics.push({ key: `window.warmUp.${path}.messages`, label: `warm-up, ${path}: messages in ${(forMs / 1000).toFixed(1)} s (diag)`, unit: 'msgs', value: sent, better: 'none', digits: 0 });
    } finally {
      await pub.end(1000).catch(() => undefined);
    }
  }
  return metrics;
}

export async function scenarioDurableWindow(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { peer, quick, log } = ctx;
  const notes: string[] = [];
  await offlineSubscriber(peer.port, SUBSCRIBER_ID, SESSION_FILTER);
  // Wharf captures the queue topics in its declared queue; the peers have no queues: an offline persistent
  // session stands in, so that they too must keep every message.
  if (peer.name !== 'wharf') {
    await offlineSubscriber(peer.port, QUEUE_STANDIN_ID, QUEUE_FILTER);
    notes.push('queue rows: no queues in this broker, an offline persistent session stands in');
  }
  // The broker's data directory is under os.tmpdir() (peers.ts): the same disk.
  const fsyncMs = measureFdatasyncMs(os.tmpdir());
  log(`${peer.name}: fdatasync of 4 KiB on ${os.tmpdir()}: median ${fsyncMs.toFixed(3)} ms`);
  const metrics: Metric[] = [{ key: 'window.fdatasyncMs', label: 'fdatasync latency of the data disk, ms (diag)', unit: 'ms', value: fsyncMs, better: 'none', digits: 3 }];
  metrics.push(...(await warmUp(peer, quick)));
  // BENCH_WINDOW_ONLY=session64,queue64 runs only those variants (profiling one path).
  const only = process.env.BENCH_WINDOW_ONLY?.split(',');
  for (const v of VARIANTS.filter((x) => only === undefined || only.includes(x.key))) {
    const busy0 = os.loadavg()[0]!;
    metrics.push(...(await runVariant(peer, v, quick, fsyncMs, notes)));
    log(`${peer.name}: ${v.label} done (load average ${busy0.toFixed(2)})`);
  }
  const after = measureFdatasyncMs(os.tmpdir());
  if (after > 2 * fsyncMs || after < fsyncMs / 2) notes.push(`fdatasync latency moved during the run: ${fsyncMs.toFixed(3)} ms before, ${after.toFixed(3)} ms after`);
  return { metrics, notes, raw: { fdatasyncMsBefore: fsyncMs, fdatasyncMsAfter: after, payloadBytes: PAYLOAD } };
}
