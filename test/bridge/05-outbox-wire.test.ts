// The outbox's own wire path beside MQTT.js: PUBLISH frames as mqtt-packet parses them (3.1.1 and 5, every QoS,
// properties, a large payload written as its own chunk), packet identifiers never shared with MQTT.js or reused
// while in flight, and against a real Mosquitto the QoS 2 exchange and a large payload arriving whole.

import { PassThrough } from 'node:stream';
import mqttPacket, { type IPublishPacket } from 'mqtt-packet';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BurstWriter, FIRST_OUTBOX_PACKET_ID, MqttJsPacketIds, OutboxPacketIds } from '../../src/bridge/outbox-writer.js';
import { encodeProperties, frameBytes, publishFrame } from '../../src/bridge/publish-encoder.js';
import { connectClient, collect, endClient } from '../helpers/mqttjs.js';
import { requireTool, waitFor } from '../helpers/tools.js';
import { sequence, withRig } from './bridge-kit.js';

const wire = suite('bridge outbox wire: own PUBLISH frames, packet ids, QoS 2 and large payloads upstream');
const upstream = requireTool(wire, 'mosquitto');

/** Writes `frames` through one BurstWriter burst and parses what came out. */
async function roundTrip(protocolVersion: 4 | 5, frames: ReturnType<typeof publishFrame>[]): Promise<{ packets: IPublishPacket[]; chunks: number }> {
  const out = new PassThrough();
  const parser = mqttPacket.parser({ protocolVersion });
  const packets: IPublishPacket[] = [];
  let chunks = 0;
  parser.on('packet', (p) => packets.push(p as IPublishPacket));
  parser.on('error', (err) => assert.unreachable(err.message));
  out.on('data', (d: Buffer) => {
    chunks++;
    parser.parse(d);
  });
  const writer = new BurstWriter(out);
  for (const f of frames) writer.publish(f);
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.is(writer.writes, 1, 'one burst');
  return { packets, chunks };
}

wire('MQTT 3.1.1 frames: QoS 0, 1 and 2, retain, DUP, a UTF-8 topic, a payload past the 2-byte remaining length', async () => {
  const big = Buffer.alloc(70_000, 7);
  const frames = [
    publishFrame('a/b', Buffer.from('zero'), 0, false, true, 0, null),
    publishFrame('sites/17/ünïcode/€', Buffer.from('one'), 1, true, false, 1024, null),
    publishFrame('q2', big, 2, false, true, 65535, null),
    publishFrame('empty', Buffer.alloc(0), 1, false, false, 4000, null),
  ];
  const { packets } = await roundTrip(4, frames);
  assert.equal(
    packets.map((p) => [p.topic, p.qos, p.retain, p.dup, p.messageId, p.payload.length]),
    [
      ['a/b', 0, false, false, undefined, 4],
      ['sites/17/ünïcode/€', 1, true, false, 1024, 3],
      ['q2', 2, false, true, 65535, 70_000],
      ['empty', 1, false, false, 4000, 0],
    ],
  );
  assert.ok((packets[2]!.payload as Buffer).equals(big));
  for (const [i, f] of frames.entries()) assert.is(frameBytes(f), mqttPacket.generate({ ...packets[i]!, length: undefined } as IPublishPacket, { protocolVersion: 4 }).length);
});

wire('MQTT 5 frames carry the end-to-end properties, the remaining expiry and the hop marker appended', async () => {
  const props = encodeProperties({
    message: {
      payloadFormatIndicator: true,
      contentType: 'application/json',
      responseTopic: 'replies/op',
      correlationData: Buffer.from([0, 1, 2, 255]),
      userProperties: { a: '1', multi: ['x', 'y'], 'wharf-bridge-hop': 'gw-0' },
    },
    expirySeconds: 90,
    hopName: 'wharf-bridge-hop',
    hops: ['gw-0', 'gw-1'],
  });
  const plain = encodeProperties({ message: undefined, expirySeconds: 0, hopName: 'wharf-bridge-hop', hops: ['gw-1'] });
  const { packets } = await roundTrip(5, [publishFrame('t/1', Buffer.from('{}'), 1, false, false, 2000, props), publishFrame('t/2', Buffer.from('x'), 2, true, false, 2001, plain)]);
  // As plain JSON: the parser's objects need not share prototypes with literals.
  const got = JSON.parse(JSON.stringify({ ...packets[0]!.properties, correlationData: [...(packets[0]!.properties!.correlationData as Buffer)] })) as unknown;
  assert.equal(got, {
    payloadFormatIndicator: true,
    messageExpiryInterval: 90,
    contentType: 'application/json',
    responseTopic: 'replies/op',
    correlationData: [0, 1, 2, 255],
    userProperties: { a: '1', multi: ['x', 'y'], 'wharf-bridge-hop': ['gw-0', 'gw-1'] },
  });
  assert.equal(JSON.parse(JSON.stringify(packets[1]!.properties)), { userProperties: { 'wharf-bridge-hop': 'gw-1' } });
  assert.is(packets[1]!.messageId, 2001);
});

