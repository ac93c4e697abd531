// Modbus poll benchmark (issue 14, Benchmark), Wharf against a naive poller and modbus-serial, with its own runner.
//
//   npm run build && node dist/scripts/bench/modbus-poll.js [--points 200] [--devices 3] [--cycles 7] [--json FILE]
//       [--only poll|load] [--load-devices 50] [--load-points 40] [--load-seconds 60]
//
// poll: the pymodbus 3.0 simulator (test/helpers/modbus_sim.py, /usr/bin/python3) holds `--points` holding-register
// points (uint16 and float32, small and large gaps: modbus-points.ts) over `--devices` unit ids on one Modbus TCP
// port. Each poller reads them through the same timing relay (modbus-proxy.ts): Wharf as the real `wharf start`
// process with a `buses:`/`devices:` configuration (one bus, pollInterval 500 ms), then the naive poller and
// modbus-serial (modbus-pollers.ts), `--cycles` cycles each after one warm-up. Requests per cycle come from the
// simulator's own request counters; cycle time is the relay's burst from first request byte to last answer byte.
//
// load: `wharf start` polling `--load-devices` devices × `--load-points` points every second, each device on its
// own Modbus TCP connection to one simulator serving all unit ids, for `--load-seconds`; CPU (utime+stime of the
// process) and RSS against the same broker without devices over the same time (modbus-load.ts). Both processes run
// with the same node flags (npm start's unless WHARF_BENCH_NODE_FLAGS) and the same configuration but for the
// buses and devices; "above idle" is the median of the polling process's 1 s samples minus the idle one's (each
// window after a 10 s warm-up), and the highest sample minus the highest.

import os from 'node:os';
import { ModbusSim } from '../../test/helpers/modbus-sim.js';
import { connectClient } from '../../test/helpers/mqttjs.js';
import { readFlags } from './cli-args.js';
import { runLoad, type LoadResult } from './modbus-load.js';
import { runRtu, type RtuResult } from './modbus-rtu.js';
import { devicesYaml, loadPointValues, pointMap, pointValue, type BenchDevice } from './modbus-points.js';
import { modbusSerialPoller, naivePoller, type CyclePoller } from './modbus-pollers.js';
import { mergeBursts, TimingProxy, type Burst } from './modbus-proxy.js';
import { startPeer } from './peers.js';
import { requirePeer, runStandalone, writeJsonRecord } from './standalone.js';

const POLL_INTERVAL_MS = 1000;
/**
 * A quiet spell this long ends a burst. One request takes well under a millisecond on an idle machine, but on a
 * busy one a process can be off the CPU for tens of ms: a cycle may then show as several bursts, which are put
 * back together (Wharf: bursts starting within half an interval of the cycle's first; the bench's own pollers:
 * the bursts seen between the start and the end of their cycle() call).
 */
const QUIET_MS = 100;
/** Pause between the cycles of the bench's own pollers. */
const PAUSE_MS = 300;
const CYCLE_LIMIT_MS = 60_000;

interface Args {
  points: number;
  devices: number;
  cycles: number;
  only: ('poll' | 'rtu' | 'load')[];
  baud: number;
  loadDevices: number;
  loadPoints: number;
  loadSeconds: number;
  json: string | undefined;
}

const USAGE =
  'usage: node dist/scripts/bench/modbus-poll.js [--points N] [--devices D] [--cycles C] [--only poll,rtu,load]\n' +
  '       [--baud B] [--load-devices N] [--load-points P] [--load-seconds S] [--json FILE]\n' +
  '  --points, --devices  point map of the poll comparison (default 200 points over 3 devices)\n' +
  '  --cycles             measured poll cycles per poller after one warm-up; medians shown (default 7)\n' +
  '  --only               parts to run (default poll,rtu,load)\n' +
  '  --baud               baud rate of the RTU part (default 19200; a pty has no wire time, see modbus-rtu.ts)\n' +
  '  --load-*             the load part: devices × points polled every second for S seconds (default 50 × 40, 60 s)\n' +
  '  --json               also write the results as JSON to FILE';

