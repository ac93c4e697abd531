// The `queues` configuration section: declared queues, the defaults of auto-created queues, and the rules
// for queue names, key sources and topic filters. validateQueueDefinition is also meant for runtime
// declarations (admin API), and queueNameFromFilter for auto-created queues, so all queues follow one set of rules.

import type { DispatchName, OverflowPolicy, QueueDefinition, QueueType } from '../queue/types.js';
import { isValidTopicFilter } from '../protocol/topic.js';
import { compileKeySpec, type KeySpec } from '../queue/key.js';
import type { DollarQueueMeaning, QueueSettings, QueuesConfig } from './types.js';
import { DEFAULT_MAX_INSTANCES } from '../queue/types.js';
import { defaultTemplateName, fillName, matchFilterOf, missingPlaceholders, templateLevels, type TemplateLevel } from '../queue/template.js';
import type { SectionValidator } from './sections.js';
import {
  boolRule,
  bytesRule,
  checkKeys,
  describe,
  durationRule,
  enumRule,
  intRule,
  isMapping,
  keyPath,
  type Rule,
  type RuleTable,
} from './rules.js';

export const QUEUE_TYPES: readonly QueueType[] = ['standard', 'lastvalue'];
export const DISPATCH_NAMES: readonly DispatchName[] = ['random', 'round_robin', 'least_inflight', 'hash_key'];
export const OVERFLOW_POLICIES: readonly OverflowPolicy[] = ['reject', 'drop_oldest'];

// ---- Names -----------------------------------------------------------------------------------

/** Queue names are store keys and the `<name>` of `$queue/<name>`: short, and safe in both. */
export const MAX_QUEUE_NAME_LENGTH = 255;
const NAME_CHARS = /^[A-Za-z0-9_.-]+$/;
const NAME_RULE_TEXT = `1-${MAX_QUEUE_NAME_LENGTH} letters, digits, "_", "-" or "."`;

export function isValidQueueName(name: string): boolean {
  return name.length <= MAX_QUEUE_NAME_LENGTH && NAME_CHARS.test(name);
}

/** Spelled-out forms of the filter characters a name cannot hold (each starts with "_" and a distinct letter). */
const NAMED_ESCAPES: Readonly<Record<string, string>> = { '+': '_plus_', '#': '_all_', '.': '_dot_' };
const ESCAPE_START = /^(?:_|plus_|all_|dot_|x[0-9a-f]+_)/;

/**
 * The name of a queue declared without one (and of queues auto-created by `$q/<filter>`):
 * `/` becomes `.`, a `+` level `_plus_`, a `#` level `_all_`, a literal `.` `_dot_`; letters, digits,
 * `-` and `_` stay; any other character becomes `_x<hex code point>_` (`$` → `_x24_`). A `_` that would
 * otherwise read as the start of one of these escapes is doubled. So `images/+` → `images._plus_`,
 * `factory/line_1/#` → `factory.line_1._all_`, and two different filters never get the same name
 * (filterFromQueueName undoes it). The result may exceed MAX_QUEUE_NAME_LENGTH for very long filters;
 * check it with isValidQueueName.
 */
export function queueNameFromFilter(filter: string): string {
  // Built from the end, because whether a "_" must be doubled depends on what follows it.
  const chars = Array.from(filter);
  let out = '';
  for (let i = chars.length - 1; i >= 0; i--) {
    const c = chars[i]!;
    if (c === '_') out = (ESCAPE_START.test(out) ? '__' : '_') + out;
    else if (c === '/') out = '.' + out;
    else if (/^[A-Za-z0-9-]$/.test(c)) out = c + out;
    else out = (NAMED_ESCAPES[c] ?? `_x${c.codePointAt(0)!.toString(16)}_`) + out;
  }
  return out;
}

