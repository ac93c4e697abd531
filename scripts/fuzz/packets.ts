// Hostile input for the MQTT fuzzer, by category (issue 17): each generator returns the bytes one connection
// sends, and how many packets they hold. Valid packets come from mqtt-packet and are then mutated.

import mqtt from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';

export type Rand = () => number;

/** Seeded (mulberry32), so a run that breaks something can be replayed from its seed. */
export { prng } from '../../test/helpers/prng.js';

export const CATEGORIES = [
  'random-bytes',
  'flipped-bits',
  'wrong-remaining-length',
  'bad-varint',
  'bad-properties',
  'bad-utf8',
  'out-of-order',
  'huge-topic-alias',
  'subscription-id-0',
] as const;
export type Category = (typeof CATEGORIES)[number];

export interface Case {
  category: Category;
  version: 4 | 5;
  /** Everything the connection sends, in one write. */
  bytes: Buffer;
  packets: number;
}

const int = (rand: Rand, n: number) => Math.floor(rand() * n);
const gen = (p: Partial<Packet> & { cmd: string }, version: 4 | 5) => mqtt.generate(p as Packet, { protocolVersion: version });

export function connectPacket(version: 4 | 5, clientId: string): Buffer {
  return gen({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clean: true, keepalive: 30, clientId } as Partial<Packet> & { cmd: 'connect' }, version);
}

/** The valid packets a client may send after CONNECT, varied by `rand`. */
function validPacket(rand: Rand, version: 4 | 5, id: number): Buffer {
  const topic = `fuzz/${int(rand, 50)}/${int(rand, 1000)}`;
  switch (int(rand, 6)) {
    case 0:
    case 1:
      return gen({ cmd: 'publish', topic, payload: Buffer.alloc(int(rand, 64), int(rand, 256)), qos: 0, retain: false, dup: false } as Partial<Packet> & { cmd: 'publish' }, version);
    case 2:
      return gen({ cmd: 'publish', topic, payload: Buffer.from('q1'), qos: 1, messageId: id, retain: false, dup: false } as Partial<Packet> & { cmd: 'publish' }, version);
    case 3:
      return gen({ cmd: 'subscribe', messageId: id, subscriptions: [{ topic: rand() < 0.5 ? topic : 'fuzz/+/#', qos: int(rand, 3) as 0 | 1 | 2 }] } as Partial<Packet> & { cmd: 'subscribe' }, version);
    case 4:
      return gen({ cmd: 'unsubscribe', messageId: id, unsubscriptions: [topic] } as Partial<Packet> & { cmd: 'unsubscribe' }, version);
    default:
      return gen({ cmd: 'pingreq' }, version);
  }
}

/** A run of `n` valid packets (mutated in topic, payload, ids), then possibly a hostile one. */
function validRun(rand: Rand, version: 4 | 5, n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) out.push(validPacket(rand, version, 1 + int(rand, 65535)));
  return out;
}

function flipBits(rand: Rand, buf: Buffer): Buffer {
  const out = Buffer.from(buf);
  const flips = 1 + int(rand, 3);
  for (let i = 0; i < flips; i++) out[int(rand, out.length)]! ^= 1 << int(rand, 8);
  return out;
}

function varint(n: number): Buffer {
  const bytes: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    bytes.push(b);
  } while (n > 0);
  return Buffer.from(bytes);
}

