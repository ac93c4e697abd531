// Subscribe rules and links that fail quietly: commands from the upstream land in a local last-value queue (also
// those queued upstream while the link was down) and reach a consumer that comes later; bridges both ways do not
// loop (MQTT 5 and 3.1.1 upstreams); a half-open link is torn down after stallTimeout and nothing is lost.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_QUEUE_SETTINGS } from '../../src/queue/types.js';
import { collect, connectClient, endClient } from '../helpers/mqttjs.js';
import { requireTool, waitFor } from '../helpers/tools.js';
import { inOrderAtLeastOnce, publishAll, sequence, withRig } from './bridge-kit.js';

const downlink = suite('bridge downlink, loops and stalls');
const test = requireTool(downlink, 'mosquitto');

test('commands from upstream, some sent while the link was down, land in a local last-value queue for a consumer that comes later', () =>
  withRig(
    { subscribe: [{ filter: 'sites/17/commands/#', remotePrefix: 'sites/17/', qos: 1 }] },
    async (r) => {
      const cloud = await connectClient(r.upstream.url);
      try {
        await cloud.publishAsync('sites/17/commands/pump', 'speed=1', { qos: 1 });
        await waitFor(() => r.wharf.broker.queues!.queueByName('commands')!.depth === 1, 5000, 'the first command queued');
        r.proxy.setMode('refuse');
        await waitFor(() => r.bridge.health.state === 'disconnected', 5000, 'the outage');
        // Queued upstream in the bridge's persistent session meanwhile.
        await cloud.publishAsync('sites/17/commands/pump', 'speed=2', { qos: 1, properties: { correlationData: Buffer.from('c-2') } });
        await cloud.publishAsync('sites/17/commands/fan', 'on', { qos: 1 });
        r.proxy.setMode('forward');
        await waitFor(() => r.bridge.downlink.counters.published >= 3, 10_000, 'the queued commands down');
      } finally {
        await endClient(cloud);
      }
      assert.is(r.wharf.broker.queues!.queueByName('commands')!.depth, 2, 'one command per device: the newest');
      const device = await connectClient(r.wharf.url);
      try {
        const got = collect(device);
        await device.subscribeAsync('$queue/commands', { qos: 1 });
        await got.waitCount(2, 5000);
        const byTopic = new Map(got.messages.map((m) => [m.topic, m]));
        assert.is(byTopic.get('commands/pump')?.payload, 'speed=2');
        assert.is(byTopic.get('commands/pump')?.packet.properties?.correlationData?.toString(), 'c-2');
        assert.is(byTopic.get('commands/fan')?.payload, 'on');
      } finally {
        await endClient(device);
      }
    },
    ['none'],
    (c) => {
      c.queues.definitions.push({ ...DEFAULT_QUEUE_SETTINGS, name: 'commands', topicFilter: 'commands/#', type: 'lastvalue', key: 'topic' });
    },
  ),
);

for (const protocolVersion of [5, 4] as const) {
  test(`bridges both ways on the same topics do not loop (MQTT ${protocolVersion === 5 ? '5' : '3.1.1'} upstream)`, () =>
    withRig({ protocolVersion, forward: [{ filter: 'shared/#', qos: 1 }], subscribe: [{ filter: 'shared/#', qos: 1 }] }, async (r) => {
      const local = await connectClient(r.wharf.url, { clientId: 'local-watcher' });
      const localGot = collect(local);
      await local.subscribeAsync('shared/#', { qos: 1 });
      const cloud = await connectClient(r.upstream.url);
      try {
        await waitFor(() => r.bridge.health.state === 'healthy', 5000, 'the link');
        await new Promise((resolve) => setTimeout(resolve, 200)); // the bridge's SUBSCRIBE is answered
        await publishAll(r.wharf.url, 'shared/up', ['from-site']);
        await cloud.publishAsync('shared/down', 'from-cloud', { qos: 1 });
        // End markers both ways: once they went round, anything looping would have gone round too.
        await publishAll(r.wharf.url, 'shared/up', ['site-end']);
        await cloud.publishAsync('shared/down', 'cloud-end', { qos: 1 });
        await waitFor(() => r.observer.payloads().includes('cloud-end') && localGot.messages.some((m) => m.payload === 'cloud-end'), 10_000, 'the end markers');
        await waitFor(() => r.observer.payloads().includes('site-end'), 10_000, 'the site end marker upstream');
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.equal(r.observer.payloads().sort(), ['cloud-end', 'from-cloud', 'from-site', 'site-end'], 'upstream: each message once');
        assert.equal(localGot.messages.map((m) => m.payload).sort(), ['cloud-end', 'from-cloud', 'from-site', 'site-end'], 'local: each message once');
      } finally {
        await endClient(local);
        await endClient(cloud);
      }
    }),
  );
}

test('a half-open link during catch-up is torn down after stallTimeout and reconnected; nothing is lost', () =>
  withRig({ forward: [{ filter: 'a/#', qos: 1 }], stallTimeout: '500ms', connectTimeout: '1s', outbox: { inflight: 16 } }, async (r) => {
    r.proxy.setMode('refuse');
    await waitFor(() => r.bridge.health.state === 'disconnected', 5000, 'the outage');
    const want = sequence('m', 3000);
    await publishAll(r.wharf.url, 'a/x', want);
    r.proxy.setMode('forward');
    await waitFor(() => r.observer.received.length >= 300, 10_000, 'catch-up to start');
    r.proxy.setMode('blackhole');
    await waitFor(() => r.bridge.counters.stalls >= 1, 10_000, 'the stall to be detected');
    assert.not.ok(r.bridge.health.healthy, 'a stalled link is not healthy');
    r.proxy.setMode('forward');
    await waitFor(() => r.bridge.outboxDepth() === 0, 20_000, 'an empty outbox');
    assert.is(inOrderAtLeastOnce(r.observer.payloads(), want), undefined);
  }),
);

downlink.run();
