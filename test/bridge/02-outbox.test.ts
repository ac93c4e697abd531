// The outbox's rules while the link is down: last_value compaction, priority lanes overtaking a backlog, the
// outbox limits (drop_oldest counted, reject answered 0x97), and an upstream restarted without persistence.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connectClient, endClient } from '../helpers/mqttjs.js';
import { requireTool, waitFor } from '../helpers/tools.js';
import { UpstreamObserver } from '../helpers/upstream-mosquitto.js';
import { inOrderAtLeastOnce, publishAll, sequence, withRig, type Rig } from './bridge-kit.js';

const outbox = suite('bridge outbox');
const test = requireTool(outbox, 'mosquitto');

async function outage(r: Rig): Promise<void> {
  r.proxy.setMode('refuse');
  await waitFor(() => r.bridge.health.state === 'disconnected', 5000, 'the bridge to see the outage');
}

test('last_value: 10,000 publishes to 100 topics during an outage arrive upstream as 100 messages, the newest of each', () =>
  withRig({ forward: [{ filter: 'devices/+/state', remotePrefix: 'sites/17/', qos: 1, whileOffline: 'last_value' }] }, async (r) => {
    await outage(r);
    const c = await connectClient(r.wharf.url);
    try {
      for (let round = 0; round < 100; round++) {
        await Promise.all(Array.from({ length: 100 }, (_, d) => c.publishAsync(`devices/d${d}/state`, `r${round}`, { qos: 1 })));
      }
    } finally {
      await endClient(c);
    }
    assert.is(r.bridge.outboxDepth(), 100);
    r.proxy.setMode('forward');
    await waitFor(() => r.bridge.outboxDepth() === 0 && r.observer.received.length >= 100, 10_000, 'the compacted backlog upstream');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.is(r.observer.received.length, 100);
    const byTopic = new Map(r.observer.received.map((m) => [m.topic, m.payload]));
    assert.is(byTopic.size, 100);
    for (let d = 0; d < 100; d++) assert.is(byTopic.get(`sites/17/devices/d${d}/state`), 'r99');
  }),
);

test('a high-priority rule overtakes a telemetry backlog after an outage; order within each rule holds', () =>
  withRig({ forward: [{ filter: 'telemetry/#', qos: 1 }, { filter: 'alarms/#', qos: 1, priority: 'high' }], outbox: { inflight: 8 } }, async (r) => {
    await outage(r);
    const telemetry = sequence('t', 2000);
    const alarms = sequence('alarm', 20);
    await publishAll(r.wharf.url, 'telemetry/x', telemetry);
    await publishAll(r.wharf.url, 'alarms/fire', alarms);
    r.proxy.setMode('forward');
    await waitFor(() => r.bridge.outboxDepth() === 0 && r.observer.received.length >= 2020, 20_000, 'everything upstream');
    const order = r.observer.received.map((m) => m.payload);
    const lastAlarm = order.lastIndexOf('alarm-19');
    assert.ok(lastAlarm < 20 + 8, `every alarm before all but the first window of telemetry (last alarm at ${lastAlarm})`);
    assert.is(inOrderAtLeastOnce(r.observer.payloads('alarms/fire'), alarms), undefined);
    assert.is(inOrderAtLeastOnce(r.observer.payloads('telemetry/x'), telemetry), undefined);
  }),
);

test('outbox full with drop_oldest: the oldest are dropped and counted, the newest reach the upstream', () =>
  withRig({ forward: [{ filter: 'a/#', qos: 1 }], outbox: { maxMessages: 100, overflow: 'drop_oldest' } }, async (r) => {
    await outage(r);
    const all = sequence('m', 150);
    await publishAll(r.wharf.url, 'a/x', all);
    assert.is(r.bridge.outboxDepth(), 100);
    assert.is(r.bridge.queues[0]!.counters.dropped, 50);
    r.proxy.setMode('forward');
    await waitFor(() => r.bridge.outboxDepth() === 0 && r.observer.received.length >= 100, 10_000, 'the newest 100 upstream');
    assert.equal(r.observer.payloads(), all.slice(50));
  }),
);

test('outbox full with reject: the publisher hears 0x97 Quota exceeded and nothing is lost of what was accepted', () =>
  withRig({ forward: [{ filter: 'a/#', qos: 1 }], outbox: { maxMessages: 10, overflow: 'reject' } }, async (r) => {
    await outage(r);
    await publishAll(r.wharf.url, 'a/x', sequence('m', 10));
    const c = await connectClient(r.wharf.url);
    try {
      const err = await c.publishAsync('a/x', 'one too many', { qos: 1 }).then(
        () => undefined,
        (e: { code?: number }) => e,
      );
      assert.is(err?.code, 0x97);
    } finally {
      await endClient(c);
    }
    r.proxy.setMode('forward');
    await waitFor(() => r.bridge.outboxDepth() === 0 && r.observer.received.length >= 10, 10_000, 'the 10 upstream');
    assert.equal(r.observer.payloads(), sequence('m', 10));
  }),
);

test('an upstream restarted without persistence loses what it had not acknowledged; the bridge resends it', () =>
  withRig({ forward: [{ filter: 'a/#', qos: 1 }], stallTimeout: 0 }, async (r) => {
    r.proxy.setMode('blackhole');
    const want = sequence('m', 50);
    await publishAll(r.wharf.url, 'a/x', want);
    await waitFor(() => r.bridge.inflight === 50, 5000, '50 sent and unacknowledged');
    await r.observer.close();
    await r.upstream.kill();
    r.proxy.setMode('refuse');
    await waitFor(() => r.bridge.health.state === 'disconnected', 5000, 'the link to break');
    await r.upstream.start();
    r.observer = await UpstreamObserver.connect(r.upstream.url, ['#']);
    r.proxy.setMode('forward');
    await waitFor(() => r.bridge.outboxDepth() === 0 && r.observer.received.length >= 50, 10_000, 'the resent messages');
    assert.equal(r.observer.payloads(), want);
    assert.is(r.bridge.counters.resent, 50, 'sent again, with DUP (a flag of that hop only: the observer does not see it)');
  }),
);

outbox.run();
