// The commit-log record format of store format 2 (24-byte header: magic "WLG1", body length, file number,
// CRC-32 of file number, LSN and body, LSN), read only to tell whether a format 2 directory left records that
// LMDB does not hold yet: those cannot be migrated, the Wharf that wrote them must apply them first.

import { crc32Continue } from '../payload/crc32.js';

const RECORD_MAGIC = 0x574c4731;
const PAD_MAGIC = 0x574c5044;
const HEADER_BYTES = 24;
const PAD_HEADER_BYTES = 8;

/** The highest LSN of the valid format 2 records of one file (0 if none), scanning as format 2 did. */
export function highestLsnV2(fileId: number, data: Buffer): number {
  let highest = 0;
  let pos = 0;
  while (pos + PAD_HEADER_BYTES <= data.length) {
    const magic = data.readUInt32BE(pos);
    const length = data.readUInt32BE(pos + 4);
    if (magic === PAD_MAGIC) {
      pos += PAD_HEADER_BYTES + length;
      continue;
    }
    if (magic !== RECORD_MAGIC || pos + HEADER_BYTES + length > data.length) break;
    const header = data.subarray(pos, pos + HEADER_BYTES);
    const body = data.subarray(pos + HEADER_BYTES, pos + HEADER_BYTES + length);
    const crc = crc32Continue(body, crc32Continue(header.subarray(16, 24), crc32Continue(header.subarray(8, 12), 0)));
    if (header.readUInt32BE(8) !== fileId || header.readUInt32BE(12) !== crc) break;
    highest = Math.max(highest, header.readUInt32BE(16) * 0x100000000 + header.readUInt32BE(20));
    pos += HEADER_BYTES + length;
  }
  return highest;
}
