// The `devices:` section (issue 14): the Modbus and line devices on the buses of `buses:` (device-buses.ts), and
// their points (own and included). Besides each device's keys this checks what spans items: unique names, a
// device's bus exists and suits it (line devices alone on a serial bus), unit ids fit the framing, topics do not
// collide, every point fits one read under the device's caps.

import type { DeviceConfig, LineDeviceConfig, LineEncoding, ModbusDeviceConfig, PointConfig } from './types.js';
import type { SectionContext, SectionValidator } from './sections.js';
import { boolRule, bytesRule, checkKeys, describe, enumRule, intRule, isMapping, keyPath, type Rule } from './rules.js';
import { BYTE_ORDERS, PUBLISH_MODES, isBitTable, nameRule, validatePoint } from './device-points.js';
import { loadPointMap } from './device-maps.js';
import { validateCommands } from './device-commands.js';
import { checkUnique, durationBetween, enumNumber, has, opt, rawNames, topicRule } from './device-rules.js';

const COMMON_DEVICE_KEYS = ['name', 'type', 'bus', 'topic', 'statusTopic', 'qos', 'retain'];
const MODBUS_KEYS = [
  ...COMMON_DEVICE_KEYS,
  'unitId',
  'pollInterval',
  'timeout',
  'retries',
  'maxRegistersPerRead',
  'maxBitsPerRead',
  'addressBase',
  'byteOrder',
  'heartbeat',
  'publish',
  'include',
  'points',
  'commands',
];
const LINE_KEYS = [...COMMON_DEVICE_KEYS, 'delimiter', 'encoding', 'maxLineBytes', 'sendTopic'];
const LINE_ENCODINGS: readonly LineEncoding[] = ['utf8', 'latin1', 'ascii', 'hex', 'base64'];

export const DEFAULT_STATE_TOPIC = 'devices/{device}/state';
export const DEFAULT_STATUS_TOPIC = 'devices/{device}/status';
export const DEFAULT_LINE_TOPIC = 'devices/{device}/lines';
/** Modbus over TCP carries the unit id as a plain byte; RTU reserves 0 (broadcast) and 248-255. */
const TCP_UNIT_IDS = [0, 255] as const;
const RTU_UNIT_IDS = [1, 247] as const;

// ---- Devices -----------------------------------------------------------------------------------

function commonOf(path: string, raw: Record<string, unknown>, name: string, bus: string, defaultTopic: string, errors: string[]) {
  return {
    name,
    bus,
    topic: opt(path, raw, 'topic', topicRule, defaultTopic, errors),
    statusTopic: opt(path, raw, 'statusTopic', topicRule, DEFAULT_STATUS_TOPIC, errors),
    qos: opt(path, raw, 'qos', enumNumber([0, 1, 2] as const), 1, errors),
    retain: opt(path, raw, 'retain', boolRule, false, errors),
  };
}

const delimiterRule: Rule<string> = (path, v, errors) => {
  if (typeof v === 'string' && v.length > 0 && Buffer.byteLength(v) <= 8) return v;
  errors.push(`${path}: must be 1-8 bytes such as "\\n" or "\\r\\n" (quote it in YAML); got ${describe(v)}`);
  return undefined;
};

function validateLineDevice(path: string, raw: Record<string, unknown>, name: string, bus: string, errors: string[]): LineDeviceConfig {
  checkKeys(path, raw, LINE_KEYS, errors);
  return {
    type: 'line',
    ...commonOf(path, raw, name, bus, DEFAULT_LINE_TOPIC, errors),
    delimiter: opt(path, raw, 'delimiter', delimiterRule, '\n', errors),
    encoding: opt(path, raw, 'encoding', enumRule(LINE_ENCODINGS), 'utf8', errors),
    maxLineBytes: opt(path, raw, 'maxLineBytes', bytesRule(1, 1024 * 1024), 4096, errors),
    ...(has(raw, 'sendTopic') ? { sendTopic: opt(path, raw, 'sendTopic', topicRule, 'devices/{device}/send', errors) } : {}),
  };
}

