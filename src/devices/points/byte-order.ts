// Register words <-> the bytes of a value, most significant first, under the Neuron byte orders.
//
// Modbus sends each register high byte first (Modbus Application Protocol V1.1b3, 4.2: big-endian), but says nothing
// of values wider than a register, so devices differ. With the value's bytes named A (most significant) to D
// (or H for 64 bits) and the registers read r0, r1, ... (ascending addresses, each high byte first):
//   ABCD  r0 = AB, r1 = CD                     (Neuron #LL, "1234"; 64-bit 12345678)   big-endian
//   CDAB  r0 = CD, r1 = AB                     (Neuron #BL, "3412"; 64-bit 78563412)   registers in reverse order
//   BADC  r0 = BA, r1 = DC                     (Neuron #LB, "2143"; 64-bit 21436587)   bytes swapped in each register
//   DCBA  r0 = DC, r1 = BA                     (Neuron #BB, "4321"; 64-bit 87654321)   little-endian
// A 16-bit value is one register: ABCD and CDAB read it as sent, BADC and DCBA swap its two bytes.

import type { ByteOrder } from '../../config/types.js';

function reversesWords(order: ByteOrder): boolean {
  return order === 'CDAB' || order === 'DCBA';
}

export function swapsBytes(order: ByteOrder): boolean {
  return order === 'BADC' || order === 'DCBA';
}

/** The value's bytes, most significant first, from `count` registers of `words` starting at `start`. */
export function valueBytes(words: ArrayLike<number>, start: number, count: number, order: ByteOrder): Uint8Array {
  return writeValueBytes(words, start, count, order, new Uint8Array(count * 2), 0);
}

/** valueBytes into `out` at `at` (the poll path decodes through one scratch buffer instead of one per point). */
export function writeValueBytes(words: ArrayLike<number>, start: number, count: number, order: ByteOrder, out: Uint8Array, at: number): Uint8Array {
  const reverse = reversesWords(order);
  const swap = swapsBytes(order);
  for (let i = 0; i < count; i++) {
    const w = words[start + (reverse ? count - 1 - i : i)]! & 0xffff;
    out[at + 2 * i] = swap ? w & 0xff : w >> 8;
    out[at + 2 * i + 1] = swap ? w >> 8 : w & 0xff;
  }
  return out;
}

/** The inverse of valueBytes: the registers to write for a value's bytes (most significant first). */
export function registerWords(bytes: Uint8Array, order: ByteOrder): number[] {
  const count = bytes.length / 2;
  const out = new Array<number>(count);
  const reverse = reversesWords(order);
  const swap = swapsBytes(order);
  for (let i = 0; i < count; i++) {
    const hi = bytes[2 * i]!;
    const lo = bytes[2 * i + 1]!;
    out[reverse ? count - 1 - i : i] = swap ? (lo << 8) | hi : (hi << 8) | lo;
  }
  return out;
}
