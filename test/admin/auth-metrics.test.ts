// Authentication and authorization figures in /metrics: a failed login, a denied PUBLISH and a denied SUBSCRIBE
// each count once, against a real broker with a password file (Wharf's own format) and an ACL file.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newPbkdf2Entry } from '../../src/auth/hashes/pbkdf2-sha512.js';
import { startAdminBroker, type AdminBroker } from '../helpers/admin.js';
import { connectClient, endClient } from '../helpers/mqttjs.js';
import { sampleValue } from '../helpers/prom-checker.js';

const test = suite('auth figures in /metrics');
let dir = '';
let tb: AdminBroker;

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wharf-auth-metrics-'));
  writeFileSync(join(dir, 'passwd'), `alice:${await newPbkdf2Entry(Buffer.from('right'))}\n`);
  writeFileSync(join(dir, 'acl'), 'user alice\ntopic readwrite plant/#\n');
  tb = await startAdminBroker((c) => {
    c.auth.passwordFile = join(dir, 'passwd');
    c.auth.aclFile = join(dir, 'acl');
  });
});
test.after(async () => {
  await tb.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('a failed login, a denied publish and a denied subscribe are counted', async () => {
  const before = await tb.scrape();
  for (const name of ['wharf_auth_logins_failed_total', 'wharf_auth_publish_denied_total', 'wharf_auth_subscribe_denied_total']) {
    assert.is(sampleValue(before, name), 0, name);
  }
  await connectClient(tb.url, { username: 'alice', password: 'wrong', reconnectPeriod: 0 }).then(
    () => assert.unreachable('a wrong password must be refused'),
    () => undefined,
  );
  const alice = await connectClient(tb.url, { username: 'alice', password: 'right', protocolVersion: 5 });
  // MQTT.js turns PUBACK 0x87 into an error with that code.
  const refused = await alice.publishAsync('office/door', 'x', { qos: 1 }).then(() => undefined, (err: { code?: number }) => err.code);
  assert.is(refused, 0x87);
  const denied = await alice.subscribeAsync('office/#', { qos: 1 }).then(() => 'granted', (err: Error) => err.message);
  assert.match(denied, /Not authorized/);
  await endClient(alice);
  const after = await tb.scrape();
  assert.is(sampleValue(after, 'wharf_auth_logins_failed_total'), 1);
  assert.is(sampleValue(after, 'wharf_auth_publish_denied_total'), 1);
  assert.is(sampleValue(after, 'wharf_auth_subscribe_denied_total'), 1);
});

test.run();
