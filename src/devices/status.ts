// What the device manager (src/devices/device-manager.ts) tells the operations surfaces about devices and buses:
// the admin API (GET /api/v1/devices[/NAME]), /metrics (wharf_device_*, wharf_bus_*) and `wharf devices`.
// The types are the contract of DEVICES.md; the surfaces read a DeviceStatusSource and never the manager itself.

export type DeviceState = 'starting' | 'online' | 'offline' | 'degraded';

export interface DeviceCounters {
  requests: number;
  responses: number;
  timeouts: number;
  crcErrors: number;
  badFrames: number;
  /** By exception code as a decimal string ("2" for 0x02 illegal data address). */
  exceptions: Record<string, number>;
  readingsPublished: number;
  /** Readings the store refused (full, behind): polled but not kept. */
  readingsDropped: number;
  /** Line devices: lines longer than maxLineBytes, cut. */
  linesCut?: number;
}

/**
 * Commands to the device (issue 15), counted per point (a multi-point command counts once for each of its points):
 * `received` = every point commanded, refused ones included; the outcomes are those of the receipts, so received
 * minus the outcomes is what still waits in the command queue. Since the process started.
 */
export interface CommandCounters {
  received: number;
  applied: number;
  rejected: number;
  expired: number;
  superseded: number;
  failed: number;
}

export const COMMAND_OUTCOMES = ['applied', 'rejected', 'expired', 'superseded', 'failed'] as const;

export interface DeviceStatus {
  name: string;
  bus: string;
  kind: 'modbus' | 'line';
  state: DeviceState;
  lastError?: string;
  /** When the device last answered (ms since the epoch). */
  lastSeenMs?: number;
  counters: DeviceCounters;
  /** Devices that take commands. */
  commands?: CommandCounters;
  /** Round-trip times of answered requests, ms. */
  rttMs?: { last: number; avg: number; max: number };
  points?: { name: string; value?: unknown; quality: 'good' | 'bad'; error?: string }[];
}

export type BusState = 'open' | 'closed' | 'error';

export interface BusStatus {
  name: string;
  type: 'serial' | 'tcp';
  state: BusState;
  lastError?: string;
  counters: { requests: number; timeouts: number; crcErrors: number; busyMs: number };
  /** Share of time the line was busy with requests and answers, 0..1. */
  utilisation: number;
}

export interface DeviceStatusSource {
  devices(): DeviceStatus[];
  buses(): BusStatus[];
}

export const DEVICE_STATES: readonly DeviceState[] = ['starting', 'online', 'offline', 'degraded'];
export const BUS_STATES: readonly BusState[] = ['open', 'closed', 'error'];
