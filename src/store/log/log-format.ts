// On-disk format of the commit log (<dataDir>/log/log-<n>.wlg, store format 3): records of a 14-byte header
// and an encoded operation, appended flush by flush; each flush ends on a 4 KiB boundary with a padding
// record, so no block already on disk is written again. Every record carries a log sequence number (LSN, +1
// per record); its CRC-32 covers its length, the LSN, the number of its file (not stored) and the body, so a
// torn tail, a stale record of a reused file or garbage stops the scan. (Format 2 had a 24-byte header with a
// magic and the file number: log-format-v2.ts reads it for the migration.)

import { crc32Continue } from '../payload/crc32.js';

export const LOG_HEADER_BYTES = 14;
export const LOG_ALIGN_BYTES = 4096;
/** Bit 31 of a record's first word marks padding; the low 31 bits are the body length. */
const PAD_FLAG = 0x80000000;
const LENGTH_MASK = 0x7fffffff;
const PAD_HEADER_BYTES = 4;
const NAME_PATTERN = /^log-(\d{10})\.wlg$/;
/**
 * What a record's CRC covers before its body: the first word, the file's number (not stored: a stale record of
 * a reused file fails the check) and the LSN. One scratch buffer, so a record costs no allocation.
 */
const crcScratch = Buffer.alloc(14);

export function logFileName(id: number): string {
  return `log-${String(id).padStart(10, '0')}.wlg`;
}

export function parseLogFileName(name: string): number | undefined {
  const match = NAME_PATTERN.exec(name);
  return match ? Number(match[1]) : undefined;
}

/**
 * The bytes of one write: a record per body (first word: body length; CRC-32; LSN as 48 bits; the body), LSNs
 * from `firstLsn` on, then the padding that takes a write starting at `position` to the next 4 KiB boundary.
 * One allocation for the whole write.
 */
export function encodeLogWrite(fileId: number, firstLsn: number, bodies: readonly Buffer[], position: number): Buffer {
  return encodeLogRecords(fileId, firstLsn, bodies, EMPTY, NO_ENDS, position);
}

const EMPTY = Buffer.alloc(0);
const NO_ENDS: readonly number[] = [];

/**
 * As encodeLogWrite, for the bodies in `head` followed by those laid out one after another in `data`, the i-th
 * ending at `ends[i]` (EntryEncoder's output).
 */
export function encodeLogRecords(fileId: number, firstLsn: number, head: readonly Buffer[], data: Buffer, ends: readonly number[], position: number): Buffer {
  let bytes = (head.length + ends.length) * LOG_HEADER_BYTES + (ends.length > 0 ? ends[ends.length - 1]! : 0);
  for (const body of head) bytes += body.length;
  let gap = (LOG_ALIGN_BYTES - ((position + bytes) % LOG_ALIGN_BYTES)) % LOG_ALIGN_BYTES;
  if (gap !== 0 && gap < PAD_HEADER_BYTES) gap += LOG_ALIGN_BYTES;
  // Every byte but the padding's is written below; the padding is zeroed.
  const out = Buffer.allocUnsafe(bytes + gap);
  let pos = 0;
  let lsn = firstLsn;
  for (const body of head) {
    body.copy(out, pos + LOG_HEADER_BYTES);
    pos = writeHeader(out, pos, fileId, lsn++, body.length);
  }
  let from = 0;
  for (const end of ends) {
    data.copy(out, pos + LOG_HEADER_BYTES, from, end);
    pos = writeHeader(out, pos, fileId, lsn++, end - from);
    from = end;
  }
  if (gap !== 0) {
    out.fill(0, pos);
    out.writeUInt32BE((PAD_FLAG | (gap - PAD_HEADER_BYTES)) >>> 0, pos);
  }
  return out;
}

