// Command round trip benchmark (issue 15, Benchmark): commands to a Modbus TCP device through its last-value command
// queue, against the pymodbus simulator (test/helpers/modbus_sim.py, /usr/bin/python3), while the same bus is polled.
//
//   npm run build && node dist/scripts/bench/command-roundtrip.js [--commands 500] [--window 10] [--offline 1000] [--json FILE]
//
// latency: `--commands` commands one at a time (MQTT 5, QoS 1, Response Topic + Correlation Data) to 10 writable
// holding registers; each is timed from the publish to its receipt (publish → queue → write → read-back → receipt).
// throughput: `--commands` commands with `--window` outstanding at once (each to its own point, so none supersedes
// another), commands/s from the first publish to the last receipt. Both while a second device on the same bus (unit 2,
// 20 points) and the commanded one are polled every 100 ms (unit 2's FC 3 counter shows the polls went on; unit 1's
// FC 3 requests also hold the read-backs).
// offline: the simulator is stopped, `--offline` commands go to the 10 points, the simulator returns: the device
// writes counted in the simulator's write log (10 expected: the latest value of each point), with the receipts.

import os from 'node:os';
import type { MqttClient } from 'mqtt';
import { ModbusSim } from '../../test/helpers/modbus-sim.js';
import { connectClient } from '../../test/helpers/mqttjs.js';
import { deviceState } from '../../test/helpers/command-kit.js';
import { readFlags } from './cli-args.js';
import { startPeer } from './peers.js';
import { requirePeer, runStandalone, writeJsonRecord } from './standalone.js';

const POINTS = 10;
const POLLED = 20;
const POLL_INTERVAL_MS = 100;
/** Bounds every wait of the run: a lost receipt fails the run instead of hanging it. */
const RECEIPT_LIMIT_MS = 30_000;

interface Args {
  commands: number;
  window: number;
  offline: number;
  json: string | undefined;
}

const USAGE =
  'usage: node dist/scripts/bench/command-roundtrip.js [--commands N] [--window W] [--offline M] [--json FILE]\n' +
  '  --commands  commands of the latency and the throughput parts (default 500)\n' +
  `  --window    commands outstanding at once in the throughput part, 1-${POINTS} (default ${POINTS})\n` +
  '  --offline   commands sent while the device is offline (default 1000)\n' +
  '  --json      also write the results as JSON to FILE';

function parseArgs(argv: string[]): Args {
  const a: Args = { commands: 500, window: POINTS, offline: 1000, json: undefined };
  readFlags(argv, USAGE, (flag, value) => {
    if (flag === '--commands') a.commands = value.int(10, 100_000);
    else if (flag === '--window') a.window = value.int(1, POINTS);
    else if (flag === '--offline') a.offline = value.int(POINTS, 1_000_000);
    else if (flag === '--json') a.json = value.text();
    else return false;
    return true;
  });
  return a;
}

function deviceYaml(port: number): string[] {
  const device = (name: string, unitId: number, points: string[]): string[] => [
    `  - name: ${name}`,
    '    bus: plc',
    `    unitId: ${unitId}`,
    `    pollInterval: ${POLL_INTERVAL_MS}ms`,
    '    timeout: 500ms',
    '    retries: 0',
    '    heartbeat: 1h',
    '    points:',
    ...points,
  ];
  return [
    'buses:',
    `  - { name: plc, type: tcp, host: 127.0.0.1, port: ${port} }`,
    'devices:',
    ...device('pump1', 1, Array.from({ length: POINTS }, (_, i) => `      - { name: p${i}, table: holding_register, address: ${100 + i}, type: uint16, writable: true }`)),
    ...device('meter', 2, Array.from({ length: POLLED }, (_, i) => `      - { name: r${i}, table: holding_register, address: ${200 + i * 2}, type: uint16 }`)),
  ];
}

interface Receipt {
  outcome: string;
  points: Record<string, { value: unknown; outcome: string; readBack?: unknown }>;
}

/** Receipts by correlation data; `wait(id)` resolves with the receipt of that command. */
class ReceiptWaiter {
  private readonly got = new Map<string, Receipt>();
  private readonly waiting = new Map<string, (r: Receipt) => void>();

  constructor(client: MqttClient) {
    client.on('message', (_topic, payload, packet) => {
      const id = packet.properties?.correlationData?.toString();
      if (id === undefined) return;
      const r = JSON.parse(payload.toString()) as Receipt;
      const w = this.waiting.get(id);
      if (w !== undefined) {
        this.waiting.delete(id);
        w(r);
      } else this.got.set(id, r);
    });
  }

