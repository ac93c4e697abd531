// A subscriber that stops reading: QoS 0 messages to it are dropped and counted once its socket buffer holds
// mqtt.maxSocketBufferBytes, instead of piling up in broker memory.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IPublishPacket } from 'mqtt-packet';
import { PubKit, publishPacket, sync } from '../../helpers/publish-kit.js';
import { total } from '../../../src/broker/stats.js';
import type { RawClient } from '../../helpers/raw-client.js';
import { beforePing } from '../../helpers/end-marker.js';

const test = suite('03-publish: slow subscribers');

const LIMIT = 65536;
const PAYLOAD = Buffer.alloc(16 * 1024, 0x51);
const BATCH = 64; // 1 MiB per batch
const MAX_BATCHES = 96; // the kernel's socket buffers fill first; give up well past any default size

/** Counts PUBLISH packets received by `client` (consuming them) until `n` have arrived. */
async function drainPublishes(client: RawClient, n: number): Promise<number> {
  let count = 0;
  while (count < n) {
    const p = (await client.next('publish', 5000)) as IPublishPacket;
    assert.is(p.payload.length, PAYLOAD.length);
    count++;
  }
  return count;
}

test('QoS 0 to a subscriber that stops reading: dropped and counted once its socket buffer reaches maxSocketBufferBytes; the buffer stays bounded', async () => {
  await PubKit.run({ maxSocketBufferBytes: LIMIT }, async (k) => {
    const sub = await k.rawSub([{ topic: 'slow/t', qos: 0 }], { connect: { clientId: 'slow-sub' } });
    const { client: pub } = await k.raw({ clientId: 'slow-pub' });
    const conn = k.connection('slow-sub');
    const stats = k.broker.stats;
    sub.socket.pause();

    let published = 0;
    let maxBuffered = 0;
    for (let b = 0; b < MAX_BATCHES && stats.dropped === 0; b++) {
      for (let i = 0; i < BATCH; i++) pub.send(publishPacket('slow/t', PAYLOAD));
      published += BATCH;
      await sync(pub); // every PUBLISH above has been routed
      maxBuffered = Math.max(maxBuffered, conn.stream.writableLength);
    }
    assert.ok(stats.dropped > 0, `nothing dropped after ${published} messages`);
    // Keep publishing: every further message is dropped while the reader stays paused.
    const droppedBefore = stats.dropped;
    for (let i = 0; i < BATCH; i++) pub.send(publishPacket('slow/t', PAYLOAD));
    published += BATCH;
    await sync(pub);
    assert.is(stats.dropped, droppedBefore + BATCH);
    maxBuffered = Math.max(maxBuffered, conn.stream.writableLength);

    // A message is only written while the buffer is under the limit, so it never exceeds it by more than one.
    assert.ok(maxBuffered < LIMIT + PAYLOAD.length + 16, `socket buffer grew to ${maxBuffered} bytes`);
    assert.is(total(stats.messagesOutByQos) + stats.dropped, published);
    assert.is(k.session('slow-sub').pending.length, 0);

    // Reading again: exactly the messages that were not dropped arrive, then nothing.
    sub.socket.resume();
    assert.is(await drainPublishes(sub, total(stats.messagesOutByQos)), total(stats.messagesOutByQos));
    assert.equal(await beforePing(sub), []);
    // The connection is healthy and receives new messages again.
    pub.send(publishPacket('slow/t', PAYLOAD));
    await sync(pub);
    assert.is(await drainPublishes(sub, 1), 1);
    assert.is(total(stats.messagesOutByQos) + stats.dropped, published + 1);
  });
});

test.run();
