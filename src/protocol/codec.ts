// Per-connection packet codec over mqtt-packet: a parser that enforces the broker's Maximum Packet Size
// before buffering a packet's body, and a generator bound to the connection's protocol version.

import { isUtf8 } from 'node:buffer';
import './quiet-debug.js'; // before mqtt-packet loads
import './lean-bl.js'; // before mqtt-packet loads
import mqtt from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';
import { ByteList } from './byte-list.js';
import { ProtocolViolation, ReasonCode } from './reason-codes.js';

// mqtt-packet's generator would build, on its first use, a cache of 65,536 two-byte Buffers for packet identifiers:
// about 6 MiB of heap for the life of the process (issue 13). Wharf encodes PUBLISH and the acknowledgements
// itself (publish-encoder.ts, encodeAck below); the packets left to mqtt-packet are rare, so it writes the few
// numbers they hold as it goes.
(mqtt.writeToStream as unknown as { cacheNumbers: boolean }).cacheNumbers = false;

export type ProtocolVersion = 3 | 4 | 5;

export interface PacketParser {
  parse(chunk: Buffer): unknown;
  setProtocolVersion(version: ProtocolVersion): void;
}

const ACKS = new Set(['puback', 'pubrec', 'pubrel', 'pubcomp']);

function varIntBytes(n: number): number {
  return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4;
}

/** Total on-the-wire size of a packet whose Remaining Length is `remaining`. */
export function packetSize(remaining: number): number {
  return 1 + varIntBytes(remaining) + remaining;
}

/** The parts of mqtt-packet's Parser (parser.js) the checks below use; the class itself is not in its typings. */
interface MqttPacketParser {
  settings: { protocolVersion: number };
  _stateCounter: number;
  packet: { length: number };
  _pos: number;
  _list: { length: number; slice(start: number, end: number): Buffer };
  parse(chunk: Buffer): number;
  parser(opts: { protocolVersion: number }): unknown;
  _parseLength(): boolean;
  _parseString(): string | null;
  _parseMessageId(): boolean;
  _parseAuth(): unknown;
  _emitError(err: Error): void;
  emit(event: string, arg: unknown): boolean;
}

/** mqtt-packet exports a factory only; its class is the prototype's constructor. */
const probeParser = mqtt.parser();
const MqttParser = Object.getPrototypeOf(probeParser).constructor as new () => MqttPacketParser;

/** The fields of mqtt-packet's Packet (packet.js) a PUBLISH sets, in the order its parser sets them. */
interface PublishFields {
  cmd: string;
  retain: boolean;
  qos: number;
  dup: boolean;
  length: number;
  topic: string;
  messageId?: number;
  payload: Buffer;
}

/** mqtt-packet's Packet class: a parser keeps one as `packet` between packets. */
const MqttPacket = (probeParser as unknown as { packet: object }).packet.constructor as new () => PublishFields;

/** What mqtt-packet's lenient UTF-8 decoding may hide: U+0000, or U+FFFD for an ill-formed sequence. */
const SUSPICIOUS_CHAR = /[\u0000\uFFFD]/;

/**
 * mqtt-packet's parser with the broker's checks, as methods of one subclass rather than closures bound to each
 * parser: a connection costs one parser object, not a dozen functions and their contexts (issue 13). Packets
 * and errors go straight to the connection's callbacks instead of through the EventEmitter.
 */
class BrokerParser extends MqttParser implements PacketParser {
  private failed = false;

  constructor(
    private readonly maxPacketSize: number,
    private readonly onPacket: (packet: Packet) => void,
    private readonly onError: (err: ProtocolViolation) => void,
  ) {
    super();
    this.parser({ protocolVersion: 4 });
    // Not bl's BufferListStream (a Duplex, two stream states per connection) nor its BufferList, which allocates
    // on every byte read (byte-list.ts). The parser replaces its list only after an error (_resetState); it parses
    // nothing more here once one was seen.
    this._list = new ByteList();
  }

  override parse(chunk: Buffer): number {
    if (this.failed) return 0;
    // Between packets (nothing buffered, a header expected), the whole PUBLISH packets at the start of the chunk
    // are decoded here; the first anything else (or a PUBLISH not whole in this chunk) and all after it go to
    // mqtt-packet as before.
    if (this._list.length === 0 && this._stateCounter === 0) {
      const at = this.decodeWholePublishes(chunk);
      if (at === chunk.length || this.failed) return 0;
      if (at > 0) chunk = chunk.subarray(at);
    }
    return super.parse(chunk);
  }

