import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { validateConfig } from '../../src/config/validate.js';
import { parseSize } from '../../src/config/rules.js';
import { DEFAULT_MQTT_LIMITS, defaultConfig, type MqttLimits, type WharfConfig } from '../../src/config/types.js';

const MQTT_KEYS =
  'maxPacketSize, receiveMaximum, topicAliasMaximum, maxKeepAlive, maxSessionExpiryInterval, maxQueuedMessages, ' +
  'maxSubscriptionsPerSession, allowEmptyClientId, maxClientIdLength, maxRetainedMessages, maxSocketBufferBytes, maxConnections, connectTimeout, maxPendingConnectionsPerAddress';

function ok(raw: unknown): WharfConfig {
  const r = validateConfig(raw);
  if ('errors' in r) throw new Error(`expected a valid config, got errors:\n${r.errors.join('\n')}`);
  return r.config;
}

function errs(raw: unknown): string[] {
  const r = validateConfig(raw);
  if ('config' in r) throw new Error('expected errors, got a valid config');
  return r.errors;
}

test('null, undefined and an empty mapping give the embedded default', () => {
  assert.equal(ok(null), defaultConfig());
  assert.equal(ok(undefined), defaultConfig());
  assert.equal(ok({}), defaultConfig());
});

test('empty sections (key with no value) keep their defaults', () => {
  assert.equal(ok({ storage: null, mqtt: null, log: null, queues: null }), defaultConfig());
});

test('the returned config does not share objects with other results', () => {
  const a = ok({});
  a.listeners[0]!.port = 1;
  a.mqtt.maxPacketSize = 99;
  a.storage.dataDir = '/x';
  a.queues.defaults.consumerInflight = 7;
  assert.equal(ok({}), defaultConfig());
  assert.is(DEFAULT_MQTT_LIMITS.maxPacketSize, 1024 * 1024);
});

test('a partial mqtt section keeps the defaults of the keys it omits', () => {
  const c = ok({ mqtt: { receiveMaximum: 10, allowEmptyClientId: false } });
  assert.equal(c.mqtt, { ...DEFAULT_MQTT_LIMITS, receiveMaximum: 10, allowEmptyClientId: false });
});

test('storage and log sections are applied', () => {
  const c = ok({ storage: { dataDir: '/var/lib/wharf' }, log: { level: 'debug' } });
  assert.equal(c.storage, { ...defaultConfig().storage, dataDir: '/var/lib/wharf' });
  assert.equal(c.log, { level: 'debug' });
});

test('listeners replace the default list and get host and path defaults', () => {
  const c = ok({ listeners: [{ type: 'tcp', port: 1884 }] });
  assert.equal(c.listeners, [{ type: 'tcp', host: '0.0.0.0', port: 1884, path: '/mqtt' }]);
});

test('tls and wss listeners accept cert, key and ca', () => {
  const c = ok({
    listeners: [
      { type: 'tls', host: '127.0.0.1', port: 8883, cert: '/etc/c.pem', key: '/etc/k.pem', ca: '/etc/ca.pem' },
      { type: 'wss', port: 8084, path: '/ws', cert: 'c.pem', key: 'k.pem' },
    ],
  });
  assert.equal(c.listeners, [
    { type: 'tls', host: '127.0.0.1', port: 8883, path: '/mqtt', cert: '/etc/c.pem', key: '/etc/k.pem', ca: '/etc/ca.pem' },
    { type: 'wss', host: '0.0.0.0', port: 8084, path: '/ws', cert: 'c.pem', key: 'k.pem' },
  ]);
});

test('an unknown key in mqtt names the key path and lists the allowed keys', () => {
  assert.equal(errs({ mqtt: { maxPakcetSize: 1000 } }), [`mqtt.maxPakcetSize: unknown key (allowed: ${MQTT_KEYS})`]);
});

test('an unknown top-level key lists the allowed top-level keys', () => {
  assert.equal(errs({ bridge: {} }), ['bridge: unknown key (allowed: board, listeners, storage, mqtt, log, queues, admin, sys, metrics, buses, devices, auth, bridges)']);
});

test('unknown keys in storage, log and a listener are reported with their paths', () => {
  assert.equal(errs({ storage: { dir: 'x' }, log: { lvl: 'info' }, listeners: [{ type: 'tcp', port: 1, tls: true }] }), [
    'listeners[0].tls: unknown key (allowed: type, host, port, path, cert, key, ca, requireCertificate, useIdentityAsUsername)',
    'storage.dir: unknown key (allowed: dataDir, commitIntervalMs, commitMaxBytes, commitMaxPerSecond, commitMinBatchBytes, inlineMaxBytes, mapSizeBytes, minFreeDiskBytes, maxPendingBytes, payloadStore, payloadSegmentBytes, commitLog)',
    'log.lvl: unknown key (allowed: level)',
  ]);
});

