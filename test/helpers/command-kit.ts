// Shared by the device command e2e suites (issue 15): the receipt's shape, waiting on a device's retained status.

import type { MqttClient } from 'mqtt';
import { waitFor } from './tools.js';

export interface Receipt {
  device: string;
  outcome: string;
  points: Record<string, { value: unknown; outcome: string; readBack?: unknown; reason?: string }>;
  reason?: string;
  receivedAt: string;
  writtenAt?: string;
}

export const pumpPoints = `    points:
      - { name: speed, table: holding_register, address: 10, type: uint16, writable: true, min: 0, max: 100 }
      - { name: valve, table: coil, address: 3, type: bool, writable: true }
      - { name: setpoint, table: holding_register, address: 20, type: float32, byteOrder: CDAB, writable: true }
      - { name: total, table: holding_register, address: 22, type: int32, writable: true }
      - { name: status, table: holding_register, address: 40, type: uint16 }
      - { name: limit, table: holding_register, address: 50, type: uint32, writable: true }
      - { name: mode, table: holding_register, address: 60, type: uint16, writable: true, allowed: [0, 1, 2] }
`;

/** Polls `read` every 50 ms until `until` holds (bounded: 15 s). */
export async function eventually<T>(read: () => Promise<T>, until: (v: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = await read();
    if (until(v)) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Waits for the retained status document of `device` to say `state`. */
export async function deviceState(client: MqttClient, device: string, state: string): Promise<void> {
  const topic = `devices/${device}/status`;
  let seen = '';
  const listener = (t: string, payload: Buffer) => {
    if (t === topic) seen = (JSON.parse(payload.toString()) as { state: string }).state;
  };
  client.on('message', listener);
  await client.subscribeAsync(topic, { qos: 1 });
  try {
    await waitFor(() => seen === state, 15000, `${device} ${state}`);
  } finally {
    client.removeListener('message', listener);
    await client.unsubscribeAsync(topic);
  }
}

