// Drives the fuzzer: many concurrent loopback connections, each sending one Case (packets.ts), then waiting for
// the broker to close it (or ending it after a quiet moment when the input happened to be valid). Bounded by
// a packet count and a deadline; counts how each connection ended.

import net from 'node:net';
import mqtt from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';
import { CATEGORIES, makeCase, prng, type Category } from './packets.js';

export interface FuzzOptions {
  host?: string;
  port: number;
  /** Stop after this many packets have been sent. */
  packets: number;
  /** Connections open at once. */
  concurrency: number;
  /** Stop at this time (Date.now()) at the latest, whatever the count. */
  deadline: number;
  seed: number;
  /** Most valid (mutated) packets before the hostile one on a connection. */
  maxRun?: number;
  /** A connection the broker leaves open this long after the input is ended by the fuzzer. */
  quietMs?: number;
}

export interface FuzzReport {
  seed: number;
  packets: number;
  connections: number;
  /** How connections ended: "disconnect 0x81", "connack 0x84", "closed" (no reason: 3.1.1, before CONNECT), "ended by fuzzer (input incomplete or valid)". */
  closes: Record<string, number>;
  byCategory: Record<Category, number>;
  /** The broker did not close within 5 s of the fuzzer ending its side: a leak or a hang. */
  hung: number;
  /** Connections refused or reset before any reply (the broker or the listener was not there). */
  connectErrors: number;
  /** Replies the fuzzer could not parse in the connection's protocol version. */
  unparsableReplies: number;
  elapsedMs: number;
}

export async function runFuzz(o: FuzzOptions): Promise<FuzzReport> {
  const rand = prng(o.seed);
  const maxRun = o.maxRun ?? 200;
  const quietMs = o.quietMs ?? 200;
  const report: FuzzReport = {
    seed: o.seed,
    packets: 0,
    connections: 0,
    closes: {},
    byCategory: Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>,
    hung: 0,
    connectErrors: 0,
    unparsableReplies: 0,
    elapsedMs: 0,
  };
  const started = Date.now();
  let index = 0;
  const more = () => report.packets < o.packets && Date.now() < o.deadline;

  const one = async (): Promise<void> => {
    const c = makeCase(rand, index++, maxRun);
    report.packets += c.packets;
    report.connections++;
    report.byCategory[c.category]++;
    const outcome = await new Promise<string>((resolve) => {
      const socket = net.connect(o.port, o.host ?? '127.0.0.1');
      const parser = mqtt.parser({ protocolVersion: c.version });
      let reason = 'closed';
      let endedByUs = false;
      let replied = false;
      let quiet: NodeJS.Timeout | undefined;
      let hang: NodeJS.Timeout | undefined;
      parser.on('packet', (p: Packet) => {
        if (p.cmd === 'disconnect') reason = `disconnect 0x${(p.reasonCode ?? 0).toString(16)}`;
        else if (p.cmd === 'connack' && ((p.reasonCode ?? p.returnCode ?? 0) as number) !== 0) reason = `connack 0x${((p.reasonCode ?? p.returnCode) as number).toString(16)}`;
      });
      parser.on('error', () => report.unparsableReplies++);
      const arm = () => {
        clearTimeout(quiet);
        quiet = setTimeout(() => {
          endedByUs = true;
          socket.end();
          hang = setTimeout(() => {
            report.hung++;
            socket.destroy();
          }, 5000);
        }, quietMs);
      };
      socket.on('connect', () => {
        socket.write(c.bytes);
        arm();
      });
      socket.on('data', (d) => {
        replied = true;
        parser.parse(d);
        if (!endedByUs) arm();
      });
      socket.on('error', (err: NodeJS.ErrnoException) => {
        if (!replied && (err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET')) reason = err.code === 'ECONNREFUSED' ? 'refused' : reason;
      });
      socket.on('close', () => {
        clearTimeout(quiet);
        clearTimeout(hang);
        resolve(reason === 'refused' ? 'refused' : endedByUs && reason === 'closed' ? 'ended by fuzzer (input incomplete or valid)' : reason);
      });
    });
    if (outcome === 'refused') report.connectErrors++;
    report.closes[outcome] = (report.closes[outcome] ?? 0) + 1;
  };

  const worker = async () => {
    while (more()) await one();
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  report.elapsedMs = Date.now() - started;
  return report;
}
