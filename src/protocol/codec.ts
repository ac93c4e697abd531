// Per-connection packet codec over mqtt-packet: a parser that enforces the broker's Maximum Packet Size
// before buffering a packet's body, and a generator bound to the connection's protocol version.

import mqtt from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';
import { ProtocolViolation, ReasonCode } from './reason-codes.js';

export type ProtocolVersion = 3 | 4 | 5;

export interface PacketParser {
  parse(chunk: Buffer): void;
  setProtocolVersion(version: ProtocolVersion): void;
}

function varIntBytes(n: number): number {
  return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4;
}

/** Total on-the-wire size of a packet whose Remaining Length is `remaining`. */
export function packetSize(remaining: number): number {
  return 1 + varIntBytes(remaining) + remaining;
}

export function createPacketParser(
  maxPacketSize: number,
  onPacket: (packet: Packet) => void,
  onError: (err: ProtocolViolation) => void,
): PacketParser {
  const parser = mqtt.parser({ protocolVersion: 4 }) as ReturnType<typeof mqtt.parser> & {
    settings: { protocolVersion: number };
    packet: { length: number };
    _parseLength(): boolean;
  };
  let failed = false;
  // The size check sits between parsing the Remaining Length and buffering the body, so an oversized
  // packet is refused before its bytes pile up in memory [MQTT-3.1.2-24].
  const parseLength = parser._parseLength.bind(parser);
  parser._parseLength = () => {
    const done = parseLength();
    if (done && packetSize(parser.packet.length) > maxPacketSize) {
      failed = true;
      onError(new ProtocolViolation(ReasonCode.PacketTooLarge, `packet of ${packetSize(parser.packet.length)} bytes exceeds maximum ${maxPacketSize}`));
      return false;
    }
    return done;
  };
  parser.on('packet', (p: Packet) => {
    if (!failed) onPacket(p);
  });
  parser.on('error', (err: Error) => {
    if (failed) return;
    failed = true;
    onError(new ProtocolViolation(ReasonCode.MalformedPacket, err.message));
  });
  return {
    parse(chunk: Buffer) {
      if (!failed) parser.parse(chunk);
    },
    setProtocolVersion(version: ProtocolVersion) {
      parser.settings.protocolVersion = version;
    },
  };
}

export function encodePacket(packet: Packet, protocolVersion: ProtocolVersion): Buffer {
  return mqtt.generate(packet, { protocolVersion });
}
