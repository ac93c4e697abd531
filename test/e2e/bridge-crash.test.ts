// End to end, issue 16: a real `wharf` process bridging to a real Mosquitto through a TCP proxy is killed with
// SIGKILL during an outage and again during catch-up, and restarted on the same data directory. Every local publish
// Wharf acknowledged must reach the upstream at least once, in order per rule; duplicates may only come from
// messages in flight (sent, or acknowledged upstream but not yet removed on disk) at the kill, so they are bounded
// by the window plus what one commit window can hold.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Workspace, type WharfProcess } from '../helpers/broker-process.js';
import { connectClient, endClient } from '../helpers/mqttjs.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { requireTool, waitFor } from '../helpers/tools.js';
import { UpstreamMosquitto, UpstreamObserver } from '../helpers/upstream-mosquitto.js';
import { inOrderAtLeastOnce, sequence } from '../bridge/bridge-kit.js';

const crash = suite('e2e bridge: SIGKILL during an outage and during catch-up loses no acknowledged publish');
const test = requireTool(crash, 'mosquitto');

const INFLIGHT = 16;

function bridgeYaml(proxyPort: number): string {
  return `bridges:
  - name: cloud
    url: mqtt://127.0.0.1:${proxyPort}
    clientId: site-17
    reconnectMinDelay: 50ms
    reconnectMaxDelay: 200ms
    forward:
      - { filter: telemetry/#, remotePrefix: sites/17/, qos: 1 }
      - { filter: events/#, remotePrefix: sites/17/, qos: 1 }
    outbox: { inflight: ${INFLIGHT} }
`;
}

async function publish(w: WharfProcess, topic: string, payloads: string[]): Promise<void> {
  const c = await connectClient(w.url);
  try {
    for (let i = 0; i < payloads.length; i += 500) await Promise.all(payloads.slice(i, i + 500).map((p) => c.publishAsync(topic, p, { qos: 1 })));
  } finally {
    await endClient(c);
  }
}

test('kill -9 while the link is down, then again while catching up: everything acknowledged arrives, in order per rule', async () => {
  const upstream = new UpstreamMosquitto();
  await upstream.start();
  const proxy = new TcpProxy(upstream.port);
  await proxy.start();
  const observer = await UpstreamObserver.connect(upstream.url, ['sites/17/#']);
  const ws = Workspace.create(undefined, bridgeYaml(proxy.port));
  try {
    proxy.setMode('refuse');
    let wharf = await ws.start();
    const telemetry = sequence('t', 3000);
    const events = sequence('e', 1000);
    await publish(wharf, 'telemetry/x', telemetry.slice(0, 1500));
    await publish(wharf, 'events/y', events.slice(0, 500));
    await wharf.crash();

    // Restarted, still offline: the outbox is on disk; more is queued behind it.
    wharf = await ws.start();
    await publish(wharf, 'telemetry/x', telemetry.slice(1500));
    await publish(wharf, 'events/y', events.slice(500));
    proxy.setMode('forward');
    await waitFor(() => observer.received.length >= 1000, 30_000, 'catch-up to start');
    await wharf.crash();
    const atKill = observer.received.length;
    assert.ok(atKill < 4000, `the kill came during catch-up (${atKill} of 4000 upstream)`);

    wharf = await ws.start();
    await waitFor(() => new Set(observer.payloads()).size >= 4000, 30_000, 'all 4000 upstream');
    await new Promise((r) => setTimeout(r, 300));
    const t = observer.payloads('sites/17/telemetry/x');
    const e = observer.payloads('sites/17/events/y');
    assert.is(inOrderAtLeastOnce(t, telemetry), undefined);
    assert.is(inOrderAtLeastOnce(e, events), undefined);
    const duplicates = t.length + e.length - new Set(t).size - new Set(e).size;
    // In flight at the kill: the window, plus acknowledged ones whose removal was within the last commit windows.
    assert.ok(duplicates <= INFLIGHT + 200, `${duplicates} duplicates`);
    process.stderr.write(`bridge-crash: ${atKill} upstream at the kill, ${duplicates} duplicates after it\n`);
    await wharf.stop();
  } finally {
    await ws.dispose();
    await observer.close();
    await proxy.stop();
    await upstream.dispose();
  }
});

crash.run();
