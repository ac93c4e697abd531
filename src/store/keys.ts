// Binary LMDB keys built for ordered range scans: fixed-width big-endian integers sort like the numbers they
// encode, so "queue 7, sequence > 41" is one cursor range and never a string-of-digits comparison.

import { nodeCrypto } from '../lazy-builtins.js';

/** Largest sequence number a key holds exactly (2^53 - 1: JavaScript's safe integers, in a u64 field). */
export const MAX_SEQ = Number.MAX_SAFE_INTEGER;
export const MAX_ID = 0xffffffff;

/** Text keys longer than this are stored as a SHA-256 digest (LMDB keys are limited to 1978 bytes by default). */
export const MAX_TEXT_KEY_BYTES = 480;

const TEXT_PLAIN = 0x01;
const TEXT_DIGEST = 0x02;
const TWO_POW_32 = 0x1_0000_0000;

function checkId(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > MAX_ID) throw new RangeError(`key id must be a u32, got ${id}`);
}

function checkSeq(seq: number): void {
  if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`sequence must be a safe non-negative integer, got ${seq}`);
}

/** 4-byte key of a queue or session id. */
export function idKey(id: number): Buffer {
  checkId(id);
  const key = Buffer.allocUnsafe(4);
  key.writeUInt32BE(id, 0);
  return key;
}

/** 12-byte key: u32 id (queue id, session id) then the u64 sequence as two big-endian u32 halves. */
export function seqKey(id: number, seq: number): Buffer {
  checkId(id);
  checkSeq(seq);
  const key = Buffer.allocUnsafe(12);
  key.writeUInt32BE(id, 0);
  key.writeUInt32BE(Math.floor(seq / TWO_POW_32), 4);
  key.writeUInt32BE(seq >>> 0, 8);
  return key;
}

export function readKeyId(key: Uint8Array): number {
  return ((key[0]! << 24) | (key[1]! << 16) | (key[2]! << 8) | key[3]!) >>> 0;
}

export function readKeySeq(key: Uint8Array): number {
  const hi = ((key[4]! << 24) | (key[5]! << 16) | (key[6]! << 8) | key[7]!) >>> 0;
  const lo = ((key[8]! << 24) | (key[9]! << 16) | (key[10]! << 8) | key[11]!) >>> 0;
  return hi * TWO_POW_32 + lo;
}

/** 6-byte key: u32 session id then a u16 MQTT packet identifier. */
export function packetIdKey(id: number, packetId: number): Buffer {
  checkId(id);
  if (!Number.isInteger(packetId) || packetId < 1 || packetId > 0xffff) {
    throw new RangeError(`packet identifier must be 1-65535, got ${packetId}`);
  }
  const key = Buffer.allocUnsafe(6);
  key.writeUInt32BE(id, 0);
  key.writeUInt16BE(packetId, 4);
  return key;
}

export function readKeyPacketId(key: Uint8Array): number {
  return (key[4]! << 8) | key[5]!;
}

/**
 * Key of a client identifier, topic or last-value key. A tag byte keeps the empty string a non-empty key and
 * separates the two forms; long text becomes its digest (MQTT strings may be 65535 bytes, LMDB keys may not).
 * Lookups are exact, so only equality matters here, not order.
 */
export function textKey(text: string): Buffer {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes <= MAX_TEXT_KEY_BYTES) {
    const key = Buffer.allocUnsafe(1 + bytes);
    key[0] = TEXT_PLAIN;
    key.write(text, 1, 'utf8');
    return key;
  }
  const digest = nodeCrypto().createHash('sha256').update(text, 'utf8').digest();
  return Buffer.concat([Buffer.of(TEXT_DIGEST), digest]);
}

/** u32 id followed by a text key: a last-value key or a consumer of one queue, scanned by the id prefix. */
export function idTextKey(id: number, text: string): Buffer {
  return Buffer.concat([idKey(id), textKey(text)]);
}

/** Cursor bounds for LMDB getRange: start inclusive, end exclusive (undefined = to the end of the database). */
export interface KeyRange {
  start: Buffer;
  end: Buffer | undefined;
}

/** Every key that starts with the 4-byte id. */
export function idPrefixRange(id: number): KeyRange {
  checkId(id);
  return { start: idKey(id), end: id === MAX_ID ? undefined : idKey(id + 1) };
}

/** Keys of one id with a sequence strictly greater than afterSeq (afterSeq -1: from the first). */
export function seqRangeAfter(id: number, afterSeq: number): KeyRange {
  const range = idPrefixRange(id);
  if (afterSeq < 0) return range;
  // Past the largest sequence: an empty range (0xff.. sorts after every valid 8-byte sequence field).
  if (afterSeq >= MAX_SEQ) return { start: Buffer.concat([range.start, Buffer.alloc(8, 0xff)]), end: range.end };
  return { start: seqKey(id, afterSeq + 1), end: range.end };
}
