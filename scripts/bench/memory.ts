// Memory benchmark (issue 13): broker RSS side by side for Wharf, Mosquitto and Aedes, a fresh broker per
// measurement, medians of several runs, ratios to the peers.
//
//   npm run build && node dist/scripts/bench/memory.js [--runs 3] [--rows idle,idle1k,...] [--only wharf,...] [--board NAME] [--json FILE]
//
// --board runs Wharf with `board: NAME` and that profile's node flags (boards/NAME.json `node`) on its command line,
// as the systemd unit gives them (README "Memory"): VmRSS is then the broker's own, without the parent process
// `wharf start` would otherwise start the broker from.
//
// Rows: idle; 1,000 and 10,000 idle clients (CONNECT + SUBSCRIBE, keepalive 60 s); peak during the QoS 1 stream
// (scenario 2 of run.ts); peak during the durable backlog (scenario 4, without strace); peak during and 10 s after a
// storm of 50,000 short hostile connections (memory-clients.ts). RSS is VmRSS of the broker process.

import os from 'node:os';
import { exitWithUsage, readFlags } from './cli-args.js';
import { openIdleClients, runStorm } from './memory-clients.js';
import { ALL_PEERS, WHARF_DURABLE, benchEnvironmentMode, peerUnavailableReason, startPeer, type PeerName, type RunningPeer, type StartOptions } from './peers.js';
import { SCENARIOS } from './scenarios.js';
import { loadBoard, nodeFlagsOf } from '../../src/config/boards.js';
import { COMMON_NODE_FLAGS, EMBEDDED_NODE_FLAGS } from '../../src/cli/node-flags.js';
import { runStandalone, writeJsonRecord } from './standalone.js';

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const ROWS = ['idle', 'idle1k', 'idle10k', 'stream', 'backlog', 'storm'] as const;
type Row = (typeof ROWS)[number];

const STORM_CONNECTIONS = 50_000;
const STORM_LIMIT_MS = 120_000;
const AFTER_STORM_MS = 10_000;
/** Time a fresh broker gets before its idle RSS is read. */
const SETTLE_MS = 3_000;

/** Targets of issue 13 for Wharf (MiB, or a ratio to Wharf's idle RSS in the same storm run). */
const TARGETS: Record<string, { op: '<='; value: number; unit: 'MiB' | '× idle' }> = {
  idle: { op: '<=', value: 50, unit: 'MiB' },
  idle1k: { op: '<=', value: 70, unit: 'MiB' },
  idle10k: { op: '<=', value: 120, unit: 'MiB' },
  stream: { op: '<=', value: 90, unit: 'MiB' },
  stormPeakRatio: { op: '<=', value: 1.5, unit: '× idle' },
  stormAfterRatio: { op: '<=', value: 1.2, unit: '× idle' },
};

interface Args {
  runs: number;
  rows: Row[];
  peers: PeerName[];
  board: string | undefined;
  json: string | undefined;
}

const USAGE =
  'usage: node dist/scripts/bench/memory.js [--runs R] [--rows idle,idle1k,idle10k,stream,backlog,storm] [--only wharf,aedes,mosquitto] [--board NAME] [--json FILE]\n' +
  '  --runs  fresh brokers per row and peer; the table shows medians (default 3)\n' +
  '  --rows  measurements to make (default all)\n' +
  '  --only  peers (default all that can run here)\n' +
  '  --board Wharf with this board profile and its node flags (default none: the embedded defaults)\n' +
  '  --json  also write the results as JSON to FILE\n' +
  'Environment: WHARF_BENCH_ENV=service (default: what the systemd unit gives every broker) or shell (this one\'s)';

function parseArgs(argv: string[]): Args {
  const a: Args = { runs: 3, rows: [...ROWS], peers: [...ALL_PEERS], board: undefined, json: undefined };
  readFlags(argv, USAGE, (flag, value) => {
    if (flag === '--runs') a.runs = value.int(1);
    else if (flag === '--rows') a.rows = value.oneOrMoreOf(ROWS);
    else if (flag === '--only') a.peers = value.oneOrMoreOf(ALL_PEERS);
    else if (flag === '--board') a.board = value.text();
    else if (flag === '--json') a.json = value.text();
    else return false;
    return true;
  });
  if (a.board !== undefined) {
    const errors: string[] = [];
    const profile = loadBoard(a.board, errors);
    if (profile === undefined) exitWithUsage(USAGE, errors.join('; '));
    // peers.ts puts these before the CLI on the Wharf child's command line.
    process.env.WHARF_BENCH_NODE_FLAGS = [process.env.WHARF_BENCH_NODE_FLAGS ?? '', ...nodeFlagsOf(profile.node), ...COMMON_NODE_FLAGS].join(' ').trim();
  }
  return a;
}

