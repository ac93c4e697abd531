// Acknowledged outbox messages leave the store for good: the removals of a burst of upstream PUBACKs go to the
// store together (Store.removeQueueMessages), and a restart after the catch-up finds none of them again.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { requireTool, waitFor } from '../helpers/tools.js';
import { inOrderAtLeastOnce, publishAll, sequence, withRig } from './bridge-kit.js';

const removal = suite('bridge outbox removal');
const test = requireTool(removal, 'mosquitto');

test('after a catch-up, a restart resends nothing: every acknowledged message is gone from the outbox on disk', () =>
  withRig({ forward: [{ filter: 'a/#', qos: 1 }, { filter: 'b/#', qos: 1, priority: 'high' }], outbox: { inflight: 64 } }, async (r) => {
    r.proxy.setMode('refuse');
    await waitFor(() => r.bridge.health.state === 'disconnected', 5000, 'the outage');
    const wantA = sequence('a', 3000);
    const wantB = sequence('b', 300);
    await publishAll(r.wharf.url, 'a/x', wantA);
    await publishAll(r.wharf.url, 'b/y', wantB);
    r.proxy.setMode('forward');
    await waitFor(() => r.observer.received.length >= 3300, 30_000, 'the backlog upstream');
    await waitFor(() => r.bridge.outboxDepth() === 0, 5000, 'an empty outbox');
    assert.is(inOrderAtLeastOnce(r.observer.payloads('a/x'), wantA), undefined);
    assert.is(inOrderAtLeastOnce(r.observer.payloads('b/y'), wantB), undefined);
    assert.is(r.bridge.counters.acknowledged, 3300);
    const arrived = r.observer.received.length;
    await r.restartWharf();
    assert.is(r.bridge.outboxDepth(), 0, 'the outbox read back from disk is empty');
    await publishAll(r.wharf.url, 'a/x', ['after']);
    // Order per rule and lanes: anything left in the outbox would arrive before this one.
    await waitFor(() => r.observer.payloads('a/x').includes('after'), 10_000, 'a new message upstream');
    assert.is(r.observer.received.length, arrived + 1, 'nothing acknowledged before the restart came again');
  }),
);

test('a link broken right after a PUBACK: the acknowledged message leaves the outbox, it is not sent again', () =>
  withRig({ forward: [{ filter: 'a/#', qos: 1 }], outbox: { inflight: 1 } }, async (r) => {
    const client = (r.bridge as unknown as { client: import('mqtt').MqttClient }).client;
    let broke = false;
    // Runs after the bridge's own handler of the same packet: the acknowledgement is taken, not yet settled.
    client.on('packetreceive', (packet) => {
      if (packet.cmd !== 'puback' || broke) return;
      broke = true;
      r.bridge.link.teardown('test: break right after a PUBACK');
    });
    const want = sequence('k', 5);
    await publishAll(r.wharf.url, 'a/x', want);
    await waitFor(() => r.bridge.outboxDepth() === 0 && r.observer.received.length >= 5, 10_000, 'all five upstream');
    assert.ok(broke, 'the link was broken after a PUBACK');
    assert.is(r.bridge.counters.disconnects, 1);
    assert.is(r.bridge.counters.resent, 0, 'nothing was in flight at the break but the acknowledged message');
    assert.equal(r.observer.payloads('a/x'), want);
  }),
);

removal.run();
