// Queue templates (issue 15): a queue definition whose topicFilter holds named levels, `lights/{id}/commands`,
// stands for one queue per value of those levels. This file holds the pure part: reading the pattern, matching a
// topic, and the name and filter of the instance for some values. The engine (engine.ts) creates the instances.

import { queueNameFromFilter } from '../config/queues.js';

/** A whole topic level `{name}`: a placeholder whose value names one instance. */
const PLACEHOLDER = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/;
/** Values made only of these are put into instance names as they are (device names, light ids). */
const NAME_SAFE = /^[A-Za-z0-9_.-]+$/;

/** One named level of a template's filter. */
export interface TemplateLevel {
  /** 0-based topic level. */
  index: number;
  placeholder: string;
}

/** The named levels of a topic filter (none: not a template), or why the filter is not a valid pattern. */
export function templateLevels(topicFilter: string): TemplateLevel[] | string {
  const out: TemplateLevel[] = [];
  const levels = topicFilter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (!level.includes('{') && !level.includes('}')) continue;
    const m = PLACEHOLDER.exec(level);
    if (m === null) return `a named level must be a whole level "{name}" (letters, digits, "_"); got "${level}"`;
    if (out.some((l) => l.placeholder === m[1])) return `the named level {${m[1]}} appears twice`;
    out.push({ index: i, placeholder: m[1]! });
  }
  return out;
}

export function isTemplateFilter(topicFilter: string): boolean {
  const levels = templateLevels(topicFilter);
  return Array.isArray(levels) && levels.length > 0;
}

/** The filter a template captures with: each named level becomes `+`. */
export function matchFilterOf(topicFilter: string): string {
  return topicFilter
    .split('/')
    .map((l) => (PLACEHOLDER.test(l) ? '+' : l))
    .join('/');
}

/**
 * The default name pattern of a template declared without a name: the name queueNameFromFilter gives the filter,
 * with the named levels kept, so `lights/{id}/commands` → `lights.{id}.commands` and the instance for `light-7` is
 * named `lights.light-7.commands`, the name `$q/lights/light-7/commands` would give an ordinary queue.
 */
export function defaultTemplateName(topicFilter: string): string {
  return topicFilter
    .split('/')
    .map((l) => (PLACEHOLDER.test(l) ? l : queueNameFromFilter(l)))
    .join('.');
}

/** A value in an instance's name: as it is when made of name characters, otherwise escaped as filters are. */
export function nameValue(value: string): string {
  return NAME_SAFE.test(value) ? value : queueNameFromFilter(value);
}

/** Replaces each `{placeholder}` of `pattern` (a name) by its value. */
export function fillName(pattern: string, values: Readonly<Record<string, string>>): string {
  return pattern.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (whole, p: string) => (values[p] === undefined ? whole : nameValue(values[p])));
}

/** The instance's own topic filter: the template's with each named level replaced by its value. */
export function fillFilter(topicFilter: string, levels: readonly TemplateLevel[], values: Readonly<Record<string, string>>): string {
  const parts = topicFilter.split('/');
  for (const l of levels) parts[l.index] = values[l.placeholder]!;
  return parts.join('/');
}

/**
 * The values of the named levels in `levels` of a topic (or of a consuming subscription's filter, which must then
 * name them literally): undefined when a value is empty or a wildcard, so such topics create no instance.
 */
export function valuesOf(topicLevels: readonly string[], levels: readonly TemplateLevel[]): Record<string, string> | undefined {
  const values: Record<string, string> = {};
  for (const l of levels) {
    const v = topicLevels[l.index];
    if (v === undefined || v === '' || v === '+' || v === '#') return undefined;
    values[l.placeholder] = v;
  }
  return values;
}

/** Which placeholders of the filter a name pattern lacks (each must be there, or two instances would share a name). */
export function missingPlaceholders(namePattern: string, levels: readonly TemplateLevel[]): string[] {
  return levels.filter((l) => !namePattern.includes(`{${l.placeholder}}`)).map((l) => l.placeholder);
}