  wait(id: string): Promise<Receipt> {
    const r = this.got.get(id);
    if (r !== undefined) {
      this.got.delete(id);
      return Promise.resolve(r);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no receipt for command ${id} within ${RECEIPT_LIMIT_MS} ms`)), RECEIPT_LIMIT_MS);
      this.waiting.set(id, (x) => {
        clearTimeout(timer);
        resolve(x);
      });
    });
  }

  count(): number {
    return this.got.size;
  }
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function polls(sim: ModbusSim): Promise<number> {
  return sim.requestCount(2, 3);
}

async function main(): Promise<void> {
  requirePeer('wharf');
  const args = parseArgs(process.argv.slice(2));
  const sim = await ModbusSim.start({ units: [1, 2], size: 400 });
  const peer = await startPeer('wharf', { wharfYaml: deviceYaml(sim.port) });
  const client = await connectClient(`mqtt://127.0.0.1:${peer.port}`, { clientId: 'bench-operator' });
  const record: Record<string, unknown> = { args, cpus: os.cpus().length };
  try {
    await client.subscribeAsync('bench/replies', { qos: 1 });
    const receipts = new ReceiptWaiter(client);
    await deviceState(client, 'pump1', 'online');
    let seq = 0;
    const send = async (point: number, value: number): Promise<string> => {
      const id = String(++seq);
      await client.publishAsync(`devices/pump1/set/p${point}`, String(value), { qos: 1, properties: { responseTopic: 'bench/replies', correlationData: Buffer.from(id) } });
      return id;
    };
    const applied = (r: Receipt, what: string): void => {
      if (r.outcome !== 'applied') throw new Error(`${what}: ${JSON.stringify(r)}`);
    };

    // Latency: one at a time.
    const pollsBefore = await polls(sim);
    const startedAt = Date.now();
    const latencies: number[] = [];
    for (let i = 0; i < args.commands; i++) {
      const t0 = performance.now();
      const id = await send(i % POINTS, i % 1000);
      applied(await receipts.wait(id), `command ${i}`);
      latencies.push(performance.now() - t0);
    }
    const latencyPolls = (await polls(sim)) - pollsBefore;
    const latencySeconds = (Date.now() - startedAt) / 1000;
    latencies.sort((a, b) => a - b);

    // Throughput: `window` outstanding, each on its own point.
    const t1 = performance.now();
    const pollsBeforeT = await polls(sim);
    let next = 0;
    const lane = async (point: number): Promise<void> => {
      while (next < args.commands) {
        const i = next++;
        applied(await receipts.wait(await send(point, (i * 7) % 1000)), `command ${i}`);
      }
    };
    await Promise.all(Array.from({ length: args.window }, (_, p) => lane(p)));
    const throughputSeconds = (performance.now() - t1) / 1000;
    const throughputPolls = (await polls(sim)) - pollsBeforeT;

    // Offline: only the latest command per point is written.
    await sim.stop();
    await deviceState(client, 'pump1', 'offline');
    await sim.reset();
    const ids: string[] = [];
    for (let i = 0; i < args.offline; i++) ids.push(await send(i % POINTS, i % 1000));
    const expected = new Map<number, number>();
    for (let i = 0; i < args.offline; i++) expected.set(i % POINTS, i % 1000);
    await sim.start();
    const outcomes: Record<string, number> = {};
    for (const id of ids) {
      const r = await receipts.wait(id);
      outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
    }
    const writes = (await sim.writes()).filter((w) => w[1] === 6 || w[1] === 16);
    for (const [p, v] of expected) {
      const [held] = await sim.get(1, 'hr', 100 + p);
      if (held !== v) throw new Error(`point p${p} holds ${held}, its latest command was ${v}`);
    }

    const result = {
      latency: {
        commands: args.commands,
        p50Ms: percentile(latencies, 50),
        p99Ms: percentile(latencies, 99),
        maxMs: latencies[latencies.length - 1]!,
        pollsPerSecond: latencyPolls / latencySeconds,
      },
      throughput: { commands: args.commands, window: args.window, commandsPerSecond: args.commands / throughputSeconds, pollsPerSecond: throughputPolls / throughputSeconds },
      offline: { commands: args.offline, points: POINTS, deviceWrites: writes.length, outcomes },
    };
    record.result = result;
    if (peer.exited()) throw new Error(`wharf exited: ${peer.output()}`);

    console.log('\n## Command round trip over Modbus TCP (pymodbus simulator), bus polled every 100 ms\n');
    console.log('| part | figure |');
    console.log('| --- | --- |');
    console.log(`| latency, one at a time (${args.commands} commands) | p50 ${result.latency.p50Ms.toFixed(1)} ms, p99 ${result.latency.p99Ms.toFixed(1)} ms, max ${result.latency.maxMs.toFixed(1)} ms |`);
    console.log(`| throughput, ${args.window} outstanding (${args.commands} commands) | ${result.throughput.commandsPerSecond.toFixed(0)} commands/s |`);
    console.log(`| polls of the other device meanwhile (FC 3 requests/s) | ${result.latency.pollsPerSecond.toFixed(1)} (latency part), ${result.throughput.pollsPerSecond.toFixed(1)} (throughput part) |`);
    console.log(`| offline: ${args.offline} commands to ${POINTS} points | ${writes.length} device writes; receipts ${Object.entries(outcomes).map(([k, v]) => `${v} ${k}`).join(', ')} |`);
    console.log(`\n${os.cpus().length} CPUs, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    if (writes.length !== POINTS) throw new Error(`expected ${POINTS} device writes after the offline part, got ${writes.length}`);
    writeJsonRecord(args.json, record);
  } finally {
    await client.endAsync();
    await peer.stop();
    await sim.close();
  }
}

runStandalone(main);
