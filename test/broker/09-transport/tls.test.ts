// TLS and secure WebSocket listeners with a self-signed certificate generated at test time (openssl):
// MQTT.js over mqtts:// and wss:// exchanging messages with each other and with plain TCP clients.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import type { IClientOptions } from 'mqtt';
import { withSecureBroker, type SecureBroker } from '../../helpers/secure-broker.js';
import { collect, connectClient, endClient } from '../../helpers/mqttjs.js';
import { RawClient } from '../../helpers/raw-client.js';
import { requireTool, run, waitFor } from '../../helpers/tools.js';

const test = suite('09-transport: TLS and WSS');

const withOpenssl = requireTool(test, 'openssl');
let dir = '';
let cert = '';
let key = '';

test.before(async () => {
  if (!withOpenssl.available) return;
  dir = mkdtempSync(join(tmpdir(), 'wharf-tls-'));
  cert = join(dir, 'cert.pem');
  key = join(dir, 'key.pem');
  const r = await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', key, '-out', cert], 20000);
  if (r.code !== 0) throw new Error(`openssl failed (${r.code}): ${r.stderr}`);
});

test.after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const withServedBroker = (fn: (tb: SecureBroker) => Promise<void>) => withSecureBroker({ cert, key }, fn);

type Via = 'tls' | 'wss' | 'tcp';
const urlFor = (tb: SecureBroker, via: Via) =>
  via === 'tls' ? `mqtts://127.0.0.1:${tb.tlsPort}` : via === 'wss' ? `wss://127.0.0.1:${tb.wssPort}/mqtt` : tb.url;
const secure: IClientOptions = { rejectUnauthorized: false };

/** Publishes QoS 0/1/2 from `pubVia` and checks a `subVia` subscriber receives them in order. */
async function exchange(tb: SecureBroker, pubVia: Via, subVia: Via, protocolVersion: 4 | 5): Promise<void> {
  const sub = await connectClient(urlFor(tb, subVia), { ...secure, protocolVersion, clientId: `sub-${subVia}` });
  const pub = await connectClient(urlFor(tb, pubVia), { ...secure, protocolVersion, clientId: `pub-${pubVia}` });
  try {
    const inbox = collect(sub);
    await sub.subscribeAsync('s/#', { qos: 2 });
    for (const qos of [0, 1, 2] as const) await pub.publishAsync(`s/${qos}`, `${pubVia}->${subVia} ${qos}`, { qos });
    await inbox.waitCount(3);
    assert.equal(
      inbox.messages.map((m) => [m.topic, m.payload, m.packet.qos]),
      [0, 1, 2].map((q) => [`s/${q}`, `${pubVia}->${subVia} ${q}`, q]),
    );
  } finally {
    await endClient(pub, true);
    await endClient(sub, true);
  }
}

const pairs: [Via, Via, 4 | 5][] = [
  ['tls', 'wss', 5],
  ['wss', 'tls', 5],
  ['tls', 'tcp', 4],
  ['tcp', 'wss', 4],
];
for (const [pubVia, subVia, version] of pairs) {
  withOpenssl(`${pubVia.toUpperCase()} publisher -> ${subVia.toUpperCase()} subscriber, QoS 0/1/2 (MQTT.js, ${version === 5 ? '5.0' : '3.1.1'}, rejectUnauthorized false)`, async () => {
    await withServedBroker((tb) => exchange(tb, pubVia, subVia, version));
  });
}

withOpenssl('the TLS listener serves the configured certificate (verifies against it as CA for "localhost")', async () => {
  await withServedBroker(async (tb) => {
    const socket = tls.connect({ host: '127.0.0.1', port: tb.tlsPort, servername: 'localhost', ca: readFileSync(cert) });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', resolve);
        socket.once('error', reject);
      });
      assert.is(socket.authorized, true);
      assert.is(socket.getPeerCertificate().subject.CN, 'localhost');
    } finally {
      socket.destroy();
    }
  });
});

withOpenssl('a plain (non-TLS) MQTT client on the TLS port gets no CONNACK and is disconnected', async () => {
  await withServedBroker(async (tb) => {
    const client = await RawClient.connect(tb.tlsPort, 4);
    try {
      client.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId: 'plain' });
      const got = await client.expectClose();
      // Whatever bytes the TLS layer sent back (an alert), none of them is an MQTT CONNACK.
      assert.is(got.some((p) => p.cmd === 'connack'), false);
      assert.is(tb.broker.connections.size, 0);
      assert.is(tb.broker.sessions.size, 0);
    } finally {
      client.end();
    }
  });
});

withOpenssl('a plain HTTPS GET on the WSS port is answered 426 Upgrade Required', async () => {
  await withServedBroker(async (tb) => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = https.get({ host: '127.0.0.1', port: tb.wssPort, path: '/mqtt', rejectUnauthorized: false, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
    });
    assert.is(status, 426);
    await waitFor(() => tb.broker.connections.size === 0, 1000, 'no MQTT connection from an HTTP request');
  });
});

test.run();
