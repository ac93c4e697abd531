import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeBit, decodeRegisters, type Decoded } from '../../src/devices/points/decode.js';
import { encodeValue, setBit } from '../../src/devices/points/encode.js';
import { registerWords, valueBytes } from '../../src/devices/points/byte-order.js';
import { registersOf } from '../../src/config/device-points.js';
import type { ByteOrder, PointType, ResolvedPoint } from '../../src/config/types.js';

function point(type: PointType, byteOrder: ByteOrder = 'ABCD', extra: Partial<ResolvedPoint> = {}): ResolvedPoint {
  const length = extra.length;
  return {
    name: 'p',
    table: 'holding_register',
    address: 0,
    type,
    quantity: registersOf(type, length ?? 0),
    length,
    bit: undefined,
    byteOrder,
    scale: 1,
    offset: 0,
    unit: undefined,
    deadband: 0,
    publish: undefined,
    writable: true,
    min: undefined,
    max: undefined,
    allowed: undefined,
    ...extra,
  };
}

function value(d: Decoded): unknown {
  if ('error' in d) throw new Error(`expected a value, got error ${d.error}`);
  return d.value;
}

const decode = suite('points: decode');

decode('byte orders of a 32-bit value: 0x12345678 as ABCD, CDAB, BADC and DCBA registers', () => {
  const p = (o: ByteOrder) => point('uint32', o);
  assert.is(value(decodeRegisters(p('ABCD'), [0x1234, 0x5678], 0)), 0x12345678);
  assert.is(value(decodeRegisters(p('CDAB'), [0x5678, 0x1234], 0)), 0x12345678);
  assert.is(value(decodeRegisters(p('BADC'), [0x3412, 0x7856], 0)), 0x12345678);
  assert.is(value(decodeRegisters(p('DCBA'), [0x7856, 0x3412], 0)), 0x12345678);
});

decode('IEEE 754 float32: 123456.0 is 0x47F12000 (libmodbus example), 1.0, -2.5, in every order', () => {
  assert.is(value(decodeRegisters(point('float32'), [0x47f1, 0x2000], 0)), 123456);
  assert.is(value(decodeRegisters(point('float32', 'CDAB'), [0x2000, 0x47f1], 0)), 123456);
  assert.is(value(decodeRegisters(point('float32', 'BADC'), [0xf147, 0x0020], 0)), 123456);
  assert.is(value(decodeRegisters(point('float32', 'DCBA'), [0x0020, 0xf147], 0)), 123456);
  assert.is(value(decodeRegisters(point('float32'), [0x3f80, 0x0000], 0)), 1);
  assert.is(value(decodeRegisters(point('float32'), [0xc020, 0x0000], 0)), -2.5);
  // Offsets into a coalesced read.
  assert.is(value(decodeRegisters(point('float32'), [0xdead, 0x3f80, 0x0000], 1)), 1);
});

decode('float64: 1.5 is 0x3FF8000000000000; pi in little-endian', () => {
  assert.is(value(decodeRegisters(point('float64'), [0x3ff8, 0, 0, 0], 0)), 1.5);
  const bytes = Buffer.alloc(8);
  bytes.writeDoubleBE(Math.PI);
  const words = [0, 2, 4, 6].map((i) => bytes.readUInt16BE(i));
  const le = registerWords(new Uint8Array(bytes), 'DCBA');
  assert.equal(le, [0x182d, 0x4454, 0xfb21, 0x0940]);
  assert.is(value(decodeRegisters(point('float64', 'DCBA'), le, 0)), Math.PI);
  assert.is(value(decodeRegisters(point('float64'), words, 0)), Math.PI);
});

decode('negative integers: int16 0xFFFF is -1, 0x8000 is -32768; int32 -2; BADC swaps the bytes of an int16', () => {
  assert.is(value(decodeRegisters(point('int16'), [0xffff], 0)), -1);
  assert.is(value(decodeRegisters(point('int16'), [0x8000], 0)), -32768);
  assert.is(value(decodeRegisters(point('uint16'), [0x8000], 0)), 32768);
  assert.is(value(decodeRegisters(point('int16', 'BADC'), [0x0180], 0)), -32767);
  // CDAB concerns register order only: a 16-bit value reads as sent.
  assert.is(value(decodeRegisters(point('int16', 'CDAB'), [0x0180], 0)), 0x0180);
  assert.is(value(decodeRegisters(point('int32'), [0xffff, 0xfffe], 0)), -2);
  assert.is(value(decodeRegisters(point('int32', 'CDAB'), [0xfffe, 0xffff], 0)), -2);
});

