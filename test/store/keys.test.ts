import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  MAX_ID,
  MAX_SEQ,
  MAX_TEXT_KEY_BYTES,
  idPrefixRange,
  idTextKey,
  packetIdKey,
  readKeyId,
  readKeyPacketId,
  readKeySeq,
  seqKey,
  seqRangeAfter,
  textKey,
} from '../../src/store/keys.js';

const keys = suite('store keys');

function inRange(key: Buffer, range: { start: Buffer; end: Buffer | undefined }): boolean {
  return Buffer.compare(key, range.start) >= 0 && (range.end === undefined || Buffer.compare(key, range.end) < 0);
}

keys('seqKey byte order equals (id, seq) numeric order, across the 32-bit boundary', () => {
  const samples: [number, number][] = [];
  const ids = [0, 1, 2, 255, 256, 65535, 0x7fffffff, 0x80000000, MAX_ID];
  const seqs = [0, 1, 2, 255, 256, 0xffffffff, 0x100000000, 0x100000001, 2 ** 40 + 7, MAX_SEQ - 1, MAX_SEQ];
  for (const id of ids) for (const seq of seqs) samples.push([id, seq]);
  let seed = 7;
  for (let i = 0; i < 500; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    samples.push([seed % 5, Math.floor((seed / 0xffffffff) * MAX_SEQ)]);
  }
  const byNumber = [...samples].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const byKey = [...samples].sort((a, b) => Buffer.compare(seqKey(a[0], a[1]), seqKey(b[0], b[1])));
  assert.equal(byKey, byNumber);
});

keys('seqKey round-trips id and sequence', () => {
  for (const [id, seq] of [[0, 0], [7, 0x100000000], [MAX_ID, MAX_SEQ], [123456, 987654321012]] as const) {
    const key = seqKey(id, seq);
    assert.is(key.length, 12);
    assert.is(readKeyId(key), id);
    assert.is(readKeySeq(key), seq);
  }
});

keys('seqKey refuses what it cannot encode exactly', () => {
  assert.throws(() => seqKey(-1, 0), /u32/);
  assert.throws(() => seqKey(MAX_ID + 1, 0), /u32/);
  assert.throws(() => seqKey(1, MAX_SEQ + 1), /safe/);
  assert.throws(() => seqKey(1, 1.5), /safe/);
});

keys('idPrefixRange holds exactly the keys of its id', () => {
  const range = idPrefixRange(5);
  assert.ok(inRange(seqKey(5, 0), range));
  assert.ok(inRange(seqKey(5, MAX_SEQ), range));
  assert.ok(inRange(idTextKey(5, 'anything'), range));
  assert.not.ok(inRange(seqKey(4, MAX_SEQ), range));
  assert.not.ok(inRange(seqKey(6, 0), range));
  const last = idPrefixRange(MAX_ID);
  assert.is(last.end, undefined);
  assert.ok(inRange(seqKey(MAX_ID, 3), last));
});

keys('seqRangeAfter starts just after the given sequence', () => {
  const range = seqRangeAfter(3, 41);
  assert.not.ok(inRange(seqKey(3, 41), range));
  assert.ok(inRange(seqKey(3, 42), range));
  assert.ok(inRange(seqKey(3, MAX_SEQ), range));
  assert.not.ok(inRange(seqKey(4, 0), range));
  assert.ok(inRange(seqKey(3, 0), seqRangeAfter(3, -1)));
  assert.not.ok(inRange(seqKey(3, MAX_SEQ), seqRangeAfter(3, MAX_SEQ)));
  assert.not.ok(inRange(seqKey(MAX_ID, MAX_SEQ), seqRangeAfter(MAX_ID, MAX_SEQ)));
});

keys('packetIdKey sorts by session then packet identifier', () => {
  const a = packetIdKey(1, 65535);
  const b = packetIdKey(2, 1);
  assert.ok(Buffer.compare(a, b) < 0);
  assert.ok(Buffer.compare(packetIdKey(2, 1), packetIdKey(2, 300)) < 0);
  assert.is(readKeyPacketId(packetIdKey(9, 300)), 300);
  assert.throws(() => packetIdKey(1, 0), /1-65535/);
});

keys('textKey is never empty, and long text becomes a fixed-size digest', () => {
  assert.equal([...textKey('')], [1]);
  assert.equal(textKey('a/b').subarray(1).toString(), 'a/b');
  const long = 'x'.repeat(MAX_TEXT_KEY_BYTES + 1);
  assert.is(textKey(long).length, 33);
  assert.ok(textKey(long).equals(textKey(long)));
  assert.not.ok(textKey(long).equals(textKey(long + 'y')));
  assert.not.ok(textKey('ab').equals(textKey('abc')));
});

keys('idTextKey keeps each queue id as a contiguous prefix', () => {
  const keysOfQueue2 = ['', 'a', 'zz', 'x'.repeat(1000)].map((k) => idTextKey(2, k));
  for (const key of keysOfQueue2) assert.ok(inRange(key, idPrefixRange(2)));
  assert.not.ok(inRange(idTextKey(3, ''), idPrefixRange(2)));
});

keys.run();