function utf8Field(bytes: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

/** A 5.0 PUBLISH QoS 0 from raw parts: topic bytes and property bytes exactly as given. */
function rawPublish5(topic: Buffer, props: Buffer, payload: Buffer): Buffer {
  const body = Buffer.concat([utf8Field(topic), varint(props.length), props, payload]);
  return Buffer.concat([Buffer.from([0x30]), varint(body.length), body]);
}

function hostile(rand: Rand, category: Category, version: 4 | 5): Buffer {
  switch (category) {
    case 'random-bytes': {
      const b = Buffer.alloc(1 + int(rand, 128));
      for (let i = 0; i < b.length; i++) b[i] = int(rand, 256);
      return b;
    }
    case 'flipped-bits':
      return flipBits(rand, validPacket(rand, version, 1 + int(rand, 65535)));
    case 'wrong-remaining-length': {
      const p = Buffer.from(validPacket(rand, version, 7));
      // A one-byte remaining length (these packets are short) set to another value.
      p[1] = int(rand, 128);
      return p;
    }
    case 'bad-varint':
      // Five continuation bytes (the limit is four, [MQTT-1.5.5-1]), or one that ends mid-number.
      return rand() < 0.5 ? Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f]) : Buffer.from([0x30, 0x80 | int(rand, 128)]);
    case 'bad-properties': {
      if (version === 4) return flipBits(rand, validPacket(rand, version, 3));
      const kind = int(rand, 3);
      // Unknown identifier 0x7f; a Payload Format Indicator twice; a property length running past the packet.
      const props = kind === 0 ? Buffer.from([0x7f, 0x00]) : kind === 1 ? Buffer.from([0x01, 0x01, 0x01, 0x01]) : Buffer.from([0x23, 0x00]);
      const p = rawPublish5(Buffer.from('fuzz/props'), props, Buffer.from('x'));
      if (kind === 2) p[4 + 'fuzz/props'.length] = 0x40; // property length larger than what follows
      return p;
    }
    case 'bad-utf8': {
      const bad = [Buffer.from([0xc3, 0x28]), Buffer.from('a\u0000b'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xff])][int(rand, 4)]!;
      return version === 5 ? rawPublish5(bad, Buffer.alloc(0), Buffer.from('x')) : Buffer.concat([Buffer.from([0x30]), varint(bad.length + 3), utf8Field(bad), Buffer.from('x')]);
    }
    case 'out-of-order':
      // A second CONNECT [MQTT-3.1.0-2]; a server-only packet (CONNACK, SUBACK); PUBREL for nothing.
      return [connectPacket(version, 'again'), gen({ cmd: 'connack', returnCode: 0, reasonCode: 0, sessionPresent: false } as Partial<Packet> & { cmd: 'connack' }, version), gen({ cmd: 'suback', messageId: 1, granted: [0] } as Partial<Packet> & { cmd: 'suback' }, version)][int(rand, 3)]!;
    case 'huge-topic-alias':
      if (version === 4) return flipBits(rand, validPacket(rand, version, 3));
      return rawPublish5(Buffer.from(rand() < 0.5 ? 'fuzz/alias' : ''), Buffer.concat([Buffer.from([0x23]), Buffer.from([0xff, 0xff])]), Buffer.from('x'));
    case 'subscription-id-0': {
      if (version === 4) return flipBits(rand, validPacket(rand, version, 3));
      const body = Buffer.concat([Buffer.from([0x00, 0x05]), Buffer.from([0x02, 0x0b, 0x00]), utf8Field(Buffer.from('fuzz/#')), Buffer.from([0x01])]);
      return Buffer.concat([Buffer.from([0x82]), varint(body.length), body]);
    }
  }
}

/** One connection's input: usually a valid CONNECT, some mutated-but-valid packets, then a hostile one. */
export function makeCase(rand: Rand, index: number, maxRun: number): Case {
  const category = CATEGORIES[index % CATEGORIES.length]!;
  const version: 4 | 5 = rand() < 0.5 ? 4 : 5;
  const parts: Buffer[] = [];
  // Out of order includes PUBLISH before CONNECT; one case in ten everywhere starts without CONNECT.
  const withConnect = !(category === 'out-of-order' && rand() < 0.5) && rand() >= 0.1;
  if (withConnect) parts.push(connectPacket(version, `fz-${index}`));
  parts.push(...validRun(rand, version, int(rand, maxRun + 1)));
  parts.push(hostile(rand, category, version));
  return { category, version, bytes: Buffer.concat(parts), packets: parts.length };
}
