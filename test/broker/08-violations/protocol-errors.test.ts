// Well-formed packets that break the protocol's rules: out-of-order CONNECT, invalid topic names, empty
// SUBSCRIBE/UNSUBSCRIBE, packets only a server may send, AUTH without enhanced authentication. On 5.0 the
// broker ends the connection with DISCONNECT and the matching reason code; on 3.1.1 it just closes.

import { suite } from 'uvu';
import mqtt from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';
import { violationCases, type Version } from '../../helpers/witness.js';
import { ReasonCode } from '../../../src/protocol/reason-codes.js';

const test = suite('08-violations: protocol errors');
const { afterConnect, beforeConnect } = violationCases(test);

const encode = (packet: Packet, v: Version): Buffer => mqtt.generate(packet, { protocolVersion: v });
const publish = (topic: string, qos: 0 | 1 = 0, messageId?: number): Packet => ({
  cmd: 'publish',
  topic,
  payload: 'x',
  qos,
  messageId,
  retain: false,
  dup: false,
});

// The first packet from a client must be CONNECT [MQTT-3.1.0-1]; nothing is sent back before a CONNACK.
beforeConnect('PUBLISH as the first packet [MQTT-3.1.0-1]', encode(publish('a/b'), 4));
beforeConnect('PINGREQ as the first packet [MQTT-3.1.0-1]', Buffer.from([0xc0, 0x00]));
beforeConnect('SUBSCRIBE as the first packet [MQTT-3.1.0-1]', encode({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '#', qos: 0 }] }, 4));
beforeConnect('DISCONNECT as the first packet [MQTT-3.1.0-1]', Buffer.from([0xe0, 0x00]));

// A second CONNECT on a connection is a Protocol Error [MQTT-3.1.0-2].
afterConnect(
  'second CONNECT on the same connection [MQTT-3.1.0-2]',
  (v) => encode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: v, clean: true, keepalive: 60, clientId: 'again' }, v),
  ReasonCode.ProtocolError,
);

// The Topic Name in a PUBLISH must not contain wildcard characters [MQTT-3.3.2-2]: 0x90 Topic Name invalid.
afterConnect('PUBLISH to a topic with the + wildcard [MQTT-3.3.2-2]', (v) => encode(publish('a/+/c'), v), ReasonCode.TopicNameInvalid);
afterConnect('PUBLISH QoS 1 to a topic with the # wildcard [MQTT-3.3.2-2]', (v) => encode(publish('a/#', 1, 5), v), ReasonCode.TopicNameInvalid);

// Packet Identifiers of PUBLISH (QoS > 0), SUBSCRIBE and UNSUBSCRIBE are non-zero [MQTT-2.2.1-3].
afterConnect('PUBLISH QoS 1 with Packet Identifier 0 [MQTT-2.2.1-3]', (v) => encode(publish('a/b', 1, 0), v), ReasonCode.ProtocolError);
afterConnect(
  'SUBSCRIBE with Packet Identifier 0 [MQTT-2.2.1-3]',
  (v) => encode({ cmd: 'subscribe', messageId: 0, subscriptions: [{ topic: 'a', qos: 0 }] }, v),
  ReasonCode.ProtocolError,
);
afterConnect('UNSUBSCRIBE with Packet Identifier 0 [MQTT-2.2.1-3]', (v) => encode({ cmd: 'unsubscribe', messageId: 0, unsubscriptions: ['a'] }, v), ReasonCode.ProtocolError);

// SUBSCRIBE and UNSUBSCRIBE carry at least one topic filter; without one they are a Protocol Error
// [MQTT-3.8.3-2] [MQTT-3.10.3-2] (3.1.1: [MQTT-3.8.3-3] [MQTT-3.10.3-2], protocol violations).
afterConnect(
  'SUBSCRIBE with no topic filters [MQTT-3.8.3-2]',
  (v) => Buffer.from(v === 5 ? [0x82, 0x03, 0x00, 0x01, 0x00] : [0x82, 0x02, 0x00, 0x01]),
  ReasonCode.ProtocolError,
);
afterConnect(
  'UNSUBSCRIBE with no topic filters [MQTT-3.10.3-2]',
  (v) => Buffer.from(v === 5 ? [0xa2, 0x03, 0x00, 0x01, 0x00] : [0xa2, 0x02, 0x00, 0x01]),
  ReasonCode.ProtocolError,
);

// Packets that only a server sends are a Protocol Error when a client sends them (section 4.13).
afterConnect(
  'client sends CONNACK',
  (v) => encode(v === 5 ? { cmd: 'connack', sessionPresent: false, reasonCode: 0 } : { cmd: 'connack', sessionPresent: false, returnCode: 0 }, v),
  ReasonCode.ProtocolError,
);
afterConnect('client sends SUBACK', (v) => encode({ cmd: 'suback', messageId: 1, granted: [0] }, v), ReasonCode.ProtocolError);
afterConnect('client sends UNSUBACK', (v) => encode({ cmd: 'unsuback', messageId: 1, granted: v === 5 ? [0] : [] } as Packet, v), ReasonCode.ProtocolError);
afterConnect('client sends PINGRESP', () => Buffer.from([0xd0, 0x00]), ReasonCode.ProtocolError);

// AUTH is only allowed after a CONNECT with an Authentication Method (section 4.12); in 3.1.1 the packet
// type 15 is reserved, so the same bytes are malformed there.
afterConnect('AUTH (reason 0x00, no properties) without an Authentication Method in CONNECT', () => Buffer.from([0xf0, 0x00]), ReasonCode.ProtocolError);
afterConnect(
  'AUTH with Continue authentication (0x18) without an Authentication Method in CONNECT',
  () => Buffer.from([0xf0, 0x02, 0x18, 0x00]),
  ReasonCode.ProtocolError,
  [5],
);

test.run();
