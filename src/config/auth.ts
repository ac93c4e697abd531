// The `auth` section (password file, ACL file, anonymous access) and the listeners' client-certificate keys
// (requireCertificate, useIdentityAsUsername), validated with key-path errors.

import type { AuthConfig, ListenerType, WharfConfig } from './types.js';
import type { SectionValidator } from './sections.js';
import { boolRule, describe, stringRule, validateSection, type Rule, type RuleTable } from './rules.js';
import { isLoopbackHost } from './monitoring.js';

const optionalPath = (what: string): Rule<string | undefined> => {
  const rule = stringRule(what);
  return (path, v, errors) => (v === null ? undefined : rule(path, v, errors));
};

const AUTH_RULES: RuleTable<AuthConfig> = {
  allowAnonymous: boolRule,
  passwordFile: optionalPath('path of a Mosquitto-format password file (wharf passwd FILE USER writes one)'),
  aclFile: optionalPath('path of a Mosquitto-format ACL file'),
};

export const validateAuth: SectionValidator<AuthConfig> = (path, raw, base, errors) => validateSection(path, raw, base, AUTH_RULES, errors);

/** `requireCertificate` and `useIdentityAsUsername` of one listener; both only on tls/wss, the first needs `ca`. */
export function validateClientCertificates(
  path: string,
  raw: Record<string, unknown>,
  type: ListenerType | undefined,
  hasCa: boolean,
  errors: string[],
): { requireCertificate?: boolean; useIdentityAsUsername?: boolean } {
  const out: { requireCertificate?: boolean; useIdentityAsUsername?: boolean } = {};
  for (const key of ['requireCertificate', 'useIdentityAsUsername'] as const) {
    if (!Object.prototype.hasOwnProperty.call(raw, key)) continue;
    if (type !== undefined && type !== 'tls' && type !== 'wss') {
      errors.push(`${path}.${key}: only allowed on tls and wss listeners; this listener is ${type}`);
      continue;
    }
    const v = boolRule(`${path}.${key}`, raw[key], errors);
    if (v !== undefined) out[key] = v;
  }
  if (out.requireCertificate === true && !hasCa) {
    errors.push(`${path}.requireCertificate: needs ${path}.ca, the PEM bundle of the CA that signs client certificates`);
  }
  if (out.useIdentityAsUsername === true && out.requireCertificate !== true) {
    errors.push(`${path}.useIdentityAsUsername: needs ${path}.requireCertificate: true (the identity comes from the client certificate); got ${describe(raw.requireCertificate)}`);
  }
  return out;
}

/**
 * Whether clients without a user name may connect: auth.allowAnonymous when set; otherwise true, unless a
 * password file or client certificates are configured (then a first try keeps working only where nothing asks
 * for credentials).
 */
export function anonymousAllowed(config: WharfConfig): boolean {
  if (config.auth.allowAnonymous !== undefined) return config.auth.allowAnonymous;
  if (config.auth.passwordFile !== undefined) return false;
  return !config.listeners.some((l) => l.requireCertificate === true);
}

/** The listeners reachable off the gateway that accept anonymous clients: each gets a warning at start. */
export function anonymousNetworkListeners(config: WharfConfig): string[] {
  if (!anonymousAllowed(config)) return [];
  return config.listeners.filter((l) => !isLoopbackHost(l.host) && l.useIdentityAsUsername !== true).map((l) => `${l.type} ${l.host}:${l.port}`);
}
