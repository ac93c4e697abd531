// The `buses:` section (issue 14): one entry per physical line, a serial port (RS-485 or RS-232) or a TCP endpoint
// (Modbus TCP, or RTU frames through a serial-to-Ethernet converter). Devices name their bus (devices.ts).

import type { BusConfig, Rs485Config, SerialBusConfig, TcpBusConfig } from './types.js';
import type { SectionValidator } from './sections.js';
import { PORT_RULE, boolRule, checkKeys, describe, enumRule, intRule, isMapping, keyPath, stringRule } from './rules.js';
import { nameRule, numberRule } from './device-points.js';
import { checkUnique, enumNumber, has, opt } from './device-rules.js';

const BUS_TYPES = ['serial', 'tcp'] as const;
const SERIAL_KEYS = ['name', 'type', 'path', 'baudRate', 'dataBits', 'parity', 'stopBits', 'rs485', 'silentIntervalMs'];
const TCP_KEYS = ['name', 'type', 'host', 'port', 'rtuOverTcp', 'silentIntervalMs'];
const RS485_KEYS = ['rtsOnSend', 'rtsAfterSend', 'rxDuringTx', 'delayRtsBeforeSendMs', 'delayRtsAfterSendMs'];

function rs485Rule(path: string, v: unknown, errors: string[]): Rs485Config | undefined {
  const base: Rs485Config = { rtsOnSend: true, rtsAfterSend: false, rxDuringTx: false, delayRtsBeforeSendMs: 0, delayRtsAfterSendMs: 0 };
  if (v === true) return base;
  if (v === false || v === null) return undefined;
  if (!isMapping(v)) {
    errors.push(`${path}: must be true or a mapping with keys ${RS485_KEYS.join(', ')}; got ${describe(v)}`);
    return undefined;
  }
  checkKeys(path, v, RS485_KEYS, errors);
  return {
    rtsOnSend: opt(path, v, 'rtsOnSend', boolRule, base.rtsOnSend, errors),
    rtsAfterSend: opt(path, v, 'rtsAfterSend', boolRule, base.rtsAfterSend, errors),
    rxDuringTx: opt(path, v, 'rxDuringTx', boolRule, base.rxDuringTx, errors),
    delayRtsBeforeSendMs: opt(path, v, 'delayRtsBeforeSendMs', intRule(0, 1000), 0, errors),
    delayRtsAfterSendMs: opt(path, v, 'delayRtsAfterSendMs', intRule(0, 1000), 0, errors),
  };
}

const silentRule = numberRule(0, 1000);

function validateBus(path: string, raw: unknown, errors: string[]): BusConfig | undefined {
  if (!isMapping(raw)) {
    errors.push(`${path}: expected a mapping with at least name and type; got ${describe(raw)}`);
    return undefined;
  }
  const before = errors.length;
  const name = has(raw, 'name') ? nameRule(keyPath(path, 'name'), raw.name, errors) : undefined;
  if (!has(raw, 'name')) errors.push(`${keyPath(path, 'name')}: required (devices name their bus)`);
  const type = has(raw, 'type') ? enumRule(BUS_TYPES)(keyPath(path, 'type'), raw.type, errors) : undefined;
  if (!has(raw, 'type')) errors.push(`${keyPath(path, 'type')}: required (serial or tcp)`);
  if (type === undefined) return undefined;
  checkKeys(path, raw, type === 'serial' ? SERIAL_KEYS : TCP_KEYS, errors);
  const silentIntervalMs = has(raw, 'silentIntervalMs') ? silentRule(keyPath(path, 'silentIntervalMs'), raw.silentIntervalMs, errors) : undefined;

  let bus: SerialBusConfig | TcpBusConfig;
  if (type === 'serial') {
    const p = has(raw, 'path') ? stringRule('a serial device such as /dev/ttyUSB0')(keyPath(path, 'path'), raw.path, errors) : undefined;
    if (!has(raw, 'path')) errors.push(`${keyPath(path, 'path')}: required for serial buses (such as /dev/ttyUSB0)`);
    bus = {
      name: name ?? '',
      type,
      path: p ?? '',
      baudRate: opt(path, raw, 'baudRate', intRule(300, 4_000_000), 9600, errors),
      dataBits: opt(path, raw, 'dataBits', enumNumber([7, 8] as const), 8, errors),
      parity: opt(path, raw, 'parity', enumRule(['none', 'even', 'odd'] as const), 'none', errors),
      stopBits: opt(path, raw, 'stopBits', enumNumber([1, 2] as const), 1, errors),
      rs485: has(raw, 'rs485') ? rs485Rule(keyPath(path, 'rs485'), raw.rs485, errors) : undefined,
      silentIntervalMs,
    };
  } else {
    const host = has(raw, 'host') ? stringRule('a host name or address')(keyPath(path, 'host'), raw.host, errors) : undefined;
    if (!has(raw, 'host')) errors.push(`${keyPath(path, 'host')}: required for tcp buses (the device or converter)`);
    const rtuOverTcp = opt(path, raw, 'rtuOverTcp', boolRule, false, errors);
    if (silentIntervalMs !== undefined && !rtuOverTcp) {
      errors.push(`${keyPath(path, 'silentIntervalMs')}: only for serial buses and tcp buses with rtuOverTcp: true`);
    }
    bus = { name: name ?? '', type, host: host ?? '', port: opt(path, raw, 'port', PORT_RULE, 502, errors), rtuOverTcp, silentIntervalMs };
  }
  return errors.length > before ? undefined : bus;
}

export const validateBuses: SectionValidator<BusConfig[]> = (path, raw, base, errors) => {
  if (raw === null || raw === undefined) return [];
  if (!Array.isArray(raw)) {
    errors.push(`${path}: must be a list of buses (each with name and type: serial or tcp); got ${describe(raw)}`);
    return base;
  }
  const buses = raw.map((b, i) => validateBus(`${path}[${i}]`, b, errors));
  checkUnique(path, buses, 'bus', errors);
  return buses.filter((b): b is BusConfig => b !== undefined);
};
