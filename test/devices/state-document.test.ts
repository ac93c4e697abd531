import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StateDocumentBuilder } from '../../src/devices/state-document.js';
import type { PointReading } from '../../src/devices/read-plan.js';
import type { PointType, PublishMode, ResolvedPoint } from '../../src/config/types.js';

function pt(name: string, type: PointType = 'float32', deadband = 0, publish?: PublishMode): ResolvedPoint {
  return {
    name,
    table: 'input_register',
    address: 0,
    type,
    quantity: 2,
    length: undefined,
    bit: undefined,
    byteOrder: 'ABCD',
    scale: 1,
    offset: 0,
    unit: undefined,
    deadband,
    publish,
    writable: false,
    min: undefined,
    max: undefined,
    allowed: undefined,
  };
}

const doc = (b: Buffer | null): unknown => (b === null ? null : JSON.parse(b.toString()));
const v = (point: string, value: number | boolean | string): PointReading => ({ point, value });
const e = (point: string, error: string): PointReading => ({ point, error });

const test = suite('state document');

test('the first document is full, with the read timestamp', () => {
  const b = new StateDocumentBuilder([pt('voltage'), pt('relay', 'bool')], { publish: 'change', heartbeatMs: 60_000 });
  assert.equal(doc(b.build([v('voltage', 230.1), v('relay', true)], 1000)), { timestamp: 1000, values: { voltage: 230.1, relay: true }, full: true });
});

test('publish change: only values that moved beyond the deadband, measured from the last published value', () => {
  const b = new StateDocumentBuilder([pt('voltage', 'float32', 0.5), pt('count', 'uint16')], { publish: 'change', heartbeatMs: 0 });
  b.build([v('voltage', 230), v('count', 1)], 0);
  assert.is(b.build([v('voltage', 230.4), v('count', 1)], 1), null);
  // 230.4 -> 230.8 is 0.4 since the last reading, but 0.8 since the last published 230.
  assert.equal(doc(b.build([v('voltage', 230.8), v('count', 1)], 2)), { timestamp: 2, values: { voltage: 230.8 } });
  assert.is(b.build([v('voltage', 230.5), v('count', 1)], 3), null);
  // Deadband 0: any change counts.
  assert.equal(doc(b.build([v('voltage', 230.5), v('count', 2)], 4)), { timestamp: 4, values: { count: 2 } });
  // Exactly the deadband is not beyond it.
  assert.is(b.build([v('voltage', 231.3), v('count', 2)], 5), null);
});

test('publish always per device, or per point over the device setting', () => {
  const always = new StateDocumentBuilder([pt('a'), pt('b')], { publish: 'always', heartbeatMs: 0 });
  always.build([v('a', 1), v('b', 2)], 0);
  assert.equal(doc(always.build([v('a', 1), v('b', 2)], 1)), { timestamp: 1, values: { a: 1, b: 2 } });
  const mixed = new StateDocumentBuilder([pt('a', 'float32', 0, 'always'), pt('b')], { publish: 'change', heartbeatMs: 0 });
  mixed.build([v('a', 1), v('b', 2)], 0);
  assert.equal(doc(mixed.build([v('a', 1), v('b', 2)], 1)), { timestamp: 1, values: { a: 1 } });
  const perPointChange = new StateDocumentBuilder([pt('a', 'float32', 0, 'change'), pt('b')], { publish: 'always', heartbeatMs: 0 });
  perPointChange.build([v('a', 1), v('b', 2)], 0);
  assert.equal(doc(perPointChange.build([v('a', 1), v('b', 2)], 1)), { timestamp: 1, values: { b: 2 } });
});

