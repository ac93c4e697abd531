// The run index entry's codec (src/store/runs/run-entry.ts): one LMDB value for a run of consecutive messages
// whose records are in the commit log, with removed records, changed fields and a packed copy.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LOG_HEADER_BYTES } from '../../src/store/log/log-format.js';
import {
  RUN_MAX_RECORDS,
  canExtend,
  covers,
  decodeRun,
  encodeRun,
  extendRemoved,
  extendRun,
  isRemoved,
  isRunEntry,
  liveRefsOf,
  markRemoved,
  newRun,
  recordRef,
  type StoredRun,
} from '../../src/store/runs/run-entry.js';

const runs = suite('store: run index entries');

/** Records of `lengths` written back to back from `offset`, with `gaps[i]` bytes before record i. */
function refsAt(offset: number, lengths: number[], gaps: number[] = []): { file: number; offset: number; length: number }[] {
  const refs = [];
  let at = offset;
  for (let i = 0; i < lengths.length; i++) {
    at += gaps[i] ?? 0;
    refs.push({ file: 7, offset: at, length: lengths[i]! });
    at += LOG_HEADER_BYTES + lengths[i]!;
  }
  return refs;
}

runs('a run with gaps, long records, removals and changed fields comes back as it was', () => {
  const refs = refsAt(4096, [279, 12, 2000, 300, 70_000], [0, 0, 4000, 0, 1]);
  const run = newRun(41, refs[0]!);
  for (const ref of refs.slice(1)) {
    assert.ok(canExtend(run, run.firstSeq + run.count, ref));
    extendRun(run, ref);
  }
  assert.ok(markRemoved(run, 1));
  assert.not.ok(markRemoved(run, 1), 'removing twice removes once');
  run.changed.set(3, [17, 1]);
  const stored = encodeRun(run);
  assert.ok(isRunEntry(stored));
  const back = decodeRun(41, stored);
  assert.equal(
    Array.from({ length: back.count }, (_, i) => recordRef(back, i)),
    refs,
  );
  assert.is(back.live, 4);
  assert.ok(isRemoved(back, 1));
  assert.equal([...back.changed], [[3, [17, 1]]]);
  assert.equal(liveRefsOf(back), [refs[0], refs[2], refs[3], refs[4]]);
  assert.ok(covers(back, 41) && covers(back, 45) && !covers(back, 40) && !covers(back, 46));
});

runs('the layout takes a varint per record: about 3 bytes a message for 256-byte payloads', () => {
  const refs = refsAt(0, Array.from({ length: 64 }, () => 279));
  const run = newRun(1, refs[0]!);
  for (const ref of refs.slice(1)) extendRun(run, ref);
  const layout = encodeRun(run)[3]!;
  assert.is(layout.length, 64 * 2 + 63, 'two bytes of length, one of gap (0)');
});

runs('a run extends only by the next seq, in the same file, after its last record, up to RUN_MAX_RECORDS', () => {
  const [a, b] = refsAt(100, [50, 50]);
  const run = newRun(10, a!);
  assert.not.ok(canExtend(run, 12, b!), 'seq 11 comes first');
  assert.not.ok(canExtend(run, 11, { ...b!, file: 8 }), 'another file');
  assert.not.ok(canExtend(run, 11, { ...b!, offset: a!.offset }), 'before the end of the last record');
  assert.ok(canExtend(run, 11, b!));
  const full = newRun(1, { file: 1, offset: 0, length: 1 });
  for (let i = 1; i < RUN_MAX_RECORDS; i++) extendRun(full, { file: 1, offset: i * 15, length: 1 });
  assert.not.ok(canExtend(full, RUN_MAX_RECORDS + 1, { file: 1, offset: RUN_MAX_RECORDS * 15, length: 1 }));
});

runs('a message removed before it was written holds its seq in the run without a place; the next record follows it', () => {
  const [a, c] = refsAt(0, [100, 100]);
  const run = newRun(5, a!);
  assert.not.ok(extendRemoved(run, 7), 'only the next seq');
  assert.ok(extendRemoved(run, 6));
  assert.ok(isRemoved(run, 1));
  assert.ok(canExtend(run, 7, c!), 'the record written after the first follows the placeholder');
  extendRun(run, c!);
  const back = decodeRun(5, encodeRun(run));
  assert.equal(liveRefsOf(back), [a, c]);
  assert.is(back.live, 2);
  assert.is(back.count, 3);
});

runs('a packed run refers to one record for all its messages, each keeping the share of it its body takes live', () => {
  const run = newRun(3, { file: 1, offset: 0, length: 10 });
  extendRun(run, { file: 1, offset: 24, length: 10 });
  extendRun(run, { file: 1, offset: 48, length: 10 });
  markRemoved(run, 0);
  run.packed = { file: 9, offset: 8192, length: 4000 };
  run.offsets = [];
  run.lengths = [0, 1500, 2300];
  const stored = encodeRun(run);
  assert.is(stored[6], 4000);
  const back = decodeRun(3, stored);
  assert.equal(back.packed, { file: 9, offset: 8192, length: 4000 });
  assert.equal(liveRefsOf(back), [
    { file: 9, offset: 8192, length: 1500 },
    { file: 9, offset: 8192, length: 2300 },
  ]);
  markRemoved(back, 1);
  markRemoved(back, 2);
  assert.equal(liveRefsOf(back), [], 'no live message: nothing of the packed record is live');
  assert.not.ok(canExtend(back, 6, { file: 9, offset: 20_000, length: 10 }), 'a packed run takes no more records');
});

runs('values that are not well-formed runs are refused, naming the run', () => {
  const good = encodeRun(newRun(9, { file: 1, offset: 0, length: 10 }));
  assert.throws(() => decodeRun(9, [1, 0, 0, good[3], null, null, null] as StoredRun), /run of seq 9: bad record count 0/);
  assert.throws(() => decodeRun(9, [1, 0, 2, good[3], null, null, null] as StoredRun), /layout ends inside a number/);
  assert.throws(() => decodeRun(9, [1, 0, 1, Uint8Array.of(10, 10), null, null, null] as StoredRun), /1 bytes too many/);
  assert.throws(() => decodeRun(9, [1, 0, 1, null, null, null, null] as unknown as StoredRun), /no layout/);
  assert.throws(() => decodeRun(9, [1, 0, 1, Uint8Array.of(10, 10), null, null, 500] as StoredRun), /1 bytes too many/);
  assert.not.ok(isRunEntry([['t'], 1]), 'a whole record starts with its message');
  assert.not.ok(isRunEntry([[1, 2, 3], 1]), 'a format-4 index entry starts with its log reference');
});

runs.run();
