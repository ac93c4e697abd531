// Validators for the top-level sections of the configuration file, one per section.
// Each takes the raw YAML value of its section, the default, and the error list, and returns the
// validated section (defaults filled in). validate.ts lists them in its SECTIONS table.

import { validateClientCertificates } from './auth.js';
import type { ListenerConfig, ListenerType, LogLevel, MqttLimits, StorageConfig, WharfConfig } from './types.js';
import {
  PORT_RULE,
  boolRule,
  bytesRule,
  checkKeys,
  describe,
  durationRule,
  enumRule,
  intRule,
  isMapping,
  stringRule,
  validateSection,
  type Rule,
  type RuleTable,
} from './rules.js';

/** What a section may need beyond its own value: where relative paths start, and the sections validated before it. */
export interface SectionContext {
  /** Folder of the configuration file (relative `include:` paths of devices start there); the working directory without a file. */
  baseDir: string;
  /** The configuration so far: sections listed earlier in SECTIONS are already validated (devices look up buses). */
  config: WharfConfig;
  /** The parsed file's sections (board profile applied), for cross references to items that failed validation. */
  raw: Record<string, unknown>;
}

export type SectionValidator<T> = (path: string, raw: unknown, base: T, errors: string[], ctx?: SectionContext) => T;

// ---- mqtt ------------------------------------------------------------------------------------

const durationUpTo10m = durationRule(600_000, 'not allowed here');
const CONNECT_TIMEOUT_RULE: Rule<number> = (path, v, errors) => {
  if (v === 0 || v === '0') {
    errors.push(`${path}: must be a duration of at least 1ms such as "10s"; 0 would close every connection at once`);
    return undefined;
  }
  return durationUpTo10m(path, v, errors);
};

export const MQTT_RULES: RuleTable<MqttLimits> = {
  maxPacketSize: bytesRule(64, 268435455),
  receiveMaximum: intRule(1, 65535),
  topicAliasMaximum: intRule(0, 65535),
  maxKeepAlive: intRule(1, 65535),
  maxSessionExpiryInterval: intRule(0, 4294967295),
  maxQueuedMessages: intRule(1, 10000000),
  maxSubscriptionsPerSession: intRule(1, 1000000),
  allowEmptyClientId: boolRule,
  maxClientIdLength: intRule(23, 65535),
  maxRetainedMessages: intRule(0, 100000000),
  maxSocketBufferBytes: bytesRule(65536, 1073741824),
  maxConnections: intRule(1, 10_000_000),
  connectTimeout: CONNECT_TIMEOUT_RULE,
  maxPendingConnectionsPerAddress: intRule(1, 1_000_000),
};

export const validateMqtt: SectionValidator<MqttLimits> = (path, raw, base, errors) =>
  validateSection(path, raw, base, MQTT_RULES, errors);

// ---- storage ---------------------------------------------------------------------------------

export const DATA_DIR_RULE = stringRule('a directory path');
export const PAYLOAD_STORES: readonly StorageConfig['payloadStore'][] = ['native', 'js', 'auto'];

const STORAGE_RULES: RuleTable<StorageConfig> = {
  dataDir: DATA_DIR_RULE,
  commitIntervalMs: intRule(0, 10_000),
  commitMaxBytes: bytesRule(4096, 256 * 1024 * 1024),
  commitMaxPerSecond: intRule(1, 100_000),
  commitMinBatchBytes: bytesRule(0, 256 * 1024 * 1024),
  inlineMaxBytes: bytesRule(0, 64 * 1024),
  mapSizeBytes: bytesRule(1024 * 1024, 2 ** 40),
  minFreeDiskBytes: bytesRule(0, 2 ** 40),
  maxPendingBytes: bytesRule(64 * 1024, 1024 * 1024 * 1024),
  payloadStore: enumRule(PAYLOAD_STORES),
  payloadSegmentBytes: bytesRule(1024 * 1024, 1024 * 1024 * 1024),
  commitLog: boolRule,
};

export const validateStorage: SectionValidator<WharfConfig['storage']> = (path, raw, base, errors) => {
  const before = errors.length;
  const storage = validateSection(path, raw, base, STORAGE_RULES, errors);
  if (errors.length === before) checkCommitPacing(path, storage, errors);
  return storage;
};

/** The commit settings must not contradict each other: the rate cap may not hold a write past its longest wait. */
function checkCommitPacing(path: string, s: StorageConfig, errors: string[]): void {
  const spacingMs = 1000 / s.commitMaxPerSecond;
  if (spacingMs > s.commitIntervalMs) {
    const needed = Math.ceil(1000 / Math.max(s.commitIntervalMs, 1));
    errors.push(
      `${path}.commitMaxPerSecond: ${s.commitMaxPerSecond} spaces commits ${spacingMs} ms apart, longer than ` +
        `${path}.commitIntervalMs (${s.commitIntervalMs} ms), the longest a write may wait; ` +
        `allow at least ${needed} commits per second or raise commitIntervalMs to ${Math.ceil(spacingMs)}`,
    );
  }
  if (s.commitMinBatchBytes > s.commitMaxBytes) {
    errors.push(`${path}.commitMinBatchBytes: ${s.commitMinBatchBytes} exceeds ${path}.commitMaxBytes (${s.commitMaxBytes}), the most one commit takes`);
  }
}

// ---- log -------------------------------------------------------------------------------------

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];
export const LOG_LEVEL_RULE = enumRule(LOG_LEVELS);