function parseArgs(argv: string[]): Args {
  const a: Args = { points: 200, devices: 3, cycles: 7, only: ['poll', 'rtu', 'load'], baud: 19200, loadDevices: 50, loadPoints: 40, loadSeconds: 60, json: undefined };
  readFlags(argv, USAGE, (flag, value) => {
    if (flag === '--points') a.points = value.int(1, 2000);
    else if (flag === '--devices') a.devices = value.int(1, 200);
    else if (flag === '--cycles') a.cycles = value.int(1, 100);
    else if (flag === '--only') a.only = value.oneOrMoreOf(['poll', 'rtu', 'load'] as const);
    else if (flag === '--baud') a.baud = value.int(1200, 115200);
    else if (flag === '--load-devices') a.loadDevices = value.int(1, 200);
    else if (flag === '--load-points') a.loadPoints = value.int(1, 200);
    else if (flag === '--load-seconds') a.loadSeconds = value.int(5, 600);
    else if (flag === '--json') a.json = value.text();
    else return false;
    return true;
  });
  return a;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function fc3Requests(sim: ModbusSim): Promise<number> {
  return Object.values(await sim.counts()).reduce((n, perUnit) => n + (perUnit['3'] ?? 0), 0);
}

interface PollResult {
  poller: string;
  requestsPerCycle: number;
  relayRequestsPerCycle: number;
  cycleMs: number;
  cycleMsAll: number[];
}

function summarise(poller: string, bursts: Burst[], simRequests: number): PollResult {
  const cycleMsAll = bursts.map((b) => b.endMs - b.startMs);
  return {
    poller,
    requestsPerCycle: simRequests / bursts.length,
    relayRequestsPerCycle: median(bursts.map((b) => b.requests)),
    cycleMs: median(cycleMsAll),
    cycleMsAll,
  };
}

/** The real `wharf start`, polling through the relay; its cycles are the relay's bursts. */
async function pollWharf(sim: ModbusSim, devices: readonly BenchDevice[], cycles: number): Promise<PollResult> {
  const proxy = await TimingProxy.start(sim.port, QUIET_MS);
  const peer = await startPeer('wharf', {
    wharfYaml: ['buses:', `  - { name: plc, type: tcp, host: 127.0.0.1, port: ${proxy.port} }`, ...devicesYaml(devices, () => 'plc', `${POLL_INTERVAL_MS}ms`)],
  });
  // Wharf's documents are checked against the simulator's values, as the bench's own pollers check theirs.
  const client = await connectClient(`mqtt://127.0.0.1:${peer.port}`);
  const last = new Map<string, Record<string, unknown>>();
  client.on('message', (topic, payload) => last.set(topic, (JSON.parse(payload.toString()) as { values: Record<string, unknown> }).values));
  await client.subscribeAsync('devices/+/state');
  try {
    await proxy.untilCycles(2, POLL_INTERVAL_MS / 2, CYCLE_LIMIT_MS); // the first cycle opens the connection
    // Between two bursts: the counters start from zero and are read again right after the last measured one.
    // Requests are held back at the relay while the counters are reset and read, so the count covers exactly the
    // measured bursts (a cycle due meanwhile starts a few ms late, outside the measured ones).
    const from = await proxy.holding(async () => (await sim.reset(), proxy.bursts.length));
    await proxy.untilCycles(cycles, POLL_INTERVAL_MS / 2, CYCLE_LIMIT_MS, from);
    const requests = await proxy.holding(() => fc3Requests(sim));
    if (peer.exited()) throw new Error(`wharf exited: ${peer.output()}`);
    for (const d of devices) {
      const got = last.get(`devices/${d.name}/state`);
      const want = Object.fromEntries(d.points.map((p, i) => [p.name, pointValue(d.unitId, i, p.type)]));
      if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`wharf published ${JSON.stringify(got)} for ${d.name}, simulator holds ${JSON.stringify(want)}`);
    }
    return summarise('Wharf (`wharf start`)', mergeBursts(proxy.bursts.slice(from), POLL_INTERVAL_MS / 2).slice(0, cycles), requests);
  } finally {
    await client.endAsync();
    await peer.stop();
    await proxy.close();
  }
}

/** One of the bench's own pollers: cycles back to back with a pause, through the relay. */
async function pollOwn(sim: ModbusSim, make: (port: number) => Promise<CyclePoller>, cycles: number): Promise<PollResult> {
  const proxy = await TimingProxy.start(sim.port, QUIET_MS);
  const poller = await make(proxy.port);
  try {
    const run = async (n: number): Promise<Burst[]> => {
      const out: Burst[] = [];
      for (let i = 0; i < n; i++) {
        const before = proxy.bursts.length;
        await poller.cycle();
        await proxy.untilBursts(before + 1, CYCLE_LIMIT_MS);
        // The last answer came before cycle() resolved: once the quiet spell has passed, its burst has ended.
        await new Promise((r) => setTimeout(r, QUIET_MS + PAUSE_MS));
        out.push(...mergeBursts(proxy.bursts.slice(before), Infinity));
      }
      return out;
    };
    await run(1);
    await sim.reset();
    const measured = await run(cycles);
    return summarise(poller.name, measured, await fc3Requests(sim));
  } finally {
    await poller.close();
    await proxy.close();
  }
}

