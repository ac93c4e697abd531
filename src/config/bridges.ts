// The `bridges` configuration section: upstream brokers, the forward and subscribe rules, and each bridge's
// durable outbox. Errors name the key path (`bridges[0].forward[1].whileOffline: ...`), as the other sections do.

import { isValidTopicFilter } from '../protocol/topic.js';
import type { OverflowPolicy } from '../queue/types.js';
import type { SectionValidator } from './sections.js';
import { boolRule, bytesRule, checkKeys, describe, durationRule, enumRule, intRule, isMapping, keyPath, stringRule, type Rule } from './rules.js';

export type BridgePriority = 'high' | 'normal' | 'low';
export type WhileOffline = 'keep_all' | 'last_value';

/** Local topic filter -> remote topic: `filter` is written in full (with `localPrefix`), which is replaced by `remotePrefix`. */
export interface ForwardRule {
  filter: string;
  localPrefix: string;
  remotePrefix: string;
  qos: 0 | 1 | 2;
  /** The RETAIN flag of the forwarded PUBLISH (queued messages do not keep the local one). */
  retain: boolean;
  priority: BridgePriority;
  whileOffline: WhileOffline;
}

/** Remote topic filter -> local topic: `filter` is written in full (with `remotePrefix`), which is replaced by `localPrefix`. */
export interface SubscribeRule {
  filter: string;
  localPrefix: string;
  remotePrefix: string;
  qos: 0 | 1 | 2;
}

export interface OutboxConfig {
  /** Messages the whole outbox holds, split evenly across the forward rules' queues; 0 = no limit. */
  maxMessages: number;
  /** Payload bytes the whole outbox holds, split evenly across the forward rules' queues; 0 = no limit. */
  maxBytes: number;
  overflow: OverflowPolicy;
  /** Messages in flight upstream across all rules (also bounded by the upstream's Receive Maximum). */
  inflight: number;
  /** Messages per second while catching up after an outage; 0 = as fast as acknowledgements come back. */
  catchUpRate: number;
}

export interface BridgeConfig {
  name: string;
  /** Tried in turn on each reconnection. */
  urls: string[];
  protocolVersion: 4 | 5;
  clientId: string;
  username: string | undefined;
  password: string | undefined;
  /**
   * The local user whose ACL `write` rights what comes down must have (auth.aclFile); undefined: the bridge is
   * trusted and publishes anything locally.
   */
  localUsername: string | undefined;
  /** PEM file paths for mqtts:// and wss://. */
  ca: string | undefined;
  cert: string | undefined;
  key: string | undefined;
  keepAliveMs: number;
  cleanStart: boolean;
  /** MQTT 5 Session Expiry Interval asked of the upstream (ms, sent in seconds). */
  sessionExpiryMs: number;
  connectTimeoutMs: number;
  /** A link that acknowledges nothing this long while messages are in flight is torn down. */
  stallTimeoutMs: number;
  reconnectMinDelayMs: number;
  reconnectMaxDelayMs: number;
  /** Local topic of the retained status message (state changes). */
  statusTopic: string;
  forward: ForwardRule[];
  subscribe: SubscribeRule[];
  outbox: OutboxConfig;
}

export const DEFAULT_OUTBOX: OutboxConfig = { maxMessages: 0, maxBytes: 256 * 1024 * 1024, overflow: 'drop_oldest', inflight: 64, catchUpRate: 0 };

const BRIDGE_KEYS = [
  'name', 'url', 'protocolVersion', 'clientId', 'username', 'password', 'passwordEnv', 'ca', 'cert', 'key', 'keepAlive',
  'cleanStart', 'sessionExpiry', 'connectTimeout', 'stallTimeout', 'reconnectMinDelay', 'reconnectMaxDelay', 'statusTopic',
  'forward', 'subscribe', 'outbox', 'localUsername',
];
const FORWARD_KEYS = ['filter', 'localPrefix', 'remotePrefix', 'qos', 'retain', 'priority', 'whileOffline'];
const SUBSCRIBE_KEYS = ['filter', 'localPrefix', 'remotePrefix', 'qos'];
const OUTBOX_KEYS = ['maxMessages', 'maxBytes', 'overflow', 'inflight', 'catchUpRate'];
const URL_SCHEMES = ['mqtt:', 'mqtts:', 'ws:', 'wss:'];
/** Bridge names become queue names (`bridge.<name>.<rule>`) and topic levels: no `.`, `/` or wildcards. */
const NAME_CHARS = /^[A-Za-z0-9_-]{1,64}$/;
const DAY_MS = 24 * 60 * 60 * 1000;

