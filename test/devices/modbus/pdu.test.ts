// Request and response PDUs against the examples of MODBUS Application Protocol Specification V1.1b3
// (sections 6.1-6.6, 6.11, 6.12 and 7), plus the checks that keep a wrong answer from being taken as values.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  decodeReadResponse,
  decodeWriteResponse,
  encodeRequest,
  responsePduLength,
  type ReadRequest,
  type WriteRequest,
} from '../../../src/devices/modbus/pdu.js';

const test = suite('devices/modbus: pdu');
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const read = (table: ReadRequest['table'], address: number, quantity: number): ReadRequest => ({ unitId: 1, table, address, quantity });

test('6.1 read coils 20-38: request 01 0013 0013, response 01 03 CD 6B 05', () => {
  const req = read('coil', 0x13, 0x13);
  assert.equal(encodeRequest(req), hex('01 00 13 00 13'));
  const res = decodeReadResponse(req, hex('01 03 CD 6B 05'));
  assert.ok(res.kind === 'ok' && 'bits' in res);
  // CD: coils 27..20 = 1100 1101, the first coil in the least significant bit; 05: coils 38..36 = 101.
  assert.equal([...res.bits], [1, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1]);
});

test('6.2 read discrete inputs 197-218: request 02 00C4 0016, response 02 03 AC DB 35', () => {
  const req = read('discrete_input', 0xc4, 0x16);
  assert.equal(encodeRequest(req), hex('02 00 C4 00 16'));
  const res = decodeReadResponse(req, hex('02 03 AC DB 35'));
  assert.ok(res.kind === 'ok' && 'bits' in res);
  assert.is(res.bits.length, 22);
  assert.equal([...res.bits.subarray(0, 8)], [0, 0, 1, 1, 0, 1, 0, 1]); // AC
  assert.equal([...res.bits.subarray(16)], [1, 0, 1, 0, 1, 1]); // 35, the two high bits padding
});

test('6.3 read holding registers 108-110: request 03 006B 0003, response 03 06 022B 0000 0064', () => {
  const req = read('holding_register', 0x6b, 3);
  assert.equal(encodeRequest(req), hex('03 00 6B 00 03'));
  const res = decodeReadResponse(req, hex('03 06 02 2B 00 00 00 64'));
  assert.ok(res.kind === 'ok' && 'registers' in res);
  assert.equal([...res.registers], [555, 0, 100]);
});

test('6.4 read input register 9: request 04 0008 0001, response 04 02 000A', () => {
  const req = read('input_register', 8, 1);
  assert.equal(encodeRequest(req), hex('04 00 08 00 01'));
  const res = decodeReadResponse(req, hex('04 02 00 0A'));
  assert.ok(res.kind === 'ok' && 'registers' in res);
  assert.equal([...res.registers], [10]);
});

test('6.5 and 6.6 single writes: the response is an echo of the request', () => {
  const coil: WriteRequest = { unitId: 1, table: 'coil', address: 0xac, values: [1] };
  assert.equal(encodeRequest(coil), hex('05 00 AC FF 00'));
  assert.equal(decodeWriteResponse(coil, hex('05 00 AC FF 00')), { kind: 'ok', written: 1 });
  assert.equal(encodeRequest({ ...coil, values: [0] }), hex('05 00 AC 00 00'));
  const reg: WriteRequest = { unitId: 1, table: 'holding_register', address: 1, values: [3] };
  assert.equal(encodeRequest(reg), hex('06 00 01 00 03'));
  assert.equal(decodeWriteResponse(reg, hex('06 00 01 00 03')), { kind: 'ok', written: 1 });
  // An echo with another value is not taken as done.
  assert.equal(decodeWriteResponse(reg, hex('06 00 01 00 04')), { kind: 'bad_frame', reason: 'byte_count' });
});

