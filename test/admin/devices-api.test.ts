// The device operations surfaces against a running broker's admin API: GET /api/v1/devices[/NAME], the
// wharf_device_* and wharf_bus_* families of /metrics, and `wharf devices [show NAME] [--json]`.
// The device manager (h-devwire's src/devices/device-manager.ts) is not on this branch yet: the status comes from
// a small in-test DeviceStatusSource whose figures the test sets, read through the real HTTP listener and CLI.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { startAdminBroker, type AdminBroker } from '../helpers/admin.js';
import { sampleValue } from '../helpers/prom-checker.js';
import type { BusStatus, DeviceStatus, DeviceStatusSource } from '../../src/devices/status.js';
import { validateConfig } from '../../src/config/validate.js';
import { parseArgs } from '../../src/cli/args.js';
import { runClient } from '../../src/cli/client.js';
import type { ClientArgs } from '../../src/cli/client-args.js';
import type { CommandIo } from '../../src/cli/commands/io.js';

class SiteStatus implements DeviceStatusSource {
  meter: DeviceStatus = {
    name: 'meter1',
    bus: 'rs485',
    kind: 'modbus',
    state: 'online',
    lastSeenMs: Date.now() - 1500,
    counters: { requests: 120, responses: 117, timeouts: 2, crcErrors: 1, badFrames: 0, exceptions: { '2': 3 }, readingsPublished: 40, readingsDropped: 5 },
    rttMs: { last: 21, avg: 19.5, max: 44 },
    points: [
      { name: 'voltage_l1', value: 231.2, quality: 'good' },
      { name: 'frequency', quality: 'bad', error: 'exception 0x02 (illegal data address)' },
    ],
  };
  printer: DeviceStatus = {
    name: 'printer',
    bus: 'console',
    kind: 'line',
    state: 'offline',
    lastError: 'cannot open /dev/ttyS1: No such file or directory',
    counters: { requests: 0, responses: 0, timeouts: 0, crcErrors: 0, badFrames: 0, exceptions: {}, readingsPublished: 0, readingsDropped: 0, linesCut: 7 },
  };
  rs485: BusStatus = { name: 'rs485', type: 'serial', state: 'open', counters: { requests: 120, timeouts: 2, crcErrors: 1, busyMs: 2500 }, utilisation: 0.25 };
  console: BusStatus = { name: 'console', type: 'serial', state: 'error', lastError: 'ENOENT', counters: { requests: 0, timeouts: 0, crcErrors: 0, busyMs: 0 }, utilisation: 0 };
  devices(): DeviceStatus[] {
    return [this.meter, this.printer];
  }
  buses(): BusStatus[] {
    return [this.rs485, this.console];
  }
}

const SITE = `
buses:
  - { name: rs485, type: serial, path: /dev/ttyUSB0 }
  - { name: console, type: serial, path: /dev/ttyS1 }
devices:
  - { name: meter1, bus: rs485, include: eastron-sdm630 }
  - { name: printer, type: line, bus: console }
  - { name: spare, bus: rs485, unitId: 9, points: [{ name: relay, table: coil, address: 0 }] }
`;

const test = suite('admin: devices API, metrics and CLI');
let tb: AdminBroker;
const site = new SiteStatus();

test.before(async () => {
  const r = validateConfig(parse(SITE));
  if ('errors' in r) throw new Error(r.errors.join('\n'));
  tb = await startAdminBroker((c) => ((c.buses = r.config.buses), (c.devices = r.config.devices)), { devices: site });
});
test.after(async () => tb.stop());

function capture() {
  const out: string[] = [];
  const errors: string[] = [];
  const io: CommandIo = { out: (t) => out.push(t), progress: () => {}, progressTty: false };
  return { io, out, errors, writeError: (t: string) => errors.push(t) };
}

async function cli(argv: string[]) {
  const a = parseArgs([...argv, '--admin', `127.0.0.1:${tb.monitoring.adminAddress!.port}`]);
  if (a.command !== 'client') throw new Error(JSON.stringify(a));
  const c = capture();
  const code = await runClient(a as ClientArgs, c.io, c.writeError);
  return { code, out: c.out.join(''), err: c.errors.join('') };
}

test('GET /api/v1/devices lists devices (without points) and buses', async () => {
  const r = await tb.api('GET', '/api/v1/devices');
  assert.is(r.status, 200);
  assert.equal(r.body.devices.map((d: DeviceStatus) => [d.name, d.state, d.points]), [
    ['meter1', 'online', undefined],
    ['printer', 'offline', undefined],
  ]);
  assert.equal(r.body.devices[0].counters.exceptions, { '2': 3 });
  assert.equal(r.body.buses, [site.rs485, site.console]);
});

test('GET /api/v1/devices/NAME: points, bus status and resolved configuration; 404 names why', async () => {
  const r = await tb.api('GET', '/api/v1/devices/meter1');
  assert.is(r.status, 200);
  assert.equal(r.body.points, site.meter.points);
  assert.is(r.body.busStatus.utilisation, 0.25);
  assert.is(r.body.config.unitId, 1);
  assert.is(r.body.config.points.length, 49);
  assert.equal(r.body.config.points.find((p: { name: string }) => p.name === 'total_energy'), {
    name: 'total_energy',
    table: 'input_register',
    address: 342,
    type: 'float32',
    quantity: 2,
    byteOrder: 'ABCD',
    unit: 'kWh',
  });
  const none = await tb.api('GET', '/api/v1/devices/nope');
  assert.equal([none.status, none.body.error], [404, 'no device named "nope"']);
  const spare = await tb.api('GET', '/api/v1/devices/spare');
  assert.equal([spare.status, spare.body.error], [404, 'device "spare" is configured but not running']);
});

