// The wharf_device_* and wharf_bus_* families of GET /metrics, from the device manager's status (issue 14,
// Operations): per device and per bus requests, responses, timeouts, CRC errors, exceptions by code, round-trip
// time, bus utilisation and dropped readings. States are one-hot gauges, the Prometheus way of an enum.

import { BUS_STATES, COMMAND_OUTCOMES, DEVICE_STATES, type BusStatus, type DeviceCounters, type DeviceStatus } from '../devices/status.js';
import type { ExpositionWriter, Labels } from './prometheus.js';

const DEVICE_COUNTERS: readonly [keyof DeviceCounters, string, string][] = [
  ['requests', 'wharf_device_requests_total', 'Requests sent to the device, retries included.'],
  ['responses', 'wharf_device_responses_total', 'Valid answers from the device (exceptions included).'],
  ['timeouts', 'wharf_device_timeouts_total', 'Requests the device did not answer within its timeout.'],
  ['crcErrors', 'wharf_device_crc_errors_total', 'Answers with a bad CRC (RTU), never taken as values.'],
  ['badFrames', 'wharf_device_bad_frames_total', 'Answers with a wrong unit id, function code, byte count, transaction id or length.'],
  ['readingsPublished', 'wharf_device_readings_published_total', 'Documents and lines published for the device.'],
  ['readingsDropped', 'wharf_device_readings_dropped_total', 'Readings the store refused (full or behind): polled but not kept.'],
];

export function writeDeviceMetrics(w: ExpositionWriter, devices: readonly DeviceStatus[], buses: readonly BusStatus[]): void {
  const labels = (d: DeviceStatus): Labels => ({ device: d.name, bus: d.bus });
  for (const [key, name, help] of DEVICE_COUNTERS) {
    w.family(name, 'counter', help, devices.map((d) => [labels(d), d.counters[key] as number] as [Labels, number]));
  }
  w.family(
    'wharf_device_exceptions_total',
    'counter',
    'Modbus exception answers, by exception code (2 = illegal data address, 3 = illegal data value, 4 = device failure, 6 = busy).',
    devices.flatMap((d) => Object.entries(d.counters.exceptions).map(([code, n]) => [{ ...labels(d), code }, n] as [Labels, number])),
  );
  const commanded = devices.filter((d) => d.commands !== undefined);
  w.family('wharf_device_commands_received_total', 'counter', 'Commands to the device, per point (refused ones included).', commanded.map((d) => [labels(d), d.commands!.received]));
  w.family(
    'wharf_device_commands_total',
    'counter',
    'Commands to the device by outcome, per point: applied, rejected, expired, superseded or failed.',
    commanded.flatMap((d) => COMMAND_OUTCOMES.map((o) => [{ ...labels(d), outcome: o }, d.commands![o]] as [Labels, number])),
  );
  const lines = devices.filter((d) => d.counters.linesCut !== undefined);
  w.family('wharf_device_lines_cut_total', 'counter', 'Line devices: lines longer than maxLineBytes, cut.', lines.map((d) => [labels(d), d.counters.linesCut!]));
  w.family(
    'wharf_device_state',
    'gauge',
    'The device state (1 for the current one): starting, online, offline or degraded.',
    devices.flatMap((d) => DEVICE_STATES.map((s) => [{ ...labels(d), state: s }, d.state === s ? 1 : 0] as [Labels, number])),
  );
  const rtt = devices.filter((d) => d.rttMs !== undefined);
  w.family('wharf_device_rtt_last_seconds', 'gauge', 'Round-trip time of the last answered request.', rtt.map((d) => [labels(d), d.rttMs!.last / 1000]));
  w.family('wharf_device_rtt_avg_seconds', 'gauge', 'Mean round-trip time of answered requests.', rtt.map((d) => [labels(d), d.rttMs!.avg / 1000]));
  w.family('wharf_device_rtt_max_seconds', 'gauge', 'Longest round-trip time of an answered request.', rtt.map((d) => [labels(d), d.rttMs!.max / 1000]));
  const seen = devices.filter((d) => d.lastSeenMs !== undefined);
  w.family('wharf_device_last_seen_timestamp_seconds', 'gauge', 'When the device last answered (Unix time).', seen.map((d) => [labels(d), d.lastSeenMs! / 1000]));

  const bus = (b: BusStatus): Labels => ({ bus: b.name, type: b.type });
  w.family('wharf_bus_requests_total', 'counter', 'Requests sent on the bus, all devices.', buses.map((b) => [bus(b), b.counters.requests]));
  w.family('wharf_bus_timeouts_total', 'counter', 'Requests on the bus not answered in time.', buses.map((b) => [bus(b), b.counters.timeouts]));
  w.family('wharf_bus_crc_errors_total', 'counter', 'Frames with a bad CRC on the bus.', buses.map((b) => [bus(b), b.counters.crcErrors]));
  w.family('wharf_bus_busy_seconds_total', 'counter', 'Time the bus was busy with requests and answers.', buses.map((b) => [bus(b), b.counters.busyMs / 1000]));
  w.family('wharf_bus_utilisation_ratio', 'gauge', 'Share of recent time the bus was busy, 0-1.', buses.map((b) => [bus(b), b.utilisation]));
  w.family(
    'wharf_bus_state',
    'gauge',
    'The bus state (1 for the current one): open, closed or error.',
    buses.flatMap((b) => BUS_STATES.map((s) => [{ ...bus(b), state: s }, b.state === s ? 1 : 0] as [Labels, number])),
  );
}
