// Modbus RTU through serialport on one end of a socat pty pair, pymodbus serving RTU on the other end.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeReadResponse, encodeRequest, type ReadRequest } from '../../../src/devices/modbus/pdu.js';
import { RtuSerialTransport } from '../../../src/devices/transport/rtu-serial.js';
import { ModbusSim, PtyPair, requireModbusSim } from '../../helpers/modbus-sim.js';
import { waitFor } from '../../helpers/tools.js';

const test = suite('devices/transport: rtu over a serial port');
const it = requireModbusSim(test, 'rtu');
let pty: PtyPair;
let sim: ModbusSim;
let t: RtuSerialTransport;

test.before(async () => {
  if (!it.available) return;
  pty = await PtyPair.open();
  sim = await ModbusSim.start({ units: [1, 2], serial: pty.b, baudRate: 19200 });
  t = new RtuSerialTransport({ path: pty.a, baudRate: 19200, parity: 'none', reopenMinMs: 50 });
  t.open();
  await waitFor(() => t.state === 'open', 5000, 'serial port open');
});
test.after(async () => {
  await t?.close();
  await sim?.close();
  await pty?.close();
});

async function readVia(req: ReadRequest, timeoutMs = 1000) {
  const ex = await t.exchange(req.unitId, encodeRequest(req), timeoutMs);
  return ex.kind === 'pdu' ? decodeReadResponse(req, ex.pdu) : ex;
}

it('reads registers and bits of two unit ids on the same line', async () => {
  await sim.set(1, 'hr', 100, [500, 600]);
  await sim.set(2, 'ir', 5, [0xffff]);
  await sim.set(2, 'di', 0, [0, 1, 1, 0, 1, 0, 0, 0, 1]);
  const a = await readVia({ unitId: 1, table: 'holding_register', address: 100, quantity: 2 });
  assert.ok(a.kind === 'ok' && 'registers' in a, JSON.stringify(a));
  assert.equal([...a.registers], [500, 600]);
  const b = await readVia({ unitId: 2, table: 'input_register', address: 5, quantity: 1 });
  assert.ok(b.kind === 'ok' && 'registers' in b && b.registers[0] === 0xffff, JSON.stringify(b));
  const c = await readVia({ unitId: 2, table: 'discrete_input', address: 0, quantity: 9 });
  assert.ok(c.kind === 'ok' && 'bits' in c);
  assert.equal([...c.bits], [0, 1, 1, 0, 1, 0, 0, 0, 1]);
  assert.is(t.counters.crcErrors, 0);
});

it('a bad CRC on the wire is counted and not returned as data', async () => {
  await sim.set(1, 'hr', 0, [1234]);
  await sim.corrupt(1, 1);
  assert.equal(await readVia({ unitId: 1, table: 'holding_register', address: 0, quantity: 1 }), { kind: 'bad_frame', reason: 'crc' });
  assert.is(t.counters.crcErrors, 1);
  const r = await readVia({ unitId: 1, table: 'holding_register', address: 0, quantity: 1 });
  assert.ok(r.kind === 'ok' && 'registers' in r && r.registers[0] === 1234, JSON.stringify(r));
});

it('a unit id that does not answer times out, and the next unit is answered', async () => {
  await sim.mute(2, true);
  assert.equal(await readVia({ unitId: 2, table: 'holding_register', address: 0, quantity: 1 }, 200), { kind: 'timeout' });
  const r = await readVia({ unitId: 1, table: 'holding_register', address: 0, quantity: 1 });
  assert.is(r.kind, 'ok');
  await sim.mute(2, false);
});

it('a late answer is dropped, never taken as the answer to the next request (stray frames counted)', async () => {
  await sim.set(1, 'hr', 50, [111]);
  await sim.set(2, 'hr', 50, [222]);
  // Unit 1 answers 300 ms late, after its 100 ms timeout; unit 2 answers 400 ms late, within its 1 s timeout.
  await sim.delay(1, 300);
  await sim.delay(2, 400);
  const strayBefore = t.counters.strayFrames;
  assert.equal(await readVia({ unitId: 1, table: 'holding_register', address: 50, quantity: 1 }, 100), { kind: 'timeout' });
  // Unit 1's late frame arrives while unit 2's request waits: it is dropped, and unit 2's own answer is taken.
  const r = await readVia({ unitId: 2, table: 'holding_register', address: 50, quantity: 1 }, 1000);
  assert.ok(r.kind === 'ok' && 'registers' in r && r.registers[0] === 222, JSON.stringify(r));
  assert.is(t.counters.strayFrames, strayBefore + 1);
  // And a late frame that lands while nothing waits is dropped too; the next request is answered by its own reply.
  await sim.delay(1, 150);
  assert.equal(await readVia({ unitId: 1, table: 'holding_register', address: 50, quantity: 1 }, 50), { kind: 'timeout' });
  await waitFor(() => t.counters.strayFrames === strayBefore + 2, 2000, 'the late frame dropped');
  await sim.set(1, 'hr', 50, [112]);
  const next = await readVia({ unitId: 1, table: 'holding_register', address: 50, quantity: 1 });
  assert.ok(next.kind === 'ok' && 'registers' in next && next.registers[0] === 112, JSON.stringify(next));
});

test.run();
