// The monitoring sections of the configuration: `admin` (the HTTP API and its token), `sys` ($SYS/ topics) and
// `metrics`. The admin address rule is shared with `wharf start --admin` and the client commands' --admin.

import type { AdminConfig, MetricsConfig, SysConfig } from './types.js';
import type { SectionValidator } from './sections.js';
import { boolRule, describe, parseDuration, validateSection, type Rule } from './rules.js';

export interface HostPort {
  host: string;
  port: number;
}

const ADDRESS_TEXT = 'HOST:PORT such as "127.0.0.1:18083" ("[::1]:18083" for IPv6)';

/** Parses `HOST:PORT` or `[IPv6]:PORT`; undefined when it is not one. Port 0 (any free port) is allowed. */
export function parseHostPort(text: string): HostPort | undefined {
  const m = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(text) ?? /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(text);
  if (m === null) return undefined;
  const port = Number(m[2]);
  if (port > 65535) return undefined;
  return { host: m[1]!, port };
}

/** 127.0.0.0/8, ::1 and localhost: only processes on the gateway itself can connect. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export const ADMIN_LISTEN_RULE: Rule<string> = (path, v, errors) => {
  if (typeof v === 'string' && parseHostPort(v) !== undefined) return v;
  errors.push(`${path}: must be ${ADDRESS_TEXT}; got ${describe(v)}`);
  return undefined;
};

/** Short tokens can be guessed over the network; 16 characters is the floor. */
export const MIN_TOKEN_LENGTH = 16;

export const ADMIN_TOKEN_RULE: Rule<string | undefined> = (path, v, errors) => {
  if (v === null) return undefined;
  if (typeof v === 'string' && v.length >= MIN_TOKEN_LENGTH && !/\s/.test(v)) return v;
  const shown = typeof v === 'string' ? `${v.length} characters` : describe(v);
  errors.push(`${path}: must be a string of at least ${MIN_TOKEN_LENGTH} characters without spaces; got ${shown}`);
  return undefined;
};

/**
 * The admin API must not be reachable from the network without a token. Checked after every source (file,
 * WHARF_ADMIN, --admin) is applied, so the error names the setting that moved it off loopback.
 */
export function adminTokenProblem(admin: AdminConfig, listenSource = 'admin.listen'): string | undefined {
  if (!admin.enabled || admin.token !== undefined) return undefined;
  const hp = parseHostPort(admin.listen);
  if (hp === undefined || isLoopbackHost(hp.host)) return undefined;
  return (
    `admin.token: required because ${listenSource} (${admin.listen}) is not a loopback address; ` +
    `set admin.token (at least ${MIN_TOKEN_LENGTH} characters, or WHARF_ADMIN_TOKEN), or listen on 127.0.0.1`
  );
}

export const validateAdmin: SectionValidator<AdminConfig> = (path, raw, base, errors) =>
  validateSection(path, raw, base, { enabled: boolRule, listen: ADMIN_LISTEN_RULE, token: ADMIN_TOKEN_RULE }, errors);

const MAX_SYS_INTERVAL_MS = 60 * 60 * 1000;

/** 0 (off), or 1s..1h: more often than once a second would put $SYS traffic on the hot path. */
const sysIntervalRule: Rule<number> = (path, v, errors) => {
  const ms = typeof v === 'string' ? parseDuration(v) : v === 0 ? 0 : undefined;
  if (ms !== undefined && (ms === 0 || (ms >= 1000 && ms <= MAX_SYS_INTERVAL_MS))) return ms;
  const shown = ms !== undefined ? `${describe(v)} (${ms} ms)` : describe(v);
  errors.push(`${path}: must be a duration from "1s" to "1h" such as "10s", or 0 (not published); got ${shown}`);
  return undefined;
};

export const validateSys: SectionValidator<SysConfig> = (path, raw, base, errors) => {
  // The file says `interval: 10s`; the validated form carries the unit in its name.
  const out = validateSection(path, raw, { interval: base.intervalMs }, { interval: sysIntervalRule }, errors);
  return { intervalMs: out.interval };
};

export const validateMetrics: SectionValidator<MetricsConfig> = (path, raw, base, errors) =>
  validateSection(path, raw, base, { enabled: boolRule }, errors);
