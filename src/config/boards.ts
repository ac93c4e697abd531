// Board profiles (boards/<name>.json): per-board defaults for limits that depend on the hardware (RAM, flash).
// A profile is applied under the configuration file: the file's own keys win, key by key. Its `node` section sizes
// the V8 heap of the process (`wharf start` applies it to itself, src/cli/node-flags.ts): not configuration keys.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { checkKeys, describe, intRule, isMapping } from './rules.js';

/** boards/ at the package root (this file runs from dist/src/config/). */
export const BOARDS_DIR = fileURLToPath(new URL('../../../boards/', import.meta.url));

export interface BoardProfile {
  name: string;
  description: string;
  /** Partial configuration, same shape as the YAML file (without listeners). */
  config: Record<string, unknown>;
  /** V8 heap sizing for the board's RAM; empty when the profile has no `node` section. */
  node: NodeSettings;
  /** Start of the device tree's model string (/proc/device-tree/model) of the board: `wharf doctor` recognises it. */
  deviceTreeModel?: string;
  /** The board's own serial ports (UARTs on the header; USB adapters come and go), for `wharf doctor` and `wharf boards`. */
  serialPorts: string[];
  /**
   * Recommended storage.commitIntervalMs per kind of storage the board boots or stores on (sd, emmc, nvme, usb,
   * ssd): slower flash gets a longer window, so more messages share one fsync (fewer erase cycles).
   */
  commitWindowMs: Record<string, number>;
}

/**
 * V8 heap sizing (node's --max-old-space-size and --max-semi-space-size, in MiB). The old space bounds the live
 * heap (a limit, not a reservation: V8 collects harder near it); the semi-space bounds the young generation, which
 * otherwise grows to 16 MiB per semi-space (about 48 MiB resident) under load and stays that size.
 */
export interface NodeSettings {
  maxOldSpaceMb?: number;
  maxSemiSpaceMb?: number;
}

/** The node flag of each setting, and the values a profile may give (below 64 MiB old space V8 may die of a burst). */
export const NODE_SETTINGS = {
  maxOldSpaceMb: { flag: '--max-old-space-size', rule: intRule(64, 65536) },
  maxSemiSpaceMb: { flag: '--max-semi-space-size', rule: intRule(1, 128) },
} as const;

/** Validates a profile's `node` section; errors under `board: profile <name> node.<key>`. */
function validateNodeSettings(name: string, raw: unknown, errors: string[]): NodeSettings | undefined {
  if (raw === undefined) return {};
  const path = `board: profile ${name} node`;
  if (!isMapping(raw)) {
    errors.push(`${path}: expected a mapping with keys ${Object.keys(NODE_SETTINGS).join(', ')}; got ${describe(raw)}`);
    return undefined;
  }
  const before = errors.length;
  checkKeys(path, raw, Object.keys(NODE_SETTINGS), errors);
  const settings: NodeSettings = {};
  for (const key of Object.keys(NODE_SETTINGS) as (keyof NodeSettings)[]) {
    if (raw[key] === undefined) continue;
    const v = NODE_SETTINGS[key].rule(`${path}.${key}`, raw[key], errors);
    if (v !== undefined) settings[key] = v;
  }
  return errors.length > before ? undefined : settings;
}

/** The node flags of `settings`, e.g. ['--max-old-space-size=128', '--max-semi-space-size=2']. */
export function nodeFlagsOf(settings: NodeSettings): string[] {
  return (Object.keys(NODE_SETTINGS) as (keyof NodeSettings)[])
    .filter((k) => settings[k] !== undefined)
    .map((k) => `${NODE_SETTINGS[k].flag}=${settings[k]}`);
}

/** The optional keys beside description and config; a wrong type is an error under `board`. */
function boardExtras(name: string, parsed: Record<string, unknown>, errors: string[]): Pick<BoardProfile, 'deviceTreeModel' | 'serialPorts' | 'commitWindowMs'> | undefined {
  const { deviceTreeModel, serialPorts = [], commitWindowMs = {} } = parsed;
  if (deviceTreeModel !== undefined && typeof deviceTreeModel !== 'string') errors.push(`board: profile ${name}: deviceTreeModel must be a string`);
  else if (!Array.isArray(serialPorts) || !serialPorts.every((p) => typeof p === 'string')) errors.push(`board: profile ${name}: serialPorts must be a list of device paths`);
  else if (!isMapping(commitWindowMs) || !Object.values(commitWindowMs).every((v) => Number.isInteger(v) && (v as number) >= 0)) errors.push(`board: profile ${name}: commitWindowMs must map storage kinds to milliseconds`);
  else return { deviceTreeModel, serialPorts: serialPorts as string[], commitWindowMs: commitWindowMs as Record<string, number> };
  return undefined;
}

export function listBoards(dir = BOARDS_DIR): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -5))
    .sort();
}

/** Loads a profile by name; problems are pushed to `errors` under the key path `board`. */
export function loadBoard(name: unknown, errors: string[], dir = BOARDS_DIR): BoardProfile | undefined {
  const known = listBoards(dir);
  if (typeof name !== 'string' || !known.includes(name)) {
    errors.push(`board: expected one of ${known.join(', ')}; got ${describe(name)}`);
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8'));
  } catch (err) {
    errors.push(`board: profile ${name} is unreadable: ${(err as Error).message}`);
    return undefined;
  }
  if (!isMapping(parsed) || !isMapping(parsed.config) || typeof parsed.description !== 'string') {
    errors.push(`board: profile ${name} must be {"description": string, "config": {...}, "node": {...} (optional)}`);
    return undefined;
  }
  if ('listeners' in parsed.config) {
    errors.push(`board: profile ${name} must not set listeners`);
    return undefined;
  }
  const node = validateNodeSettings(name, parsed.node, errors);
  const extras = boardExtras(name, parsed, errors);
  if (node === undefined || extras === undefined) return undefined;
  return { name, description: parsed.description, config: parsed.config, node, ...extras };
}

/** The profile's sections with the file's sections laid over them, key by key within each section. */
export function overlayProfile(profile: BoardProfile, file: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...profile.config };
  for (const [key, value] of Object.entries(file)) {
    const base = merged[key];
    merged[key] = isMapping(base) && isMapping(value) ? { ...base, ...value } : value;
  }
  return merged;
}
