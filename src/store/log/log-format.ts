// On-disk format of the commit log (<dataDir>/log/log-<n>.wlg): records of a 24-byte header and an encoded
// operation, appended flush by flush; each flush ends on a 4 KiB boundary with a padding record, so no block
// already on disk is written again. Every record carries the number of its file and a log sequence number
// (LSN, +1 per record); its CRC-32 covers both and the body, so a torn tail, a stale record or garbage stops
// the scan.

import { crc32Continue } from '../payload/crc32.js';

export const LOG_HEADER_BYTES = 24;
export const LOG_ALIGN_BYTES = 4096;
const RECORD_MAGIC = 0x574c4731; // "WLG1"
const PAD_MAGIC = 0x574c5044; // "WLPD"
const PAD_HEADER_BYTES = 8;
const ZEROES = Buffer.alloc(LOG_ALIGN_BYTES + PAD_HEADER_BYTES);
const NAME_PATTERN = /^log-(\d{10})\.wlg$/;

export function logFileName(id: number): string {
  return `log-${String(id).padStart(10, '0')}.wlg`;
}

export function parseLogFileName(name: string): number | undefined {
  const match = NAME_PATTERN.exec(name);
  return match ? Number(match[1]) : undefined;
}

/** One record: header (magic, body length, file id, CRC of bytes 16.., LSN) and body. */
export function encodeLogRecord(fileId: number, lsn: number, body: Buffer): Buffer[] {
  const header = Buffer.allocUnsafe(LOG_HEADER_BYTES);
  header.writeUInt32BE(RECORD_MAGIC, 0);
  header.writeUInt32BE(body.length, 4);
  header.writeUInt32BE(fileId, 8);
  header.writeUInt32BE(Math.floor(lsn / 0x100000000), 16);
  header.writeUInt32BE(lsn >>> 0, 20);
  header.writeUInt32BE(recordCrc(header, body), 12);
  return [header, body];
}

/** CRC-32 of header bytes 8..12 (file id), 16..24 (LSN) and the body, without copying any of them. */
function recordCrc(header: Buffer, body: Buffer): number {
  return crc32Continue(body, crc32Continue(header.subarray(16, 24), crc32Continue(header.subarray(8, 12), 0)));
}

/** The padding record that takes a flush ending at `end` to the next boundary (undefined if it is on one). */
export function logPaddingAfter(end: number): Buffer | undefined {
  let gap = (LOG_ALIGN_BYTES - (end % LOG_ALIGN_BYTES)) % LOG_ALIGN_BYTES;
  if (gap === 0) return undefined;
  if (gap < PAD_HEADER_BYTES) gap += LOG_ALIGN_BYTES;
  const pad = Buffer.from(ZEROES.subarray(0, gap));
  pad.writeUInt32BE(PAD_MAGIC, 0);
  pad.writeUInt32BE(gap - PAD_HEADER_BYTES, 4);
  return pad;
}

export interface ScannedRecord {
  lsn: number;
  body: Buffer;
}

/**
 * The valid records of one file's content, in order, up to the first one that is torn, corrupt, of another
 * file (a stale copy) or not a record at all. `end` is where the valid part ends.
 */
export function scanLogFile(fileId: number, data: Buffer): { records: ScannedRecord[]; end: number } {
  const records: ScannedRecord[] = [];
  let pos = 0;
  while (pos + PAD_HEADER_BYTES <= data.length) {
    const magic = data.readUInt32BE(pos);
    const length = data.readUInt32BE(pos + 4);
    if (magic === PAD_MAGIC) {
      if (pos + PAD_HEADER_BYTES + length > data.length) break;
      pos += PAD_HEADER_BYTES + length;
      continue;
    }
    if (magic !== RECORD_MAGIC || pos + LOG_HEADER_BYTES + length > data.length) break;
    const header = data.subarray(pos, pos + LOG_HEADER_BYTES);
    const body = data.subarray(pos + LOG_HEADER_BYTES, pos + LOG_HEADER_BYTES + length);
    if (header.readUInt32BE(8) !== fileId || header.readUInt32BE(12) !== recordCrc(header, body)) break;
    const lsn = header.readUInt32BE(16) * 0x100000000 + header.readUInt32BE(20);
    records.push({ lsn, body: Buffer.from(body) });
    pos += LOG_HEADER_BYTES + length;
  }
  return { records, end: pos };
}
