// Modbus RTU ADUs (MODBUS over Serial Line V1.02, section 2.5.1): unit id (slave address), PDU, CRC low byte first.
// No I/O; the serial transport frames replies by the 3.5-character silence, RTU over TCP by responsePduLength().

import { crc16, crcMatches } from './crc.js';
import { responsePduLength, type BadFrameReason } from './pdu.js';

/** 2.5.1: an RTU frame is at most 256 bytes (address 1 + PDU 253 + CRC 2). */
export const MAX_RTU_FRAME = 256;

export function encodeRtuFrame(unitId: number, pdu: Uint8Array): Buffer {
  if (!Number.isInteger(unitId) || unitId < 0 || unitId > 247) throw new RangeError(`unit id ${unitId} outside 0..247`);
  const frame = Buffer.allocUnsafe(pdu.length + 3);
  frame[0] = unitId;
  frame.set(pdu, 1);
  frame.writeUInt16LE(crc16(frame, 0, pdu.length + 1), pdu.length + 1);
  return frame;
}

export type RtuDecoded = { kind: 'pdu'; pdu: Buffer } | { kind: 'bad_frame'; reason: Extract<BadFrameReason, 'crc' | 'unit_id' | 'length'> };

/** The PDU of a received frame, checked in wire order: length, CRC, then the unit id the request went to. */
export function decodeRtuFrame(frame: Buffer, expectedUnitId: number): RtuDecoded {
  // Address + function code + at least one data byte + CRC; an exception response (5 bytes) is the shortest.
  if (frame.length < 5 || frame.length > MAX_RTU_FRAME) return { kind: 'bad_frame', reason: 'length' };
  if (!crcMatches(frame)) return { kind: 'bad_frame', reason: 'crc' };
  if (frame[0] !== expectedUnitId) return { kind: 'bad_frame', reason: 'unit_id' };
  return { kind: 'pdu', pdu: frame.subarray(1, frame.length - 2) };
}

/** Total length of the response frame starting with `head`, or undefined while its header is incomplete/unknown. */
export function rtuResponseLength(head: Uint8Array): number | undefined {
  if (head.length < 2) return undefined;
  const pduLength = responsePduLength(head.subarray(1));
  return pduLength === undefined ? undefined : 1 + pduLength + 2;
}
