// The bearer token (every path but /healthz) and readiness: /healthz 200 while store and listeners are up, 503
// once the broker stops.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startAdminBroker, type AdminBroker } from '../helpers/admin.js';
import { createLogger } from '../../src/log/logger.js';

const test = suite('admin: token and health');

const TOKEN = 'site-token-0123456789';
let tb: AdminBroker | undefined;

test.after.each(async () => {
  await tb?.stop();
  tb = undefined;
});

test('with admin.token, requests without it or with a wrong one get 401; with it they pass', async () => {
  tb = await startAdminBroker((c) => (c.admin.token = TOKEN));
  for (const path of ['/api/v1/status', '/metrics', '/api/v1/queues', '/api/v1/nothing']) {
    const none = await tb.api('GET', path);
    assert.is(none.status, 401, `${path} without a token`);
    assert.is(none.headers.get('www-authenticate'), 'Bearer realm="wharf"');
    assert.is(none.body.error, 'missing or wrong bearer token (Authorization: Bearer <admin.token>)');
    assert.is((await tb.api('GET', path, { token: `${TOKEN}x` })).status, 401, `${path} with a wrong token`);
    assert.is((await tb.api('GET', path, { token: TOKEN.slice(0, -1) })).status, 401, `${path} with a prefix of the token`);
  }
  assert.is((await tb.api('GET', '/api/v1/status', { token: TOKEN })).status, 200);
  assert.is((await tb.api('GET', '/metrics', { token: TOKEN })).status, 200);
  assert.is((await tb.api('GET', '/api/v1/queues', { headers: { authorization: `bearer ${TOKEN}` } })).status, 200, 'the scheme is case-insensitive');
  assert.is((await tb.api('POST', '/api/v1/queues', { body: { topicFilter: 'x/#' } })).status, 401, 'no change without the token');
  assert.is(tb.broker.queues!.queues().length, 0);
  assert.is((await tb.api('GET', '/healthz')).status, 200, 'health needs no token');
});

test('failed authentications are logged at info, at most once per address per 10 s', async () => {
  const lines: string[] = [];
  tb = await startAdminBroker((c) => (c.admin.token = TOKEN), { log: createLogger('info', (l) => lines.push(l)) });
  for (let i = 0; i < 5; i++) await tb.api('GET', '/api/v1/status', { token: 'wrong-token-0123456789' });
  const failures = lines.filter((l) => l.includes(' info admin auth failed '));
  assert.is(failures.length, 1, lines.join(''));
  assert.match(failures[0]!, /remote=127\.0\.0\.1:\d+ method=GET path=\/api\/v1\/status reason="wrong token"/);
});

test('without a token configured on loopback, no Authorization is needed', async () => {
  tb = await startAdminBroker();
  assert.is((await tb.api('GET', '/api/v1/status')).status, 200);
});

test('/healthz is 200 while the store is open and listeners are up, 503 once the broker stops', async () => {
  tb = await startAdminBroker();
  const up = await tb.api('GET', '/healthz');
  assert.is(up.status, 200);
  assert.equal(up.body, { status: 'ok', ready: true, checks: { store: 'open', listeners: 'up' }, problems: [] });
  await tb.broker.stop();
  const down = await tb.api('GET', '/healthz');
  assert.is(down.status, 503);
  assert.equal(down.body, {
    status: 'unavailable',
    ready: false,
    checks: { store: 'closed', listeners: 'down' },
    problems: ['MQTT listeners are not up', 'the store is closed'],
  });
  const status = await tb.api('GET', '/api/v1/status');
  assert.is(status.body.health.ready, false);
});

test.run();
