// MBAP framing (Modbus Messaging on TCP/IP Implementation Guide V1.0b, 3.1.3) and reassembly from a TCP stream.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeTcpFrame, TcpFrameReader } from '../../../src/devices/modbus/tcp-frame.js';

const test = suite('devices/modbus: tcp frame');
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('MBAP header: transaction id, protocol 0, length of unit id + PDU, unit id', () => {
  assert.equal(encodeTcpFrame(1, 0xff, hex('03 00 6B 00 03')), hex('00 01 00 00 00 06 FF 03 00 6B 00 03'));
  // All 16 bits of the transaction id go on the wire (no wrap at 256).
  assert.equal(encodeTcpFrame(0xabcd, 1, hex('04 00 08 00 01')).subarray(0, 2), hex('AB CD'));
  assert.equal(encodeTcpFrame(0x10000 + 7, 1, hex('04 00 08 00 01')).subarray(0, 2), hex('00 07'));
});

test('reassembly: frames split across and packed into segments, byte by byte', () => {
  const a = encodeTcpFrame(300, 1, hex('03 06 02 2B 00 00 00 64'));
  const b = encodeTcpFrame(301, 2, hex('83 02'));
  const stream = Buffer.concat([a, b]);
  for (const step of [1, 2, 5, 7, stream.length]) {
    const reader = new TcpFrameReader();
    const frames = [];
    for (let i = 0; i < stream.length; i += step) frames.push(...reader.push(stream.subarray(i, i + step)));
    assert.equal(
      frames.map((f) => [f.transactionId, f.protocolId, f.unitId, f.pdu.toString('hex')]),
      [
        [300, 0, 1, '0306022b00000064'],
        [301, 0, 2, '8302'],
      ],
      `step ${step}`,
    );
  }
});

test('a length field outside 2..254 desynchronises the reader (the connection is to be closed)', () => {
  const reader = new TcpFrameReader();
  assert.equal(reader.push(hex('00 01 00 00 01 00 01 03')), []);
  assert.ok(reader.desynchronised);
  assert.equal(reader.push(encodeTcpFrame(2, 1, hex('83 02'))), []);
  reader.reset();
  assert.is(reader.push(encodeTcpFrame(2, 1, hex('83 02'))).length, 1);
  const short = new TcpFrameReader();
  short.push(hex('00 01 00 00 00 01 01'));
  assert.ok(short.desynchronised);
});

test.run();
