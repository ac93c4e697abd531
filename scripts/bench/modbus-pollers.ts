// The two pollers Wharf is compared with in the Modbus poll benchmark, each reading every point of the map once per
// cycle, one request per point, in order:
// - naive: Wharf's own Modbus TCP transport and PDU codec, one Read Holding Registers per point (what a gateway
//   without a read plan does);
// - modbus-serial (npm): its usual way, as its README shows, `setID(unit)` then `readHoldingRegisters(addr, len)`
//   per point, awaited one after the other.
// Both check each value against what the simulator holds, so a fast but wrong poller would not pass.

import { createRequire } from 'node:module';
import type { ModbusRTU as ModbusRTUClass } from 'modbus-serial/ModbusRTU.js';
import { decodeReadResponse, encodeRequest } from '../../src/devices/modbus/pdu.js';
import { ModbusTcpTransport } from '../../src/devices/transport/modbus-tcp.js';
import { pointRegisters, registersOf, type BenchDevice } from './modbus-points.js';

const TIMEOUT_MS = 1000;
/** A CommonJS module whose module.exports is the client class (its typings declare an ES default export). */
const ModbusRTU = createRequire(import.meta.url)('modbus-serial') as typeof ModbusRTUClass;

export interface CyclePoller {
  readonly name: string;
  /** Reads every point once; throws on any failure or wrong value. */
  cycle(): Promise<void>;
  close(): Promise<void>;
}

function check(device: BenchDevice, index: number, got: ArrayLike<number>): void {
  const want = pointRegisters(device.unitId, index, device.points[index]!.type);
  if (got.length !== want.length || want.some((w, i) => got[i] !== w)) {
    throw new Error(`${device.name}.${device.points[index]!.name}: read ${Array.from(got).join(',')}, simulator holds ${want.join(',')}`);
  }
}

export async function naivePoller(port: number, devices: readonly BenchDevice[]): Promise<CyclePoller> {
  const transport = new ModbusTcpTransport({ host: '127.0.0.1', port });
  transport.open();
  for (let i = 0; transport.state !== 'open'; i++) {
    if (i > 200) throw new Error(`naive poller: no connection (${transport.lastError ?? transport.state})`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return {
    name: 'naive (1 request per point)',
    async cycle() {
      for (const d of devices) {
        for (let i = 0; i < d.points.length; i++) {
          const p = d.points[i]!;
          const req = { unitId: d.unitId, table: 'holding_register' as const, address: p.address, quantity: registersOf(p.type) };
          const ex = await transport.exchange(d.unitId, encodeRequest(req), TIMEOUT_MS);
          if (ex.kind !== 'pdu') throw new Error(`naive poller: ${ex.kind}`);
          const res = decodeReadResponse(req, ex.pdu);
          if (res.kind !== 'ok' || !('registers' in res)) throw new Error(`naive poller: ${res.kind}`);
          check(d, i, res.registers);
        }
      }
    },
    close: () => transport.close(),
  };
}

export async function modbusSerialPoller(port: number, devices: readonly BenchDevice[]): Promise<CyclePoller> {
  const client = new ModbusRTU();
  await client.connectTCP('127.0.0.1', { port });
  client.setTimeout(TIMEOUT_MS);
  return {
    name: 'modbus-serial 8 (1 request per point)',
    async cycle() {
      for (const d of devices) {
        client.setID(d.unitId);
        for (let i = 0; i < d.points.length; i++) {
          const p = d.points[i]!;
          const res = await client.readHoldingRegisters(p.address, registersOf(p.type));
          check(d, i, res.data);
        }
      }
    },
    close: () => new Promise<void>((resolve) => client.close(() => resolve())),
  };
}