/** Median of five VmRSS reads 200 ms apart. */
async function steadyRss(peer: RunningPeer): Promise<number> {
  const reads: number[] = [];
  for (let i = 0; i < 5; i++) {
    reads.push(peer.rssBytes());
    await sleep(200);
  }
  return median(reads);
}

/** Highest VmRSS while `work` runs, sampled every 100 ms. */
async function peakDuring<T>(peer: RunningPeer, work: () => Promise<T>): Promise<{ peak: number; result: T }> {
  let peak = peer.rssBytes();
  const iv = setInterval(() => (peak = Math.max(peak, peer.rssBytes())), 100);
  try {
    const result = await work();
    return { peak: Math.max(peak, peer.rssBytes()), result };
  } finally {
    clearInterval(iv);
  }
}

/** One measurement: values in MiB (or ratios) keyed by name, plus notes. */
type Measured = { values: Record<string, number>; notes: string[] };

async function measureRow(row: Row, peer: RunningPeer): Promise<Measured> {
  const notes: string[] = [];
  await sleep(SETTLE_MS);
  const idle = await steadyRss(peer);
  const values: Record<string, number> = {};
  switch (row) {
    case 'idle':
      values.idle = idle / MiB;
      // Anonymous pages (V8's heap, malloc) versus file-backed ones (the node binary's code and data that ran,
      // libraries, LMDB's map): a different cure each (issue 13).
      values.idleAnon = peer.rssAnonBytes() / MiB;
      values.idleFile = values.idle - values.idleAnon;
      break;
    case 'idle1k':
    case 'idle10k': {
      const n = row === 'idle1k' ? 1_000 : 10_000;
      const clients = await openIdleClients(peer.port, n, `mem-${row}`, Date.now() + 120_000);
      await sleep(2_000);
      values[row] = (await steadyRss(peer)) / MiB;
      if (clients.alive() < n) notes.push(`${row}: ${clients.alive()}/${n} clients alive (${clients.errors.join('; ')})`);
      await clients.close();
      await sleep(AFTER_STORM_MS);
      values[`${row}After`] = (await steadyRss(peer)) / MiB;
      break;
    }
    case 'stream':
    case 'backlog': {
      const def = SCENARIOS.find((s) => s.id === (row === 'stream' ? 2 : 4))!;
      const r = await def.run({ peer, quick: false, protocolVersion: 4, log: () => undefined, crashAt: [] });
      const key = row === 'stream' ? 'qos1.peakRss' : 'durable.peakRss';
      values[row] = r.metrics.find((m) => m.key === key)?.value ?? NaN;
      if (row === 'stream') values.streamRate = r.metrics.find((m) => m.key === 'qos1.rate')?.value ?? NaN;
      notes.push(...r.notes.map((n) => `${row}: ${n}`));
      break;
    }
    case 'storm': {
      values.stormIdle = idle / MiB;
      const { peak, result } = await peakDuring(peer, () => runStorm(peer.port, STORM_CONNECTIONS, Date.now() + STORM_LIMIT_MS));
      await sleep(AFTER_STORM_MS);
      const after = peer.rssBytes();
      values.stormPeak = peak / MiB;
      values.stormAfter = after / MiB;
      values.stormPeakRatio = peak / idle;
      values.stormAfterRatio = after / idle;
      values.stormConnections = result.connections;
      values.stormMalformed = result.malformedPackets;
      values.stormS = result.durationS;
      if (result.timedOut) notes.push(`storm: only ${result.connections} connections within ${STORM_LIMIT_MS / 1000} s`);
      if (peer.exited()) notes.push('storm: the broker exited');
      break;
    }
  }
  return { values, notes };
}

function startOptions(name: PeerName, row: Row, board: string | undefined): StartOptions {
  if (name !== 'wharf' || board === undefined) return { durable: row === 'backlog' };
  // The board's own commit settings (the durable configuration's 5 ms would clash with its commit rate bound);
  // the queue limit of the durable configuration, so that the backlog is held, and MQTT's default Receive Maximum,
  // so that scenario 4's publishers may have their 500 messages in flight (rpi-zero-2w allows 256).
  const backlog = ['mqtt:', `  maxQueuedMessages: ${WHARF_DURABLE.maxQueuedMessages}`, '  receiveMaximum: 65535'];
  return { wharfYaml: [`board: ${board}`, ...(row === 'backlog' ? backlog : [])] };
}

function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const fmt = (x: number | undefined, digits = 1) => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits));