/** The inverse of queueNameFromFilter: the filter a derived name came from. */
export function filterFromQueueName(name: string): string {
  let out = '';
  let i = 0;
  while (i < name.length) {
    const c = name[i]!;
    if (c === '.') {
      out += '/';
      i++;
      continue;
    }
    if (c !== '_') {
      out += c;
      i++;
      continue;
    }
    const rest = name.slice(i + 1);
    const m = ESCAPE_START.exec(rest);
    if (m === null) {
      out += '_';
      i++;
    } else if (m[0] === '_') {
      out += '_';
      i += 2;
    } else {
      const named = Object.entries(NAMED_ESCAPES).find(([, esc]) => esc === `_${m[0]}`);
      const code = parseInt(m[0].slice(1, -1), 16);
      // A name queueNameFromFilter did not make may hold an escape of no character: kept as written.
      out += named !== undefined ? named[0] : code <= 0x10ffff ? String.fromCodePoint(code) : `_${m[0]}`;
      i += 1 + m[0].length;
    }
  }
  return out;
}

// ---- Topic filters ---------------------------------------------------------------------------

/** First topic levels that mark subscription forms (shared, queue consumption), never a captured filter. */
const RESERVED_FIRST_LEVELS = ['$share', '$q', '$queue'];

/** Why `filter` cannot be a queue's topicFilter, or undefined when it can. */
export function queueFilterProblem(filter: string): string | undefined {
  if (!isValidTopicFilter(filter)) {
    return 'must be a valid MQTT topic filter ("+" and "#" only as whole levels, "#" only last, not empty)';
  }
  const first = filter.split('/', 1)[0]!;
  if (RESERVED_FIRST_LEVELS.includes(first)) {
    return 'must be the topic filter itself, not a $share/, $q/ or $queue/ subscription';
  }
  return undefined;
}

// ---- Key sources -----------------------------------------------------------------------------

/** The key forms, checked by the queue engine's own compiler (src/queue/key.ts) so both agree. */
const KEY_FORMS = 'userProperty:<name>, topicLevel:<n>, topic, clientId or json:<dot.path>, or a list of them (a composite key)';

const keyRule: Rule<KeySpec> = (path, v, errors) => {
  if (Array.isArray(v)) {
    // Each part's error names its own path (queues.definitions[2].key[1]).
    const bad = v.findIndex((part) => typeof part !== 'string' || compileKeySpec(part) instanceof Error);
    if (bad >= 0) {
      const part: unknown = v[bad];
      const why = typeof part === 'string' ? (compileKeySpec(part) as Error).message : `must be one key source; got ${describe(part)}`;
      errors.push(`${path}[${bad}]: ${why}`);
      return undefined;
    }
    const compiled = compileKeySpec(v as string[]);
    if (!(compiled instanceof Error)) return [...(v as string[])];
    errors.push(`${path}: ${compiled.message}`);
    return undefined;
  }
  if (typeof v !== 'string') {
    errors.push(`${path}: must be a key source, one of ${KEY_FORMS}; got ${describe(v)}`);
    return undefined;
  }
  const compiled = compileKeySpec(v);
  if (!(compiled instanceof Error)) return v;
  errors.push(`${path}: ${compiled.message}`);
  return undefined;
};

const nameRule: Rule<string> = (path, v, errors) => {
  if (typeof v === 'string' && isValidQueueName(v)) return v;
  errors.push(`${path}: must be a queue name of ${NAME_RULE_TEXT}; got ${describe(v)}`);
  return undefined;
};

const filterRule: Rule<string> = (path, v, errors) => {
  const problem = typeof v === 'string' ? queueFilterProblem(v) : 'must be a topic filter such as "images/+"';
  if (problem === undefined) return v as string;
  errors.push(`${path}: ${problem}; got ${describe(v)}`);
  return undefined;
};

// ---- Settings --------------------------------------------------------------------------------

/** Timers (redelivery, acknowledgement) stay below setTimeout's limit of 2^31-1 ms (24.8 days). */
const MAX_TIMER_MS = 7 * 24 * 60 * 60 * 1000;
const MAX_RETENTION_MS = 3650 * 24 * 60 * 60 * 1000;

