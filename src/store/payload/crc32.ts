// CRC-32 (IEEE 802.3, as zlib and gzip compute it) of payload records. Node >= 20.15 has zlib.crc32 in C;
// older Node 20 releases get the table-driven version below. node:zlib loads at the first CRC, not with the store:
// a broker that has written nothing yet does not need it (about 0.25 MB of idle RSS, issue 13).

import { nodeZlib } from '../../lazy-builtins.js';

let table: Uint32Array | undefined;

function makeTable(): Uint32Array {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
}

export function crc32Table(data: Uint8Array, initial = 0): number {
  const t = (table ??= makeTable());
  let crc = (initial ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) crc = t[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

type NativeCrc32 = (data: Uint8Array, value?: number) => number;

/** zlib.crc32, or null on a Node without it; undefined until the first CRC. */
let native: NativeCrc32 | null | undefined;

function loadNative(): NativeCrc32 | null {
  const fn = (nodeZlib() as { crc32?: NativeCrc32 }).crc32;
  return (native = typeof fn === 'function' ? fn : null);
}

export function crc32(data: Uint8Array): number {
  const fn = native === undefined ? loadNative() : native;
  return fn !== null ? fn(data) >>> 0 : crc32Table(data);
}

/** CRC-32 of `data` continuing from the CRC of what came before it (`crc32(a ‖ b) === crc32Continue(b, crc32(a))`). */
export function crc32Continue(data: Uint8Array, previous: number): number {
  const fn = native === undefined ? loadNative() : native;
  return fn !== null ? fn(data, previous) >>> 0 : crc32Table(data, previous);
}
