// /api/v1/devices: the field devices and buses (issue 14, Operations), as the device manager reports them, and
// /api/v1/devices/NAME: one device with its points' latest values and its configuration.

import type { DeviceConfig } from '../../config/types.js';
import type { DeviceStatus } from '../../devices/status.js';
import type { AdminContext } from '../context.js';
import { notFound, sendJson } from '../http.js';
import type { Route } from '../router.js';

/** The list leaves out the points: a gateway with 50 devices of 40 points would answer 2,000 of them. */
function summary(d: DeviceStatus): Omit<DeviceStatus, 'points'> {
  const { points: _points, ...rest } = d;
  return rest;
}

/** What the configuration says of the device, for `wharf devices show` (the points as resolved: wire addresses). */
function configView(c: DeviceConfig | undefined): Record<string, unknown> | undefined {
  if (c === undefined) return undefined;
  if (c.type === 'line') return { ...c };
  const { points, ...rest } = c;
  return {
    ...rest,
    points: points.map((p) => ({ name: p.name, table: p.table, address: p.address, type: p.type, quantity: p.quantity, byteOrder: p.byteOrder, unit: p.unit })),
  };
}

export function deviceRoutes(ctx: AdminContext): Route[] {
  const devices = (): DeviceStatus[] => ctx.devices?.devices() ?? [];
  return [
    {
      method: 'GET',
      path: '/api/v1/devices',
      handle: ({ res }) => {
        sendJson(res, 200, { devices: devices().map(summary), buses: ctx.devices?.buses() ?? [] });
      },
    },
    {
      method: 'GET',
      path: '/api/v1/devices/:name',
      handle: ({ res, params }) => {
        const name = params.name!;
        const d = devices().find((x) => x.name === name);
        if (d === undefined) {
          const configured = ctx.config.devices.some((c) => c.name === name);
          throw notFound(configured ? `device "${name}" is configured but not running` : `no device named "${name}"`);
        }
        const bus = ctx.devices?.buses().find((b) => b.name === d.bus);
        sendJson(res, 200, { ...d, busStatus: bus, config: configView(ctx.config.devices.find((c) => c.name === name)) });
      },
    },
  ];
}