  /**
   * PUBLISH is the packet a broker receives most, and mqtt-packet's state machine costs several calls, a result
   * object per length and a list consume per state on each (issue 13). The packets decoded here are exactly those
   * mqtt-packet would decode without any error or check of this class failing: the same Packet, with the same
   * fields set in the same order. Anything unusual (a Remaining Length over the maximum, a topic to check for
   * U+0000 or bad UTF-8, 5.0 properties, a packet ending early) is left to mqtt-packet, which reports it as
   * before. Returns the offset of the first byte not decoded.
   */
  private decodeWholePublishes(chunk: Buffer): number {
    const n = chunk.length;
    const v5 = this.settings.protocolVersion === 5;
    let pos = 0;
    while (pos < n && !this.failed) {
      const first = chunk[pos]!;
      const qos = (first >> 1) & 3;
      if ((first & 0xf0) !== 0x30 || qos === 3) break;
      // Remaining Length: at most 4 bytes [MQTT-1.5.5]; a longer one is mqtt-packet's error to report.
      let length = 0;
      let i = pos + 1;
      let shift = 1;
      let b = 0x80;
      while ((b & 0x80) !== 0 && i < n && i - pos <= 4) {
        b = chunk[i++]!;
        length += (b & 0x7f) * shift;
        shift *= 128;
      }
      if ((b & 0x80) !== 0) break;
      const end = i + length;
      if (end > n || packetSize(length) > this.maxPacketSize) break;
      // Topic Name: a two-byte length and UTF-8 inside the packet.
      if (length < 2) break;
      const topicEnd = i + 2 + ((chunk[i]! << 8) | chunk[i + 1]!);
      if (topicEnd > end) break;
      let p = topicEnd;
      let messageId = 0;
      if (qos > 0) {
        if (p + 2 > end) break;
        messageId = (chunk[p]! << 8) | chunk[p + 1]!;
        p += 2;
      }
      // 5.0: a Property Length of 0 only (one byte); properties go through mqtt-packet.
      if (v5) {
        if (p >= end || chunk[p] !== 0) break;
        p++;
      }
      const topic = chunk.toString('utf8', i + 2, topicEnd);
      if (SUSPICIOUS_CHAR.test(topic)) break;
      const packet = new MqttPacket();
      packet.cmd = 'publish';
      packet.retain = (first & 0x01) !== 0;
      packet.qos = qos;
      packet.dup = (first & 0x08) !== 0;
      packet.length = length;
      packet.topic = topic;
      if (qos > 0) packet.messageId = messageId;
      packet.payload = p === end ? Buffer.alloc(0) : chunk.subarray(p, end);
      pos = end;
      this.packetParsed(packet as unknown as Packet);
    }
    return pos;
  }

  setProtocolVersion(version: ProtocolVersion): void {
    this.settings.protocolVersion = version;
  }

  // mqtt-packet decodes strings leniently (bad bytes become U+FFFD) and allows U+0000; both make a Malformed
  // Packet [MQTT-1.5.4-1] [MQTT-1.5.4-2]. The bytes are only re-checked when the decoded text is suspicious.
  override _parseString(): string | null {
    const start = this._pos;
    const s = super._parseString();
    if (s !== null && SUSPICIOUS_CHAR.test(s)) {
      const bad = s.includes('\u0000') ? 'U+0000' : isUtf8(this._list.slice(start + 2, this._pos)) ? null : 'ill-formed UTF-8';
      if (bad !== null) {
        this._emitError(new Error(`${bad} in a UTF-8 string`));
        return null;
      }
    }
    return s;
  }

  // mqtt-packet reads a missing Packet Identifier past the end of the packet (or reports -1): it must be inside it.
  override _parseMessageId(): boolean {
    if (this._pos + 2 > this.packet.length) {
      this._emitError(new Error('packet ends before its Packet Identifier'));
      return false;
    }
    return super._parseMessageId();
  }

  // A 5.0 AUTH with Remaining Length 0 means reason 0x00 and no properties (section 3.15.2.1); mqtt-packet rejects it.
  override _parseAuth(): unknown {
    if (this.settings.protocolVersion === 5 && this.packet.length === 0) {
      (this.packet as { reasonCode?: number }).reasonCode = 0;
      return true;
    }
    return super._parseAuth();
  }

