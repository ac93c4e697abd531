// A persistent session's backlog beyond its in-memory head (src/broker/outgoing-queue.ts): only the head is in
// memory, the store keeps the rest and is read back in order as the head drains, across reconnects and restarts;
// mqtt.maxQueuedMessages counts every waiting message, not the in-memory ones (issue 13).

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import type { MqttClient } from 'mqtt';
import { startBroker, type TestBroker } from '../../helpers/broker.js';
import { newDataDir, removeDataDir, startBrokerOn, type DurableBroker } from '../../helpers/durable-broker.js';
import { RawClient } from '../../helpers/raw-client.js';
import { connectClient, endClient } from '../../helpers/mqttjs.js';
import { waitFor } from '../../helpers/tools.js';
import { beforePing } from '../../helpers/end-marker.js';
import { HEAD_MAX_MESSAGES } from '../../../src/broker/outgoing-queue.js';
import type { Broker } from '../../../src/broker/broker.js';

const test = suite('session: a backlog larger than the in-memory head');

const persistent = (clientId: string, clean: boolean, receiveMaximum?: number) => ({
  clientId,
  clean,
  properties: { sessionExpiryInterval: 600, ...(receiveMaximum === undefined ? {} : { receiveMaximum }) },
});

async function subscribedThenOffline(broker: Broker, port: number, clientId: string, filter: string): Promise<void> {
  const { client } = await RawClient.connected(port, persistent(clientId, true), 5);
  try {
    client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 2 }] });
    await client.next('suback');
  } finally {
    client.end();
  }
  await waitFor(() => broker.sessions.byClientId.get(clientId)?.connected === false, 2000, 'session detached');
}

/** Every third message at QoS 2, the others at QoS 1; payload "m<i>". Resolves once all are acknowledged. */
async function publishRange(pub: MqttClient, topic: string, from: number, to: number): Promise<void> {
  const BATCH = 50;
  for (let i = from; i < to; i += BATCH) {
    const sends: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(to, i + BATCH); j++) sends.push(pub.publishAsync(topic, `m${j}`, { qos: j % 3 === 0 ? 2 : 1 }));
    await Promise.all(sends);
  }
}

/**
 * Takes PUBLISH packets until `count` have arrived and every QoS 2 exchange among them is complete (PUBACK; PUBREC,
 * then PUBCOMP on PUBREL), calling `each` after every PUBLISH; returns their payloads, how many came with DUP, and
 * any PUBLISH received after the `count`th (not answered). `openQos2Before`: PUBRECs sent before, whose PUBREL is due.
 */
async function receive(
  client: RawClient,
  count: number,
  each?: (n: number) => Promise<void>,
  openQos2Before = 0,
): Promise<{ payloads: string[]; dups: number; later: IPublishPacket[] }> {
  const payloads: string[] = [];
  const later: IPublishPacket[] = [];
  let dups = 0;
  let openQos2 = openQos2Before;
  while (payloads.length < count || openQos2 > 0) {
    const p: Packet = await client.next(undefined, 5000);
    if (p.cmd === 'pubrel') {
      openQos2--;
      client.send({ cmd: 'pubcomp', messageId: p.messageId! });
      continue;
    }
    assert.is(p.cmd, 'publish');
    const pub = p as IPublishPacket;
    if (payloads.length === count) {
      later.push(pub); // beyond `count`, while the last QoS 2 exchanges complete: left unanswered
      continue;
    }
    payloads.push(pub.payload.toString());
    if (pub.dup) dups++;
    if (pub.qos === 2) openQos2++;
    client.send(pub.qos === 2 ? { cmd: 'pubrec', messageId: pub.messageId! } : { cmd: 'puback', messageId: pub.messageId! });
    await each?.(payloads.length);
  }
  return { payloads, dups, later };
}

const names = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `m${from + i}`);

