// One LMDB index entry for a run of consecutive messages of one session or queue whose records are in the commit
// log (store format 5): where the records are, which are removed, and the few fields that change after the
// append (a session message's packet id, a queue message's delivery count). A run of 64 messages takes about
// 200 bytes of LMDB instead of 64 entries of ~70 (issue 13: the 1×64 backlog's write amplification). No I/O here.

import { LOG_HEADER_BYTES } from '../log/log-format.js';
import type { LogRef } from '../log/commit-log.js';

/** Records one run holds at most: its entry stays under ~1 KiB, and an acknowledgement rewrites no more. */
export const RUN_MAX_RECORDS = 256;

/**
 * A run in memory. Its records are in `file` at `offsets` (record headers) with body `lengths`; or, once log
 * compaction has copied them, all inside the one record `packed` (log-compactor.ts), where removed records are
 * empty bodies (`lengths` are the bodies', `offsets` empty).
 */
export interface RunEntry {
  readonly firstSeq: number;
  file: number;
  offsets: number[];
  lengths: number[];
  packed: LogRef | undefined;
  /** Records covered, removed ones included: the run holds seqs firstSeq .. firstSeq + count - 1. */
  count: number;
  /** Records not removed. */
  live: number;
  /** Bit i set: record i is removed. */
  removed: Uint8Array;
  /** Record index -> the fields changed since the append (their meaning is the table's). */
  changed: Map<number, number[]>;
}

/**
 * As stored: [file, first offset, count, layout, removed bitmap | null, changed | null, packed length | null].
 * The layout is a varint per record: its body length, preceded from the second on by the gap between the end of
 * the previous record and its header (0 when a window wrote them back to back). A packed run's offset and packed
 * length are the one record holding its bodies, and its layout the length of each body. The first element is a number: a whole record
 * starts with its message (an array), a format-4 index entry with its log reference (an array).
 */
export type StoredRun = [
  file: number,
  offset: number,
  count: number,
  layout: Uint8Array,
  removed: Uint8Array | null,
  changed: number[][] | null,
  packedLength: number | null,
];

export function isRunEntry(value: unknown): value is StoredRun {
  return Array.isArray(value) && typeof value[0] === 'number';
}

/** A new run of one record. */
export function newRun(firstSeq: number, ref: LogRef): RunEntry {
  return { firstSeq, file: ref.file, offsets: [ref.offset], lengths: [ref.length], packed: undefined, count: 1, live: 1, removed: new Uint8Array(1), changed: new Map() };
}

/** Whether the record of `seq` at `ref` continues the run (next seq, same file, after its last record, room left). */
export function canExtend(run: RunEntry, seq: number, ref: LogRef): boolean {
  if (run.packed !== undefined || run.count >= RUN_MAX_RECORDS || seq !== run.firstSeq + run.count || ref.file !== run.file) return false;
  return ref.offset >= recordEnd(run, run.count - 1);
}

/**
 * Extends the run by `seq`, appended and removed again before the transaction wrote it (never in LMDB, its log
 * record never live): a removed record without a place, so that the run goes on after it. False if `seq` does
 * not follow the run.
 */
export function extendRemoved(run: RunEntry, seq: number): boolean {
  if (run.packed !== undefined || run.count >= RUN_MAX_RECORDS || seq !== run.firstSeq + run.count) return false;
  extendRun(run, { file: run.file, offset: recordEnd(run, run.count - 1), length: 0 });
  markRemoved(run, run.count - 1);
  return true;
}

/** Where the log record of record `index` ends; a removed record without a place (length 0) takes no room. */
function recordEnd(run: RunEntry, index: number): number {
  const length = run.lengths[index]!;
  return run.offsets[index]! + (length === 0 ? 0 : LOG_HEADER_BYTES + length);
}

export function extendRun(run: RunEntry, ref: LogRef): void {
  run.offsets.push(ref.offset);
  run.lengths.push(ref.length);
  run.count++;
  run.live++;
  if (run.removed.length * 8 < run.count) {
    const grown = new Uint8Array(run.removed.length * 2);
    grown.set(run.removed);
    run.removed = grown;
  }
}

export function covers(run: RunEntry, seq: number): boolean {
  return seq >= run.firstSeq && seq < run.firstSeq + run.count;
}

export function lastSeqOf(run: RunEntry): number {
  return run.firstSeq + run.count - 1;
}

export function isRemoved(run: RunEntry, index: number): boolean {
  return (run.removed[index >> 3]! & (1 << (index & 7))) !== 0;
}

/** Marks record `index` removed; false if it already was. */
export function markRemoved(run: RunEntry, index: number): boolean {
  if (isRemoved(run, index)) return false;
  run.removed[index >> 3]! |= 1 << (index & 7);
  run.live--;
  run.changed.delete(index);
  return true;
}

