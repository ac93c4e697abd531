// Validates a parsed configuration file (the object YAML produced) into a complete WharfConfig.
//
// Starts from defaultConfig() and applies each section that is present; sections and keys that
// are absent keep their defaults (except `listeners`, which replaces the default list as a whole).
// All errors are collected, each as `key.path: message`, so one run shows everything to fix.
//
// Byte-size settings (mqtt.maxPacketSize, storage.*Bytes, queues maxBytes) also accept size strings:
// "256KiB", "1MiB" (binary, 1024-based), "512kb", "1MB" (decimal, 1000-based), "4096B";
// units are case-insensitive. See SIZE_UNITS in rules.ts. Durations (queues: retention,
// redeliveryDelay, ackTimeout) are strings such as "500ms", "30s", "15m", "2h", "7d", or 0; see parseDuration.
//
// To add a top-level section: add it to WharfConfig and defaultConfig() in types.ts, write its
// validator in sections.ts (usually a RuleTable plus validateSection), and add one line to
// SECTIONS below. The compiler insists on the last step once the type has the new field.

import { defaultConfig, type WharfConfig } from './types.js';
import { checkKeys, describe, isMapping } from './rules.js';
import { validateListeners, validateLog, validateMqtt, validateStorage, type SectionContext, type SectionValidator } from './sections.js';
import { validateBuses } from './device-buses.js';
import { validateDevices } from './devices.js';
import { validateQueues } from './queues.js';
import { validateAdmin, validateMetrics, validateSys } from './monitoring.js';
import { validateBridges } from './bridges.js';
import { loadBoard, overlayProfile } from './boards.js';
import { validateAuth } from './auth.js';

export type ValidationResult = { config: WharfConfig } | { errors: string[] };

type SectionTable = { [K in keyof WharfConfig]: SectionValidator<WharfConfig[K]> };

/** One validator per top-level section, in the order sections are listed in messages. */
export const SECTIONS: SectionTable = {
  listeners: validateListeners,
  storage: validateStorage,
  mqtt: validateMqtt,
  log: validateLog,
  queues: validateQueues,
  admin: validateAdmin,
  sys: validateSys,
  metrics: validateMetrics,
  // Buses before devices: a device's `bus` is checked against the validated buses.
  buses: validateBuses,
  devices: validateDevices,
  auth: validateAuth,
  bridges: validateBridges,
};

export const TOP_LEVEL_KEYS = Object.keys(SECTIONS) as (keyof WharfConfig)[];

/** `board: <name>` picks a profile from boards/ whose values sit under the file's own. */
const BOARD_KEY = 'board';

function applySection<K extends keyof WharfConfig>(
  config: WharfConfig,
  key: K,
  raw: Record<string, unknown>,
  errors: string[],
  ctx: SectionContext,
): void {
  if (!Object.prototype.hasOwnProperty.call(raw, key)) return;
  const validator: SectionTable[K] = SECTIONS[key];
  config[key] = validator(key, raw[key], config[key], errors, ctx);
}

/**
 * Validates the parsed YAML of a configuration file. `raw` may be null or undefined (no file,
 * or a file with only comments): the result is then the embedded default.
 */
export interface ValidateOptions {
  /** Folder that relative paths in the file (devices' `include:`) are relative to; the working directory by default. */
  baseDir?: string;
}

export function validateConfig(raw: unknown, opts: ValidateOptions = {}): ValidationResult {
  const config = defaultConfig();
  if (raw === null || raw === undefined) return { config };
  const errors: string[] = [];
  if (!isMapping(raw)) {
    errors.push(`(top level): expected a mapping with keys ${TOP_LEVEL_KEYS.join(', ')}; got ${describe(raw)}`);
    return { errors };
  }
  checkKeys('', raw, [BOARD_KEY, ...TOP_LEVEL_KEYS], errors);
  let sections: Record<string, unknown> = raw;
  if (Object.prototype.hasOwnProperty.call(raw, BOARD_KEY)) {
    const { [BOARD_KEY]: name, ...rest } = raw;
    const profile = loadBoard(name, errors);
    if (profile === undefined) return { errors };
    sections = overlayProfile(profile, rest);
  }
  const ctx: SectionContext = { baseDir: opts.baseDir ?? process.cwd(), config, raw: sections };
  for (const key of TOP_LEVEL_KEYS) applySection(config, key, sections, errors, ctx);
  return errors.length > 0 ? { errors } : { config };
}
