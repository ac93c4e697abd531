// The packet parser's own decoding of whole PUBLISH packets (src/protocol/codec.ts) must give what mqtt-packet's
// parser gives: the same packets with the same fields in the same order, and the same error at the same point.
// Bytes fed one at a time never reach that decoding (no PUBLISH is whole in one byte), so they are the reference.

import mqtt, { type Packet } from 'mqtt-packet';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createPacketParser, type ProtocolVersion } from '../../src/protocol/codec.js';

const test = suite('protocol: codec');

interface Outcome {
  events: string[];
}

/** Everything the parser reports for `wire` cut into chunks at `cuts` (byte offsets), as comparable text. */
function parseAll(wire: Buffer, cuts: readonly number[], version: ProtocolVersion, maxPacketSize: number): Outcome {
  const events: string[] = [];
  const parser = createPacketParser(
    maxPacketSize,
    (p) => events.push(describe(p)),
    (err) => events.push(`error 0x${err.reasonCode.toString(16)} ${err.message}`),
  );
  parser.setProtocolVersion(version);
  let at = 0;
  for (const cut of [...cuts, wire.length]) {
    if (cut > at) parser.parse(wire.subarray(at, cut));
    at = Math.max(at, cut);
  }
  return { events };
}

/** A packet's own fields in their order (the same order means the same object shape), payloads as hex. */
function describe(p: Packet): string {
  return JSON.stringify(Object.entries(p).map(([k, v]) => [k, Buffer.isBuffer(v) ? `hex:${v.toString('hex')}` : v]));
}

function byteByByte(wire: Buffer): number[] {
  return Array.from({ length: wire.length }, (_, i) => i);
}

/** A small deterministic generator, so that a failure can be reproduced from its seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

/** Remaining Length bytes; `extra` more bytes (non-minimal, or past the 4-byte limit with continuation set). */
function varInt(n: number, extra = 0): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0 || extra > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  for (let i = 0; i < extra; i++) out.push(i === extra - 1 ? 0 : 0x80);
  return out;
}

/** A PUBLISH (often not a valid one) built from random choices; sometimes another packet instead. */
function randomPacket(r: () => number, version: ProtocolVersion): Buffer {
  const kind = r();
  if (kind < 0.05) return Buffer.from([0xc0, 0x00]); // PINGREQ
  if (kind < 0.1) return Buffer.from([0x40, 0x02, 0x00, 1 + Math.floor(r() * 9)]); // PUBACK
  if (kind < 0.12) return Buffer.from([0x82, 0x00]); // SUBSCRIBE, empty: an error later on
  const qos = r() < 0.03 ? 3 : Math.floor(r() * 3);
  const first = 0x30 | (qos << 1) | (r() < 0.2 ? 0x08 : 0) | (r() < 0.2 ? 0x01 : 0);
  const topics = ['a/b', 'bench/window/queue/0', '', 'é/ü/✓', 'x\u0000y', 'r\uFFFDs', '$SYS/x', '+/#'];
  let topic = Buffer.from(topics[Math.floor(r() * topics.length)]!);
  if (r() < 0.05) topic = Buffer.from([0x61, 0xc3, 0x28]); // ill-formed UTF-8
  const body: number[] = [topic.length >> 8, topic.length & 0xff, ...topic];
  if (qos > 0) {
    const id = r() < 0.05 ? 0 : Math.floor(r() * 65536);
    body.push(id >> 8, id & 0xff);
  }
  if (version === 5) {
    const p = r();
    if (p < 0.6) body.push(0);
    else if (p < 0.8) body.push(5, 0x02, 0, 0, 0, 60); // Message Expiry Interval 60
    else if (p < 0.9) body.push(2, 0x01, 1); // Payload Format Indicator
    else body.push(0x80, 0x00); // a non-minimal Property Length of 0
  }
  const payloadLength = r() < 0.15 ? 0 : Math.floor(r() * 400);
  for (let i = 0; i < payloadLength; i++) body.push(i & 0xff);
  let length = body.length;
  const cut = r();
  if (cut < 0.04) length = Math.min(length, 1); // shorter than the topic length
  else if (cut < 0.08) length = qos > 0 ? 2 + topic.length + 1 : Math.max(0, topic.length - 1) + 2; // ends in the id or topic
  const extra = r() < 0.03 ? 1 : r() < 0.02 ? 4 : 0;
  return Buffer.from([first, ...varInt(length, extra), ...body.slice(0, length)]);
}

