// Command-line parsing for the `wharf` executable. Hand-parsed to keep the messages plain.

import { PORT_RULE, intFromText } from '../config/rules.js';
import { isResource, parseClientArgs, type ClientArgs } from './client-args.js';
import { EXIT_CODES_TEXT } from './exit-codes.js';
import { parsePasswdArgs, type PasswdArgs } from './commands/passwd-args.js';
import { DOCTOR_HELP, parseBoardsArgs, parseDoctorArgs, type BoardsArgs, type DoctorArgs } from './commands/doctor-args.js';

export interface StartArgs {
  config?: string;
  port?: number;
  wsPort?: number;
  data?: string;
  logLevel?: string;
  admin?: string;
}

export type ParsedArgs =
  | ({ command: 'start' } & StartArgs)
  | ({ command: 'config'; json: boolean } & StartArgs)
  | ClientArgs
  | PasswdArgs
  | DoctorArgs
  | BoardsArgs
  | { command: 'help'; text: string }
  | { command: 'version' }
  | { command: 'error'; message: string };

export const HELP_TEXT = `wharf - MQTT broker for edge gateways

Usage:
  wharf start [options]     run the broker
  wharf status              a running broker's figures and health
  wharf queues [ACTION]     list (default), show NAME, create NAME key=value...,
                            update NAME key=value..., delete NAME, purge NAME,
                            peek NAME [-n N]
  wharf clients [ACTION]    list (default), show ID, disconnect ID
  wharf sessions [ACTION]   list (default), show ID, delete ID
  wharf retained [ACTION]   list [--filter F] (default), delete TOPIC
  wharf devices [ACTION]    field devices and buses: list (default), show NAME
  wharf bridges [ACTION]    list (default), show NAME: upstream bridges, outbox, health
  wharf passwd FILE USER    add or change USER in a Mosquitto-format password file
                            (the password is asked for, or read from stdin)
  wharf config [options]    the effective configuration (board profile, file,
                            environment, options) and where each value came from;
                            takes the options of "wharf start" and --json
  wharf doctor [options]    check this gateway: data directory storage (fsync
                            latency, write rate, flushes), write estimate, board
                            profile, configuration, serial ports, clock
  wharf boards [--json]     the board profiles, their serial ports and commit windows
  wharf help                show this help (also: wharf --help, wharf start --help)
  wharf --version           print the version

Options for "wharf start":
  -c, --config FILE       YAML configuration file. Without it Wharf runs with the
                          embedded default (see below).
  -p, --port N            port of the MQTT (tcp) listener; with several, the first one.
      --ws-port N         port of the MQTT-over-WebSocket (ws) listener; with several,
                          the first one.
      --data DIR          directory for sessions, queued and retained messages
                          (storage.dataDir). Must be writable and should survive reboots.
      --log-level LEVEL   debug, info, warn, error or silent (log.level).
      --admin HOST:PORT   address of the admin HTTP API (admin.listen; default
                          127.0.0.1:18083). Off loopback it needs admin.token.
  -h, --help              show this help.
Options also take the form --port=1884, and may come before the command
(wharf --admin 127.0.0.1:18084 queues).

Options of status, queues, clients, sessions, retained, devices, bridges (they use the admin API):
      --admin HOST:PORT   where the broker's admin API listens (default
                          127.0.0.1:18083, or WHARF_ADMIN).
      --token TOKEN       bearer token (admin.token; or WHARF_ADMIN_TOKEN).
      --json              print the API's JSON answer instead of a table.
  -n, --limit N           peek: messages to show (default 10); retained list: topics.
      --filter F          retained list: topic filter (default #).
Queue settings are written as in the configuration file, e.g.
  wharf queues create orders topicFilter=orders/# maxMessages=100000 retention=7d
  wharf queues update orders consumerInflight=4 ackTimeout=30s

${DOCTOR_HELP}
${EXIT_CODES_TEXT}
Environment variables (same meaning as the options; an empty value is ignored):
  WHARF_PORT         like --port
  WHARF_WS_PORT      like --ws-port
  WHARF_DATA_DIR     like --data
  WHARF_LOG_LEVEL    like --log-level
  WHARF_CONFIG       like --config
  WHARF_ADMIN        like --admin (start and the commands using the admin API)
  WHARF_ADMIN_TOKEN  admin.token for start; the token the other commands send

Precedence: configuration file < environment variables < command-line options.

Embedded default (no --config):
  MQTT over TCP        port 1883 on all interfaces (0.0.0.0)
  MQTT over WebSocket  port 8083 on all interfaces, URL path /mqtt
  data directory       ./data (relative to the directory wharf is started in)
  log level            info
  admin HTTP API       127.0.0.1:18083 (loopback only): /metrics, /healthz, /api/v1

Examples:
  wharf start
  wharf start --config /etc/wharf/wharf.yaml
  wharf start --port 1884 --data /var/lib/wharf --log-level debug
`;

interface OptionSpec {
  key: 'config' | 'port' | 'wsPort' | 'data' | 'logLevel' | 'admin';
  long: string;
  short?: string;
  /** Describes the expected value in "needs a value" messages. */
  value: string;
}