function printPoll(results: PollResult[], args: Args): void {
  const wharf = results[0]!;
  console.log(`\n| poller (${args.points} points, ${args.devices} devices, median of ${args.cycles} cycles) | requests / cycle (simulator) | (relay) | cycle time (ms) | requests vs Wharf | cycle time vs Wharf |`);
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    console.log(
      `| ${r.poller} | ${r.requestsPerCycle.toFixed(1)} | ${r.relayRequestsPerCycle} | ${r.cycleMs.toFixed(2)} | ${(r.requestsPerCycle / wharf.requestsPerCycle).toFixed(1)}× | ${(r.cycleMs / wharf.cycleMs).toFixed(1)}× |`,
    );
  }
}

function printRtu(results: RtuResult[], args: Args): void {
  const wharf = results[0]!;
  console.log(`\n| RTU on a socat pty, ${args.baud} baud (${args.points} points, ${args.devices} devices, median of ${args.cycles} cycles) | requests / cycle (simulator) | cycle time (ms) | requests vs Wharf | cycle time vs Wharf |`);
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    console.log(`| ${r.poller} | ${r.requestsPerCycle.toFixed(1)} | ${r.cycleMs.toFixed(1)} | ${(r.requestsPerCycle / wharf.requestsPerCycle).toFixed(1)}× | ${(r.cycleMs / wharf.cycleMs).toFixed(1)}× |`);
  }
}

function printLoad(r: LoadResult): void {
  console.log(`\n| ${r.devices} devices × ${r.points} points every 1 s over Modbus TCP, ${r.seconds} s | idle broker | polling | above idle | target |`);
  console.log('| --- | ---: | ---: | ---: | ---: |');
  console.log(`| CPU (% of one core) | ${r.idle.cpuPercent.toFixed(2)} | ${r.polling.cpuPercent.toFixed(2)} | ${(r.polling.cpuPercent - r.idle.cpuPercent).toFixed(2)} | < 5 |`);
  console.log(`| RSS (MB, median of 1 s samples) | ${r.idle.rssMb.toFixed(1)} | ${r.polling.rssMb.toFixed(1)} | ${(r.polling.rssMb - r.idle.rssMb).toFixed(1)} | < 15 |`);
  console.log(`| RssAnon (MB, median: RSS without file-backed pages) | ${r.idle.rssAnonMb.toFixed(1)} | ${r.polling.rssAnonMb.toFixed(1)} | ${(r.polling.rssAnonMb - r.idle.rssAnonMb).toFixed(1)} | |`);
  console.log(`| RSS (MB, highest sample) | ${r.idle.rssMaxMb.toFixed(1)} | ${r.polling.rssMaxMb.toFixed(1)} | ${(r.polling.rssMaxMb - r.idle.rssMaxMb).toFixed(1)} | |`);
  for (const [label, key] of [['V8 heap total', 'heapTotalMb'], ['V8 heap used', 'heapUsedMb'], ['V8 heap live after a major GC (highest)', 'liveHeapMb'], ['external (Buffers)', 'externalMb']] as const) {
    const mb = (x: number) => (Number.isNaN(x) ? '- (no major GC)' : x.toFixed(1));
    console.log(`| ${label} (MB${key === 'liveHeapMb' ? '' : ', median'}) | ${mb(r.idle[key])} | ${mb(r.polling[key])} | ${mb(r.polling[key] - r.idle[key])} | |`);
  }
  console.log(`simulator: ${r.requestsPerSecond.toFixed(1)} read requests/s during the window (${(r.requestsPerSecond / r.devices).toFixed(2)} per device per second)`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  requirePeer('wharf');
  const record: Record<string, unknown> = { args, cpus: os.cpus().length };
  if (args.only.includes('poll')) {
    const devices = pointMap(args.points, args.devices);
    const sim = await ModbusSim.start({ units: devices.map((d) => d.unitId), size: 1000 });
    try {
      await loadPointValues(sim, devices);
      const results = [
        await pollWharf(sim, devices, args.cycles),
        await pollOwn(sim, (port) => naivePoller(port, devices), args.cycles),
        await pollOwn(sim, (port) => modbusSerialPoller(port, devices), args.cycles),
      ];
      record.poll = results;
      printPoll(results, args);
    } finally {
      await sim.close();
    }
  }
  if (args.only.includes('rtu')) {
    const results = await runRtu(pointMap(args.points, args.devices), args.cycles, args.baud);
    record.rtu = results;
    printRtu(results, args);
  }
  if (args.only.includes('load')) {
    const r = await runLoad(args.loadDevices, args.loadPoints, args.loadSeconds);
    record.load = r;
    printLoad(r);
  }
  console.log(`\n${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(2)}`);
  writeJsonRecord(args.json, record);
}

runStandalone(main);
