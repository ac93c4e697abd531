// Benchmark scenarios. Each one runs against an already started broker
// (RunningPeer) and returns a list of metrics plus raw details for the JSON.

import { performance } from 'node:perf_hooks';
import { cpuTimes } from './cpu-times.js';
import { deviceWriteBytes } from './disk-stats.js';
import { DURABLE_WINDOW_START, scenarioDurableWindow } from './durable-window.js';
import { LoadClient, PublishTemplate, type ProtocolVersion } from './load-client.js';
import type { MemorySample, RunningPeer, StartOptions } from './peers.js';

export type Better = 'higher' | 'lower' | 'none';

export interface Metric {
  key: string;
  label: string;
  unit: string;
  value: number | null;
  better: Better;
  /** decimals for display */
  digits?: number;
  /**
   * Wharf's target from its issue; the runner reports met / missed for Wharf. `beats-peers`: Wharf's value
   * must be better (in the `better` direction) than that of every peer that produced one.
   */
  target?: { op: '>=' | '<='; value: number } | { op: 'beats-peers' };
}

export interface ScenarioResult {
  metrics: Metric[];
  notes: string[];
  raw: Record<string, unknown>;
}

export interface ScenarioContext {
  peer: RunningPeer;
  quick: boolean;
  protocolVersion: ProtocolVersion;
  log: (msg: string) => void;
  /** Scenario 5: fraction of the messages PUBACKed at which the broker is SIGKILLed, one per crash round. */
  crashAt: number[];
}

