// Loads Wharf's configuration: the YAML file (or the embedded default when there is none), then
// environment variables, then command-line flags; later sources win. Every value from every
// source is validated, and all problems are reported together in one ConfigError.
//
// Environment variables (an empty value counts as unset):
//   WHARF_PORT        port of the first tcp listener          (flag --port)
//   WHARF_WS_PORT     port of the first ws listener           (flag --ws-port)
//   WHARF_DATA_DIR    storage.dataDir                         (flag --data)
//   WHARF_LOG_LEVEL   log.level: debug|info|warn|error|silent (flag --log-level)
//   WHARF_ADMIN       admin.listen, HOST:PORT                 (flag --admin)
//   WHARF_ADMIN_TOKEN admin.token                             (no flag: a token on a command line shows in ps)

import { readFileSync } from 'node:fs';
import { parse, YAMLParseError } from 'yaml';
import type { ListenerType, WharfConfig } from './types.js';
import { defaultConfig } from './types.js';
import { PORT_RULE, intFromText, type Rule } from './rules.js';
import { DATA_DIR_RULE, LOG_LEVEL_RULE, conflictMessage, findListenerConflicts } from './sections.js';
import { validateConfig } from './validate.js';
import { ADMIN_LISTEN_RULE, ADMIN_TOKEN_RULE, adminTokenProblem } from './monitoring.js';

export class ConfigError extends Error {
  readonly errors: string[];
  readonly file: string | undefined;

  /** `message` defaults to "invalid configuration[ in FILE]:" followed by one "  - error" line per error. */
  constructor(errors: string[], file?: string, message?: string) {
    super(message ?? ConfigError.format(errors, file));
    this.name = 'ConfigError';
    this.errors = errors;
    this.file = file;
  }

  static format(errors: string[], file?: string): string {
    const head = file === undefined ? 'invalid configuration:' : `invalid configuration in ${file}:`;
    const indent = (e: string): string => e.replace(/\n(?=.)/g, '\n    ');
    return [head, ...errors.map((e) => `  - ${indent(e)}`)].join('\n');
  }
}

export interface ConfigOverrides {
  port?: number;
  wsPort?: number;
  dataDir?: string;
  logLevel?: string;
  admin?: string;
  adminToken?: string;
}

export interface LoadOptions {
  /** YAML configuration file; without it the embedded default is the starting point. */
  file?: string;
  /** Environment to read WHARF_* variables from; defaults to process.env. */
  env?: Record<string, string | undefined>;
  /** Command-line flags; they win over the environment. */
  overrides?: ConfigOverrides;
}

/** Where an override came from, for messages: the variable name or the flag. */
type PortSources = Map<number, string>;

interface OverrideSpec {
  key: keyof ConfigOverrides;
  env: string;
  flag: string;
  /** Converts the environment variable's text to the value the rule expects. */
  fromText: (text: string) => unknown;
  /** Validates `value` (pushing `name: message` on failure) and applies it to `config`. */
  apply: (config: WharfConfig, value: unknown, name: string, errors: string[], ports: PortSources) => void;
}

function setting<T>(rule: Rule<T>, set: (config: WharfConfig, value: T) => void): OverrideSpec['apply'] {
  return (config, value, name, errors) => {
    const v = rule(name, value, errors);
    if (v !== undefined) set(config, v);
  };
}

function listenerPort(type: ListenerType): OverrideSpec['apply'] {
  return (config, value, name, errors, ports) => {
    const port = PORT_RULE(name, value, errors);
    if (port === undefined) return;
    const i = config.listeners.findIndex((l) => l.type === type);
    if (i < 0) {
      const have = config.listeners.map((l) => `${l.type} on ${l.port}`).join(', ');
      errors.push(`${name}: sets the port of the first ${type} listener, but none is configured (listeners: ${have})`);
      return;
    }
    config.listeners[i]!.port = port;
    ports.set(i, name);
  };
}

