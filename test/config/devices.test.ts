import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { parse } from 'yaml';
import { validateConfig } from '../../src/config/validate.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { wireAddress } from '../../src/config/device-points.js';
import { MAPS_DIR, listBuiltinMaps } from '../../src/config/device-maps.js';
import type { ModbusDeviceConfig, WharfConfig } from '../../src/config/types.js';

const RS485 = { name: 'rs485', type: 'serial', path: '/dev/ttyUSB0' };
const PLC = { name: 'plc', type: 'tcp', host: '192.0.2.10' };

function ok(raw: Record<string, unknown>, baseDir?: string): WharfConfig {
  const r = validateConfig(raw, { baseDir });
  if ('errors' in r) throw new Error(`expected a valid config, got errors:\n${r.errors.join('\n')}`);
  return r.config;
}

function errs(raw: Record<string, unknown>, baseDir?: string): string[] {
  const r = validateConfig(raw, { baseDir });
  if ('config' in r) throw new Error('expected errors, got a valid config');
  return r.errors;
}

/** Errors of one device on the two standard buses. */
function devErrs(device: Record<string, unknown>): string[] {
  return errs({ buses: [RS485, PLC], devices: [device] });
}

function pointErrs(point: Record<string, unknown>, device: Record<string, unknown> = {}): string[] {
  return devErrs({ name: 'm', bus: 'plc', points: [point], ...device });
}

function onePoint(point: Record<string, unknown>, device: Record<string, unknown> = {}) {
  const cfg = ok({ buses: [RS485, PLC], devices: [{ name: 'm', bus: 'plc', points: [point], ...device }] });
  return (cfg.devices[0] as ModbusDeviceConfig).points[0]!;
}

// ---- the full example --------------------------------------------------------------------------

const full = suite('devices config: full example');

const FULL_EXAMPLE = `
buses:
  - name: rs485
    type: serial
    path: /dev/ttyUSB0
    baudRate: 9600
    parity: even
    rs485: { rtsOnSend: true, delayRtsAfterSendMs: 1 }
    silentIntervalMs: 4.5
  - name: plc
    type: tcp
    host: 192.0.2.10
    port: 502
  - name: console
    type: serial
    path: /dev/ttyS1
    baudRate: 115200
devices:
  - name: meter1
    bus: rs485
    unitId: 1
    pollInterval: 1s
    include: eastron-sdm630
  - name: plc1
    bus: plc
    unitId: 255
    pollInterval: 500ms
    timeout: 300ms
    retries: 2
    maxRegistersPerRead: 100
    maxBitsPerRead: 512
    addressBase: 1
    byteOrder: CDAB
    topic: site/{device}/values
    statusTopic: site/{device}/online
    qos: 1
    retain: true
    heartbeat: 5m
    publish: always
    points:
      - { name: voltage, table: input_register, address: 30001, type: float32, byteOrder: ABCD, unit: V, deadband: 0.5 }
      - { name: relay, table: coil, address: 1, type: bool, writable: true, allowed: [true, false] }
      - { name: alarm, table: holding_register, address: 40010, type: bool, bit: 4 }
      - { name: speed, table: holding_register, address: 40001, type: int16, scale: 0.1, offset: -5, writable: true, min: 0, max: 1500, publish: change }
      - { name: serial, table: holding_register, address: 400100, type: string, length: 10 }
      - { name: counter, table: holding_register, address: 40200, type: uint64, byteOrder: 78563412 }
  - name: printer
    type: line
    bus: console
    delimiter: "\\r\\n"
    encoding: latin1
    maxLineBytes: 1KiB
`;

