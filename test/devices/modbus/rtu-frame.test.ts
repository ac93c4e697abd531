// RTU framing: unit id + PDU + CRC (low byte first); checks in wire order so a damaged frame is never decoded.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeRtuFrame, encodeRtuFrame, rtuResponseLength } from '../../../src/devices/modbus/rtu-frame.js';

const test = suite('devices/modbus: rtu frame');
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('a read of 10 holding registers of unit 1 is 01 03 0000 000A C5 CD', () => {
  assert.equal(encodeRtuFrame(1, hex('03 00 00 00 0A')), hex('01 03 00 00 00 0A C5 CD'));
  assert.equal(encodeRtuFrame(11, hex('03 08 00 00 02')), hex('0B 03 08 00 00 02 C6 C1'));
});

test('decode: the PDU of a good frame; CRC, unit id and length errors named', () => {
  const good = encodeRtuFrame(17, hex('03 06 02 2B 00 00 00 64'));
  const ok = decodeRtuFrame(good, 17);
  assert.ok(ok.kind === 'pdu');
  assert.equal(ok.pdu, hex('03 06 02 2B 00 00 00 64'));
  assert.equal(decodeRtuFrame(good, 18), { kind: 'bad_frame', reason: 'unit_id' });
  const corrupt = Buffer.from(good);
  corrupt[4]! ^= 0x10;
  assert.equal(decodeRtuFrame(corrupt, 17), { kind: 'bad_frame', reason: 'crc' });
  assert.equal(decodeRtuFrame(hex('11 83 02'), 17), { kind: 'bad_frame', reason: 'length' });
  assert.equal(decodeRtuFrame(Buffer.alloc(257), 17), { kind: 'bad_frame', reason: 'length' });
  const exception = decodeRtuFrame(encodeRtuFrame(17, hex('83 02')), 17);
  assert.ok(exception.kind === 'pdu' && exception.pdu.equals(hex('83 02')));
});

test('unit ids outside 0..247 are refused', () => {
  assert.throws(() => encodeRtuFrame(248, hex('03 00 00 00 01')), RangeError);
});

test('rtuResponseLength from the header of a response', () => {
  assert.is(rtuResponseLength(hex('11')), undefined);
  assert.is(rtuResponseLength(hex('11 03')), undefined);
  assert.is(rtuResponseLength(hex('11 03 06')), 11);
  assert.is(rtuResponseLength(hex('11 83')), 5);
  assert.is(rtuResponseLength(hex('11 06')), 8);
});

test.run();
