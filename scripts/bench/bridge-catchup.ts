// Bridge catch-up (issue 16): N × SIZE-byte QoS 1 messages are published into a gateway while its link to the
// upstream is down (a TCP proxy refusing), then the link returns: time until the upstream has all of them, lost,
// duplicates, bytes the gateway wrote per message while the backlog built (/proc/<pid>/io write_bytes), and the
// CPU each process spent per message during the catch-up. Peers, each against a fresh upstream Mosquitto:
//   ceiling   an ideal gateway (bridge-catchup-ceiling.ts): the backlog as finished frames in memory, the same
//             window, a raw socket: what the upstream, the path and the counter allow on this machine;
//   wharf     a `wharf start` process with a bridge (npm start's node flags);
//   mosquitto Mosquitto 2.0 as a bridge (persistence true, cleansession false, max_queued_messages/bytes 0).
//
//   node dist/scripts/bench/bridge-catchup.js [--messages 100000] [--size 256] [--peers ceiling,wharf,mosquitto]
//     [--runs 1] [--inflight 64] [--crash true] [--upstream-conf 'line;line'] [--json FILE]
// --crash true: the gateway is killed with SIGKILL once the backlog is built and restarted before the link returns.
// --upstream-conf: extra lines for the upstream's mosquitto.conf (e.g. 'set_tcp_nodelay true').

import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { readFlags } from './cli-args.js';
import { readWriteBytes } from './peers.js';
import { writeJsonRecord } from './standalone.js';
import { TcpProxy } from '../../test/helpers/tcp-proxy.js';
import type { CounterReport } from './bridge-catchup-counter.js';
import * as P from './bridge-catchup-processes.js';

const USAGE =
  'usage: node dist/scripts/bench/bridge-catchup.js [--messages N] [--size BYTES] [--peers ceiling,wharf,mosquitto] [--runs N] [--inflight N] [--crash true|false] [--upstream-conf LINES] [--json FILE]';
const PEERS = ['ceiling', 'wharf', 'mosquitto'] as const;
type Peer = (typeof PEERS)[number];
/** Bounds of each phase: a run that stalls reports what it got by then instead of hanging. */
const PUBLISH_LIMIT_MS = 300_000;
const DRAIN_LIMIT_MS = 300_000;

let messages = 100_000;
let size = 256;
let peers: Peer[] = [...PEERS];
let runs = 1;
/** Messages in flight upstream, the same for every peer (Wharf `outbox.inflight`, Mosquitto `max_inflight_messages`). */
let inflight = 64;
let crash = false;
let upstreamConf: string[] = [];
let jsonPath: string | undefined;
readFlags(process.argv.slice(2), USAGE, (flag, v) => {
  if (flag === '--messages') messages = v.int(1, 10_000_000);
  else if (flag === '--size') size = v.int(16, 1024 * 1024);
  else if (flag === '--peers') peers = v.oneOrMoreOf(PEERS);
  else if (flag === '--runs') runs = v.int(1, 20);
  else if (flag === '--inflight') inflight = v.int(1, 65535);
  else if (flag === '--crash') crash = v.text() === 'true';
  else if (flag === '--upstream-conf') upstreamConf = v.text().split(';').map((l) => l.trim()).filter(Boolean);
  else if (flag === '--json') jsonPath = v.text();
  else return false;
  return true;
});

/** Publishes `n` QoS 1 messages of `size` bytes (sequence number first) with a window below the gateway's Receive Maximum. */
async function publishBacklog(port: number, n: number): Promise<void> {
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, reconnectPeriod: 0, clientId: `bench-pub-${process.pid}` });
  const connack = await new Promise<mqtt.IConnackPacket>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  const window = Math.min(500, connack.properties?.receiveMaximum ?? 500);
  const filler = Buffer.alloc(size, 0x61);
  let next = 0;
  const started = Date.now();
  await new Promise<void>((resolve, reject) => {
    let outstanding = 0;
    const pump = (): void => {
      while (outstanding < window && next < n) {
        const payload = Buffer.from(filler);
        payload.write(String(next).padStart(9, '0'));
        next++;
        outstanding++;
        client.publish('bench/x', payload, { qos: 1 }, (err) => {
          if (err) return reject(err);
          outstanding--;
          if (next >= n && outstanding === 0) resolve();
          else pump();
        });
      }
      if (Date.now() - started > PUBLISH_LIMIT_MS) reject(new Error('publishing took too long'));
    };
    pump();
  });
  await client.endAsync();
}

