import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LineSplitter, type LineSplitterOptions } from '../../src/devices/line-splitter.js';

const opts = (o: Partial<LineSplitterOptions> = {}): LineSplitterOptions => ({ delimiter: '\n', encoding: 'utf8', maxLineBytes: 16, ...o });
const texts = (s: LineSplitter, ...chunks: (string | Buffer)[]): string[] =>
  chunks.flatMap((c) => s.push(typeof c === 'string' ? Buffer.from(c, 'latin1') : c)).map((l) => (l.cut ? `${l.text}✂` : l.text));

const test = suite('line splitter');

test('lines split on the delimiter across chunks; CR before the default LF is dropped; empty lines skipped', () => {
  const s = new LineSplitter(opts());
  assert.equal(texts(s, 'T=21.5\r\nH=4', '0\n\n', 'P=1013'), ['T=21.5', 'H=40']);
  assert.equal(texts(s, '\n'), ['P=1013']);
  assert.is(s.pendingBytes, 0);
});

test('a multi-byte delimiter split between chunks', () => {
  const s = new LineSplitter(opts({ delimiter: '\r\n' }));
  assert.equal(texts(s, 'a\r', '\nb\r', '\r\n'), ['a', 'b\r']);
});

test('encodings: latin1 and hex', () => {
  assert.equal(texts(new LineSplitter(opts({ encoding: 'latin1' })), Buffer.from([0x32, 0x35, 0xb0, 0x43, 0x0a])), ['25°C']);
  assert.equal(texts(new LineSplitter(opts({ encoding: 'hex', delimiter: ';' })), Buffer.from([0x01, 0xff, 0x3b])), ['01ff']);
});

test('an over-long line is cut at maxLineBytes, the rest dropped up to the delimiter, and counted', () => {
  const s = new LineSplitter(opts({ maxLineBytes: 8 }));
  // A line of exactly 8 bytes is not cut.
  assert.equal(texts(s, '12345678\n'), ['12345678']);
  assert.equal(texts(s, 'abcdefghij', 'klmn\nnext\n'), ['abcdefgh✂', 'next']);
  assert.is(s.linesCut, 1);
  assert.is(s.bytesDropped, 6);
  // Cut at once, before the delimiter arrives.
  assert.equal(texts(s, '0123456789'), ['01234567✂']);
  assert.equal(texts(s, 'xyz', '\nok\n'), ['ok']);
  assert.equal([s.linesCut, s.bytesDropped], [2, 11]);
});

test('UTF-8: a cut never splits a character', () => {
  const s = new LineSplitter(opts({ maxLineBytes: 5 }));
  // "aaaa€" is 4 + 3 bytes: the euro sign does not fit and is dropped whole.
  assert.equal(texts(s, Buffer.from('aaaa€€\n', 'utf8')), ['aaaa✂']);
  assert.is(s.bytesDropped, 7 - 4 + 3);
});

test('memory stays bounded: 1 MiB without a delimiter holds at most maxLineBytes + delimiter - 1 bytes', () => {
  const s = new LineSplitter(opts({ maxLineBytes: 100, delimiter: '\r\n' }));
  const chunk = Buffer.alloc(1024, 0x41);
  let lines = 0;
  for (let i = 0; i < 1024; i++) {
    lines += s.push(chunk).length;
    assert.ok(s.pendingBytes <= 101, `${s.pendingBytes} bytes pending`);
  }
  assert.is(lines, 1);
  assert.is(s.linesCut, 1);
  assert.is(s.bytesDropped, 1024 * 1024 - 100 - s.pendingBytes);
  assert.equal(texts(s, '\r\nfine\r\n'), ['fine']);
});

test.run();