/** Included points first (in include order), then the device's own; each map's cap lowers the device's. */
function devicePoints(
  path: string,
  raw: Record<string, unknown>,
  dev: ModbusDeviceConfig,
  ctx: SectionContext | undefined,
  errors: string[],
): PointConfig[] | undefined {
  const before = errors.length;
  const points: (PointConfig | undefined)[] = [];
  const where: string[] = [];
  if (has(raw, 'include')) {
    const refs = typeof raw.include === 'string' ? [raw.include] : raw.include;
    if (!Array.isArray(refs)) {
      errors.push(`${keyPath(path, 'include')}: must be a point map (built-in name or file path) or a list of them; got ${describe(raw.include)}`);
    } else {
      refs.forEach((ref, i) => {
        const at = typeof raw.include === 'string' ? keyPath(path, 'include') : `${keyPath(path, 'include')}[${i}]`;
        const map = loadPointMap(at, ref, ctx?.baseDir ?? process.cwd(), errors);
        if (map === undefined) return;
        dev.include.push(ref as string);
        if (map.maxRegistersPerRead !== undefined) dev.maxRegistersPerRead = Math.min(dev.maxRegistersPerRead, map.maxRegistersPerRead);
        const defaults = { addressBase: map.addressBase, byteOrder: map.byteOrder ?? dev.byteOrder };
        map.points.forEach((p, j) => {
          const pointPath = `${at} → ${map.file}: points[${j}]`;
          points.push(validatePoint(pointPath, p, defaults, errors));
          where.push(pointPath);
        });
      });
    }
  }
  if (has(raw, 'points') && raw.points !== null) {
    if (!Array.isArray(raw.points)) errors.push(`${keyPath(path, 'points')}: must be a list of points; got ${describe(raw.points)}`);
    else
      raw.points.forEach((p, j) => {
        const pointPath = `${keyPath(path, 'points')}[${j}]`;
        points.push(validatePoint(pointPath, p, { addressBase: dev.addressBase, byteOrder: dev.byteOrder }, errors));
        where.push(pointPath);
      });
  }
  if (points.length === 0 && errors.length === before) {
    errors.push(`${keyPath(path, 'points')}: a modbus device needs at least one point (points, or include a point map)`);
  }
  const seen = new Map<string, number>();
  points.forEach((p, i) => {
    if (p === undefined) return;
    const first = seen.get(p.name);
    if (first !== undefined) errors.push(`${where[i]}.name: point name "${p.name}" is already used by ${where[first]}`);
    else seen.set(p.name, i);
    const cap = isBitTable(p.table) ? dev.maxBitsPerRead : dev.maxRegistersPerRead;
    if (p.quantity > cap) {
      errors.push(`${where[i]}: the point takes ${p.quantity} registers, more than one read may take (maxRegistersPerRead ${cap})`);
    }
  });
  return errors.length > before ? undefined : (points as PointConfig[]);
}

function validateModbusDevice(
  path: string,
  raw: Record<string, unknown>,
  name: string,
  bus: string,
  ctx: SectionContext | undefined,
  errors: string[],
): ModbusDeviceConfig | undefined {
  checkKeys(path, raw, MODBUS_KEYS, errors);
  const dev: ModbusDeviceConfig = {
    type: 'modbus',
    ...commonOf(path, raw, name, bus, DEFAULT_STATE_TOPIC, errors),
    unitId: opt(path, raw, 'unitId', intRule(0, 255), 1, errors),
    pollIntervalMs: opt(path, raw, 'pollInterval', durationBetween(10, 24 * 3600_000, false), 1000, errors),
    timeoutMs: opt(path, raw, 'timeout', durationBetween(10, 60_000, false), 1000, errors),
    retries: opt(path, raw, 'retries', intRule(0, 10), 1, errors),
    maxRegistersPerRead: opt(path, raw, 'maxRegistersPerRead', intRule(1, 125), 125, errors),
    maxBitsPerRead: opt(path, raw, 'maxBitsPerRead', intRule(1, 2000), 2000, errors),
    addressBase: opt(path, raw, 'addressBase', enumNumber([0, 1] as const), 0, errors),
    byteOrder: opt(path, raw, 'byteOrder', enumRule(BYTE_ORDERS), 'ABCD', errors),
    heartbeatMs: opt(path, raw, 'heartbeat', durationBetween(1000, 24 * 3600_000, true), 60_000, errors),
    publish: opt(path, raw, 'publish', enumRule(PUBLISH_MODES), 'change', errors),
    include: [],
    points: [],
    commands: validateCommands(keyPath(path, 'commands'), raw.commands, name, errors),
  };
  const points = devicePoints(path, raw, dev, ctx, errors);
  if (points === undefined) return undefined;
  dev.points = points;
  return dev;
}

function validateDevice(path: string, raw: unknown, ctx: SectionContext | undefined, errors: string[]): DeviceConfig | undefined {
  if (!isMapping(raw)) {
    errors.push(`${path}: expected a mapping with at least name, bus and points; got ${describe(raw)}`);
    return undefined;
  }
  const before = errors.length;
  const name = has(raw, 'name') ? nameRule(keyPath(path, 'name'), raw.name, errors) : undefined;
  if (!has(raw, 'name')) errors.push(`${keyPath(path, 'name')}: required ({device} in its topics, and its label in metrics)`);
  const bus = has(raw, 'bus') ? nameRule(keyPath(path, 'bus'), raw.bus, errors) : undefined;
  if (!has(raw, 'bus')) errors.push(`${keyPath(path, 'bus')}: required (the name of one of the buses)`);
  const type = opt(path, raw, 'type', enumRule(['modbus', 'line'] as const), 'modbus', errors);
  const dev =
    type === 'line'
      ? validateLineDevice(path, raw, name ?? '', bus ?? '', errors)
      : validateModbusDevice(path, raw, name ?? '', bus ?? '', ctx, errors);
  return errors.length > before ? undefined : dev;
}