export const validateLog: SectionValidator<WharfConfig['log']> = (path, raw, base, errors) =>
  validateSection(path, raw, base, { level: LOG_LEVEL_RULE }, errors);

// ---- listeners -------------------------------------------------------------------------------

export const LISTENER_TYPES: readonly ListenerType[] = ['tcp', 'ws', 'tls', 'wss'];
const LISTENER_KEYS = ['type', 'host', 'port', 'path', 'cert', 'key', 'ca', 'requireCertificate', 'useIdentityAsUsername'] as const;
const TLS_FILE_KEYS = ['cert', 'key', 'ca'] as const;
const TLS_FILE_MEANING = { cert: 'PEM certificate file', key: 'PEM private key file', ca: 'PEM CA bundle file' };

const typeRule = enumRule(LISTENER_TYPES);
const hostRule = stringRule('an interface address or host name, "0.0.0.0" for all');
const pathRule = stringRule('the WebSocket URL path', '/');

function isTls(type: ListenerType): boolean {
  return type === 'tls' || type === 'wss';
}

function validateListener(path: string, raw: unknown, errors: string[]): ListenerConfig | undefined {
  if (!isMapping(raw)) {
    errors.push(`${path}: expected a mapping with at least type and port; got ${describe(raw)}`);
    return undefined;
  }
  const before = errors.length;
  checkKeys(path, raw, LISTENER_KEYS, errors);
  const has = (k: string): boolean => Object.prototype.hasOwnProperty.call(raw, k);

  let type: ListenerType | undefined;
  if (has('type')) type = typeRule(`${path}.type`, raw.type, errors);
  else errors.push(`${path}.type: required (one of ${LISTENER_TYPES.join(', ')})`);

  let port: number | undefined;
  if (has('port')) port = PORT_RULE(`${path}.port`, raw.port, errors);
  else errors.push(`${path}.port: required (an integer 1-65535)`);

  const host = has('host') ? hostRule(`${path}.host`, raw.host, errors) : '0.0.0.0';
  const urlPath = has('path') ? pathRule(`${path}.path`, raw.path, errors) : '/mqtt';

  const files: Partial<Record<(typeof TLS_FILE_KEYS)[number], string>> = {};
  for (const k of TLS_FILE_KEYS) {
    if (!has(k)) continue;
    if (type !== undefined && !isTls(type)) {
      errors.push(`${path}.${k}: only allowed on tls and wss listeners; this listener is ${type}`);
      continue;
    }
    const v = stringRule(`path of the ${TLS_FILE_MEANING[k]}`)(`${path}.${k}`, raw[k], errors);
    if (v !== undefined) files[k] = v;
  }
  if (type !== undefined && isTls(type)) {
    for (const k of ['cert', 'key'] as const) {
      if (!has(k)) errors.push(`${path}.${k}: required for ${type} listeners (path of the ${TLS_FILE_MEANING[k]})`);
    }
  }

  const clientCerts = validateClientCertificates(path, raw, type, files.ca !== undefined, errors);

  if (errors.length > before || type === undefined || port === undefined || host === undefined) return undefined;
  return { type, host, port, path: urlPath ?? '/mqtt', ...files, ...clientCerts };
}

const WILDCARD_HOSTS = ['0.0.0.0', '::'];

/**
 * Pairs of listeners that cannot both bind: same port, and the same host or either one on a
 * wildcard address (0.0.0.0 or ::, which take the port on every interface). Each pair is
 * [earlier index, later index]; undefined entries (listeners that failed validation) are skipped.
 */
export function findListenerConflicts(listeners: readonly (ListenerConfig | undefined)[]): [number, number][] {
  const out: [number, number][] = [];
  for (let j = 1; j < listeners.length; j++) {
    const b = listeners[j];
    if (b === undefined) continue;
    for (let i = 0; i < j; i++) {
      const a = listeners[i];
      if (a === undefined || a.port !== b.port) continue;
      if (a.host === b.host || WILDCARD_HOSTS.includes(a.host) || WILDCARD_HOSTS.includes(b.host)) {
        out.push([i, j]);
        break;
      }
    }
  }
  return out;
}

/**
 * The error text for a conflict found by findListenerConflicts. `who` names the port setting of
 * the listener at index `subject` (by default the later one); the message names the other one.
 */
export function conflictMessage(
  who: string,
  listeners: readonly (ListenerConfig | undefined)[],
  [i, j]: [number, number],
  subject: number = j,
): string {
  const other = subject === j ? i : j;
  const a = listeners[other]!;
  const b = listeners[subject]!;
  const where = a.host === b.host ? `host ${b.host}` : `host ${b.host} (overlaps ${a.host})`;
  return `${who}: port ${b.port} on ${where} is already used by listeners[${other}] (${a.type})`;
}

export const validateListeners: SectionValidator<ListenerConfig[]> = (path, raw, base, errors) => {
  if (raw === undefined) return base.map((l) => ({ ...l }));
  if (!Array.isArray(raw) || raw.length === 0) {
    errors.push(`${path}: must be a non-empty list of listeners (each with type and port); got ${describe(raw)}`);
    return base.map((l) => ({ ...l }));
  }
  const before = errors.length;
  const listeners = raw.map((item, i) => validateListener(`${path}[${i}]`, item, errors));
  for (const pair of findListenerConflicts(listeners)) {
    errors.push(conflictMessage(`${path}[${pair[1]}].port`, listeners, pair));
  }
  if (errors.length > before) return base.map((l) => ({ ...l }));
  return listeners as ListenerConfig[];
};