/** The overrides, applied in this order. Adding one is a new row here (and a flag in cli/args.ts). */
export const OVERRIDES: readonly OverrideSpec[] = [
  { key: 'port', env: 'WHARF_PORT', flag: '--port', fromText: intFromText, apply: listenerPort('tcp') },
  { key: 'wsPort', env: 'WHARF_WS_PORT', flag: '--ws-port', fromText: intFromText, apply: listenerPort('ws') },
  {
    key: 'dataDir',
    env: 'WHARF_DATA_DIR',
    flag: '--data',
    fromText: (t) => t,
    apply: setting(DATA_DIR_RULE, (c, v) => (c.storage.dataDir = v)),
  },
  {
    key: 'logLevel',
    env: 'WHARF_LOG_LEVEL',
    flag: '--log-level',
    fromText: (t) => t,
    apply: setting(LOG_LEVEL_RULE, (c, v) => (c.log.level = v)),
  },
  {
    key: 'admin',
    env: 'WHARF_ADMIN',
    flag: '--admin',
    fromText: (t) => t,
    // Naming an address asks for the API, even where the file turned it off.
    apply: setting(ADMIN_LISTEN_RULE, (c, v) => ((c.admin.listen = v), (c.admin.enabled = true))),
  },
  {
    key: 'adminToken',
    env: 'WHARF_ADMIN_TOKEN',
    flag: '--admin-token',
    fromText: (t) => t,
    apply: setting(ADMIN_TOKEN_RULE, (c, v) => (c.admin.token = v)),
  },
];

function readYaml(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConfigError([`config file not found: ${file}`], file, `config file not found: ${file}`);
    const why = code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : String(err);
    const msg = `cannot read config file ${file}: ${why}`;
    throw new ConfigError([msg], file, msg);
  }
  try {
    return parse(text, { prettyErrors: true });
  } catch (err) {
    if (!(err instanceof YAMLParseError)) throw err;
    throw new ConfigError([describeYamlError(err)], file);
  }
}

/** "line 3, column 7: YAML syntax error: <reason>" followed by yaml's excerpt with a caret. */
function describeYamlError(err: YAMLParseError): string {
  const [first = '', ...rest] = err.message.split('\n');
  const reason = first.replace(/ at line \d+, column \d+:?$/, '');
  const pos = err.linePos?.[0];
  const where = pos ? `line ${pos.line}, column ${pos.col}: ` : '';
  const excerpt = rest.join('\n').replace(/^\n+|\s+$/g, '');
  return `${where}YAML syntax error: ${reason}${excerpt ? `\n${excerpt}` : ''}`;
}

/**
 * Builds the configuration from file, environment and flags (in increasing precedence).
 * Throws ConfigError listing every problem found.
 */
export function loadConfig(opts: LoadOptions = {}): WharfConfig {
  const { file, env = process.env, overrides = {} } = opts;
  const result = validateConfig(file === undefined ? undefined : readYaml(file));
  const fileOk = 'config' in result;
  const errors = fileOk ? [] : [...result.errors];
  // With a broken file, overrides are still checked (against the default) so all errors show at once.
  const config = fileOk ? result.config : defaultConfig();

  const ports: PortSources = new Map();
  let adminSource = 'admin.listen';
  for (const spec of OVERRIDES) {
    const text = env[spec.env];
    if (text === undefined || text === '') continue;
    spec.apply(config, spec.fromText(text), spec.env, errors, ports);
    if (spec.key === 'admin') adminSource = spec.env;
  }
  for (const spec of OVERRIDES) {
    const value = overrides[spec.key];
    if (value === undefined) continue;
    spec.apply(config, value, spec.flag, errors, ports);
    if (spec.key === 'admin') adminSource = spec.flag;
  }
  const tokenProblem = adminTokenProblem(config.admin, adminSource);
  if (tokenProblem !== undefined) errors.push(tokenProblem);

  if (fileOk && ports.size > 0) {
    for (const pair of findListenerConflicts(config.listeners)) {
      // Name the override that caused the clash; a clash between two file listeners can't occur here.
      const subject = ports.has(pair[1]) ? pair[1] : pair[0];
      errors.push(conflictMessage(ports.get(subject) ?? `listeners[${subject}].port`, config.listeners, pair, subject));
    }
  }

  if (errors.length > 0) throw new ConfigError(errors, file);
  return config;
}
