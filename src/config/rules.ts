// Building blocks for configuration validation: value rules (integer ranges, enums, sizes, ...),
// the wording of their error messages, and a helper that validates one mapping section against a
// table of rules. Every error is a string `key.path: message`; validators push onto an array so
// that all errors are collected, not just the first.

/** Checks one value. Returns the accepted (possibly converted) value, or undefined after pushing an error. */
export type Rule<T> = (path: string, value: unknown, errors: string[]) => T | undefined;

/** One rule per key of T: adding a key to T without a rule is a compile error. */
export type RuleTable<T> = { [K in keyof T]-?: Rule<T[K]> };

export function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `mqtt` + `maxPacketSize` → `mqtt.maxPacketSize`; the top level has the empty path. */
export function keyPath(parent: string, key: string): string {
  return parent === '' ? key : `${parent}.${key}`;
}

/** How a rejected value is shown after "got": strings quoted, containers named, long text cut. */
export function describe(v: unknown): string {
  if (v === null || v === undefined) return 'an empty value';
  if (typeof v === 'string') {
    const s = v.length > 60 ? `${v.slice(0, 57)}...` : v;
    return JSON.stringify(s);
  }
  if (Array.isArray(v)) return v.length === 0 ? 'an empty list' : 'a list';
  if (typeof v === 'object') return 'a mapping';
  return String(v);
}

export function intRule(min: number, max: number): Rule<number> {
  return (path, v, errors) => {
    if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) return v;
    errors.push(`${path}: must be an integer ${min}-${max}; got ${describe(v)}`);
    return undefined;
  };
}

export const boolRule: Rule<boolean> = (path, v, errors) => {
  if (typeof v === 'boolean') return v;
  errors.push(`${path}: must be true or false; got ${describe(v)}`);
  return undefined;
};

export function enumRule<T extends string>(allowed: readonly T[]): Rule<T> {
  return (path, v, errors) => {
    if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
    errors.push(`${path}: expected one of ${allowed.join(', ')}; got ${describe(v)}`);
    return undefined;
  };
}

/** A non-empty string; with `prefix`, it must also start with that prefix. */
export function stringRule(what: string, prefix?: string): Rule<string> {
  return (path, v, errors) => {
    if (typeof v === 'string' && v !== '' && (prefix === undefined || v.startsWith(prefix))) return v;
    const need = prefix === undefined ? `a non-empty string (${what})` : `a string starting with "${prefix}" (${what})`;
    errors.push(`${path}: must be ${need}; got ${describe(v)}`);
    return undefined;
  };
}

export const PORT_RULE: Rule<number> = intRule(1, 65535);

// ---- Human-readable sizes -------------------------------------------------------------------

/**
 * Byte multipliers of the units accepted in size strings, case-insensitive.
 * Decimal (SI) units are powers of 1000, binary (IEC) units powers of 1024:
 * "512kb" = 512000 bytes, "256KiB" = 262144 bytes, "1MiB" = 1048576 bytes.
 */
export const SIZE_UNITS: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1000,
  kib: 1024,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

/**
 * Parses "256KiB", "1.5 MiB", "512kb", "4096" or "4096B" into a number of bytes.
 * Returns undefined if the text is not a size or does not come to a whole number of bytes.
 */
export function parseSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!m) return undefined;
  const unit = m[2]!.toLowerCase();
  const mult = unit === '' ? 1 : SIZE_UNITS[unit];
  if (mult === undefined) return undefined;
  const bytes = Number(m[1]) * mult;
  // Round away floating-point noise ("1.1kb"), but reject genuine fractions of a byte ("0.1KiB").
  const rounded = Math.round(bytes);
  return Math.abs(bytes - rounded) < 1e-6 && Number.isSafeInteger(rounded) ? rounded : undefined;
}

/** A byte count: an integer, or a size string (see SIZE_UNITS), within min..max bytes. */
export function bytesRule(min: number, max: number): Rule<number> {
  return (path, v, errors) => {
    const bytes = typeof v === 'string' ? parseSize(v) : v;
    if (typeof bytes === 'number' && Number.isInteger(bytes) && bytes >= min && bytes <= max) return bytes;
    const shown = typeof v === 'string' && bytes !== undefined ? `${describe(v)} (${bytes} bytes)` : describe(v);
    errors.push(
      `${path}: must be ${min}-${max} bytes, as an integer or a size like "256KiB", "1MiB", "512kb"; got ${shown}`,
    );
    return undefined;
  };
}

