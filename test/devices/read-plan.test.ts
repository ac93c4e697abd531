import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ReadPlan, MAX_GAP_REGISTERS, type PlannedRead, type PointReading, type ReadResult } from '../../src/devices/read-plan.js';
import { validateConfig } from '../../src/config/validate.js';
import { registersOf } from '../../src/config/device-points.js';
import type { ModbusDeviceConfig, PointTable, PointType, ResolvedPoint } from '../../src/config/types.js';
import { prng, seedFrom } from '../helpers/prng.js';

const CAPS = { maxRegistersPerRead: 125, maxBitsPerRead: 2000 };

function pt(name: string, table: PointTable, address: number, type: PointType = table === 'coil' || table === 'discrete_input' ? 'bool' : 'uint16', extra: Partial<ResolvedPoint> = {}): ResolvedPoint {
  return {
    name,
    table,
    address,
    type,
    quantity: table === 'coil' || table === 'discrete_input' ? 1 : registersOf(type, extra.length ?? 0),
    length: undefined,
    bit: undefined,
    byteOrder: 'ABCD',
    scale: 1,
    offset: 0,
    unit: undefined,
    deadband: 0,
    publish: undefined,
    writable: false,
    min: undefined,
    max: undefined,
    allowed: undefined,
    ...extra,
  };
}

const shape = (reads: readonly PlannedRead[]) => reads.map((r) => [r.table, r.address, r.quantity]);

/**
 * A device to run plans against: register n holds n + 1000 (bits: n % 2), and it answers exception 0x02 to any
 * read that touches an address in `refused` (as a real device does for unmapped registers). Counts requests.
 */
class TestDevice {
  requests = 0;
  constructor(readonly refused: ReadonlySet<number> = new Set(), readonly code = 0x02) {}
  answer(read: PlannedRead): ReadResult {
    this.requests++;
    for (let a = read.address; a < read.address + read.quantity; a++) if (this.refused.has(a)) return { kind: 'exception', code: this.code };
    if (read.table === 'coil' || read.table === 'discrete_input') {
      return { kind: 'ok', bits: Uint8Array.from({ length: read.quantity }, (_, i) => (read.address + i) % 2) };
    }
    return { kind: 'ok', registers: Uint16Array.from({ length: read.quantity }, (_, i) => read.address + i + 1000) };
  }
}

function cycle(plan: ReadPlan, device: TestDevice): PointReading[] {
  return plan.reads().flatMap((r) => plan.settle(r, device.answer(r)));
}

// ---- coalescing --------------------------------------------------------------------------------

const coalesce = suite('read plan: coalescing');

coalesce('contiguous points of one table are one read', () => {
  const points = Array.from({ length: 10 }, (_, i) => pt(`f${i}`, 'holding_register', 100 + 2 * i, 'float32'));
  assert.equal(shape(new ReadPlan(points, CAPS).reads()), [['holding_register', 100, 20]]);
});

coalesce('caps split a long run: 200 registers in 125 + 75; 3000 coils in 2000 + 1000', () => {
  const regs = Array.from({ length: 200 }, (_, i) => pt(`r${i}`, 'input_register', i));
  assert.equal(shape(new ReadPlan(regs, CAPS).reads()), [
    ['input_register', 0, 125],
    ['input_register', 125, 75],
  ]);
  const coils = Array.from({ length: 3000 }, (_, i) => pt(`c${i}`, 'coil', i));
  assert.equal(shape(new ReadPlan(coils, CAPS).reads()), [
    ['coil', 0, 2000],
    ['coil', 2000, 1000],
  ]);
  // A device cap of 10: a float32 is never cut in two.
  const floats = Array.from({ length: 6 }, (_, i) => pt(`f${i}`, 'holding_register', 2 * i, 'float32'));
  assert.equal(shape(new ReadPlan(floats, { maxRegistersPerRead: 5, maxBitsPerRead: 2000 }).reads()), [
    ['holding_register', 0, 4],
    ['holding_register', 4, 4],
    ['holding_register', 8, 4],
  ]);
});

coalesce(`gaps up to ${MAX_GAP_REGISTERS} registers are bridged, longer gaps start a new read`, () => {
  const bridged = [pt('a', 'holding_register', 0), pt('b', 'holding_register', 1 + MAX_GAP_REGISTERS)];
  assert.equal(shape(new ReadPlan(bridged, CAPS).reads()), [['holding_register', 0, 2 + MAX_GAP_REGISTERS]]);
  const apart = [pt('a', 'holding_register', 0), pt('b', 'holding_register', 2 + MAX_GAP_REGISTERS)];
  assert.equal(shape(new ReadPlan(apart, CAPS).reads()), [
    ['holding_register', 0, 1],
    ['holding_register', 2 + MAX_GAP_REGISTERS, 1],
  ]);
});

