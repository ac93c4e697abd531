// The `ca` option of tls and wss listeners (README "Keys": "Path of a PEM CA bundle"), with a PKI made by
// openssl at test time: a root CA, an intermediate CA that signs the server's certificate, client certificates
// from the intermediate and from an unrelated CA. What Wharf does with `ca` today, exactly:
// - its certificates complete the chain the listener presents, so a client that trusts only the root verifies
//   the server (without `ca` the same client refuses it);
// - it does not ask clients for a certificate: with or without one, from this CA or another, a client
//   connects, and the broker sees no client certificate. Requiring one (mutual TLS) is a separate option;
// - a `ca` file holding no PEM certificate (DER, or the key by mistake), which Node would silently ignore, stops
//   the listener from starting with an error naming it.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import type { IClientOptions } from 'mqtt';
import { Broker } from '../../../src/broker/broker.js';
import { defaultConfig } from '../../../src/config/types.js';
import { silentLogger } from '../../../src/log/logger.js';
import { withSecureBroker, type SecureBroker } from '../../helpers/secure-broker.js';
import { collect, connectClient, endClient } from '../../helpers/mqttjs.js';
import { requireTool } from '../../helpers/tools.js';
import { CA_EXT, CertificateDir, LEAF_EXT, openssl } from '../../helpers/test-certificates.js';

const test = suite('09-transport: the TLS listener ca option');

const maybe = requireTool(test, 'openssl');
const haveOpenssl = maybe.available;
let dir = '';
let certs: CertificateDir;
const file = (name: string) => certs.file(name);
const pem = (name: string) => certs.pem(name);
const certificate = (name: string, cn: string, issuer: string | undefined, extensions: string) => certs.certificate(name, cn, issuer, extensions);

test.before(async () => {
  if (!haveOpenssl) return;
  dir = mkdtempSync(join(tmpdir(), 'wharf-tls-ca-'));
  certs = new CertificateDir(dir);
  await certificate('root', 'Wharf test root CA', undefined, CA_EXT);
  await certificate('inter', 'Wharf test intermediate CA', 'root', '[v3]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n');
  await certificate('server', 'localhost', 'inter', LEAF_EXT('serverAuth'));
  await certificate('device', 'device-1', 'inter', LEAF_EXT('clientAuth'));
  await certificate('other-root', 'Someone else', undefined, CA_EXT);
  await certificate('stranger', 'stranger-1', 'other-root', LEAF_EXT('clientAuth'));
  await openssl(['x509', '-in', file('inter.crt'), '-outform', 'DER', '-out', file('inter.der')]);
});

test.after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A broker with tls and wss listeners serving the intermediate-signed certificate, with `ca` or without. */
const withListeners = (ca: string | undefined, fn: (tb: SecureBroker) => Promise<void>) =>
  withSecureBroker({ cert: file('server.crt'), key: file('server.key'), ...(ca ? { ca } : {}) }, fn);

/** A TLS handshake with the listener; resolves with the socket once verified, rejects with the client's error. */
function handshake(port: number, opts: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ...opts });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', (err) => (socket.destroy(), reject(err)));
  });
}

const trustRootOnly = (): IClientOptions => ({ ca: pem('root.crt'), rejectUnauthorized: true });

maybe('with ca (the intermediate), a client trusting only the root verifies the tls listener: the chain carries the intermediate', async () => {
  await withListeners(file('inter.crt'), async (tb) => {
    const socket = await handshake(tb.tlsPort, { ca: pem('root.crt') });
    try {
      assert.is(socket.authorized, true);
      const leaf = socket.getPeerCertificate(true);
      assert.equal([leaf.subject.CN, leaf.issuerCertificate?.subject.CN], ['localhost', 'Wharf test intermediate CA']);
    } finally {
      socket.destroy();
    }
  });
});

maybe('with ca, MQTT.js clients trusting only the root exchange QoS 1 messages over mqtts:// and wss:// with rejectUnauthorized on', async () => {
  await withListeners(file('inter.crt'), async (tb) => {
    const sub = await connectClient(`wss://127.0.0.1:${tb.wssPort}/mqtt`, { ...trustRootOnly(), clientId: 'wss-sub' });
    const pub = await connectClient(`mqtts://127.0.0.1:${tb.tlsPort}`, { ...trustRootOnly(), clientId: 'tls-pub' });
    try {
      const inbox = collect(sub);
      await sub.subscribeAsync('chain/#', { qos: 1 });
      await pub.publishAsync('chain/ok', 'verified', { qos: 1 });
      await inbox.waitCount(1);
      assert.equal(inbox.messages.map((m) => [m.topic, m.payload, m.packet.qos]), [['chain/ok', 'verified', 1]]);
    } finally {
      await endClient(pub, true);
      await endClient(sub, true);
    }
  });
});

maybe('without ca, the same client refuses both listeners: the server certificate alone does not lead to the root', async () => {
  await withListeners(undefined, async (tb) => {
    for (const port of [tb.tlsPort, tb.wssPort]) {
      const err = await handshake(port, { ca: pem('root.crt') }).then(
        (s) => (s.destroy(), undefined),
        (e: NodeJS.ErrnoException) => e,
      );
      assert.is(err?.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', `port ${port}`);
    }
  });
});

maybe('ca does not ask for client certificates: without one, with one from the CA and with one from another CA, a client connects; the broker sees none', async () => {
  await withListeners(file('inter.crt'), async (tb) => {
    const identities: Record<string, IClientOptions> = {
      'no-cert': {},
      'device-cert': { cert: pem('device.crt'), key: pem('device.key') },
      'stranger-cert': { cert: pem('stranger.crt'), key: pem('stranger.key') },
    };
    for (const [clientId, identity] of Object.entries(identities)) {
      const c = await connectClient(`mqtts://127.0.0.1:${tb.tlsPort}`, { ...trustRootOnly(), ...identity, clientId, reconnectPeriod: 0 });
      try {
        await c.publishAsync('who/am-i', clientId, { qos: 1 });
        const conn = [...tb.broker.connections].find((x) => x.clientId === clientId);
        assert.ok(conn !== undefined, `${clientId} is connected`);
        assert.equal((conn.stream as tls.TLSSocket).getPeerCertificate(), {}, `${clientId}: no client certificate was requested`);
      } finally {
        await endClient(c, true);
      }
    }
  });
});

maybe('a ca file with no PEM certificate in it (DER, or the key) stops the start with an error naming the listener and the file', async () => {
  for (const wrong of ['inter.der', 'server.key']) {
    for (const type of ['tls', 'wss'] as const) {
      const config = defaultConfig();
      config.listeners = [
        { type: 'tcp', host: '127.0.0.1', port: 0, path: '/mqtt' },
        { type, host: '127.0.0.1', port: 0, path: '/mqtt', cert: file('server.crt'), key: file('server.key'), ca: file(wrong) },
      ];
      const broker = new Broker(config, silentLogger);
      const err = await broker.start().then(
        () => undefined,
        (e: Error) => e,
      );
      await broker.stop();
      assert.ok(err !== undefined, `${type} with ca ${wrong} started`);
      assert.match(err.message, `listeners[1] (${type} on 127.0.0.1:0): ca: ${file(wrong)} holds no PEM certificate`);
      assert.equal(broker.boundListeners(), [], 'the tcp listener started before it was closed again');
    }
  }
});

test.run();
