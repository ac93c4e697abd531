// Mutual TLS (requireCertificate) and the certificate's Common Name as the user name (useIdentityAsUsername),
// with a PKI made by openssl at test time: a CA signing the server and a device certificate, and a stranger's
// certificate from another CA. The identity selects ACL rules (pattern ... %u), as in Mosquitto.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IClientOptions } from 'mqtt';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { collect, connectClient, endClient } from '../helpers/mqttjs.js';
import { requireTool } from '../helpers/tools.js';
import { CA_EXT, CertificateDir, LEAF_EXT } from '../helpers/test-certificates.js';

const test = suite('auth: mutual TLS and identity as user name');
const maybe = requireTool(test, 'openssl');

let dir = '';
let certs: CertificateDir;
const file = (name: string) => certs.file(name);
const pem = (name: string) => certs.pem(name);
const certificate = (name: string, cn: string, issuer: string | undefined, extensions: string) => certs.certificate(name, cn, issuer, extensions);

let tb: TestBroker;
let identityPort = 0;
let certOnlyPort = 0;

test.before(async () => {
  if (!maybe.available) return;
  dir = mkdtempSync(join(tmpdir(), 'wharf-mtls-'));
  certs = new CertificateDir(dir);
  await certificate('root', 'Wharf test CA', undefined, CA_EXT);
  await certificate('server', 'localhost', 'root', LEAF_EXT('serverAuth'));
  await certificate('device', 'device-1', 'root', LEAF_EXT('clientAuth'));
  await certificate('other-root', 'Someone else', undefined, CA_EXT);
  await certificate('stranger', 'device-1', 'other-root', LEAF_EXT('clientAuth'));
  writeFileSync(file('acl'), 'pattern readwrite devices/%u/#\n');
  tb = await startBroker({}, (c) => {
    const tls = { host: '127.0.0.1', port: 0, path: '/mqtt', cert: file('server.crt'), key: file('server.key'), ca: file('root.crt'), requireCertificate: true };
    c.listeners.push({ type: 'tls', ...tls, useIdentityAsUsername: true });
    c.listeners.push({ type: 'tls', ...tls });
    c.auth.aclFile = file('acl');
  });
  const tlsPorts = tb.broker.boundListeners().filter((b) => b.type === 'tls');
  identityPort = tlsPorts[0]!.port;
  certOnlyPort = tlsPorts[1]!.port;
});
test.after(async () => {
  if (!maybe.available) return;
  await tb.stop();
  rmSync(dir, { recursive: true, force: true });
});

const tlsOpts = (identity: string | undefined): IClientOptions => ({
  ca: pem('root.crt'),
  rejectUnauthorized: true,
  ...(identity === undefined ? {} : { cert: pem(`${identity}.crt`), key: pem(`${identity}.key`) }),
});

/** Connects; the CONNACK code (0 accepted), or 'tls' when the handshake or the connection failed before one. */
async function attempt(port: number, opts: IClientOptions): Promise<number | 'tls'> {
  try {
    const c = await connectClient(`mqtts://127.0.0.1:${port}`, opts);
    await endClient(c, true);
    return 0;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'number' ? code : 'tls';
  }
}

maybe('without a client certificate, or with one from another CA, the TLS handshake fails', async () => {
  assert.is(await attempt(identityPort, tlsOpts(undefined)), 'tls');
  assert.is(await attempt(identityPort, tlsOpts('stranger')), 'tls');
  assert.is(tb.broker.sessions.byClientId.size, 0);
});

maybe('the CN of a CA-signed certificate is the user name: ACL rules with %u apply to it, the CONNECT user name is ignored', async () => {
  const c = await connectClient(`mqtts://127.0.0.1:${identityPort}`, { ...tlsOpts('device'), clientId: 'dev', username: 'admin', password: 'x' });
  try {
    const inbox = collect(c);
    const grants = await c.subscribeAsync('devices/device-1/#', { qos: 1 });
    assert.equal(
      grants.map((g) => g.qos),
      [1],
    );
    // MQTT.js turns SUBACK 0x87 into an error.
    const denied = await c.subscribeAsync('devices/admin/#', { qos: 1 }).then(
      () => 'granted',
      (e: Error) => e.message,
    );
    assert.match(denied, /Not authorized/);
    await c.publishAsync('devices/device-1/temp', '21.5', { qos: 1 });
    await inbox.waitCount(1);
    assert.equal(
      inbox.messages.map((m) => m.topic),
      ['devices/device-1/temp'],
    );
  } finally {
    await endClient(c, true);
  }
});

maybe('requireCertificate without identity: the certificate opens the transport, anonymous MQTT is refused (0x87) as client certificates are configured', async () => {
  assert.is(await attempt(certOnlyPort, tlsOpts(undefined)), 'tls');
  assert.is(await attempt(certOnlyPort, tlsOpts('device')), 0x87);
});

test.run();
