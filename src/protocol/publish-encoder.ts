// Encodes outgoing PUBLISH packets straight into one Buffer. PUBLISH is the packet a broker writes most, and
// the properties a message carries end to end are encoded once per message, not once per subscriber.
// Layout per MQTT 5.0 section 3.3 (3.1.1: no property block).

import type { MessageProperties } from './message.js';

const PROP_PAYLOAD_FORMAT = 0x01;
const PROP_MESSAGE_EXPIRY = 0x02;
const PROP_CONTENT_TYPE = 0x03;
const PROP_RESPONSE_TOPIC = 0x08;
const PROP_CORRELATION_DATA = 0x09;
const PROP_SUBSCRIPTION_ID = 0x0b;
const PROP_TOPIC_ALIAS = 0x23;
const PROP_USER_PROPERTY = 0x26;

const EMPTY = Buffer.alloc(0);

/** Bytes of a Variable Byte Integer (MQTT 5.0 section 1.5.5). */
export function varIntSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : 4;
}

/** Writes `n` as a Variable Byte Integer at `pos`; returns the offset after it. */
export function writeVarInt(buf: Buffer, pos: number, n: number): number {
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    buf[pos++] = byte;
  } while (n > 0);
  return pos;
}

function writeString(buf: Buffer, pos: number, s: string, len: number): number {
  buf.writeUInt16BE(len, pos);
  buf.write(s, pos + 2, len, 'utf8');
  return pos + 2 + len;
}

/**
 * The end-to-end properties of a message (payload format, content type, response topic, correlation data,
 * user properties) as encoded property bytes, without the length prefix.
 */
export function encodeMessageProperties(p: MessageProperties | undefined): Buffer {
  if (p === undefined) return EMPTY;
  let size = 0;
  const ct = p.contentType !== undefined ? Buffer.byteLength(p.contentType) : -1;
  const rt = p.responseTopic !== undefined ? Buffer.byteLength(p.responseTopic) : -1;
  const pairs: Array<[string, number, string, number]> = [];
  if (p.payloadFormatIndicator !== undefined) size += 2;
  if (ct >= 0) size += 3 + ct;
  if (rt >= 0) size += 3 + rt;
  if (p.correlationData !== undefined) size += 3 + p.correlationData.length;
  if (p.userProperties !== undefined) {
    for (const key of Object.keys(p.userProperties)) {
      const v = p.userProperties[key]!;
      const values = Array.isArray(v) ? v : [v];
      for (const value of values) {
        const kl = Buffer.byteLength(key);
        const vl = Buffer.byteLength(String(value));
        pairs.push([key, kl, String(value), vl]);
        size += 5 + kl + vl;
      }
    }
  }
  const buf = Buffer.allocUnsafe(size);
  let pos = 0;
  if (p.payloadFormatIndicator !== undefined) {
    buf[pos++] = PROP_PAYLOAD_FORMAT;
    buf[pos++] = p.payloadFormatIndicator ? 1 : 0;
  }
  if (ct >= 0) {
    buf[pos++] = PROP_CONTENT_TYPE;
    pos = writeString(buf, pos, p.contentType!, ct);
  }
  if (rt >= 0) {
    buf[pos++] = PROP_RESPONSE_TOPIC;
    pos = writeString(buf, pos, p.responseTopic!, rt);
  }
  if (p.correlationData !== undefined) {
    buf[pos++] = PROP_CORRELATION_DATA;
    buf.writeUInt16BE(p.correlationData.length, pos);
    p.correlationData.copy(buf, pos + 2);
    pos += 2 + p.correlationData.length;
  }
  for (const [key, kl, value, vl] of pairs) {
    buf[pos++] = PROP_USER_PROPERTY;
    pos = writeString(buf, pos, key, kl);
    pos = writeString(buf, pos, value, vl);
  }
  return buf;
}

export interface PublishFields {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  dup: boolean;
  packetId: number;
}

/** Per-delivery MQTT 5 properties added to the message's own. Negative / undefined means absent. */
export interface DeliveryProperties {
  messageExpiryInterval: number;
  topicAlias: number;
  subscriptionIds: number[] | undefined;
  /** Output of encodeMessageProperties for this message. */
  messageProperties: Buffer;
}

/**
 * Payloads above this size are not copied into the packet buffer: the caller writes the returned header and
 * then the payload Buffer itself (both go out in one corked socket write), so large payloads are never copied.
 */
export const PAYLOAD_COPY_MAX = 4096;

/**
 * The PUBLISH packet as one Buffer, or, when the payload is larger than PAYLOAD_COPY_MAX, everything up to
 * the payload (the caller writes the payload next). `props` is null for MQTT 3.1/3.1.1.
 */
export function encodePublish(f: PublishFields, props: DeliveryProperties | null): Buffer {
  const topicLen = Buffer.byteLength(f.topic);
  let propLen = 0;
  if (props !== null) {
    propLen = props.messageProperties.length;
    if (props.messageExpiryInterval >= 0) propLen += 5;
    if (props.topicAlias > 0) propLen += 3;
    if (props.subscriptionIds !== undefined) for (const id of props.subscriptionIds) propLen += 1 + varIntSize(id);
  }
  let remaining = 2 + topicLen + f.payload.length + (f.qos > 0 ? 2 : 0);
  if (props !== null) remaining += varIntSize(propLen) + propLen;
  const copyPayload = f.payload.length <= PAYLOAD_COPY_MAX;
  const size = 1 + varIntSize(remaining) + remaining - (copyPayload ? 0 : f.payload.length);
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 0x30 | (f.dup ? 0x08 : 0) | (f.qos << 1) | (f.retain ? 1 : 0);
  let pos = writeVarInt(buf, 1, remaining);
  pos = writeString(buf, pos, f.topic, topicLen);
  if (f.qos > 0) {
    buf.writeUInt16BE(f.packetId, pos);
    pos += 2;
  }
  if (props !== null) {
    pos = writeVarInt(buf, pos, propLen);
    if (props.messageExpiryInterval >= 0) {
      buf[pos] = PROP_MESSAGE_EXPIRY;
      buf.writeUInt32BE(props.messageExpiryInterval, pos + 1);
      pos += 5;
    }
    if (props.topicAlias > 0) {
      buf[pos] = PROP_TOPIC_ALIAS;
      buf.writeUInt16BE(props.topicAlias, pos + 1);
      pos += 3;
    }
    if (props.subscriptionIds !== undefined) {
      for (const id of props.subscriptionIds) {
        buf[pos++] = PROP_SUBSCRIPTION_ID;
        pos = writeVarInt(buf, pos, id);
      }
    }
    pos += props.messageProperties.copy(buf, pos);
  }
  if (copyPayload) f.payload.copy(buf, pos);
  return buf;
}