decode('64-bit: Neuron 8-byte orders of 0x0102030405060708; beyond 2^53 a decimal string, within it a number', () => {
  const n = '72623859790382856'; // 0x0102030405060708 > 2^53
  assert.is(value(decodeRegisters(point('uint64'), [0x0102, 0x0304, 0x0506, 0x0708], 0)), n); // 12345678
  assert.is(value(decodeRegisters(point('uint64', 'CDAB'), [0x0708, 0x0506, 0x0304, 0x0102], 0)), n); // 78563412
  assert.is(value(decodeRegisters(point('uint64', 'BADC'), [0x0201, 0x0403, 0x0605, 0x0807], 0)), n); // 21436587
  assert.is(value(decodeRegisters(point('uint64', 'DCBA'), [0x0807, 0x0605, 0x0403, 0x0201], 0)), n); // 87654321
  assert.is(value(decodeRegisters(point('uint64'), [0xffff, 0xffff, 0xffff, 0xffff], 0)), '18446744073709551615');
  assert.is(value(decodeRegisters(point('int64'), [0xffff, 0xffff, 0xffff, 0xffff], 0)), -1);
  assert.is(value(decodeRegisters(point('int64'), [0x8000, 0, 0, 0], 0)), '-9223372036854775808');
  // 2^53 - 1 is the last integer a double holds with all its neighbours: a number; 2^53 a string.
  assert.is(value(decodeRegisters(point('int64'), [0x001f, 0xffff, 0xffff, 0xffff], 0)), Number.MAX_SAFE_INTEGER);
  assert.is(value(decodeRegisters(point('int64'), [0x0020, 0, 0, 0], 0)), '9007199254740992');
  // With a scale the value is a double.
  assert.is(value(decodeRegisters(point('uint64', 'ABCD', { scale: 0.001 }), [0, 0, 0, 1500], 0)), 1.5);
});

decode('scale and offset: engineering = raw * scale + offset', () => {
  assert.is(value(decodeRegisters(point('int16', 'ABCD', { scale: 0.5, offset: -10 }), [0xfffe], 0)), -11);
  assert.is(value(decodeRegisters(point('uint16', 'ABCD', { scale: 0.25 }), [10], 0)), 2.5);
  assert.is(value(decodeRegisters(point('float32', 'ABCD', { scale: 2, offset: 1 }), [0x3f80, 0], 0)), 3);
});

decode('a bit of a register: bit 0 is the least significant', () => {
  const bit = (b: number, word: number, o: ByteOrder = 'ABCD') => value(decodeRegisters(point('bool', o, { bit: b }), [word], 0));
  assert.is(bit(4, 0x0010), true);
  assert.is(bit(3, 0x0010), false);
  assert.is(bit(15, 0x8000), true);
  assert.is(bit(0, 0x8000), false);
  assert.is(bit(0, 0x0100, 'BADC'), true);
});

decode('strings: length in bytes, high byte first (H) or low byte first with BADC (L), NUL padding cut', () => {
  assert.is(value(decodeRegisters(point('string', 'ABCD', { length: 6 }), [0x5344, 0x4d36, 0x3330], 0)), 'SDM630');
  assert.is(value(decodeRegisters(point('string', 'BADC', { length: 6 }), [0x4453, 0x364d, 0x3033], 0)), 'SDM630');
  assert.is(value(decodeRegisters(point('string', 'ABCD', { length: 8 }), [0x4142, 0, 0, 0], 0)), 'AB');
  // An odd length ignores the last register's low byte.
  assert.is(value(decodeRegisters(point('string', 'ABCD', { length: 5 }), [0x4845, 0x4c4c, 0x4f21], 0)), 'HELLO');
});

decode('coils and discrete inputs; missing registers and non-finite floats are errors', () => {
  assert.is(value(decodeBit([0, 1, 0], 1)), true);
  assert.is(value(decodeBit([0, 1, 0], 2)), false);
  assert.ok('error' in decodeBit([0, 1], 2));
  assert.equal(decodeRegisters(point('float32'), [0x3f80], 0), { error: 'registers 0+2 missing from the reply' });
  assert.equal(decodeRegisters(point('float32'), [0x7fc0, 0], 0), { error: 'not a finite number (NaN)' });
  assert.equal(decodeRegisters(point('float32'), [0x7f80, 0], 0), { error: 'not a finite number (Infinity)' });
});

const encode = suite('points: encode (issue 15 writes)');

