// A plain WebSocket listener loads node:http and ws at its first connection, not at start (src/broker/listeners.ts,
// issue 13: the embedded default listens for WebSocket on 8083, and an idle broker nobody reached there should not
// carry the two modules). Checked in a real `wharf start` child through a preload that reports its built-in modules.
// Then MQTT.js over ws:// works, and a stop with an MQTT client over WebSocket, a kept-alive plain HTTP connection
// and a request stuck in its headers ends cleanly, the MQTT client getting its DISCONNECT.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort } from '../../helpers/broker-process.js';
import { startProbedWharf } from '../../helpers/builtins-report.js';
import { collect, connectClient } from '../../helpers/mqttjs.js';

const test = suite('09-transport: WebSocket listener loaded at its first connection');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

test('no node:http before the first WebSocket client; MQTT over ws:// then works; stop closes plain HTTP sockets and disconnects MQTT ones', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-lazy-ws-'));
  const [port, wsPort] = [await freePort(), await freePort()];
  const config = join(dir, 'wharf.yaml');
  // No admin listener: its first connection would load node:http too.
  writeFileSync(
    config,
    `listeners:\n  - { type: tcp, host: 127.0.0.1, port: ${port} }\n  - { type: ws, host: 127.0.0.1, port: ${wsPort}, path: /mqtt }\n` +
      `storage:\n  dataDir: ${JSON.stringify(join(dir, 'data'))}\nadmin:\n  enabled: false\nlog:\n  level: info\n`,
  );
  const wharf = startProbedWharf(config, dir);
  const agent = new http.Agent({ keepAlive: true });
  try {
    // Ready when the log names the ws port: connecting to find out would be its first connection.
    assert.ok(await wharf.waitForOutput(`port=${wsPort}`), wharf.output());
    const before = await wharf.builtins();
    assert.ok(before.includes('net'), 'the probe reports built-ins');
    assert.not.ok(before.includes('http'), 'node:http is not loaded before the first WebSocket connection');

    const ws = await connectClient(`ws://127.0.0.1:${wsPort}/mqtt`, { clientId: 'lazy-ws-sub' });
    const tcp = await connectClient(`mqtt://127.0.0.1:${port}`, { clientId: 'lazy-ws-pub' });
    const inbox = collect(ws);
    await ws.subscribeAsync('lazy/#', { qos: 1 });
    await tcp.publishAsync('lazy/x', 'over tcp to ws', { qos: 1 });
    await inbox.waitCount(1);
    assert.is(inbox.messages[0]!.payload, 'over tcp to ws');
    assert.ok((await wharf.builtins()).includes('http'));
    await tcp.endAsync();

    // A plain request on the WebSocket port is answered 426 and its connection kept alive by the agent; another one
    // never finishes its headers. Neither is an MQTT connection the broker would close: the listener must.
    const plain = await new Promise<number>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: wsPort, path: '/', agent }, (res) => (res.resume(), resolve(res.statusCode ?? 0))).on('error', reject);
    });
    assert.is(plain, 426);
    const stuck = net.connect(wsPort, '127.0.0.1');
    stuck.on('error', () => undefined);
    await new Promise<void>((resolve) => stuck.once('connect', () => resolve()));
    stuck.write('GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const stuckClosed = new Promise<void>((resolve) => stuck.once('close', () => resolve()));
    let reason: number | undefined;
    ws.on('disconnect', (packet) => (reason = packet.reasonCode));
    await sleep(100);
    assert.is(await wharf.terminate(), 0, wharf.output());
    await stuckClosed;
    assert.is(reason, 0x8b, 'the WebSocket client got DISCONNECT Server shutting down');
    ws.end(true);
  } finally {
    agent.destroy();
    await wharf.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