coalesce('tables are read apart; overlapping points (bits of one register) share their registers', () => {
  const points = [
    pt('relay', 'coil', 3),
    pt('door', 'discrete_input', 0),
    pt('word', 'holding_register', 10),
    pt('b0', 'holding_register', 10, 'bool', { bit: 0 }),
    pt('b7', 'holding_register', 10, 'bool', { bit: 7 }),
    pt('v', 'input_register', 0, 'float32'),
  ];
  assert.equal(shape(new ReadPlan(points, CAPS).reads()), [
    ['coil', 3, 1],
    ['discrete_input', 0, 1],
    ['holding_register', 10, 1],
    ['input_register', 0, 2],
  ]);
});

coalesce('a chain of overlapping points longer than the cap is read in overlapping reads within it', () => {
  // A uint16 view of registers 0-7 beside float32s at 0, 1, 2, ... 6: every point overlaps the next.
  const points = [
    ...Array.from({ length: 8 }, (_, i) => pt(`u${i}`, 'holding_register', i)),
    ...Array.from({ length: 7 }, (_, i) => pt(`f${i}`, 'holding_register', i, 'float32')),
  ];
  const plan = new ReadPlan(points, { maxRegistersPerRead: 4, maxBitsPerRead: 2000 });
  assert.ok(plan.reads().every((r) => r.quantity <= 4), JSON.stringify(plan.reads()));
  const readings = cycle(plan, new TestDevice());
  assert.equal(readings.map((r) => r.point).sort(), points.map((p) => p.name).sort());
  assert.ok(readings.every((r) => 'value' in r));
});

coalesce('the Eastron SDM630 map (49 float32 points, cap 80) takes 4 reads', () => {
  const r = validateConfig({ buses: [{ name: 'b', type: 'serial', path: '/dev/x' }], devices: [{ name: 'm', bus: 'b', include: 'eastron-sdm630' }] });
  if ('errors' in r) throw new Error(r.errors.join('\n'));
  const dev = r.config.devices[0] as ModbusDeviceConfig;
  const plan = new ReadPlan(dev.points, dev);
  assert.equal(shape(plan.reads()), [
    ['input_register', 0, 80],
    ['input_register', 80, 28],
    ['input_register', 200, 26],
    ['input_register', 342, 4],
  ]);
  const device = new TestDevice();
  const readings = cycle(plan, device);
  assert.is(device.requests, 4);
  assert.is(readings.length, 49);
  assert.ok(readings.every((x) => 'value' in x));
});

coalesce('random layouts: caps respected, every point in exactly one read, never more reads than points', () => {
  const seed = seedFrom('WHARF_READ_PLAN_SEED');
  const rnd = prng(seed);
  const types: PointType[] = ['uint16', 'int32', 'float32', 'float64', 'bool'];
  for (let round = 0; round < 200; round++) {
    const caps = { maxRegistersPerRead: 4 + Math.floor(rnd() * 122), maxBitsPerRead: 1 + Math.floor(rnd() * 2000) };
    const points: ResolvedPoint[] = [];
    let address = Math.floor(rnd() * 100);
    const n = 1 + Math.floor(rnd() * 80);
    for (let i = 0; i < n; i++) {
      const table: PointTable = rnd() < 0.7 ? 'holding_register' : 'coil';
      const type = table === 'coil' ? 'bool' : types[Math.floor(rnd() * types.length)]!;
      points.push(pt(`p${i}`, table, address, type, type === 'bool' && table !== 'coil' ? { bit: 3 } : {}));
      address += Math.floor(rnd() * 30);
    }
    const plan = new ReadPlan(points, caps);
    const reads = plan.reads();
    const msg = `seed ${seed} round ${round}`;
    assert.ok(reads.length <= points.length, msg);
    for (const r of reads) assert.ok(r.quantity <= (r.table === 'coil' ? caps.maxBitsPerRead : caps.maxRegistersPerRead), `${msg}: ${JSON.stringify(r)}`);
    // One cycle gives every point exactly one value.
    const readings = cycle(plan, new TestDevice());
    assert.equal(readings.map((r) => r.point).sort(), points.map((p) => p.name).sort(), msg);
    assert.ok(readings.every((r) => 'value' in r), msg);
  }
});

// ---- settle ------------------------------------------------------------------------------------

const settle = suite('read plan: settle');

settle('an ok reply gives each point its value (nothing else is carried per point)', () => {
  const points = [pt('a', 'holding_register', 5), pt('f', 'holding_register', 7, 'float32'), pt('b3', 'holding_register', 5, 'bool', { bit: 3 })];
  const plan = new ReadPlan(points, CAPS);
  const [read] = plan.reads();
  const registers = Uint16Array.from([0x0008, 0, 0x3f80, 0x0000]);
  assert.equal(plan.settle(read!, { kind: 'ok', registers }), [
    { point: 'a', value: 8 },
    { point: 'b3', value: true },
    { point: 'f', value: 1 },
  ]);
});

