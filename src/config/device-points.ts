// Validation of one Modbus point (`devices[i].points[j]`, or a point of an included map) into a ResolvedPoint:
// its table, type, wire address after `addressBase`, byte order, scaling, deadband, and issue 15's write bounds.

import type { ByteOrder, PointConfig, PointTable, PointType, PublishMode } from './types.js';
import { boolRule, checkKeys, describe, enumRule, intRule, isMapping, keyPath, type Rule } from './rules.js';

export const POINT_TABLES: readonly PointTable[] = ['coil', 'discrete_input', 'holding_register', 'input_register'];
export const POINT_TYPES: readonly PointType[] = [
  'bool',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'float32',
  'int64',
  'uint64',
  'float64',
  'string',
];
export const BYTE_ORDERS: readonly ByteOrder[] = ['ABCD', 'CDAB', 'BADC', 'DCBA'];
/** Neuron's 8-byte names ("each digit one byte") and the 32-bit name that applies the same swaps to four words. */
export const BYTE_ORDERS_64: ReadonlyMap<string, ByteOrder> = new Map([
  ['12345678', 'ABCD'],
  ['78563412', 'CDAB'],
  ['21436587', 'BADC'],
  ['87654321', 'DCBA'],
]);
export const PUBLISH_MODES: readonly PublishMode[] = ['change', 'always'];
export const POINT_KEYS = [
  'name',
  'table',
  'address',
  'type',
  'length',
  'bit',
  'byteOrder',
  'scale',
  'offset',
  'unit',
  'deadband',
  'publish',
  'writable',
  'min',
  'max',
  'allowed',
] as const;

/** Longest string point: one read of 125 registers. */
export const MAX_STRING_BYTES = 250;

/** Device, bus and point names: topic levels, metric labels and URL path segments, so plain characters only. */
export const NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
export const NAME_TEXT = '1-64 letters, digits, "_", "-" or "."';

export const nameRule: Rule<string> = (path, v, errors) => {
  if (typeof v === 'string' && NAME_PATTERN.test(v)) return v;
  errors.push(`${path}: must be a name of ${NAME_TEXT}; got ${describe(v)}`);
  return undefined;
};

/** A finite number min..max (fractions allowed). */
export function numberRule(min: number, max: number): Rule<number> {
  return (path, v, errors) => {
    if (typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max) return v;
    errors.push(`${path}: must be a number ${min}-${max}; got ${describe(v)}`);
    return undefined;
  };
}

const finiteRule: Rule<number> = (path, v, errors) => {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  errors.push(`${path}: must be a number; got ${describe(v)}`);
  return undefined;
};

export function isBitTable(table: PointTable): boolean {
  return table === 'coil' || table === 'discrete_input';
}

export function isNumericType(type: PointType): boolean {
  return type !== 'bool' && type !== 'string';
}

/** Registers a value of `type` takes (string: its byte length, two bytes per register). */
export function registersOf(type: PointType, length = 0): number {
  switch (type) {
    case 'bool':
    case 'int16':
    case 'uint16':
      return 1;
    case 'int32':
    case 'uint32':
    case 'float32':
      return 2;
    case 'int64':
    case 'uint64':
    case 'float64':
      return 4;
    case 'string':
      return Math.ceil(length / 2);
  }
}

// ---- Addresses ---------------------------------------------------------------------------------

/** The leading digit of a table's Modicon reference: 0xxxx coils, 1xxxx inputs, 3xxxx input and 4xxxx holding registers. */
const MODICON_PREFIX: Readonly<Record<PointTable, number>> = { coil: 0, discrete_input: 1, input_register: 3, holding_register: 4 };

/**
 * The address on the wire of a point written as `address` under `addressBase`.
 * - addressBase 0: the address is the wire address, 0-65535.
 * - addressBase 1: the address is 1-based (1 is wire 0), except where it reads as a Modicon reference of the
 *   point's own table: 5 digits (40001-49999 for holding registers, 30001-39999 input registers, 10001-19999
 *   discrete inputs) or 6 digits (400001-465536, ...): the leading digit names the table and is dropped, the
 *   rest is 1-based, so 40001 and 400001 are wire 0 and 30343 is wire 342. Coils (prefix 0) are plain 1-based.
 *   A 1-based map numbering holding registers above 40000 without the prefix must use addressBase 0.
 * Returns a problem text when the address fits neither form.
 */
