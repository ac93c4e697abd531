// Logging: one line per event with its level and key=value fields, filtered by log.level; at info, connections
// and disconnections are logged, messages are not.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Broker } from '../../src/broker/broker.js';
import { defaultConfig } from '../../src/config/types.js';
import { createLogger } from '../../src/log/logger.js';
import { connectClient, endClient } from '../helpers/mqttjs.js';
import { waitFor } from '../helpers/tools.js';

const test = suite('log: structured lines');

test('one line per event: timestamp, level, event, fields; values with spaces or newlines quoted', () => {
  const lines: string[] = [];
  const log = createLogger('info', (l) => lines.push(l));
  log.info('client connected', { clientId: 'a b', remote: '127.0.0.1:5', n: 3, ok: true, skipped: undefined });
  log.warn('odd', { detail: 'line1\nline2', eq: 'a=b' });
  assert.is(lines.length, 2);
  for (const l of lines) assert.ok(l.endsWith('\n') && l.indexOf('\n') === l.length - 1, 'exactly one line');
  assert.match(lines[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info client connected clientId="a b" remote=127\.0\.0\.1:5 n=3 ok=true\n$/);
  assert.match(lines[1]!, / warn odd detail="line1\\nline2" eq="a=b"\n$/);
});

test('log.level filters less severe events', () => {
  const lines: string[] = [];
  const log = createLogger('warn', (l) => lines.push(l));
  log.debug('d');
  log.info('i');
  log.warn('w');
  log.error('e');
  assert.equal(lines.map((l) => l.split(' ')[1]), ['warn', 'error']);
  const silent: string[] = [];
  createLogger('silent', (l) => silent.push(l)).error('x');
  assert.equal(silent, []);
});

test('at info, connect and disconnect are logged and 200 messages add no line', async () => {
  const lines: string[] = [];
  const config = defaultConfig();
  config.listeners = [{ type: 'tcp', host: '127.0.0.1', port: 0, path: '/mqtt' }];
  const broker = new Broker(config, createLogger('info', (l) => lines.push(l)));
  const [bound] = await broker.start();
  try {
    const sub = await connectClient(`mqtt://127.0.0.1:${bound!.port}`, { clientId: 'log-sub' });
    await sub.subscribeAsync('log/#', { qos: 1 });
    const pub = await connectClient(`mqtt://127.0.0.1:${bound!.port}`, { clientId: 'log-pub' });
    let received = 0;
    sub.on('message', () => received++);
    for (let i = 0; i < 200; i++) await pub.publishAsync('log/x', `m${i}`, { qos: (i % 2) as 0 | 1 });
    await waitFor(() => received === 200, 3000, 'all messages delivered');
    await endClient(pub);
    await endClient(sub);
    await waitFor(() => lines.filter((l) => l.includes(' client disconnected ')).length === 2, 3000, 'disconnections logged');
    const events = lines.map((l) => l.split(' ').slice(1, 4).join(' '));
    assert.equal(events.filter((e) => e.startsWith('info client connected')).length, 2);
    assert.equal(events.filter((e) => e.startsWith('info client disconnected')).length, 2);
    assert.ok(lines.length <= 6, `no per-message lines: ${lines.length} lines\n${lines.join('')}`);
  } finally {
    await broker.stop();
  }
});

test.run();
