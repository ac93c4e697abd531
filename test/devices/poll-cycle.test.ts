// A device's poll cycle on real parts: h-devdata's ReadPlan over the bus scheduler, a transport and the pymodbus
// simulator. Values of every type and word order read back as the simulator was set; coalescing proven by the
// simulator's request count; a read refused with 0x02 is split and the point that does not exist reported bad.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { registersOf } from '../../src/config/device-points.js';
import type { ByteOrder, PointTable, PointType, ResolvedPoint } from '../../src/config/types.js';
import { BusScheduler, type DeviceLink } from '../../src/devices/bus-scheduler.js';
import { ReadPlan, type PointReading } from '../../src/devices/read-plan.js';
import { ModbusTcpTransport } from '../../src/devices/transport/modbus-tcp.js';
import { RtuSerialTransport } from '../../src/devices/transport/rtu-serial.js';
import { ModbusSim, PtyPair, requireModbusSim } from '../helpers/modbus-sim.js';
import { waitFor } from '../helpers/tools.js';

const test = suite('devices: poll cycle against the simulator');
const rtu = requireModbusSim(test, 'rtu');
const tcp = requireModbusSim(test, 'tcp');

function pt(name: string, table: PointTable, address: number, type: PointType, extra: Partial<ResolvedPoint> = {}): ResolvedPoint {
  const bits = table === 'coil' || table === 'discrete_input';
  return {
    name, table, address, type,
    quantity: bits ? 1 : registersOf(type, extra.length ?? 0),
    length: undefined, bit: undefined, byteOrder: 'ABCD', scale: 1, offset: 0, unit: undefined, deadband: 0,
    publish: undefined, writable: false, min: undefined, max: undefined, allowed: undefined,
    ...extra,
  };
}

/** Register words of big-endian bytes under a Neuron byte order, computed here from its definition. */
function words(be: Buffer, order: ByteOrder): number[] {
  const w: number[] = [];
  for (let i = 0; i < be.length; i += 2) w.push(be.readUInt16BE(i));
  const swapWords = order === 'CDAB' || order === 'DCBA';
  const swapBytes = order === 'BADC' || order === 'DCBA';
  const out = swapWords ? w.reverse() : w;
  return swapBytes ? out.map((x) => ((x & 0xff) << 8) | (x >> 8)) : out;
}
const be = (n: number, write: (b: Buffer) => void): Buffer => {
  const b = Buffer.alloc(n);
  write(b);
  return b;
};

async function cycle(plan: ReadPlan, link: DeviceLink): Promise<Map<string, PointReading>> {
  const reads = plan.reads();
  const results = await Promise.all(reads.map((r) => link.read(r)));
  const out = new Map<string, PointReading>();
  reads.forEach((r, i) => plan.settle(r, results[i]!).forEach((p) => out.set(p.point, p)));
  return out;
}

const valueOf = (m: Map<string, PointReading>, name: string): unknown => {
  const r = m.get(name);
  assert.ok(r && 'value' in r, `${name}: ${JSON.stringify(r)}`);
  return (r as { value: unknown }).value;
};