full('a full example with serial and tcp buses, an included map, every point key and a line device loads', () => {
  const cfg = ok(parse(FULL_EXAMPLE));
  assert.equal(cfg.buses[0], {
    name: 'rs485',
    type: 'serial',
    path: '/dev/ttyUSB0',
    baudRate: 9600,
    dataBits: 8,
    parity: 'even',
    stopBits: 1,
    rs485: { rtsOnSend: true, rtsAfterSend: false, rxDuringTx: false, delayRtsBeforeSendMs: 0, delayRtsAfterSendMs: 1 },
    silentIntervalMs: 4.5,
  });
  assert.equal(cfg.buses[1], { name: 'plc', type: 'tcp', host: '192.0.2.10', port: 502, rtuOverTcp: false, silentIntervalMs: undefined });
  const meter = cfg.devices[0] as ModbusDeviceConfig;
  assert.is(meter.type, 'modbus');
  assert.equal(meter.include, ['eastron-sdm630']);
  // The map's own limit (80 registers per request) lowers the default of 125.
  assert.is(meter.maxRegistersPerRead, 80);
  assert.is(meter.topic, 'devices/{device}/state');
  assert.is(meter.statusTopic, 'devices/{device}/status');
  assert.is(meter.heartbeatMs, 60_000);

  const plc = cfg.devices[1] as ModbusDeviceConfig;
  assert.equal(
    { ...plc, points: plc.points.length },
    {
      type: 'modbus',
      name: 'plc1',
      bus: 'plc',
      topic: 'site/{device}/values',
      statusTopic: 'site/{device}/online',
      qos: 1,
      retain: true,
      unitId: 255,
      pollIntervalMs: 500,
      timeoutMs: 300,
      retries: 2,
      maxRegistersPerRead: 100,
      maxBitsPerRead: 512,
      addressBase: 1,
      byteOrder: 'CDAB',
      heartbeatMs: 300_000,
      publish: 'always',
      include: [],
      points: 6,
      // Issue 15: defaults of the command side (the device has writable points).
      commands: {
        topic: 'devices/{device}/set',
        resultTopic: 'devices/{device}/results',
        resultQos: 1,
        maxDeliveries: 3,
        redeliveryDelayMs: 1000,
        deadLetter: 'devices.plc1.commands.dead',
      },
    },
  );
  const [voltage, relay, alarm, speed, serial, counter] = plc.points;
  assert.equal(voltage, {
    name: 'voltage',
    table: 'input_register',
    address: 0,
    type: 'float32',
    quantity: 2,
    length: undefined,
    bit: undefined,
    byteOrder: 'ABCD',
    scale: 1,
    offset: 0,
    unit: 'V',
    deadband: 0.5,
    publish: undefined,
    writable: false,
    min: undefined,
    max: undefined,
    allowed: undefined,
  });
  assert.equal([relay!.address, relay!.type, relay!.writable, relay!.allowed], [0, 'bool', true, [true, false]]);
  assert.equal([alarm!.address, alarm!.bit, alarm!.quantity], [9, 4, 1]);
  assert.equal([speed!.scale, speed!.offset, speed!.min, speed!.max, speed!.publish, speed!.byteOrder], [0.1, -5, 0, 1500, 'change', 'CDAB']);
  assert.equal([serial!.address, serial!.length, serial!.quantity], [99, 10, 5]);
  // Neuron's 8-byte name for "words reversed" is the same swap as CDAB.
  assert.equal([counter!.address, counter!.quantity, counter!.byteOrder], [199, 4, 'CDAB']);

  assert.equal(cfg.devices[2], {
    type: 'line',
    name: 'printer',
    bus: 'console',
    topic: 'devices/{device}/lines',
    statusTopic: 'devices/{device}/status',
    qos: 1,
    retain: false,
    delimiter: '\r\n',
    encoding: 'latin1',
    maxLineBytes: 1024,
  });
});

full('no buses and no devices: both lists are empty', () => {
  const cfg = ok({});
  assert.equal([cfg.buses, cfg.devices], [[], []]);
  assert.equal([ok({ buses: null, devices: null }).buses, ok({ buses: [] }).devices], [[], []]);
});