export interface ScenarioDef {
  id: number;
  name: string;
  run: (ctx: ScenarioContext) => Promise<ScenarioResult>;
  /** How the runner starts the broker for this scenario (default: plain, no tracing). */
  start?: StartOptions;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const MB = 1024 * 1024;

function percentile(sorted: Float64Array, q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Busy CPU seconds of the whole machine (all cores) from /proc/stat, steal included. */
function machineBusySeconds(): number {
  return (cpuTimes()?.busy ?? NaN) / 100;
}

/**
 * Samples broker RSS (peak) and broker / load-generator CPU over an interval.
 * Also reports CPU used by *other* processes on the machine meanwhile
 * (otherCores): if that is high, the numbers are contaminated.
 */
function startMonitor(peer: RunningPeer) {
  const busy0 = machineBusySeconds();
  const cpu0 = peer.cpuSeconds();
  const lg0 = process.cpuUsage();
  const t0 = performance.now();
  let peak = peer.rssBytes();
  let peakAnon = peer.rssAnonBytes();
  const iv = setInterval(() => {
    peak = Math.max(peak, peer.rssBytes());
    peakAnon = Math.max(peakAnon, peer.rssAnonBytes());
  }, 100);
  return {
    stop() {
      clearInterval(iv);
      peak = Math.max(peak, peer.rssBytes());
      peakAnon = Math.max(peakAnon, peer.rssAnonBytes());
      const wallS = (performance.now() - t0) / 1000;
      const lg = process.cpuUsage(lg0);
      const brokerCpuS = peer.cpuSeconds() - cpu0;
      const loadgenCpuS = (lg.user + lg.system) / 1e6;
      const otherCpuS = Math.max(0, machineBusySeconds() - busy0 - brokerCpuS - loadgenCpuS);
      return {
        otherCores: otherCpuS / wallS,
        wallS,
        brokerCpuS,
        brokerCpuPct: (brokerCpuS / wallS) * 100,
        loadgenCpuS,
        loadgenCpuPct: (loadgenCpuS / wallS) * 100,
        peakRssBytes: peak,
        peakRssAnonBytes: peakAnon,
      };
    },
  };
}

async function closeAll(clients: (LoadClient | undefined)[]): Promise<void> {
  await Promise.all(clients.map((c) => (c ? c.end(1000).catch(() => undefined) : undefined)));
}

/** Run `fn(i)` for i in [0, n) with at most `concurrency` in flight. */
async function pool(n: number, concurrency: number, fn: (i: number) => Promise<void>, deadline: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n && Date.now() < deadline) {
      const i = next++;
      await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
}

// ---------------------------------------------------------------------------
// Scenario 1: QoS 0 fan-in, 8 publishers -> 1 subscriber, 64-byte payloads.
//
// Pacing: each publisher keeps at most FANIN_WINDOW of its messages
// "un-received" (sent but not yet seen by the subscriber) and refills in
// batches when that drops to half. This measures the *sustained delivered*
// rate instead of how fast a broker can swallow bytes into unbounded buffers
// (blasting would mostly measure kernel/socket buffering and, for brokers that
// drop QoS 0 under pressure, turn the test into a loss test).
// Payload: [0..8) float64 send time (performance.now), [8] phase,
// [9] publisher index, [10..14) uint32 sequence number.
// ---------------------------------------------------------------------------

const FANIN_PUBLISHERS = 8;
const FANIN_WINDOW = 500;
const FANIN_TOPIC = 'bench/fanin';

interface FanInPhaseResult {
  sent: number;
  received: number;
  lost: number;
  reordered: number;
  stalls: number;
  durationS: number;
  rate: number;
  latencies: Float64Array;
  timedOut: boolean;
}

function fanInPhase(
  sub: LoadClient,
  pubs: LoadClient[],
  tpl: PublishTemplate,
  phase: number,
  perPub: number,
  timeLimitMs: number,
): Promise<FanInPhaseResult> {
  const P = pubs.length;
  const total = P * perPub;
  const sent = new Array<number>(P).fill(0);
  const lastSeen = new Array<number>(P).fill(-1);
  const scheduled = new Array<boolean>(P).fill(false);
  const lat = new Float64Array(total);
  const len = tpl.length;
  let received = 0;
  let reordered = 0;
  let stalls = 0;
  let firstSend = -1;
  let lastRecv = -1;
  let lastProgress = performance.now();
  let finished = false;

  return new Promise<FanInPhaseResult>((resolve) => {
    const refill = (p: number) => {
      if (finished) return;
      const outstanding = sent[p]! - (lastSeen[p]! + 1);
      const n = Math.min(FANIN_WINDOW - outstanding, perPub - sent[p]!);
      if (n <= 0) return;
      const buf = Buffer.allocUnsafe(n * len);
      const now = performance.now();
      if (firstSend < 0) firstSend = now;
      let seq = sent[p]!;
      for (let k = 0; k < n; k++) {
        const po = tpl.stampInto(buf, k * len);
        buf.writeDoubleLE(now, po);
        buf[po + 8] = phase;
        buf[po + 9] = p;
        buf.writeUInt32LE(seq++, po + 10);
      }
      sent[p] = seq;
      pubs[p]!.writeRaw(buf, n);
    };

    const finish = (timedOut: boolean) => {
      if (finished) return;
      finished = true;
      clearInterval(watchdog);
      clearTimeout(limit);
      sub.onPublish = null;
      const sentTotal = sent.reduce((a, b) => a + b, 0);
      const durationS = lastRecv > firstSend && firstSend >= 0 ? (lastRecv - firstSend) / 1000 : 0;
      const latencies = lat.subarray(0, received).sort();
      resolve({
        sent: sentTotal,
        received,
        lost: sentTotal - received,
        reordered,
        stalls,
        durationS,
        rate: durationS > 0 ? received / durationS : 0,
        latencies,
        timedOut,
      });
    };

    sub.onPublish = (payload) => {
      if (payload.length < 14 || payload[8] !== phase) return;
      const p = payload[9]!;
      const seq = payload.readUInt32LE(10);
      if (p >= P || seq <= lastSeen[p]!) {
        reordered++; // duplicate, out of order, or arrived after a stall was declared
        return;
      }
      const now = performance.now();
      lastSeen[p] = seq;
      lat[received++] = now - payload.readDoubleLE(0);
      lastRecv = now;
      lastProgress = now;
      if (received >= total) {
        finish(false);
        return;
      }
      if (!scheduled[p] && sent[p]! < perPub && sent[p]! - (seq + 1) <= FANIN_WINDOW / 2) {
        scheduled[p] = true;
        setImmediate(() => {
          scheduled[p] = false;
          refill(p);
        });
      }
    };

    // Progress watchdog: if nothing arrives for 1 s, messages were dropped
    // at the tail of a window; count them as lost and let publishers go on.
    // If everything was sent and nothing arrives for 2 s, stop.
    const watchdog = setInterval(() => {
      const idle = performance.now() - lastProgress;
      const allSent = sent.every((s) => s >= perPub);
      const anyClosed = sub.isClosed || pubs.some((c) => c.isClosed);
      if (anyClosed && idle > 500) finish(false);
      else if (allSent && idle > 2000) finish(false);
      else if (!allSent && idle > 1000) {
        stalls++;
        lastProgress = performance.now();
        for (let p = 0; p < P; p++) {
          lastSeen[p] = sent[p]! - 1;
          refill(p);
        }
      }
    }, 100);
    const limit = setTimeout(() => finish(true), timeLimitMs);

    for (let p = 0; p < P; p++) refill(p);
  });
}

async function scenarioFanIn(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { peer, quick, protocolVersion: pv } = ctx;
  const perPub = quick ? 5_000 : 50_000;
  const warmPerPub = quick ? 500 : 5_000;
  const timeLimitMs = 20_000;
  const clients: LoadClient[] = [];
  try {
    const sub = await LoadClient.connect({ port: peer.port, clientId: 'bench-fanin-sub', protocolVersion: pv });
    clients.push(sub);
    await sub.subscribe([{ topic: FANIN_TOPIC, qos: 0 }]);
    for (let i = 0; i < FANIN_PUBLISHERS; i++) {
      clients.push(await LoadClient.connect({ port: peer.port, clientId: `bench-fanin-pub-${i}`, protocolVersion: pv }));
    }
    const pubs = clients.slice(1);
    const tpl = new PublishTemplate(FANIN_TOPIC, 64, 0, pv);

    const warm = await fanInPhase(sub, pubs, tpl, 1, warmPerPub, 10_000);
    await sleep(200);
    const mon = startMonitor(peer);
    const r = await fanInPhase(sub, pubs, tpl, 2, perPub, timeLimitMs);
    const m = mon.stop();
    const notes: string[] = [];
    if (m.otherCores > 0.25) notes.push(`fan-in: other processes used ${m.otherCores.toFixed(2)} cores during the run (results contaminated)`);
    if (r.timedOut) notes.push(`fan-in hit the ${timeLimitMs / 1000}s time bound (sent ${r.sent}/${perPub * FANIN_PUBLISHERS})`);
    if (r.lost > 0) notes.push(`fan-in: ${r.lost} QoS 0 messages not delivered`);
    if (r.reordered > 0) notes.push(`fan-in: ${r.reordered} duplicate/out-of-order/late messages`);
    if (clients.some((c) => c.isClosed)) notes.push('fan-in: a client connection was closed by the broker');
    return {
      metrics: [
        { key: 'fanin.rate', label: 'delivered msg/s', unit: 'msg/s', value: r.rate, better: 'higher', digits: 0 },
        { key: 'fanin.lost', label: 'messages lost', unit: 'msgs', value: r.lost, better: 'none', digits: 0 },
        { key: 'fanin.brokerCpuPerMsg', label: 'broker CPU µs/msg', unit: 'µs', value: r.received > 0 ? (m.brokerCpuS * 1e6) / r.received : null, better: 'lower', digits: 2 },
        { key: 'fanin.peakRss', label: 'broker peak RSS MB', unit: 'MB', value: m.peakRssBytes / MB, better: 'lower', digits: 1 },
        { key: 'fanin.loadgenCpu', label: 'load-gen CPU % (diag)', unit: '%', value: m.loadgenCpuPct, better: 'none', digits: 0 },
      ],
      notes,
      raw: {
        publishers: FANIN_PUBLISHERS,
        perPublisher: perPub,
        windowPerPublisher: FANIN_WINDOW,
        payloadBytes: 64,
        warmup: { perPublisher: warmPerPub, received: warm.received, lost: warm.lost, rate: warm.rate },
        sent: r.sent,
        received: r.received,
        lost: r.lost,
        reordered: r.reordered,
        stalls: r.stalls,
        timedOut: r.timedOut,
        durationS: r.durationS,
        rate: r.rate,
        latencyMs: { p50: percentile(r.latencies, 0.5), p99: percentile(r.latencies, 0.99), max: percentile(r.latencies, 1) },
        monitor: m,
      },
    };
  } finally {
    await closeAll(clients);
  }
}

// ---------------------------------------------------------------------------
// Scenario 2: QoS 1, 1 publisher -> 1 subscriber (subscription QoS 1),
// 64 messages in flight, 256-byte payloads. Throughput + end-to-end latency.
// Payload: [0..8) float64 send time, [8] phase, [9..13) uint32 seq.
// The send time is written when the packet goes on the wire (after getting
// an in-flight slot), so latency excludes local queueing.
// ---------------------------------------------------------------------------

const QOS1_INFLIGHT = 64;
const QOS1_TOPIC = 'bench/qos1';

interface Qos1PhaseResult {
  sent: number;
  acked: number;
  received: number;
  durationS: number;
  rate: number;
  latencies: Float64Array;
  timedOut: boolean;
  error: string | null;
}

function qos1Phase(
  pub: LoadClient,
  sub: LoadClient,
  tpl: PublishTemplate,
  phase: number,
  count: number,
  timeLimitMs: number,
): Promise<Qos1PhaseResult> {
  const lat = new Float64Array(count);
  let sent = 0;
  let acked = 0;
  let received = 0;
  let seq = 0;
  let firstSend = -1;
  let lastRecv = -1;
  let lastProgress = performance.now();
  let finished = false;
  let error: string | null = null;

  return new Promise<Qos1PhaseResult>((resolve) => {
    const finish = (timedOut: boolean) => {
      if (finished) return;
      finished = true;
      clearInterval(watchdog);
      clearTimeout(limit);
      sub.onPublish = null;
      const durationS = lastRecv > firstSend && firstSend >= 0 ? (lastRecv - firstSend) / 1000 : 0;
      resolve({
        sent,
        acked,
        received,
        durationS,
        rate: durationS > 0 ? received / durationS : 0,
        latencies: lat.subarray(0, received).sort(),
        timedOut,
        error,
      });
    };
    const fill = (buf: Buffer, po: number) => {
      const now = performance.now();
      if (firstSend < 0) firstSend = now;
      buf.writeDoubleLE(now, po);
      buf[po + 8] = phase;
      buf.writeUInt32LE(seq++, po + 9);
    };
    const onAck = () => {
      acked++;
      lastProgress = performance.now();
      if (acked >= count && received >= count) finish(false);
      else pump();
    };
    const onErr = (e: Error) => {
      error ??= e.message;
      finish(false);
    };
    const pump = () => {
      while (!finished && sent < count && sent - acked < QOS1_INFLIGHT) {
        sent++;
        pub.publishWith(tpl, fill).then(onAck, onErr);
      }
    };
    sub.onPublish = (payload) => {
      if (payload.length < 13 || payload[8] !== phase || received >= count) return;
      const now = performance.now();
      lat[received++] = now - payload.readDoubleLE(0);
      lastRecv = now;
      lastProgress = now;
      if (acked >= count && received >= count) finish(false);
    };
    const watchdog = setInterval(() => {
      if (performance.now() - lastProgress > 3000) {
        error ??= 'no progress for 3 s';
        finish(false);
      }
    }, 200);
    const limit = setTimeout(() => finish(true), timeLimitMs);
    pump();
  });
}

async function scenarioQos1(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { peer, quick, protocolVersion: pv } = ctx;
  const count = quick ? 10_000 : 500_000; // about 5 s for Wharf: shorter runs swing ±15% on a shared 2-core machine
  const warmCount = quick ? 1_000 : 10_000;
  const timeLimitMs = 30_000;
  const clients: LoadClient[] = [];
  try {
    const sub = await LoadClient.connect({ port: peer.port, clientId: 'bench-qos1-sub', protocolVersion: pv });
    clients.push(sub);
    const granted = await sub.subscribe([{ topic: QOS1_TOPIC, qos: 1 }]);
    const pub = await LoadClient.connect({
      port: peer.port,
      clientId: 'bench-qos1-pub',
      protocolVersion: pv,
      maxInflight: QOS1_INFLIGHT,
    });
    clients.push(pub);
    const tpl = new PublishTemplate(QOS1_TOPIC, 256, 1, pv);

    const warm = await qos1Phase(pub, sub, tpl, 1, warmCount, 15_000);
    await sleep(200);
    const mon = startMonitor(peer);
    const r = await qos1Phase(pub, sub, tpl, 2, count, timeLimitMs);
    const m = mon.stop();
    const notes: string[] = [];
    if (m.otherCores > 0.25) notes.push(`qos1: other processes used ${m.otherCores.toFixed(2)} cores during the run (results contaminated)`);
    if (granted[0] !== 1) notes.push(`qos1: subscription granted QoS ${granted[0]}`);
    if (r.timedOut) notes.push(`qos1 hit the ${timeLimitMs / 1000}s time bound (received ${r.received}/${count})`);
    if (r.error) notes.push(`qos1: ${r.error} (sent ${r.sent}, acked ${r.acked}, received ${r.received}/${count})`);
    return {
      metrics: [
        { key: 'qos1.rate', label: 'msg/s', unit: 'msg/s', value: r.rate, better: 'higher', digits: 0 },
        { key: 'qos1.p50', label: 'latency p50 ms', unit: 'ms', value: percentile(r.latencies, 0.5), better: 'lower', digits: 2 },
        { key: 'qos1.p99', label: 'latency p99 ms', unit: 'ms', value: percentile(r.latencies, 0.99), better: 'lower', digits: 2 },
        { key: 'qos1.brokerCpuPerMsg', label: 'broker CPU µs/msg', unit: 'µs', value: r.received > 0 ? (m.brokerCpuS * 1e6) / r.received : null, better: 'lower', digits: 2 },
        { key: 'qos1.peakRss', label: 'broker peak RSS MB', unit: 'MB', value: m.peakRssBytes / MB, better: 'lower', digits: 1 },
        { key: 'qos1.loadgenCpu', label: 'load-gen CPU % (diag)', unit: '%', value: m.loadgenCpuPct, better: 'none', digits: 0 },
      ],
      notes,
      raw: {
        count,
        inflight: QOS1_INFLIGHT,
        payloadBytes: 256,
        grantedQos: granted[0],
        warmup: { count: warmCount, received: warm.received, rate: warm.rate, error: warm.error },
        sent: r.sent,
        acked: r.acked,
        received: r.received,
        timedOut: r.timedOut,
        error: r.error,
        durationS: r.durationS,
        rate: r.rate,
        latencyMs: {
          p50: percentile(r.latencies, 0.5),
          p90: percentile(r.latencies, 0.9),
          p99: percentile(r.latencies, 0.99),
          max: percentile(r.latencies, 1),
        },
        monitor: m,
      },
    };
  } finally {
    await closeAll(clients);
  }
}

// ---------------------------------------------------------------------------
// Scenario 3: N idle MQTT 3.1.1 connections (keepalive 60), each subscribed
// to `idle/<i>`; broker VmRSS before vs after.
// ---------------------------------------------------------------------------

async function scenarioIdle(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { peer, quick } = ctx;
  const n = quick ? 100 : 1000;
  const clients: (LoadClient | undefined)[] = new Array(n);
  const errors: string[] = [];
  try {
    await sleep(1000); // let the broker finish starting up
    const rssBefore = peer.rssBytes();
    const t0 = performance.now();
    const deadline = Date.now() + 60_000;
    await pool(
      n,
      50,
      async (i) => {
        try {
          const c = await LoadClient.connect({ port: peer.port, clientId: `bench-idle-${i}`, protocolVersion: 4, keepalive: 60 });
          clients[i] = c;
          await c.subscribe([{ topic: `idle/${i}`, qos: 0 }]);
        } catch (e) {
          if (errors.length < 5) errors.push((e as Error).message);
        }
      },
      deadline,
    );
    const setupS = (performance.now() - t0) / 1000;
    await sleep(2000); // settle
    const connected = clients.filter((c) => c && !c.isClosed).length;
    const rssAfter = peer.rssBytes();
    const delta = rssAfter - rssBefore;
    const notes: string[] = [];
    if (connected < n) notes.push(`idle: only ${connected}/${n} connections established/alive (${errors.join('; ')})`);
    return {
      metrics: [
        { key: 'idle.connected', label: 'connections alive', unit: '', value: connected, better: 'none', digits: 0 },
        { key: 'idle.rssBefore', label: 'RSS before MB', unit: 'MB', value: rssBefore / MB, better: 'lower', digits: 1 },
        { key: 'idle.rssAfter', label: `RSS with ${n} conns MB`, unit: 'MB', value: rssAfter / MB, better: 'lower', digits: 1 },
        { key: 'idle.rssDelta', label: 'RSS delta MB', unit: 'MB', value: delta / MB, better: 'lower', digits: 1 },
        { key: 'idle.perConn', label: 'RSS delta KB/conn', unit: 'KB', value: connected > 0 ? delta / 1024 / connected : null, better: 'lower', digits: 1 },
      ],
      notes,
      raw: { connections: n, connected, setupS, rssBeforeBytes: rssBefore, rssAfterBytes: rssAfter, deltaBytes: delta, errors },
    };
  } finally {
    await closeAll(clients);
  }
}

// ---------------------------------------------------------------------------
// Scenarios 4 and 5: durable backlog and crash loss (issue 3).
//
// An offline persistent QoS 1 subscriber (MQTT 3.1.1, clean session 0,
// subscribed to bench/durable/# at QoS 1) holds a backlog while
// DURABLE_PUBLISHERS connections publish QoS 1 messages of 256 bytes with up
// to DURABLE_INFLIGHT each in flight; then it reconnects and drains.
// Payload: [0] phase, [1] publisher index, [2..6) uint32 sequence number, so
// message id = publisher * perPublisher + seq.
// ---------------------------------------------------------------------------

export const DURABLE_PUBLISHERS = 4;
export const DURABLE_INFLIGHT = 500;
const DURABLE_PAYLOAD = 256;
const DURABLE_FILTER = 'bench/durable/#';
/** Wharf's targets (issue 3), with storage.commitIntervalMs = 5. */
export const DURABLE_TARGETS = {
  publishRate: 30_000,
  writeAmplification: 2.0,
  // Issue 3 derived it from the 5 ms window every write then waited; the cap is storage.commitMaxPerSecond now.
  syncsPerSecond: 200,
  ackedButLost: 0,
} as const;

interface DurablePublishResult {
  /** acked[id] = 1 once the PUBACK for message `id` arrived */
  acked: Uint8Array;
  ackedCount: number;
  sent: number;
  /** Date.now() of the first send / the last PUBACK (for the strace window) */
  firstSendMs: number;
  lastAckMs: number;
  durationS: number;
  rate: number;
  timedOut: boolean;
  error: string | null;
  killed: boolean;
}

/**
 * Publishes perPub QoS 1 messages on each connection, at most DURABLE_INFLIGHT un-acked per connection.
 * With `killAtAcked`, `onKill()` is called (synchronously, from the PUBACK handler) once that many messages
 * are acked; publishing stops and the result comes once every publisher connection has closed.
 */
function durablePublish(
  pubs: LoadClient[],
  tpls: PublishTemplate[],
  phase: number,
  perPub: number,
  timeLimitMs: number,
  kill?: { atAcked: number; onKill: () => void },
): Promise<DurablePublishResult> {
  const P = pubs.length;
  const acked = new Uint8Array(P * perPub);
  const sentBy = new Array<number>(P).fill(0);
  const ackedBy = new Array<number>(P).fill(0);
  let sent = 0;
  let ackedCount = 0;
  let firstSend = -1;
  let firstSendMs = 0;
  let lastAck = -1;
  let lastAckMs = 0;
  let lastProgress = performance.now();
  let finished = false;
  let killed = false;
  let error: string | null = null;

  return new Promise<DurablePublishResult>((resolve) => {
    const finish = (timedOut: boolean) => {
      if (finished) return;
      finished = true;
      clearInterval(watchdog);
      clearTimeout(limit);
      const durationS = lastAck > firstSend && firstSend >= 0 ? (lastAck - firstSend) / 1000 : 0;
      resolve({ acked, ackedCount, sent, firstSendMs, lastAckMs, durationS, rate: durationS > 0 ? ackedCount / durationS : 0, timedOut, error, killed });
    };
    const pump = (p: number) => {
      const pub = pubs[p]!;
      const tpl = tpls[p]!;
      while (!finished && !killed && sentBy[p]! < perPub && sentBy[p]! - ackedBy[p]! < DURABLE_INFLIGHT && !pub.isClosed) {
        const seq = sentBy[p]!++;
        sent++;
        if (firstSend < 0) {
          firstSend = performance.now();
          firstSendMs = Date.now();
        }
        const id = p * perPub + seq;
        pub
          .publishWith(tpl, (buf, po) => {
            buf[po] = phase;
            buf[po + 1] = p;
            buf.writeUInt32LE(seq, po + 2);
          })
          .then(
            () => {
              acked[id] = 1;
              ackedCount++;
              ackedBy[p]!++;
              lastAck = performance.now();
              lastAckMs = Date.now();
              lastProgress = lastAck;
              if (kill && !killed && ackedCount >= kill.atAcked) {
                killed = true;
                kill.onKill();
              }
              if (!killed) {
                if (ackedCount >= P * perPub) finish(false);
                else pump(p);
              }
            },
            (e: Error) => {
              if (!killed) {
                error ??= e.message;
                finish(false);
              } else if (pubs.every((c) => c.isClosed)) finish(false);
            },
          );
      }
    };
    const watchdog = setInterval(() => {
      const idle = performance.now() - lastProgress;
      if (killed) {
        // after the kill: wait (bounded) for every publisher connection to be closed
        if (pubs.every((c) => c.isClosed) || idle > 5000) finish(false);
      } else if (idle > 10_000) {
        error ??= 'no PUBACK for 10 s';
        finish(false);
      }
    }, 100);
    const limit = setTimeout(() => finish(true), timeLimitMs);
    for (let p = 0; p < P; p++) pump(p);
  });
}

interface DrainResult {
  received: Uint8Array;
  unique: number;
  duplicates: number;
  /** messages of another phase or malformed */
  foreign: number;
  sessionPresent: boolean;
  durationS: number;
  rate: number;
  timedOut: boolean;
  error: string | null;
}

/**
 * Reconnects the persistent subscriber and counts what it gets (it PUBACKs each message) until `done()` says
 * so and nothing new came for `settleMs`, or nothing new came for `idleMs`, or `timeLimitMs` passed.
 * The returned client is still connected.
 */
async function drainSubscriber(
  port: number,
  clientId: string,
  phase: number,
  total: number,
  perPub: number,
  done: (unique: number, received: Uint8Array) => boolean,
  opts: { settleMs: number; idleMs: number; timeLimitMs: number },
): Promise<{ client: LoadClient | null; result: DrainResult }> {
  const received = new Uint8Array(total);
  let unique = 0;
  let duplicates = 0;
  let foreign = 0;
  let lastRecv = -1;
  let lastProgress = performance.now();
  const t0 = performance.now();
  const onPublish = (payload: Buffer) => {
    if (payload.length < 6 || payload[0] !== phase) {
      foreign++;
      return;
    }
    const id = payload[1]! * perPub + payload.readUInt32LE(2);
    if (id >= total) {
      foreign++;
      return;
    }
    if (received[id]) duplicates++;
    else {
      received[id] = 1;
      unique++;
      lastRecv = performance.now();
      lastProgress = lastRecv;
    }
  };
  let client: LoadClient | null = null;
  let error: string | null = null;
  try {
    client = await LoadClient.connect({ port, clientId, clean: false, protocolVersion: 4, onPublish });
  } catch (e) {
    error = (e as Error).message;
  }
  let timedOut = false;
  if (client) {
    const deadline = t0 + opts.timeLimitMs;
    for (;;) {
      await sleep(50);
      const now = performance.now();
      const idle = now - lastProgress;
      if (done(unique, received) && idle >= opts.settleMs) break;
      if (idle >= opts.idleMs) break;
      if (client.isClosed) {
        error ??= 'subscriber connection closed by the broker';
        break;
      }
      if (now > deadline) {
        timedOut = true;
        break;
      }
    }
  }
  const durationS = lastRecv > t0 ? (lastRecv - t0) / 1000 : 0;
  return {
    client,
    result: {
      received,
      unique,
      duplicates,
      foreign,
      sessionPresent: client?.sessionPresent ?? false,
      durationS,
      rate: durationS > 0 ? unique / durationS : 0,
      timedOut,
      error,
    },
  };
}

/** Connects the persistent subscriber, subscribes to bench/durable/# at QoS 1, disconnects. Returns the granted QoS. */
async function createOfflineSubscriber(port: number, clientId: string): Promise<number> {
  // clean start first, so no state of an earlier run or round is resumed
  const fresh = await LoadClient.connect({ port, clientId, clean: true, protocolVersion: 4 });
  await fresh.end(2000);
  const sub = await LoadClient.connect({ port, clientId, clean: false, protocolVersion: 4 });
  try {
    const granted = await sub.subscribe([{ topic: DURABLE_FILTER, qos: 1 }]);
    return granted[0] ?? -1;
  } finally {
    await sub.end(2000);
  }
}

async function connectPublishers(port: number, tag: string): Promise<LoadClient[]> {
  const pubs: LoadClient[] = [];
  for (let p = 0; p < DURABLE_PUBLISHERS; p++) {
    pubs.push(await LoadClient.connect({ port, clientId: `bench-${tag}-pub-${p}`, protocolVersion: 4, maxInflight: DURABLE_INFLIGHT }));
  }
  return pubs;
}

function publishTemplates(): PublishTemplate[] {
  return Array.from({ length: DURABLE_PUBLISHERS }, (_, p) => new PublishTemplate(`bench/durable/${p}`, DURABLE_PAYLOAD, 1, 4));
}

async function scenarioDurable(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { peer, quick } = ctx;
  const perPub = (quick ? 10_000 : 100_000) / DURABLE_PUBLISHERS;
  const total = perPub * DURABLE_PUBLISHERS;
  const subId = 'bench-durable-sub';
  const clients: (LoadClient | undefined)[] = [];
  const notes: string[] = [];
  try {
    const granted = await createOfflineSubscriber(peer.port, subId);
    const pubs = await connectPublishers(peer.port, 'durable');
    clients.push(...pubs);
    await sleep(300);

    const mon = startMonitor(peer);
    const wb0 = peer.writeBytes();
    const dev0 = deviceWriteBytes();
    const pubMono0 = monoUs();
    const r = await durablePublish(pubs, publishTemplates(), 1, perPub, 120_000);
    const pubMono1 = monoUs();
    const wb1 = peer.writeBytes();
    const dev1 = deviceWriteBytes();
    const pm = mon.stop();
    const syncs = peer.syncCalls(r.firstSendMs, r.lastAckMs);
    await closeAll(pubs);

    await sleep(300);
    const mon2 = startMonitor(peer);
    const wb2 = peer.writeBytes();
    const drainMono0 = monoUs();
    const { client: sub, result: d } = await drainSubscriber(peer.port, subId, 1, total, perPub, (u) => u >= r.ackedCount, {
      settleMs: 0,
      idleMs: 5000,
      timeLimitMs: 120_000,
    });
    clients.push(sub ?? undefined);
    const dm = mon2.stop();
    const wb3 = peer.writeBytes();
    const drainMono1 = monoUs();
    ctx.log(`${peer.name}: CLOCK_MONOTONIC µs windows (for cpuprofile-top.js --window): publish ${pubMono0},${pubMono1} drain ${drainMono0},${drainMono1}`);

    const written = wb1 - wb0;
    const payloadBytes = r.ackedCount * DURABLE_PAYLOAD;
    const lostInBacklog = r.ackedCount - countAckedReceived(r.acked, d.received);
    if (pm.otherCores > 0.25 || dm.otherCores > 0.25)
      notes.push(`durable: other processes used ${pm.otherCores.toFixed(2)} cores during publish, ${dm.otherCores.toFixed(2)} during drain (results contaminated)`);
    if (granted !== 1) notes.push(`durable: subscription granted QoS ${granted}`);
    if (r.timedOut) notes.push(`durable: publish hit the 120 s bound (acked ${r.ackedCount}/${total})`);
    if (r.error) notes.push(`durable: publish ${r.error} (sent ${r.sent}, acked ${r.ackedCount}/${total})`);
    if (d.error) notes.push(`durable: drain ${d.error}`);
    if (d.timedOut) notes.push('durable: drain hit the 120 s bound');
    if (lostInBacklog > 0) notes.push(`durable: ${lostInBacklog} PUBACKed messages never reached the subscriber (no crash involved)`);
    if (!d.sessionPresent) notes.push('durable: subscriber reconnected with session present = 0');
    if (peer.syncTraceError !== null) notes.push(`durable: fsyncs not counted: ${peer.syncTraceError}`);

    return {
      metrics: [
        { key: 'durable.pubRate', label: 'publish msg/s (PUBACKed)', unit: 'msg/s', value: r.rate, better: 'higher', digits: 0, target: { op: '>=', value: DURABLE_TARGETS.publishRate } },
        { key: 'durable.drainRate', label: 'drain msg/s', unit: 'msg/s', value: d.rate, better: 'higher', digits: 0 },
        { key: 'durable.drained', label: 'messages drained (of PUBACKed)', unit: 'msgs', value: d.unique, better: 'none', digits: 0 },
        {
          key: 'durable.syncsPerS',
          label: 'fsync+fdatasync calls/s during publish',
          unit: '/s',
          value: syncs === null || r.durationS <= 0 ? null : syncs / r.durationS,
          better: 'lower',
          digits: 1,
          target: { op: '<=', value: DURABLE_TARGETS.syncsPerSecond },
        },
        { key: 'durable.bytesPerMsg', label: 'bytes written/msg (/proc/pid/io)', unit: 'B', value: r.ackedCount > 0 ? written / r.ackedCount : null, better: 'lower', digits: 0 },
        { key: 'durable.writeAmp', label: 'write amplification, /proc/pid/io (written / payload)', unit: '×', value: payloadBytes > 0 ? written / payloadBytes : null, better: 'lower', digits: 2 },
        {
          // What reached the disk (all processes, so an upper bound for the broker's share): the figure for flash
          // wear. write_bytes above is charged per dirtied folio and over-counts LMDB's 4 KiB page writes.
          key: 'durable.deviceWriteAmp',
          label: 'write amplification at the disk (sectors written, whole machine / payload)',
          unit: '×',
          value: payloadBytes > 0 && Number.isFinite(dev1 - dev0) ? (dev1 - dev0) / payloadBytes : null,
          better: 'lower',
          digits: 2,
          target: { op: '<=', value: DURABLE_TARGETS.writeAmplification },
        },
        { key: 'durable.peakRss', label: 'broker peak RSS MB', unit: 'MB', value: Math.max(pm.peakRssBytes, dm.peakRssBytes) / MB, better: 'lower', digits: 1 },
        { key: 'durable.brokerCpuPerMsg', label: 'broker CPU µs/msg (publish)', unit: 'µs', value: r.ackedCount > 0 ? (pm.brokerCpuS * 1e6) / r.ackedCount : null, better: 'lower', digits: 2 },
        { key: 'durable.deviceBytesPerMsg', label: 'disk bytes/msg, whole machine (diag)', unit: 'B', value: r.ackedCount > 0 ? (dev1 - dev0) / r.ackedCount : null, better: 'none', digits: 0 },
        { key: 'durable.loadgenCpu', label: 'load-gen CPU % (diag)', unit: '%', value: pm.loadgenCpuPct, better: 'none', digits: 0 },
      ],
      notes,
      raw: {
        publishers: DURABLE_PUBLISHERS,
        inflightPerPublisher: DURABLE_INFLIGHT,
        payloadBytes: DURABLE_PAYLOAD,
        total,
        grantedQos: granted,
        publish: { sent: r.sent, acked: r.ackedCount, durationS: r.durationS, rate: r.rate, timedOut: r.timedOut, error: r.error, monitor: pm },
        syncCalls: syncs,
        syncTraceError: peer.syncTraceError,
        writeBytes: { publish: written, drain: wb3 - wb2 },
        deviceWriteBytesPublish: dev1 - dev0,
        drain: { unique: d.unique, duplicates: d.duplicates, foreign: d.foreign, sessionPresent: d.sessionPresent, durationS: d.durationS, rate: d.rate, timedOut: d.timedOut, error: d.error, monitor: dm },
        ackedNotDrained: lostInBacklog,
        monotonicWindowsUs: { publish: [pubMono0, pubMono1], drain: [drainMono0, drainMono1] },
      },
    };
  } finally {
    await closeAll(clients);
  }
}

/** CLOCK_MONOTONIC in µs: the clock of V8 .cpuprofile timestamps on Linux. */
function monoUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

function countAckedReceived(acked: Uint8Array, received: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < acked.length; i++) if (acked[i] && received[i]) n++;
  return n;
}

async function scenarioCrash(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { peer, quick, log } = ctx;
  const perPub = (quick ? 10_000 : 100_000) / DURABLE_PUBLISHERS;
  const total = perPub * DURABLE_PUBLISHERS;
  const notes: string[] = [];
  const rounds: Record<string, unknown>[] = [];
  let ackedTotal = 0;
  let lostTotal = 0;
  let dupTotal = 0;
  let deliveredTotal = 0;
  let unackedDelivered = 0;
  let restartMsMax = 0;
  for (let round = 0; round < ctx.crashAt.length; round++) {
    const frac = ctx.crashAt[round]!;
    const phase = 10 + round;
    const subId = `bench-crash-sub-${round}`;
    const clients: (LoadClient | undefined)[] = [];
    try {
      const granted = await createOfflineSubscriber(peer.port, subId);
      const pubs = await connectPublishers(peer.port, `crash${round}`);
      clients.push(...pubs);
      await sleep(200);
      let crashed: Promise<void> = Promise.resolve();
      const r = await durablePublish(pubs, publishTemplates(), phase, perPub, 120_000, {
        atAcked: Math.max(1, Math.floor(frac * total)),
        onKill: () => {
          crashed = peer.crash();
        },
      });
      await crashed;
      await closeAll(pubs);
      const killed = r.killed;
      const t0 = performance.now();
      if (killed) await peer.restart();
      const restartMs = killed ? performance.now() - t0 : 0;
      restartMsMax = Math.max(restartMsMax, restartMs);
      const { client: sub, result: d } = await drainSubscriber(
        peer.port,
        subId,
        phase,
        total,
        perPub,
        (_u, rec) => countAckedReceived(r.acked, rec) >= r.ackedCount,
        { settleMs: 1000, idleMs: 3000, timeLimitMs: 60_000 },
      );
      clients.push(sub ?? undefined);
      const ackedReceived = countAckedReceived(r.acked, d.received);
      const lost = r.ackedCount - ackedReceived;
      ackedTotal += r.ackedCount;
      lostTotal += lost;
      dupTotal += d.duplicates;
      deliveredTotal += d.unique;
      unackedDelivered += d.unique - ackedReceived;
      const line = `round ${round + 1}: SIGKILL at ${(frac * 100).toFixed(0)}% -> ${r.ackedCount} PUBACKed (${r.sent} sent), ${d.unique} delivered after restart, ${lost} acked-but-lost, ${d.duplicates} duplicates, session present ${d.sessionPresent ? 1 : 0}, restart ${restartMs.toFixed(0)} ms`;
      log(`${peer.name}: crash ${line}`);
      if (!killed) notes.push(`crash round ${round + 1}: the broker was not killed (publish ended: ${r.error ?? (r.timedOut ? 'time bound' : 'all acked')})`);
      if (granted !== 1) notes.push(`crash round ${round + 1}: subscription granted QoS ${granted}`);
      if (d.error) notes.push(`crash round ${round + 1}: drain ${d.error}`);
      if (d.timedOut) notes.push(`crash round ${round + 1}: drain hit the 60 s bound`);
      rounds.push({
        killAtFraction: frac,
        killed,
        sent: r.sent,
        acked: r.ackedCount,
        publishRate: r.rate,
        publishError: r.error,
        restartMs,
        sessionPresent: d.sessionPresent,
        delivered: d.unique,
        ackedButLost: lost,
        duplicates: d.duplicates,
        drainError: d.error,
        summary: line,
      });
      // delete the session so the next round's publishes are not queued for it
      if (sub) await sub.end(2000);
      const cleaner = await LoadClient.connect({ port: peer.port, clientId: subId, clean: true, protocolVersion: 4 }).catch(() => undefined);
      clients.push(cleaner);
    } finally {
      await closeAll(clients);
    }
  }
  notes.unshift(
    `crash: ${rounds.map((r) => `${((r.killAtFraction as number) * 100).toFixed(0)}%: ${r.acked as number} acked / ${r.ackedButLost as number} lost`).join('; ')}`,
  );
  return {
    metrics: [
      { key: 'crash.rounds', label: 'crash rounds (kill at % of msgs acked)', unit: '', value: rounds.length, better: 'none', digits: 0 },
      { key: 'crash.acked', label: 'PUBACKed before SIGKILL (all rounds)', unit: 'msgs', value: ackedTotal, better: 'none', digits: 0 },
      { key: 'crash.ackedLost', label: 'acked-but-lost (all rounds)', unit: 'msgs', value: lostTotal, better: 'lower', digits: 0, target: { op: '<=', value: DURABLE_TARGETS.ackedButLost } },
      { key: 'crash.delivered', label: 'delivered after restart', unit: 'msgs', value: deliveredTotal, better: 'none', digits: 0 },
      { key: 'crash.unacked', label: 'delivered but never PUBACKed (diag)', unit: 'msgs', value: unackedDelivered, better: 'none', digits: 0 },
      { key: 'crash.dups', label: 'duplicates (diag)', unit: 'msgs', value: dupTotal, better: 'none', digits: 0 },
      { key: 'crash.restartMs', label: 'restart to listening ms (max)', unit: 'ms', value: restartMsMax, better: 'lower', digits: 0 },
    ],
    notes,
    raw: { publishers: DURABLE_PUBLISHERS, inflightPerPublisher: DURABLE_INFLIGHT, payloadBytes: DURABLE_PAYLOAD, total, rounds },
  };
}

// ---------------------------------------------------------------------------
// Scenarios 6-8: durable queues (issue 4).
//
// Wharf consumes a declared queue with `$q/<filter>`; Mosquitto's nearest equivalent is a shared
// subscription `$share/g/<filter>` (each message to one member, round robin). Aedes 1.2.0 has no shared
// subscriptions: it grants `$share/...` (SUBACK 1) but treats it as a literal filter, so nothing is
// delivered. Each scenario probes that first (sharedSubscriptionsWork) and reports n/a instead of timing out.
//
// Mosquitto runs with persistence on in all three (autosave_interval default 1800 s: it writes nothing during
// the run, so this buys it no durability; Wharf commits every queued message to LMDB before the PUBACK).
// ---------------------------------------------------------------------------

const QUEUE_FILTER = 'bench/q/#';
const QUEUE_TOPIC = 'bench/q/x';
const QUEUE_CONSUMERS = 4;
const QUEUE_CONSUMER_INFLIGHT = 64;
const QUEUE_PUBLISHERS = 4;
/** Scenario 6, per publisher: most messages not yet PUBACKed, and most not yet delivered to a consumer. */
const QUEUE_WINDOW = 256;
/** Mosquitto's per-client queue limit in scenarios 6-8 (default 1000 would drop the scenario 7 backlog). */
const MOSQUITTO_QUEUE_MAX_QUEUED = 2_000_000;
/** Wharf's targets (issue 4). */
export const QUEUE_TARGETS = { throughput256: 25_000, backlogHeapMiB: 64 } as const;
const MiB = 1024 * 1024;

function wharfQueueYaml(topicFilter: string, consumerInflight: number): string[] {
  return [
    'queues:',
    '  definitions:',
    `    - { topicFilter: ${JSON.stringify(topicFilter)}, dispatch: least_inflight, consumerInflight: ${consumerInflight} }`,
  ];
}

function mosquittoQueueConf(maxInflight: number): (dataDir: string, userLines: string[]) => string[] {
  return (dataDir, userLines) => [
    'persistence true',
    ...userLines,
    `persistence_location ${dataDir}/`,
    `max_queued_messages ${MOSQUITTO_QUEUE_MAX_QUEUED}`,
    // outgoing QoS 1 window per (3.1.1) client: Wharf's consumerInflight of the same scenario
    `max_inflight_messages ${maxInflight}`,
  ];
}

/** The subscription a consumer of `filter` uses on this peer. */
function consumerFilter(peer: RunningPeer, filter: string): string {
  return peer.name === 'wharf' ? `$q/${filter}` : `$share/g/${filter}`;
}

/** True if a `$share/` subscriber receives a message published to its filter (Aedes 1.2.0: it does not). */
async function sharedSubscriptionsWork(port: number): Promise<boolean> {
  let got = false;
  const clients: LoadClient[] = [];
  try {
    const sub = await LoadClient.connect({ port, clientId: 'bench-share-probe-sub', protocolVersion: 4, onPublish: () => void (got = true) });
    clients.push(sub);
    await sub.subscribe([{ topic: '$share/probe/bench/probe', qos: 1 }]);
    const pub = await LoadClient.connect({ port, clientId: 'bench-share-probe-pub', protocolVersion: 4 });
    clients.push(pub);
    await pub.publish('bench/probe', Buffer.from('probe'), 1);
    const until = performance.now() + 1000;
    while (!got && performance.now() < until) await sleep(20);
    return got;
  } finally {
    await closeAll(clients);
  }
}

const NO_SHARED_SUBS =
  'no shared subscriptions: the broker granted `$share/probe/bench/probe` (SUBACK QoS 1) but delivered nothing published to `bench/probe` within 1 s (aedes 1.2.0 treats `$share/...` as a literal filter)';

/** The scenario's metrics with every value null, for a peer that cannot run it. */
function notApplicable(metrics: Metric[], why: string): ScenarioResult {
  return { metrics: metrics.map((m) => ({ ...m, value: null })), notes: [`not applicable: ${why}`], raw: { notApplicable: why } };
}

function peakOf(samples: MemorySample[] | null, key: 'heapUsed' | 'heapTotal' | 'afterMajorGc' | 'rss'): number | null {
  if (samples === null || samples.length === 0) return null;
  let max = -1;
  for (const s of samples) max = Math.max(max, s[key]);
  return max < 0 ? null : max;
}

/** Every ~2 s of samples, for the JSON: [seconds from the first, heapUsed MiB, after-major-GC MiB or null, RSS MB]. */
function memorySeries(samples: MemorySample[] | null): [number, number, number | null, number][] | null {
  if (samples === null || samples.length === 0) return null;
  const t0 = samples[0]!.t;
  const out: [number, number, number | null, number][] = [];
  let next = t0;
  for (const s of samples) {
    if (s.t < next) continue;
    next = s.t + 2000;
    const r1 = (x: number) => Math.round(x * 10) / 10;
    out.push([r1((s.t - t0) / 1000), r1(s.heapUsed / MiB), s.afterMajorGc < 0 ? null : r1(s.afterMajorGc / MiB), r1(s.rss / MB)]);
  }
  return out;
}

// --- Scenario 6: queue throughput ---------------------------------------------------------------------------
// QUEUE_PUBLISHERS QoS 1 publishers on QUEUE_TOPIC -> queue -> QUEUE_CONSUMERS consumers (QoS 1, PUBACK at once).
// Closed loop per publisher: at most QUEUE_WINDOW messages un-PUBACKed and at most QUEUE_WINDOW not yet
// delivered, so the rate is what the broker sustains end to end, not how fast a backlog grows.
// Payload: [0..8) float64 send time (performance.now, stamped when the packet is queued for the wire),
// [8] phase, [9] publisher, [10..14) uint32 sequence.

interface FlowResult {
  sent: number;
  acked: number;
  unique: number;
  duplicates: number;
  foreign: number;
  perConsumer: number[];
  durationS: number;
  rate: number;
  latencies: Float64Array;
  timedOut: boolean;
  error: string | null;
}

function queueFlowPhase(pubs: LoadClient[], consumers: LoadClient[], tpl: PublishTemplate, phase: number, perPub: number, timeLimitMs: number): Promise<FlowResult> {
  const P = pubs.length;
  const total = P * perPub;
  const got = new Uint8Array(total);
  const lat = new Float64Array(total);
  const sentBy = new Array<number>(P).fill(0);
  const ackedBy = new Array<number>(P).fill(0);
  const recvBy = new Array<number>(P).fill(0);
  const perConsumer = new Array<number>(consumers.length).fill(0);
  let sent = 0;
  let acked = 0;
  let unique = 0;
  let duplicates = 0;
  let foreign = 0;
  let firstSend = -1;
  let lastRecv = -1;
  let lastProgress = performance.now();
  let finished = false;
  let error: string | null = null;

  return new Promise<FlowResult>((resolve) => {
    const finish = (timedOut: boolean) => {
      if (finished) return;
      finished = true;
      clearInterval(watchdog);
      clearTimeout(limit);
      for (const c of consumers) c.onPublish = null;
      const durationS = lastRecv > firstSend && firstSend >= 0 ? (lastRecv - firstSend) / 1000 : 0;
      resolve({
        sent,
        acked,
        unique,
        duplicates,
        foreign,
        perConsumer,
        durationS,
        rate: durationS > 0 ? unique / durationS : 0,
        latencies: lat.subarray(0, unique).sort(),
        timedOut,
        error,
      });
    };
    const onErr = (e: Error) => {
      error ??= e.message;
      finish(false);
    };
    const pump = (p: number) => {
      const pub = pubs[p]!;
      while (!finished && sentBy[p]! < perPub && sentBy[p]! - ackedBy[p]! < QUEUE_WINDOW && sentBy[p]! - recvBy[p]! < QUEUE_WINDOW && !pub.isClosed) {
        const seq = sentBy[p]!++;
        sent++;
        pub
          .publishWith(tpl, (buf, po) => {
            const now = performance.now();
            if (firstSend < 0) firstSend = now;
            buf.writeDoubleLE(now, po);
            buf[po + 8] = phase;
            buf[po + 9] = p;
            buf.writeUInt32LE(seq, po + 10);
          })
          .then(() => {
            acked++;
            ackedBy[p]!++;
            lastProgress = performance.now();
            if (unique >= total && acked >= total) finish(false);
            else pump(p);
          }, onErr);
      }
    };
    consumers.forEach((c, ci) => {
      c.onPublish = (payload) => {
        if (payload.length < 14 || payload[8] !== phase || payload[9]! >= P) {
          foreign++;
          return;
        }
        const p = payload[9]!;
        const seq = payload.readUInt32LE(10);
        const id = p * perPub + seq;
        if (seq >= perPub) {
          foreign++;
          return;
        }
        perConsumer[ci]!++;
        if (got[id]) {
          duplicates++;
          return;
        }
        got[id] = 1;
        const now = performance.now();
        lat[unique++] = now - payload.readDoubleLE(0);
        recvBy[p]!++;
        lastRecv = now;
        lastProgress = now;
        if (unique >= total && acked >= total) finish(false);
        else pump(p);
      };
    });
    const watchdog = setInterval(() => {
      if (performance.now() - lastProgress > 10_000) {
        error ??= `no progress for 10 s (sent ${sent}, acked ${acked}, delivered ${unique})`;
        finish(false);
      } else if (pubs.some((c) => c.isClosed) || consumers.some((c) => c.isClosed)) {
        error ??= 'a connection was closed by the broker';
        finish(false);
      }
    }, 100);
    const limit = setTimeout(() => finish(true), timeLimitMs);
    for (let p = 0; p < P; p++) pump(p);
  });
}

const QT_SIZES = [
  { key: '256', label: '256 B', bytes: 256, count: 200_000, warm: 20_000, target: QUEUE_TARGETS.throughput256 },
  { key: '16k', label: '16 KiB', bytes: 16 * 1024, count: 50_000, warm: 5_000, target: undefined },
] as const;

function queueThroughputMetrics(
  v: Record<string, { rate: number | null; p50: number | null; p99: number | null; cpu: number | null }>,
  peakRss: number | null,
  loadgen: number | null,
): Metric[] {
  const out: Metric[] = [];
  for (const s of QT_SIZES) {
    const x = v[s.key] ?? { rate: null, p50: null, p99: null, cpu: null };
    out.push(
      {
        key: `qt.${s.key}.rate`,
        label: `${s.label}: msg/s end to end (consumer-acked)`,
        unit: 'msg/s',
        value: x.rate,
        better: 'higher',
        digits: 0,
        ...(s.target !== undefined ? { target: { op: '>=' as const, value: s.target } } : {}),
      },
      { key: `qt.${s.key}.p50`, label: `${s.label}: publish-to-delivery p50 ms`, unit: 'ms', value: x.p50, better: 'lower', digits: 2 },
      { key: `qt.${s.key}.p99`, label: `${s.label}: publish-to-delivery p99 ms`, unit: 'ms', value: x.p99, better: 'lower', digits: 2 },
      { key: `qt.${s.key}.cpu`, label: `${s.label}: broker CPU µs/msg`, unit: 'µs', value: x.cpu, better: 'lower', digits: 1 },
    );
  }
  out.push(
    { key: 'qt.peakRss', label: 'broker peak RSS MB', unit: 'MB', value: peakRss, better: 'lower', digits: 1 },
    { key: 'qt.loadgenCpu', label: 'load-gen CPU % (diag, max)', unit: '%', value: loadgen, better: 'none', digits: 0 },
  );
  return out;
}

async function scenarioQueueThroughput(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { peer, quick, log } = ctx;
  if (peer.name !== 'wharf' && !(await sharedSubscriptionsWork(peer.port))) return notApplicable(queueThroughputMetrics({}, null, null), NO_SHARED_SUBS);
  const clients: LoadClient[] = [];
  const notes: string[] = [];
  const raw: Record<string, unknown> = {
    publishers: QUEUE_PUBLISHERS,
    windowPerPublisher: QUEUE_WINDOW,
    consumers: QUEUE_CONSUMERS,
    consumerInflight: QUEUE_CONSUMER_INFLIGHT,
    subscription: consumerFilter(peer, QUEUE_FILTER),
  };
  try {
    const consumers: LoadClient[] = [];
    for (let i = 0; i < QUEUE_CONSUMERS; i++) {
      const c = await LoadClient.connect({ port: peer.port, clientId: `bench-qt-cons-${i}`, protocolVersion: 4 });
      clients.push(c);
      consumers.push(c);
      const granted = await c.subscribe([{ topic: consumerFilter(peer, QUEUE_FILTER), qos: 1 }]);
      if (granted[0] !== 1) notes.push(`queue throughput: consumer ${i} granted QoS ${granted[0]}`);
    }
    const pubs: LoadClient[] = [];
    for (let p = 0; p < QUEUE_PUBLISHERS; p++) {
      const c = await LoadClient.connect({ port: peer.port, clientId: `bench-qt-pub-${p}`, protocolVersion: 4, maxInflight: QUEUE_WINDOW });
      clients.push(c);
      pubs.push(c);
    }
    const values: Record<string, { rate: number | null; p50: number | null; p99: number | null; cpu: number | null }> = {};
    let peakRss = 0;
    let loadgen = 0;
    for (let k = 0; k < QT_SIZES.length; k++) {
      const s = QT_SIZES[k]!;
      const count = quick ? s.count / 10 : s.count;
      const warmCount = quick ? s.warm / 10 : s.warm;
      const tpl = new PublishTemplate(QUEUE_TOPIC, s.bytes, 1, 4);
      const warm = await queueFlowPhase(pubs, consumers, tpl, 2 * k + 1, warmCount / QUEUE_PUBLISHERS, 20_000);
      if (warm.error) notes.push(`queue throughput ${s.label} warm-up: ${warm.error}`);
      await sleep(300);
      const mon = startMonitor(peer);
      const mono0 = monoUs();
      const r = await queueFlowPhase(pubs, consumers, tpl, 2 * k + 2, count / QUEUE_PUBLISHERS, 30_000);
      const mono1 = monoUs();
      const m = mon.stop();
      log(`${peer.name}: CLOCK_MONOTONIC µs window of the ${s.label} run (for cpuprofile-top.js --window): ${mono0},${mono1}`);
      peakRss = Math.max(peakRss, m.peakRssBytes);
      loadgen = Math.max(loadgen, m.loadgenCpuPct);
      values[s.key] = {
        rate: r.rate,
        p50: percentile(r.latencies, 0.5),
        p99: percentile(r.latencies, 0.99),
        cpu: r.unique > 0 ? (m.brokerCpuS * 1e6) / r.unique : null,
      };
      const split = r.perConsumer.map((n) => n.toLocaleString('en-US')).join(' / ');
      log(`${peer.name}: queue throughput ${s.label}: ${r.unique}/${count} delivered in ${r.durationS.toFixed(2)} s, per consumer ${split}`);
      if (m.otherCores > 0.25) notes.push(`queue throughput ${s.label}: other processes used ${m.otherCores.toFixed(2)} cores during the run (results contaminated)`);
      if (r.timedOut) notes.push(`queue throughput ${s.label}: hit the 30 s bound (delivered ${r.unique}/${count})`);
      if (r.error) notes.push(`queue throughput ${s.label}: ${r.error}`);
      if (r.duplicates > 0) notes.push(`queue throughput ${s.label}: ${r.duplicates} duplicate deliveries`);
      if (m.loadgenCpuPct > 80) notes.push(`queue throughput ${s.label}: load generator at ${m.loadgenCpuPct.toFixed(0)}% of a core (it may be the bottleneck)`);
      raw[s.key] = {
        payloadBytes: s.bytes,
        count,
        warmup: { count: warmCount, delivered: warm.unique, rate: warm.rate, error: warm.error },
        sent: r.sent,
        acked: r.acked,
        delivered: r.unique,
        duplicates: r.duplicates,
        foreign: r.foreign,
        perConsumer: r.perConsumer,
        durationS: r.durationS,
        rate: r.rate,
        timedOut: r.timedOut,
        error: r.error,
        latencyMs: { p50: percentile(r.latencies, 0.5), p90: percentile(r.latencies, 0.9), p99: percentile(r.latencies, 0.99), max: percentile(r.latencies, 1) },
        monitor: m,
        monotonicWindowUs: [mono0, mono1],
      };
    }
    return { metrics: queueThroughputMetrics(values, peakRss / MB, loadgen), notes, raw };
  } finally {
    await closeAll(clients);
  }
}

// --- Scenario 7: queue backlog --------------------------------------------------------------------------------
// 1,000,000 messages of 256 B (4 publishers × 500 in flight, QoS 1, bounded by 120 s) into a queue nobody
// consumes, then drained by 4 consumers (bounded by 120 s). Wharf: declared queue. Mosquitto: 4 persistent
// sessions (clean session 0) in `$share/g/bench/q/#`, offline during the publish (Mosquitto queues shared
// messages for offline members, round robin), then reconnected. Aedes (no shared subscriptions): one offline
// persistent subscriber on `bench/q/#` as in scenario 4, draining alone.
// Payload as in scenario 4: [0] phase, [1] publisher, [2..6) sequence.

const BACKLOG_TOTAL = 1_000_000;
const BACKLOG_TIME_LIMIT_MS = 120_000;

interface BacklogConsumerSpec {
  clientId: string;
  /** Wharf: subscribe after connecting (clean session); peers: persistent session subscribed beforehand */
  subscribeAfterConnect: string | null;
}

function backlogConsumers(peer: RunningPeer, shared: boolean): BacklogConsumerSpec[] {
  if (peer.name === 'wharf') {
    return Array.from({ length: QUEUE_CONSUMERS }, (_, i) => ({ clientId: `bench-qb-cons-${i}`, subscribeAfterConnect: consumerFilter(peer, QUEUE_FILTER) }));
  }
  const n = shared ? QUEUE_CONSUMERS : 1;
  return Array.from({ length: n }, (_, i) => ({ clientId: `bench-qb-cons-${i}`, subscribeAfterConnect: null }));
}

async function createPersistentSubscriber(port: number, clientId: string, filter: string): Promise<number> {
  const fresh = await LoadClient.connect({ port, clientId, clean: true, protocolVersion: 4 });
  await fresh.end(2000);
  const sub = await LoadClient.connect({ port, clientId, clean: false, protocolVersion: 4 });
  try {
    const granted = await sub.subscribe([{ topic: filter, qos: 1 }]);
    return granted[0] ?? -1;
  } finally {
    await sub.end(2000);
  }
}

interface MultiDrainResult {
  unique: number;
  duplicates: number;
  foreign: number;
  perConsumer: number[];
  received: Uint8Array;
  durationS: number;
  rate: number;
  timedOut: boolean;
  error: string | null;
}

async function drainConsumers(
  port: number,
  specs: BacklogConsumerSpec[],
  phase: number,
  total: number,
  perPub: number,
  expected: number,
  clients: (LoadClient | undefined)[],
): Promise<MultiDrainResult> {
  const received = new Uint8Array(total);
  const perConsumer = new Array<number>(specs.length).fill(0);
  let unique = 0;
  let duplicates = 0;
  let foreign = 0;
  let lastRecv = -1;
  let lastProgress = performance.now();
  let error: string | null = null;
  const t0 = performance.now();
  const handler = (ci: number) => (payload: Buffer) => {
    if (payload.length < 6 || payload[0] !== phase) {
      foreign++;
      return;
    }
    const id = payload[1]! * perPub + payload.readUInt32LE(2);
    if (id >= total) {
      foreign++;
      return;
    }
    perConsumer[ci]!++;
    if (received[id]) duplicates++;
    else {
      received[id] = 1;
      unique++;
      lastRecv = performance.now();
      lastProgress = lastRecv;
    }
  };
  const conns = await Promise.all(
    specs.map(async (s, ci) => {
      try {
        const c = await LoadClient.connect({ port, clientId: s.clientId, clean: s.subscribeAfterConnect !== null, protocolVersion: 4, onPublish: handler(ci) });
        clients.push(c);
        if (s.subscribeAfterConnect !== null) await c.subscribe([{ topic: s.subscribeAfterConnect, qos: 1 }]);
        return c;
      } catch (e) {
        error ??= (e as Error).message;
        return null;
      }
    }),
  );
  let timedOut = false;
  const deadline = t0 + BACKLOG_TIME_LIMIT_MS;
  for (;;) {
    await sleep(50);
    const now = performance.now();
    if (unique >= expected) break;
    if (now - lastProgress >= 5000) break;
    if (conns.some((c) => c === null || c.isClosed)) {
      error ??= 'a consumer connection was closed by the broker';
      break;
    }
    if (now > deadline) {
      timedOut = true;
      break;
    }
  }
  const durationS = lastRecv > t0 ? (lastRecv - t0) / 1000 : 0;
  return { unique, duplicates, foreign, perConsumer, received, durationS, rate: durationS > 0 ? unique / durationS : 0, timedOut, error };
}

function backlogMetrics(v: {
  queued: number | null;
  pubRate: number | null;
  drainRate: number | null;
  drained: number | null;
  rssHold: number | null;
  rssDrain: number | null;
  anonHold: number | null;
  anonDrain: number | null;
  liveHold: number | null;
  heapHold: number | null;
  heapAtEnd: number | null;
  heapDrain: number | null;
  cpu: number | null;
  loadgen: number | null;
}): Metric[] {
  return [
    { key: 'qb.queued', label: 'messages queued (PUBACKed, of 1,000,000)', unit: 'msgs', value: v.queued, better: 'none', digits: 0 },
    { key: 'qb.pubRate', label: 'publish msg/s (PUBACKed)', unit: 'msg/s', value: v.pubRate, better: 'higher', digits: 0 },
    { key: 'qb.drainRate', label: 'drain msg/s', unit: 'msg/s', value: v.drainRate, better: 'higher', digits: 0 },
    { key: 'qb.drained', label: 'messages drained (of PUBACKed)', unit: 'msgs', value: v.drained, better: 'none', digits: 0 },
    { key: 'qb.rssHold', label: 'broker peak RSS MB (publish + backlog held)', unit: 'MB', value: v.rssHold, better: 'lower', digits: 1 },
    { key: 'qb.rssDrain', label: 'broker peak RSS MB (drain)', unit: 'MB', value: v.rssDrain, better: 'lower', digits: 1 },
    { key: 'qb.anonHold', label: 'broker peak RssAnon MB, publish + held (RSS without mmapped files)', unit: 'MB', value: v.anonHold, better: 'lower', digits: 1 },
    { key: 'qb.anonDrain', label: 'broker peak RssAnon MB (drain)', unit: 'MB', value: v.anonDrain, better: 'lower', digits: 1 },
    {
      key: 'qb.heapHold',
      label: 'broker peak JS heapUsed MiB (publish + backlog held)',
      unit: 'MiB',
      value: v.heapHold,
      better: 'lower',
      digits: 1,
      target: { op: '<=', value: QUEUE_TARGETS.backlogHeapMiB },
    },
    {
      key: 'qb.liveHold',
      label: 'broker peak heapUsed MiB right after a major GC (publish + held)',
      unit: 'MiB',
      value: v.liveHold,
      better: 'lower',
      digits: 1,
    },
    { key: 'qb.heapAtEnd', label: 'broker JS heapUsed MiB, backlog held 1 s after publish', unit: 'MiB', value: v.heapAtEnd, better: 'lower', digits: 1 },
    { key: 'qb.heapDrain', label: 'broker peak JS heapUsed MiB (drain)', unit: 'MiB', value: v.heapDrain, better: 'lower', digits: 1 },
    { key: 'qb.cpu', label: 'broker CPU µs/msg (publish)', unit: 'µs', value: v.cpu, better: 'lower', digits: 1 },
    { key: 'qb.loadgenCpu', label: 'load-gen CPU % (diag, publish)', unit: '%', value: v.loadgen, better: 'none', digits: 0 },
  ];
}

async function scenarioQueueBacklog(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { peer, quick, log } = ctx;
  const total = quick ? BACKLOG_TOTAL / 10 : BACKLOG_TOTAL;
  const perPub = total / DURABLE_PUBLISHERS;
  const notes: string[] = [];
  const clients: (LoadClient | undefined)[] = [];
  try {
    const shared = peer.name === 'wharf' ? true : await sharedSubscriptionsWork(peer.port);
    const specs = backlogConsumers(peer, shared);
    if (peer.name !== 'wharf') {
      const filter = shared ? consumerFilter(peer, QUEUE_FILTER) : QUEUE_FILTER;
      for (const s of specs) {
        const g = await createPersistentSubscriber(peer.port, s.clientId, filter);
        if (g !== 1) notes.push(`backlog: ${s.clientId} granted QoS ${g}`);
      }
      if (!shared) notes.push(`backlog: ${NO_SHARED_SUBS}; one offline persistent subscriber on ${QUEUE_FILTER} holds the backlog and drains it alone`);
    }
    const pubs = await connectPublishers(peer.port, 'qb');
    clients.push(...pubs);
    const tpls = Array.from({ length: DURABLE_PUBLISHERS }, () => new PublishTemplate(QUEUE_TOPIC, DURABLE_PAYLOAD, 1, 4));
    await sleep(300);

    const mon = startMonitor(peer);
    const holdFrom = Date.now();
    const pubMono0 = monoUs();
    const r = await durablePublish(pubs, tpls, 1, perPub, BACKLOG_TIME_LIMIT_MS);
    const pubMono1 = monoUs();
    await closeAll(pubs);
    await sleep(1000); // the backlog held, nobody consuming
    const pm = mon.stop();
    const holdTo = Date.now();
    const hold = peer.memorySamples(holdFrom, holdTo);
    const heapAtEnd = hold !== null && hold.length > 0 ? hold[hold.length - 1]!.heapUsed : null;
    log(`${peer.name}: backlog: ${r.ackedCount}/${total} PUBACKed in ${r.durationS.toFixed(1)} s; peak RSS ${(pm.peakRssBytes / MB).toFixed(1)} MB, peak heap ${fmtMiB(peakOf(hold, 'heapUsed'))}`);

    const mon2 = startMonitor(peer);
    const drainFrom = Date.now();
    const drainMono0 = monoUs();
    const d = await drainConsumers(peer.port, specs, 1, total, perPub, r.ackedCount, clients);
    const drainMono1 = monoUs();
    const dm = mon2.stop();
    const drainSamples = peer.memorySamples(drainFrom, Date.now());
    log(`${peer.name}: CLOCK_MONOTONIC µs windows (for cpuprofile-top.js --window): publish ${pubMono0},${pubMono1} drain ${drainMono0},${drainMono1}`);
    log(`${peer.name}: backlog drained ${d.unique} in ${d.durationS.toFixed(1)} s, per consumer ${d.perConsumer.join(' / ')}`);

    const lost = r.ackedCount - countAckedReceived(r.acked, d.received);
    if (pm.otherCores > 0.25 || dm.otherCores > 0.25)
      notes.push(`backlog: other processes used ${pm.otherCores.toFixed(2)} cores during publish, ${dm.otherCores.toFixed(2)} during drain (results contaminated)`);
    if (r.timedOut) notes.push(`backlog: publish cut short by the ${BACKLOG_TIME_LIMIT_MS / 1000} s bound: ${r.ackedCount.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} PUBACKed`);
    if (r.error) notes.push(`backlog: publish ${r.error} (sent ${r.sent}, acked ${r.ackedCount}/${total})`);
    if (d.error) notes.push(`backlog: drain ${d.error}`);
    if (d.timedOut) notes.push(`backlog: drain cut short by the ${BACKLOG_TIME_LIMIT_MS / 1000} s bound (${d.unique.toLocaleString('en-US')} drained)`);
    if (lost > 0 && !d.timedOut) notes.push(`backlog: ${lost} PUBACKed messages never reached a consumer`);
    if (d.duplicates > 0) notes.push(`backlog: ${d.duplicates} duplicate deliveries`);

    const heapHold = peakOf(hold, 'heapUsed');
    const liveHold = peakOf(hold, 'afterMajorGc');
    const heapDrain = peakOf(drainSamples, 'heapUsed');
    return {
      metrics: backlogMetrics({
        queued: r.ackedCount,
        pubRate: r.rate,
        drainRate: d.rate,
        drained: d.unique,
        rssHold: pm.peakRssBytes / MB,
        rssDrain: dm.peakRssBytes / MB,
        anonHold: pm.peakRssAnonBytes / MB,
        anonDrain: dm.peakRssAnonBytes / MB,
        liveHold: liveHold === null ? null : liveHold / MiB,
        heapHold: heapHold === null ? null : heapHold / MiB,
        heapAtEnd: heapAtEnd === null ? null : heapAtEnd / MiB,
        heapDrain: heapDrain === null ? null : heapDrain / MiB,
        cpu: r.ackedCount > 0 ? (pm.brokerCpuS * 1e6) / r.ackedCount : null,
        loadgen: pm.loadgenCpuPct,
      }),
      notes,
      raw: {
        total,
        publishers: DURABLE_PUBLISHERS,
        inflightPerPublisher: DURABLE_INFLIGHT,
        payloadBytes: DURABLE_PAYLOAD,
        consumers: specs.map((s) => s.clientId),
        consumerSubscription: peer.name === 'wharf' ? consumerFilter(peer, QUEUE_FILTER) : shared ? consumerFilter(peer, QUEUE_FILTER) : QUEUE_FILTER,
        publish: { sent: r.sent, acked: r.ackedCount, durationS: r.durationS, rate: r.rate, timedOut: r.timedOut, error: r.error, monitor: pm },
        drain: { unique: d.unique, duplicates: d.duplicates, foreign: d.foreign, perConsumer: d.perConsumer, durationS: d.durationS, rate: d.rate, timedOut: d.timedOut, error: d.error, monitor: dm },
        ackedNotDrained: lost,
        heapSamples: {
          hold: hold?.length ?? null,
          drain: drainSamples?.length ?? null,
          peakHeapTotalHold: peakOf(hold, 'heapTotal'),
          peakAfterMajorGcDrain: peakOf(drainSamples, 'afterMajorGc'),
          seriesHold: memorySeries(hold),
          seriesDrain: memorySeries(drainSamples),
        },
        monotonicWindowsUs: { publish: [pubMono0, pubMono1], drain: [drainMono0, drainMono1] },
      },
    };
  } finally {
    await closeAll(clients);
  }
}

function fmtMiB(b: number | null): string {
  return b === null ? 'n/a' : `${(b / MiB).toFixed(1)} MiB`;
}

// --- Scenario 8: work distribution (the OCR scenario of issue 4) ----------------------------------------------
// 2,000 jobs (QoS 1, 256 B) on images/process, all PUBACKed before any worker consumes. Then 4 workers taking
// 2, 4, 6 and 8 ms per job, one job at a time, PUBACK when done. Wharf: declared queue images/+ (least_inflight,
// consumerInflight 1), workers subscribe $q/images/+ after connecting. Mosquitto: `max_inflight_messages 1`;
// the workers are persistent sessions (clean session 0) subscribed to $share/g/images/process and offline while
// the jobs are published (a shared subscription does not hold messages for a group with no member; Mosquitto
// assigns each job to a member round robin and queues it in that member's session), then reconnect. Either way
// (live workers or offline sessions) Mosquitto splits the jobs by round robin at publish time, so this is its
// fairest setup: the clock starts for every broker when the workers start connecting.
// Payload: [0] phase, [1..5) uint32 job id.

const OCR_JOBS = 2000;
const OCR_WORKER_MS = [2, 4, 6, 8] as const;
const OCR_TOPIC = 'images/process';
const OCR_WHARF_FILTER = 'images/+';

function ocrMetrics(v: {
  completion: number | null;
  ideal: number | null;
  processed: number | null;
  dups: number | null;
  perWorker: (number | null)[];
  publishMs: number | null;
  turnaround: number | null;
  cpuPerJob: number | null;
}): Metric[] {
  return [
    { key: 'ocr.completion', label: 'completion ms (workers start -> last job done)', unit: 'ms', value: v.completion, better: 'lower', digits: 0, target: { op: 'beats-peers' } },
    { key: 'ocr.vsIdeal', label: 'completion / ideal (diag; ideal = jobs ÷ Σ 1/job time)', unit: '×', value: v.completion !== null && v.ideal ? v.completion / v.ideal : null, better: 'none', digits: 2 },
    ...OCR_WORKER_MS.map<Metric>((ms, i) => ({ key: `ocr.w${ms}`, label: `jobs done by the ${ms} ms worker`, unit: 'jobs', value: v.perWorker[i] ?? null, better: 'none', digits: 0 })),
    { key: 'ocr.processed', label: 'distinct jobs done', unit: 'jobs', value: v.processed, better: 'none', digits: 0 },
    { key: 'ocr.turnaround', label: 'worker idle per job ms (PUBACK -> next job, mean)', unit: 'ms', value: v.turnaround, better: 'lower', digits: 2 },
    { key: 'ocr.cpu', label: 'broker CPU µs/job (consuming)', unit: 'µs', value: v.cpuPerJob, better: 'lower', digits: 0 },
    { key: 'ocr.dups', label: 'jobs done twice (diag)', unit: 'jobs', value: v.dups, better: 'none', digits: 0 },
    { key: 'ocr.publishMs', label: 'publish 2,000 jobs ms (diag)', unit: 'ms', value: v.publishMs, better: 'none', digits: 0 },
  ];
}

async function scenarioOcr(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { peer, quick, log } = ctx;
  const jobs = quick ? OCR_JOBS / 10 : OCR_JOBS;
  const ideal = jobs / OCR_WORKER_MS.reduce((a, ms) => a + 1 / ms, 0);
  const empty = { completion: null, ideal, processed: null, dups: null, perWorker: [], publishMs: null, turnaround: null, cpuPerJob: null };
  if (peer.name !== 'wharf' && !(await sharedSubscriptionsWork(peer.port))) return notApplicable(ocrMetrics(empty), NO_SHARED_SUBS);
  const notes: string[] = [];
  const clients: (LoadClient | undefined)[] = [];
  const workerIds = OCR_WORKER_MS.map((ms) => `bench-ocr-worker-${ms}ms`);
  try {
    if (peer.name !== 'wharf') {
      for (const id of workerIds) {
        const g = await createPersistentSubscriber(peer.port, id, `$share/g/${OCR_TOPIC}`);
        if (g !== 1) notes.push(`ocr: ${id} granted QoS ${g}`);
      }
    }
    // Publish every job and wait for every PUBACK before any worker consumes.
    const pub = await LoadClient.connect({ port: peer.port, clientId: 'bench-ocr-pub', protocolVersion: 4, maxInflight: 100 });
    clients.push(pub);
    const tpl = new PublishTemplate(OCR_TOPIC, 256, 1, 4);
    const tp0 = performance.now();
    await Promise.all(
      Array.from({ length: jobs }, (_, j) =>
        pub.publishWith(tpl, (buf, po) => {
          buf[po] = 1;
          buf.writeUInt32LE(j, po + 1);
        }),
      ),
    );
    const publishMs = performance.now() - tp0;
    await pub.end(1000);
    await sleep(300);

    const done = new Uint16Array(jobs);
    const perWorker = OCR_WORKER_MS.map(() => 0);
    const busyMs = OCR_WORKER_MS.map(() => 0);
    /** time each worker sat with nothing to do between jobs (PUBACK sent -> next job arrived): the broker's turnaround */
    const waitMs = OCR_WORKER_MS.map(() => 0);
    const waits = OCR_WORKER_MS.map(() => 0);
    const firstJobMs: (number | null)[] = OCR_WORKER_MS.map(() => null);
    let unique = 0;
    let dups = 0;
    let foreign = 0;
    let lastDone = -1;
    let lastProgress = performance.now();
    const mon = startMonitor(peer);
    const mono0 = monoUs();
    const t0 = performance.now();
    const workers: (LoadClient | null)[] = OCR_WORKER_MS.map(() => null);
    const start = (wi: number) => {
      const ms = OCR_WORKER_MS[wi]!;
      const queue: { job: number; mid: number }[] = [];
      let busy = false;
      let idleSince = -1;
      const next = () => {
        const j = queue.shift();
        if (j === undefined) {
          busy = false;
          idleSince = performance.now();
          return;
        }
        busy = true;
        const s = performance.now();
        setTimeout(() => {
          const now = performance.now();
          busyMs[wi]! += now - s;
          const w = workers[wi];
          if (w && !w.isClosed) w.ack(j.mid);
          perWorker[wi]!++;
          if (j.job < jobs) {
            if (done[j.job]!++ === 0) {
              unique++;
              lastDone = now;
            } else dups++;
          }
          lastProgress = now;
          next();
        }, ms);
      };
      return (payload: Buffer, _topic: string, _qos: number, mid: number) => {
        if (payload.length < 5 || payload[0] !== 1) {
          foreign++;
          return;
        }
        queue.push({ job: payload.readUInt32LE(1), mid });
        if (!busy) {
          const now = performance.now();
          if (firstJobMs[wi] === null) firstJobMs[wi] = now - t0;
          else if (idleSince >= 0 && unique < jobs) {
            waitMs[wi]! += now - idleSince;
            waits[wi]!++;
          }
          next();
        }
      };
    };
    await Promise.all(
      OCR_WORKER_MS.map(async (_ms, wi) => {
        const w = await LoadClient.connect({
          port: peer.port,
          clientId: workerIds[wi]!,
          clean: peer.name === 'wharf',
          protocolVersion: 4,
          manualAck: true,
          onPublish: start(wi),
        });
        workers[wi] = w;
        clients.push(w);
        if (peer.name === 'wharf') {
          const g = await w.subscribe([{ topic: `$q/${OCR_WHARF_FILTER}`, qos: 1 }]);
          if (g[0] !== 1) notes.push(`ocr: ${workerIds[wi]} granted QoS ${g[0]}`);
        }
      }),
    );
    let timedOut = false;
    let error: string | null = null;
    for (;;) {
      await sleep(20);
      const now = performance.now();
      if (unique >= jobs) break;
      if (now - lastProgress > 5000) {
        error = `no job done for 5 s (${unique}/${jobs} done)`;
        break;
      }
      if (workers.some((w) => w?.isClosed)) {
        error = 'a worker connection was closed by the broker';
        break;
      }
      if (now - t0 > 60_000) {
        timedOut = true;
        break;
      }
    }
    const completion = unique > 0 ? lastDone - t0 : null;
    const m = mon.stop();
    log(`${peer.name}: CLOCK_MONOTONIC µs window of the workers (for cpuprofile-top.js --window): ${mono0},${monoUs()}`);
    const meanJobMs = OCR_WORKER_MS.map((_, i) => (perWorker[i]! > 0 ? busyMs[i]! / perWorker[i]! : null));
    const idealMeasured = meanJobMs.every((x) => x !== null) ? jobs / meanJobMs.reduce<number>((a, x) => a + 1 / x!, 0) : null;
    log(
      `${peer.name}: ocr: ${unique}/${jobs} in ${completion?.toFixed(0)} ms, per worker ${perWorker.join(' / ')}, mean job ms ${meanJobMs.map((x) => x?.toFixed(2)).join(' / ')}, ideal ${ideal.toFixed(0)} ms (${idealMeasured?.toFixed(0)} ms with the measured job times)`,
    );
    if (error) notes.push(`ocr: ${error}`);
    if (timedOut) notes.push(`ocr: hit the 60 s bound (${unique}/${jobs} done)`);
    if (dups > 0) notes.push(`ocr: ${dups} jobs done more than once`);
    const meanWait = OCR_WORKER_MS.map((_, i) => (waits[i]! > 0 ? waitMs[i]! / waits[i]! : null));
    notes.push(
      `ocr: first job after ${firstJobMs.map((x) => x?.toFixed(0) ?? '-').join(' / ')} ms; workers idle between jobs (PUBACK -> next job) ${waitMs.map((x) => x.toFixed(0)).join(' / ')} ms in total, ${meanWait.map((x) => x?.toFixed(2) ?? '-').join(' / ')} ms per wait`,
    );
    notes.push(
      `ocr: per worker (2/4/6/8 ms) ${perWorker.join(' / ')}; measured job times ${meanJobMs.map((x) => x?.toFixed(2)).join(' / ')} ms (timer overshoot), ideal ${ideal.toFixed(0)} ms nominal, ${idealMeasured?.toFixed(0) ?? 'n/a'} ms with the measured job times`,
    );
    return {
      metrics: ocrMetrics({
        completion,
        ideal,
        processed: unique,
        dups,
        perWorker,
        publishMs,
        turnaround: waits.reduce((a, b) => a + b, 0) > 0 ? waitMs.reduce((a, b) => a + b, 0) / waits.reduce((a, b) => a + b, 0) : null,
        cpuPerJob: unique > 0 ? (m.brokerCpuS * 1e6) / unique : null,
      }),
      notes,
      raw: {
        jobs,
        workerMs: OCR_WORKER_MS,
        subscription: peer.name === 'wharf' ? `$q/${OCR_WHARF_FILTER}` : `$share/g/${OCR_TOPIC}`,
        completionMs: completion,
        idealMs: ideal,
        idealMeasuredMs: idealMeasured,
        meanJobMs,
        firstJobMs,
        idleBetweenJobsMs: waitMs,
        idleWaits: waits,
        monitor: m,
        perWorker,
        unique,
        duplicates: dups,
        foreign,
        publishMs,
        timedOut,
        error,
      },
    };
  } finally {
    await closeAll(clients);
  }
}

export const SCENARIOS: readonly ScenarioDef[] = [
  { id: 1, name: 'QoS 0 fan-in (8 pub -> 1 sub, 64 B)', run: scenarioFanIn },
  { id: 2, name: 'QoS 1 (1 pub -> 1 sub, 64 in flight, 256 B)', run: scenarioQos1 },
  { id: 3, name: 'Idle connections (MQTT 3.1.1, 1 sub each)', run: scenarioIdle },
  {
    id: 4,
    name: `Durable backlog (${DURABLE_PUBLISHERS} pub × ${DURABLE_INFLIGHT} in flight -> 1 offline QoS 1 sub, 256 B)`,
    run: scenarioDurable,
    start: { durable: true, traceSyncs: true },
  },
  { id: 5, name: `Crash loss (SIGKILL mid-publish, ${DURABLE_PUBLISHERS} × ${DURABLE_INFLIGHT} in flight)`, run: scenarioCrash, start: { durable: true } },
  {
    id: 6,
    name: `Queue throughput (${QUEUE_PUBLISHERS} QoS 1 pub × ${QUEUE_WINDOW} -> queue -> ${QUEUE_CONSUMERS} consumers)`,
    run: scenarioQueueThroughput,
    start: {
      wharfYaml: wharfQueueYaml(QUEUE_FILTER, QUEUE_CONSUMER_INFLIGHT),
      mosquittoConf: mosquittoQueueConf(QUEUE_CONSUMER_INFLIGHT),
      sampleHeap: true,
    },
  },
  {
    id: 7,
    name: `Queue backlog (1M × 256 B, no consumer, then ${QUEUE_CONSUMERS} consumers drain)`,
    run: scenarioQueueBacklog,
    start: {
      wharfYaml: wharfQueueYaml(QUEUE_FILTER, QUEUE_CONSUMER_INFLIGHT),
      mosquittoConf: mosquittoQueueConf(QUEUE_CONSUMER_INFLIGHT),
      sampleHeap: true,
    },
  },
  {
    id: 8,
    name: `Work distribution (OCR: ${OCR_JOBS} jobs, workers ${OCR_WORKER_MS.join('/')} ms, 1 in flight)`,
    run: scenarioOcr,
    start: { wharfYaml: wharfQueueYaml(OCR_WHARF_FILTER, 1), mosquittoConf: mosquittoQueueConf(1), sampleHeap: true },
  },
  {
    id: 13,
    name: 'Durable window (QoS 1, 256 B: 1 pub × 64, 16 pub × 16, 1 pub × 1; session and queue) vs the fdatasync limit',
    run: scenarioDurableWindow,
    start: DURABLE_WINDOW_START,
  },
];