test('an offline session with more messages than its in-memory head gets all of them, in order, QoS 1 and 2, also with messages arriving while it drains', async () => {
  const N = 3 * HEAD_MAX_MESSAGES;
  const MORE = 40;
  const tb: TestBroker = await startBroker({ maxQueuedMessages: 10_000 });
  try {
    await subscribedThenOffline(tb.broker, tb.port, 'backlog', 'bl/#');
    const pub = await connectClient(tb.url, { clientId: 'backlog-pub' });
    try {
      await publishRange(pub, 'bl/t', 0, N);
      const session = tb.broker.sessions.byClientId.get('backlog')!;
      assert.is(session.pending.length, N);
      assert.ok(session.pending.inMemory <= HEAD_MAX_MESSAGES, `${session.pending.inMemory} messages in memory`);
      assert.is(session.pending.onDisk, N - session.pending.inMemory);
      // Receive Maximum 10: the backlog goes out in many small steps, with QoS 2 exchanges open among them.
      const { client, connack } = await RawClient.connected(tb.port, persistent('backlog', false, 10), 5);
      try {
        assert.is(connack.sessionPresent, true);
        // While the head is partly sent and the rest still on disk, more messages arrive: they queue behind.
        const got = await receive(client, N + MORE, async (n) => {
          if (n === 5) await publishRange(pub, 'bl/t', N, N + MORE);
        });
        assert.equal(got.payloads, names(0, N + MORE));
        assert.is(got.dups, 0);
        assert.equal(await beforePing(client), []);
        await waitFor(() => session.inflight.size === 0, 2000, 'every exchange completed');
        assert.is(session.pending.length, 0);
      } finally {
        client.end();
      }
    } finally {
      await endClient(pub);
    }
    const store = tb.broker.persistence!.store;
    await store.flush();
    assert.equal(await store.loadSessionMessages('backlog'), [], 'every completed message is gone from the store');
  } finally {
    await tb.stop();
  }
});

test('a backlog larger than the head and than a restore page survives a restart in the middle of its drain, QoS 2 in flight: resent first with DUP, then the rest in order', async () => {
  const N = 1400; // what is left at the restart is more than Broker.restore's page of 1024
  const DONE = 300;
  const dataDir = newDataDir('wharf-backlog-');
  let db: DurableBroker | undefined;
  try {
    db = await startBrokerOn(dataDir, { maxQueuedMessages: 10_000 });
    await subscribedThenOffline(db.broker, db.port, 'backlog-r', 'blr/#');
    const pub = await connectClient(db.url, { clientId: 'backlog-r-pub' });
    try {
      await publishRange(pub, 'blr/t', 0, N);
    } finally {
      await endClient(pub);
    }
    // Back with Receive Maximum 5: DONE messages completed, then 5 left open: m300 (QoS 2, no PUBREC), m301, m302
    // (QoS 1, no PUBACK), m303 (QoS 2, PUBREC sent, PUBREL received, no PUBCOMP), m304 (QoS 1, no PUBACK).
    let m300Id = 0;
    const { client } = await RawClient.connected(db.port, persistent('backlog-r', false, 5), 5);
    try {
      const first = await receive(client, DONE);
      assert.equal(first.payloads, names(0, DONE));
      const open: IPublishPacket[] = first.later;
      while (open.length < 5) {
        const p = await client.next(undefined, 5000);
        if (p.cmd === 'pubrel') client.send({ cmd: 'pubcomp', messageId: p.messageId! });
        else open.push(p as IPublishPacket);
      }
      assert.equal(open.map((p) => [p.payload.toString(), p.qos]), [['m300', 2], ['m301', 1], ['m302', 1], ['m303', 2], ['m304', 1]]);
      m300Id = open[0]!.messageId!;
      client.send({ cmd: 'pubrec', messageId: open[3]!.messageId! });
      assert.is((await client.next('pubrel')).messageId, open[3]!.messageId);
      assert.equal(await beforePing(client), []);
    } finally {
      client.end();
    }
    await waitFor(() => db!.broker.sessions.byClientId.get('backlog-r')?.connected === false, 2000, 'session detached');
    await db.stop();
    db = undefined;

    db = await startBrokerOn(dataDir, { maxQueuedMessages: 10_000 });
    // QoS 2 deliveries keep their packet identifier across the restart; unacknowledged QoS 1 ones wait again in the
    // queue, in order (they may take a new identifier: persistence.ts, sent()).
    const session = db.broker.sessions.byClientId.get('backlog-r')!;
    assert.is(session.inflight.size, 2);
    assert.is(session.pending.length, N - DONE - 2);
    assert.ok(session.pending.inMemory <= HEAD_MAX_MESSAGES, `${session.pending.inMemory} messages in memory after the restart`);
    const { client: back, connack } = await RawClient.connected(db.port, persistent('backlog-r', false, 20), 5);
    try {
      assert.is(connack.sessionPresent, true);
      // The open QoS 2 exchanges first [MQTT-4.4.0-1]: PUBLISH with DUP (same packet identifier), PUBREL for m303.
      const resent: string[] = [];
      while (resent.length < 2) {
        const p = await back.next(undefined, 5000);
        if (p.cmd === 'pubrel') {
          resent.push('pubrel');
          back.send({ cmd: 'pubcomp', messageId: p.messageId! });
          continue;
        }
        const pp = p as IPublishPacket;
        assert.ok(pp.dup, `${pp.payload.toString()} resent with DUP`);
        assert.is(pp.messageId, m300Id);
        resent.push(pp.payload.toString());
        back.send(pp.qos === 2 ? { cmd: 'pubrec', messageId: pp.messageId! } : { cmd: 'puback', messageId: pp.messageId! });
      }
      assert.equal(resent, ['m300', 'pubrel']);
      const rest = await receive(back, N - DONE - 2, undefined, 1); // m300's PUBREL is still to come
      assert.equal(rest.payloads, ['m301', 'm302', ...names(DONE + 4, N)]);
      assert.is(rest.dups, 0);
      assert.equal(await beforePing(back), []);
      await waitFor(() => session.inflight.size === 0, 2000, 'every exchange completed');
      assert.is(session.pending.length, 0);
    } finally {
      back.end();
    }
  } finally {
    await db?.stop();
    removeDataDir(dataDir);
  }
});