const SETTING_RULES: RuleTable<QueueSettings> = {
  type: enumRule(QUEUE_TYPES),
  key: keyRule,
  dispatch: enumRule(DISPATCH_NAMES),
  missingKey: enumRule(['reject', 'fallback'] as const),
  consumerInflight: intRule(1, 65535),
  retentionMs: durationRule(MAX_RETENTION_MS, 'kept until consumed'),
  maxMessages: intRule(0, 4294967295),
  maxBytes: bytesRule(0, 2 ** 40),
  overflow: enumRule(OVERFLOW_POLICIES),
  maxDeliveries: intRule(0, 65535),
  deadLetter: nameRule,
  redeliveryDelayMs: durationRule(MAX_TIMER_MS, 'at once'),
  ackTimeoutMs: durationRule(MAX_TIMER_MS, 'off'),
};

/** The key of each setting in the file: durations are written without the Ms suffix (`retention: 7d`). */
const FILE_KEYS: { readonly [K in keyof QueueSettings]-?: string } = {
  type: 'type',
  key: 'key',
  dispatch: 'dispatch',
  missingKey: 'missingKey',
  consumerInflight: 'consumerInflight',
  retentionMs: 'retention',
  maxMessages: 'maxMessages',
  maxBytes: 'maxBytes',
  overflow: 'overflow',
  maxDeliveries: 'maxDeliveries',
  deadLetter: 'deadLetter',
  redeliveryDelayMs: 'redeliveryDelay',
  ackTimeoutMs: 'ackTimeout',
};

const SETTINGS = Object.keys(FILE_KEYS) as (keyof QueueSettings)[];
/** Settings whose "none" can be written as an empty value, to override a default (`deadLetter:` or `deadLetter: null`). */
const CLEARABLE: readonly (keyof QueueSettings)[] = ['key', 'deadLetter'];

export const QUEUE_SETTING_KEYS: readonly string[] = SETTINGS.map((k) => FILE_KEYS[k]);
export const QUEUE_DEFINITION_KEYS: readonly string[] = ['name', 'topicFilter', ...QUEUE_SETTING_KEYS, 'maxInstances'];
/** The most queues one template may create (a gateway's store holds them all). */
export const MAX_TEMPLATE_INSTANCES = 1_000_000;
const SECTION_KEYS = ['autoCreate', 'dollarQueue', 'defaults', 'definitions'];
export const DOLLAR_QUEUE_MEANINGS: readonly DollarQueueMeaning[] = ['named', 'shared'];

function has(raw: Record<string, unknown>, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(raw, key);
}

function readSetting<K extends keyof QueueSettings>(
  out: QueueSettings,
  key: K,
  path: string,
  raw: Record<string, unknown>,
  errors: string[],
): void {
  const fileKey = FILE_KEYS[key];
  const value = raw[fileKey];
  if (value === null && CLEARABLE.includes(key)) {
    out[key] = undefined as QueueSettings[K];
    return;
  }
  const rule = SETTING_RULES[key] as Rule<QueueSettings[K]>;
  const v = rule(keyPath(path, fileKey), value, errors);
  if (v !== undefined) out[key] = v;
}

/** Reads the settings present in `raw` over `base`; `given` collects the ones the mapping set itself. */
function readSettings(
  path: string,
  raw: Record<string, unknown>,
  base: QueueSettings,
  given: Set<keyof QueueSettings>,
  errors: string[],
): QueueSettings {
  const out = { ...base };
  for (const key of SETTINGS) {
    if (!has(raw, FILE_KEYS[key])) continue;
    given.add(key);
    readSetting(out, key, path, raw, errors);
  }
  return out;
}

/** A lastvalue queue needs a key; not reported again when the written key was invalid (already an error). */
function requireKeyForLastValue(path: string, raw: Record<string, unknown>, s: QueueSettings, errors: string[]): void {
  const invalidKey = raw.key !== undefined && raw.key !== null && s.key === undefined;
  if (s.type === 'lastvalue' && s.key === undefined && !invalidKey) {
    errors.push(`${keyPath(path, 'key')}: required for lastvalue queues (${KEY_FORMS})`);
  }
}