const OPTIONS: readonly OptionSpec[] = [
  { key: 'config', long: '--config', short: '-c', value: 'FILE' },
  { key: 'port', long: '--port', short: '-p', value: 'a port number' },
  { key: 'wsPort', long: '--ws-port', value: 'a port number' },
  { key: 'data', long: '--data', value: 'DIR' },
  { key: 'logLevel', long: '--log-level', value: 'LEVEL' },
  { key: 'admin', long: '--admin', value: 'HOST:PORT' },
];

const HELP_FLAGS = ['--help', '-h'];
const VERSION_FLAGS = ['--version'];
const HINT = 'run "wharf --help" for usage';

function findOption(name: string): OptionSpec | undefined {
  return OPTIONS.find((o) => o.long === name || o.short === name);
}

/** True for a token that is an option rather than a value: a known short option, or anything starting with "--". */
function looksLikeOption(token: string): boolean {
  return token.startsWith('--') || findOption(token) !== undefined || HELP_FLAGS.includes(token);
}

function error(message: string): ParsedArgs {
  return { command: 'error', message: `${message}; ${HINT}` };
}

function parseStart(args: string[], command: 'start' | 'config'): ParsedArgs {
  const out: StartArgs = {};
  let asJson = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (HELP_FLAGS.includes(arg)) return { command: 'help', text: HELP_TEXT };
    if (VERSION_FLAGS.includes(arg)) return { command: 'version' };
    if (!arg.startsWith('-') || arg === '-') return error(`unexpected argument "${arg}"`);
    if (command === 'config' && arg === '--json') {
      asJson = true;
      continue;
    }

    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    const spec = findOption(name);
    if (!spec) return error(`unknown option "${name}"`);

    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (i + 1 < args.length && !looksLikeOption(args[i + 1]!)) value = args[++i];
    if (value === undefined || value === '') return error(`option ${spec.long} needs a value (${spec.value})`);

    if (spec.key === 'port' || spec.key === 'wsPort') {
      const errors: string[] = [];
      const port = PORT_RULE(spec.long, intFromText(value), errors);
      if (port === undefined) return error(errors[0]!);
      out[spec.key] = port;
    } else {
      out[spec.key] = value;
    }
  }
  return command === 'config' ? { command, json: asJson, ...out } : { command, ...out };
}

/** Options of any command that take a value (the rest are flags): how far a leading option reaches. */
const VALUE_OPTIONS = new Set([...OPTIONS.flatMap((o) => (o.short ? [o.long, o.short] : [o.long])), '--token', '--filter', '-n', '--limit', '--rate', '--payload-bytes', '--crash-rounds']);

/**
 * Splits `wharf [options] COMMAND [args]` into the command word and its arguments, options given before the
 * command moved behind it (where the command's own parser checks them). Undefined when no command word is found.
 */
function hoistLeadingOptions(argv: string[]): { command: string; rest: string[] } | undefined {
  const leading: string[] = [];
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith('-') && argv[i] !== '-') {
    const arg = argv[i++]!;
    leading.push(arg);
    if (!arg.includes('=') && VALUE_OPTIONS.has(arg) && i < argv.length) leading.push(argv[i++]!);
  }
  if (i >= argv.length) return undefined;
  return { command: argv[i]!, rest: [...leading, ...argv.slice(i + 1)] };
}

const COMMANDS = 'start, config, status, queues, clients, sessions, retained, devices, bridges, passwd, doctor, boards, help';

/** Parses the command line, without the node executable and script: `process.argv.slice(2)`. */
export function parseArgs(argv: string[]): ParsedArgs {
  if (argv.length === 0 || argv.some((a) => HELP_FLAGS.includes(a)) || argv[0] === 'help') return { command: 'help', text: HELP_TEXT };
  if (argv[0] === 'version' || argv.some((a) => VERSION_FLAGS.includes(a))) return { command: 'version' };
  const split = hoistLeadingOptions(argv);
  if (split === undefined) {
    const name = argv[0]!.split('=')[0]!;
    const known = VALUE_OPTIONS.has(name) || name === '--json';
    return known ? error(`no command after the options, as in "wharf ${argv.join(' ')} start" (commands: ${COMMANDS})`) : error(`unknown option "${name}"`);
  }
  const { command, rest } = split;
  if (command === 'start' || command === 'config') return parseStart(rest, command);
  if (command === 'passwd') {
    const parsed = parsePasswdArgs(rest);
    return typeof parsed === 'string' ? error(parsed) : parsed;
  }
  if (command === 'doctor' || command === 'boards') {
    const parsed = command === 'doctor' ? parseDoctorArgs(rest) : parseBoardsArgs(rest);
    return 'error' in parsed ? error(parsed.error) : parsed;
  }
  if (isResource(command)) {
    const parsed = parseClientArgs(command, rest);
    return parsed.command === 'error' ? error(parsed.message) : parsed;
  }
  return error(`unknown command "${command}" (commands: ${COMMANDS})`);
}