wire('small packets go out as one chunk; a large payload is its own chunk, not copied', async () => {
  const small = Array.from({ length: 50 }, (_, i) => publishFrame(`s/${i}`, Buffer.alloc(200, i), 1, false, false, 1024 + i, null));
  assert.is((await roundTrip(4, small)).chunks, 1);
  const large = Buffer.alloc(10_000, 1);
  const frame = publishFrame('l', large, 1, false, false, 3000, null);
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (d: Buffer) => chunks.push(d));
  const writer = new BurstWriter(out);
  writer.publish(frame);
  writer.flush();
  await new Promise((r) => setImmediate(r));
  assert.ok(chunks.some((c) => c === large || (c.buffer === large.buffer && c.byteOffset === large.byteOffset)), 'the payload Buffer itself was written');
});

wire('outbox packet ids: never one in use, wrap around within 1024-65535; MQTT.js gets only 1-1023', () => {
  const ids = new OutboxPacketIds();
  const first = Array.from({ length: 10 }, () => ids.allocate());
  assert.equal(first, Array.from({ length: 10 }, (_, i) => FIRST_OUTBOX_PACKET_ID + i));
  ids.release(first[3]!);
  // Everything else taken: the only free one is the released id, found after wrapping.
  const rest: number[] = [];
  for (let id = ids.allocate(); id !== 0; id = ids.allocate()) rest.push(id);
  assert.is(rest.length, OutboxPacketIds.capacity - 9);
  assert.is(rest[rest.length - 1], first[3]);
  assert.is(new Set([...first, ...rest]).size, OutboxPacketIds.capacity);
  assert.ok(rest.every((id) => OutboxPacketIds.owns(id)));
  const mqttjs = new MqttJsPacketIds();
  const taken = Array.from({ length: FIRST_OUTBOX_PACKET_ID - 1 }, () => mqttjs.allocate());
  assert.ok(taken.every((id) => id !== null && id >= 1 && id < FIRST_OUTBOX_PACKET_ID));
  assert.is(mqttjs.allocate(), null, 'exhausted rather than straying into the outbox range');
  mqttjs.deallocate(5);
  assert.is(mqttjs.allocate(), 5);
});

upstream('QoS 2 forward rule: PUBREC answered with PUBREL, the message leaves on PUBCOMP, each arrives once', () =>
  withRig({ forward: [{ filter: 'q2/#', qos: 2 }] }, async (r) => {
    const want = sequence('two', 300);
    const c = await connectClient(r.wharf.url);
    try {
      await Promise.all(want.map((p) => c.publishAsync('q2/x', p, { qos: 1 })));
    } finally {
      await endClient(c);
    }
    await waitFor(() => r.bridge.outboxDepth() === 0, 15_000, 'the outbox to empty on PUBCOMPs');
    assert.is(r.bridge.counters.acknowledged, 300);
    await waitFor(() => r.observer.received.length >= 300, 10_000, '300 upstream');
    assert.equal(r.observer.payloads('q2/x'), want, 'each once, in order');
  }),
);

upstream('a 200 KB payload is forwarded whole beside small ones, in order', () =>
  withRig({ forward: [{ filter: 'big/#', qos: 1 }] }, async (r) => {
    const cloud = await connectClient(r.upstream.url);
    const got = collect(cloud);
    await cloud.subscribeAsync('big/#', { qos: 1 });
    const big = Buffer.alloc(200_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    const c = await connectClient(r.wharf.url);
    try {
      await c.publishAsync('big/a', 'before', { qos: 1 });
      await c.publishAsync('big/b', big, { qos: 1 });
      await c.publishAsync('big/a', 'after', { qos: 1 });
    } finally {
      await endClient(c);
    }
    await got.waitCount(3, 10_000);
    assert.equal(got.messages.map((m) => m.topic), ['big/a', 'big/b', 'big/a']);
    assert.ok(Buffer.from(got.messages[1]!.packet.payload as Buffer).equals(big), 'the large payload arrived intact');
    await endClient(cloud);
  }),
);

wire.run();
