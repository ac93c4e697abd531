// On-disk format of payload segment files: a 16-byte file header, then records of a 12-byte header and the
// payload bytes. Every record carries its length and CRC-32 so torn or rotten records are recognised.

import { open, type FileHandle } from 'node:fs/promises';
import { crc32 } from './crc32.js';

export const FILE_HEADER_BYTES = 16;
export const RECORD_HEADER_BYTES = 12;
const FILE_MAGIC = 0x57505347; // "WPSG"
const RECORD_MAGIC = 0x57505231; // "WPR1"
const FORMAT_VERSION = 1;

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
export async function findValidEnd(fh: FileHandle, from: number, fileSize: number): Promise<number> {
  let position = Math.max(from, FILE_HEADER_BYTES);
  const header = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
  while (position + RECORD_HEADER_BYTES <= fileSize) {
    const { bytesRead } = await fh.read(header, 0, RECORD_HEADER_BYTES, position);
    if (bytesRead < RECORD_HEADER_BYTES || header.readUInt32BE(0) !== RECORD_MAGIC) break;
    const length = header.readUInt32BE(4);
    const end = position + RECORD_HEADER_BYTES + length;
    if (end > fileSize) break;
    const record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + length);
    await fh.read(record, 0, record.length, position);
    if (checkRecord(record, length, header.readUInt32BE(8)) !== undefined) break;
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