const has = (raw: Record<string, unknown>, key: string): boolean => Object.prototype.hasOwnProperty.call(raw, key);

const qosRule = enumNumberRule([0, 1, 2] as const);

function enumNumberRule<T extends number>(allowed: readonly T[]): Rule<T> {
  return (path, v, errors) => {
    if (typeof v === 'number' && (allowed as readonly number[]).includes(v)) return v as T;
    errors.push(`${path}: expected one of ${allowed.join(', ')}; got ${describe(v)}`);
    return undefined;
  };
}

/** A prefix is a topic start: empty, or levels ending in "/", no wildcards. */
const prefixRule: Rule<string> = (path, v, errors) => {
  if (typeof v === 'string' && (v === '' || (v.endsWith('/') && !/[+#\u0000]/.test(v)))) return v;
  errors.push(`${path}: must be a topic prefix ending in "/" without wildcards (e.g. "sites/17/"), or ""; got ${describe(v)}`);
  return undefined;
};

const filterRule: Rule<string> = (path, v, errors) => {
  if (typeof v === 'string' && isValidTopicFilter(v) && !v.startsWith('$share/') && !v.startsWith('$q/') && !v.startsWith('$queue/')) return v;
  errors.push(`${path}: must be a topic filter ("+" and "#" only as whole levels, "#" only last), not a $share/, $q/ or $queue/ form; got ${describe(v)}`);
  return undefined;
};

const urlRule: Rule<string> = (path, v, errors) => {
  if (typeof v === 'string') {
    try {
      const u = new URL(v);
      if (URL_SCHEMES.includes(u.protocol) && u.hostname !== '') return v;
    } catch {
      // reported below
    }
  }
  errors.push(`${path}: must be a URL such as "mqtts://broker.example.com:8883" (schemes: mqtt, mqtts, ws, wss); got ${describe(v)}`);
  return undefined;
};

function read<T>(raw: Record<string, unknown>, key: string, path: string, rule: Rule<T>, fallback: T, errors: string[]): T {
  if (!has(raw, key)) return fallback;
  return rule(keyPath(path, key), raw[key], errors) ?? fallback;
}

/** `filter` must begin with the prefix it is written with (the part that is stripped). */
function checkSourcePrefix(path: string, filter: string, prefix: string, prefixKey: string, errors: string[]): void {
  if (prefix !== '' && !filter.startsWith(prefix)) errors.push(`${keyPath(path, 'filter')}: must start with ${prefixKey} "${prefix}" (the filter is written in full); got ${describe(filter)}`);
}

function validateForward(path: string, raw: unknown, errors: string[]): ForwardRule | undefined {
  if (!isMapping(raw)) {
    errors.push(`${path}: expected a mapping with at least filter; got ${describe(raw)}`);
    return undefined;
  }
  checkKeys(path, raw, FORWARD_KEYS, errors);
  if (!has(raw, 'filter')) errors.push(`${keyPath(path, 'filter')}: required (the local topic filter to forward)`);
  const rule: ForwardRule = {
    filter: read(raw, 'filter', path, filterRule, '', errors),
    localPrefix: read(raw, 'localPrefix', path, prefixRule, '', errors),
    remotePrefix: read(raw, 'remotePrefix', path, prefixRule, '', errors),
    qos: read(raw, 'qos', path, qosRule, 1, errors),
    retain: read(raw, 'retain', path, boolRule, false, errors),
    priority: read(raw, 'priority', path, enumRule(['high', 'normal', 'low'] as const), 'normal', errors),
    whileOffline: read(raw, 'whileOffline', path, enumRule(['keep_all', 'last_value'] as const), 'keep_all', errors),
  };
  if (rule.filter !== '') checkSourcePrefix(path, rule.filter, rule.localPrefix, 'localPrefix', errors);
  return rule;
}

function validateSubscribe(path: string, raw: unknown, errors: string[]): SubscribeRule | undefined {
  if (!isMapping(raw)) {
    errors.push(`${path}: expected a mapping with at least filter; got ${describe(raw)}`);
    return undefined;
  }
  checkKeys(path, raw, SUBSCRIBE_KEYS, errors);
  if (!has(raw, 'filter')) errors.push(`${keyPath(path, 'filter')}: required (the remote topic filter to subscribe to)`);
  const rule: SubscribeRule = {
    filter: read(raw, 'filter', path, filterRule, '', errors),
    localPrefix: read(raw, 'localPrefix', path, prefixRule, '', errors),
    remotePrefix: read(raw, 'remotePrefix', path, prefixRule, '', errors),
    qos: read(raw, 'qos', path, qosRule, 1, errors),
  };
  if (rule.filter !== '') checkSourcePrefix(path, rule.filter, rule.remotePrefix, 'remotePrefix', errors);
  return rule;
}

function validateList<T>(path: string, raw: unknown, item: (p: string, v: unknown, e: string[]) => T | undefined, errors: string[]): T[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    errors.push(`${path}: must be a list of rules; got ${describe(raw)}`);
    return [];
  }
  return raw.map((r, i) => item(`${path}[${i}]`, r, errors)).filter((r): r is T => r !== undefined);
}

function validateOutbox(path: string, raw: unknown, errors: string[]): OutboxConfig {
  if (raw === undefined || raw === null) return { ...DEFAULT_OUTBOX };
  if (!isMapping(raw)) {
    errors.push(`${path}: expected a mapping with keys ${OUTBOX_KEYS.join(', ')}; got ${describe(raw)}`);
    return { ...DEFAULT_OUTBOX };
  }
  checkKeys(path, raw, OUTBOX_KEYS, errors);
  const d = DEFAULT_OUTBOX;
  return {
    maxMessages: read(raw, 'maxMessages', path, intRule(0, 4294967295), d.maxMessages, errors),
    maxBytes: read(raw, 'maxBytes', path, bytesRule(0, 2 ** 40), d.maxBytes, errors),
    overflow: read(raw, 'overflow', path, enumRule(['drop_oldest', 'reject'] as const), d.overflow, errors),
    inflight: read(raw, 'inflight', path, intRule(1, 65535), d.inflight, errors),
    catchUpRate: read(raw, 'catchUpRate', path, intRule(0, 1_000_000), d.catchUpRate, errors),
  };
}

function validateUrls(path: string, raw: unknown, errors: string[]): string[] {
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) errors.push(`${path}: must be a URL or a non-empty list of URLs`);
  return list.map((u, i) => urlRule(Array.isArray(raw) ? `${path}[${i}]` : path, u, errors)).filter((u): u is string => u !== undefined);
}

function validateBridge(path: string, raw: unknown, env: Record<string, string | undefined>, errors: string[]): BridgeConfig | undefined {
  if (!isMapping(raw)) {
    errors.push(`${path}: expected a mapping with at least name, url and forward or subscribe; got ${describe(raw)}`);
    return undefined;
  }
  const before = errors.length;
  checkKeys(path, raw, BRIDGE_KEYS, errors);
  const name = read(raw, 'name', path, (p, v, e) => (typeof v === 'string' && NAME_CHARS.test(v) ? v : (e.push(`${p}: must be 1-64 letters, digits, "_" or "-"; got ${describe(v)}`), undefined)), '', errors);
  if (!has(raw, 'name')) errors.push(`${keyPath(path, 'name')}: required`);
  const urls = has(raw, 'url') ? validateUrls(keyPath(path, 'url'), raw.url, errors) : (errors.push(`${keyPath(path, 'url')}: required (e.g. "mqtts://broker.example.com:8883")`), []);
  const text = stringRule('text');
  let password = read(raw, 'password', path, text, undefined as string | undefined, errors);
  if (has(raw, 'passwordEnv')) {
    const variable = text(keyPath(path, 'passwordEnv'), raw.passwordEnv, errors);
    if (password !== undefined) errors.push(`${keyPath(path, 'passwordEnv')}: give password or passwordEnv, not both`);
    else if (variable !== undefined) {
      password = env[variable];
      if (password === undefined || password === '') errors.push(`${keyPath(path, 'passwordEnv')}: environment variable ${variable} is not set`);
    }
  }
  const bridge: BridgeConfig = {
    name,
    urls,
    protocolVersion: read(raw, 'protocolVersion', path, enumNumberRule([4, 5] as const), 5, errors),
    clientId: read(raw, 'clientId', path, text, `wharf-${name}`, errors),
    username: read(raw, 'username', path, text, undefined as string | undefined, errors),
    password,
    localUsername: read(raw, 'localUsername', path, text, undefined as string | undefined, errors),
    ca: read(raw, 'ca', path, stringRule('path of a PEM CA bundle file'), undefined as string | undefined, errors),
    cert: read(raw, 'cert', path, stringRule('path of a PEM certificate file'), undefined as string | undefined, errors),
    key: read(raw, 'key', path, stringRule('path of a PEM private key file'), undefined as string | undefined, errors),
    keepAliveMs: read(raw, 'keepAlive', path, durationRule(65535 * 1000, 'off'), 30_000, errors),
    cleanStart: read(raw, 'cleanStart', path, boolRule, false, errors),
    sessionExpiryMs: read(raw, 'sessionExpiry', path, durationRule(4294967295 * 1000, 'ends with the connection'), DAY_MS, errors),
    connectTimeoutMs: read(raw, 'connectTimeout', path, durationRule(10 * 60 * 1000, 'none'), 10_000, errors),
    stallTimeoutMs: read(raw, 'stallTimeout', path, durationRule(DAY_MS, 'off'), 30_000, errors),
    reconnectMinDelayMs: read(raw, 'reconnectMinDelay', path, durationRule(DAY_MS, 'at once'), 500, errors),
    reconnectMaxDelayMs: read(raw, 'reconnectMaxDelay', path, durationRule(DAY_MS, 'at once'), 30_000, errors),
    statusTopic: read(raw, 'statusTopic', path, stringRule('a local topic name'), `wharf/bridges/${name}/status`, errors),
    forward: validateList(keyPath(path, 'forward'), raw.forward, validateForward, errors),
    subscribe: validateList(keyPath(path, 'subscribe'), raw.subscribe, validateSubscribe, errors),
    outbox: validateOutbox(keyPath(path, 'outbox'), raw.outbox, errors),
  };
  if (bridge.password !== undefined && bridge.username === undefined) errors.push(`${keyPath(path, 'username')}: required with a password`);
  if (bridge.reconnectMaxDelayMs < bridge.reconnectMinDelayMs) errors.push(`${keyPath(path, 'reconnectMaxDelay')}: must not be below reconnectMinDelay`);
  if (!has(raw, 'forward') && !has(raw, 'subscribe')) errors.push(`${path}: needs forward or subscribe rules (or both)`);
  return errors.length > before ? undefined : bridge;
}

/** Validates `bridges:` (a list); `env` supplies `passwordEnv` variables. */
export function validateBridgesWith(env: Record<string, string | undefined>): SectionValidator<BridgeConfig[]> {
  return (path, raw, base, errors) => {
    if (raw === undefined || raw === null) return base;
    if (!Array.isArray(raw)) {
      errors.push(`${path}: must be a list of bridges (each with name, url and rules); got ${describe(raw)}`);
      return base;
    }
    const out: BridgeConfig[] = [];
    const seen = new Map<string, number>();
    raw.forEach((b, i) => {
      const bridge = validateBridge(`${path}[${i}]`, b, env, errors);
      if (bridge === undefined) return;
      const clash = seen.get(bridge.name);
      if (clash !== undefined) errors.push(`${path}[${i}].name: "${bridge.name}" is already the name of ${path}[${clash}]`);
      else (seen.set(bridge.name, i), out.push(bridge));
    });
    return out;
  };
}

export const validateBridges: SectionValidator<BridgeConfig[]> = (path, raw, base, errors) => validateBridgesWith(process.env)(path, raw, base, errors);
