// Retained messages for a persistent session's new subscription: its SUBACK waits for the commit of the session
// record. The retained messages belong to the session all the same when the connection closes during that wait
// (a device that subscribes and goes to sleep without waiting for SUBACK): they are queued for its return.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';
import { RawClient } from '../../helpers/raw-client.js';
import { holdSessionCommits } from '../../helpers/slow-disk.js';
import { publish, withBroker } from '../../helpers/sub-harness.js';
import { waitFor } from '../../helpers/tools.js';

const test = suite('04-retain: retained messages while SUBACK waits for its commit');

for (const version of [5, 4] as const) {
  const v = version === 5 ? '5.0' : '3.1.1';
  test(`a QoS 1 retained message for a subscription sent just before DISCONNECT is queued in the session (${v}) [MQTT-3.3.1-9]`, () =>
    withBroker(async (h) => {
      const pub = await h.raw({ clientId: 'pub' });
      await publish(pub, 'sleepy/config', 'interval=60', { qos: 1, retain: true });
      const persistent = version === 5 ? { clean: false, properties: { sessionExpiryInterval: 300 } } : { clean: false };
      const { client } = await RawClient.connected(h.tb.port, { clientId: `sleepy-${version}`, ...persistent }, version);
      const disk = holdSessionCommits(h.tb);
      client.sendBytes(
        Buffer.concat([
          mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'sleepy/#', qos: 1 }] } as Packet, { protocolVersion: version }),
          mqttPacket.generate({ cmd: 'disconnect' } as Packet, { protocolVersion: version }),
        ]),
      );
      await client.expectClose();
      await waitFor(() => h.broker.sessions.byClientId.get(`sleepy-${version}`)?.connected === false, 2000, 'the session to be detached');
      disk.open();
      await h.broker.persistence!.store.flush();
      const back = await RawClient.connected(h.tb.port, { clientId: `sleepy-${version}`, ...persistent }, version);
      try {
        assert.is(back.connack.sessionPresent, true);
        const m = (await back.client.next('publish')) as IPublishPacket;
        assert.equal([m.topic, m.payload.toString(), m.qos, m.retain], ['sleepy/config', 'interval=60', 1, true]);
      } finally {
        back.client.end();
      }
    }));
}

test.run();