export function wireAddress(address: number, table: PointTable, addressBase: 0 | 1): number | string {
  if (addressBase === 0) {
    if (address >= 0 && address <= 65535) return address;
    return 'must be an integer 0-65535 (the address on the wire, addressBase 0)';
  }
  const p = MODICON_PREFIX[table];
  if (p > 0) {
    if (address >= p * 10000 + 1 && address <= p * 10000 + 9999) return address - p * 10000 - 1;
    if (address >= p * 100000 + 1 && address <= p * 100000 + 65536) return address - p * 100000 - 1;
  }
  if (address >= 1 && address <= 65536) return address - 1;
  const ref = p > 0 ? `, or a reference of this table (${p}0001-${p}9999, ${p}00001-${p}65536)` : '';
  return `must be an integer 1-65536 (1-based, addressBase 1)${ref}`;
}

// ---- Points ------------------------------------------------------------------------------------

export interface PointDefaults {
  addressBase: 0 | 1;
  byteOrder: ByteOrder;
}

function has(raw: Record<string, unknown>, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(raw, key) && raw[key] !== undefined;
}

function byteOrderOf(path: string, v: unknown, type: PointType, errors: string[]): ByteOrder | undefined {
  const text = typeof v === 'number' ? String(v) : v;
  if (typeof text === 'string' && (BYTE_ORDERS as readonly string[]).includes(text)) return text as ByteOrder;
  const wide = type === 'int64' || type === 'uint64' || type === 'float64';
  const named = wide && typeof text === 'string' ? BYTE_ORDERS_64.get(text) : undefined;
  if (named !== undefined) return named;
  const allowed = wide ? [...BYTE_ORDERS, ...BYTE_ORDERS_64.keys()] : BYTE_ORDERS;
  errors.push(`${path}: expected one of ${allowed.join(', ')}; got ${describe(v)}`);
  return undefined;
}

/** Keys that only make sense for some points: the error says for which. */
function only(path: string, raw: Record<string, unknown>, key: string, ok: boolean, what: string, errors: string[]): boolean {
  if (!has(raw, key) || ok) return has(raw, key);
  errors.push(`${keyPath(path, key)}: only for ${what}`);
  return false;
}

function allowedRule(path: string, v: unknown, type: PointType, errors: string[]): PointConfig['allowed'] {
  const kind = type === 'bool' ? 'boolean' : type === 'string' ? 'string' : 'number';
  if (!Array.isArray(v) || v.length === 0) {
    errors.push(`${path}: must be a non-empty list of ${kind} values; got ${describe(v)}`);
    return undefined;
  }
  const bad = v.findIndex((x) => typeof x !== kind);
  if (bad >= 0) {
    errors.push(`${path}[${bad}]: must be a ${kind} (the point is ${type}); got ${describe(v[bad])}`);
    return undefined;
  }
  return [...(v as (number | boolean | string)[])];
}

/**
 * Validates one point mapping. `defaults` are the byte order and address base of where the point is written
 * (the device, or the included map). Errors go under `path`; returns undefined if there were any.
 */