settle('timeouts, bad frames and other exceptions: every point an error, the plan unchanged', () => {
  const points = [pt('a', 'holding_register', 0), pt('b', 'holding_register', 3)];
  const plan = new ReadPlan(points, CAPS);
  const before = shape(plan.reads());
  const read = plan.reads()[0]!;
  assert.equal(plan.settle(read, { kind: 'timeout' }), [
    { point: 'a', error: 'timeout' },
    { point: 'b', error: 'timeout' },
  ]);
  assert.equal(plan.settle(read, { kind: 'bad_frame', reason: 'crc' })[0], { point: 'a', error: 'bad frame (crc)' });
  assert.equal(plan.settle(read, { kind: 'exception', code: 0x04 })[1], { point: 'b', error: 'exception 0x04 (server device failure)' });
  assert.equal(plan.settle(read, { kind: 'unavailable', error: 'ECONNREFUSED' })[0], { point: 'a', error: 'unavailable: ECONNREFUSED' });
  assert.equal(shape(plan.reads()), before);
  assert.equal(plan.badPoints(), []);
});

settle('a refused unmapped register inside a bridged gap: the read splits and all points read again', () => {
  const points = [pt('a', 'holding_register', 0), pt('b', 'holding_register', 4), pt('c', 'holding_register', 8)];
  const plan = new ReadPlan(points, CAPS);
  assert.equal(shape(plan.reads()), [['holding_register', 0, 9]]);
  const device = new TestDevice(new Set([2]));
  assert.equal(cycle(plan, device), [
    { point: 'a', error: 'exception 0x02 (illegal data address)' },
    { point: 'b', error: 'exception 0x02 (illegal data address)' },
    { point: 'c', error: 'exception 0x02 (illegal data address)' },
  ]);
  // Remembered: the next cycles use the split reads.
  assert.equal(shape(plan.reads()), [
    ['holding_register', 0, 5],
    ['holding_register', 8, 1],
  ]);
  cycle(plan, device);
  assert.equal(shape(plan.reads()), [
    ['holding_register', 0, 1],
    ['holding_register', 4, 1],
    ['holding_register', 8, 1],
  ]);
  const readings = cycle(plan, device);
  assert.equal(readings.map((r) => ('value' in r ? r.value : r.error)), [1000, 1004, 1008]);
  assert.equal(plan.badPoints(), []);
});

settle('split converges to the good points; a point refused alone is reported bad and no longer read', () => {
  const points = Array.from({ length: 40 }, (_, i) => pt(`p${i}`, 'input_register', i * 2, 'float32'));
  // The device lacks p13's and p31's registers; 0x03 as some devices say it.
  const device = new TestDevice(new Set([26, 63]), 0x03);
  const plan = new ReadPlan(points, CAPS);
  assert.is(plan.reads().length, 1);
  let readings: PointReading[] = [];
  let cycles = 0;
  for (; cycles < 20; cycles++) {
    readings = cycle(plan, device);
    if (readings.every((r) => 'value' in r)) break;
  }
  // Each bad point costs at most ceil(log2(40)) + 1 cycles of halving (the reads are joined again after each).
  assert.ok(cycles <= 2 * (Math.ceil(Math.log2(40)) + 1), `${cycles} cycles`);
  assert.equal(
    [...plan.badPoints()].sort((a, b) => a.point.localeCompare(b.point)),
    [
      { point: 'p13', reason: 'exception 0x03 (illegal data value)' },
      { point: 'p31', reason: 'exception 0x03 (illegal data value)' },
    ],
  );
  assert.equal(plan.badReadings().map((r) => r.point).sort(), ['p13', 'p31']);
  assert.is(readings.length, 38);
  assert.ok(!readings.some((r) => r.point === 'p13' || r.point === 'p31'));
  // Stable from now on: the same reads, all answered.
  const reads = shape(plan.reads());
  const before = device.requests;
  assert.ok(cycle(plan, device).every((r) => 'value' in r));
  assert.equal(shape(plan.reads()), reads);
  assert.is(device.requests - before, reads.length);
  // Joined again around the two bad points: the fewest reads that avoid them.
  assert.equal(reads, [
    ['input_register', 0, 26],
    ['input_register', 28, 34],
    ['input_register', 64, 16],
  ]);
});

settle('a read planned before a split still settles; a read never planned settles to nothing', () => {
  const plan = new ReadPlan([pt('a', 'coil', 0), pt('b', 'coil', 5)], CAPS);
  const old = plan.reads()[0]!;
  plan.settle(old, { kind: 'exception', code: 0x02 });
  assert.equal(plan.settle(old, { kind: 'ok', bits: Uint8Array.from([1, 0, 0, 0, 0, 1]) }), [
    { point: 'a', value: true },
    { point: 'b', value: true },
  ]);
  assert.equal(plan.settle({ id: 999, table: 'coil', address: 0, quantity: 1 }, { kind: 'timeout' }), []);
  const [first, second] = plan.reads();
  assert.equal(plan.settle(first!, { kind: 'ok', bits: Uint8Array.from([1]) }), [{ point: 'a', value: true }]);
  assert.equal(plan.settle(second!, { kind: 'ok', registers: Uint16Array.from([1]) }), [{ point: 'b', error: 'the reply holds registers, not bits' }]);
});

coalesce.run();
settle.run();
