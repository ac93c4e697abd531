// Message keys (QueueDefinition.key): where a last-value queue or hash_key dispatch finds a message's key.
//
//   userProperty:<name>  the MQTT 5 user property <name>; repeated, its LAST value
//   topicLevel:<n>       level n (0-based) of the topic, e.g. topicLevel:1 of lights/l-123/commands is l-123
//   topic                the whole topic
//   clientId             the publisher's client identifier
//   json:<dot.path>      a scalar field of a JSON payload, e.g. json:command.type; a segment of digits indexes an
//                        array (json:items.0.id). Strings as they are, numbers and booleans as JSON text (1.5,
//                        true); null, objects and arrays are no key. Payloads over MAX_JSON_KEY_PAYLOAD bytes are
//                        not parsed (no key).
//
//   [a, b, ...]          a composite key: every part must be present; the key is the parts' values as a JSON
//                        array (["d-17","set-color"]), so no two different combinations can give the same key.
//                        E.g. [topicLevel:1, userProperty:command_type] keeps one command per device and type.
//
// An extractor returns undefined when the message has no key: property absent, topic with fewer levels, empty
// client identifier, payload not JSON or too large, path missing or not a scalar. An empty user property value or
// an empty topic level is a key (the empty string): it is present.

/** What an extractor reads of a message (a subset of the broker's Message). */
export interface KeySource {
  topic: string;
  payload: Buffer;
  properties?: { userProperties?: Record<string, string | string[]> } | undefined;
  /** Client identifier of the publisher. */
  origin: string;
}

export type KeyExtractor = (msg: KeySource) => string | undefined;

/** A key source as configured: one form, or a list of them (a composite key). */
export type KeySpec = string | readonly string[];

/** Most parts of a composite key. */
export const MAX_KEY_PARTS = 8;

/** Largest payload parsed as JSON for a `json:` key. */
export const MAX_JSON_KEY_PAYLOAD = 64 * 1024;

const FORMS = 'userProperty:<name>, topicLevel:<n> (0-based integer), topic, clientId, json:<dot.path>';

/** Compiles a key spec into an extractor, or an Error saying what is wrong and listing the allowed forms. */
export function compileKeySpec(spec: KeySpec): KeyExtractor | Error {
  if (Array.isArray(spec)) return compileComposite(spec);
  return compileSingle(spec as string);
}

/** The key spec as written in the configuration file: `userProperty:x` or `[topicLevel:1, userProperty:x]`. */
export function keySpecText(spec: KeySpec): string {
  return typeof spec === 'string' ? spec : `[${spec.join(', ')}]`;
}

function compileComposite(parts: readonly unknown[]): KeyExtractor | Error {
  if (parts.length === 0) return new Error(`a composite key needs at least one part, each one of: ${FORMS}`);
  if (parts.length > MAX_KEY_PARTS) return new Error(`a composite key has at most ${MAX_KEY_PARTS} parts; got ${parts.length}`);
  const extractors: KeyExtractor[] = [];
  for (const [i, part] of parts.entries()) {
    const compiled = typeof part === 'string' ? compileSingle(part) : new Error(`must be one of: ${FORMS}`);
    if (compiled instanceof Error) return new Error(`part ${i}: ${compiled.message}`);
    extractors.push(compiled);
  }
  if (new Set(parts).size !== parts.length) return new Error('a composite key names a part twice');
  if (extractors.length === 1) return extractors[0]!;
  return (msg) => {
    const values: string[] = [];
    for (const x of extractors) {
      const v = x(msg);
      if (v === undefined) return undefined;
      values.push(v);
    }
    return JSON.stringify(values);
  };
}

function compileSingle(spec: string): KeyExtractor | Error {
  if (typeof spec !== 'string') return new Error(`key must be a string, one of: ${FORMS}`);
  if (spec === 'topic') return topicKey;
  if (spec === 'clientId') return clientIdKey;
  const colon = spec.indexOf(':');
  const form = colon < 0 ? spec : spec.slice(0, colon);
  const arg = colon < 0 ? undefined : spec.slice(colon + 1);
  switch (form) {
    case 'userProperty':
      if (!arg) return invalid(spec, 'userProperty needs a property name');
      return userPropertyKey(arg);
    case 'topicLevel': {
      if (arg === undefined || !/^(0|[1-9][0-9]*)$/.test(arg)) return invalid(spec, 'topicLevel needs a non-negative integer level');
      const level = Number(arg);
      if (level > 65535) return invalid(spec, 'topicLevel is beyond the longest possible topic');
      return topicLevelKey(level);
    }
    case 'json': {
      if (!arg) return invalid(spec, 'json needs a dot-separated path');
      const path = arg.split('.');
      if (path.some((segment) => segment === '')) return invalid(spec, 'json path has an empty segment');
      return jsonKey(path);
    }
    default:
      return invalid(spec, 'unknown form');
  }
}

function invalid(spec: string, why: string): Error {
  return new Error(`invalid key ${JSON.stringify(spec)}: ${why}; allowed: ${FORMS}`);
}

const topicKey: KeyExtractor = (msg) => msg.topic;

const clientIdKey: KeyExtractor = (msg) => (msg.origin === '' ? undefined : msg.origin);

function userPropertyKey(name: string): KeyExtractor {
  return (msg) => {
    const props = msg.properties?.userProperties;
    if (props === undefined || !Object.hasOwn(props, name)) return undefined;
    const value = props[name];
    if (typeof value === 'string') return value;
    if (Array.isArray(value) && value.length > 0) {
      const last = value[value.length - 1];
      return typeof last === 'string' ? last : undefined;
    }
    return undefined;
  };
}

function topicLevelKey(level: number): KeyExtractor {
  return (msg) => {
    const topic = msg.topic;
    let start = 0;
    for (let i = 0; i < level; i++) {
      const slash = topic.indexOf('/', start);
      if (slash < 0) return undefined;
      start = slash + 1;
    }
    const end = topic.indexOf('/', start);
    return end < 0 ? topic.slice(start) : topic.slice(start, end);
  };
}

function jsonKey(path: readonly string[]): KeyExtractor {
  return (msg) => {
    const payload = msg.payload;
    if (payload.length === 0 || payload.length > MAX_JSON_KEY_PAYLOAD) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(payload.toString('utf8'));
    } catch {
      return undefined;
    }
    for (const segment of path) {
      if (Array.isArray(value)) {
        if (!/^(0|[1-9][0-9]*)$/.test(segment)) return undefined;
        value = value[Number(segment)];
      } else if (typeof value === 'object' && value !== null) {
        if (!Object.hasOwn(value, segment)) return undefined;
        value = (value as Record<string, unknown>)[segment];
      } else {
        return undefined;
      }
    }
    switch (typeof value) {
      case 'string':
        return value;
      case 'number':
      case 'boolean':
        return JSON.stringify(value);
      default:
        return undefined; // null, object, array, or missing array element
    }
  };
}
