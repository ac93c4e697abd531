// The bridge catch-up bench's ceiling peer: an ideal gateway whose backlog is already in memory as finished
// PUBLISH frames, sent with a fixed window of QoS 1 messages in flight over a raw socket (one write per batch of
// PUBACKs read), through the same proxy into the same upstream. What it reaches is what the upstream, the path
// and the counter allow on this machine when the gateway costs next to nothing.
//
//   forked by bridge-catchup.js with: <proxy port> <messages> <size> <inflight>; starts on the IPC message 'go'

import net from 'node:net';
import mqttPacket from 'mqtt-packet';

const port = Number(process.argv[2]);
const messages = Number(process.argv[3]);
const size = Number(process.argv[4]);
const inflight = Number(process.argv[5]);
const LIFETIME_MS = 900_000;

/** Every PUBLISH frame built before the link returns, as a gateway's backlog would be on disk. */
function buildFrames(): Buffer[] {
  const frames: Buffer[] = [];
  const filler = Buffer.alloc(size, 0x61);
  for (let i = 0; i < messages; i++) {
    const payload = Buffer.from(filler);
    payload.write(String(i).padStart(9, '0'));
    frames.push(mqttPacket.generate({ cmd: 'publish', topic: 'bench/x', payload, qos: 1, messageId: (i % 65535) + 1, retain: false, dup: false }));
  }
  return frames;
}

const frames = buildFrames();

function run(): void {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  let next = 0;
  let acked = 0;
  let connected = false;
  let pending = Buffer.alloc(0);
  const fill = (): void => {
    const burst: Buffer[] = [];
    while (next < messages && next - acked < inflight) burst.push(frames[next++]!);
    if (burst.length > 0) socket.write(burst.length === 1 ? burst[0]! : Buffer.concat(burst));
  };
  socket.on('data', (d) => {
    pending = pending.length === 0 ? d : Buffer.concat([pending, d]);
    let at = 0;
    // CONNACK (0x20 0x02 ..) and PUBACK (0x40 0x02 id id): fixed 4 bytes each from an MQTT 3.1.1 broker.
    while (pending.length - at >= 4) {
      const type = pending[at]! >> 4;
      if (type === 2) connected = true;
      else if (type === 4) acked++;
      at += 2 + pending[at + 1]!;
    }
    pending = pending.subarray(at);
    if (!connected) return;
    if (acked >= messages) {
      socket.end();
      process.send!({ type: 'done' });
      return;
    }
    fill();
  });
  socket.on('error', (err) => {
    process.send!({ type: 'error', message: err.message });
    process.exit(1);
  });
  socket.once('connect', () => {
    socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: `bench-ceiling-${process.pid}`, keepalive: 0 }));
  });
}

process.on('message', (m: { type: string }) => {
  if (m.type === 'go') run();
});
process.on('disconnect', () => process.exit(0));
process.send!({ type: 'ready' });
setTimeout(() => process.exit(3), LIFETIME_MS).unref();