function askReport(counter: ChildProcess, type: 'report' | 'stop'): Promise<CounterReport> {
  return new Promise((resolve) => {
    const on = (m: { type: string; report?: CounterReport }) => {
      if (m.type !== 'report') return;
      counter.off('message', on);
      resolve(m.report!);
    };
    counter.on('message', on);
    counter.send({ type });
  });
}

interface Result {
  peer: Peer;
  run: number;
  /** 1-minute load average when this peer's run started. */
  load: number;
  publishSeconds: number;
  catchUpSeconds: number;
  /** From the link's return to the first message upstream (reconnect delay and connection set-up). */
  firstSeconds: number;
  /** From the first to the last message upstream. */
  drainSeconds: number;
  lost: number;
  duplicates: number;
  /** NaN for the ceiling (it has no disk). */
  writtenBytesPerMessage: number;
  /** CPU µs per message during the catch-up: upstream, gateway, counter, harness (proxy). */
  cpuUs: { upstream: number; gateway: number; counter: number; harness: number };
  /** The gateway's read- and write-type system calls per message during the catch-up (socket and disk). */
  syscallsPerMessage: { reads: number; writes: number };
}

async function runPeer(peer: Peer, run: number): Promise<Result> {
  const load = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), `bench-bridge-${peer}-`));
  const upstream = await P.startUpstream(dir, upstreamConf);
  const proxy = new TcpProxy(upstream.port);
  let counter: ChildProcess | undefined;
  let gateway: P.Started | undefined;
  let ceiling: ChildProcess | undefined;
  try {
    await proxy.start();
    counter = await P.forkReady(P.COUNTER_MAIN, [String(upstream.port), String(messages)]);
    let publishSeconds = 0;
    let written = NaN;
    if (peer === 'ceiling') {
      ceiling = await P.forkReady(P.CEILING_MAIN, [String(proxy.port), String(messages), String(size), String(inflight)]);
    } else {
      const start = peer === 'wharf' ? P.startWharf : P.startMosquittoBridge;
      // The gateway's first connection makes its persistent session upstream; then the outage starts.
      gateway = await start(dir, proxy.port, inflight);
      for (let i = 0; i < 250 && proxy.accepted === 0; i++) await P.sleep(20);
      await P.sleep(500);
      proxy.setMode('refuse');
      const writtenBefore = readWriteBytes(gateway.child.pid!);
      const publishStart = Date.now();
      await publishBacklog(gateway.port, messages);
      publishSeconds = (Date.now() - publishStart) / 1000;
      await P.sleep(1000); // the last commit window, a snapshot in progress
      written = readWriteBytes(gateway.child.pid!) - writtenBefore;
      if (crash) {
        const gone = new Promise<void>((r) => gateway!.child.once('close', () => r()));
        gateway.child.kill('SIGKILL');
        await gone;
        gateway = await start(dir, proxy.port, inflight, gateway.port);
      }
    }
    const gatewayPid = (gateway?.child ?? ceiling!).pid!;
    const cpuOf = () => ({ upstream: P.treeCpuSeconds(upstream.child.pid!), gateway: P.treeCpuSeconds(gatewayPid), counter: P.treeCpuSeconds(counter!.pid!) });
    const cpuBefore = cpuOf();
    const syscallsBefore = P.readSyscalls(gatewayPid);
    const harnessBefore = process.cpuUsage();
    const start = Date.now();
    const monoStart = process.hrtime.bigint() / 1000n;
    proxy.setMode('forward');
    ceiling?.send({ type: 'go' });
    let report = await askReport(counter, 'report');
    while (report.unique < messages && Date.now() - start < DRAIN_LIMIT_MS) {
      await P.sleep(20);
      report = await askReport(counter, 'report');
      // Nothing at all for a long while: whatever did not come will not.
      if (Date.now() - start > 30_000 && report.unique === 0) break;
    }
    const catchUpSeconds = ((report.unique >= messages ? report.lastAt : Date.now()) - start) / 1000;
    const cpuAfter = cpuOf();
    const syscallsAfter = P.readSyscalls(gatewayPid);
    const harness = process.cpuUsage(harnessBefore);
    // For cpuprofile-top.js --window (a --cpu-prof gateway's samples use the same CLOCK_MONOTONIC).
    console.error(`${peer}: catch-up window (monotonic µs): ${monoStart},${process.hrtime.bigint() / 1000n}`);
    await P.sleep(1000); // late duplicates
    report = await askReport(counter, 'stop');
    const perMessage = (seconds: number) => (seconds * 1e6) / messages;
    return {
      peer,
      run,
      load,
      publishSeconds,
      catchUpSeconds,
      firstSeconds: report.firstAt === 0 ? 0 : (report.firstAt - start) / 1000,
      drainSeconds: report.firstAt === 0 ? 0 : (report.lastAt - report.firstAt) / 1000,
      lost: messages - report.unique,
      duplicates: report.duplicates,
      writtenBytesPerMessage: written / messages,
      cpuUs: {
        upstream: perMessage(cpuAfter.upstream - cpuBefore.upstream),
        gateway: perMessage(cpuAfter.gateway - cpuBefore.gateway),
        counter: perMessage(cpuAfter.counter - cpuBefore.counter),
        harness: (harness.user + harness.system) / messages,
      },
      syscallsPerMessage: { reads: (syscallsAfter.reads - syscallsBefore.reads) / messages, writes: (syscallsAfter.writes - syscallsBefore.writes) / messages },
    };
  } finally {
    if (gateway) await P.stopProcess(gateway.child);
    if (ceiling) await P.stopProcess(ceiling);
    if (counter) await P.stopProcess(counter);
    await proxy.stop();
    await P.stopProcess(upstream.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 === 1 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Per peer, the median of every figure across runs. */
function medians(results: Result[], peer: Peer): Result | undefined {
  const rs = results.filter((r) => r.peer === peer);
  if (rs.length === 0) return undefined;
  const m = (f: (r: Result) => number) => median(rs.map(f));
  return {
    peer,
    run: 0,
    load: m((r) => r.load),
    publishSeconds: m((r) => r.publishSeconds),
    catchUpSeconds: m((r) => r.catchUpSeconds),
    firstSeconds: m((r) => r.firstSeconds),
    drainSeconds: m((r) => r.drainSeconds),
    lost: m((r) => r.lost),
    duplicates: m((r) => r.duplicates),
    writtenBytesPerMessage: m((r) => r.writtenBytesPerMessage),
    cpuUs: { upstream: m((r) => r.cpuUs.upstream), gateway: m((r) => r.cpuUs.gateway), counter: m((r) => r.cpuUs.counter), harness: m((r) => r.cpuUs.harness) },
    syscallsPerMessage: { reads: m((r) => r.syscallsPerMessage.reads), writes: m((r) => r.syscallsPerMessage.writes) },
  };
}

const pad = (s: string, n: number) => s.padStart(n);
const fixed = (x: number, d: number) => (Number.isNaN(x) ? '—' : x.toFixed(d));
const HEADER =
  `${'peer'.padEnd(10)}${pad('run', 4)}${pad('load', 6)}${pad('publish s', 10)}${pad('catch-up s', 11)}${pad('msg/s', 8)}${pad('1st s', 7)}` +
  `${pad('drain msg/s', 12)}${pad('lost', 7)}${pad('dups', 6)}${pad('B wr/msg', 9)}${pad('µs/msg: up', 11)}${pad('gw', 6)}${pad('ctr', 6)}${pad('proxy', 6)}${pad('gw rd/wr per msg', 17)}`;
function row(r: Result): string {
  const arrived = messages - r.lost;
  const rate = arrived === 0 ? 0 : arrived / r.catchUpSeconds;
  const drainRate = arrived === 0 || r.drainSeconds === 0 ? 0 : arrived / r.drainSeconds;
  return (
    `${r.peer.padEnd(10)}${pad(r.run === 0 ? 'med' : String(r.run), 4)}${pad(r.load.toFixed(2), 6)}${pad(r.peer === 'ceiling' ? '—' : r.publishSeconds.toFixed(1), 10)}` +
    `${pad(r.catchUpSeconds.toFixed(2), 11)}${pad(rate.toFixed(0), 8)}${pad(r.firstSeconds.toFixed(2), 7)}${pad(drainRate.toFixed(0), 12)}${pad(String(r.lost), 7)}` +
    `${pad(String(r.duplicates), 6)}${pad(fixed(r.writtenBytesPerMessage, 0), 9)}${pad(r.cpuUs.upstream.toFixed(1), 11)}${pad(r.cpuUs.gateway.toFixed(1), 6)}` +
    `${pad(r.cpuUs.counter.toFixed(1), 6)}${pad(r.cpuUs.harness.toFixed(1), 6)}` +
    `${pad(`${r.syscallsPerMessage.reads.toFixed(3)}/${r.syscallsPerMessage.writes.toFixed(3)}`, 17)}`
  );
}

const results: Result[] = [];
for (let run = 1; run <= runs; run++) {
  for (const peer of peers) {
    console.error(`bridge-catchup: run ${run}/${runs}: ${peer}: ${messages} × ${size} B QoS 1 ...`);
    results.push(await runPeer(peer, run));
    console.error(row(results[results.length - 1]!));
  }
}
console.log(
  `\nBridge catch-up: ${messages} × ${size} B QoS 1 queued during an outage${crash ? ', gateway killed (SIGKILL) and restarted before the link returns' : ''}, ` +
    `inflight ${inflight}, same upstream (Mosquitto, persistence off${upstreamConf.length > 0 ? `, ${upstreamConf.join(', ')}` : ''}), ${runs} run(s)\n`,
);
console.log(HEADER);
for (const r of results) console.log(row(r));
const med = new Map<Peer, Result>();
for (const peer of peers) {
  const m = medians(results, peer);
  if (m === undefined) continue;
  med.set(peer, m);
  if (runs > 1) console.log(row(m));
}
console.log(
  "catch-up: link's return until all arrived; 1st: until the first arrived; drain: first to last arrival; B wr/msg: written by the gateway while the backlog built;\n" +
    'µs/msg: CPU (user+system) per message during the catch-up of the upstream, the gateway (ceiling: the ideal sender), the counter, and the harness (proxy);\n' +
    "gw rd/wr per msg: the gateway's read- and write-type system calls (sockets and disk) per message during the catch-up",
);
const w = med.get('wharf');
const m = med.get('mosquitto');
const c = med.get('ceiling');
if (w && c) console.log(`\nwharf / ceiling catch-up time: ${(w.catchUpSeconds / c.catchUpSeconds).toFixed(2)}× (medians)`);
if (w && m && m.lost > 0) console.log(`mosquitto lost ${m.lost} of ${messages} (wharf ${w.lost}): no catch-up time to compare`);
else if (w && m) console.log(`mosquitto / wharf catch-up time: ${(m.catchUpSeconds / w.catchUpSeconds).toFixed(2)}× (drain ${(m.drainSeconds / w.drainSeconds).toFixed(2)}×) (medians)`);
if (m && c && m.lost === 0) console.log(`mosquitto / ceiling catch-up time: ${(m.catchUpSeconds / c.catchUpSeconds).toFixed(2)}× : no gateway can be more than this much faster than Mosquitto's bridge here`);
console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
writeJsonRecord(jsonPath, { bench: 'bridge-catchup', messages, size, crash, inflight, runs, upstreamConf, loadAverage: loadavg(), results, medians: [...med.values()] });
