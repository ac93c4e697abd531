import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HELP_TEXT, parseArgs } from '../../src/cli/args.js';

const HINT = '; run "wharf --help" for usage';

test('no command shows help', () => {
  assert.equal(parseArgs([]), { command: 'help', text: HELP_TEXT });
});

test('help, --help, -h and start --help show help', () => {
  for (const argv of [['help'], ['--help'], ['-h'], ['start', '--help'], ['start', '--port', '1884', '-h']]) {
    assert.equal(parseArgs(argv), { command: 'help', text: HELP_TEXT }, argv.join(' '));
  }
});

test('--version prints the version', () => {
  assert.equal(parseArgs(['--version']), { command: 'version' });
});

test('start with no options', () => {
  assert.equal(parseArgs(['start']), { command: 'start' });
});

test('start with every long option', () => {
  assert.equal(
    parseArgs(['start', '--config', 'w.yaml', '--port', '1884', '--ws-port', '9001', '--data', '/d', '--log-level', 'debug']),
    { command: 'start', config: 'w.yaml', port: 1884, wsPort: 9001, data: '/d', logLevel: 'debug' },
  );
});

test('start with short options -c and -p', () => {
  assert.equal(parseArgs(['start', '-c', '/etc/wharf.yaml', '-p', '1884']), {
    command: 'start',
    config: '/etc/wharf.yaml',
    port: 1884,
  });
});

test('start with --opt=value form', () => {
  assert.equal(
    parseArgs(['start', '--config=w.yaml', '--port=1884', '--ws-port=9001', '--data=/a=b', '--log-level=warn']),
    { command: 'start', config: 'w.yaml', port: 1884, wsPort: 9001, data: '/a=b', logLevel: 'warn' },
  );
});

test('a repeated option: the last one wins', () => {
  assert.equal(parseArgs(['start', '-p', '1', '--port', '2']), { command: 'start', port: 2 });
});

test('the log level is passed through for loadConfig to validate', () => {
  assert.equal(parseArgs(['start', '--log-level', 'loud']), { command: 'start', logLevel: 'loud' });
});

test('an unknown option is an error naming it', () => {
  assert.equal(parseArgs(['start', '--verbose']), { command: 'error', message: `unknown option "--verbose"${HINT}` });
  assert.equal(parseArgs(['start', '--prot=1884']), { command: 'error', message: `unknown option "--prot"${HINT}` });
  assert.equal(parseArgs(['start', '-x']), { command: 'error', message: `unknown option "-x"${HINT}` });
  assert.equal(parseArgs(['--verbose']), { command: 'error', message: `unknown option "--verbose"${HINT}` });
});

test('a missing value is an error naming the option', () => {
  assert.equal(parseArgs(['start', '--config']), {
    command: 'error',
    message: `option --config needs a value (FILE)${HINT}`,
  });
  assert.equal(parseArgs(['start', '-p', '--data', '/d']), {
    command: 'error',
    message: `option --port needs a value (a port number)${HINT}`,
  });
  assert.equal(parseArgs(['start', '--data=']), { command: 'error', message: `option --data needs a value (DIR)${HINT}` });
  assert.equal(parseArgs(['start', '--log-level', '-c', 'x']), {
    command: 'error',
    message: `option --log-level needs a value (LEVEL)${HINT}`,
  });
});

test('a port that is not an integer 1-65535 is an error', () => {
  assert.equal(parseArgs(['start', '--port', 'abc']), {
    command: 'error',
    message: `--port: must be an integer 1-65535; got "abc"${HINT}`,
  });
  assert.equal(parseArgs(['start', '--ws-port=0']), {
    command: 'error',
    message: `--ws-port: must be an integer 1-65535; got 0${HINT}`,
  });
  assert.equal(parseArgs(['start', '-p', '-1']), {
    command: 'error',
    message: `--port: must be an integer 1-65535; got "-1"${HINT}`,
  });
  assert.equal(parseArgs(['start', '-p', '18.83']), {
    command: 'error',
    message: `--port: must be an integer 1-65535; got "18.83"${HINT}`,
  });
});

test('an unknown command is an error naming it', () => {
  assert.equal(parseArgs(['stop']), { command: 'error', message: `unknown command "stop" (commands: start, config, status, queues, clients, sessions, retained, devices, bridges, passwd, doctor, boards, help)${HINT}` });
});

test('a stray argument after start is an error', () => {
  assert.equal(parseArgs(['start', 'wharf.yaml']), { command: 'error', message: `unexpected argument "wharf.yaml"${HINT}` });
});

test('options without a command: an error asking for the command', () => {
  assert.equal(parseArgs(['-c', 'w.yaml']), {
    command: 'error',
    message: `no command after the options, as in "wharf -c w.yaml start" (commands: start, config, status, queues, clients, sessions, retained, devices, bridges, passwd, doctor, boards, help)${HINT}`,
  });
});

test('global options before the command are the command\'s options (wharf --admin X queues)', () => {
  assert.equal(parseArgs(['--admin', '127.0.0.1:18084', 'queues']), { command: 'client', resource: 'queues', action: 'list', settings: {}, json: false, admin: '127.0.0.1:18084' });
  assert.equal(parseArgs(['--json', '--token=t', 'status']), { command: 'client', resource: 'status', action: 'show', settings: {}, json: true, token: 't' });
  assert.equal(parseArgs(['-c', 'w.yaml', '--port', '1884', 'start', '--data', '/d']), { command: 'start', config: 'w.yaml', port: 1884, data: '/d' });
  assert.equal(parseArgs(['--admin', '127.0.0.1:1', 'queues', 'peek', 'jobs', '-n', '3']), {
    command: 'client',
    resource: 'queues',
    action: 'peek',
    target: 'jobs',
    settings: {},
    json: false,
    admin: '127.0.0.1:1',
    limit: 3,
  });
  // An option before the command still has to be one the command takes.
  assert.equal(parseArgs(['--port', '1884', 'queues']), { command: 'error', message: `unknown option "--port"${HINT}` });
});

test('config takes the options of start and --json', () => {
  assert.equal(parseArgs(['config']), { command: 'config', json: false });
  assert.equal(parseArgs(['config', '-c', 'w.yaml', '--json', '--data', '/d']), { command: 'config', json: true, config: 'w.yaml', data: '/d' });
  assert.equal(parseArgs(['--json', 'config']), { command: 'config', json: true });
  assert.equal(parseArgs(['start', '--json']), { command: 'error', message: `unknown option "--json"${HINT}` });
});

test('the help text covers every option, environment variable and the embedded default', () => {
  for (const s of [
    'wharf start',
    '--config FILE',
    '-c,',
    '--port N',
    '-p,',
    '--ws-port N',
    '--data DIR',
    '--log-level LEVEL',
    '--help',
    '--version',
    '--port=1884',
    'WHARF_PORT',
    'WHARF_WS_PORT',
    'WHARF_DATA_DIR',
    'WHARF_LOG_LEVEL',
    'port 1883',
    'port 8083',
    '/mqtt',
    './data',
    'configuration file < environment variables < command-line options',
  ]) {
    assert.ok(HELP_TEXT.includes(s), `help text mentions ${s}`);
  }
});

test('passwd takes FILE and USER, never a password', () => {
  assert.equal(parseArgs(['passwd', '/etc/wharf/passwd', 'sensor-1']), { command: 'passwd', file: '/etc/wharf/passwd', user: 'sensor-1' });
  assert.equal((parseArgs(['passwd', 'f', 'u', 'secret']) as { command: string }).command, 'error');
  assert.equal((parseArgs(['passwd', 'f']) as { command: string }).command, 'error');
});

test.run();
