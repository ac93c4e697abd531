// Small rules shared by the buses: and devices: validators (device-buses.ts, devices.ts).

import { describe, durationRule, isMapping, keyPath, type Rule } from './rules.js';
import { isValidTopicName } from '../protocol/topic.js';

export function has(raw: Record<string, unknown>, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(raw, key) && raw[key] !== undefined;
}

/** `raw[key]` through `rule` when present, else `fallback`. */
export function opt<T>(path: string, raw: Record<string, unknown>, key: string, rule: Rule<T>, fallback: T, errors: string[]): T {
  if (!has(raw, key)) return fallback;
  return rule(keyPath(path, key), raw[key], errors) ?? fallback;
}

/** A duration with a floor: `pollInterval: 0` would spin. */
export function durationBetween(minMs: number, maxMs: number, zeroAllowed: boolean): Rule<number> {
  const inner = durationRule(maxMs, zeroAllowed ? 'off' : 'not allowed');
  return (path, v, errors) => {
    const ms = inner(path, v, errors);
    if (ms === undefined || (ms === 0 && zeroAllowed) || ms >= minMs) return ms;
    errors.push(`${path}: must be at least ${minMs} ms${zeroAllowed ? ' (or 0, off)' : ''}; got ${describe(v)}`);
    return undefined;
  };
}

export const topicRule: Rule<string> = (path, v, errors) => {
  const problem =
    typeof v !== 'string'
      ? 'must be a topic such as "devices/{device}/state"'
      : /\{(?!device\})[^}]*\}/.test(v)
        ? 'may hold only the placeholder {device}'
        : v.startsWith('$') || !isValidTopicName(v.replaceAll('{device}', 'x'))
          ? 'must be a topic name without "+", "#" or a leading "$"'
          : undefined;
  if (problem === undefined) return v as string;
  errors.push(`${path}: ${problem}; got ${describe(v)}`);
  return undefined;
};

export function enumNumber<T extends number>(allowed: readonly T[]): Rule<T> {
  return (path, v, errors) => {
    if ((allowed as readonly unknown[]).includes(v)) return v as T;
    errors.push(`${path}: expected one of ${allowed.join(', ')}; got ${describe(v)}`);
    return undefined;
  };
}

/** Names of the items of a raw list (for cross references to items that failed validation). */
export function rawNames(list: unknown): Set<string> {
  const out = new Set<string>();
  if (Array.isArray(list)) for (const item of list) if (isMapping(item) && typeof item.name === 'string') out.add(item.name);
  return out;
}

export function checkUnique(path: string, items: readonly ({ name: string } | undefined)[], what: string, errors: string[]): void {
  const at = new Map<string, number>();
  items.forEach((item, i) => {
    if (item === undefined) return;
    const first = at.get(item.name);
    if (first !== undefined) errors.push(`${path}[${i}].name: ${what} name "${item.name}" is already used by ${path}[${first}]`);
    else at.set(item.name, i);
  });
}
