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
import { dirname, resolve } from 'node:path';
import { parseYaml, YamlSyntaxError } from './yaml-parse.js';
import type { ListenerType, WharfConfig } from './types.js';
import { defaultConfig } from './types.js';
import { PORT_RULE, intFromText, type Rule } from './rules.js';
import { DATA_DIR_RULE, LOG_LEVEL_RULE, conflictMessage, findListenerConflicts } from './sections.js';
import { validateConfig } from './validate.js';
import { loadBoard } from './boards.js';
import { isMapping } from './rules.js';
import type { SourceLayer } from './provenance.js';
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
  /**
   * Validates `value` (pushing `name: message` on failure) and applies it to `config`; returns the key paths it
   * set (for `wharf config`'s sources).
   */
  apply: (config: WharfConfig, value: unknown, name: string, errors: string[], ports: PortSources) => string[];
}

function setting<T>(rule: Rule<T>, paths: string[], set: (config: WharfConfig, value: T) => void): OverrideSpec['apply'] {
  return (config, value, name, errors) => {
    const v = rule(name, value, errors);
    if (v === undefined) return [];
    set(config, v);
    return paths;
  };
}

function listenerPort(type: ListenerType): OverrideSpec['apply'] {
  return (config, value, name, errors, ports) => {
    const port = PORT_RULE(name, value, errors);
    if (port === undefined) return [];
    const i = config.listeners.findIndex((l) => l.type === type);
    if (i < 0) {
      const have = config.listeners.map((l) => `${l.type} on ${l.port}`).join(', ');
      errors.push(`${name}: sets the port of the first ${type} listener, but none is configured (listeners: ${have})`);
      return [];
    }
    config.listeners[i]!.port = port;
    ports.set(i, name);
    return [`listeners[${i}].port`];
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
    apply: setting(DATA_DIR_RULE, ['storage.dataDir'], (c, v) => (c.storage.dataDir = v)),
  },
  {
    key: 'logLevel',
    env: 'WHARF_LOG_LEVEL',
    flag: '--log-level',
    fromText: (t) => t,
    apply: setting(LOG_LEVEL_RULE, ['log.level'], (c, v) => (c.log.level = v)),
  },
  {
    key: 'admin',
    env: 'WHARF_ADMIN',
    flag: '--admin',
    fromText: (t) => t,
    // Naming an address asks for the API, even where the file turned it off.
    apply: setting(ADMIN_LISTEN_RULE, ['admin.listen', 'admin.enabled'], (c, v) => ((c.admin.listen = v), (c.admin.enabled = true))),
  },
  {
    key: 'adminToken',
    env: 'WHARF_ADMIN_TOKEN',
    flag: '--admin-token',
    fromText: (t) => t,
    apply: setting(ADMIN_TOKEN_RULE, ['admin.token'], (c, v) => (c.admin.token = v)),
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
    return parseYaml(text, { prettyErrors: true });
  } catch (err) {
    if (!(err instanceof YamlSyntaxError)) throw err;
    throw new ConfigError([describeYamlError(err)], file);
  }
}

/** "line 3, column 7: YAML syntax error: <reason>" followed by yaml's excerpt with a caret. */
function describeYamlError(err: YamlSyntaxError): string {
  const [first = '', ...rest] = err.message.split('\n');
  const reason = first.replace(/ at line \d+, column \d+:?$/, '');
  const pos = err.linePos?.[0];
  const where = pos ? `line ${pos.line}, column ${pos.col}: ` : '';
  const excerpt = rest.join('\n').replace(/^\n+|\s+$/g, '');
  return `${where}YAML syntax error: ${reason}${excerpt ? `\n${excerpt}` : ''}`;
}

/** The effective configuration with what it was made of. */
export interface LoadedConfig {
  config: WharfConfig;
  file: string | undefined;
  /** The board profile the file named (`board:`), applied under the file's own values. */
  board: { name: string; description: string } | undefined;
  /** Key path -> the environment variable or option that set it last. */
  overridden: Map<string, string>;
  /** The parsed file and the profile, for telling which of them set a key (see provenance.ts). */
  layers: SourceLayer[];
}

/**
 * Builds the configuration from file, environment and flags (in increasing precedence).
 * Throws ConfigError listing every problem found.
 */
export function loadConfig(opts: LoadOptions = {}): WharfConfig {
  return loadConfigWithSources(opts).config;
}

/** loadConfig, also saying which board profile was applied and where each value came from. */
export function loadConfigWithSources(opts: LoadOptions = {}): LoadedConfig {
  const { file, env = process.env, overrides = {} } = opts;
  const raw = file === undefined ? undefined : readYaml(file);
  // Relative paths in the file (devices' include:) are relative to the file, wherever wharf was started.
  const result = validateConfig(raw, { baseDir: file === undefined ? undefined : dirname(resolve(file)) });
  const fileOk = 'config' in result;
  const errors = fileOk ? [] : [...result.errors];
  // With a broken file, overrides are still checked (against the default) so all errors show at once.
  const config = fileOk ? result.config : defaultConfig();

  const ports: PortSources = new Map();
  const overridden = new Map<string, string>();
  let adminSource = 'admin.listen';
  for (const spec of OVERRIDES) {
    const text = env[spec.env];
    if (text === undefined || text === '') continue;
    for (const path of spec.apply(config, spec.fromText(text), spec.env, errors, ports)) overridden.set(path, spec.env);
    if (spec.key === 'admin') adminSource = spec.env;
  }
  for (const spec of OVERRIDES) {
    const value = overrides[spec.key];
    if (value === undefined) continue;
    for (const path of spec.apply(config, value, spec.flag, errors, ports)) overridden.set(path, spec.flag);
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
  const layers: SourceLayer[] = [];
  let board: LoadedConfig['board'];
  if (isMapping(raw)) {
    const { board: boardName, ...own } = raw;
    if (typeof boardName === 'string') {
      // validateConfig accepted it, so it loads.
      const profile = loadBoard(boardName, [])!;
      board = { name: profile.name, description: profile.description };
      layers.push({ source: `board ${profile.name}`, raw: profile.config });
    }
    layers.push({ source: `file ${file}`, raw: own });
  }
  return { config, file, board, overridden, layers };
}