/** What spans devices and buses: the bus exists and suits the device, unit ids, topics. */
function checkDevices(path: string, devices: readonly (DeviceConfig | undefined)[], ctx: SectionContext | undefined, errors: string[]): void {
  const buses = new Map((ctx?.config.buses ?? []).map((b) => [b.name, b]));
  const brokenBuses = rawNames(ctx?.raw.buses);
  const lineOn = new Map<string, number>();
  const usersOf = new Map<string, number[]>();
  const noBus = (at: string, name: string): string =>
    `${at}.bus: no bus named "${name}" in buses${buses.size > 0 ? ` (buses: ${[...buses.keys()].join(', ')})` : ''}`;
  const rawList = Array.isArray(ctx?.raw.devices) ? (ctx!.raw.devices as unknown[]) : [];
  devices.forEach((d, i) => {
    const at = `${path}[${i}]`;
    if (d === undefined) {
      // A device with errors of its own still gets its bus checked, so one run shows every problem.
      const item = rawList[i];
      const name = isMapping(item) ? item.bus : undefined;
      if (typeof name === 'string' && !buses.has(name) && !brokenBuses.has(name)) errors.push(noBus(at, name));
      return;
    }
    const bus = buses.get(d.bus);
    if (bus === undefined) {
      // A bus that is in the file but has errors of its own is reported there.
      if (!brokenBuses.has(d.bus)) errors.push(noBus(at, d.bus));
      return;
    }
    usersOf.set(d.bus, [...(usersOf.get(d.bus) ?? []), i]);
    if (d.type === 'line') {
      if (bus.type !== 'serial') errors.push(`${at}.bus: line devices need a serial bus; "${d.bus}" is ${bus.type}`);
      else lineOn.set(d.bus, i);
    } else {
      const [lo, hi] = bus.type === 'tcp' && !bus.rtuOverTcp ? TCP_UNIT_IDS : RTU_UNIT_IDS;
      if (d.unitId < lo || d.unitId > hi) {
        const framing = bus.type === 'tcp' && !bus.rtuOverTcp ? 'Modbus TCP' : 'RTU framing';
        errors.push(`${at}.unitId: must be ${lo}-${hi} with ${framing} (bus "${d.bus}"); got ${d.unitId}`);
      }
    }
  });
  for (const [bus, i] of lineOn) {
    const others = (usersOf.get(bus) ?? []).filter((j) => j !== i);
    if (others.length > 0) {
      errors.push(`${path}[${i}].bus: a line device owns its serial port; bus "${bus}" is also used by ${others.map((j) => `${path}[${j}]`).join(', ')}`);
    }
  }
  const topics = new Map<string, string>();
  devices.forEach((d, i) => {
    if (d === undefined) return;
    // Devices that take commands (writable points) also listen on their command topic and publish receipts.
    const commands = d.type === 'modbus' && d.points.some((p) => p.writable) ? d.commands : undefined;
    const templates: [string, string][] = [
      ['topic', d.topic],
      ['statusTopic', d.statusTopic],
      ...(commands ? ([['commands.topic', commands.topic], ['commands.resultTopic', commands.resultTopic]] as [string, string][]) : []),
      ...(d.type === 'line' ? ([['sendTopic', d.sendTopic ?? 'devices/{device}/send']] as [string, string][]) : []),
    ];
    for (const [key, template] of templates) {
      const topic = template.replaceAll('{device}', d.name);
      const first = topics.get(topic);
      if (first !== undefined) errors.push(`${path}[${i}].${key}: "${topic}" is already published by ${first}`);
      else topics.set(topic, `${path}[${i}].${key}`);
    }
  });
}

export const validateDevices: SectionValidator<DeviceConfig[]> = (path, raw, base, errors, ctx) => {
  if (raw === null || raw === undefined) return [];
  if (!Array.isArray(raw)) {
    errors.push(`${path}: must be a list of devices (each with name, bus and points); got ${describe(raw)}`);
    return base;
  }
  const devices = raw.map((d, i) => validateDevice(`${path}[${i}]`, d, ctx, errors));
  checkUnique(path, devices, 'device', errors);
  checkDevices(path, devices, ctx, errors);
  return devices.filter((d): d is DeviceConfig => d !== undefined);
};
