// A storm of connections (issue 17): 10,000 sockets opened, CONNECTed and closed as fast as the loopback allows,
// at most C at a time, against a `wharf start` child, while a well-behaved client exchanges QoS 1 messages with
// itself. Prints the storm's rate, the well-behaved client's messages, and the broker's RSS before, at the peak and
// some seconds after (memory given back?). Bounded in time.
//
//   node dist/scripts/bench/connection-storm.js [--connections N] [--concurrency C] [--seconds S] [--settle S]

import net from 'node:net';
import { EMBEDDED_NODE_FLAGS } from '../../src/cli/node-flags.js';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';
import { startPeer } from './peers.js';
import { requirePeer, runStandalone } from './standalone.js';

interface Args {
  connections: number;
  concurrency: number;
  seconds: number;
  settle: number;
}

function parse(argv: string[]): Args {
  const a: Args = { connections: 10_000, concurrency: 100, seconds: 300, settle: 10 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const v = Number(argv[++i]);
    if (arg === '--connections') a.connections = v;
    else if (arg === '--concurrency') a.concurrency = v;
    else if (arg === '--seconds') a.seconds = v;
    else if (arg === '--settle') a.settle = v;
    else {
      console.error(`usage: node dist/scripts/bench/connection-storm.js [--connections N] [--concurrency C] [--seconds S] [--settle S]; unknown ${arg}`);
      process.exit(2);
    }
  }
  return a;
}

const MiB = (b: number) => (b / 1048576).toFixed(1);

/** One client: CONNECT, wait for CONNACK, close. Resolves with the CONNACK code, or -1 if none came. */
function connectAndClose(port: number, i: number): Promise<number> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    let code = -1;
    parser.on('packet', (p: Packet) => {
      if (p.cmd === 'connack') {
        code = p.returnCode ?? 0;
        socket.destroy();
      }
    });
    socket.on('connect', () => socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 30, clientId: `storm-${i}` } as Packet)));
    socket.on('data', (d) => parser.parse(d));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(code));
  });
}

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2));
  requirePeer('wharf');
  // --expose-gc: heap-sampler.ts runs a full GC on SIGUSR2, so the heap figures hold live objects only.
  const flags = process.env.WHARF_BENCH_NODE_FLAGS ?? EMBEDDED_NODE_FLAGS.join(' '); // as npm start, unless set
  if (!flags.includes('--expose-gc')) process.env.WHARF_BENCH_NODE_FLAGS = `${flags} --expose-gc`.trim();
  const fullGc = async () => {
    process.kill(peer.pid, 'SIGUSR2');
    await new Promise((r) => setTimeout(r, 600));
  };
  const peer = await startPeer('wharf', { sampleHeap: true });
  try {
    const canary = mqtt.connect(`mqtt://127.0.0.1:${peer.port}`, { clientId: 'storm-canary', reconnectPeriod: 0 });
    await new Promise<void>((resolve, reject) => (canary.once('connect', () => resolve()), canary.once('error', reject)));
    let sent = 0;
    let received = 0;
    canary.on('message', () => received++);
    await canary.subscribeAsync('canary/#', { qos: 1 });
    const ticker = setInterval(() => canary.publish('canary/t', String(++sent), { qos: 1 }), 20);
    await new Promise((r) => setTimeout(r, 2000));
    await fullGc();
    const rssBefore = peer.rssBytes();
    const tBefore = Date.now();
    let peak = rssBefore;
    const sampler = setInterval(() => (peak = Math.max(peak, peer.rssBytes())), 100);
    const deadline = Date.now() + args.seconds * 1000;
    const codes = new Map<number, number>();
    let next = 0;
    const started = Date.now();
    await Promise.all(
      Array.from({ length: args.concurrency }, async () => {
        while (next < args.connections && Date.now() < deadline) {
          const code = await connectAndClose(peer.port, next++);
          codes.set(code, (codes.get(code) ?? 0) + 1);
        }
      }),
    );
    const stormMs = Date.now() - started;
    const rssAfterStorm = peer.rssBytes();
    await new Promise((r) => setTimeout(r, args.settle * 1000));
    clearInterval(sampler);
    clearInterval(ticker);
    for (let i = 0; i < 100 && received < sent; i++) await new Promise((r) => setTimeout(r, 50));
    await fullGc();
    const rssSettled = peer.rssBytes();
    // The JavaScript heap after a full GC (the last sample of each phase): what the connections left behind,
    // unlike RSS, which keeps the pages V8 and the allocator took at the peak.
    const heapAt = (from: number, to: number) => peer.memorySamples(from, to)?.at(-1)?.heapUsed ?? NaN;
    const heapBefore = heapAt(0, tBefore);
    const heapSettled = heapAt(Date.now() - 1000, Date.now());
    canary.end(true);
    console.log(`connections: ${next} in ${(stormMs / 1000).toFixed(1)} s (${(next / (stormMs / 1000)).toFixed(0)}/s), ${args.concurrency} at a time`);
    console.log(`CONNACK codes: ${[...codes].map(([c, n]) => `${c === -1 ? 'none' : c}: ${n}`).join(', ')}`);
    console.log(`well-behaved client: ${received}/${sent} messages back`);
    console.log(`broker RSS: ${MiB(rssBefore)} MiB before, ${MiB(peak)} MiB peak, ${MiB(rssAfterStorm)} MiB right after, ${MiB(rssSettled)} MiB ${args.settle} s later`);
    console.log(`broker heap used after a full GC: ${MiB(heapBefore)} MiB before, ${MiB(heapSettled)} MiB at the end`);
    console.log(`broker alive: ${!peer.exited()}`);
  } finally {
    await peer.stop();
  }
}

runStandalone(main);
