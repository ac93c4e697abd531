// A full store through the broker: publishers are refused with 0x97 (5.0) or a closed connection without PUBACK
// (3.1.1), everything already acknowledged is delivered, and publishing works again once consumers free space.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IPublishPacket, IPubackPacket } from 'mqtt-packet';
import { Broker } from '../../../src/broker/broker.js';
import { defaultConfig } from '../../../src/config/types.js';
import { silentLogger } from '../../../src/log/logger.js';
import { Store } from '../../../src/store/store.js';
import { RawClient } from '../../helpers/raw-client.js';

const test = suite('10-durability: full store');

async function startDurable(dataDir: string) {
  const config = defaultConfig();
  config.listeners = [{ type: 'tcp', host: '127.0.0.1', port: 0, path: '/mqtt' }];
  config.storage = { ...config.storage, dataDir, commitIntervalMs: 2, mapSizeBytes: 1024 * 1024, minFreeDiskBytes: 0 };
  config.mqtt.maxQueuedMessages = 100_000;
  const store = await Store.open({ dataDir, commitIntervalMs: 2, mapSizeBytes: 1024 * 1024, minFreeDiskBytes: 0 });
  const broker = new Broker(config, silentLogger, store);
  await broker.restore();
  const [bound] = await broker.start();
  return { broker, port: bound!.port };
}

const persistentSub = { clientId: 'full-sub', clean: false, properties: { sessionExpiryInterval: 3600 } };

/** Publishes 2 KiB QoS 1 messages one at a time until one is refused; returns the accepted count and the refusal. */
async function fillUntilRefused(pub: RawClient, max: number): Promise<{ accepted: number; refusal: IPubackPacket }> {
  const payload = Buffer.alloc(2000, 0x61);
  for (let i = 1; i <= max; i++) {
    pub.send({ cmd: 'publish', topic: 'full/t', payload, qos: 1, retain: false, dup: false, messageId: (i % 65535) + 1 });
    const ack = (await pub.next('puback')) as IPubackPacket;
    if ((ack.reasonCode ?? 0) >= 0x80) return { accepted: i - 1, refusal: ack };
  }
  throw new Error(`no refusal within ${max} messages`);
}

test('at the store limit a 5.0 publisher gets PUBACK 0x97; acknowledged messages are all delivered; space returns after draining', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'wharf-full-'));
  const { broker, port } = await startDurable(dataDir);
  try {
    const sub = await RawClient.connected(port, persistentSub, 5);
    sub.client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'full/#', qos: 1 }] });
    await sub.client.next('suback');
    sub.client.end();
    await sub.client.closed;

    const pub = (await RawClient.connected(port, { clientId: 'full-pub' }, 5)).client;
    const { accepted, refusal } = await fillUntilRefused(pub, 2000);
    assert.is(refusal.reasonCode, 0x97);
    assert.ok(accepted > 50, `accepted ${accepted} before the limit`);

    // Every acknowledged message reaches the subscriber; acknowledging them frees the space.
    const back = (await RawClient.connected(port, { ...persistentSub }, 5)).client;
    let delivered = 0;
    while (delivered < accepted) {
      const p = (await back.next('publish', 5000)) as IPublishPacket;
      back.send({ cmd: 'puback', messageId: p.messageId! });
      delivered++;
    }
    assert.is(delivered, accepted);
    // Removals commit, the capacity guard notices the space, and publishing is accepted again.
    let ok = false;
    for (let attempt = 0; attempt < 50 && !ok; attempt++) {
      pub.send({ cmd: 'publish', topic: 'full/t', payload: Buffer.from('again'), qos: 1, retain: false, dup: false, messageId: 60000 + attempt });
      const ack = (await pub.next('puback')) as IPubackPacket;
      ok = (ack.reasonCode ?? 0) < 0x80;
      if (!ok) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(ok, 'publishing works again after the queue drained');
    const again = (await back.next('publish', 3000)) as IPublishPacket;
    assert.is(again.payload.toString(), 'again');
    pub.end();
    back.end();
  } finally {
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('at the store limit a 3.1.1 publisher is disconnected without PUBACK for the refused message', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'wharf-full-'));
  const { broker, port } = await startDurable(dataDir);
  try {
    const sub = await RawClient.connected(port, persistentSub, 5);
    sub.client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'full/#', qos: 1 }] });
    await sub.client.next('suback');
    sub.client.end();
    await sub.client.closed;
    const pub = (await RawClient.connected(port, { clientId: 'full-pub-311' }, 4)).client;
    const payload = Buffer.alloc(2000, 0x62);
    let acked = 0;
    for (let i = 1; i <= 2000 && !pub.isClosed; i++) {
      pub.send({ cmd: 'publish', topic: 'full/t', payload, qos: 1, retain: false, dup: false, messageId: i });
      try {
        await pub.next('puback');
        acked++;
      } catch {
        break; // closed by the broker instead of a PUBACK
      }
    }
    assert.ok(pub.isClosed, 'the 3.1.1 publisher was disconnected');
    assert.ok(acked > 50, `acknowledged ${acked} before the limit`);
  } finally {
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test.run();
