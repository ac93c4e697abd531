import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, type LoadOptions } from '../../src/config/load.js';
import { defaultConfig } from '../../src/config/types.js';

let dir = '';

test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'wharf-load-test-'));
});

test.after(() => {
  rmSync(dir, { recursive: true, force: true });
});

let fileCount = 0;
function yamlFile(text: string): string {
  const file = join(dir, `config-${++fileCount}.yaml`);
  writeFileSync(file, text);
  return file;
}

function loadError(opts: LoadOptions): ConfigError {
  try {
    loadConfig(opts);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected loadConfig to throw a ConfigError');
}

test('no file, no environment and no overrides give the embedded default', () => {
  assert.equal(loadConfig({ env: {} }), defaultConfig());
});

test('a YAML file is validated and merged over the defaults', () => {
  const file = yamlFile(`
listeners:
  - type: tcp
    port: 1884
  - type: ws
    host: 127.0.0.1
    port: 9001
    path: /ws
storage:
  dataDir: /var/lib/wharf
mqtt:
  maxPacketSize: 256KiB
  receiveMaximum: 50
log:
  level: warn
`);
  const c = loadConfig({ file, env: {} });
  assert.equal(c, {
    listeners: [
      { type: 'tcp', host: '0.0.0.0', port: 1884, path: '/mqtt' },
      { type: 'ws', host: '127.0.0.1', port: 9001, path: '/ws' },
    ],
    storage: { ...defaultConfig().storage, dataDir: '/var/lib/wharf' },
    mqtt: { ...defaultConfig().mqtt, maxPacketSize: 262144, receiveMaximum: 50 },
    log: { level: 'warn' },
    queues: defaultConfig().queues,
    admin: defaultConfig().admin,
    sys: defaultConfig().sys,
    metrics: defaultConfig().metrics,
    buses: [],
    devices: [],
    auth: defaultConfig().auth,
    bridges: [],
  });
});

test('an empty file or a file of comments gives the embedded default', () => {
  assert.equal(loadConfig({ file: yamlFile(''), env: {} }), defaultConfig());
  assert.equal(loadConfig({ file: yamlFile('# nothing here\n# mqtt:\n'), env: {} }), defaultConfig());
});

test('a missing file is a ConfigError naming the path', () => {
  const file = join(dir, 'does-not-exist.yaml');
  const err = loadError({ file, env: {} });
  assert.is(err.message, `config file not found: ${file}`);
  assert.equal(err.errors, [`config file not found: ${file}`]);
});

test('a directory given as the file is a ConfigError', () => {
  const err = loadError({ file: dir, env: {} });
  assert.is(err.message, `cannot read config file ${dir}: it is a directory`);
});

test('a YAML syntax error names the file, line and column', () => {
  const file = yamlFile('log:\n  level: info\nmqtt:\n  receiveMaximum: [1, 2\n');
  const err = loadError({ file, env: {} });
  assert.is(err.errors.length, 1);
  assert.ok(err.errors[0]!.startsWith('line 5, column 1: YAML syntax error: '), err.errors[0]);
  assert.ok(err.message.startsWith(`invalid configuration in ${file}:\n  - line 5, column 1: YAML syntax error: `));
});

test('a YAML syntax error message shows the offending line with a caret', () => {
  const file = yamlFile('log: level: info\n');
  const err = loadError({ file, env: {} });
  assert.is(
    err.message,
    `invalid configuration in ${file}:\n` +
      '  - line 1, column 6: YAML syntax error: Nested mappings are not allowed in compact mappings\n' +
      '    log: level: info\n' +
      '         ^',
  );
});

test('a duplicate key is a YAML error with its line', () => {
  const err = loadError({ file: yamlFile('log:\n  level: info\nlog:\n  level: debug\n'), env: {} });
  assert.ok(err.errors[0]!.startsWith('line 3, column 1: YAML syntax error: Map keys must be unique'), err.errors[0]);
});

test('all validation errors in a file are collected into one multi-line message', () => {
  const file = yamlFile(`
listeners:
  - type: tcp
    port: abc
mqtt:
  maxPakcetSize: 1000
log:
  level: loud
`);
  const err = loadError({ file, env: {} });
  assert.equal(err.errors, [
    'listeners[0].port: must be an integer 1-65535; got "abc"',
    'mqtt.maxPakcetSize: unknown key (allowed: maxPacketSize, receiveMaximum, topicAliasMaximum, maxKeepAlive, ' +
      'maxSessionExpiryInterval, maxQueuedMessages, maxSubscriptionsPerSession, allowEmptyClientId, maxClientIdLength, ' +
      'maxRetainedMessages, maxSocketBufferBytes, maxConnections, connectTimeout, maxPendingConnectionsPerAddress)',
    'log.level: expected one of debug, info, warn, error, silent; got "loud"',
  ]);
  assert.is(err.file, file);
  assert.is(err.message, [`invalid configuration in ${file}:`, ...err.errors.map((e) => `  - ${e}`)].join('\n'));
  assert.instance(err, Error);
  assert.is(err.name, 'ConfigError');
});

test('environment variables override the file', () => {
  const file = yamlFile('storage:\n  dataDir: /from/file\nlog:\n  level: warn\n');
  const c = loadConfig({
    file,
    env: { WHARF_PORT: '1884', WHARF_WS_PORT: '9001', WHARF_DATA_DIR: '/from/env', WHARF_LOG_LEVEL: 'debug' },
  });
  assert.equal(c.listeners.map((l) => [l.type, l.port]), [['tcp', 1884], ['ws', 9001]]);
  assert.is(c.storage.dataDir, '/from/env');
  assert.is(c.log.level, 'debug');
});

test('command-line overrides win over environment variables', () => {
  const c = loadConfig({
    env: { WHARF_PORT: '1884', WHARF_WS_PORT: '9001', WHARF_DATA_DIR: '/from/env', WHARF_LOG_LEVEL: 'debug' },
    overrides: { port: 1885, wsPort: 9002, dataDir: '/from/flag', logLevel: 'error' },
  });
  assert.equal(c.listeners.map((l) => [l.type, l.port]), [['tcp', 1885], ['ws', 9002]]);
  assert.is(c.storage.dataDir, '/from/flag');
  assert.is(c.log.level, 'error');
});

test('an override only changes what it names; the rest comes from the file', () => {
  const file = yamlFile('storage:\n  dataDir: /from/file\nlog:\n  level: warn\n');
  const c = loadConfig({ file, env: { WHARF_LOG_LEVEL: 'debug' }, overrides: { port: 1999 } });
  assert.is(c.storage.dataDir, '/from/file');
  assert.is(c.log.level, 'debug');
  assert.equal(c.listeners.map((l) => l.port), [1999, 8083]);
});

test('empty environment variables are ignored', () => {
  const c = loadConfig({ env: { WHARF_PORT: '', WHARF_WS_PORT: '', WHARF_DATA_DIR: '', WHARF_LOG_LEVEL: '' } });
  assert.equal(c, defaultConfig());
});

test('port overrides set the first listener of their type', () => {
  const file = yamlFile(`
listeners:
  - { type: ws, port: 9001 }
  - { type: tcp, port: 1883, host: 127.0.0.1 }
  - { type: tcp, port: 1884, host: 127.0.0.1 }
`);
  const c = loadConfig({ file, env: { WHARF_PORT: '2883', WHARF_WS_PORT: '9002' } });
  assert.equal(c.listeners.map((l) => [l.type, l.port]), [['ws', 9002], ['tcp', 2883], ['tcp', 1884]]);
});

test('invalid environment variables are reported with the variable name', () => {
  const err = loadError({
    env: { WHARF_PORT: 'x', WHARF_WS_PORT: '70000', WHARF_LOG_LEVEL: 'loud' },
  });
  assert.equal(err.errors, [
    'WHARF_PORT: must be an integer 1-65535; got "x"',
    'WHARF_WS_PORT: must be an integer 1-65535; got 70000',
    'WHARF_LOG_LEVEL: expected one of debug, info, warn, error, silent; got "loud"',
  ]);
  assert.is(
    err.message,
    'invalid configuration:\n' +
      '  - WHARF_PORT: must be an integer 1-65535; got "x"\n' +
      '  - WHARF_WS_PORT: must be an integer 1-65535; got 70000\n' +
      '  - WHARF_LOG_LEVEL: expected one of debug, info, warn, error, silent; got "loud"',
  );
});

test('invalid command-line overrides are reported with the flag name', () => {
  const err = loadError({ env: {}, overrides: { port: 0, wsPort: 1.5, dataDir: '', logLevel: 'LOUD' } });
  assert.equal(err.errors, [
    '--port: must be an integer 1-65535; got 0',
    '--ws-port: must be an integer 1-65535; got 1.5',
    '--data: must be a non-empty string (a directory path); got ""',
    '--log-level: expected one of debug, info, warn, error, silent; got "LOUD"',
  ]);
});

test('file, environment and flag errors are reported together', () => {
  const file = yamlFile('log:\n  level: loud\n');
  const err = loadError({ file, env: { WHARF_PORT: 'x' }, overrides: { logLevel: 'nope' } });
  assert.equal(err.errors, [
    'log.level: expected one of debug, info, warn, error, silent; got "loud"',
    'WHARF_PORT: must be an integer 1-65535; got "x"',
    '--log-level: expected one of debug, info, warn, error, silent; got "nope"',
  ]);
});

test('a port override with no listener of that type is an error', () => {
  const file = yamlFile('listeners:\n  - { type: ws, port: 9001 }\n');
  const err = loadError({ file, env: { WHARF_PORT: '1884' } });
  assert.equal(err.errors, [
    'WHARF_PORT: sets the port of the first tcp listener, but none is configured (listeners: ws on 9001)',
  ]);
});

test('a port override that clashes with another listener is an error naming the override', () => {
  assert.equal(loadError({ env: { WHARF_PORT: '8083' } }).errors, [
    'WHARF_PORT: port 8083 on host 0.0.0.0 is already used by listeners[1] (ws)',
  ]);
  assert.equal(loadError({ env: {}, overrides: { wsPort: 1883 } }).errors, [
    '--ws-port: port 1883 on host 0.0.0.0 is already used by listeners[0] (tcp)',
  ]);
});

test('swapping both ports through overrides does not clash', () => {
  const c = loadConfig({ env: { WHARF_PORT: '8083' }, overrides: { wsPort: 1883 } });
  assert.equal(c.listeners.map((l) => [l.type, l.port]), [['tcp', 8083], ['ws', 1883]]);
});

test('env defaults to process.env', () => {
  const saved = process.env.WHARF_LOG_LEVEL;
  process.env.WHARF_LOG_LEVEL = 'silent';
  try {
    assert.is(loadConfig({}).log.level, 'silent');
  } finally {
    if (saved === undefined) delete process.env.WHARF_LOG_LEVEL;
    else process.env.WHARF_LOG_LEVEL = saved;
  }
});

test.run();
