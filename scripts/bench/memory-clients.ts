// Raw-socket clients of the memory benchmark (memory.ts): many idle MQTT 3.1.1 clients at a few hundred bytes each
// on the load side (a LoadClient holds ~1 MB of packet-id tables, too much for 10,000), and the storm of short
// hostile connections (malformed packets, aborted CONNECTs, resets). Loopback only, bounded in count and time.

import net from 'node:net';
import { generate } from 'mqtt-packet';

const CONNACK_BYTES = 4;
const SUBACK_BYTES = 5; // 3.1.1, one topic filter

function connectPacket(clientId: string, keepalive = 60): Buffer {
  return generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: true, keepalive });
}

export interface IdleClients {
  /** Sockets that got their CONNACK and SUBACK and are still open. */
  alive(): number;
  errors: string[];
  close(): Promise<void>;
}

/**
 * Opens `n` clients, each sending CONNECT (keepalive 60 s, clean session) and SUBSCRIBE `idle/<i>` QoS 0 in one
 * write, with at most `concurrency` handshakes in flight; stops at `deadline` (Date.now() clock).
 */
export async function openIdleClients(port: number, n: number, prefix: string, deadline: number, concurrency = 100): Promise<IdleClients> {
  const sockets: net.Socket[] = [];
  const errors: string[] = [];
  let ready = 0;
  let next = 0;
  const one = (i: number) =>
    new Promise<void>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      sockets.push(s);
      let got = 0;
      let done = false;
      let ok = false;
      const finish = (err?: string) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (err !== undefined && errors.length < 5) errors.push(`client ${i}: ${err}`);
        ok = err === undefined;
        if (ok) ready++;
        else s.destroy();
        resolve();
      };
      const timer = setTimeout(() => finish('no CONNACK/SUBACK within 10 s'), 10_000);
      s.on('connect', () => {
        const sub = generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `idle/${i}`, qos: 0 }] });
        s.write(Buffer.concat([connectPacket(`${prefix}-${i}`), sub]));
      });
      s.on('data', (chunk) => {
        got += chunk.length;
        if (got >= CONNACK_BYTES + SUBACK_BYTES) finish();
      });
      s.on('error', (e) => finish(e.message));
      s.on('close', () => {
        if (!done) finish('closed by the broker');
        else if (ok) ready--;
      });
    });
  const worker = async () => {
    while (next < n && Date.now() < deadline) await one(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return {
    alive: () => ready,
    errors,
    close: async () => {
      await Promise.all(
        sockets.map(
          (s) =>
            new Promise<void>((resolve) => {
              if (s.destroyed) return resolve();
              s.once('close', () => resolve());
              s.end(generate({ cmd: 'disconnect' }));
              setTimeout(() => s.destroy(), 1000).unref();
            }),
        ),
      );
    },
  };
}

// --- The storm -----------------------------------------------------------------------------------------------

/** One hostile connection: what it writes (nothing for a bare connect-and-abort) and how it ends. */
interface StormKind {
  name: string;
  bytes: Buffer;
  /** Packets in `bytes` a broker has to refuse (counted as malformed packets sent). */
  malformed: number;
  /** 'wait': wait for the broker to close (200 ms at most), then destroy; 'abort': destroy right after writing; 'reset': RST. */
  end: 'wait' | 'abort' | 'reset';
}

const GOOD_CONNECT = connectPacket('storm', 30);

function stormKinds(): StormKind[] {
  const badProtocol = connectPacket('storm-bad-proto');
  badProtocol.write('MQTX', 4, 'latin1'); // protocol name "MQTX" [MQTT-3.1.2-1]
  const illFormedTopic = Buffer.from([0x30, 0x06, 0x00, 0x02, 0xc3, 0x28, 0x41, 0x42]); // PUBLISH, topic bytes C3 28: not UTF-8
  const emptySubscribe = Buffer.from([0x82, 0x02, 0x00, 0x01]); // SUBSCRIBE without a topic filter [MQTT-3.8.3-3]
  const reservedType = Buffer.from([0x00, 0x00]); // packet type 0 is reserved
  const fiveByteLength = Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x01]); // Remaining Length over 4 bytes
  const huge = Buffer.concat([Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]), Buffer.alloc(1000, 0x41)]); // 256 MB CONNECT announced
  const repeat = (b: Buffer, times: number) => Buffer.concat(Array.from({ length: times }, () => b));
  return [
    // several malformed packets in one write: the broker must refuse at the first and not buffer the rest
    { name: 'reserved type', bytes: repeat(reservedType, 6), malformed: 6, end: 'wait' },
    { name: 'bad protocol name', bytes: badProtocol, malformed: 1, end: 'wait' },
    { name: '5-byte length', bytes: repeat(fiveByteLength, 6), malformed: 6, end: 'wait' },
    { name: 'bad UTF-8 topic', bytes: Buffer.concat([GOOD_CONNECT, repeat(illFormedTopic, 6)]), malformed: 6, end: 'wait' },
    { name: 'empty SUBSCRIBE', bytes: Buffer.concat([GOOD_CONNECT, repeat(emptySubscribe, 6)]), malformed: 6, end: 'wait' },
    { name: 'oversized CONNECT', bytes: huge, malformed: 1, end: 'abort' },
    { name: 'half CONNECT', bytes: GOOD_CONNECT.subarray(0, GOOD_CONNECT.length >> 1), malformed: 0, end: 'abort' },
    { name: 'half CONNECT, RST', bytes: GOOD_CONNECT.subarray(0, GOOD_CONNECT.length - 2), malformed: 0, end: 'reset' },
    { name: 'connect and RST', bytes: Buffer.alloc(0), malformed: 0, end: 'reset' },
    { name: 'CONNECT then RST', bytes: GOOD_CONNECT, malformed: 0, end: 'reset' },
  ];
}

export interface StormResult {
  connections: number;
  malformedPackets: number;
  connectErrors: number;
  durationS: number;
  timedOut: boolean;
}

/** `total` hostile connections round-robin over the kinds, `concurrency` at a time, ending at `deadline` at the latest. */
export async function runStorm(port: number, total: number, deadline: number, concurrency = 200): Promise<StormResult> {
  const kinds = stormKinds();
  let next = 0;
  let malformed = 0;
  let connectErrors = 0;
  const t0 = Date.now();
  const one = (kind: StormKind) =>
    new Promise<void>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        if (timer) clearTimeout(timer);
        s.destroy();
        resolve();
      };
      s.on('error', () => done());
      s.on('close', () => done());
      s.on('data', () => undefined); // whatever the broker answers (CONNACK with a reason code)
      s.on('connect', () => {
        if (kind.bytes.length > 0) s.write(kind.bytes);
        malformed += kind.malformed;
        if (kind.end === 'reset') s.resetAndDestroy();
        else if (kind.end === 'abort') setImmediate(done);
        else timer = setTimeout(done, 200);
      });
      s.once('error', () => {
        if (s.connecting) connectErrors++;
      });
    });
  const worker = async () => {
    while (next < total && Date.now() < deadline) {
      const i = next++;
      await one(kinds[i % kinds.length]!);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { connections: next, malformedPackets: malformed, connectErrors, durationS: (Date.now() - t0) / 1000, timedOut: next < total };
}
