// The RTU part of the Modbus poll benchmark: the same point map over Modbus RTU on a socat pty pair, the pymodbus
// simulator on one end. A pty has no baud rate (bytes pass at memory speed), so the figures count requests and
// the per-request costs that do not depend on the wire: the silent interval kept between frames (t3.5 at the
// configured baud rate), the end-of-frame silence each side waits for, and the software. On a real line each
// request adds its bytes' wire time (a 1-register read is 8 + 7 bytes, about 8.6 ms at 19200 baud 8N1).
//
// Timed here in the bench process (no relay on a serial line): Wharf's real ReadPlan, BusScheduler and
// RtuSerialTransport driven as its poller does (every device's reads submitted at once); the naive poller on the
// same transport and scheduler, one request per point awaited in turn; modbus-serial's buffered RTU port
// (connectRTUBuffered, as its README shows for RTU), one readHoldingRegisters per point.

import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import type { ModbusRTU as ModbusRTUClass } from 'modbus-serial/ModbusRTU.js';
import { validateConfig } from '../../src/config/validate.js';
import type { ModbusDeviceConfig } from '../../src/config/types.js';
import { BusScheduler } from '../../src/devices/bus-scheduler.js';
import { ReadPlan } from '../../src/devices/read-plan.js';
import { RtuSerialTransport } from '../../src/devices/transport/rtu-serial.js';
import { silentIntervalMs } from '../../src/devices/transport/serial-timing.js';
import { ModbusSim, PtyPair } from '../../test/helpers/modbus-sim.js';
import { loadPointValues, pointValue, registersOf, type BenchDevice } from './modbus-points.js';

const ModbusRTU = createRequire(import.meta.url)('modbus-serial') as typeof ModbusRTUClass;
const TIMEOUT_MS = 1000;
const PAUSE_MS = 100;

export interface RtuResult {
  poller: string;
  requestsPerCycle: number;
  cycleMs: number;
  cycleMsAll: number[];
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function expectValue(d: BenchDevice, point: string, got: unknown): void {
  const i = d.points.findIndex((p) => p.name === point);
  const want = pointValue(d.unitId, i, d.points[i]!.type);
  if (got !== want) throw new Error(`${d.name}.${point}: read ${String(got)}, simulator holds ${want}`);
}

/** The devices as Wharf's configuration resolves them (the read plan takes resolved points). */
function resolved(devices: readonly BenchDevice[], path: string): ModbusDeviceConfig[] {
  const r = validateConfig({
    buses: [{ name: 'line', type: 'serial', path }],
    devices: devices.map((d) => ({ name: d.name, bus: 'line', unitId: d.unitId, points: d.points.map((p) => ({ ...p, table: 'holding_register' })) })),
  });
  if ('errors' in r) throw new Error(String(r.errors));
  return r.config.devices as ModbusDeviceConfig[];
}

async function openScheduler(path: string, baudRate: number): Promise<BusScheduler> {
  const transport = new RtuSerialTransport({ path, baudRate });
  const scheduler = new BusScheduler(transport, { silentIntervalMs: silentIntervalMs({ baudRate }) });
  transport.open();
  for (let i = 0; transport.state !== 'open'; i++) {
    if (i > 200) throw new Error(`${path}: not open (${transport.lastError ?? transport.state})`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return scheduler;
}

async function measure(sim: ModbusSim, cycles: number, cycle: () => Promise<void>): Promise<{ requestsPerCycle: number; cycleMs: number; cycleMsAll: number[] }> {
  await cycle(); // warm-up
  await sim.reset();
  const cycleMsAll: number[] = [];
  for (let i = 0; i < cycles; i++) {
    const t0 = performance.now();
    await cycle();
    cycleMsAll.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, PAUSE_MS));
  }
  const requests = Object.values(await sim.counts()).reduce((n, perUnit) => n + (perUnit['3'] ?? 0), 0);
  return { requestsPerCycle: requests / cycles, cycleMs: median(cycleMsAll), cycleMsAll };
}

export async function runRtu(devices: readonly BenchDevice[], cycles: number, baudRate: number): Promise<RtuResult[]> {
  const pty = await PtyPair.open();
  const sim = await ModbusSim.start({ units: devices.map((d) => d.unitId), size: 1000, serial: pty.b, baudRate });
  const out: RtuResult[] = [];
  try {
    await loadPointValues(sim, devices);
    const configs = resolved(devices, pty.a);

    let scheduler = await openScheduler(pty.a, baudRate);
    try {
      const devs = configs.map((c, k) => ({
        bench: devices[k]!,
        link: scheduler.addDevice({ name: c.name, unitId: c.unitId, timeoutMs: TIMEOUT_MS, retries: 0 }),
        plan: new ReadPlan(c.points, c),
      }));
      const r = await measure(sim, cycles, async () => {
        await Promise.all(
          devs.map(async ({ bench, link, plan }) => {
            const reads = plan.reads();
            const results = await Promise.all(reads.map((rd) => link.read(rd)));
            reads.forEach((rd, i) => {
              for (const reading of plan.settle(rd, results[i]!)) {
                if ('error' in reading) throw new Error(`${bench.name}.${reading.point}: ${reading.error}`);
                expectValue(bench, reading.point, reading.value);
              }
            });
          }),
        );
      });
      out.push({ poller: 'Wharf (ReadPlan + BusScheduler + RtuSerialTransport)', ...r });
    } finally {
      await scheduler.close();
    }

    scheduler = await openScheduler(pty.a, baudRate);
    try {
      const links = devices.map((d) => scheduler.addDevice({ name: d.name, unitId: d.unitId, timeoutMs: TIMEOUT_MS, retries: 0 }));
      const r = await measure(sim, cycles, async () => {
        for (let k = 0; k < devices.length; k++) {
          for (const p of devices[k]!.points) {
            const res = await links[k]!.read({ table: 'holding_register', address: p.address, quantity: registersOf(p.type) });
            if (res.kind !== 'ok') throw new Error(`naive RTU poller: ${res.kind}`);
          }
        }
      });
      out.push({ poller: 'naive (1 request per point, same transport)', ...r });
    } finally {
      await scheduler.close();
    }

    const client = new ModbusRTU();
    await client.connectRTUBuffered(pty.a, { baudRate });
    client.setTimeout(TIMEOUT_MS);
    try {
      const r = await measure(sim, cycles, async () => {
        for (const d of devices) {
          client.setID(d.unitId);
          for (const p of d.points) {
            const res = await client.readHoldingRegisters(p.address, registersOf(p.type));
            if (res.data.length !== registersOf(p.type)) throw new Error('modbus-serial: short answer');
          }
        }
      });
      out.push({ poller: 'modbus-serial 8 (connectRTUBuffered, 1 request per point)', ...r });
    } finally {
      await new Promise<void>((resolve) => client.close(() => resolve()));
    }
  } finally {
    await sim.close();
    await pty.close();
  }
  return out;
}