test('6.11 write coils 20-29: request 0F 0013 000A 02 CD 01, response 0F 0013 000A', () => {
  const req: WriteRequest = { unitId: 1, table: 'coil', address: 0x13, values: [1, 0, 1, 1, 0, 0, 1, 1, 1, 0] };
  assert.equal(encodeRequest(req), hex('0F 00 13 00 0A 02 CD 01'));
  assert.equal(decodeWriteResponse(req, hex('0F 00 13 00 0A')), { kind: 'ok', written: 10 });
  assert.equal(decodeWriteResponse(req, hex('0F 00 13 00 09')), { kind: 'bad_frame', reason: 'byte_count' });
});

test('6.12 write registers 2-3: request 10 0001 0002 04 000A 0102, response 10 0001 0002', () => {
  const req: WriteRequest = { unitId: 1, table: 'holding_register', address: 1, values: [0x000a, 0x0102] };
  assert.equal(encodeRequest(req), hex('10 00 01 00 02 04 00 0A 01 02'));
  assert.equal(decodeWriteResponse(req, hex('10 00 01 00 02')), { kind: 'ok', written: 2 });
});

test('7 exception: read coils answered 81 02 (illegal data address)', () => {
  const req = read('coil', 0xa104 >> 8, 1);
  assert.equal(decodeReadResponse(req, hex('81 02')), { kind: 'exception', code: 2 });
  assert.equal(decodeReadResponse(read('holding_register', 0, 1), hex('83 03')), { kind: 'exception', code: 3 });
  assert.equal(decodeReadResponse(req, hex('81 02 00')), { kind: 'bad_frame', reason: 'length' });
});

test('a response that is not for this request is a bad frame, never values', () => {
  const req = read('holding_register', 0x6b, 3);
  assert.equal(decodeReadResponse(req, hex('04 06 02 2B 00 00 00 64')), { kind: 'bad_frame', reason: 'function_code' });
  assert.equal(decodeReadResponse(req, hex('84 02')), { kind: 'bad_frame', reason: 'function_code' });
  assert.equal(decodeReadResponse(req, hex('03 04 02 2B 00 00')), { kind: 'bad_frame', reason: 'byte_count' });
  assert.equal(decodeReadResponse(req, hex('03 06 02 2B 00 00 00')), { kind: 'bad_frame', reason: 'length' });
  assert.equal(decodeReadResponse(req, hex('03 06 02 2B 00 00 00 64 00')), { kind: 'bad_frame', reason: 'length' });
  assert.equal(decodeReadResponse(req, hex('')), { kind: 'bad_frame', reason: 'length' });
  assert.equal(decodeReadResponse(read('coil', 0, 9), hex('01 01 FF')), { kind: 'bad_frame', reason: 'byte_count' });
});

test('quantities and addresses outside the specification are refused before anything is sent', () => {
  assert.throws(() => encodeRequest(read('holding_register', 0, 126)), RangeError);
  assert.throws(() => encodeRequest(read('holding_register', 0, 0)), RangeError);
  assert.throws(() => encodeRequest(read('coil', 0, 2001)), RangeError);
  assert.throws(() => encodeRequest(read('input_register', 65535, 2)), RangeError);
  assert.throws(() => encodeRequest(read('input_register', 65536, 1)), RangeError);
  assert.equal(encodeRequest(read('coil', 0, 2000)), hex('01 00 00 07 D0'));
  assert.equal(encodeRequest(read('input_register', 65535, 1)), hex('04 FF FF 00 01'));
  assert.throws(() => encodeRequest({ unitId: 1, table: 'holding_register', address: 0, values: new Array(124).fill(0) }), RangeError);
  assert.throws(() => encodeRequest({ unitId: 1, table: 'holding_register', address: 0, values: [65536] }), RangeError);
});

test('responsePduLength frames reads, writes and exceptions from their first bytes', () => {
  assert.is(responsePduLength(hex('03')), undefined);
  assert.is(responsePduLength(hex('03 06')), 8);
  assert.is(responsePduLength(hex('01 03')), 5);
  assert.is(responsePduLength(hex('10')), 5);
  assert.is(responsePduLength(hex('83')), 2);
  assert.is(responsePduLength(hex('2B 0E')), undefined);
});

test.run();
