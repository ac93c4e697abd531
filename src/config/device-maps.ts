// Point maps a device can `include`: a YAML file of points for one kind of device (a meter, an inverter), by path
// relative to the configuration file, or one of the built-in maps in src/devices/maps/ by name (`eastron-sdm630`).
//
// A map file: { description?, addressBase?: 0|1, byteOrder?, maxRegistersPerRead?, points: [...] }. Its
// addressBase and byteOrder apply to its own points (a map is written the way its device's manual numbers the
// registers, whatever the including device uses); maxRegistersPerRead is the device's own limit on one read
// (the SDM630 answers at most 80 registers) and lowers the including device's cap.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isAbsolute, join, resolve } from 'node:path';
import { parseYaml } from './yaml-parse.js';
import type { ByteOrder } from './types.js';
import { describe, enumRule, intRule, isMapping } from './rules.js';
import { BYTE_ORDERS } from './device-points.js';

/**
 * The built-in maps: src/devices/maps/ beside this file's src/config/. tsc does not copy YAML, so `npm run build`
 * copies the folder to dist/src/devices/maps/, and the same relative URL works from src and from dist.
 */
export const MAPS_DIR = fileURLToPath(new URL('../devices/maps/', import.meta.url));

const MAP_KEYS = ['description', 'addressBase', 'byteOrder', 'maxRegistersPerRead', 'points'];

export interface PointMap {
  /** The file the map was read from. */
  file: string;
  addressBase: 0 | 1;
  byteOrder: ByteOrder | undefined;
  maxRegistersPerRead: number | undefined;
  /** The points as written; devices.ts validates them with the map's addressBase and byteOrder. */
  points: unknown[];
}

export function listBuiltinMaps(dir = MAPS_DIR): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -5))
    .sort();
}

/** A plain name (no "/", no extension) is a built-in map; anything else is a path. */
function isBuiltinName(ref: string): boolean {
  return /^[A-Za-z0-9_-]+$/.test(ref);
}

/** Where `ref` points: the built-in map's file, or the path resolved against `baseDir` (the config file's folder). */
export function mapFile(ref: string, baseDir: string, dir = MAPS_DIR): string {
  if (isBuiltinName(ref)) return join(dir, `${ref}.yaml`);
  return isAbsolute(ref) ? ref : resolve(baseDir, ref);
}

/**
 * Reads the map `ref` names. `path` is the key path of the include entry (`devices[0].include[1]`); errors about
 * the map's own keys are reported as `devices[0].include[1] → FILE: byteOrder: ...`.
 */
export function loadPointMap(path: string, ref: unknown, baseDir: string, errors: string[], dir = MAPS_DIR): PointMap | undefined {
  if (typeof ref !== 'string' || ref === '') {
    errors.push(`${path}: must be a built-in map name (${listBuiltinMaps(dir).join(', ')}) or a YAML file path; got ${describe(ref)}`);
    return undefined;
  }
  const file = mapFile(ref, baseDir, dir);
  if (isBuiltinName(ref) && !existsSync(file)) {
    errors.push(`${path}: no built-in map named "${ref}" (built-in: ${listBuiltinMaps(dir).join(', ') || 'none'}); a file needs a path such as ./${ref}.yaml`);
    return undefined;
  }
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : (err as Error).message.split('\n')[0];
    errors.push(`${path}: cannot read point map ${file}: ${why}`);
    return undefined;
  }
  const at = `${path} → ${file}:`;
  if (!isMapping(raw) || !Array.isArray(raw.points)) {
    errors.push(`${at} (top level): expected a mapping with a points list; got ${describe(raw)}`);
    return undefined;
  }
  const before = errors.length;
  for (const key of Object.keys(raw)) {
    if (!MAP_KEYS.includes(key)) errors.push(`${at} ${key}: unknown key (allowed: ${MAP_KEYS.join(', ')})`);
  }
  const addressBase = raw.addressBase === undefined ? 0 : intRule(0, 1)(`${at} addressBase`, raw.addressBase, errors);
  const byteOrder = raw.byteOrder === undefined ? undefined : enumRule(BYTE_ORDERS)(`${at} byteOrder`, raw.byteOrder, errors);
  const maxRegistersPerRead =
    raw.maxRegistersPerRead === undefined ? undefined : intRule(1, 125)(`${at} maxRegistersPerRead`, raw.maxRegistersPerRead, errors);
  if (errors.length > before) return undefined;
  return { file, addressBase: addressBase as 0 | 1, byteOrder, maxRegistersPerRead, points: raw.points };
}
