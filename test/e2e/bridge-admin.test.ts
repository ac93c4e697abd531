// End to end: a `wharf start` process with a bridge, seen through its operations surface: GET /api/v1/bridges[/NAME],
// `wharf bridges [show NAME] [--json]`, the wharf_bridge_* metrics, the retained $SYS/wharf/bridges/<name> and
// status topics, and health that follows what the upstream acknowledges, not just the connection.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { portAccepts, runWharf, Workspace, type WharfProcess } from '../helpers/broker-process.js';
import { collect, connectClient, endClient } from '../helpers/mqttjs.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { requireTool, waitFor } from '../helpers/tools.js';
import { UpstreamMosquitto } from '../helpers/upstream-mosquitto.js';

const ops = suite('e2e bridge: admin API, CLI, metrics, status topics and health');
const test = requireTool(ops, 'mosquitto');

async function api(w: WharfProcess, path: string): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(`http://127.0.0.1:${w.adminPort}${path}`);
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, body, text };
}

async function stateOf(w: WharfProcess): Promise<string> {
  return (await api(w, '/api/v1/bridges/cloud')).body.state;
}

test('state, outbox and counters through the API, the CLI and /metrics; retained status topics follow state changes', async () => {
  const upstream = new UpstreamMosquitto();
  await upstream.start();
  const proxy = new TcpProxy(upstream.port);
  await proxy.start();
  const ws = Workspace.create(
    undefined,
    `bridges:
  - name: cloud
    url: mqtt://127.0.0.1:${proxy.port}
    reconnectMinDelay: 50ms
    reconnectMaxDelay: 200ms
    stallTimeout: 1s
    connectTimeout: 1s
    forward:
      - { filter: telemetry/#, remotePrefix: sites/17/, qos: 1, whileOffline: last_value }
      - { filter: alarms/#, qos: 1, priority: high }
`,
  );
  const wharf = await ws.start();
  try {
    // The admin API listens a moment after the MQTT port (monitoring starts once the broker has).
    for (let i = 0; i < 500 && !(await portAccepts(wharf.adminPort)); i++) await new Promise((r) => setTimeout(r, 20));
    for (let i = 0; i < 200 && (await stateOf(wharf)) !== 'healthy'; i++) await new Promise((r) => setTimeout(r, 50));
    assert.is(await stateOf(wharf), 'healthy', 'idle outbox: the CONNACK and pings make it healthy');

    const watcher = await connectClient(wharf.url);
    const status = collect(watcher);
    await watcher.subscribeAsync(['$SYS/wharf/bridges/cloud', 'wharf/bridges/cloud/status'], { qos: 0 });
    await status.waitCount(2, 5000);
    assert.ok(status.messages.every((m) => m.packet.retain && JSON.parse(m.payload).state === 'healthy'), 'retained status on both topics');

    proxy.setMode('blackhole');
    const c = await connectClient(wharf.url);
    for (let i = 0; i < 5; i++) await c.publishAsync(`telemetry/t${i}`, 'v', { qos: 1 });
    await c.publishAsync('alarms/a', 'fire', { qos: 1 });
    await endClient(c);
    // Connected but acknowledging nothing: not healthy, then torn down after stallTimeout.
    for (let i = 0; i < 100 && (await stateOf(wharf)) === 'healthy'; i++) await new Promise((r) => setTimeout(r, 50));
    const during = (await api(wharf, '/api/v1/bridges/cloud')).body;
    assert.is.not(during.state, 'healthy');
    assert.is(during.outbox.depth, 6);
    assert.equal(during.outbox.rules.map((r: { queue: string; depth: number }) => [r.queue, r.depth]), [['bridge.cloud.0', 5], ['bridge.cloud.1', 1]]);
    await waitFor(() => status.messages.some((m) => JSON.parse(m.payload).state !== 'healthy'), 10_000, 'a status change announced');

    const list = await runWharf(['--admin', `127.0.0.1:${wharf.adminPort}`, 'bridges']);
    assert.is(list.code, 0, list.stderr);
    assert.match(list.stdout, /cloud\s+\S+\s+mqtt:\/\/127\.0\.0\.1:\d+\s+6\s/);
    const show = await runWharf(['--admin', `127.0.0.1:${wharf.adminPort}`, 'bridges', 'show', 'cloud']);
    assert.match(show.stdout, /bridge\.cloud\.1\s+alarms\/#\s+high/);
    const asJson = await runWharf(['--admin', `127.0.0.1:${wharf.adminPort}`, 'bridges', '--json']);
    assert.is(JSON.parse(asJson.stdout)[0].outbox.depth, 6);
    const missing = await runWharf(['--admin', `127.0.0.1:${wharf.adminPort}`, 'bridges', 'show', 'nope']);
    assert.is.not(missing.code, 0);
    assert.match(missing.stderr, /no bridge named "nope"/);

    proxy.setMode('forward');
    for (let i = 0; i < 200 && (await api(wharf, '/api/v1/bridges/cloud')).body.outbox.depth > 0; i++) await new Promise((r) => setTimeout(r, 50));
    const after = (await api(wharf, '/api/v1/bridges/cloud')).body;
    assert.is(after.outbox.depth, 0);
    assert.is(after.state, 'healthy');
    assert.ok(after.counters.acknowledged >= 6 && after.lastAckAt !== null);
    const metrics = (await api(wharf, '/metrics')).text;
    assert.match(metrics, /wharf_bridge_healthy\{bridge="cloud"\} 1/);
    assert.match(metrics, /wharf_bridge_outbox_messages\{bridge="cloud"\} 0/);
    assert.match(metrics, /wharf_bridge_acknowledged_total\{bridge="cloud"\} [1-9]/);
    assert.match(metrics, /wharf_bridge_state\{bridge="cloud",state="healthy"\} 1/);
    await endClient(watcher);
    await wharf.stop();
  } finally {
    await ws.dispose();
    await proxy.stop();
    await upstream.dispose();
  }
});

ops.run();
