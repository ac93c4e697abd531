// On-disk format of payload segment files (the same for the native and the TypeScript store, so either can open
// a data directory the other wrote): a 16-byte file header, then records of a 12-byte header and the payload
// bytes. Every record carries its length and CRC-32 so torn or rotten records are recognised. Each flush ends on a
// FLUSH_ALIGN_BYTES boundary, filled with a padding record, so the next flush never rewrites a block (flash page)
// that is already on disk.

import { open, type FileHandle } from 'node:fs/promises';
import { crc32 } from './crc32.js';

export const FILE_HEADER_BYTES = 16;
export const RECORD_HEADER_BYTES = 12;
/**
 * Flushes end on this boundary. 4 KiB is the page size of eMMC/SD flash translation layers and of ext4 blocks:
 * rewriting a partly written block costs a read-modify-write of a whole flash page, and the page written before
 * can be lost with it on power cut. The price is at most one block of padding per commit window
 * (2 KiB on average): 3% for one 64 KiB payload per window, up to 2x for one 2 KiB payload per window.
 */
export const FLUSH_ALIGN_BYTES = 4096;
const FILE_MAGIC = 0x57505347; // "WPSG"
const RECORD_MAGIC = 0x57505231; // "WPR1"
const PAD_MAGIC = 0x57504144; // "WPAD"
const FORMAT_VERSION = 1;
const ZEROES = Buffer.alloc(FLUSH_ALIGN_BYTES + RECORD_HEADER_BYTES);

/** Reads `length` bytes at `position` (fewer at the end of the file). */
export type ReadAt = (position: number, length: number) => Promise<Buffer>;

/**
 * The padding record that takes a flush ending at `end` to the next FLUSH_ALIGN_BYTES boundary, or undefined if
 * `end` is on one. A gap too small for a record header is padded to the boundary after the next.
 */
export function paddingAfter(end: number): Buffer | undefined {
  let gap = (FLUSH_ALIGN_BYTES - (end % FLUSH_ALIGN_BYTES)) % FLUSH_ALIGN_BYTES;
  if (gap === 0) return undefined;
  if (gap < RECORD_HEADER_BYTES) gap += FLUSH_ALIGN_BYTES;
  const pad = Buffer.from(ZEROES.subarray(0, gap));
  pad.writeUInt32BE(PAD_MAGIC, 0);
  pad.writeUInt32BE(gap - RECORD_HEADER_BYTES, 4);
  return pad;
}

const NAME_PATTERN = /^seg-(\d{10})\.wps$/;

export function segmentFileName(id: number): string {
  return `seg-${String(id).padStart(10, '0')}.wps`;
}

/** Segment number of a file name, or undefined for files that are not segments. */
export function parseSegmentFileName(name: string): number | undefined {
  const match = NAME_PATTERN.exec(name);
  return match ? Number(match[1]) : undefined;
}

export function encodeFileHeader(id: number): Buffer {
  const header = Buffer.alloc(FILE_HEADER_BYTES);
  header.writeUInt32BE(FILE_MAGIC, 0);
  header.writeUInt16BE(FORMAT_VERSION, 4);
  header.writeUInt32BE(id, 8);
  return header;
}

export function encodeRecordHeader(length: number, checksum: number): Buffer {
  const header = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
  header.writeUInt32BE(RECORD_MAGIC, 0);
  header.writeUInt32BE(length, 4);
  header.writeUInt32BE(checksum, 8);
  return header;
}

/** Checks a record read back (header + payload) against its reference; returns what is wrong, or undefined. */
export function checkRecord(record: Buffer, length: number, checksum: number): string | undefined {
  if (record.length < RECORD_HEADER_BYTES + length) return `short read (${record.length} of ${RECORD_HEADER_BYTES + length} bytes)`;
  if (record.readUInt32BE(0) !== RECORD_MAGIC) return 'bad record magic';
  if (record.readUInt32BE(4) !== length) return `length ${record.readUInt32BE(4)} where the reference says ${length}`;
  if (record.readUInt32BE(8) !== checksum) return 'checksum in the record differs from the reference';
  const actual = crc32(record.subarray(RECORD_HEADER_BYTES, RECORD_HEADER_BYTES + length));
  if (actual !== checksum) return `checksum mismatch (stored ${checksum.toString(16)}, computed ${actual.toString(16)})`;
  return undefined;
}

/**
 * Walks the records of a segment from `from` (a record boundary) to the first one that is incomplete or fails its checksum:
 * the end of the valid prefix. A power cut during a flush leaves a torn tail after it.
 */
export async function findValidEnd(readAt: ReadAt, from: number, fileSize: number): Promise<number> {
  let position = Math.max(from, FILE_HEADER_BYTES);
  while (position + RECORD_HEADER_BYTES <= fileSize) {
    const header = await readAt(position, RECORD_HEADER_BYTES);
    if (header.length < RECORD_HEADER_BYTES) break;
    const magic = header.readUInt32BE(0);
    const length = header.readUInt32BE(4);
    const end = position + RECORD_HEADER_BYTES + length;
    if (end > fileSize) break;
    if (magic === PAD_MAGIC) {
      // Padding ends on a boundary and is all zeroes; anything else is not a padding record.
      const body = await readAt(position + RECORD_HEADER_BYTES, length);
      if (end % FLUSH_ALIGN_BYTES !== 0 || body.length < length || body.some((b) => b !== 0)) break;
    } else if (magic !== RECORD_MAGIC || checkRecord(await readAt(position, end - position), length, header.readUInt32BE(8)) !== undefined) {
      break;
    }
    position = end;
  }
  return Math.min(position, fileSize);
}

/** Creates a segment file and fsyncs its directory, so the new entry survives a power cut. */
export async function createSegmentFile(dir: string, path: string): Promise<FileHandle> {
  const handle = await open(path, 'w+');
  await syncDirectory(dir);
  return handle;
}

/** fsync of a directory: makes the entries created in it durable. */
export async function syncDirectory(dir: string): Promise<void> {
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}