test('a non-mapping top level is rejected', () => {
  assert.equal(errs('listen: 1883'), [
    '(top level): expected a mapping with keys listeners, storage, mqtt, log, queues, admin, sys, metrics, buses, devices, auth, bridges; got "listen: 1883"',
  ]);
  assert.equal(errs([1]), ['(top level): expected a mapping with keys listeners, storage, mqtt, log, queues, admin, sys, metrics, buses, devices, auth, bridges; got a list']);
});

test('a non-mapping section is rejected', () => {
  assert.equal(errs({ mqtt: 5 }), [`mqtt: expected a mapping with keys ${MQTT_KEYS}; got 5`]);
  assert.equal(errs({ log: 'debug' }), ['log: expected a mapping with keys level; got "debug"']);
});

test('a listener port that is not an integer in range is rejected with the value shown', () => {
  assert.equal(errs({ listeners: [{ type: 'tcp', port: 'abc' }] }), [
    'listeners[0].port: must be an integer 1-65535; got "abc"',
  ]);
  assert.equal(errs({ listeners: [{ type: 'tcp', port: '1883' }] }), [
    'listeners[0].port: must be an integer 1-65535; got "1883"',
  ]);
  assert.equal(errs({ listeners: [{ type: 'tcp', port: 0 }] }), ['listeners[0].port: must be an integer 1-65535; got 0']);
  assert.equal(errs({ listeners: [{ type: 'tcp', port: 65536 }] }), [
    'listeners[0].port: must be an integer 1-65535; got 65536',
  ]);
  assert.equal(errs({ listeners: [{ type: 'tcp', port: 1883.5 }] }), [
    'listeners[0].port: must be an integer 1-65535; got 1883.5',
  ]);
  assert.equal(errs({ listeners: [{ type: 'tcp', port: null }] }), [
    'listeners[0].port: must be an integer 1-65535; got an empty value',
  ]);
});

test('a bad log level lists the allowed levels', () => {
  assert.equal(errs({ log: { level: 'loud' } }), ['log.level: expected one of debug, info, warn, error, silent; got "loud"']);
});

test('listeners must be a non-empty list', () => {
  const msg = 'listeners: must be a non-empty list of listeners (each with type and port); got';
  assert.equal(errs({ listeners: [] }), [`${msg} an empty list`]);
  assert.equal(errs({ listeners: null }), [`${msg} an empty value`]);
  assert.equal(errs({ listeners: { type: 'tcp', port: 1883 } }), [`${msg} a mapping`]);
});

test('a listener that is not a mapping is rejected', () => {
  assert.equal(errs({ listeners: [1883] }), ['listeners[0]: expected a mapping with at least type and port; got 1883']);
});

test('listener type and port are required', () => {
  assert.equal(errs({ listeners: [{ host: '127.0.0.1' }] }), [
    'listeners[0].type: required (one of tcp, ws, tls, wss)',
    'listeners[0].port: required (an integer 1-65535)',
  ]);
});

test('an unknown listener type lists the allowed types', () => {
  assert.equal(errs({ listeners: [{ type: 'udp', port: 1 }] }), [
    'listeners[0].type: expected one of tcp, ws, tls, wss; got "udp"',
  ]);
});

test('listener host must be a non-empty string and path must start with /', () => {
  assert.equal(errs({ listeners: [{ type: 'ws', port: 8083, host: '', path: 'mqtt' }] }), [
    'listeners[0].host: must be a non-empty string (an interface address or host name, "0.0.0.0" for all); got ""',
    'listeners[0].path: must be a string starting with "/" (the WebSocket URL path); got "mqtt"',
  ]);
});

test('tls and wss listeners require cert and key', () => {
  assert.equal(errs({ listeners: [{ type: 'tls', port: 8883 }, { type: 'wss', port: 8084, cert: 'c.pem' }] }), [
    'listeners[0].cert: required for tls listeners (path of the PEM certificate file)',
    'listeners[0].key: required for tls listeners (path of the PEM private key file)',
    'listeners[1].key: required for wss listeners (path of the PEM private key file)',
  ]);
});