/**
 * Validates one queue declaration (a mapping as in `queues.definitions`) and fills the fields it omits
 * from `defaults`. Errors go to `errors` under `path` (e.g. `queues.definitions[1].dispatch: ...`);
 * returns undefined if there were any. Checks what can be checked on one queue alone: that `deadLetter`
 * names an existing queue is up to the caller (the section validator checks it against the file's list).
 * Completes the result as autoQueueDefinition does: hash_key without a key is keyed by `clientId`, and an
 * inherited `deadLetter` naming the queue itself is dropped.
 */
export function validateQueueDefinition(
  raw: unknown,
  path: string,
  defaults: QueueSettings,
  errors: string[],
): QueueDefinition | undefined {
  if (!isMapping(raw)) {
    errors.push(`${path}: expected a mapping with at least topicFilter; got ${describe(raw)}`);
    return undefined;
  }
  const before = errors.length;
  checkKeys(path, raw, QUEUE_DEFINITION_KEYS, errors);

  let topicFilter: string | undefined;
  // A filter with named levels (`lights/{id}/commands`) is a template: one queue per value (src/queue/template.ts).
  let levels: TemplateLevel[] = [];
  if (has(raw, 'topicFilter')) {
    const named = typeof raw.topicFilter === 'string' ? templateLevels(raw.topicFilter) : [];
    if (typeof named === 'string') errors.push(`${keyPath(path, 'topicFilter')}: ${named}; got ${describe(raw.topicFilter)}`);
    else {
      levels = named;
      const checked = levels.length > 0 ? matchFilterOf(raw.topicFilter as string) : raw.topicFilter;
      if (filterRule(keyPath(path, 'topicFilter'), checked, errors) !== undefined) topicFilter = raw.topicFilter as string;
    }
  } else errors.push(`${keyPath(path, 'topicFilter')}: required (the topic filter whose publishes the queue captures)`);
  const template = levels.length > 0;

  let maxInstances: number | undefined;
  if (has(raw, 'maxInstances')) {
    if (template || topicFilter === undefined) maxInstances = intRule(1, MAX_TEMPLATE_INSTANCES)(keyPath(path, 'maxInstances'), raw.maxInstances, errors);
    else errors.push(`${keyPath(path, 'maxInstances')}: only for queue templates (a topicFilter with a named level such as "lights/{id}/commands")`);
  } else if (template) maxInstances = DEFAULT_MAX_INSTANCES;

  let name: string | undefined;
  if (template) {
    const given = has(raw, 'name');
    const pattern = given ? raw.name : topicFilter === undefined ? undefined : defaultTemplateName(topicFilter);
    const sample = typeof pattern === 'string' ? fillName(pattern, Object.fromEntries(levels.map((l) => [l.placeholder, 'x']))) : undefined;
    const missing = typeof pattern === 'string' ? missingPlaceholders(pattern, levels) : [];
    if (pattern === undefined) {
      // The filter's own error is enough: without it there is no name to derive.
    } else if (sample === undefined || !isValidQueueName(sample) || /[{}]/.test(sample)) {
      errors.push(`${keyPath(path, 'name')}: a template's name must be a queue name of ${NAME_RULE_TEXT} with its named levels, such as "lights.{id}.commands"; got ${describe(pattern)}`);
    } else if (missing.length > 0) {
      errors.push(`${keyPath(path, 'name')}: must hold ${missing.map((m) => `{${m}}`).join(', ')}, or two instances would share one name; got ${describe(pattern)}`);
    } else name = pattern as string;
  } else if (has(raw, 'name')) name = nameRule(keyPath(path, 'name'), raw.name, errors);
  else if (topicFilter !== undefined) {
    name = queueNameFromFilter(topicFilter);
    if (!isValidQueueName(name)) {
      errors.push(
        `${keyPath(path, 'name')}: required for this filter: the name derived from it is ${name.length} characters, ` +
          `over the limit of ${MAX_QUEUE_NAME_LENGTH}`,
      );
      name = undefined;
    }
  }

  const given = new Set<keyof QueueSettings>();
  const settings = readSettings(path, raw, defaults, given, errors);
  requireKeyForLastValue(path, raw, settings, errors);
  if (given.has('key') && settings.key !== undefined && settings.type !== 'lastvalue' && settings.dispatch !== 'hash_key') {
    errors.push(
      `${keyPath(path, 'key')}: only used by lastvalue queues and hash_key dispatch; ` +
        `this queue is ${settings.type} with ${settings.dispatch} dispatch`,
    );
  }
  if (given.has('deadLetter') && settings.deadLetter !== undefined) {
    if (settings.deadLetter === name) {
      errors.push(`${keyPath(path, 'deadLetter')}: a queue cannot be its own dead-letter queue; got "${name}"`);
    } else if (settings.maxDeliveries === 0) {
      errors.push(
        `${keyPath(path, 'deadLetter')}: has no effect while maxDeliveries is 0 (never dead-letter); set maxDeliveries`,
      );
    }
  }

  if (errors.length > before || name === undefined || topicFilter === undefined) return undefined;
  const def = completeDefinition(name, topicFilter, settings);
  return maxInstances === undefined ? def : { ...def, maxInstances };
}

