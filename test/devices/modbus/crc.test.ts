// CRC-16 of RTU frames against checksums published for known frames (MODBUS over Serial Line V1.02, 6.2.2).

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { crc16, crcMatches } from '../../../src/devices/modbus/crc.js';

const test = suite('devices/modbus: crc');
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('known frames: the CRC low byte first as they are sent', () => {
  // Serial line guide V1.02, appendix B: the CRC of 02 07 is 0x1241, sent as 41 12.
  assert.is(crc16(hex('02 07')), 0x1241);
  // Read holding registers 0..9 of unit 1, a frame printed by device manuals: 01 03 00 00 00 0A C5 CD.
  assert.is(crc16(hex('01 03 00 00 00 0A')), 0xcdc5);
  // Beckhoff BK7300 manual, function 3 example: unit 11, registers 0x0800..0x0801, CRC C6 C1 on the wire.
  assert.is(crc16(hex('0B 03 08 00 00 02')), 0xc1c6);
  assert.is(crc16(new Uint8Array(0)), 0xffff);
});

test('crcMatches checks the trailing two bytes and rejects one flipped bit anywhere', () => {
  const frame = hex('01 03 00 00 00 0A C5 CD');
  assert.ok(crcMatches(frame));
  for (let i = 0; i < frame.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const bad = Buffer.from(frame);
      bad[i]! ^= 1 << bit;
      assert.not.ok(crcMatches(bad), `byte ${i} bit ${bit}`);
    }
  }
  assert.not.ok(crcMatches(hex('01 03')));
});

test('a range of a larger buffer', () => {
  const buf = hex('FF FF 02 07 FF');
  assert.is(crc16(buf, 2, 4), 0x1241);
});

test.run();