full('loadConfig reads devices from a file; the error of a bad one names its key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-devices-'));
  try {
    const file = join(dir, 'wharf.yaml');
    writeFileSync(file, FULL_EXAMPLE);
    const cfg = loadConfig({ file, env: {} });
    assert.is(cfg.devices.length, 3);
    writeFileSync(file, FULL_EXAMPLE.replace('byteOrder: CDAB', 'byteOrder: LE'));
    try {
      loadConfig({ file, env: {} });
      assert.unreachable('expected a ConfigError');
    } catch (err) {
      assert.instance(err, ConfigError);
      assert.equal((err as ConfigError).errors, ['devices[1].byteOrder: expected one of ABCD, CDAB, BADC, DCBA; got "LE"']);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- addresses ---------------------------------------------------------------------------------

const addr = suite('devices config: addressBase and 40001-style references');

addr('addressBase 0: the address is the wire address', () => {
  assert.is(wireAddress(0, 'holding_register', 0), 0);
  assert.is(wireAddress(40001, 'holding_register', 0), 40001);
  assert.is(wireAddress(65535, 'coil', 0), 65535);
  assert.type(wireAddress(65536, 'coil', 0), 'string');
});

addr('addressBase 1: 1-based numbers, and Modicon references of the point\'s own table', () => {
  assert.is(wireAddress(1, 'holding_register', 1), 0);
  assert.is(wireAddress(40001, 'holding_register', 1), 0);
  assert.is(wireAddress(49999, 'holding_register', 1), 9998);
  assert.is(wireAddress(400001, 'holding_register', 1), 0);
  assert.is(wireAddress(465536, 'holding_register', 1), 65535);
  assert.is(wireAddress(30001, 'input_register', 1), 0);
  assert.is(wireAddress(30343, 'input_register', 1), 342);
  assert.is(wireAddress(10001, 'discrete_input', 1), 0);
  assert.is(wireAddress(1, 'coil', 1), 0);
  assert.is(wireAddress(65536, 'coil', 1), 65535);
  // Another table's prefix is a plain 1-based number: input register 40001 is wire 40000.
  assert.is(wireAddress(40001, 'input_register', 1), 40000);
  assert.type(wireAddress(0, 'holding_register', 1), 'string');
  assert.type(wireAddress(465537, 'holding_register', 1), 'string');
});

addr('address errors name the point and say what addressBase allows', () => {
  assert.equal(pointErrs({ name: 'v', table: 'holding_register', address: 0, type: 'int16' }, { addressBase: 1 }), [
    'devices[0].points[0].address: must be an integer 1-65536 (1-based, addressBase 1), or a reference of this table (40001-49999, 400001-465536); got 0',
  ]);
  assert.equal(pointErrs({ name: 'v', table: 'coil', address: 70000 }), [
    'devices[0].points[0].address: must be an integer 0-65535 (the address on the wire, addressBase 0); got 70000',
  ]);
  assert.is(onePoint({ name: 'v', table: 'holding_register', address: 65534, type: 'float32' }).address, 65534);
  assert.equal(pointErrs({ name: 'v', table: 'holding_register', address: 65534, type: 'float64' }), [
    'devices[0].points[0].address: the point covers wire addresses 65534-65537, past the last one (65535)',
  ]);
  assert.equal(pointErrs({ name: 'v', table: 'holding_register', address: '40001', type: 'int16' }), [
    'devices[0].points[0].address: must be an integer; got "40001"',
  ]);
});

// ---- errors, each naming its key ---------------------------------------------------------------

const errors = suite('devices config: errors name their key');

errors('bus errors', () => {
  assert.equal(errs({ buses: {} }), ['buses: must be a list of buses (each with name and type: serial or tcp); got a mapping']);
  assert.equal(errs({ buses: [{ name: 'a' }] }), ['buses[0].type: required (serial or tcp)']);
  assert.equal(errs({ buses: [{ type: 'udp', name: 'a' }] }), ['buses[0].type: expected one of serial, tcp; got "udp"']);
  assert.equal(errs({ buses: [{ type: 'serial', name: 'a b', path: '/dev/x' }] }), [
    'buses[0].name: must be a name of 1-64 letters, digits, "_", "-" or "."; got "a b"',
  ]);
  assert.equal(errs({ buses: [{ type: 'serial', name: 'a' }] }), ['buses[0].path: required for serial buses (such as /dev/ttyUSB0)']);
  assert.equal(errs({ buses: [{ type: 'serial', name: 'a', path: '/dev/x', parity: 'mark', stopBits: 3, dataBits: 5, baudRate: 'fast' }] }), [
    'buses[0].baudRate: must be an integer 300-4000000; got "fast"',
    'buses[0].dataBits: expected one of 7, 8; got 5',
    'buses[0].parity: expected one of none, even, odd; got "mark"',
    'buses[0].stopBits: expected one of 1, 2; got 3',
  ]);
  assert.equal(errs({ buses: [{ type: 'serial', name: 'a', path: '/dev/x', rs485: { rts: true } }] }), [
    'buses[0].rs485.rts: unknown key (allowed: rtsOnSend, rtsAfterSend, rxDuringTx, delayRtsBeforeSendMs, delayRtsAfterSendMs)',
  ]);
  assert.equal(errs({ buses: [{ type: 'tcp', name: 'a', host: 'h', baudRate: 9600 }] }), [
    'buses[0].baudRate: unknown key (allowed: name, type, host, port, rtuOverTcp, silentIntervalMs)',
  ]);
  assert.equal(errs({ buses: [{ type: 'tcp', name: 'a', host: 'h', silentIntervalMs: 2 }] }), [
    'buses[0].silentIntervalMs: only for serial buses and tcp buses with rtuOverTcp: true',
  ]);
  assert.equal(errs({ buses: [{ type: 'tcp', name: 'a' }] }), ['buses[0].host: required for tcp buses (the device or converter)']);
  assert.equal(errs({ buses: [RS485, { ...PLC, name: 'rs485' }] }), ['buses[1].name: bus name "rs485" is already used by buses[0]']);
});

errors('device errors', () => {
  assert.equal(errs({ devices: 'meter' }), ['devices: must be a list of devices (each with name, bus and points); got "meter"']);
  assert.equal(devErrs({ bus: 'plc', points: [{ name: 'p', table: 'coil', address: 0 }] }), ['devices[0].name: required ({device} in its topics, and its label in metrics)']);
  assert.equal(devErrs({ name: 'm', points: [{ name: 'p', table: 'coil', address: 0 }] }), ['devices[0].bus: required (the name of one of the buses)']);
  assert.equal(devErrs({ name: 'm', bus: 'plc' }), [
    'devices[0].points: a modbus device needs at least one point (points, or include a point map)',
  ]);
  const point = { name: 'p', table: 'coil', address: 0 };
  assert.equal(devErrs({ name: 'm', bus: 'nope', points: [point] }), ['devices[0].bus: no bus named "nope" in buses (buses: rs485, plc)']);
  assert.equal(devErrs({ name: 'm', bus: 'plc', type: 'bacnet', points: [point] }), [
    'devices[0].type: expected one of modbus, line; got "bacnet"',
  ]);
  assert.equal(devErrs({ name: 'm', bus: 'plc', points: [point], pollInterval: '5ms', timeout: 2, heartbeat: '500ms', retries: 11 }), [
    'devices[0].pollInterval: must be at least 10 ms; got "5ms"',
    'devices[0].timeout: must be a duration up to 1m such as "500ms", "30s", "15m", "2h", "7d", or 0 (not allowed); got 2 (a unit is required: ms, s, m, h or d)',
    'devices[0].retries: must be an integer 0-10; got 11',
    'devices[0].heartbeat: must be at least 1000 ms (or 0, off); got "500ms"',
  ]);
  assert.equal(devErrs({ name: 'm', bus: 'plc', points: [point], maxRegistersPerRead: 126, maxBitsPerRead: 0, addressBase: 2, qos: 3 }), [
    'devices[0].qos: expected one of 0, 1, 2; got 3',
    'devices[0].maxRegistersPerRead: must be an integer 1-125; got 126',
    'devices[0].maxBitsPerRead: must be an integer 1-2000; got 0',
    'devices[0].addressBase: expected one of 0, 1; got 2',
  ]);
  assert.equal(devErrs({ name: 'm', bus: 'plc', points: [point], topic: 'a/+/b', statusTopic: 'x/{name}' }), [
    'devices[0].topic: must be a topic name without "+", "#" or a leading "$"; got "a/+/b"',
    'devices[0].statusTopic: may hold only the placeholder {device}; got "x/{name}"',
  ]);
  assert.equal(devErrs({ name: 'm', bus: 'plc', points: [point], delimiter: '\n' }), [
    'devices[0].delimiter: unknown key (allowed: name, type, bus, topic, statusTopic, qos, retain, unitId, pollInterval, timeout, retries, maxRegistersPerRead, maxBitsPerRead, addressBase, byteOrder, heartbeat, publish, include, points, commands)',
  ]);
});

errors('cross references: unique names, unit ids per framing, line devices alone on serial buses, topics', () => {
  const point = { name: 'p', table: 'coil', address: 0 };
  assert.equal(errs({ buses: [PLC], devices: [{ name: 'a', bus: 'plc', points: [point] }, { name: 'a', bus: 'plc', points: [point] }] }), [
    'devices[1].name: device name "a" is already used by devices[0]',
    'devices[1].topic: "devices/a/state" is already published by devices[0].topic',
    'devices[1].statusTopic: "devices/a/status" is already published by devices[0].statusTopic',
  ]);
  assert.equal(errs({ buses: [RS485], devices: [{ name: 'a', bus: 'rs485', unitId: 0, points: [point] }] }), [
    'devices[0].unitId: must be 1-247 with RTU framing (bus "rs485"); got 0',
  ]);
  assert.equal(errs({ buses: [{ ...PLC, rtuOverTcp: true }], devices: [{ name: 'a', bus: 'plc', unitId: 255, points: [point] }] }), [
    'devices[0].unitId: must be 1-247 with RTU framing (bus "plc"); got 255',
  ]);
  assert.equal(errs({ buses: [PLC], devices: [{ name: 'a', type: 'line', bus: 'plc' }] }), [
    'devices[0].bus: line devices need a serial bus; "plc" is tcp',
  ]);
  assert.equal(errs({ buses: [RS485], devices: [{ name: 'a', type: 'line', bus: 'rs485' }, { name: 'b', bus: 'rs485', points: [point] }] }), [
    'devices[0].bus: a line device owns its serial port; bus "rs485" is also used by devices[1]',
  ]);
  assert.equal(errs({ buses: [RS485], devices: [{ name: 'a', bus: 'rs485', topic: 'same', points: [point] }, { name: 'b', bus: 'rs485', topic: 'same', points: [point] }] }), [
    'devices[1].topic: "same" is already published by devices[0].topic',
  ]);
  // A bus with errors of its own is reported once, not again as missing.
  assert.equal(errs({ buses: [{ name: 'rs485', type: 'serial' }], devices: [{ name: 'a', bus: 'rs485', points: [point] }] }), [
    'buses[0].path: required for serial buses (such as /dev/ttyUSB0)',
  ]);
  // A device with errors of its own still has its bus checked.
  assert.equal(errs({ devices: [{ name: 'a', bus: 'nope', points: [{ ...point, table: 'holding' }] }] }), [
    'devices[0].points[0].table: expected one of coil, discrete_input, holding_register, input_register; got "holding"',
    'devices[0].bus: no bus named "nope" in buses',
  ]);
  assert.equal(errs({ buses: [PLC], devices: [{ name: 'a', bus: 'plc', points: [point, { ...point, address: 1 }] }] }), [
    'devices[0].points[1].name: point name "p" is already used by devices[0].points[0]',
  ]);
  assert.equal(errs({ buses: [PLC], devices: [{ name: 'a', bus: 'plc', maxRegistersPerRead: 3, points: [{ name: 's', table: 'holding_register', address: 0, type: 'float64' }] }] }), [
    'devices[0].points[0]: the point takes 4 registers, more than one read may take (maxRegistersPerRead 3)',
  ]);
});

errors('line device errors', () => {
  const line = { name: 'l', type: 'line', bus: 'rs485' };
  assert.equal(devErrs({ ...line, delimiter: '', encoding: 'utf16', maxLineBytes: 0, unitId: 1 }), [
    'devices[0].unitId: unknown key (allowed: name, type, bus, topic, statusTopic, qos, retain, delimiter, encoding, maxLineBytes, sendTopic)',
    'devices[0].delimiter: must be 1-8 bytes such as "\\n" or "\\r\\n" (quote it in YAML); got ""',
    'devices[0].encoding: expected one of utf8, latin1, ascii, hex, base64; got "utf16"',
    'devices[0].maxLineBytes: must be 1-1048576 bytes, as an integer or a size like "256KiB", "1MiB", "512kb"; got 0',
  ]);
});

errors('point errors', () => {
  const at = 'devices[0].points[0]';
  assert.equal(pointErrs({ table: 'coil', address: 0 }), [`${at}.name: required (the key of the value in the published document)`]);
  assert.equal(pointErrs({ name: 'p', address: 0 }), [`${at}.table: required (coil, discrete_input, holding_register, input_register)`]);
  assert.equal(pointErrs({ name: 'p', table: 'register', address: 0 }), [
    `${at}.table: expected one of coil, discrete_input, holding_register, input_register; got "register"`,
  ]);
  assert.equal(pointErrs({ name: 'p', table: 'coil' }), [`${at}.address: required (the register or bit number)`]);
  assert.equal(pointErrs({ name: 'p', table: 'holding_register', address: 0 }), [
    `${at}.type: required for holding_register points (one of bool, int16, uint16, int32, uint32, float32, int64, uint64, float64, string)`,
  ]);
  assert.equal(pointErrs({ name: 'p', table: 'coil', address: 0, type: 'int16' }), [`${at}.type: coil points are bool; got "int16"`]);
  assert.equal(pointErrs({ name: 'p', table: 'holding_register', address: 0, type: 'float32', byteOrder: 'LE' }), [
    `${at}.byteOrder: expected one of ABCD, CDAB, BADC, DCBA; got "LE"`,
  ]);
  assert.equal(pointErrs({ name: 'p', table: 'holding_register', address: 0, type: 'float32', byteOrder: 12345678 }), [
    `${at}.byteOrder: expected one of ABCD, CDAB, BADC, DCBA; got 12345678`,
  ]);
  assert.equal(pointErrs({ name: 'p', table: 'holding_register', address: 0, type: 'int64', byteOrder: 'little' }), [
    `${at}.byteOrder: expected one of ABCD, CDAB, BADC, DCBA, 12345678, 78563412, 21436587, 87654321; got "little"`,
  ]);
  assert.equal(pointErrs({ name: 'p', table: 'coil', address: 0, byteOrder: 'ABCD', scale: 2 }), [
    `${at}.byteOrder: only for register points`,
    `${at}.scale: only for numeric points (not bool)`,
  ]);
  assert.equal(pointErrs({ name: 'p', table: 'holding_register', address: 0, type: 'string' }), [
    `${at}.length: required for string points (bytes, 1-250)`,
  ]);
  assert.equal(pointErrs({ name: 'p', table: 'holding_register', address: 0, type: 'string', length: 0 }), [
    `${at}.length: must be an integer 1-250; got 0`,
  ]);
  assert.equal(pointErrs({ name: 'p', table: 'holding_register', address: 0, type: 'int16', length: 4 }), [
    `${at}.length: only for string points (their length in bytes)`,
  ]);
  assert.equal(pointErrs({ name: 'p', table: 'holding_register', address: 0, type: 'bool' }), [
    `${at}.bit: required for a bool on a holding_register (which bit, 0-15, 0 = least significant)`,
  ]);
  assert.equal(pointErrs({ name: 'p', table: 'holding_register', address: 0, type: 'bool', bit: 16 }), [`${at}.bit: must be an integer 0-15; got 16`]);
  assert.equal(pointErrs({ name: 'p', table: 'coil', address: 0, bit: 1 }), [
    `${at}.bit: only for bool points on register tables (the bit of the register, 0-15)`,
  ]);
  assert.equal(pointErrs({ name: 'p', table: 'input_register', address: 0, type: 'int16', scale: 0, deadband: -1, offset: 'x' }), [
    `${at}.scale: must not be 0 (a written value is divided by it)`,
    `${at}.offset: must be a number; got "x"`,
    `${at}.deadband: must be a number 0-${Number.MAX_VALUE}; got -1`,
  ]);
  assert.equal(pointErrs({ name: 'p', table: 'input_register', address: 0, type: 'int16', writable: true, unit: 5, publish: 'sometimes' }), [
    `${at}.unit: must be a string such as "V" or "kWh"; got 5`,
    `${at}.publish: expected one of change, always; got "sometimes"`,
    `${at}.writable: only for coil and holding_register points`,
  ]);
  assert.equal(pointErrs({ name: 'p', table: 'holding_register', address: 0, type: 'int16', min: 10, max: 5 }), [`${at}.min: 10 is above max (5)`]);
  assert.equal(pointErrs({ name: 'p', table: 'coil', address: 0, allowed: [true, 1] }), [`${at}.allowed[1]: must be a boolean (the point is bool); got 1`]);
  assert.equal(pointErrs({ name: 'p', table: 'coil', address: 0, colour: 'red' }), [
    `${at}.colour: unknown key (allowed: name, table, address, type, length, bit, byteOrder, scale, offset, unit, deadband, publish, writable, min, max, allowed)`,
  ]);
});

errors('point defaults: bool on bit tables, the device byte order, scale 1, offset 0, deadband 0', () => {
  const coil = onePoint({ name: 'c', table: 'discrete_input', address: 7 });
  assert.equal([coil.type, coil.quantity, coil.address, coil.scale, coil.offset, coil.deadband, coil.writable], ['bool', 1, 7, 1, 0, 0, false]);
  assert.is(onePoint({ name: 'f', table: 'input_register', address: 0, type: 'float32' }, { byteOrder: 'DCBA' }).byteOrder, 'DCBA');
  assert.is(onePoint({ name: 'f', table: 'input_register', address: 0, type: 'float32' }).byteOrder, 'ABCD');
});

// ---- include -------------------------------------------------------------------------------------

const include = suite('devices config: include of point maps');
let dir = '';
include.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'wharf-maps-'));
  mkdirSync(join(dir, 'maps'));
  writeFileSync(
    join(dir, 'maps', 'pump.yaml'),
    'addressBase: 1\nbyteOrder: CDAB\npoints:\n  - { name: speed, table: holding_register, address: 40003, type: float32 }\n' +
      '  - { name: running, table: coil, address: 1 }\n',
  );
  writeFileSync(join(dir, 'maps', 'bad.yaml'), 'points:\n  - { name: x, table: input_register, address: 0, type: float32, byteOrder: LE }\n');
  writeFileSync(join(dir, 'maps', 'keys.yaml'), 'addresBase: 1\npoints: []\n');
  writeFileSync(join(dir, 'maps', 'broken.yaml'), 'points: [\n');
});
include.after(() => rmSync(dir, { recursive: true, force: true }));

