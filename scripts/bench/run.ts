// Benchmark runner: Wharf vs Aedes vs Mosquitto.
//
//   npm run bench -- [--only wharf,aedes] [--scenarios 1,2] [--runs N] [--quick] [--mqtt5] [--crash-at 0.4,0.7 | --crash-rounds N]
//
// For every peer, every selected scenario runs against a fresh broker
// process; with --runs N, N rounds of all peers in turn, and the table shows each metric's median.
// Prints a markdown table and writes .bench-tmp/results-<ts>.json.

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exitWithUsage } from './cli-args.js';
import { ALL_PEERS, DEFAULT_PEERS, REPO_ROOT, peerUnavailableReason, startPeer, straceUnavailableReason, type PeerName, type RunningPeer } from './peers.js';
import { cpuTimes, stealPercent, STEAL_NOTE_PERCENT } from './cpu-times.js';
import { mergeRuns, type Cell } from './run-medians.js';
import { SCENARIOS, type Metric } from './scenarios.js';
import type { ProtocolVersion } from './load-client.js';

interface Args {
  peers: PeerName[];
  scenarios: number[];
  quick: boolean;
  protocolVersion: ProtocolVersion;
  /** scenario 5: kill points (fraction of the messages PUBACKed), one per round; the same for every peer */
  crashAt: number[];
  /** Rounds: each runs every peer's scenarios once, peers in turn, so a phase of the host falls on all of them. */
  runs: number;
}

const DEFAULT_CRASH_ROUNDS = 3;
/** Random kill points in [0.2, 0.8), drawn once per run so that every peer is killed at the same points. */
function randomCrashPoints(n: number): number[] {
  return Array.from({ length: n }, () => Math.round((0.2 + Math.random() * 0.6) * 100) / 100);
}

function usage(msg?: string): never {
  exitWithUsage(
    'usage: node dist/scripts/bench/run.js [--only wharf,aedes,mosquitto,rabbitmq] [--scenarios 1,2,3,4,5,6,7,8,13] [--runs N] [--quick] [--mqtt5] [--crash-at F,F | --crash-rounds N]\n' +
      '  --only          peers to run (default: wharf,aedes,mosquitto; rabbitmq only when named)\n' +
      '  --scenarios     scenario ids (1 = QoS 0 fan-in, 2 = QoS 1 latency, 3 = idle connections RSS,\n' +
      '                  4 = durable backlog, 5 = crash loss, 6 = queue throughput, 7 = queue backlog (1M),\n' +
      '                  8 = work distribution (OCR), 13 = durable window vs the fdatasync limit (issue 13))\n' +
      '  --runs          rounds of every peer in turn (default 1); the table shows medians (1..20)\n' +
      '  --quick         10x smaller message/connection counts (smoke test)\n' +
      '  --mqtt5         use MQTT 5.0 for scenarios 1 and 2 (default 3.1.1; scenarios 3-8 are always 3.1.1)\n' +
      `  --crash-at      scenario 5 kill points, fractions of the messages PUBACKed (default: ${DEFAULT_CRASH_ROUNDS} random in [0.2, 0.8))\n` +
      '  --crash-rounds  scenario 5 number of random kill points',
    msg,
  );
}

function parseArgs(argv: string[]): Args {
  const a: Args = { peers: [...DEFAULT_PEERS], scenarios: SCENARIOS.map((s) => s.id), quick: false, protocolVersion: 4, crashAt: [], runs: 1 };
  let crashRounds = DEFAULT_CRASH_ROUNDS;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) usage(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--only': {
        const names = value().split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
        for (const n of names) if (!ALL_PEERS.includes(n as PeerName)) usage(`unknown peer "${n}"`);
        a.peers = ALL_PEERS.filter((p) => names.includes(p));
        break;
      }
      case '--scenarios': {
        const ids = value().split(',').map((s) => Number(s.trim()));
        for (const id of ids) if (!SCENARIOS.some((s) => s.id === id)) usage(`unknown scenario "${id}"`);
        a.scenarios = ids.sort((x, y) => x - y);
        break;
      }
      case '--runs': {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 1 || n > 20) usage('--runs must be 1..20');
        a.runs = n;
        break;
      }
      case '--quick':
        a.quick = true;
        break;
      case '--mqtt5':
        a.protocolVersion = 5;
        break;
      case '--crash-at': {
        const fs = value().split(',').map((x) => Number(x.trim()));
        for (const f of fs) if (!(f > 0 && f < 1)) usage(`--crash-at: "${f}" is not a fraction in (0, 1)`);
        a.crashAt = fs;
        break;
      }
      case '--crash-rounds': {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 1 || n > 20) usage('--crash-rounds must be 1..20');
        crashRounds = n;
        break;
      }
      case '-h':
      case '--help':
        usage();
      // eslint-disable-next-line no-fallthrough
      default:
        usage(`unknown argument "${arg}"`);
    }
  }
  if (a.crashAt.length === 0) a.crashAt = randomCrashPoints(crashRounds);
  return a;
}

