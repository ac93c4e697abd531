// The parser's byte list (src/protocol/byte-list.ts) must read exactly as bl's BufferList did, whichever way the
// socket cut the bytes into chunks; and the packet parser over it must give the same packets for every cut.

import mqtt, { type Packet } from 'mqtt-packet';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ByteList } from '../../src/protocol/byte-list.js';
import { createPacketParser } from '../../src/protocol/codec.js';

const test = suite('protocol: byte list');

const BYTES = Buffer.from(Array.from({ length: 40 }, (_, i) => (i * 37 + 11) & 0xff));

/** `BYTES` appended in chunks cut at `cuts`, with `consumed` bytes consumed. */
function listOf(cuts: number[], consumed: number): ByteList {
  const list = new ByteList();
  let at = 0;
  for (const cut of [...cuts, BYTES.length]) {
    list.append(BYTES.subarray(at, cut));
    at = cut;
  }
  list.consume(consumed);
  return list;
}

test('reads, slices and decodes the same bytes for every chunking and consumed prefix', () => {
  const cutsList = [[], [1], [3, 4], [5, 6, 7, 30], [10, 20, 39]];
  for (const cuts of cutsList) {
    for (const consumed of [0, 1, 4, 6, 21]) {
      const list = listOf(cuts, consumed);
      const rest = BYTES.subarray(consumed);
      assert.is(list.length, rest.length, `length, cuts ${cuts} consumed ${consumed}`);
      for (let i = 0; i < rest.length; i++) assert.is(list.readUInt8(i), rest[i], `byte ${i}, cuts ${cuts} consumed ${consumed}`);
      for (let i = 0; i + 2 <= rest.length; i++) assert.is(list.readUInt16BE(i), rest.readUInt16BE(i), `u16 ${i}, cuts ${cuts}`);
      for (let i = 0; i + 4 <= rest.length; i++) assert.is(list.readUInt32BE(i), rest.readUInt32BE(i), `u32 ${i}, cuts ${cuts}`);
      for (const [s, e] of [[0, rest.length], [2, 9], [5, 6], [3, 3], [0, 1000]] as const) {
        assert.equal([...list.slice(s, e)], [...rest.subarray(s, e)], `slice ${s}..${e}, cuts ${cuts} consumed ${consumed}`);
        assert.is(list.toString('hex', s, e), rest.subarray(s, e).toString('hex'));
      }
    }
  }
});

test('reading past the end throws, consuming everything empties it', () => {
  const list = listOf([7], 0);
  assert.throws(() => list.readUInt8(BYTES.length), RangeError);
  list.consume(BYTES.length + 5);
  assert.is(list.length, 0);
  list.append(Buffer.of(9, 8));
  assert.is(list.readUInt16BE(0), 0x0908);
});

test('the packet parser gives the same packets however the stream is cut', () => {
  const packets: Packet[] = [
    { cmd: 'publish', topic: 'a/b', payload: Buffer.alloc(300, 7), qos: 1, messageId: 17, retain: false, dup: false },
    { cmd: 'puback', messageId: 3 },
    { cmd: 'publish', topic: 'é/ü', payload: Buffer.from('x'), qos: 0, retain: true, dup: false },
    { cmd: 'pingreq' },
    { cmd: 'publish', topic: 'c', payload: Buffer.alloc(20000, 1), qos: 2, messageId: 65535, retain: false, dup: true },
  ];
  const wire = Buffer.concat(packets.map((p) => mqtt.generate(p)));
  const seen = (chunk: number): Packet[] => {
    const out: Packet[] = [];
    const parser = createPacketParser(1 << 20, (p) => out.push(p), (err) => assert.unreachable(err.message));
    for (let at = 0; at < wire.length; at += chunk) parser.parse(wire.subarray(at, at + chunk));
    return out;
  };
  const whole = seen(wire.length);
  assert.is(whole.length, packets.length);
  for (const chunk of [1, 2, 3, 7, 64, 299, 1000]) {
    const got = seen(chunk);
    assert.is(got.length, whole.length, `chunk ${chunk}`);
    got.forEach((p, i) => {
      const w = whole[i] as Packet & { payload?: Buffer; topic?: string; messageId?: number; qos?: number };
      const q = p as typeof w;
      assert.is(q.cmd, w.cmd);
      assert.is(q.topic, w.topic, `topic of ${i}, chunk ${chunk}`);
      assert.is(q.messageId, w.messageId);
      assert.is(q.qos, w.qos);
      assert.is(q.payload == null ? null : Buffer.compare(q.payload, w.payload!), w.payload == null ? null : 0, `payload of ${i}, chunk ${chunk}`);
    });
  }
});

test.run();
