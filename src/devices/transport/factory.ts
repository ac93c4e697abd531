// The transport of a configured bus and the gap its scheduler keeps between frames.

import type { BusConfig } from '../../config/types.js';
import { ModbusTcpTransport } from './modbus-tcp.js';
import { RtuOverTcpTransport } from './rtu-over-tcp.js';
import { RtuSerialTransport } from './rtu-serial.js';
import { silentIntervalMs } from './serial-timing.js';
import type { ModbusTransport, ReopenOptions } from './transport.js';

export interface BusTransport {
  transport: ModbusTransport;
  silentIntervalMs: number;
}

export function transportFor(bus: BusConfig, reopen: ReopenOptions = {}): BusTransport {
  if (bus.type === 'serial') {
    const format = { baudRate: bus.baudRate, dataBits: bus.dataBits, parity: bus.parity, stopBits: bus.stopBits };
    return {
      transport: new RtuSerialTransport({ path: bus.path, ...format, silentIntervalMs: bus.silentIntervalMs, ...reopen }),
      silentIntervalMs: silentIntervalMs(format, bus.silentIntervalMs),
    };
  }
  if (bus.rtuOverTcp) {
    // The converter's serial side keeps its own timing; the override is for converters that need a gap anyway.
    return { transport: new RtuOverTcpTransport({ host: bus.host, port: bus.port, ...reopen }), silentIntervalMs: bus.silentIntervalMs ?? 0 };
  }
  return { transport: new ModbusTcpTransport({ host: bus.host, port: bus.port, ...reopen }), silentIntervalMs: 0 };
}