/**
 * The definition of a queue named `name` (from `$queue/<name>/<filter>`) or, without a name, of the queue
 * `$q/<filter>` auto-creates: `defaults` completed as a declared queue's omitted fields are. A string says
 * why the queue cannot be created (invalid or reserved filter, invalid name, derived name too long).
 */
export function autoQueueDefinition(topicFilter: string, defaults: QueueSettings, name?: string): QueueDefinition | string {
  const problem = queueFilterProblem(topicFilter);
  if (problem !== undefined) return `topic filter ${problem}`;
  const queueName = name ?? queueNameFromFilter(topicFilter);
  if (!isValidQueueName(queueName)) {
    return name === undefined
      ? `the queue name derived from the filter is ${queueName.length} characters, over the limit of ${MAX_QUEUE_NAME_LENGTH}`
      : `queue name must be ${NAME_RULE_TEXT}`;
  }
  return completeDefinition(queueName, topicFilter, { ...defaults });
}

/** Applies what omitted settings imply, the same way for declared and auto-created queues. */
function completeDefinition(name: string, topicFilter: string, settings: QueueSettings): QueueDefinition {
  // A dead-letter queue inheriting `defaults.deadLetter` (its own name) does not dead-letter into itself.
  if (settings.deadLetter === name) settings.deadLetter = undefined;
  // hash_key without a key source keeps each publisher's messages in order, like EMQX's hash_clientid.
  if (settings.dispatch === 'hash_key' && settings.key === undefined) settings.key = 'clientId';
  return { name, topicFilter, ...settings };
}

/** The dead-letter chain starting at `start`, if it comes back to `start`: [start, ..., start]. */
export function deadLetterLoop(start: QueueDefinition, byName: ReadonlyMap<string, QueueDefinition>): string[] | undefined {
  const chain = [start.name];
  let next = start.deadLetter;
  while (next !== undefined && !chain.includes(next)) {
    chain.push(next);
    next = byName.get(next)?.deadLetter;
  }
  return next === start.name ? [...chain, start.name] : undefined;
}

