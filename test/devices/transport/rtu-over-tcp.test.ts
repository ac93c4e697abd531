// RTU frames over TCP (rtuOverTcp) against pymodbus serving its RTU framer on a loopback port.

import { createServer, type Socket } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeReadResponse, encodeRequest, type ReadRequest } from '../../../src/devices/modbus/pdu.js';
import { encodeRtuFrame } from '../../../src/devices/modbus/rtu-frame.js';
import { RtuOverTcpTransport } from '../../../src/devices/transport/rtu-over-tcp.js';
import { ModbusSim, requireModbusSim } from '../../helpers/modbus-sim.js';
import { waitFor } from '../../helpers/tools.js';

const test = suite('devices/transport: rtu over tcp');
const it = requireModbusSim(test, 'tcp');
let sim: ModbusSim;
let t: RtuOverTcpTransport;

test.before(async () => {
  if (!it.available) return;
  sim = await ModbusSim.start({ units: [1, 2], rtuOverTcp: true });
  t = new RtuOverTcpTransport({ host: '127.0.0.1', port: sim.port, reopenMinMs: 50 });
  t.open();
  await waitFor(() => t.state === 'open', 5000, 'connect');
});
test.after(async () => {
  await t?.close();
  await sim?.close();
});

async function readVia(req: ReadRequest, timeoutMs = 1000) {
  const ex = await t.exchange(req.unitId, encodeRequest(req), timeoutMs);
  return ex.kind === 'pdu' ? decodeReadResponse(req, ex.pdu) : ex;
}

it('reads registers framed by the length in their header; exceptions too', async () => {
  await sim.set(1, 'hr', 0, Array.from({ length: 125 }, (_, i) => i * 3));
  const r = await readVia({ unitId: 1, table: 'holding_register', address: 0, quantity: 125 });
  assert.ok(r.kind === 'ok' && 'registers' in r, JSON.stringify(r));
  assert.equal([...r.registers], Array.from({ length: 125 }, (_, i) => i * 3));
  assert.equal(await readVia({ unitId: 1, table: 'holding_register', address: 1000, quantity: 1 }), { kind: 'exception', code: 2 });
});

it('a bad CRC is counted and not returned as data', async () => {
  await sim.set(2, 'ir', 1, [77]);
  await sim.corrupt(2, 1);
  assert.equal(await readVia({ unitId: 2, table: 'input_register', address: 1, quantity: 1 }), { kind: 'bad_frame', reason: 'crc' });
  assert.is(t.counters.crcErrors, 1);
  const r = await readVia({ unitId: 2, table: 'input_register', address: 1, quantity: 1 });
  assert.ok(r.kind === 'ok' && 'registers' in r && r.registers[0] === 77, JSON.stringify(r));
});

test('a reply that arrives one byte per TCP segment is joined by its announced length; a stray byte before a request is flushed', async () => {
  // A converter that dribbles: every byte of the answer in its own write, 5 ms apart.
  const sockets: Socket[] = [];
  const server = createServer((sock) => {
    sockets.push(sock);
    sock.setNoDelay(true);
    sock.on('data', async (req) => {
      const reply = encodeRtuFrame(req[0]!, Buffer.from([0x03, 0x04, 0x12, 0x34, 0xab, 0xcd]));
      for (const byte of reply) {
        sock.write(Buffer.from([byte]));
        await new Promise((r) => setTimeout(r, 5));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const own = new RtuOverTcpTransport({ host: '127.0.0.1', port });
  own.open();
  try {
    await waitFor(() => own.state === 'open', 5000, 'connect');
    const req: ReadRequest = { unitId: 9, table: 'holding_register', address: 0, quantity: 2 };
    for (let i = 0; i < 2; i++) {
      const ex = await own.exchange(9, encodeRequest(req), 2000);
      assert.ok(ex.kind === 'pdu', JSON.stringify(ex));
      const r = decodeReadResponse(req, ex.pdu);
      assert.ok(r.kind === 'ok' && 'registers' in r);
      assert.equal([...r.registers], [0x1234, 0xabcd]);
      // Noise while nothing is pending: dropped, never the start of the next answer.
      sockets[0]!.write(Buffer.from([0x09]));
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.is(own.counters.badFrames + own.counters.crcErrors, 0);
    assert.ok(own.counters.strayFrames >= 1);
  } finally {
    await own.close();
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  }
});

test.run();
