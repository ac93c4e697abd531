// The bridge's own PUBLISH encoding for outbox traffic (MQTT 3.1.1 section 3.3, MQTT 5.0 section 3.3): headers are
// written straight into one buffer per write burst, so a catch-up of thousands of messages costs neither MQTT.js's
// per-publish objects nor a socket write per packet. PUBREL (section 3.6) for QoS 2 is here too.

import type { MessageProperties } from '../protocol/message.js';
import { encodeMessageProperties, varIntSize, writeVarInt } from '../protocol/publish-encoder.js';

const PROP_MESSAGE_EXPIRY = 0x02;

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

/**
 * A PUBLISH's frame. `properties` is the encoded property block for MQTT 5 (see encodeProperties), null on 3.1.1;
 * the packet id is ignored at QoS 0 [MQTT-2.2.1-2].
 */
export function publishFrame(topic: string, payload: Buffer, qos: 0 | 1 | 2, retain: boolean, dup: boolean, packetId: number, properties: Buffer | null): PublishFrame {
  const topicBytes = Buffer.byteLength(topic);
  let variable = 2 + topicBytes + (qos > 0 ? 2 : 0);
  if (properties !== null) variable += varIntSize(properties.length) + properties.length;
  const remaining = variable + payload.length;
  // DUP must be 0 for QoS 0 [MQTT-3.3.1-2].
  const flags = 0x30 | (dup && qos > 0 ? 0x08 : 0) | (qos << 1) | (retain ? 0x01 : 0);
  return { topic, topicBytes, payload, flags, packetId, properties, remaining, headerBytes: 1 + varIntSize(remaining) + variable };
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

/**
 * The property block of a forwarded MQTT 5 PUBLISH: its Message Expiry Interval, then the message's end-to-end
 * properties (encodeMessageProperties, as every delivery) with the hop marker in place of any it carried.
 */
export function encodeProperties(p: OutgoingProperties): Buffer {
  const m = p.message;
  let user: Record<string, string | string[]> | undefined;
  if (m?.userProperties !== undefined || p.hops.length > 0) {
    user = {};
    if (m?.userProperties !== undefined) for (const name of Object.keys(m.userProperties)) if (name !== p.hopName) user[name] = m.userProperties[name]!;
    if (p.hops.length > 0) user[p.hopName] = [...p.hops];
  }
  const carried = encodeMessageProperties(m === undefined && user === undefined ? undefined : { ...m, userProperties: user });
  if (p.expirySeconds < 1) return carried;
  const out = Buffer.allocUnsafe(5 + carried.length);
  out[0] = PROP_MESSAGE_EXPIRY;
  out.writeUInt32BE(Math.min(0xffffffff, p.expirySeconds), 1);
  carried.copy(out, 5);
  return out;
}