// ---- Durations --------------------------------------------------------------------------------

/** Milliseconds per unit accepted in duration strings; units are lowercase ("m" is minutes). */
export const DURATION_UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60 * 1000,
  h: 60 * 60 * 1000,
  d: 24 * 60 * 60 * 1000,
};

/**
 * Parses "500ms", "30s", "15m", "2h", "7d", "1.5h" into milliseconds; "0" (no unit) is 0.
 * Returns undefined for anything else, including other unitless numbers (is "30" seconds or
 * milliseconds?) and values that do not come to a whole number of milliseconds ("0.5ms").
 */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]);
  if (m[2] === undefined) return n === 0 ? 0 : undefined;
  const ms = n * DURATION_UNITS[m[2]]!;
  const rounded = Math.round(ms);
  return Math.abs(ms - rounded) < 1e-6 && Number.isSafeInteger(rounded) ? rounded : undefined;
}

/** Milliseconds in the largest unit that divides them exactly: 604800000 → "7d", 1500 → "1500ms". */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = DURATION_UNITS[unit]!;
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/**
 * A duration 0..maxMs, as a string such as "30s" (see DURATION_UNITS) or the number 0; converted
 * to milliseconds. `zero` says what 0 means for this setting ("forever", "off"), for the message.
 */
export function durationRule(maxMs: number, zero: string): Rule<number> {
  return (path, v, errors) => {
    const ms = typeof v === 'string' ? parseDuration(v) : v === 0 ? 0 : undefined;
    if (ms !== undefined && ms <= maxMs) return ms;
    let shown = describe(v);
    if (ms !== undefined) shown += ` (${ms} ms)`;
    else if (typeof v === 'number' || (typeof v === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(v))) {
      shown += ' (a unit is required: ms, s, m, h or d)';
    }
    errors.push(
      `${path}: must be a duration up to ${formatDuration(maxMs)} such as "500ms", "30s", "15m", "2h", "7d", ` +
        `or 0 (${zero}); got ${shown}`,
    );
    return undefined;
  };
}

/**
 * Parses an integer given as text (environment variable, command-line flag). Text that is not
 * plain decimal digits is returned unchanged, so that the rule applied next reports it as given.
 */
export function intFromText(text: string): number | string {
  const t = text.trim();
  return /^\d+$/.test(t) ? Number(t) : text;
}

// ---- Mapping sections ------------------------------------------------------------------------

/** Pushes an error for each key of `raw` that is not in `allowed`. */
export function checkKeys(path: string, raw: Record<string, unknown>, allowed: readonly string[], errors: string[]): void {
  for (const key of Object.keys(raw)) {
    if (!allowed.includes(key)) errors.push(`${keyPath(path, key)}: unknown key (allowed: ${allowed.join(', ')})`);
  }
}

/**
 * Validates a mapping section against its rule table: unknown keys are errors, keys that are
 * absent keep their value from `base`. An empty section (`mqtt:` with nothing under it) keeps
 * all of `base`. Returns a new object; `base` is not modified.
 */
export function validateSection<T extends object>(
  path: string,
  raw: unknown,
  base: T,
  rules: RuleTable<T>,
  errors: string[],
): T {
  const out = { ...base };
  if (raw === null || raw === undefined) return out;
  const keys = Object.keys(rules) as (keyof T & string)[];
  if (!isMapping(raw)) {
    errors.push(`${path}: expected a mapping with keys ${keys.join(', ')}; got ${describe(raw)}`);
    return out;
  }
  checkKeys(path, raw, keys, errors);
  for (const key of keys) {
    if (!Object.prototype.hasOwnProperty.call(raw, key)) continue;
    const value = rules[key](keyPath(path, key), raw[key], errors);
    if (value !== undefined) out[key] = value;
  }
  return out;
}
