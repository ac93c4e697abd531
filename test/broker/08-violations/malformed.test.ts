// Malformed packets sent as hand-made bytes: the offending connection is closed with DISCONNECT 0x81 on 5.0
// (a bare close on 3.1.1, and no packet at all before CONNACK), while other clients keep working.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import mqtt from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';
import { RawClient } from '../../helpers/raw-client.js';
import { label, VERSIONS, violationCases, withWitnesses, type Version } from '../../helpers/witness.js';
import { ReasonCode } from '../../../src/protocol/reason-codes.js';

const test = suite('08-violations: malformed packets');


function encode(packet: Packet, version: Version): Buffer {
  return mqtt.generate(packet, { protocolVersion: version });
}

/** A well-formed packet with its first byte (type and flags) replaced. */
function withFirstByte(packet: Packet, version: Version, first: number): Buffer {
  const buf = encode(packet, version);
  buf[0] = first;
  return buf;
}

/** A PUBLISH whose topic is given as raw bytes (so it can hold ill-formed UTF-8). */
function publishWithTopicBytes(topic: number[], version: Version): Buffer {
  const body = [topic.length >> 8, topic.length & 0xff, ...topic, ...(version === 5 ? [0x00] : []), 0x68, 0x69];
  return Buffer.from([0x30, body.length, ...body]);
}

const { afterConnect, beforeConnect, withBroker } = violationCases(test);

beforeConnect('garbage bytes (an HTTP request) instead of CONNECT', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
beforeConnect('reserved packet type 0 as the first byte', Buffer.from([0x00, 0x00]));
for (const v of VERSIONS) {
  const connect = encode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: v, clean: true, keepalive: 60, clientId: 'truncated' }, v);
  // The Remaining Length ends in the middle of the Client Identifier: the CONNECT is malformed.
  const short = Buffer.from(connect.subarray(0, connect.length - 3));
  short[1] = short.length - 2;
  beforeConnect(`truncated CONNECT whose Remaining Length ends inside the client id (${label(v)})`, short);

  test(`half a CONNECT followed by end of stream -> broker closes at once (${label(v)})`, () =>
    withBroker((tb) =>
      withWitnesses(tb, async () => {
        const client = await RawClient.connect(tb.port, v);
        try {
          client.sendBytes(connect.subarray(0, 8));
          client.socket.end();
          // Much sooner than the 10 s CONNECT timeout: the end of stream alone closes it.
          const got = await client.expectClose(1000);
          assert.equal(got, []);
        } finally {
          client.end();
        }
      }),
    ),
  );
}

afterConnect('reserved packet type 0', () => Buffer.from([0x00, 0x00]), ReasonCode.MalformedPacket);

// Reserved fixed-header flag bits must have the listed values; others are a Malformed Packet [MQTT-2.1.3-1] [MQTT-3.8.1-1].
afterConnect(
  'SUBSCRIBE with header flags 0000 instead of 0010 [MQTT-3.8.1-1]',
  (v) => withFirstByte({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 0 }] }, v, 0x80),
  ReasonCode.MalformedPacket,
);
afterConnect(
  'PUBREL with header flags 0000 instead of 0010 [MQTT-3.6.1-1]',
  (v) => withFirstByte({ cmd: 'pubrel', messageId: 1 }, v, 0x60),
  ReasonCode.MalformedPacket,
);
afterConnect('PINGREQ with header flags 0001 [MQTT-2.1.3-1]', () => Buffer.from([0xc1, 0x00]), ReasonCode.MalformedPacket);

// Packets with a fixed layout must have exactly that Remaining Length: PINGREQ has no body (section 3.12);
// a 3.1.1 PUBACK is exactly the 2-byte Packet Identifier (3.1.1 section 3.4.1).
afterConnect('PINGREQ with a 2-byte body', () => Buffer.from([0xc0, 0x02, 0x00, 0x00]), ReasonCode.MalformedPacket);
afterConnect('PUBACK with Remaining Length 3', () => Buffer.from([0x40, 0x03, 0x00, 0x01, 0x00]), ReasonCode.MalformedPacket, [4]);

// Both QoS bits set is a Malformed Packet [MQTT-3.3.1-4].
afterConnect(
  'PUBLISH with QoS 3 [MQTT-3.3.1-4]',
  (v) => withFirstByte({ cmd: 'publish', topic: 'a/b', payload: 'x', qos: 1, messageId: 7, retain: false, dup: false }, v, 0x36),
  ReasonCode.MalformedPacket,
);

// A Variable Byte Integer has at most four bytes (section 1.5.5, 2.1.4).
afterConnect('Remaining Length encoded in five bytes', () => Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f]), ReasonCode.MalformedPacket);

// QoS 1 requires a Packet Identifier [MQTT-2.2.1-3]; here the packet ends right after the topic.
afterConnect(
  'PUBLISH QoS 1 that ends before its Packet Identifier',
  () => Buffer.from([0x32, 0x05, 0x00, 0x03, 0x61, 0x2f, 0x62]),
  ReasonCode.MalformedPacket,
);

// Ill-formed UTF-8 and U+0000 in a UTF-8 Encoded String make a Malformed Packet [MQTT-1.5.4-1] [MQTT-1.5.4-2].
afterConnect('PUBLISH topic with ill-formed UTF-8 (0xFF) [MQTT-1.5.4-1]', (v) => publishWithTopicBytes([0x61, 0xff, 0x62], v), ReasonCode.MalformedPacket);
afterConnect(
  'PUBLISH topic with a UTF-16 surrogate encoded in UTF-8 (ED A0 80) [MQTT-1.5.4-1]',
  (v) => publishWithTopicBytes([0x61, 0xed, 0xa0, 0x80], v),
  ReasonCode.MalformedPacket,
);
afterConnect('PUBLISH topic containing U+0000 [MQTT-1.5.4-2]', (v) => publishWithTopicBytes([0x61, 0x00, 0x62], v), ReasonCode.MalformedPacket);

test('a topic with a valid U+FFFD character is accepted (the UTF-8 check is on bytes, not on the decoded text)', () =>
  withBroker(async (tb) => {
    const { client: sub } = await RawClient.connected(tb.port, { clientId: 'sub' }, 5);
    const { client: pub } = await RawClient.connected(tb.port, { clientId: 'pub' }, 5);
    try {
      sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/#', qos: 0 }] });
      await sub.next('suback');
      pub.sendBytes(publishWithTopicBytes([0x61, 0x2f, 0xef, 0xbf, 0xbd], 5));
      const got = (await sub.next('publish')) as mqtt.IPublishPacket;
      assert.is(got.topic, 'a/\uFFFD');
    } finally {
      sub.end();
      pub.end();
    }
  }),
);

test.run();
