// The inverse of decode.ts for writes (issue 15): an engineering value -> the registers (or coil state) to write,
// with the point's bounds checked first so that a bad value never reaches a device.

import type { ResolvedPoint } from '../../config/types.js';
import { registerWords } from './byte-order.js';

export type Encoded = { words: number[] } | { bit: boolean } | { error: string };

const INT_RANGES: Readonly<Record<string, [number, number]>> = {
  int16: [-0x8000, 0x7fff],
  uint16: [0, 0xffff],
  int32: [-0x80000000, 0x7fffffff],
  uint32: [0, 0xffffffff],
};
const INT64_RANGE: [bigint, bigint] = [-(2n ** 63n), 2n ** 63n - 1n];
const UINT64_RANGE: [bigint, bigint] = [0n, 2n ** 64n - 1n];

function describeValue(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/** A command's value for a bool point: true/false, or 1/0. */
function asBool(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (value === 1 || value === 0) return value === 1;
  return undefined;
}

function checkAllowed(point: ResolvedPoint, value: unknown): string | undefined {
  if (point.allowed === undefined || point.allowed.includes(value as never)) return undefined;
  return `${describeValue(value)} is not one of the allowed values (${point.allowed.map(describeValue).join(', ')})`;
}

function raw64(point: ResolvedPoint, value: number | string): bigint | string {
  let raw: bigint;
  if (typeof value === 'string') {
    if (!/^-?\d+$/.test(value)) return `${describeValue(value)} is not an integer`;
    if (point.scale !== 1 || point.offset !== 0) return 'a decimal string is only taken by 64-bit points without scale or offset';
    raw = BigInt(value);
  } else raw = BigInt(Math.round((value - point.offset) / point.scale));
  const [lo, hi] = point.type === 'int64' ? INT64_RANGE : UINT64_RANGE;
  if (raw < lo || raw > hi) return `${describeValue(value)} is out of range for ${point.type}`;
  return raw;
}

/**
 * The registers to write for `value` (a number, or for 64-bit integers also a decimal string; a string for string
 * points; a boolean for coils). A bit of a register is not encoded here: writing it needs the register's current
 * value (read-modify-write, see setBit).
 */
export function encodeValue(point: ResolvedPoint, value: unknown): Encoded {
  const notAllowed = checkAllowed(point, value);
  if (notAllowed !== undefined) return { error: notAllowed };
  if (point.type === 'bool') {
    const b = asBool(value);
    if (b === undefined) return { error: `expected true or false; got ${describeValue(value)}` };
    if (point.bit !== undefined) return { error: 'a bit of a register is written with setBit on the register read back' };
    return { bit: b };
  }
  if (point.type === 'string') {
    if (typeof value !== 'string') return { error: `expected a string; got ${describeValue(value)}` };
    const text = Buffer.from(value, 'utf8');
    const length = point.length ?? 0;
    if (text.length > length) return { error: `${text.length} bytes do not fit the point's ${length}` };
    const bytes = new Uint8Array(point.quantity * 2);
    bytes.set(text);
    const swap = point.byteOrder === 'BADC' || point.byteOrder === 'DCBA';
    return { words: registerWords(bytes, swap ? 'BADC' : 'ABCD') };
  }
  const wideInt = point.type === 'int64' || point.type === 'uint64';
  if (typeof value !== 'number' && !(wideInt && typeof value === 'string')) return { error: `expected a number; got ${describeValue(value)}` };
  if (typeof value === 'number' && !Number.isFinite(value)) return { error: `expected a finite number; got ${value}` };
  const eng = Number(value);
  if (point.min !== undefined && eng < point.min) return { error: `${describeValue(value)} is below min (${point.min})` };
  if (point.max !== undefined && eng > point.max) return { error: `${describeValue(value)} is above max (${point.max})` };

  const bytes = new Uint8Array(point.quantity * 2);
  const view = new DataView(bytes.buffer);
  if (wideInt) {
    const raw = raw64(point, value as number | string);
    if (typeof raw === 'string') return { error: raw };
    if (point.type === 'int64') view.setBigInt64(0, raw);
    else view.setBigUint64(0, raw);
  } else {
    const raw = ((value as number) - point.offset) / point.scale;
    if (point.type === 'float32') view.setFloat32(0, raw);
    else if (point.type === 'float64') view.setFloat64(0, raw);
    else {
      const int = Math.round(raw);
      const [lo, hi] = INT_RANGES[point.type]!;
      if (int < lo || int > hi) return { error: `${describeValue(value)} is out of range for ${point.type} (raw ${int}, ${lo}-${hi})` };
      if (point.quantity === 1) view.setUint16(0, int & 0xffff);
      else view.setUint32(0, int >>> 0);
    }
  }
  return { words: registerWords(bytes, point.byteOrder) };
}

/** `word` with bit `bit` (0 = least significant) set or cleared: the register to write back for a bit point. */
export function setBit(word: number, bit: number, on: boolean): number {
  return on ? (word | (1 << bit)) & 0xffff : word & ~(1 << bit) & 0xffff;
}