/**
 * Where record `index` is. In a packed run: the packed record's place with the body's own length, which is how
 * much of the packed record the message keeps live (CommitLog.markLive and free count bytes per reference), so
 * that a packed copy whose messages are mostly removed looks as sparse as it is to log compaction.
 */
export function recordRef(run: RunEntry, index: number): LogRef {
  if (run.packed !== undefined) return { file: run.packed.file, offset: run.packed.offset, length: run.lengths[index]! };
  return { file: run.file, offset: run.offsets[index]!, length: run.lengths[index]! };
}

/** The log records (or, packed, the parts of one) the run keeps live: those of its messages not removed. */
export function liveRefsOf(run: RunEntry): LogRef[] {
  const refs: LogRef[] = [];
  for (let i = 0; i < run.count; i++) if (!isRemoved(run, i)) refs.push(recordRef(run, i));
  return refs;
}

export function encodeRun(run: RunEntry): StoredRun {
  const removed = run.live === run.count ? null : run.removed.slice(0, Math.ceil(run.count / 8));
  let changed: number[][] | null = null;
  if (run.changed.size > 0) {
    changed = [];
    for (const [index, fields] of run.changed) changed.push([index, ...fields]);
  }
  if (run.packed !== undefined) return [run.packed.file, run.packed.offset, run.count, encodeLengths(run), removed, changed, run.packed.length];
  return [run.file, run.offsets[0]!, run.count, encodeLayout(run), removed, changed, null];
}

/** The run stored under the key of `firstSeq`; throws on a value that is not a well-formed run. */
export function decodeRun(firstSeq: number, stored: StoredRun): RunEntry {
  const [file, offset, count, layout, removedBits, changedList, packedLength] = stored;
  if (!Number.isInteger(count) || count < 1 || count > RUN_MAX_RECORDS) throw new Error(`run of seq ${firstSeq}: bad record count ${String(count)}`);
  const removed = new Uint8Array(Math.max(1, Math.ceil(count / 8)));
  if (removedBits !== null) removed.set(removedBits.subarray(0, removed.length));
  let live = 0;
  for (let i = 0; i < count; i++) if ((removed[i >> 3]! & (1 << (i & 7))) === 0) live++;
  const changed = new Map<number, number[]>();
  for (const [index, ...fields] of changedList ?? []) changed.set(index!, fields);
  const run: RunEntry = { firstSeq, file, offsets: [], lengths: [], packed: undefined, count, live, removed, changed };
  if (layout === null) throw new Error(`run of seq ${firstSeq}: no layout`);
  if (packedLength === null) {
    decodeLayout(run, offset, layout);
    return run;
  }
  run.packed = { file, offset, length: packedLength };
  const at = { pos: 0 };
  for (let i = 0; i < count; i++) run.lengths.push(readVarint(layout, at, firstSeq));
  if (at.pos !== layout.length) throw new Error(`run of seq ${firstSeq}: layout has ${layout.length - at.pos} bytes too many`);
  return run;
}

/** A packed run's layout: the length of each body in the packed record (0 for a removed message's). */
function encodeLengths(run: RunEntry): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < run.count; i++) writeVarint(out, run.lengths[i]!);
  return Uint8Array.from(out);
}

function encodeLayout(run: RunEntry): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < run.count; i++) {
    if (i > 0) writeVarint(out, run.offsets[i]! - recordEnd(run, i - 1));
    writeVarint(out, run.lengths[i]!);
  }
  return Uint8Array.from(out);
}

function decodeLayout(run: RunEntry, firstOffset: number, layout: Uint8Array): void {
  const at = { pos: 0 };
  let offset = firstOffset;
  for (let i = 0; i < run.count; i++) {
    if (i > 0) offset += readVarint(layout, at, run.firstSeq);
    const length = readVarint(layout, at, run.firstSeq);
    run.offsets.push(offset);
    run.lengths.push(length);
    offset += length === 0 ? 0 : LOG_HEADER_BYTES + length;
  }
  if (at.pos !== layout.length) throw new Error(`run of seq ${run.firstSeq}: layout has ${layout.length - at.pos} bytes too many`);
}

function writeVarint(out: number[], value: number): void {
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

function readVarint(bytes: Uint8Array, at: { pos: number }, firstSeq: number): number {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 8; i++) {
    const byte = bytes[at.pos++];
    if (byte === undefined) throw new Error(`run of seq ${firstSeq}: layout ends inside a number`);
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return value;
    scale *= 0x80;
  }
  throw new Error(`run of seq ${firstSeq}: layout number too long`);
}