rtu('over RTU: every type and word order as the simulator holds it; 17 points in 4 requests', async () => {
  const pty = await PtyPair.open();
  const sim = await ModbusSim.start({ units: [1], serial: pty.b, baudRate: 19200 });
  const transport = new RtuSerialTransport({ path: pty.a, baudRate: 19200 });
  transport.open();
  const bus = new BusScheduler(transport, { silentIntervalMs: 2 });
  try {
    await waitFor(() => transport.state === 'open', 5000, 'port open');
    const points = [
      pt('u16', 'holding_register', 0, 'uint16'),
      pt('i16', 'holding_register', 1, 'int16'),
      pt('flag', 'holding_register', 2, 'bool', { bit: 3, quantity: 1 }),
      pt('volts', 'holding_register', 3, 'uint16', { scale: 0.1 }),
      pt('f32abcd', 'holding_register', 10, 'float32'),
      pt('f32cdab', 'holding_register', 12, 'float32', { byteOrder: 'CDAB' }),
      pt('i32badc', 'holding_register', 14, 'int32', { byteOrder: 'BADC' }),
      pt('u32dcba', 'holding_register', 16, 'uint32', { byteOrder: 'DCBA' }),
      pt('f64', 'holding_register', 20, 'float64'),
      pt('i64cdab', 'holding_register', 24, 'int64', { byteOrder: 'CDAB' }),
      pt('u64dcba', 'holding_register', 28, 'uint64', { byteOrder: 'DCBA' }),
      pt('model', 'holding_register', 40, 'string', { length: 6, quantity: 3 }),
      pt('temp', 'input_register', 0, 'int16', { scale: 0.01 }),
      pt('relay0', 'coil', 0, 'bool'),
      pt('relay1', 'coil', 1, 'bool'),
      pt('relay5', 'coil', 5, 'bool'),
      pt('door', 'discrete_input', 3, 'bool'),
    ];
    await sim.set(1, 'hr', 0, [65535, 0xfffe, 0b1000, 2301]);
    await sim.set(1, 'hr', 10, words(be(4, (b) => b.writeFloatBE(230.5)), 'ABCD'));
    await sim.set(1, 'hr', 12, words(be(4, (b) => b.writeFloatBE(-1.25)), 'CDAB'));
    await sim.set(1, 'hr', 14, words(be(4, (b) => b.writeInt32BE(-123456)), 'BADC'));
    await sim.set(1, 'hr', 16, words(be(4, (b) => b.writeUInt32BE(4000000000)), 'DCBA'));
    await sim.set(1, 'hr', 20, words(be(8, (b) => b.writeDoubleBE(1234.5678)), 'ABCD'));
    await sim.set(1, 'hr', 24, words(be(8, (b) => b.writeBigInt64BE(-9007199254740993n)), 'CDAB'));
    await sim.set(1, 'hr', 28, words(be(8, (b) => b.writeBigUInt64BE(18446744073709551615n)), 'DCBA'));
    await sim.set(1, 'hr', 40, words(Buffer.from('SDM630'), 'ABCD'));
    await sim.set(1, 'ir', 0, [0x10000 - 300]);
    await sim.set(1, 'co', 0, [1, 0, 0, 0, 0, 1]);
    await sim.set(1, 'di', 3, [1]);
    await sim.reset();
    const plan = new ReadPlan(points, { maxRegistersPerRead: 125, maxBitsPerRead: 2000 });
    const link = bus.addDevice({ name: 'meter', unitId: 1, timeoutMs: 1000, retries: 0 });
    const got = await cycle(plan, link);
    assert.is(valueOf(got, 'u16'), 65535);
    assert.is(valueOf(got, 'i16'), -2);
    assert.is(valueOf(got, 'flag'), true);
    assert.ok(Math.abs((valueOf(got, 'volts') as number) - 230.1) < 1e-9);
    assert.is(valueOf(got, 'f32abcd'), 230.5);
    assert.is(valueOf(got, 'f32cdab'), -1.25);
    assert.is(valueOf(got, 'i32badc'), -123456);
    assert.is(valueOf(got, 'u32dcba'), 4000000000);
    assert.is(valueOf(got, 'f64'), 1234.5678);
    assert.is(valueOf(got, 'i64cdab'), '-9007199254740993');
    assert.is(valueOf(got, 'u64dcba'), '18446744073709551615');
    assert.is(valueOf(got, 'model'), 'SDM630');
    assert.ok(Math.abs((valueOf(got, 'temp') as number) + 3) < 1e-9);
    assert.equal([valueOf(got, 'relay0'), valueOf(got, 'relay1'), valueOf(got, 'relay5'), valueOf(got, 'door')], [true, false, true, true]);
    // One read per table: 12 holding-register points across 43 registers with gaps, then input, coils, inputs.
    assert.equal(await sim.counts(), { '1': { '3': 1, '4': 1, '1': 1, '2': 1 } });
    assert.is(link.counters.requests, 4);
  } finally {
    await bus.close();
    await sim.close();
    await pty.close();
  }
});

tcp('over TCP: a coalesced read refused with 0x02 is split, the missing point reported bad, the others read', async () => {
  const sim = await ModbusSim.start({ units: [1] });
  const transport = new ModbusTcpTransport({ host: '127.0.0.1', port: sim.port });
  transport.open();
  const bus = new BusScheduler(transport, { silentIntervalMs: 0 });
  try {
    await waitFor(() => transport.state === 'open', 5000, 'connect');
    const points = ['a', 'b', 'c'].map((n, i) => pt(n, 'holding_register', i * 4, 'uint16')).concat([pt('ghost', 'holding_register', 13, 'uint16'), pt('d', 'holding_register', 16, 'uint16')]);
    await sim.set(1, 'hr', 0, [100, 0, 0, 0, 104, 0, 0, 0, 108, 0, 0, 0, 0, 0, 0, 0, 116]);
    // Register 13 does not exist on this device (and nothing else around it is missing).
    await sim.holes(1, 'hr', [13]);
    const plan = new ReadPlan(points, { maxRegistersPerRead: 125, maxBitsPerRead: 2000 });
    assert.is(plan.reads().length, 1, 'first cycle: one coalesced read');
    const link = bus.addDevice({ name: 'plc', unitId: 1, timeoutMs: 1000, retries: 0 });
    let got = new Map<string, PointReading>();
    for (let i = 0; i < 10 && plan.badPoints().length === 0; i++) got = await cycle(plan, link);
    assert.equal(plan.badPoints().map((b) => b.point), ['ghost']);
    await sim.reset();
    got = await cycle(plan, link);
    assert.equal(['a', 'b', 'c', 'd'].map((n) => valueOf(got, n)), [100, 104, 108, 116]);
    assert.not.ok(plan.reads().some((r) => r.address <= 13 && r.address + r.quantity > 13));
    // The split holds for later cycles: as many requests as reads, none refused.
    assert.is(await sim.requestCount(1, 3), plan.reads().length);
    assert.is(link.counters.exceptions['2'] !== undefined, true);
    assert.is(link.state, 'online', 'an exception is an answer: the device is online');
  } finally {
    await bus.close();
    await sim.close();
  }
});

test.run();