test('heartbeat: a full document at least every heartbeat even without changes', () => {
  const b = new StateDocumentBuilder([pt('a'), pt('b')], { publish: 'change', heartbeatMs: 10_000 });
  b.build([v('a', 1), v('b', 2)], 0);
  assert.is(b.build([v('a', 1), v('b', 2)], 9_999), null);
  assert.equal(doc(b.build([v('a', 1), v('b', 2)], 10_000)), { timestamp: 10_000, values: { a: 1, b: 2 }, full: true });
  assert.is(b.build([v('a', 1), v('b', 2)], 15_000), null);
  // The next heartbeat counts from the last full document.
  assert.equal((doc(b.build([v('a', 1), v('b', 2)], 20_000)) as { full?: boolean }).full, true);
});

test('per-point quality: an error shows when it starts or changes; recovery republishes the value', () => {
  const b = new StateDocumentBuilder([pt('a'), pt('b')], { publish: 'change', heartbeatMs: 0 });
  b.build([v('a', 1), v('b', 2)], 0);
  assert.equal(doc(b.build([v('a', 1), e('b', 'timeout')], 1)), { timestamp: 1, values: {}, errors: { b: 'timeout' } });
  assert.is(b.build([v('a', 1), e('b', 'timeout')], 2), null);
  assert.equal(doc(b.build([v('a', 1), e('b', 'exception 0x04 (server device failure)')], 3)), {
    timestamp: 3,
    values: {},
    errors: { b: 'exception 0x04 (server device failure)' },
  });
  // Back with the same value as before the failure: published, the quality changed.
  assert.equal(doc(b.build([v('a', 1), v('b', 2)], 4)), { timestamp: 4, values: { b: 2 } });
  assert.equal(b.snapshot(), [
    { name: 'a', value: 1, quality: 'good' },
    { name: 'b', value: 2, quality: 'good' },
  ]);
});

test('strings, booleans and 64-bit decimal strings change by equality; unknown points are ignored', () => {
  const b = new StateDocumentBuilder([pt('s', 'string', 5), pt('big', 'uint64', 5), pt('on', 'bool')], { publish: 'change', heartbeatMs: 0 });
  b.build([v('s', 'A'), v('big', '18446744073709551615'), v('on', false)], 0);
  assert.is(b.build([v('s', 'A'), v('big', '18446744073709551615'), v('on', false), v('ghost', 1)], 1), null);
  assert.equal(doc(b.build([v('s', 'B'), v('big', '18446744073709551614'), v('on', true)], 2)), {
    timestamp: 2,
    values: { s: 'B', big: '18446744073709551614', on: true },
  });
  const fresh = new StateDocumentBuilder([pt('x')], { publish: 'change', heartbeatMs: 0 });
  assert.equal(fresh.snapshot(), [{ name: 'x', quality: 'bad', error: 'not read yet' }]);
});

test('the document is JSON that parses back to the readings, names and strings escaped, in reading order', () => {
  const names = ['say "hi"', 'back\\slash', 'ünï ✓', '10', 'neg', 'flag', 'big', 'err'];
  const b = new StateDocumentBuilder(names.map((n) => pt(n)), { publish: 'always', heartbeatMs: 0 });
  const text = b.build(
    [v(names[0]!, 'line\nbreak "q"'), v(names[1]!, 1.5), v(names[2]!, 'ü'), v(names[3]!, 3), v(names[4]!, -0.25), v(names[5]!, false), v(names[6]!, '18446744073709551615'), e(names[7]!, 'exception "0x02"')],
    42,
  )!.toString();
  assert.equal(JSON.parse(text), {
    timestamp: 42,
    values: { [names[0]!]: 'line\nbreak "q"', [names[1]!]: 1.5, [names[2]!]: 'ü', [names[3]!]: 3, [names[4]!]: -0.25, [names[5]!]: false, [names[6]!]: '18446744073709551615' },
    errors: { [names[7]!]: 'exception "0x02"' },
    full: true,
  });
  // Reading order, even for a name that looks like an array index (an object would put "10" first).
  assert.ok(text.indexOf('"say') < text.indexOf('"10"'), text);
});

test.run();
