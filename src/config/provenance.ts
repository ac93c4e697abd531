// Where each value of the effective configuration came from: the embedded default, the board profile, the
// configuration file, an environment variable or a command-line option (`wharf config`).

import { isMapping } from './rules.js';

export type Leaf = string | number | boolean | null;

/** Every leaf of `value` as [key path, value]: `storage.commitIntervalMs`, `listeners[0].port`. */
export function leaves(value: unknown, prefix = ''): [string, Leaf][] {
  if (Array.isArray(value)) {
    // An empty list is a value of its own (no queues declared), not nothing.
    if (value.length === 0) return [[prefix, '[]']];
    return value.flatMap((v, i) => leaves(v, `${prefix}[${i}]`));
  }
  if (isMapping(value)) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return [[prefix, '{}']];
    return entries.flatMap(([k, v]) => leaves(v, prefix === '' ? k : `${prefix}.${k}`));
  }
  return [[prefix, (value ?? null) as Leaf]];
}

/** Splits `a.b[2].c` into ['a', 'b', 2, 'c']. */
function steps(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}

/**
 * True if the parsed source `raw` sets `path`: the key itself, or a list on the way to it (a list in a source
 * replaces the default list as a whole, so all of its items come from that source).
 */
export function sets(raw: unknown, path: string): boolean {
  let node = raw;
  for (const step of steps(path)) {
    if (Array.isArray(node)) return true;
    if (!isMapping(node) || typeof step !== 'string') return false;
    // Durations are written without their unit in the file (`retention: 7d` is retentionMs).
    const key = Object.prototype.hasOwnProperty.call(node, step) ? step : step.endsWith('Ms') ? step.slice(0, -2) : undefined;
    if (key === undefined || !Object.prototype.hasOwnProperty.call(node, key)) return false;
    node = node[key];
  }
  return node !== undefined;
}

export interface SourceLayer {
  /** "board rpi4", "file /etc/wharf/wharf.yaml" */
  source: string;
  raw: unknown;
}

export interface ValueSource {
  path: string;
  value: Leaf;
  source: string;
}

/**
 * The source of every leaf of `config`: the last of `layers` (lowest precedence first) that sets it, then the
 * override that set it (environment, flags: `overrides` maps a key path to its variable or option), else
 * "default".
 */
export function valueSources(config: unknown, layers: SourceLayer[], overrides: Map<string, string>): ValueSource[] {
  return leaves(config).map(([path, value]) => {
    let source = overrides.get(path);
    for (let i = layers.length - 1; source === undefined && i >= 0; i--) if (sets(layers[i]!.raw, path)) source = layers[i]!.source;
    return { path, value, source: source ?? 'default' };
  });
}
