// Modbus TCP ADUs (MODBUS Messaging on TCP/IP Implementation Guide V1.0b, section 3.1.3): the 7-byte MBAP header
// (transaction id, protocol id 0, length of what follows, unit id) before the PDU; a byte stream reassembled here.

/** MBAP header length; the length field counts the unit id and the PDU (at most 1 + 253). */
export const MBAP_HEADER = 7;
export const MAX_MBAP_LENGTH = 254;

export function encodeTcpFrame(transactionId: number, unitId: number, pdu: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(MBAP_HEADER + pdu.length);
  frame.writeUInt16BE(transactionId & 0xffff, 0);
  frame.writeUInt16BE(0, 2); // protocol identifier: 0 = MODBUS
  frame.writeUInt16BE(pdu.length + 1, 4);
  frame[6] = unitId & 0xff;
  frame.set(pdu, MBAP_HEADER);
  return frame;
}

export interface TcpFrame {
  transactionId: number;
  protocolId: number;
  unitId: number;
  pdu: Buffer;
}

/**
 * Cuts a TCP byte stream into MBAP frames, whatever the segment boundaries. Memory is bounded by one frame:
 * a length field outside 2..254 cannot be resynchronised, so the reader says `desynchronised` and the
 * transport closes the connection (the implementation guide's advice for an invalid MBAP header).
 */
export class TcpFrameReader {
  private pending: Buffer = Buffer.alloc(0);
  desynchronised = false;

  push(chunk: Buffer): TcpFrame[] {
    const frames: TcpFrame[] = [];
    if (this.desynchronised) return frames;
    let buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (buf.length >= MBAP_HEADER) {
      const length = buf.readUInt16BE(4);
      if (length < 2 || length > MAX_MBAP_LENGTH) {
        this.desynchronised = true;
        this.pending = Buffer.alloc(0);
        return frames;
      }
      const total = 6 + length;
      if (buf.length < total) break;
      // Copy the PDU out so a retained frame never pins a large chunk.
      frames.push({ transactionId: buf.readUInt16BE(0), protocolId: buf.readUInt16BE(2), unitId: buf[6]!, pdu: Buffer.from(buf.subarray(MBAP_HEADER, total)) });
      buf = buf.subarray(total);
    }
    this.pending = buf.length === 0 ? Buffer.alloc(0) : Buffer.from(buf);
    return frames;
  }

  reset(): void {
    this.pending = Buffer.alloc(0);
    this.desynchronised = false;
  }
}
