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

/** A 2,000-byte payload numbered `i` (first 4 bytes), so the subscriber can tell which messages were stored. */
function numbered(i: number): Buffer {
  const payload = Buffer.alloc(2000, 0x61);
  payload.writeUInt32BE(i, 0);
  return payload;
}

async function subscribeOffline(port: number): Promise<void> {
  const sub = await RawClient.connected(port, persistentSub, 5);
  sub.client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'full/#', qos: 1 }] });
  await sub.client.next('suback');
  sub.client.end();
  await sub.client.closed;
}

/** Publishes 2 KiB QoS 1 messages one at a time until one is refused; returns the accepted count and the refusal. */
async function fillUntilRefused(pub: RawClient, max: number): Promise<{ accepted: number; refusal: IPubackPacket }> {
  for (let i = 1; i <= max; i++) {
    pub.send({ cmd: 'publish', topic: 'full/t', payload: numbered(i), qos: 1, retain: false, dup: false, messageId: (i % 65535) + 1 });
    const ack = (await pub.next('puback')) as IPubackPacket;
    if ((ack.reasonCode ?? 0) >= 0x80) return { accepted: i - 1, refusal: ack };
  }
  throw new Error(`no refusal within ${max} messages`);
}

/**
 * The persistent subscriber comes back: returns the numbers of the stored messages it gets (acknowledging each)
 * up to `expected` of them, then publishes `marker` from a 5.0 client (retrying while the drained space is not yet
 * free) and returns what arrived before it. The session delivers in order, so anything else stored, the refused
 * message included, would arrive before the marker. The subscriber stays connected for the caller.
 */
async function drainUntilMarker(port: number, expected: number, marker: string): Promise<{ numbers: number[]; back: RawClient }> {
  const back = (await RawClient.connected(port, { ...persistentSub }, 5)).client;
  const numbers: number[] = [];
  const receive = async (): Promise<Buffer> => {
    const p = (await back.next('publish', 5000)) as IPublishPacket;
    back.send({ cmd: 'puback', messageId: p.messageId! });
    return Buffer.from(p.payload);
  };
  while (numbers.length < expected) numbers.push((await receive()).readUInt32BE(0));
  const pub = (await RawClient.connected(port, { clientId: 'full-marker' }, 5)).client;
  try {
    // Removals commit, the capacity guard notices the space, and publishing is accepted again.
    let ok = false;
    for (let attempt = 0; attempt < 50 && !ok; attempt++) {
      pub.send({ cmd: 'publish', topic: 'full/t', payload: Buffer.from(marker), qos: 1, retain: false, dup: false, messageId: 60000 + attempt });
      const ack = (await pub.next('puback')) as IPubackPacket;
      ok = (ack.reasonCode ?? 0) < 0x80;
      if (!ok) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(ok, 'publishing works again after the session drained');
  } finally {
    pub.end();
  }
  for (;;) {
    const payload = await receive();
    if (payload.toString() === marker) return { numbers, back };
    numbers.push(payload.length >= 4 ? payload.readUInt32BE(0) : -1);
  }
}

const upTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

test('at the store limit a 5.0 publisher gets PUBACK 0x97; acknowledged messages are all delivered; space returns after draining', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'wharf-full-'));
  const { broker, port } = await startDurable(dataDir);
  try {
    await subscribeOffline(port);
    const pub = (await RawClient.connected(port, { clientId: 'full-pub' }, 5)).client;
    const { accepted, refusal } = await fillUntilRefused(pub, 2000);
    assert.is(refusal.reasonCode, 0x97);
    assert.ok(accepted > 50, `accepted ${accepted} before the limit`);
    pub.end();

    // Every acknowledged message reaches the subscriber, in order, and the refused one (accepted + 1) does not:
    // the marker published once the space is back comes right after them.
    const { numbers, back } = await drainUntilMarker(port, accepted, 'again');
    assert.equal(numbers, upTo(accepted));
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
    await subscribeOffline(port);
    const pub = (await RawClient.connected(port, { clientId: 'full-pub-311' }, 4)).client;
    let acked = 0;
    let refused: number | undefined;
    for (let i = 1; i <= 2000 && refused === undefined; i++) {
      pub.send({ cmd: 'publish', topic: 'full/t', payload: numbered(i), qos: 1, retain: false, dup: false, messageId: i });
      try {
        await pub.next('puback');
        acked++;
      } catch (err) {
        // Only a close by the broker is the refusal; a timeout or another packet fails the test.
        if (!pub.isClosed) throw err;
        refused = i;
      }
    }
    assert.is(refused, acked + 1, `the 3.1.1 publisher was disconnected instead of a PUBACK for message ${acked + 1}`);
    assert.ok(acked > 50, `acknowledged ${acked} before the limit`);

    const { numbers, back } = await drainUntilMarker(port, acked, 'after');
    assert.equal(numbers, upTo(acked), `the acknowledged messages 1-${acked}, and not the refused ${refused}`);
    back.end();
  } finally {
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test.run();
