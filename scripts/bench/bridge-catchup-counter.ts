// The bridge catch-up bench's subscriber on the upstream, in a process of its own so that its CPU is measured
// apart from the harness (which runs the proxy): it counts unique sequence numbers and duplicates of what the
// upstream delivers and reports them to its parent over IPC.
//
//   forked by bridge-catchup.js with: <upstream port> <messages>

import net from 'node:net';
import mqttPacket from 'mqtt-packet';

export interface CounterReport {
  unique: number;
  duplicates: number;
  /** Wall-clock ms (Date.now()) of the first and last arrival; 0 before any. */
  firstAt: number;
  lastAt: number;
}

const port = Number(process.argv[2]);
const messages = Number(process.argv[3]);
const seen = new Uint8Array(messages);
const report: CounterReport = { unique: 0, duplicates: 0, firstAt: 0, lastAt: 0 };
/** Bounds the process: the harness stops it long before. */
const LIFETIME_MS = 900_000;

function count(payload: Buffer): void {
  // The sequence number is the payload's first 9 ASCII digits.
  let i = 0;
  for (let k = 0; k < 9; k++) i = i * 10 + (payload[k]! - 0x30);
  if (!(i >= 0 && i < messages)) return;
  const now = Date.now();
  if (report.firstAt === 0) report.firstAt = now;
  report.lastAt = now;
  if (seen[i] === 1) report.duplicates++;
  else {
    seen[i] = 1;
    report.unique++;
  }
}

// A raw MQTT 3.1.1 subscriber that reads the frames itself (mqtt-packet's parser cost about 40 µs of CPU per
// message here, as much as the upstream broker) and answers the PUBLISHes of one read with one write of PUBACKs:
// counting must not take the CPU the peers compete for.
const socket = net.connect(port, '127.0.0.1');
socket.setNoDelay(true);
let rest: Buffer = Buffer.alloc(0);
let acks = Buffer.alloc(4 * 1024);

/** Parses whole frames of `data`, returns how many bytes it used; PUBACKs go into `acks` (count returned). */
function parse(data: Buffer): { used: number; acked: number } {
  let at = 0;
  let acked = 0;
  while (at + 2 <= data.length) {
    const first = data[at]!;
    let length = 0;
    let shift = 0;
    let p = at + 1;
    for (;;) {
      if (p >= data.length) return { used: at, acked };
      const b = data[p++]!;
      length |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) break;
      shift += 7;
    }
    if (p + length > data.length) return { used: at, acked };
    const type = first >> 4;
    if (type === 9) process.send!({ type: 'ready' }); // SUBACK
    else if (type === 3) {
      const qos = (first >> 1) & 3;
      const topicLength = data.readUInt16BE(p);
      let q = p + 2 + topicLength;
      if (qos > 0) {
        if ((acked + 1) * 4 > acks.length) acks = Buffer.concat([acks, Buffer.alloc(acks.length)]);
        acks[acked * 4] = 0x40;
        acks[acked * 4 + 1] = 2;
        acks[acked * 4 + 2] = data[q]!;
        acks[acked * 4 + 3] = data[q + 1]!;
        acked++;
        q += 2;
      }
      count(data.subarray(q, p + length));
    }
    at = p + length;
  }
  return { used: at, acked };
}

socket.on('data', (d: Buffer) => {
  const data = rest.length === 0 ? d : Buffer.concat([rest, d]);
  const { used, acked } = parse(data);
  rest = used === data.length ? Buffer.alloc(0) : Buffer.from(data.subarray(used));
  if (acked > 0) socket.write(Buffer.from(acks.subarray(0, acked * 4)));
});
socket.on('error', (err) => {
  process.send!({ type: 'error', message: err.message });
  process.exit(1);
});
socket.once('connect', () => {
  socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: `bench-obs-${process.pid}`, keepalive: 0 }));
  socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'bench/#', qos: 1 }] }));
});

process.on('message', (m: { type: string }) => {
  if (m.type === 'report') process.send!({ type: 'report', report });
  else if (m.type === 'stop') {
    socket.destroy();
    process.send!({ type: 'report', report }, () => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
setTimeout(() => process.exit(3), LIFETIME_MS).unref();