include('the built-in maps are beside the compiled code (copied by the build) and eastron-sdm630 is one', () => {
  assert.ok(existsSync(join(MAPS_DIR, 'eastron-sdm630.yaml')), MAPS_DIR);
  // Tests run from dist/: the map must have been copied there, not read from src/.
  assert.ok(MAPS_DIR.includes(`${sep}dist${sep}src${sep}devices${sep}maps`), MAPS_DIR);
  assert.ok(listBuiltinMaps().includes('eastron-sdm630'));
  // The same relative URL from the source file (src/config/ -> src/devices/maps/) finds the source copy, and the
  // build's copy is not stale.
  const srcMaps = fileURLToPath(new URL('../../../src/config/../devices/maps/', import.meta.url));
  for (const name of listBuiltinMaps(srcMaps)) {
    assert.is(readFileSync(join(MAPS_DIR, `${name}.yaml`), 'utf8'), readFileSync(join(srcMaps, `${name}.yaml`), 'utf8'), name);
  }
  assert.equal(listBuiltinMaps(srcMaps), listBuiltinMaps());
});

include('include: eastron-sdm630 gives the meter\'s documented registers at their wire addresses', () => {
  const cfg = ok({ buses: [RS485], devices: [{ name: 'm', bus: 'rs485', include: 'eastron-sdm630' }] });
  const points = new Map((cfg.devices[0] as ModbusDeviceConfig).points.map((p) => [p.name, p]));
  assert.is(points.size, 49);
  // Manual: 30001 phase 1 voltage is 0x0000, 30071 frequency 0x0046, 30343 total kWh 0x0156.
  assert.equal([points.get('voltage_l1')!.address, points.get('voltage_l1')!.type, points.get('voltage_l1')!.unit], [0, 'float32', 'V']);
  assert.is(points.get('frequency')!.address, 0x46);
  assert.is(points.get('total_energy')!.address, 0x156);
  assert.is(points.get('total_energy')!.table, 'input_register');
  assert.ok([...points.values()].every((p) => p.byteOrder === 'ABCD' && p.quantity === 2));
});