test('whole PUBLISH packets decode as mqtt-packet decodes them, for every cut and both versions', () => {
  for (let seed = 1; seed <= 400; seed++) {
    const r = rng(seed);
    const version: ProtocolVersion = seed % 2 === 0 ? 5 : 4;
    const packets = Array.from({ length: 1 + Math.floor(r() * 12) }, () => randomPacket(r, version));
    const wire = Buffer.concat(packets);
    const maxPacketSize = r() < 0.3 ? 200 : 1 << 20;
    const reference = parseAll(wire, byteByByte(wire), version, maxPacketSize);
    const cutsList: number[][] = [[], [1], [Math.floor(wire.length / 2)], [3, 4, 200], Array.from({ length: 5 }, () => Math.floor(r() * wire.length)).sort((a, b) => a - b)];
    // A cut at each packet boundary too: every packet then starts a chunk.
    let at = 0;
    cutsList.push(packets.map((p) => (at += p.length)));
    for (const cuts of cutsList) {
      const got = parseAll(wire, cuts, version, maxPacketSize);
      assert.equal(got.events, reference.events, `seed ${seed}, version ${version}, cuts ${cuts.join(',')}`);
    }
  }
});

test('a PUBLISH decoded from a whole chunk has the fields of a generated one', () => {
  const wire = mqtt.generate({ cmd: 'publish', topic: 'a/b', payload: Buffer.from('hi'), qos: 1, messageId: 7, retain: true, dup: false });
  const seen: Packet[] = [];
  createPacketParser(1 << 20, (p) => seen.push(p), (err) => assert.unreachable(err.message)).parse(wire);
  assert.is(seen.length, 1);
  const p = seen[0] as Packet & { topic: string; payload: Buffer; messageId: number; qos: number; retain: boolean; dup: boolean; length: number };
  assert.equal([p.cmd, p.topic, p.payload.toString(), p.messageId, p.qos, p.retain, p.dup, p.length], ['publish', 'a/b', 'hi', 7, 1, true, false, wire.length - 2]);
  // The payload is a view of the chunk, as mqtt-packet's is when the packet lies in one chunk.
  assert.is(p.payload.buffer, wire.buffer);
});

test('packets after a decoded run still go through mqtt-packet, across chunks', () => {
  const a = mqtt.generate({ cmd: 'publish', topic: 't', payload: Buffer.alloc(10, 1), qos: 0, retain: false, dup: false });
  const b = mqtt.generate({ cmd: 'publish', topic: 'u', payload: Buffer.alloc(50, 2), qos: 2, messageId: 9, retain: false, dup: false });
  const ping = Buffer.from([0xc0, 0x00]);
  const wire = Buffer.concat([a, a, ping, b, a]);
  const seen: string[] = [];
  const parser = createPacketParser(1 << 20, (p) => seen.push(p.cmd), (err) => assert.unreachable(err.message));
  // The second chunk starts inside b: mqtt-packet holds the rest of the first chunk, and the rest comes later.
  const cut = 2 * a.length + ping.length + 5;
  parser.parse(wire.subarray(0, cut));
  assert.equal(seen, ['publish', 'publish', 'pingreq']);
  parser.parse(wire.subarray(cut));
  assert.equal(seen, ['publish', 'publish', 'pingreq', 'publish', 'publish']);
});

test.run();
