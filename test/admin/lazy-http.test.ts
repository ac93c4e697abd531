// The admin listener loads node:http at its first connection, not at start (src/admin/server.ts, issue 13: 0.4 MB
// of an idle broker's RSS): checked in a real `wharf start` child through a preload that reports its built-in
// modules (test/helpers/builtins-probe.ts). The first request is answered, and a stop with a keep-alive connection
// and a request stuck in its headers ends cleanly (the connections handed to the HTTP server are closed).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort } from '../helpers/broker-process.js';
import { startProbedWharf } from '../helpers/builtins-report.js';

const test = suite('admin: node:http loaded at the first connection');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function get(port: number, path: string, agent: http.Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

test('an idle broker has not loaded node:http; the first request loads it and is answered; stop closes a kept-alive connection and a stuck request', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-lazy-http-'));
  const [port, adminPort] = [await freePort(), await freePort()];
  const config = join(dir, 'wharf.yaml');
  // No ws listener: its first connection would load node:http too.
  writeFileSync(config, `listeners:\n  - { type: tcp, host: 127.0.0.1, port: ${port} }\nstorage:\n  dataDir: ${JSON.stringify(join(dir, 'data'))}\nadmin:\n  listen: 127.0.0.1:${adminPort}\nlog:\n  level: info\n`);
  const wharf = startProbedWharf(config, dir);
  const agent = new http.Agent({ keepAlive: true });
  try {
    // Ready when the log says the admin port is bound: connecting to it to find out would be its first connection.
    assert.ok(await wharf.waitForOutput('admin listening'), wharf.output());
    const before = await wharf.builtins();
    assert.ok(before.includes('net'), 'the probe reports built-ins');
    assert.not.ok(before.includes('http'), 'node:http is not loaded before the first admin request');
    const health = await get(adminPort, '/healthz', agent);
    assert.is(health.status, 200, health.body);
    const status = await get(adminPort, '/api/v1/status', agent);
    assert.is(status.status, 200, status.body);
    assert.ok((await wharf.builtins()).includes('http'));
    // The agent keeps its connection open, and a request whose headers never end holds another (the HTTP server's
    // 10 s headers timeout is checked only every 30 s): the broker must close both itself to finish stopping.
    const stuck = net.connect(adminPort, '127.0.0.1');
    stuck.on('error', () => undefined);
    await new Promise<void>((resolve) => stuck.once('connect', () => resolve()));
    stuck.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const stuckClosed = new Promise<void>((resolve) => stuck.once('close', () => resolve()));
    await sleep(100);
    assert.is(await wharf.terminate(), 0, wharf.output());
    await stuckClosed;
  } finally {
    agent.destroy();
    await wharf.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
