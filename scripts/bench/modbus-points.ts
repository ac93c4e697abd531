// The point map of the Modbus poll benchmark (issue 14, Benchmark): holding-register points of mixed uint16 and
// float32 over several devices (unit ids), with small gaps (which Wharf's read plan bridges) and one large gap
// per device (which it does not), the values the simulator is set to, and the Wharf configuration that polls them.

import type { ModbusSim } from '../../test/helpers/modbus-sim.js';

export interface BenchPoint {
  name: string;
  address: number;
  type: 'uint16' | 'float32';
}

export interface BenchDevice {
  name: string;
  unitId: number;
  points: BenchPoint[];
}

/** Registers a point of `type` takes. */
export function registersOf(type: BenchPoint['type']): number {
  return type === 'float32' ? 2 : 1;
}

/**
 * `total` points spread over `devices` devices (the first ones get one more when it does not divide): every third
 * point a float32, a 3-register gap after every 10 points, and a 60-register gap after the first half.
 */
export function pointMap(total: number, devices: number, firstUnit = 1): BenchDevice[] {
  const out: BenchDevice[] = [];
  for (let d = 0; d < devices; d++) {
    const count = Math.floor(total / devices) + (d < total % devices ? 1 : 0);
    const points: BenchPoint[] = [];
    let address = 0;
    for (let i = 0; i < count; i++) {
      if (i > 0 && i % 10 === 0) address += 3;
      if (i === Math.floor(count / 2)) address += 60;
      const type = i % 3 === 2 ? 'float32' : 'uint16';
      points.push({ name: `p${i}`, address, type });
      address += registersOf(type);
    }
    out.push({ name: `dev${firstUnit + d}`, unitId: firstUnit + d, points });
  }
  return out;
}

/** The value of point `index` of `unitId` (float32s exact in 32 bits). */
export function pointValue(unitId: number, index: number, type: BenchPoint['type']): number {
  return type === 'uint16' ? (unitId * 1000 + index) & 0xffff : unitId + index / 8;
}

/** The registers the simulator holds for `point` of `unitId` (float32 in ABCD order, Wharf's default). */
export function pointRegisters(unitId: number, index: number, type: BenchPoint['type']): number[] {
  if (type === 'uint16') return [pointValue(unitId, index, type)];
  const b = Buffer.alloc(4);
  b.writeFloatBE(pointValue(unitId, index, type));
  return [b.readUInt16BE(0), b.readUInt16BE(2)];
}

/** The YAML of a `devices:` list polling `devices`, each on the bus `busOf(device)`. */
export function devicesYaml(devices: readonly BenchDevice[], busOf: (d: BenchDevice) => string, pollInterval: string): string[] {
  const lines = ['devices:'];
  for (const d of devices) {
    lines.push(
      `  - name: ${d.name}`,
      `    bus: ${busOf(d)}`,
      `    unitId: ${d.unitId}`,
      `    pollInterval: ${pollInterval}`,
      '    timeout: 1s',
      '    retries: 1',
      '    publish: always',
      '    qos: 0',
      '    points:',
      ...d.points.map((p) => `      - { name: ${p.name}, table: holding_register, address: ${p.address}, type: ${p.type} }`),
    );
  }
  return lines;
}

/** Sets every point of `devices` in the simulator (gaps hold 0). */
export async function loadPointValues(sim: ModbusSim, devices: readonly BenchDevice[]): Promise<void> {
  for (const d of devices) {
    const last = d.points[d.points.length - 1]!;
    const regs = new Array<number>(last.address + 2).fill(0);
    d.points.forEach((p, i) => pointRegisters(d.unitId, i, p.type).forEach((v, k) => (regs[p.address + k] = v)));
    await sim.set(d.unitId, 'hr', 0, regs);
  }
}
