// A SUBSCRIBE that creates its queue waits for the queue's commit, and the packets after it wait in order. A
// connection that closes during that wait sent them all the same: a DISCONNECT among them keeps the will back,
// and a persistent session keeps the subscription it asked for.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';
import { beforeMarker, MARKER_TOPIC } from '../../helpers/end-marker.js';
import { RawClient } from '../../helpers/raw-client.js';
import { holdQueueCommits } from '../../helpers/slow-disk.js';
import { publish, subscribe, withBroker } from '../../helpers/sub-harness.js';
import { waitFor } from '../../helpers/tools.js';

const test = suite('02-subscribe: a SUBSCRIBE that creates its queue, then a close');

test('SUBSCRIBE $q/<filter> and DISCONNECT, then a close before the queue is stored: no will, the subscription stays with the session', () =>
  withBroker(async (h) => {
    const watcher = await h.raw({ clientId: 'watcher' });
    await subscribe(watcher, [
      { topic: 'leaver/will', qos: 0 },
      { topic: MARKER_TOPIC, qos: 0 },
    ]);
    const persistent = { clientId: 'leaver', clean: false, properties: { sessionExpiryInterval: 300 } };
    const { client } = await RawClient.connected(h.tb.port, { ...persistent, will: { topic: 'leaver/will', payload: Buffer.from('gone'), qos: 0, retain: false } }, 5);
    const disk = holdQueueCommits(h.tb);
    const socket = client.socket as net.Socket;
    socket.end(
      Buffer.concat([
        mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$q/jobs/#', qos: 1 }] } as Packet, { protocolVersion: 5 }),
        mqttPacket.generate({ cmd: 'disconnect', reasonCode: 0 } as Packet, { protocolVersion: 5 }),
      ]),
    );
    await waitFor(() => h.broker.sessions.byClientId.get('leaver')?.connected === false, 2000, 'the broker to see the close');
    const pub = await h.raw({ clientId: 'pub' });
    // A will published at the close would have been routed before this marker.
    await publish(pub, MARKER_TOPIC, 'end');
    assert.equal(await beforeMarker(watcher), [], 'the will was published despite the DISCONNECT');
    disk.open();
    await waitFor(() => h.broker.sessions.byClientId.get('leaver')?.subscriptions.has('$q/jobs/#') === true, 2000, 'the subscription to be made');
    await publish(pub, 'jobs/1', 'job-1', { qos: 1 });
    const back = await RawClient.connected(h.tb.port, persistent, 5);
    try {
      assert.is(back.connack.sessionPresent, true);
      const job = (await back.client.next('publish')) as IPublishPacket;
      assert.equal([job.topic, job.payload.toString()], ['jobs/1', 'job-1']);
    } finally {
      back.client.end();
    }
  }));

test.run();