  // The size check sits between parsing the Remaining Length and buffering the body, so an oversized
  // packet is refused before its bytes pile up in memory [MQTT-3.1.2-24].
  override _parseLength(): boolean {
    const done = super._parseLength();
    if (done && packetSize(this.packet.length) > this.maxPacketSize) {
      this.failed = true;
      this.onError(new ProtocolViolation(ReasonCode.PacketTooLarge, `packet of ${packetSize(this.packet.length)} bytes exceeds maximum ${this.maxPacketSize}`));
      return false;
    }
    return done;
  }

  /** mqtt-packet emits 'packet' and 'error' only (parser.js); nothing listens, the callbacks are called. */
  override emit(event: string, arg: unknown): boolean {
    if (this.failed) return true;
    if (event === 'packet') this.packetParsed(arg as Packet);
    else if (event === 'error') this.parseFailed(arg as Error);
    return true;
  }

  private packetParsed(p: Packet): void {
    // mqtt-packet ignores extra bytes in bodiless packets (PINGREQ; 3.1.1 DISCONNECT) and 3.1.1 acknowledgements.
    const want = p.cmd === 'pingreq' ? 0 : this.settings.protocolVersion === 5 ? -1 : p.cmd === 'disconnect' ? 0 : ACKS.has(p.cmd) ? 2 : -1;
    if (want >= 0 && p.length !== want) {
      this.failed = true;
      this.onError(new ProtocolViolation(ReasonCode.MalformedPacket, `${p.cmd} with Remaining Length ${p.length}, expected ${want}`));
      return;
    }
    this.onPacket(p);
  }

  private parseFailed(err: Error): void {
    this.failed = true;
    // A protocol level mqtt-packet does not know is not malformed: it is answered with CONNACK 0x01 / 0x84.
    const reasonCode = err.message === 'Invalid protocol version' ? ReasonCode.UnsupportedProtocolVersion : ReasonCode.MalformedPacket;
    this.onError(new ProtocolViolation(reasonCode, err.message));
  }
}

export function createPacketParser(
  maxPacketSize: number,
  onPacket: (packet: Packet) => void,
  onError: (err: ProtocolViolation) => void,
): PacketParser {
  return new BrokerParser(maxPacketSize, onPacket, onError);
}

export function encodePacket(packet: Packet, protocolVersion: ProtocolVersion): Buffer {
  return encodeAck(packet, protocolVersion) ?? mqtt.generate(packet, { protocolVersion });
}

/** First byte of the four acknowledgements (PUBREL has the fixed flags 0010) [MQTT-3.6.1-1]. */
export const AckType = { puback: 0x40, pubrec: 0x50, pubrel: 0x62, pubcomp: 0x70 } as const;
const ACK_TYPE: Partial<Record<Packet['cmd'], number>> = AckType;

/** Bytes of an acknowledgement without properties: 4, or 5 with a reason code other than Success on 5.0. */
export function ackSize(protocolVersion: ProtocolVersion, reasonCode: number): number {
  return protocolVersion === 5 && reasonCode !== 0 ? 5 : 4;
}

/**
 * Writes an acknowledgement of `ackSize()` bytes into `buf` at `at` (section 3.4.2.1: the reason code and property
 * length may be omitted; 3.1.1 has no reason code). `packetId` must be 1..65535.
 */
export function writeAck(buf: Buffer, at: number, type: number, packetId: number, reasonCode: number, protocolVersion: ProtocolVersion): void {
  const code = protocolVersion === 5 ? reasonCode : 0;
  buf[at] = type;
  buf[at + 1] = code === 0 ? 2 : 3;
  buf[at + 2] = packetId >> 8;
  buf[at + 3] = packetId & 0xff;
  if (code !== 0) buf[at + 4] = code;
}

/**
 * PUBACK/PUBREC/PUBREL/PUBCOMP without properties, the one packet per QoS 1/2 message the broker sends most:
 * written directly; mqtt-packet's generator builds them through a stream accumulator. Anything else
 * (properties, unusual fields) goes to mqtt-packet.
 */
function encodeAck(packet: Packet, protocolVersion: ProtocolVersion): Buffer | undefined {
  const type = ACK_TYPE[packet.cmd];
  if (type === undefined) return undefined;
  const ack = packet as { messageId?: number; reasonCode?: number; properties?: object };
  const id = ack.messageId;
  if (id === undefined || id < 1 || id > 0xffff || ack.properties !== undefined) return undefined;
  const code = ack.reasonCode ?? 0;
  const buf = Buffer.allocUnsafe(ackSize(protocolVersion, code));
  writeAck(buf, 0, type, id, code, protocolVersion);
  return buf;
}