test('mqtt.maxQueuedMessages counts the messages kept on disk: refused with 0x97 at the limit although the head in memory is smaller', async () => {
  const LIMIT = HEAD_MAX_MESSAGES + 44;
  const tb = await startBroker({ maxQueuedMessages: LIMIT });
  try {
    await subscribedThenOffline(tb.broker, tb.port, 'backlog-cap', 'blc/#');
    const pub = await connectClient(tb.url, { clientId: 'backlog-cap-pub' });
    const outcomes: Array<number | string> = [];
    try {
      await publishRange(pub, 'blc/t', 0, LIMIT);
      for (const n of [0, 1, 2]) {
        try {
          await pub.publishAsync('blc/t', `over${n}`, { qos: 1 });
          outcomes.push('ok');
        } catch (err) {
          outcomes.push((err as { code?: number }).code ?? String(err));
        }
      }
    } finally {
      await endClient(pub);
    }
    assert.equal(outcomes, [0x97, 0x97, 0x97]);
    const session = tb.broker.sessions.byClientId.get('backlog-cap')!;
    assert.equal([session.pending.length, session.pending.inMemory], [LIMIT, HEAD_MAX_MESSAGES]);
    assert.is(tb.broker.stats.publishRefused.session_queue_full, 3);
    const { client } = await RawClient.connected(tb.port, persistent('backlog-cap', false), 5);
    try {
      const got = await receive(client, LIMIT);
      assert.equal(got.payloads, names(0, LIMIT));
      assert.equal(await beforePing(client), []);
    } finally {
      client.end();
    }
  } finally {
    await tb.stop();
  }
});

test('a session that comes back with Session Expiry 0 still gets the part of its backlog kept only on disk', async () => {
  const N = 2 * HEAD_MAX_MESSAGES;
  const tb = await startBroker({ maxQueuedMessages: 10_000 });
  try {
    await subscribedThenOffline(tb.broker, tb.port, 'backlog-e0', 'ble/#');
    const pub = await connectClient(tb.url, { clientId: 'backlog-e0-pub' });
    try {
      await publishRange(pub, 'ble/t', 0, N);
    } finally {
      await endClient(pub);
    }
    assert.ok(tb.broker.sessions.byClientId.get('backlog-e0')!.pending.onDisk > 0);
    const { client, connack } = await RawClient.connected(tb.port, { clientId: 'backlog-e0', clean: false, properties: { sessionExpiryInterval: 0 } }, 5);
    try {
      assert.is(connack.sessionPresent, true);
      const got = await receive(client, N);
      assert.equal(got.payloads, names(0, N));
      assert.equal(await beforePing(client), []);
    } finally {
      client.end();
    }
    // Expiry 0: the session, and its record, end with the connection.
    await waitFor(() => !tb.broker.sessions.byClientId.has('backlog-e0'), 2000, 'session ended');
    await tb.broker.persistence!.store.flush();
    assert.equal(await tb.broker.persistence!.store.loadSessionMessages('backlog-e0'), []);
  } finally {
    await tb.stop();
  }
});

test.run();
