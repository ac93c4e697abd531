// `wharf devices` (every field device and bus, issue 14) and `wharf devices show NAME` (one device, its points).

import { call, type AdminTarget } from '../admin-client.js';
import type { ClientArgs } from '../client-args.js';
import { age, json, table } from '../format.js';
import type { BusStatus, DeviceStatus } from '../../devices/status.js';
import type { CommandIo } from './io.js';

const enc = encodeURIComponent;

const errorsOf = (d: DeviceStatus): number =>
  d.counters.crcErrors + d.counters.badFrames + Object.values(d.counters.exceptions).reduce((a, b) => a + b, 0);

function seen(ms: number | undefined, now: number): string {
  return ms === undefined ? 'never' : `${age(now - ms)} ago`;
}

function listText(devices: DeviceStatus[], buses: BusStatus[], now: number): string {
  if (devices.length === 0 && buses.length === 0) return 'no devices\n';
  const deviceTable = table(
    ['DEVICE', 'BUS', 'KIND', 'STATE', 'REQUESTS', 'TIMEOUTS', 'ERRORS', 'PUBLISHED', 'DROPPED', 'RTT AVG', 'LAST SEEN', 'LAST ERROR'],
    devices.map((d) => [
      d.name,
      d.bus,
      d.kind,
      d.state,
      String(d.counters.requests),
      String(d.counters.timeouts),
      String(errorsOf(d)),
      String(d.counters.readingsPublished),
      String(d.counters.readingsDropped),
      d.rttMs === undefined ? '-' : `${d.rttMs.avg.toFixed(1)}ms`,
      seen(d.lastSeenMs, now),
      d.lastError ?? '',
    ]),
    new Set([4, 5, 6, 7, 8, 9]),
  );
  const busTable = table(
    ['BUS', 'TYPE', 'STATE', 'REQUESTS', 'TIMEOUTS', 'CRC ERRORS', 'UTILISATION', 'LAST ERROR'],
    buses.map((b) => [
      b.name,
      b.type,
      b.state,
      String(b.counters.requests),
      String(b.counters.timeouts),
      String(b.counters.crcErrors),
      `${(b.utilisation * 100).toFixed(1)}%`,
      b.lastError ?? '',
    ]),
    new Set([3, 4, 5, 6]),
  );
  return `${deviceTable}\n${busTable}`;
}

function showText(d: DeviceStatus & { busStatus?: BusStatus; config?: Record<string, unknown> }, now: number): string {
  const c = d.counters;
  const exceptions = Object.entries(c.exceptions).map(([code, n]) => `0x${Number(code).toString(16).padStart(2, '0')}: ${n}`);
  const rows: [string, string][] = [
    ['device', d.name],
    ['kind', d.kind],
    ['bus', d.busStatus === undefined ? d.bus : `${d.bus} (${d.busStatus.type}, ${d.busStatus.state})`],
    ['state', d.state + (d.lastError !== undefined ? ` (last error: ${d.lastError})` : '')],
    ['last seen', seen(d.lastSeenMs, now)],
    ['requests', `${c.requests} sent, ${c.responses} answered, ${c.timeouts} timeouts`],
    ['errors', `${c.crcErrors} CRC, ${c.badFrames} bad frames, exceptions ${exceptions.length === 0 ? 'none' : exceptions.join(', ')}`],
    ['readings', `${c.readingsPublished} published, ${c.readingsDropped} dropped${c.linesCut !== undefined ? `, ${c.linesCut} lines cut` : ''}`],
  ];
  if (d.commands !== undefined) {
    const k = d.commands;
    rows.push(['commands', `${k.received} received: ${k.applied} applied, ${k.rejected} rejected, ${k.expired} expired, ${k.superseded} superseded, ${k.failed} failed`]);
  }
  if (d.rttMs !== undefined) rows.push(['round trip', `last ${d.rttMs.last.toFixed(1)} ms, avg ${d.rttMs.avg.toFixed(1)} ms, max ${d.rttMs.max.toFixed(1)} ms`]);
  if (d.config !== undefined && typeof d.config.topic === 'string') rows.push(['topic', d.config.topic.replaceAll('{device}', d.name)]);
  const width = Math.max(...rows.map(([k]) => k.length));
  const head = rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}\n`).join('');
  const points = d.points ?? [];
  if (points.length === 0) return head;
  const units = new Map(((d.config?.points as { name: string; unit?: string }[] | undefined) ?? []).map((p) => [p.name, p.unit ?? '']));
  return (
    head +
    '\n' +
    table(
      ['POINT', 'VALUE', 'UNIT', 'QUALITY', 'ERROR'],
      points.map((p) => [p.name, p.value === undefined ? '-' : String(p.value), units.get(p.name) ?? '', p.quality, p.error ?? '']),
      new Set([1]),
    )
  );
}

export async function devicesCommand(target: AdminTarget, args: ClientArgs, io: CommandIo, now = Date.now()): Promise<void> {
  if (args.action === 'show') {
    const d = (await call(target, `/api/v1/devices/${enc(args.target!)}`)) as Parameters<typeof showText>[0];
    return io.out(args.json ? json(d) : showText(d, now));
  }
  const v = (await call(target, '/api/v1/devices')) as { devices: DeviceStatus[]; buses: BusStatus[] };
  io.out(args.json ? json(v) : listText(v.devices, v.buses, now));
}