/** Names, filters and dead-letter targets across the declared queues. */
function checkDefinitions(
  path: string,
  defs: readonly (QueueDefinition | undefined)[],
  defaults: QueueSettings,
  errors: string[],
): void {
  const byName = new Map<string, QueueDefinition>();
  const nameAt = new Map<string, number>();
  const filterAt = new Map<string, number>();
  defs.forEach((d, i) => {
    if (d === undefined) return;
    const at = `${path}.definitions[${i}]`;
    const n = nameAt.get(d.name);
    if (n !== undefined) {
      errors.push(`${at}.name: queue name "${d.name}" is already used by ${path}.definitions[${n}]`);
    } else {
      nameAt.set(d.name, i);
      byName.set(d.name, d);
    }
    const f = filterAt.get(d.topicFilter);
    if (f !== undefined) {
      errors.push(
        `${at}.topicFilter: "${d.topicFilter}" is already the filter of ${path}.definitions[${f}] ` +
          `(a filter names one queue, as in $q/${d.topicFilter})`,
      );
    } else filterAt.set(d.topicFilter, i);
  });

  // Dead-letter targets must be declared here, so a dead letter always has somewhere to go. While a definition
  // has errors of its own its name may be unknown: no "no queue named" errors then, the first fix may cure them.
  const declared = (name: string): boolean => byName.has(name) || defs.some((d) => d === undefined);
  if (defaults.deadLetter !== undefined && !declared(defaults.deadLetter)) {
    errors.push(`${path}.defaults.deadLetter: no queue named "${defaults.deadLetter}" in ${path}.definitions`);
  }
  const looped = new Set<string>();
  defs.forEach((d, i) => {
    if (d === undefined || d.deadLetter === undefined || byName.get(d.name) !== d) return;
    const at = `${path}.definitions[${i}].deadLetter`;
    if (d.deadLetter !== defaults.deadLetter && !declared(d.deadLetter)) {
      errors.push(`${at}: no queue named "${d.deadLetter}" in ${path}.definitions`);
      return;
    }
    const loop = looped.has(d.name) ? undefined : deadLetterLoop(d, byName);
    if (loop !== undefined) {
      for (const n of loop) looped.add(n);
      errors.push(`${at}: dead letters would go round in a loop: ${loop.join(' → ')}`);
    }
  });
}

export const validateQueues: SectionValidator<QueuesConfig> = (path, raw, base, errors) => {
  const out: QueuesConfig = {
    autoCreate: base.autoCreate,
    defaults: { ...base.defaults },
    definitions: base.definitions.map((d) => ({ ...d })),
    dollarQueue: base.dollarQueue,
  };
  if (raw === null || raw === undefined) return out;
  if (!isMapping(raw)) {
    errors.push(`${path}: expected a mapping with keys ${SECTION_KEYS.join(', ')}; got ${describe(raw)}`);
    return out;
  }
  checkKeys(path, raw, SECTION_KEYS, errors);

  if (has(raw, 'autoCreate')) {
    const v = boolRule(keyPath(path, 'autoCreate'), raw.autoCreate, errors);
    if (v !== undefined) out.autoCreate = v;
  }

  if (has(raw, 'dollarQueue')) {
    const v = enumRule(DOLLAR_QUEUE_MEANINGS)(keyPath(path, 'dollarQueue'), raw.dollarQueue, errors);
    if (v !== undefined) out.dollarQueue = v;
  }

  const defaultsPath = keyPath(path, 'defaults');
  if (raw.defaults !== undefined && raw.defaults !== null) {
    if (!isMapping(raw.defaults)) {
      errors.push(`${defaultsPath}: expected a mapping with keys ${QUEUE_SETTING_KEYS.join(', ')}; got ${describe(raw.defaults)}`);
    } else {
      checkKeys(defaultsPath, raw.defaults, QUEUE_SETTING_KEYS, errors);
      out.defaults = readSettings(defaultsPath, raw.defaults, out.defaults, new Set(), errors);
      requireKeyForLastValue(defaultsPath, raw.defaults, out.defaults, errors);
    }
  }

  const defsPath = keyPath(path, 'definitions');
  let defs: (QueueDefinition | undefined)[] = out.definitions;
  if (has(raw, 'definitions')) {
    if (raw.definitions === null || raw.definitions === undefined) defs = [];
    else if (!Array.isArray(raw.definitions)) {
      errors.push(`${defsPath}: must be a list of queues (each with at least topicFilter); got ${describe(raw.definitions)}`);
    } else {
      defs = raw.definitions.map((d, i) => validateQueueDefinition(d, `${defsPath}[${i}]`, out.defaults, errors));
    }
  }
  checkDefinitions(path, defs, out.defaults, errors);
  out.definitions = defs.filter((d): d is QueueDefinition => d !== undefined);
  return out;
};
