// The MQTT fuzzer (issue 17): a `wharf start` child on loopback gets >= 1,000,000 malformed or mutated packets
// over many connections (categories in packets.ts) while a well-behaved MQTT.js client publishes to itself at
// QoS 1 throughout. Prints the counts: packets, connections, closes by reason code, crashes, RSS before/after.
//
//   node dist/scripts/fuzz/mqtt-fuzz.js [--packets N] [--concurrency C] [--seconds S] [--seed X] [--json FILE]
//
// Exits non-zero when the broker exited, logged an unhandled error, left a connection hanging or the
// well-behaved client missed a message.

import mqtt from 'mqtt';
import { startPeer } from '../bench/peers.js';
import { requirePeer, writeJsonRecord } from '../bench/standalone.js';
import { runFuzz } from './fuzz-run.js';
import { EMBEDDED_NODE_FLAGS } from '../../src/cli/node-flags.js';

interface Args {
  packets: number;
  concurrency: number;
  seconds: number;
  seed: number;
  json: string | undefined;
}

function parse(argv: string[]): Args {
  const a: Args = { packets: 1_000_000, concurrency: 64, seconds: 600, seed: Date.now() >>> 0, json: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = () => argv[++i]!;
    if (arg === '--packets') a.packets = Number(next());
    else if (arg === '--concurrency') a.concurrency = Number(next());
    else if (arg === '--seconds') a.seconds = Number(next());
    else if (arg === '--seed') a.seed = Number(next()) >>> 0;
    else if (arg === '--json') a.json = next();
    else {
      console.error(`usage: node dist/scripts/fuzz/mqtt-fuzz.js [--packets N] [--concurrency C] [--seconds S] [--seed X] [--json FILE]; unknown ${arg}`);
      process.exit(2);
    }
  }
  return a;
}

const MiB = (b: number) => (b / 1048576).toFixed(1);
const UNHANDLED = /packet handler failed|uncaught|unhandled/i;

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2));
  requirePeer('wharf');
  // --expose-gc: the bench's heap sampler runs a full GC on SIGUSR2, so the heap figures hold live objects only.
  const flags = process.env.WHARF_BENCH_NODE_FLAGS ?? EMBEDDED_NODE_FLAGS.join(' '); // as npm start, unless set
  if (!flags.includes('--expose-gc')) process.env.WHARF_BENCH_NODE_FLAGS = `${flags} --expose-gc`.trim();
  const peer = await startPeer('wharf', { sampleHeap: true });
  const liveHeap = async () => {
    process.kill(peer.pid, 'SIGUSR2');
    await new Promise((r) => setTimeout(r, 600));
    return peer.memorySamples(Date.now() - 300, Date.now())?.at(-1)?.heapUsed ?? NaN;
  };
  let exitCode = 0;
  try {
    // The well-behaved client: QoS 1 to itself every 20 ms, all through the storm.
    const canary = mqtt.connect(`mqtt://127.0.0.1:${peer.port}`, { clientId: 'fuzz-canary', protocolVersion: 5, reconnectPeriod: 0 });
    await new Promise<void>((resolve, reject) => (canary.once('connect', () => resolve()), canary.once('error', reject)));
    let sent = 0;
    let received = 0;
    let canaryClosed = false;
    canary.on('close', () => (canaryClosed = true));
    canary.on('message', () => received++);
    await canary.subscribeAsync('canary/#', { qos: 1 });
    const ticker = setInterval(() => {
      sent++;
      canary.publish('canary/tick', String(sent), { qos: 1 });
    }, 20);
    await new Promise((r) => setTimeout(r, 1000));
    const heapBefore = await liveHeap();
    const rssBefore = peer.rssBytes();
    console.log(`fuzzing wharf pid ${peer.pid} on 127.0.0.1:${peer.port}: ${args.packets} packets, ${args.concurrency} connections at once, at most ${args.seconds} s, seed ${args.seed}`);
    const report = await runFuzz({ port: peer.port, packets: args.packets, concurrency: args.concurrency, deadline: Date.now() + args.seconds * 1000, seed: args.seed });
    clearInterval(ticker);
    // The last ticks' PUBACKs and deliveries, and the broker's release of the fuzz connections' memory.
    for (let i = 0; i < 100 && received < sent && !canaryClosed; i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 2000));
    const heapAfter = await liveHeap();
    const rssAfter = peer.rssBytes();
    const crashed = peer.exited();
    const unhandled = peer.output().split('\n').filter((l) => UNHANDLED.test(l));
    canary.end(true);

    console.log('');
    console.log(`packets sent:      ${report.packets}`);
    console.log(`connections:       ${report.connections} (${(report.connections / (report.elapsedMs / 1000)).toFixed(0)}/s over ${(report.elapsedMs / 1000).toFixed(1)} s)`);
    console.log(`by category:       ${Object.entries(report.byCategory).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    console.log('closes by reason:');
    for (const [k, v] of Object.entries(report.closes).sort((x, y) => y[1] - x[1])) console.log(`  ${k.padEnd(44)} ${v}`);
    console.log(`hung connections:  ${report.hung}`);
    console.log(`connect errors:    ${report.connectErrors}`);
    console.log(`unparsable replies: ${report.unparsableReplies}`);
    console.log(`crashes:           ${crashed ? 1 : 0}`);
    console.log(`unhandled errors:  ${unhandled.length}${unhandled.length > 0 ? `\n  ${unhandled.slice(0, 5).join('\n  ')}` : ''}`);
    console.log(`well-behaved client: ${received}/${sent} messages back${canaryClosed ? ' (its connection closed!)' : ''}`);
    console.log(`broker RSS:        ${MiB(rssBefore)} MiB before, ${MiB(rssAfter)} MiB after`);
    console.log(`broker heap:       ${MiB(heapBefore)} MiB before, ${MiB(heapAfter)} MiB after (live, after a full GC)`);
    writeJsonRecord(args.json, { ...report, crashes: crashed ? 1 : 0, unhandled: unhandled.length, canarySent: sent, canaryReceived: received, rssBefore, rssAfter, heapBefore, heapAfter });
    if (crashed || unhandled.length > 0 || report.hung > 0 || received < sent || canaryClosed || report.connectErrors > 0) exitCode = 1;
  } finally {
    await peer.stop();
  }
  process.exit(exitCode);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