export function validatePoint(path: string, raw: unknown, defaults: PointDefaults, errors: string[]): PointConfig | undefined {
  if (!isMapping(raw)) {
    errors.push(`${path}: expected a mapping with at least name, table and address; got ${describe(raw)}`);
    return undefined;
  }
  const before = errors.length;
  checkKeys(path, raw, POINT_KEYS, errors);
  const at = (k: string): string => keyPath(path, k);
  const required = (k: string, what: string): boolean => {
    if (has(raw, k)) return true;
    errors.push(`${at(k)}: required (${what})`);
    return false;
  };

  const name = required('name', 'the key of the value in the published document') ? nameRule(at('name'), raw.name, errors) : undefined;
  const table = required('table', POINT_TABLES.join(', ')) ? enumRule(POINT_TABLES)(at('table'), raw.table, errors) : undefined;
  if (table === undefined) return undefined;
  const bits = isBitTable(table);

  let type: PointType | undefined = bits ? 'bool' : undefined;
  if (has(raw, 'type')) {
    type = enumRule(POINT_TYPES)(at('type'), raw.type, errors);
    if (type !== undefined && bits && type !== 'bool') {
      errors.push(`${at('type')}: ${table} points are bool; got ${describe(raw.type)}`);
      type = undefined;
    }
  } else if (!bits) errors.push(`${at('type')}: required for ${table} points (one of ${POINT_TYPES.join(', ')})`);
  if (type === undefined) return undefined;
  const numeric = isNumericType(type);

  let length: number | undefined;
  if (only(path, raw, 'length', type === 'string', 'string points (their length in bytes)', errors)) {
    length = intRule(1, MAX_STRING_BYTES)(at('length'), raw.length, errors);
  } else if (type === 'string') errors.push(`${at('length')}: required for string points (bytes, 1-${MAX_STRING_BYTES})`);

  let bit: number | undefined;
  const registerBool = type === 'bool' && !bits;
  if (only(path, raw, 'bit', registerBool, 'bool points on register tables (the bit of the register, 0-15)', errors)) {
    bit = intRule(0, 15)(at('bit'), raw.bit, errors);
  } else if (registerBool) errors.push(`${at('bit')}: required for a bool on a ${table} (which bit, 0-15, 0 = least significant)`);

  let byteOrder = defaults.byteOrder;
  if (only(path, raw, 'byteOrder', !bits, 'register points', errors)) {
    byteOrder = byteOrderOf(at('byteOrder'), raw.byteOrder, type, errors) ?? byteOrder;
  }

  const numericOnly = `numeric points (not ${type})`;
  const scale = only(path, raw, 'scale', numeric, numericOnly, errors) ? finiteRule(at('scale'), raw.scale, errors) : 1;
  if (scale === 0) errors.push(`${at('scale')}: must not be 0 (a written value is divided by it)`);
  const offset = only(path, raw, 'offset', numeric, numericOnly, errors) ? finiteRule(at('offset'), raw.offset, errors) : 0;
  const deadband = only(path, raw, 'deadband', numeric, numericOnly, errors)
    ? numberRule(0, Number.MAX_VALUE)(at('deadband'), raw.deadband, errors)
    : 0;
  let unit: string | undefined;
  if (has(raw, 'unit')) {
    if (typeof raw.unit === 'string') unit = raw.unit;
    else errors.push(`${at('unit')}: must be a string such as "V" or "kWh"; got ${describe(raw.unit)}`);
  }
  const publish = has(raw, 'publish') ? enumRule(PUBLISH_MODES)(at('publish'), raw.publish, errors) : undefined;

  const canWrite = table === 'coil' || table === 'holding_register';
  const writable = only(path, raw, 'writable', canWrite, 'coil and holding_register points', errors)
    ? boolRule(at('writable'), raw.writable, errors)
    : false;
  const min = only(path, raw, 'min', numeric, numericOnly, errors) ? finiteRule(at('min'), raw.min, errors) : undefined;
  const max = only(path, raw, 'max', numeric, numericOnly, errors) ? finiteRule(at('max'), raw.max, errors) : undefined;
  if (min !== undefined && max !== undefined && min > max) errors.push(`${at('min')}: ${min} is above max (${max})`);
  const allowed = has(raw, 'allowed') ? allowedRule(at('allowed'), raw.allowed, type, errors) : undefined;

  let address: number | undefined;
  if (required('address', 'the register or bit number')) {
    if (typeof raw.address !== 'number' || !Number.isInteger(raw.address)) {
      errors.push(`${at('address')}: must be an integer; got ${describe(raw.address)}`);
    } else {
      const wire = wireAddress(raw.address, table, defaults.addressBase);
      if (typeof wire === 'string') errors.push(`${at('address')}: ${wire}; got ${raw.address}`);
      else address = wire;
    }
  }
  const quantity = bits ? 1 : registersOf(type, length ?? 0);
  if (address !== undefined && address + quantity - 1 > 65535) {
    errors.push(
      `${at('address')}: the point covers wire addresses ${address}-${address + quantity - 1}, past the last one (65535)`,
    );
  }

  if (errors.length > before || name === undefined || address === undefined) return undefined;
  return {
    name,
    table,
    address,
    type,
    quantity,
    length,
    bit,
    byteOrder,
    scale: scale ?? 1,
    offset: offset ?? 0,
    unit,
    deadband: deadband ?? 0,
    publish,
    writable: writable ?? false,
    min,
    max,
    allowed,
  };
}