/** Writes the header of the record at `pos` whose body is already in place; returns where the next starts. */
function writeHeader(out: Buffer, pos: number, fileId: number, lsn: number, length: number): number {
  const end = pos + LOG_HEADER_BYTES + length;
  out.writeUInt32BE(length, pos);
  out.writeUInt16BE(Math.floor(lsn / 0x100000000), pos + 8);
  out.writeUInt32BE(lsn >>> 0, pos + 10);
  out.writeUInt32BE(recordCrc(length, fileId, lsn, out.subarray(pos + LOG_HEADER_BYTES, end)), pos + 4);
  return end;
}

function recordCrc(word0: number, fileId: number, lsn: number, body: Uint8Array): number {
  crcScratch.writeUInt32BE(word0 >>> 0, 0);
  crcScratch.writeUInt32BE(fileId >>> 0, 4);
  crcScratch.writeUInt16BE(Math.floor(lsn / 0x100000000), 8);
  crcScratch.writeUInt32BE(lsn >>> 0, 10);
  return crc32Continue(body, crc32Continue(crcScratch, 0));
}

export interface ScannedRecord {
  lsn: number;
  body: Buffer;
  /** Where the record (its header) starts in its file. */
  offset: number;
}

/**
 * The body of the record read back at a reference (`data` holds its header and body), or why it is not the
 * record the reference names: the CRC covers the file number, so a stale record of a reused file fails too.
 */
export function checkLogRecord(fileId: number, data: Buffer, length: number): Buffer | string {
  if (data.length < LOG_HEADER_BYTES + length) return 'log record cut short';
  const word0 = data.readUInt32BE(0);
  if ((word0 & PAD_FLAG) !== 0 || (word0 & LENGTH_MASK) !== length) return 'log record length mismatch';
  const lsn = data.readUInt16BE(8) * 0x100000000 + data.readUInt32BE(10);
  const body = data.subarray(LOG_HEADER_BYTES, LOG_HEADER_BYTES + length);
  if (data.readUInt32BE(4) !== recordCrc(word0, fileId, lsn, body)) return 'log record checksum mismatch';
  return body;
}

/**
 * The valid records of one file's content, in order, up to the first one that is torn, corrupt, of another
 * file (a stale copy) or not a record at all. `end` is where the valid part ends. Records at or below `keepAfter`
 * are left out of `records`; those of them `keepAlso` accepts are in `alsoKept`.
 */
export function scanLogFile(
  fileId: number,
  data: Buffer,
  keepAfter = 0,
  keepAlso: (body: Buffer) => boolean = () => false,
): { records: ScannedRecord[]; end: number; maxLsn: number; alsoKept: Buffer[] } {
  const records: ScannedRecord[] = [];
  const alsoKept: Buffer[] = [];
  let maxLsn = 0;
  let pos = 0;
  while (pos + PAD_HEADER_BYTES <= data.length) {
    const word0 = data.readUInt32BE(pos);
    const length = word0 & LENGTH_MASK;
    if ((word0 & PAD_FLAG) !== 0) {
      if (pos + PAD_HEADER_BYTES + length > data.length) break;
      pos += PAD_HEADER_BYTES + length;
      continue;
    }
    if (pos + LOG_HEADER_BYTES + length > data.length) break;
    const lsn = data.readUInt16BE(pos + 8) * 0x100000000 + data.readUInt32BE(pos + 10);
    // LSNs start at 1: zeros (a prepared file, log-preallocate.ts) end the scan even for a file number whose
    // CRC of an all-zero header happens to be 0.
    if (lsn === 0) break;
    const body = data.subarray(pos + LOG_HEADER_BYTES, pos + LOG_HEADER_BYTES + length);
    if (data.readUInt32BE(pos + 4) !== recordCrc(word0, fileId, lsn, body)) break;
    // Only the records a replay may need are copied out (files kept for their live records can be large).
    if (lsn > keepAfter) records.push({ lsn, body: Buffer.from(body), offset: pos });
    // Whatever its LSN: a file's string tables (log-strings.ts) are needed to read its records.
    else if (keepAlso(body)) alsoKept.push(Buffer.from(body));
    if (lsn > maxLsn) maxLsn = lsn;
    pos += LOG_HEADER_BYTES + length;
  }
  return { records, end: pos, maxLsn, alsoKept };
}
