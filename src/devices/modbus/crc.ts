// CRC-16 of Modbus RTU frames (MODBUS over Serial Line V1.02, section 6.2.2 and appendix B): polynomial 0xA001
// (0x8005 reflected), initial value 0xFFFF, no final XOR; sent low byte first, unlike every other Modbus field.

/** One entry per byte value, derived from the polynomial once at load (the bitwise loop of appendix B). */
const TABLE = buildTable();

function buildTable(): Uint16Array {
  const table = new Uint16Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let bit = 0; bit < 8; bit++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    table[n] = c;
  }
  return table;
}

/** CRC of `bytes[start, end)`, as a number 0..0xFFFF (write it with writeUInt16LE). */
export function crc16(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0xffff;
  for (let i = start; i < end; i++) crc = (crc >>> 8) ^ TABLE[(crc ^ bytes[i]!) & 0xff]!;
  return crc;
}

/** Whether the last two bytes of `frame` are the CRC of the bytes before them. */
export function crcMatches(frame: Uint8Array): boolean {
  if (frame.length < 3) return false;
  const sent = frame[frame.length - 2]! | (frame[frame.length - 1]! << 8);
  return crc16(frame, 0, frame.length - 2) === sent;
}
