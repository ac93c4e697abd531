// Forwarding to a real Mosquitto upstream: prefixes, acknowledgement semantics (a message leaves the outbox only
// on the upstream's PUBACK), and an outage followed by catch-up with no new local traffic (nanomq#2423).

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { requireTool, waitFor } from '../helpers/tools.js';
import { inOrderAtLeastOnce, publishAll, sequence, withRig } from './bridge-kit.js';

const forward = suite('bridge forward');
const test = requireTool(forward, 'mosquitto');

test('a matching local publish reaches the upstream under the remote prefix, and leaves the outbox when acknowledged', () =>
  withRig({ forward: [{ filter: 'site/devices/+/state', localPrefix: 'site/', remotePrefix: 'sites/17/', qos: 1 }] }, async (r) => {
    const want = sequence('m', 200);
    await publishAll(r.wharf.url, 'site/devices/pump/state', want);
    await publishAll(r.wharf.url, 'site/other', ['not forwarded']);
    await waitFor(() => r.observer.received.length >= 200, 10_000, 'upstream to receive 200');
    assert.is(inOrderAtLeastOnce(r.observer.payloads('sites/17/devices/pump/state'), want), undefined);
    assert.ok(r.observer.received.every((m) => m.topic === 'sites/17/devices/pump/state'));
    await waitFor(() => r.bridge.outboxDepth() === 0, 5000, 'an empty outbox');
    assert.is(r.bridge.counters.acknowledged, 200);
    assert.is(r.bridge.queues[0]!.counters.acknowledged, 200);
  }),
);

test('nothing leaves the outbox while the upstream does not acknowledge (black-holed link)', () =>
  withRig({ forward: [{ filter: 'a/#', qos: 1 }], stallTimeout: 0 }, async (r) => {
    r.proxy.setMode('blackhole');
    await publishAll(r.wharf.url, 'a/x', sequence('held', 20));
    await waitFor(() => r.bridge.inflight === 20, 5000, '20 in flight');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.is(r.bridge.outboxDepth(), 20, 'sent but unacknowledged messages stay in the outbox');
    assert.is(r.bridge.counters.acknowledged, 0);
  }),
);

test('after an outage the backlog drains on reconnect, with no new local traffic, in order', () =>
  withRig({ forward: [{ filter: 'a/#', qos: 1 }, { filter: 'b/#', qos: 1 }], outbox: { inflight: 32 } }, async (r) => {
    r.proxy.setMode('refuse');
    await waitFor(() => r.bridge.health.state === 'disconnected', 5000, 'the bridge to see the outage');
    const wantA = sequence('a', 1000);
    const wantB = sequence('b', 500);
    await publishAll(r.wharf.url, 'a/x', wantA);
    await publishAll(r.wharf.url, 'b/y', wantB);
    assert.is(r.bridge.outboxDepth(), 1500);
    assert.is(r.observer.received.length, 0);
    r.proxy.setMode('forward');
    await waitFor(() => r.observer.received.length >= 1500, 20_000, 'the backlog upstream');
    assert.is(inOrderAtLeastOnce(r.observer.payloads('a/x'), wantA), undefined);
    assert.is(inOrderAtLeastOnce(r.observer.payloads('b/y'), wantB), undefined);
    await waitFor(() => r.bridge.outboxDepth() === 0, 5000, 'an empty outbox');
    assert.is(r.observer.received.length, 1500, 'no duplicates: nothing was in flight at the break');
  }),
);

test('a link dropped during catch-up loses nothing; only messages in flight at the break come again (DUP)', () =>
  withRig({ forward: [{ filter: 'a/#', qos: 1 }], outbox: { inflight: 16 } }, async (r) => {
    r.proxy.setMode('refuse');
    await waitFor(() => r.bridge.health.state === 'disconnected', 5000, 'the outage');
    const want = sequence('c', 5000);
    await publishAll(r.wharf.url, 'a/x', want);
    r.proxy.setMode('forward');
    for (let i = 0; i < 3; i++) {
      const before = r.observer.received.length;
      await waitFor(() => r.observer.received.length > before + 100 || r.bridge.outboxDepth() === 0, 20_000, 'progress');
      r.proxy.dropAll();
    }
    await waitFor(() => r.bridge.outboxDepth() === 0, 30_000, 'an empty outbox');
    const got = r.observer.payloads('a/x');
    assert.is(inOrderAtLeastOnce(got, want), undefined);
    const duplicates = got.length - new Set(got).size;
    assert.ok(duplicates <= 3 * 16, `duplicates ${duplicates} only from in-flight messages`);
    assert.ok(r.bridge.counters.disconnects >= 3);
    assert.is(r.bridge.counters.resent > 0, true, 'messages in flight at a break were sent again');
  }),
);

forward.run();