/** Display rows: [value key, label, digits]. */
const DISPLAY: Array<[string, string, number]> = [
  ['idle', 'idle RSS MiB', 1],
  ['idleAnon', '  of which anonymous (heap, malloc) MiB', 1],
  ['idleFile', '  of which file-backed (node binary, libraries) MiB', 1],
  ['idle1k', '1,000 idle clients RSS MiB', 1],
  ['idle1kAfter', '  10 s after they closed', 1],
  ['idle10k', '10,000 idle clients RSS MiB', 1],
  ['idle10kAfter', '  10 s after they closed', 1],
  ['stream', 'QoS 1 stream peak RSS MiB', 1],
  ['streamRate', '  QoS 1 stream msg/s', 0],
  ['backlog', 'durable backlog peak RSS MiB', 1],
  ['stormIdle', 'storm: idle before MiB', 1],
  ['stormPeak', 'storm: peak RSS MiB', 1],
  ['stormAfter', 'storm: 10 s after MiB', 1],
  ['stormPeakRatio', 'storm: peak / idle', 2],
  ['stormAfterRatio', 'storm: 10 s after / idle', 2],
  ['stormMalformed', '  storm: malformed packets sent', 0],
  ['stormS', '  storm: duration s', 1],
];

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const peers = args.peers.filter((p) => {
    const why = peerUnavailableReason(p);
    if (why) console.error(`skipping ${p}: ${why}`);
    return why === null;
  });
  if (peers.length === 0) exitWithUsage(USAGE, 'no peer can run here');
  const wharfAs = args.board === undefined ? `embedded defaults, node flags ${process.env.WHARF_BENCH_NODE_FLAGS ?? EMBEDDED_NODE_FLAGS.join(' ')}` : `board ${args.board}, node flags ${process.env.WHARF_BENCH_NODE_FLAGS}`;
  // Which environment the brokers get (peers.ts brokerEnvironment): the figures differ by ~1.8 MB per node process
  // when the shell sets NODE_EXTRA_CA_CERTS, which a gateway's service does not.
  const envMode = benchEnvironmentMode();
  const envShown = envMode === 'service' ? 'service (the systemd unit\'s)' : `shell${process.env.NODE_EXTRA_CA_CERTS ? ', NODE_EXTRA_CA_CERTS set' : ''}`;
  console.log(`memory: rows ${args.rows.join(',')}, peers ${peers.join(',')} (wharf: ${wharfAs}), environment ${envShown}, ${args.runs} run(s); ${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(2)}`);
  const samples = new Map<string, number[]>(); // `${peer}:${key}` -> values over runs
  const notes: string[] = [];
  for (let run = 1; run <= args.runs; run++) {
    for (const row of args.rows) {
      for (const name of peers) {
        const peer = await startPeer(name, startOptions(name, row, args.board));
        try {
          const m = await measureRow(row, peer);
          for (const [k, v] of Object.entries(m.values)) {
            const key = `${name}:${k}`;
            samples.set(key, [...(samples.get(key) ?? []), v]);
          }
          notes.push(...m.notes.map((n) => `run ${run} ${name} ${n}`));
          const shown = Object.entries(m.values).map(([k, v]) => `${k} ${fmt(v, v > 1000 ? 0 : 2)}`);
          console.log(`  run ${run} ${row.padEnd(7)} ${name.padEnd(9)} ${shown.join(', ')}${m.notes.length ? ` (${m.notes.join('; ')})` : ''}`);
        } finally {
          await peer.stop();
        }
      }
    }
  }
  const med = (peer: PeerName, key: string) => (samples.has(`${peer}:${key}`) ? median(samples.get(`${peer}:${key}`)!) : undefined);
  const others = peers.filter((p) => p !== 'wharf');
  const header = [`metric (median of ${args.runs})`, ...peers, ...(peers.includes('wharf') ? others.map((p) => `wharf/${p}`) : []), 'wharf target'];
  console.log(`\n| ${header.join(' | ')} |`);
  console.log(`|---|${header.slice(1).map(() => '---:').join('|')}|`);
  const results: Record<string, Record<string, number | undefined>> = {};
  const targets: Record<string, { value: number | undefined; target: string; met: boolean }> = {};
  for (const [key, label, digits] of DISPLAY) {
    if (!peers.some((p) => samples.has(`${p}:${key}`))) continue;
    results[key] = Object.fromEntries(peers.map((p) => [p, med(p, key)]));
    const w = med('wharf', key);
    const ratios = peers.includes('wharf') ? others.map((p) => { const o = med(p, key); return w !== undefined && o !== undefined ? `${(w / o).toFixed(2)}×` : 'n/a'; }) : [];
    const t = TARGETS[key];
    let target = '';
    if (t && w !== undefined) {
      const met = w <= t.value;
      targets[key] = { value: w, target: `${t.op} ${t.value} ${t.unit}`, met };
      target = `${t.op} ${t.value} ${t.unit}: ${met ? 'met' : 'MISSED'}`;
    }
    console.log(`| ${label} | ${peers.map((p) => fmt(med(p, key), digits)).join(' | ')} | ${[...ratios, target].join(' | ')} |`);
  }
  console.log('(RSS is VmRSS of the broker process, MiB; ratios below 1 mean Wharf uses less)');
  if (notes.length > 0) console.log(`notes:\n  ${notes.join('\n  ')}`);
  writeJsonRecord(args.json, { args, environment: envMode, results, targets, samples: Object.fromEntries(samples), notes });
}

runStandalone(main);
