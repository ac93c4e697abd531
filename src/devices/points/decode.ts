// Register words and bits read from a device -> the typed, scaled value of a point (issue 14, Codec).
//
// JSON representation: values are JSON numbers, booleans or strings. A 64-bit integer beyond 2^53 (where a
// double stops holding every integer) is published as a decimal string ("18446744073709551615") so it arrives
// exact; within ±(2^53-1) it is a number. A 64-bit point with scale or offset is a number (the scaled value is
// a double anyway). A float that is NaN or infinite has no JSON form: the point reads as an error (bad quality).

import type { ResolvedPoint } from '../../config/types.js';
import { writeValueBytes } from './byte-order.js';

export type PointValue = number | boolean | string;
export type Decoded = { value: PointValue } | { error: string };

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

// One scratch buffer for every decode (JavaScript runs one decode at a time): a poll of 50 devices × 40 points
// would otherwise make 2,000 ArrayBuffers and DataViews a second, garbage that keeps the young heap growing.
// A string point needs up to 2 × 125 registers, so the scratch is as large as the longest read.
const SCRATCH = new Uint8Array(2 * 125);
const VIEW = new DataView(SCRATCH.buffer);

/** Applies scale and offset; integers stay exact when neither is set. */
function engineering(point: ResolvedPoint, raw: number): number {
  return point.scale === 1 && point.offset === 0 ? raw : raw * point.scale + point.offset;
}

function wide(point: ResolvedPoint, raw: bigint): PointValue {
  if (point.scale !== 1 || point.offset !== 0) return Number(raw) * point.scale + point.offset;
  return raw > MAX_SAFE || raw < -MAX_SAFE ? raw.toString() : Number(raw);
}

function finite(value: number): Decoded {
  return Number.isFinite(value) ? { value } : { error: `not a finite number (${value})` };
}

function decodeString(point: ResolvedPoint, bytes: Uint8Array): Decoded {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, point.length ?? bytes.length);
  // Devices pad strings with NULs (some with spaces, which are kept: they may be part of the value).
  const end = text.indexOf(0);
  return { value: text.toString('utf8', 0, end < 0 ? text.length : end) };
}

/**
 * The value of a register point whose first register is `words[start]`. Strings use their registers in
 * ascending order, high byte first (Neuron's H); byteOrder BADC or DCBA reads the low byte first (Neuron's L).
 */
export function decodeRegisters(point: ResolvedPoint, words: ArrayLike<number>, start: number): Decoded {
  if (start < 0 || start + point.quantity > words.length) return { error: `registers ${point.address}+${point.quantity} missing from the reply` };
  if (point.type === 'string') {
    const order = point.byteOrder === 'BADC' || point.byteOrder === 'DCBA' ? 'BADC' : 'ABCD';
    // Per register, never reversed as a whole: text runs with the addresses.
    const bytes = point.quantity * 2 <= SCRATCH.length ? SCRATCH.subarray(0, point.quantity * 2) : new Uint8Array(point.quantity * 2);
    for (let i = 0; i < point.quantity; i++) writeValueBytes(words, start + i, 1, order, bytes, 2 * i);
    return decodeString(point, bytes);
  }
  writeValueBytes(words, start, point.quantity, point.byteOrder, SCRATCH, 0);
  const view = VIEW;
  switch (point.type) {
    case 'bool':
      return { value: ((view.getUint16(0) >> (point.bit ?? 0)) & 1) === 1 };
    case 'int16':
      return { value: engineering(point, view.getInt16(0)) };
    case 'uint16':
      return { value: engineering(point, view.getUint16(0)) };
    case 'int32':
      return { value: engineering(point, view.getInt32(0)) };
    case 'uint32':
      return { value: engineering(point, view.getUint32(0)) };
    case 'float32':
      return finite(engineering(point, view.getFloat32(0)));
    case 'float64':
      return finite(engineering(point, view.getFloat64(0)));
    case 'int64':
      return { value: wide(point, view.getBigInt64(0)) };
    case 'uint64':
      return { value: wide(point, view.getBigUint64(0)) };
  }
}

/** The value of a coil or discrete input at `bits[start]` (one 0/1 per bit, as ReadResult carries them). */
export function decodeBit(bits: ArrayLike<number>, start: number): Decoded {
  if (start < 0 || start >= bits.length) return { error: `bit ${start} missing from the reply` };
  return { value: bits[start] === 1 };
}