encode('every type and byte order round-trips through encode and decode', () => {
  const cases: [PointType, unknown, Partial<ResolvedPoint>?][] = [
    ['int16', -12345],
    ['uint16', 54321],
    ['int32', -123456789],
    ['uint32', 4000000000],
    ['float32', 123456],
    ['float64', -Math.E],
    ['int64', '-9223372036854775808'],
    ['uint64', '18446744073709551615'],
    ['int64', 42],
    ['string', 'SDM630', { length: 7 }],
    ['int16', 230.5, { scale: 0.5, offset: 0 }],
  ];
  for (const order of ['ABCD', 'CDAB', 'BADC', 'DCBA'] as ByteOrder[]) {
    for (const [type, v, extra] of cases) {
      const p = point(type, order, extra);
      const enc = encodeValue(p, v);
      if (!('words' in enc)) throw new Error(`${type} ${order}: ${JSON.stringify(enc)}`);
      assert.is(enc.words.length, p.quantity, `${type} ${order}`);
      assert.is(value(decodeRegisters(p, enc.words, 0)), v, `${type} ${order}`);
    }
  }
});

encode('known register patterns: float32 123456.0 CDAB, int32 -2, uint64 max', () => {
  assert.equal(encodeValue(point('float32', 'CDAB'), 123456), { words: [0x2000, 0x47f1] });
  assert.equal(encodeValue(point('int32'), -2), { words: [0xffff, 0xfffe] });
  assert.equal(encodeValue(point('int16', 'BADC'), -32767), { words: [0x0180] });
  assert.equal(encodeValue(point('uint64'), '18446744073709551615'), { words: [0xffff, 0xffff, 0xffff, 0xffff] });
  // Engineering 25.0 with scale 0.1 and offset -5 is raw 300.
  assert.equal(encodeValue(point('uint16', 'ABCD', { scale: 0.1, offset: -5 }), 25), { words: [300] });
});

encode('bad values are refused with a reason, never encoded', () => {
  assert.equal(encodeValue(point('int16'), 40000), { error: '40000 is out of range for int16 (raw 40000, -32768-32767)' });
  assert.equal(encodeValue(point('uint16'), -1), { error: '-1 is out of range for uint16 (raw -1, 0-65535)' });
  assert.equal(encodeValue(point('int16'), 'ten'), { error: 'expected a number; got "ten"' });
  assert.equal(encodeValue(point('float32'), Infinity), { error: 'expected a finite number; got Infinity' });
  assert.equal(encodeValue(point('int16', 'ABCD', { min: 0, max: 100 }), 101), { error: '101 is above max (100)' });
  assert.equal(encodeValue(point('int16', 'ABCD', { min: 0, max: 100 }), -1), { error: '-1 is below min (0)' });
  assert.equal(encodeValue(point('uint64'), '18446744073709551616'), { error: '"18446744073709551616" is out of range for uint64' });
  assert.equal(encodeValue(point('int64'), '1.5'), { error: '"1.5" is not an integer' });
  assert.equal(encodeValue(point('string', 'ABCD', { length: 2 }), 'abc'), { error: "3 bytes do not fit the point's 2" });
  assert.equal(encodeValue(point('int16', 'ABCD', { allowed: [1, 2] }), 3), { error: '3 is not one of the allowed values (1, 2)' });
});

encode('coils take true/false (or 1/0); a register bit is set on the word read back', () => {
  const coil = { ...point('bool'), table: 'coil' as const, quantity: 1 };
  assert.equal(encodeValue(coil, true), { bit: true });
  assert.equal(encodeValue(coil, 0), { bit: false });
  assert.equal(encodeValue(coil, 'on'), { error: 'expected true or false; got "on"' });
  assert.equal(encodeValue({ ...coil, allowed: [false] }, true), { error: 'true is not one of the allowed values (false)' });
  assert.ok('error' in encodeValue(point('bool', 'ABCD', { bit: 3 }), true));
  assert.is(setBit(0x0000, 3, true), 0x0008);
  assert.is(setBit(0xffff, 15, false), 0x7fff);
  assert.is(setBit(0x0008, 3, false), 0);
});

encode('valueBytes and registerWords are inverse for every order', () => {
  const bytes = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
  for (const o of ['ABCD', 'CDAB', 'BADC', 'DCBA'] as ByteOrder[]) {
    assert.equal([...valueBytes(registerWords(bytes, o), 0, 4, o)], [...bytes], o);
  }
});

decode.run();
encode.run();
