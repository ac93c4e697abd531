// Authentication at CONNECT against a password file made by Debian's mosquitto_passwd: good and bad passwords,
// anonymous access off (explicitly and by default once a password file is set), CONNACK codes of 5.0 and 3.1.1,
// failed logins counted, and a reload that takes a changed file while connections stay up.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IClientOptions } from 'mqtt';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { connectClient, endClient } from '../helpers/mqttjs.js';
import { requireTool, waitFor } from '../helpers/tools.js';
import { RawClient } from '../helpers/raw-client.js';
import { reloadAuth } from '../../src/auth/reload.js';
import { anonymousAllowed } from '../../src/config/auth.js';
import { defaultConfig } from '../../src/config/types.js';

const test = suite('auth: CONNECT with a password file');
const maybe = requireTool(test, 'mosquitto_passwd');

let dir = '';
let passwd = '';
let tb: TestBroker;

test.before(async () => {
  if (!maybe.available) return;
  dir = mkdtempSync(join(tmpdir(), 'wharf-auth-'));
  passwd = join(dir, 'passwd');
  execFileSync('mosquitto_passwd', ['-c', '-b', passwd, 'alice', 'right']);
  execFileSync('mosquitto_passwd', ['-H', 'sha512', '-b', passwd, 'bob', 'also right']);
  tb = await startBroker({}, (c) => {
    c.auth.passwordFile = passwd;
  });
});
test.after(async () => {
  if (!maybe.available) return;
  await tb.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The CONNACK code a connection attempt gets (0 = accepted), as MQTT.js reports it. */
async function connackCode(opts: IClientOptions): Promise<number> {
  try {
    const c = await connectClient(tb.url, opts);
    await endClient(c);
    return 0;
  } catch (err) {
    const code = (err as { code?: number }).code;
    if (typeof code !== 'number') throw err;
    return code;
  }
}

maybe('users of both mosquitto_passwd formats connect with their password', async () => {
  assert.is(await connackCode({ username: 'alice', password: 'right' }), 0);
  assert.is(await connackCode({ username: 'bob', password: 'also right', protocolVersion: 4 }), 0);
});

maybe('a wrong password or unknown user: 0x86 on 5.0, 4 on 3.1.1', async () => {
  const before = tb.broker.auth.counters.loginsFailed;
  assert.is(await connackCode({ username: 'alice', password: 'wrong' }), 0x86);
  assert.is(await connackCode({ username: 'nobody', password: 'right' }), 0x86);
  assert.is(await connackCode({ username: 'alice', password: 'wrong', protocolVersion: 4 }), 4);
  assert.is(await connackCode({ username: 'alice' }), 0x86);
  assert.is(tb.broker.auth.counters.loginsFailed, before + 4);
});

maybe('anonymous clients are refused once a password file is set: 0x87 on 5.0, 5 on 3.1.1', async () => {
  assert.is(await connackCode({}), 0x87);
  assert.is(await connackCode({ protocolVersion: 4 }), 5);
});

maybe('a reload takes a changed password file; a connected client stays connected', async () => {
  const alice = await connectClient(tb.url, { username: 'alice', password: 'right' });
  execFileSync('mosquitto_passwd', ['-b', passwd, 'alice', 'changed']);
  execFileSync('mosquitto_passwd', ['-b', passwd, 'carol', 'new']);
  reloadAuth(tb.broker);
  assert.is(await connackCode({ username: 'carol', password: 'new' }), 0);
  assert.is(await connackCode({ username: 'alice', password: 'right' }), 0x86);
  assert.ok(alice.connected);
  await new Promise<void>((resolve, reject) => alice.publish('still/here', 'x', { qos: 1 }, (err) => (err ? reject(err) : resolve())));
  await endClient(alice);
});

maybe('connections held in authentication or its slow-down still count as pending for their address', async () => {
  const b = await startBroker({ maxPendingConnectionsPerAddress: 2 }, (c) => {
    c.auth.passwordFile = passwd;
  });
  try {


    const bad = { clientId: '', username: 'alice', password: Buffer.from('wrong') };
    // Three failures are answered at once; from the fourth on the answer waits (250 ms, then 500 ms).
    for (let i = 0; i < 3; i++) {
      const { connack } = await RawClient.connected(b.port, bad);
      assert.is((connack as { reasonCode?: number }).reasonCode, 0x86);
    }
    const slow = await Promise.all([RawClient.connect(b.port), RawClient.connect(b.port)]);
    for (const c of slow) c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 60, ...bad } as never);
    await waitFor(() => [...b.broker.connections].filter((c) => c.connectReceived).length === 2, 3000, 'both CONNECTs in authentication');
    assert.is(b.broker.pendingConnections.size, 2);
    const third = await RawClient.connect(b.port);
    await third.expectClose(3000);
    for (const c of slow) assert.is(((await c.next('connack')) as { reasonCode?: number }).reasonCode, 0x86);
  } finally {
    await b.stop();
  }
});

test('allowAnonymous: true by default, false with a password file or client certificates, unless set', () => {
  const c = defaultConfig();
  assert.ok(anonymousAllowed(c));
  c.auth.passwordFile = '/x';
  assert.not.ok(anonymousAllowed(c));
  c.auth.allowAnonymous = true;
  assert.ok(anonymousAllowed(c));
  const d = defaultConfig();
  d.listeners.push({ type: 'tls', host: '0.0.0.0', port: 8883, path: '/mqtt', cert: 'c', key: 'k', ca: 'a', requireCertificate: true });
  assert.not.ok(anonymousAllowed(d));
});

test('allowAnonymous: false without a password file refuses every client but certificate identities', async () => {
  const b = await startBroker({}, (c) => {
    c.auth.allowAnonymous = false;
  });
  try {
    const code = await connectClient(b.url, { username: 'any', password: 'thing' }).then(
      async (c) => (await endClient(c), 0),
      (err: { code?: number }) => err.code,
    );
    assert.is(code, 0x87);
  } finally {
    await b.stop();
  }
});

test.run();