test('/metrics carries per device and per bus families that follow the conventions', async () => {
  const fams = await tb.scrape();
  const dev = { device: 'meter1', bus: 'rs485' };
  assert.is(sampleValue(fams, 'wharf_device_requests_total', dev), 120);
  assert.is(sampleValue(fams, 'wharf_device_responses_total', dev), 117);
  assert.is(sampleValue(fams, 'wharf_device_timeouts_total', dev), 2);
  assert.is(sampleValue(fams, 'wharf_device_crc_errors_total', dev), 1);
  assert.is(sampleValue(fams, 'wharf_device_exceptions_total', { ...dev, code: '2' }), 3);
  assert.is(sampleValue(fams, 'wharf_device_readings_dropped_total', dev), 5);
  assert.is(sampleValue(fams, 'wharf_device_rtt_avg_seconds', dev), 0.0195);
  assert.is(sampleValue(fams, 'wharf_device_state', { ...dev, state: 'online' }), 1);
  assert.is(sampleValue(fams, 'wharf_device_state', { ...dev, state: 'offline' }), 0);
  assert.is(sampleValue(fams, 'wharf_device_lines_cut_total', { device: 'printer', bus: 'console' }), 7);
  assert.is(sampleValue(fams, 'wharf_bus_utilisation_ratio', { bus: 'rs485', type: 'serial' }), 0.25);
  assert.is(sampleValue(fams, 'wharf_bus_busy_seconds_total', { bus: 'rs485', type: 'serial' }), 2.5);
  assert.is(sampleValue(fams, 'wharf_bus_state', { bus: 'console', type: 'serial', state: 'error' }), 1);
  // Figures move with the source: the next scrape shows the new counts.
  site.meter.counters.requests = 121;
  site.meter.state = 'degraded';
  const again = await tb.scrape();
  assert.is(sampleValue(again, 'wharf_device_requests_total', dev), 121);
  assert.is(sampleValue(again, 'wharf_device_state', { ...dev, state: 'degraded' }), 1);
  site.meter.state = 'online';
});

test('wharf devices: a table of devices and one of buses', async () => {
  site.meter.lastSeenMs = Date.now() - 90_000;
  const r = await cli(['devices']);
  assert.is(r.code, 0, r.err);
  const lines = r.out.split('\n');
  assert.match(lines[0]!, /^DEVICE\s+BUS\s+KIND\s+STATE\s+REQUESTS\s+TIMEOUTS\s+ERRORS\s+PUBLISHED\s+DROPPED\s+RTT AVG\s+LAST SEEN\s+LAST ERROR$/);
  assert.match(lines[1]!, /^meter1\s+rs485\s+modbus\s+online\s+121\s+2\s+4\s+40\s+5\s+19\.5ms\s+1m3\ds ago$/);
  assert.match(lines[2]!, /^printer\s+console\s+line\s+offline\s+0\s+0\s+0\s+0\s+0\s+-\s+never\s+cannot open \/dev\/ttyS1: No such file or directory$/);
  assert.match(r.out, /\nBUS\s+TYPE\s+STATE\s+REQUESTS\s+TIMEOUTS\s+CRC ERRORS\s+UTILISATION\s+LAST ERROR\nrs485\s+serial\s+open\s+120\s+2\s+1\s+25\.0%\n/);
});

test('wharf devices show NAME: the device and its points; --json prints the API answer', async () => {
  const r = await cli(['devices', 'show', 'meter1']);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /^  device      meter1\n/);
  assert.match(r.out, /  errors      1 CRC, 0 bad frames, exceptions 0x02: 3\n/);
  assert.match(r.out, /  topic       devices\/meter1\/state\n/);
  assert.match(r.out, /\nPOINT\s+VALUE\s+UNIT\s+QUALITY\s+ERROR\nvoltage_l1\s+231\.2\s+V\s+good\nfrequency\s+-\s+Hz\s+bad\s+exception 0x02 \(illegal data address\)\n$/);
  const j = await cli(['devices', 'show', 'meter1', '--json']);
  assert.is(JSON.parse(j.out).name, 'meter1');
  const list = await cli(['devices', '--json']);
  assert.equal(JSON.parse(list.out).buses.length, 2);
  const missing = await cli(['devices', 'show', 'nope']);
  assert.ok(missing.code !== 0);
  assert.match(missing.err, /no device named "nope"/);
});

test('argument errors: show needs a device name, unknown actions are named', () => {
  assert.equal(parseArgs(['devices', 'show']), { command: 'error', message: 'devices show needs a device name; run "wharf --help" for usage' });
  assert.match((parseArgs(['devices', 'restart', 'x']) as { message: string }).message, /unknown action "restart" for devices \(actions: list, show\)/);
});

test('without a device source: no devices, and no device families in /metrics', async () => {
  const bare = await startAdminBroker();
  try {
    const r = await bare.api('GET', '/api/v1/devices');
    assert.equal([r.status, r.body], [200, { devices: [], buses: [] }]);
    const fams = await bare.scrape();
    assert.ok(![...fams.keys()].some((k) => k.startsWith('wharf_device_') || k.startsWith('wharf_bus_')));
  } finally {
    await bare.stop();
  }
});

test.run();