test('cert, key and ca are forbidden on tcp and ws listeners', () => {
  assert.equal(
    errs({ listeners: [{ type: 'tcp', port: 1883, cert: 'c.pem', key: 'k.pem' }, { type: 'ws', port: 8083, ca: 'ca.pem' }] }),
    [
      'listeners[0].cert: only allowed on tls and wss listeners; this listener is tcp',
      'listeners[0].key: only allowed on tls and wss listeners; this listener is tcp',
      'listeners[1].ca: only allowed on tls and wss listeners; this listener is ws',
    ],
  );
});

test('tls file paths must be non-empty strings', () => {
  assert.equal(errs({ listeners: [{ type: 'tls', port: 8883, cert: '', key: 7 }] }), [
    'listeners[0].cert: must be a non-empty string (path of the PEM certificate file); got ""',
    'listeners[0].key: must be a non-empty string (path of the PEM private key file); got 7',
  ]);
});

test('two listeners on the same host and port are rejected', () => {
  assert.equal(errs({ listeners: [{ type: 'tcp', port: 1883 }, { type: 'ws', port: 1883 }] }), [
    'listeners[1].port: port 1883 on host 0.0.0.0 is already used by listeners[0] (tcp)',
  ]);
});

test('a listener on a specific address overlaps a wildcard listener on the same port', () => {
  assert.equal(
    errs({ listeners: [{ type: 'tcp', port: 1883 }, { type: 'tcp', host: '127.0.0.1', port: 1883 }] }),
    ['listeners[1].port: port 1883 on host 127.0.0.1 (overlaps 0.0.0.0) is already used by listeners[0] (tcp)'],
  );
});

test('the same port on two different specific addresses is allowed', () => {
  const c = ok({
    listeners: [
      { type: 'tcp', host: '127.0.0.1', port: 1883 },
      { type: 'tcp', host: '192.168.1.10', port: 1883 },
    ],
  });
  assert.is(c.listeners.length, 2);
});

test('a port clash is reported alongside errors in other listeners', () => {
  assert.equal(
    errs({ listeners: [{ type: 'tcp', port: 1883 }, { type: 'bogus', port: 2 }, { type: 'ws', port: 1883 }] }),
    [
      'listeners[1].type: expected one of tcp, ws, tls, wss; got "bogus"',
      'listeners[2].port: port 1883 on host 0.0.0.0 is already used by listeners[0] (tcp)',
    ],
  );
});

test('all errors across sections are collected, in section order', () => {
  assert.equal(
    errs({
      bridge: {},
      listeners: [{ type: 'tcp', port: 'abc' }],
      storage: { dataDir: '' },
      mqtt: { receiveMaximum: 0, maxPakcetSize: 1 },
      log: { level: 'loud' },
    }),
    [
      'bridge: unknown key (allowed: board, listeners, storage, mqtt, log, queues, admin, sys, metrics, buses, devices, auth, bridges)',
      'listeners[0].port: must be an integer 1-65535; got "abc"',
      'storage.dataDir: must be a non-empty string (a directory path); got ""',
      `mqtt.maxPakcetSize: unknown key (allowed: ${MQTT_KEYS})`,
      'mqtt.receiveMaximum: must be an integer 1-65535; got 0',
      'log.level: expected one of debug, info, warn, error, silent; got "loud"',
    ],
  );
});

const INT_RANGES: [keyof MqttLimits, number, number][] = [
  ['receiveMaximum', 1, 65535],
  ['topicAliasMaximum', 0, 65535],
  ['maxKeepAlive', 1, 65535],
  ['maxSessionExpiryInterval', 0, 4294967295],
  ['maxQueuedMessages', 1, 10000000],
  ['maxSubscriptionsPerSession', 1, 1000000],
  ['maxClientIdLength', 23, 65535],
  ['maxRetainedMessages', 0, 100000000],
];

test('mqtt integer limits accept their bounds and reject one past them', () => {
  for (const [key, min, max] of INT_RANGES) {
    assert.is(ok({ mqtt: { [key]: min } }).mqtt[key], min, `${key} min`);
    assert.is(ok({ mqtt: { [key]: max } }).mqtt[key], max, `${key} max`);
    assert.equal(errs({ mqtt: { [key]: min - 1 } }), [`mqtt.${key}: must be an integer ${min}-${max}; got ${min - 1}`]);
    assert.equal(errs({ mqtt: { [key]: max + 1 } }), [`mqtt.${key}: must be an integer ${min}-${max}; got ${max + 1}`]);
    assert.equal(errs({ mqtt: { [key]: '10' } }), [`mqtt.${key}: must be an integer ${min}-${max}; got "10"`]);
  }
});

