// The bridge's downlink as an ACL principal (bridges[].localUsername): what comes down from a real upstream
// Mosquitto is published locally only where that user may write; a denied message is acknowledged upstream
// (0x87 on MQTT 5, a plain PUBACK on 3.1.1) and counted, so it is not sent again after a reconnect; a reload
// (SIGHUP) changes what the bridge may publish.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reloadAuth } from '../../src/auth/reload.js';
import { collect, connectClient, endClient } from '../helpers/mqttjs.js';
import { requireTool, waitFor } from '../helpers/tools.js';
import { withRig } from '../bridge/bridge-kit.js';

const downlink = suite('auth: the bridge downlink under the ACL');
const test = requireTool(downlink, 'mosquitto');

// Anonymous local clients (the watcher) read everything; the bridge's local user may write commands/# only.
const ACL = 'topic read #\n\nuser site-bridge\ntopic write commands/#\n';

for (const protocolVersion of [5, 4] as const) {
  test(`what localUsername may not write is not published, acknowledged upstream once and counted (MQTT ${protocolVersion === 5 ? '5' : '3.1.1'})`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wharf-bridge-acl-'));
    const aclPath = join(dir, 'acl');
    writeFileSync(aclPath, ACL);
    try {
      await withRig(
        { protocolVersion, localUsername: 'site-bridge', subscribe: [{ filter: 'sites/17/#', remotePrefix: 'sites/17/', qos: 1 }] },
        async (r) => {
          const local = await connectClient(r.wharf.url, { clientId: 'local-watcher' });
          const got = collect(local);
          await local.subscribeAsync('#', { qos: 1 });
          const cloud = await connectClient(r.upstream.url, { clientId: 'cloud-app' });
          try {
            await new Promise((resolve) => setTimeout(resolve, 200)); // the bridge's SUBSCRIBE is answered
            const counters = r.bridge.downlink.counters;
            await cloud.publishAsync('sites/17/alarms/fake', 'not from the bridge', { qos: 1 });
            await cloud.publishAsync('sites/17/commands/pump', 'speed=1', { qos: 1 });
            await waitFor(() => got.messages.some((m) => m.topic === 'commands/pump'), 5000, 'the allowed command');
            assert.is(counters.denied, 1);
            await waitFor(() => counters.published >= 1, 5000, 'the allowed command on disk (its PUBACK leaves then)');
            // A reconnect: an unacknowledged message would come again from the upstream's session now.
            r.proxy.setMode('refuse');
            await waitFor(() => r.bridge.health.state === 'disconnected', 5000, 'the outage');
            r.proxy.setMode('forward');
            await waitFor(() => r.bridge.health.state === 'healthy', 10_000, 'the link back');
            await new Promise((resolve) => setTimeout(resolve, 200));
            await cloud.publishAsync('sites/17/commands/pump', 'speed=2', { qos: 1 });
            await waitFor(() => got.messages.some((m) => m.payload === 'speed=2'), 5000, 'the marker after the reconnect');
            assert.is(counters.denied, 1, 'the denied message was acknowledged, not sent again');
            // The reload gives the bridge alarms/# too: the same publish now goes through.
            writeFileSync(aclPath, ACL + 'topic write alarms/#\n');
            reloadAuth(r.wharf.broker);
            await cloud.publishAsync('sites/17/alarms/real', 'now allowed', { qos: 1 });
            await waitFor(() => got.messages.some((m) => m.topic === 'alarms/real'), 5000, 'the alarm after the reload');
            // At least once: an allowed message whose PUBACK was on its way at the break may come twice.
            assert.equal(
              [...new Set(got.messages.filter((m) => !m.topic.startsWith('wharf/bridges/')).map((m) => `${m.topic} ${m.payload}`))],
              ['commands/pump speed=1', 'commands/pump speed=2', 'alarms/real now allowed'],
            );
            assert.is(counters.denied, 1);
          } finally {
            await endClient(cloud);
            await endClient(local);
          }
        },
        ['none'],
        (c) => {
          c.auth.aclFile = aclPath;
        },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('without localUsername the bridge is trusted: it publishes what the ACL would not allow any user', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-bridge-acl-'));
  const aclPath = join(dir, 'acl');
  writeFileSync(aclPath, ACL);
  try {
    await withRig(
      { subscribe: [{ filter: 'sites/17/#', remotePrefix: 'sites/17/', qos: 1 }] },
      async (r) => {
        const local = await connectClient(r.wharf.url, { clientId: 'local-watcher' });
        const got = collect(local);
        await local.subscribeAsync('#', { qos: 1 });
        const cloud = await connectClient(r.upstream.url, { clientId: 'cloud-app' });
        try {
          await new Promise((resolve) => setTimeout(resolve, 200));
          await cloud.publishAsync('sites/17/alarms/any', 'trusted', { qos: 1 });
          await waitFor(() => got.messages.some((m) => m.topic === 'alarms/any'), 5000, 'the message');
          assert.is(r.bridge.downlink.counters.denied, 0);
        } finally {
          await endClient(cloud);
          await endClient(local);
        }
      },
      ['none'],
      (c) => {
        c.auth.aclFile = aclPath;
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

downlink.run();