include('a relative include is read from beside the config file; the map keeps its own addressBase and byteOrder', () => {
  const cfg = ok(
    { buses: [PLC], devices: [{ name: 'p', bus: 'plc', byteOrder: 'DCBA', include: ['./maps/pump.yaml'], points: [{ name: 'mine', table: 'coil', address: 5 }] }] },
    dir,
  );
  const dev = cfg.devices[0] as ModbusDeviceConfig;
  assert.equal(
    dev.points.map((p) => [p.name, p.address, p.byteOrder]),
    [
      ['speed', 2, 'CDAB'],
      ['running', 0, 'CDAB'],
      ['mine', 5, 'DCBA'],
    ],
  );
  assert.equal(dev.include, ['./maps/pump.yaml']);
  // Through loadConfig the base is the file's folder, not the working directory.
  const file = join(dir, 'wharf.yaml');
  writeFileSync(file, 'buses: [{ name: plc, type: tcp, host: h }]\ndevices: [{ name: p, bus: plc, include: maps/pump.yaml }]\n');
  assert.is((loadConfig({ file, env: {} }).devices[0] as ModbusDeviceConfig).points.length, 2);
});

include('include errors name the include entry, the file and the key inside it', () => {
  const e = (include: unknown, points?: unknown[]): string[] => errs({ buses: [PLC], devices: [{ name: 'p', bus: 'plc', include, points }] }, dir);
  assert.equal(e('no-such-map'), [
    'devices[0].include: no built-in map named "no-such-map" (built-in: eastron-sdm630); a file needs a path such as ./no-such-map.yaml',
  ]);
  assert.equal(e(['maps/missing.yaml']), [`devices[0].include[0]: cannot read point map ${join(dir, 'maps', 'missing.yaml')}: file not found`]);
  assert.equal(e(['maps/bad.yaml']), [
    `devices[0].include[0] → ${join(dir, 'maps', 'bad.yaml')}: points[0].byteOrder: expected one of ABCD, CDAB, BADC, DCBA; got "LE"`,
  ]);
  assert.equal(e(['maps/keys.yaml']), [
    `devices[0].include[0] → ${join(dir, 'maps', 'keys.yaml')}: addresBase: unknown key (allowed: description, addressBase, byteOrder, maxRegistersPerRead, points)`,
  ]);
  assert.match(e(['maps/broken.yaml'])[0]!, `devices[0].include[0]: cannot read point map ${join(dir, 'maps', 'broken.yaml')}: `);
  assert.equal(e(42), ['devices[0].include: must be a point map (built-in name or file path) or a list of them; got 42']);
  assert.equal(e(['maps/pump.yaml'], [{ name: 'speed', table: 'coil', address: 9 }]), [
    `devices[0].points[0].name: point name "speed" is already used by devices[0].include[0] → ${join(dir, 'maps', 'pump.yaml')}: points[0]`,
  ]);
});

full('the README example of ## Devices loads (with a pump map beside it), and its queue example too', () => {
  const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Devices\n'), readme.indexOf('\n## Monitoring\n'));
  const blocks = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parse(m[1]!) as Record<string, unknown>);
  assert.is(blocks.length, 2);
  const here = mkdtempSync(join(tmpdir(), 'wharf-readme-'));
  try {
    mkdirSync(join(here, 'maps'));
    writeFileSync(join(here, 'maps', 'pump.yaml'), 'points:\n  - { name: speed, table: holding_register, address: 0, type: uint16 }\n');
    const cfg = ok({ ...blocks[0], ...blocks[1] }, here);
    assert.equal(cfg.devices.map((d) => d.name), ['meter1', 'plc1', 'pump2', 'printer']);
    assert.is(cfg.queues.definitions[0]!.topicFilter, 'devices/+/state');
  } finally {
    rmSync(here, { recursive: true, force: true });
  }
});

full.run();
addr.run();
errors.run();
include.run();