type Results = Partial<Record<PeerName, Record<number, Cell>>>;

const log = (msg: string) => console.error(`[bench] ${msg}`);
const loud = (msg: string) => {
  const bar = '!'.repeat(78);
  console.error(`\n${bar}\n!! ${msg.split('\n').join('\n!! ')}\n${bar}\n`);
};

let currentPeer: RunningPeer | null = null;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    log(`${sig}: stopping broker and exiting`);
    const p = currentPeer;
    (p ? p.stop() : Promise.resolve()).finally(() => process.exit(130));
  });
}

function fmt(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return 'n/a';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function ratio(wharf: Metric | undefined, peer: Metric | undefined): string {
  if (!wharf || !peer || wharf.better === 'none') return '—';
  const w = wharf.value;
  const p = peer.value;
  if (w === null || p === null || !Number.isFinite(w) || !Number.isFinite(p)) return '—';
  const r = wharf.better === 'higher' ? (p === 0 ? NaN : w / p) : w === 0 ? NaN : p / w;
  return Number.isFinite(r) ? `${r.toFixed(2)}×` : '—';
}

function buildTable(args: Args, results: Results, skipped: Partial<Record<PeerName, string>>): string {
  const lines: string[] = [];
  lines.push(
    'Ratios: **> 1 means Wharf is better**. Higher-is-better metrics (↑, msg/s) use wharf/peer; ' +
      'lower-is-better metrics (↓: latency, CPU per message, RSS) use peer/wharf. Rows without an arrow are diagnostics (no ratio).',
  );
  lines.push('');
  // A column per peer run, Aedes and Mosquitto always (as before), RabbitMQ only when it was asked for.
  const others = ALL_PEERS.filter((p) => p !== 'wharf' && (p !== 'rabbitmq' || args.peers.includes(p)));
  lines.push(`| scenario | metric | wharf | ${others.join(' | ')} | ${others.map((p) => `wharf/${p}`).join(' | ')} |`);
  lines.push(`|---|---|---:|${others.map(() => '---:|').join('')}${others.map(() => '---:|').join('')}`);
  const cellText = (peer: PeerName, sid: number, key: string): string => {
    if (!args.peers.includes(peer)) return 'not run';
    if (skipped[peer] && !results[peer]?.[sid]) return 'skipped';
    const c = results[peer]?.[sid];
    if (!c) return 'n/a';
    if (!c.ok) return 'error';
    const m = c.result.metrics.find((x) => x.key === key);
    return m ? fmt(m.value, m.digits ?? 1) : 'n/a';
  };
  const metricOf = (peer: PeerName, sid: number, key: string): Metric | undefined => {
    const c = results[peer]?.[sid];
    return c && c.ok ? c.result.metrics.find((x) => x.key === key) : undefined;
  };
  for (const sid of args.scenarios) {
    const def = SCENARIOS.find((s) => s.id === sid)!;
    // metric list from the first peer that produced a result
    let metrics: Metric[] | undefined;
    for (const p of ALL_PEERS) {
      const c = results[p]?.[sid];
      if (c && c.ok) {
        metrics = c.result.metrics;
        break;
      }
    }
    if (!metrics) {
      lines.push(`| ${sid}. ${def.name} | (no results) |${' |'.repeat(1 + 2 * others.length)}`);
      continue;
    }
    metrics.forEach((m, idx) => {
      const arrow = m.better === 'higher' ? ' ↑' : m.better === 'lower' ? ' ↓' : '';
      lines.push(
        `| ${idx === 0 ? `${sid}. ${def.name}` : ''} | ${m.label}${arrow} | ${cellText('wharf', sid, m.key)} | ` +
          `${others.map((p) => cellText(p, sid, m.key)).join(' | ')} | ${others.map((p) => ratio(metricOf('wharf', sid, m.key), metricOf(p, sid, m.key))).join(' | ')} |`,
      );
    });
  }
  return lines.join('\n');
}

/** Wharf's results against the targets its metrics carry (scenarios 4-8). */
function targetLines(args: Args, results: Results): string[] {
  const out: string[] = [];
  for (const sid of args.scenarios) {
    const c = results.wharf?.[sid];
    if (!c || !c.ok) continue;
    for (const m of c.result.metrics) {
      const t = m.target;
      if (!t) continue;
      const v = m.value;
      const ok = v !== null && Number.isFinite(v);
      if (t.op === 'beats-peers') {
        // Better than every other peer that produced a value; peers without one are listed, not counted.
        const parts: string[] = [];
        let beaten = 0;
        let lost = 0;
        for (const p of ALL_PEERS) {
          if (p === 'wharf' || (p === 'rabbitmq' && !args.peers.includes(p))) continue;
          const pc = results[p]?.[sid];
          const pm = pc && pc.ok ? pc.result.metrics.find((x) => x.key === m.key) : undefined;
          const pv = pm?.value;
          if (!args.peers.includes(p) || pv === null || pv === undefined || !Number.isFinite(pv)) {
            parts.push(`${p} n/a`);
            continue;
          }
          const better = m.better === 'higher' ? (v as number) > pv : (v as number) < pv;
          if (ok && better) beaten++;
          else lost++;
          parts.push(`${p} ${fmt(pv, m.digits ?? 1)}`);
        }
        const met = ok && lost === 0 && beaten > 0;
        out.push(
          `- scenario ${sid}, ${m.label}: ${fmt(v, m.digits ?? 1)} vs ${parts.join(', ')} (target: beats every peer) — **${met ? 'met' : 'MISSED'}**` +
            (met && parts.some((x) => x.endsWith(' n/a')) ? ' (against the peers that could run it)' : ''),
        );
        continue;
      }
      const met = ok && (t.op === '>=' ? v >= t.value : v <= t.value);
      out.push(`- scenario ${sid}, ${m.label}: ${fmt(v, m.digits ?? 1)} (target ${t.op === '>=' ? '≥' : '≤'} ${fmt(t.value, m.digits ?? 1)}) — **${met ? 'met' : 'MISSED'}**`);
    }
  }
  return out;
}

function mosquittoVersion(): string | null {
  for (const bin of ['/usr/sbin/mosquitto', 'mosquitto']) {
    try {
      const out = execFileSync(bin, ['-h'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      const m = /mosquitto version (\S+)/.exec(out);
      if (m) return m[1]!;
    } catch (e) {
      const out = String((e as { stdout?: unknown }).stdout ?? '');
      const m = /mosquitto version (\S+)/.exec(out);
      if (m) return m[1]!;
    }
  }
  return null;
}

/**
 * One scenario against a fresh broker of `peer`, with the CPU time the host took meanwhile; undefined if the broker
 * would not start (then `skipped` says why).
 */
async function runScenario(args: Args, peer: PeerName, sid: number, ofRound: string, skipped: Partial<Record<PeerName, string>>): Promise<Cell | undefined> {
  const def = SCENARIOS.find((s) => s.id === sid)!;
  let running: RunningPeer;
  try {
    running = await startPeer(peer, def.start);
  } catch (e) {
    skipped[peer] = `failed to start: ${(e as Error).message}`;
    loud(`SKIPPING ${peer.toUpperCase()}: failed to start\n${(e as Error).message}`);
    return undefined;
  }
  currentPeer = running;
  log(`${peer}: scenario ${sid} (${def.name})${ofRound} — broker pid ${running.pid}, port ${running.port}`);
  const t0 = Date.now();
  const cpu0 = cpuTimes();
  try {
    const result = await def.run({ peer: running, quick: args.quick, protocolVersion: args.protocolVersion, log, crashAt: args.crashAt });
    if (running.exited()) result.notes.push(`broker process exited during the scenario. Output tail:\n${running.output().slice(-1000)}`);
    const steal = stealPercent(cpu0, cpuTimes());
    result.metrics.push({ key: 'cpuSteal', label: 'CPU time stolen by the hypervisor during the scenario, % (diag)', unit: '%', value: steal, better: 'none', digits: 1 });
    if (steal !== null && steal >= STEAL_NOTE_PERCENT) result.notes.push(`the hypervisor took ${steal.toFixed(0)} % of the CPU time during this run (steal): its rates are low for the host's reasons`);
    const summary = result.metrics
      .filter((m) => m.better !== 'none' || m.key.endsWith('lost') || m.key.endsWith('Cpu') || m.key === 'cpuSteal')
      .map((m) => `${m.label}=${fmt(m.value, m.digits ?? 1)}`)
      .join(', ');
    log(`${peer}: scenario ${sid}${ofRound} done in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${summary}`);
    for (const n of result.notes) log(`${peer}: NOTE ${n}`);
    return { ok: true, result };
  } catch (e) {
    const msg = (e as Error).message;
    loud(`${peer.toUpperCase()} scenario ${sid}${ofRound} FAILED: ${msg}${running.exited() ? `\nbroker exited. Output tail:\n${running.output().slice(-1000)}` : ''}`);
    return { ok: false, error: msg };
  } finally {
    await running.stop();
    currentPeer = null;
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = new Date();
  const loadAvgAtStart = os.loadavg();
  if (loadAvgAtStart[0]! > 0.5 * os.cpus().length) {
    loud(`machine is busy: load average ${loadAvgAtStart.map((x) => x.toFixed(2)).join(' ')} on ${os.cpus().length} CPUs — results will be noisy`);
  }
  log(
    `peers: ${args.peers.join(', ')}; scenarios: ${args.scenarios.join(', ')}; ${args.quick ? 'QUICK (10x smaller counts); ' : ''}` +
      `MQTT ${args.protocolVersion === 5 ? '5.0' : '3.1.1'}; ${os.cpus().length} CPUs; node ${process.version}` +
      (args.scenarios.includes(5) ? `; crash points ${args.crashAt.join(',')}` : ''),
  );
  if (args.scenarios.includes(4)) {
    const why = straceUnavailableReason();
    if (why) loud(`fsyncs/s will be n/a: ${why}`);
  }
  const results: Results = {};
  const skipped: Partial<Record<PeerName, string>> = {};
  const notes: string[] = [];

  const runsOf: Partial<Record<PeerName, Record<number, Cell[]>>> = {};
  for (const peer of args.peers) {
    const reason = peerUnavailableReason(peer);
    if (reason) {
      skipped[peer] = reason;
      loud(`SKIPPING ${peer.toUpperCase()}: ${reason}`);
    }
  }
  for (let round = 1; round <= args.runs; round++) {
    const ofRound = args.runs > 1 ? ` (run ${round}/${args.runs})` : '';
    for (const peer of args.peers) {
      if (skipped[peer]) continue;
      const cells = (runsOf[peer] ??= {});
      for (const sid of args.scenarios) {
        const cell = await runScenario(args, peer, sid, ofRound, skipped);
        if (cell === undefined) break; // failed to start: skipped[peer] says why
        (cells[sid] ??= []).push(cell);
      }
    }
  }
  for (const [peer, cells] of Object.entries(runsOf) as [PeerName, Record<number, Cell[]>][]) {
    results[peer] = {};
    for (const sid of args.scenarios) {
      const runs = cells[sid];
      if (runs === undefined) continue;
      const cell = mergeRuns(runs);
      results[peer]![sid] = cell;
      if (cell.ok) for (const n of cell.result.notes) notes.push(`${peer} / scenario ${sid}: ${n}`);
      else notes.push(`${peer} / scenario ${sid}: ERROR ${cell.error}`);
    }
  }

  const table = buildTable(args, results, skipped);
  console.log('');
  console.log(table);
  for (const [p, r] of Object.entries(skipped)) console.log(`\n**${p} skipped:** ${r.split('\n')[0]}`);
  const targets = targetLines(args, results);
  if (targets.length) {
    console.log('\nWharf targets (scenarios 4-5: issue 3; 6-8: issue 4):');
    for (const t of targets) console.log(t);
  }
  if (args.scenarios.includes(5)) console.log(`\nScenario 5 kill points (fraction of messages PUBACKed): ${args.crashAt.join(', ')}`);
  if (notes.length) {
    console.log('\nNotes:');
    for (const n of notes) console.log(`- ${n.split('\n')[0]}`);
  }

  const dir = path.join(REPO_ROOT, '.bench-tmp');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `results-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        startedAt: started.toISOString(),
        finishedAt: new Date().toISOString(),
        args,
        machine: {
          cpus: os.cpus().length,
          cpuModel: os.cpus()[0]?.model,
          totalMemMB: Math.round(os.totalmem() / 1024 / 1024),
          loadAvgAtStart: loadAvgAtStart,
          loadAvgAtEnd: os.loadavg(),
          node: process.version,
          mosquitto: mosquittoVersion(),
        },
        skipped,
        results,
        notes,
        targets,
        table,
      },
      null,
      2,
    ),
  );
  console.log(`\nJSON: ${path.relative(REPO_ROOT, file)}`);
}

main().catch((e) => {
  console.error(e);
  const p = currentPeer;
  (p ? p.stop() : Promise.resolve()).finally(() => process.exit(1));
});
