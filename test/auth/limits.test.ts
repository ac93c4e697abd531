// Connection limits against abuse: mqtt.maxConnections (CONNACK 0x97, 3.1.1: 3), mqtt.connectTimeout,
// mqtt.maxPendingConnectionsPerAddress, and the growing delay for repeated failed logins from one address.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { startBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';
import { waitFor } from '../helpers/tools.js';
import { LoginThrottle, hostOf } from '../../src/auth/login-throttle.js';

const test = suite('auth: connection limits');

const codeOf = (connack: unknown) => (connack as { reasonCode?: number }).reasonCode ?? (connack as { returnCode?: number }).returnCode;

test('beyond mqtt.maxConnections CONNECT is answered 0x97 (3.1.1: 3); a freed slot is taken again', async () => {
  const tb = await startBroker({ maxConnections: 2 });
  try {
    const a = await RawClient.connected(tb.port, { clientId: 'a' });
    const b = await RawClient.connected(tb.port, { clientId: 'b' });
    assert.is(codeOf(a.connack), 0);
    assert.is(codeOf(b.connack), 0);
    const c5 = await RawClient.connected(tb.port, { clientId: 'c5' });
    assert.is(codeOf(c5.connack), 0x97);
    await c5.client.expectClose();
    const c4 = await RawClient.connected(tb.port, { clientId: 'c4' }, 4);
    assert.is(codeOf(c4.connack), 3);
    await c4.client.expectClose();
    a.client.end();
    await a.client.closed;

    await waitFor(() => tb.broker.connections.size === 1, 3000, 'the closed slot');
    const d = await RawClient.connected(tb.port, { clientId: 'd' });
    assert.is(codeOf(d.connack), 0);
    b.client.end();
    d.client.end();
  } finally {
    await tb.stop();
  }
});

test('mqtt.connectTimeout closes a socket that sends no CONNECT', async () => {
  const tb = await startBroker({ connectTimeout: 150 });
  try {
    assert.is(tb.broker.connectTimeoutMs, 150);
    const c = await RawClient.connect(tb.port);
    const packets = await c.expectClose(5000);
    assert.equal(packets, []);
  } finally {
    await tb.stop();
  }
});

test('more sockets without CONNECT than mqtt.maxPendingConnectionsPerAddress from one address: the extra one is closed; after CONNECT they no longer count', async () => {
  const tb = await startBroker({ maxPendingConnectionsPerAddress: 3 });
  const sockets: net.Socket[] = [];
  try {
    const open = async () => {
      const s = net.connect(tb.port, '127.0.0.1');
      s.on('error', () => undefined);
      sockets.push(s);
      await new Promise<void>((resolve) => s.once('connect', () => resolve()));
      return s;
    };
    for (let i = 0; i < 3; i++) await open();
    const extra = await open();
    await new Promise<void>((resolve) => extra.once('close', () => resolve()));
    assert.is(tb.broker.pendingConnections.size, 3);
    // A client that completes CONNECT frees its pending slot for the next socket.
    for (const s of sockets.slice(0, 3)) s.destroy();

    await waitFor(() => tb.broker.pendingConnections.size === 0, 3000, 'pending sockets to close');
    const clients = [];
    for (let i = 0; i < 5; i++) clients.push(await RawClient.connected(tb.port, { clientId: `ok-${i}` }));
    assert.ok(clients.every((c) => codeOf(c.connack) === 0));
    assert.is(tb.broker.pendingConnections.size, 0);
    for (const c of clients) c.client.end();
  } finally {
    for (const s of sockets) s.destroy();
    await tb.stop();
  }
});

test('failed logins: the first three from an address are answered at once, then later and later up to 10 s; success resets', () => {
  const t = new LoginThrottle();
  const delays = Array.from({ length: 10 }, (_, i) => t.failed('10.0.0.9', 1000 + i));
  assert.equal(delays, [0, 0, 0, 250, 500, 1000, 2000, 4000, 8000, 10000]);
  assert.is(t.failed('10.0.0.8', 2000), 0, 'another address is not slowed');
  t.succeeded('10.0.0.9');
  assert.is(t.failed('10.0.0.9', 3000), 0);
  // Ten minutes without a failure start afresh.
  const u = new LoginThrottle();
  for (let i = 0; i < 5; i++) u.failed('h', 0);
  assert.is(u.failed('h', 11 * 60_000), 0);
});

test('hostOf strips the port, IPv6 included', () => {
  assert.is(hostOf('127.0.0.1:5555'), '127.0.0.1');
  assert.is(hostOf('::ffff:10.1.2.3:80'), '::ffff:10.1.2.3');
});

test.run();
