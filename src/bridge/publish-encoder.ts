// The bridge's own PUBLISH encoding for outbox traffic (MQTT 3.1.1 section 3.3, MQTT 5.0 section 3.3): headers are
// written straight into one buffer per write burst, so a catch-up of thousands of messages costs neither MQTT.js's
// per-publish objects nor a socket write per packet. PUBREL (section 3.6) for QoS 2 is here too.

import type { MessageProperties } from '../protocol/message.js';

/** MQTT 5.0 property identifiers of a PUBLISH (section 3.3.2.3). */
const PROP_PAYLOAD_FORMAT = 0x01;
const PROP_MESSAGE_EXPIRY = 0x02;
const PROP_CONTENT_TYPE = 0x03;
const PROP_RESPONSE_TOPIC = 0x08;
const PROP_CORRELATION_DATA = 0x09;
const PROP_USER_PROPERTY = 0x26;

/** One PUBLISH ready to be written: sizes are known when it is queued (Maximum Packet Size is checked on them). */
export interface PublishFrame {
  topic: string;
  topicBytes: number;
  payload: Buffer;
  /** Byte 1 of the fixed header: type, DUP, QoS, RETAIN (section 3.3.1). */
  flags: number;
  packetId: number;
  /** MQTT 5: the property block's content (its length is written before it); null on 3.1.1. */
  properties: Buffer | null;
  /** Remaining Length (section 2.1.4). */
  remaining: number;
  /** Bytes before the payload, fixed header included. */
  headerBytes: number;
}

/** Bytes of a Variable Byte Integer (section 1.5.5). */
export function varIntBytes(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

function writeVarInt(buf: Buffer, at: number, n: number): number {
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    buf[at++] = byte;
  } while (n > 0);
  return at;
}

/**
 * A PUBLISH's frame. `properties` is the encoded property block for MQTT 5 (see encodeProperties), null on 3.1.1;
 * the packet id is ignored at QoS 0 [MQTT-2.2.1-2].
 */
export function publishFrame(topic: string, payload: Buffer, qos: 0 | 1 | 2, retain: boolean, dup: boolean, packetId: number, properties: Buffer | null): PublishFrame {
  const topicBytes = Buffer.byteLength(topic);
  let variable = 2 + topicBytes + (qos > 0 ? 2 : 0);
  if (properties !== null) variable += varIntBytes(properties.length) + properties.length;
  const remaining = variable + payload.length;
  // DUP must be 0 for QoS 0 [MQTT-3.3.1-2].
  const flags = 0x30 | (dup && qos > 0 ? 0x08 : 0) | (qos << 1) | (retain ? 0x01 : 0);
  return { topic, topicBytes, payload, flags, packetId, properties, remaining, headerBytes: 1 + varIntBytes(remaining) + variable };
}

/** The whole packet's size (for the upstream's Maximum Packet Size, MQTT 5.0 section 3.2.2.3.6). */
export function frameBytes(f: PublishFrame): number {
  return f.headerBytes + f.payload.length;
}

/** Writes the frame's header (everything before the payload) at `at`; returns the offset after it. */
export function writeHeader(buf: Buffer, at: number, f: PublishFrame): number {
  buf[at++] = f.flags;
  at = writeVarInt(buf, at, f.remaining);
  buf.writeUInt16BE(f.topicBytes, at);
  at += 2;
  at += buf.write(f.topic, at, f.topicBytes, 'utf8');
  if ((f.flags & 0x06) !== 0) {
    buf.writeUInt16BE(f.packetId, at);
    at += 2;
  }
  if (f.properties !== null) {
    at = writeVarInt(buf, at, f.properties.length);
    at += f.properties.copy(buf, at);
  }
  return at;
}

/** PUBREL for a PUBREC received (section 3.6; reason code 0 and no properties may be left out, 3.6.2.1). */
export function pubrel(packetId: number): Buffer {
  return Buffer.from([0x62, 0x02, packetId >> 8, packetId & 0xff]);
}

/** What the forwarded PUBLISH carries in its property block. */
export interface OutgoingProperties {
  message: MessageProperties | undefined;
  /** Seconds left (Message Expiry Interval, [MQTT-3.3.2-6]); below 1: none sent. */
  expirySeconds: number;
  /** The hop marker's values (this bridge appended), as one user property per value. */
  hopName: string;
  hops: readonly string[];
}

/** The property block of a forwarded MQTT 5 PUBLISH: the message's end-to-end properties and the hop marker. */
export function encodeProperties(p: OutgoingProperties): Buffer {
  // [identifier, value]: a number is a one-byte value, a Buffer a two-byte-length string or binary (section 1.5).
  const parts: [number, number | Buffer][] = [];
  const m = p.message;
  if (m?.payloadFormatIndicator !== undefined) parts.push([PROP_PAYLOAD_FORMAT, m.payloadFormatIndicator ? 1 : 0]);
  if (m?.contentType !== undefined) parts.push([PROP_CONTENT_TYPE, Buffer.from(m.contentType, 'utf8')]);
  if (m?.responseTopic !== undefined) parts.push([PROP_RESPONSE_TOPIC, Buffer.from(m.responseTopic, 'utf8')]);
  if (m?.correlationData !== undefined) parts.push([PROP_CORRELATION_DATA, m.correlationData]);
  const pairs: [Buffer, Buffer][] = [];
  const user = m?.userProperties;
  if (user !== undefined) {
    for (const name of Object.keys(user)) {
      if (name === p.hopName) continue;
      const v = user[name]!;
      for (const one of Array.isArray(v) ? v : [v]) pairs.push([Buffer.from(name, 'utf8'), Buffer.from(one, 'utf8')]);
    }
  }
  const hopName = Buffer.from(p.hopName, 'utf8');
  for (const hop of p.hops) pairs.push([hopName, Buffer.from(hop, 'utf8')]);
  const withExpiry = p.expirySeconds >= 1;
  let size = withExpiry ? 5 : 0;
  for (const [, v] of parts) size += typeof v === 'number' ? 2 : 3 + v.length;
  for (const [k, v] of pairs) size += 5 + k.length + v.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  if (withExpiry) {
    out[at++] = PROP_MESSAGE_EXPIRY;
    out.writeUInt32BE(Math.min(0xffffffff, p.expirySeconds), at);
    at += 4;
  }
  for (const [id, v] of parts) {
    out[at++] = id;
    if (typeof v === 'number') out[at++] = v;
    else at = writeBinary(out, at, v);
  }
  for (const [k, v] of pairs) {
    out[at++] = PROP_USER_PROPERTY;
    at = writeBinary(out, writeBinary(out, at, k), v);
  }
  return out;
}

function writeBinary(out: Buffer, at: number, v: Buffer): number {
  out.writeUInt16BE(v.length, at);
  return at + 2 + v.copy(out, at + 2);
}