test('mqtt.allowEmptyClientId must be a boolean', () => {
  assert.is(ok({ mqtt: { allowEmptyClientId: false } }).mqtt.allowEmptyClientId, false);
  assert.equal(errs({ mqtt: { allowEmptyClientId: 'yes' } }), ['mqtt.allowEmptyClientId: must be true or false; got "yes"']);
});

const PACKET_MSG = 'mqtt.maxPacketSize: must be 64-268435455 bytes, as an integer or a size like "256KiB", "1MiB", "512kb"; got';
const BUFFER_MSG =
  'mqtt.maxSocketBufferBytes: must be 65536-1073741824 bytes, as an integer or a size like "256KiB", "1MiB", "512kb"; got';

test('byte-size limits accept integers at their bounds and reject one past them', () => {
  assert.is(ok({ mqtt: { maxPacketSize: 64 } }).mqtt.maxPacketSize, 64);
  assert.is(ok({ mqtt: { maxPacketSize: 268435455 } }).mqtt.maxPacketSize, 268435455);
  assert.equal(errs({ mqtt: { maxPacketSize: 63 } }), [`${PACKET_MSG} 63`]);
  assert.equal(errs({ mqtt: { maxPacketSize: 268435456 } }), [`${PACKET_MSG} 268435456`]);
  assert.is(ok({ mqtt: { maxSocketBufferBytes: 65536 } }).mqtt.maxSocketBufferBytes, 65536);
  assert.is(ok({ mqtt: { maxSocketBufferBytes: 1073741824 } }).mqtt.maxSocketBufferBytes, 1073741824);
  assert.equal(errs({ mqtt: { maxSocketBufferBytes: 65535 } }), [`${BUFFER_MSG} 65535`]);
  assert.equal(errs({ mqtt: { maxSocketBufferBytes: 1073741825 } }), [`${BUFFER_MSG} 1073741825`]);
});

test('byte-size limits accept human sizes', () => {
  assert.equal(ok({ mqtt: { maxPacketSize: '256KiB', maxSocketBufferBytes: '1MiB' } }).mqtt, {
    ...DEFAULT_MQTT_LIMITS,
    maxPacketSize: 262144,
    maxSocketBufferBytes: 1048576,
  });
  assert.is(ok({ mqtt: { maxPacketSize: '512kb' } }).mqtt.maxPacketSize, 512000);
  assert.is(ok({ mqtt: { maxSocketBufferBytes: '1GiB' } }).mqtt.maxSocketBufferBytes, 1073741824);
});

test('human sizes out of range show the size and its value in bytes', () => {
  assert.equal(errs({ mqtt: { maxPacketSize: '256MiB' } }), [`${PACKET_MSG} "256MiB" (268435456 bytes)`]);
  assert.equal(errs({ mqtt: { maxSocketBufferBytes: '64KB' } }), [`${BUFFER_MSG} "64KB" (64000 bytes)`]);
});

test('text that is not a size is rejected as given', () => {
  assert.equal(errs({ mqtt: { maxPacketSize: 'large' } }), [`${PACKET_MSG} "large"`]);
  assert.equal(errs({ mqtt: { maxPacketSize: '1 parsec' } }), [`${PACKET_MSG} "1 parsec"`]);
  assert.equal(errs({ mqtt: { maxPacketSize: '-1KiB' } }), [`${PACKET_MSG} "-1KiB"`]);
  assert.equal(errs({ mqtt: { maxPacketSize: true } }), [`${PACKET_MSG} true`]);
});

test('parseSize: binary units are 1024-based, decimal units 1000-based, case-insensitive', () => {
  assert.is(parseSize('4096'), 4096);
  assert.is(parseSize('64B'), 64);
  assert.is(parseSize('1kib'), 1024);
  assert.is(parseSize('1KiB'), 1024);
  assert.is(parseSize('1KB'), 1000);
  assert.is(parseSize('512kb'), 512000);
  assert.is(parseSize('1MiB'), 1048576);
  assert.is(parseSize('2MB'), 2000000);
  assert.is(parseSize('1GiB'), 1073741824);
  assert.is(parseSize('1GB'), 1000000000);
  assert.is(parseSize(' 1.5 MiB '), 1572864);
  assert.is(parseSize('1.1kb'), 1100);
});

test('parseSize rejects unknown units, fractions of a byte and non-numbers', () => {
  assert.is(parseSize('1TiB'), undefined);
  assert.is(parseSize('1k'), undefined);
  assert.is(parseSize('0.1KiB'), undefined);
  assert.is(parseSize('1.5B'), undefined);
  assert.is(parseSize('KiB'), undefined);
  assert.is(parseSize(''), undefined);
  assert.is(parseSize('1e6'), undefined);
});

test.run();
