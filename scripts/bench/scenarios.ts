// Benchmark scenarios. Each one runs against an already started broker
// (RunningPeer) and returns a list of metrics plus raw details for the JSON.

import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { LoadClient, PublishTemplate, type ProtocolVersion } from './load-client.js';
import type { RunningPeer, StartOptions } from './peers.js';

export type Better = 'higher' | 'lower' | 'none';

export interface Metric {
  key: string;
  label: string;
  unit: string;
  value: number | null;
  better: Better;
  /** decimals for display */
  digits?: number;
  /** Wharf's target from its issue; the runner reports met / missed for Wharf. */
  target?: { op: '>=' | '<='; value: number };
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

/** Busy CPU seconds of the whole machine (all cores) from /proc/stat. */
function machineBusySeconds(): number {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal ...
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return (total - f[3]! - f[4]!) / 100;
  } catch {
    return NaN;
  }
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
  const iv = setInterval(() => {
    peak = Math.max(peak, peer.rssBytes());
  }, 100);
  return {
    stop() {
      clearInterval(iv);
      peak = Math.max(peak, peer.rssBytes());
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
  const count = quick ? 10_000 : 100_000;
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

export const SCENARIOS: readonly ScenarioDef[] = [
  { id: 1, name: 'QoS 0 fan-in (8 pub -> 1 sub, 64 B)', run: scenarioFanIn },
  { id: 2, name: 'QoS 1 (1 pub -> 1 sub, 64 in flight, 256 B)', run: scenarioQos1 },
  { id: 3, name: 'Idle connections (MQTT 3.1.1, 1 sub each)', run: scenarioIdle },
];
