// Messages for a disconnected persistent session: QoS 1/2 queued and delivered on return, QoS 0 dropped,
// the per-session queue limit (mqtt.maxQueuedMessages), and unacknowledged deliveries resent with DUP
// [MQTT-4.4.0-1] [MQTT-3.3.1-1].

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IPublishPacket, IPubrelPacket } from 'mqtt-packet';
import { startBroker, type TestBroker } from '../../helpers/broker.js';
import { RawClient } from '../../helpers/raw-client.js';
import { collect, connectClient, endClient } from '../../helpers/mqttjs.js';
import { waitFor } from '../../helpers/tools.js';
import mqtt from 'mqtt';
import { beforePing } from '../../helpers/end-marker.js';

const test = suite('session: offline queue and redelivery');

const persistent = (clientId: string, clean: boolean) => ({ clientId, clean, properties: { sessionExpiryInterval: 60 } });

/** Connects a persistent 5.0 session subscribed to `filter` at QoS 2, then drops the socket. */
async function subscribedThenOffline(tb: TestBroker, clientId: string, filter: string): Promise<void> {
  const { client } = await RawClient.connected(tb.port, persistent(clientId, true), 5);
  try {
    client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 2 }] });
    await client.next('suback');
  } finally {
    client.end();
  }
  await waitFor(() => tb.broker.sessions.byClientId.get(clientId)?.connected === false, 2000, 'session detached');
}

test('persistent session queues QoS 1 and 2 while offline, delivers them in order on return, and drops QoS 0', async () => {
  const tb = await startBroker();
  try {
    await subscribedThenOffline(tb, 'offline', 'oq/#');
    const pub = await connectClient(tb.url, { clientId: 'offline-pub' });
    try {
      await pub.publishAsync('oq/a', 'qos0', { qos: 0 });
      await pub.publishAsync('oq/b', 'qos1', { qos: 1 });
      await pub.publishAsync('oq/c', 'qos2', { qos: 2 });
      await pub.publishAsync('oq/d', 'qos1-again', { qos: 1 });
    } finally {
      await endClient(pub);
    }
    assert.is(tb.broker.sessions.byClientId.get('offline')!.pending.length, 3);
    const { client, connack } = await RawClient.connected(tb.port, persistent('offline', false), 5);
    try {
      assert.is(connack.sessionPresent, true);
      const got: Array<[string, string, number, boolean]> = [];
      for (let i = 0; i < 3; i++) {
        const p = (await client.next('publish')) as IPublishPacket;
        got.push([p.topic, p.payload.toString(), p.qos, p.dup]);
        if (p.qos === 1) client.send({ cmd: 'puback', messageId: p.messageId! });
        else client.send({ cmd: 'pubrec', messageId: p.messageId! });
      }
      assert.equal(got, [
        ['oq/b', 'qos1', 1, false],
        ['oq/c', 'qos2', 2, false],
        ['oq/d', 'qos1-again', 1, false],
      ]);
      assert.is((await client.next('pubrel')).cmd, 'pubrel');
      assert.equal(await beforePing(client), [], 'the QoS 0 message must not be delivered');
      assert.is(tb.broker.stats.dropped, 1);
    } finally {
      client.end();
    }
  } finally {
    await tb.stop();
  }
});

test('MQTT.js 3.1.1 clean session 0 subscriber gets the QoS 1 messages published while it was away', async () => {
  const tb = await startBroker();
  try {
    const first = await connectClient(tb.url, { clientId: 'js-offline', protocolVersion: 4, clean: false });
    try {
      await first.subscribeAsync('oq/js', { qos: 1 });
    } finally {
      await endClient(first);
    }
    await waitFor(() => tb.broker.sessions.byClientId.get('js-offline')?.connected === false, 2000, 'session detached');
    const pub = await connectClient(tb.url, { clientId: 'js-offline-pub', protocolVersion: 4 });
    try {
      for (const n of [1, 2, 3]) await pub.publishAsync('oq/js', `m${n}`, { qos: 1 });
      await pub.publishAsync('oq/js', 'dropped', { qos: 0 });
    } finally {
      await endClient(pub);
    }
    // Attach the listener before CONNACK is processed: queued messages follow CONNACK immediately.
    const back = mqtt.connect(tb.url, { clientId: 'js-offline', protocolVersion: 4, clean: false, reconnectPeriod: 0 });
    try {
      const got = collect(back);
      await got.waitCount(3);
      assert.ok(await new Promise<boolean>((r) => setTimeout(() => r(got.messages.length === 3), 100)));
      assert.equal(got.messages.map((m) => [m.payload, m.packet.qos]), [['m1', 1], ['m2', 1], ['m3', 1]]);
    } finally {
      await endClient(back, true);
    }
  } finally {
    await tb.stop();
  }
});

test('a full offline queue with the store: 5.0 QoS 2 gets PUBREC 0x97 and ends there, 3.1.1 QoS 1/2 are closed without acknowledgement; only the kept messages are on disk', async () => {
  const tb = await startBroker({ maxQueuedMessages: 3 });
  try {
    await subscribedThenOffline(tb, 'bounded2', 'oq/bounded2');
    const { client: pub5 } = await RawClient.connected(tb.port, { clientId: 'pub5' }, 5);
    const publish = (c: RawClient, messageId: number, payload: string, qos: 1 | 2) =>
      c.send({ cmd: 'publish', topic: 'oq/bounded2', payload: Buffer.from(payload), qos, messageId, retain: false, dup: false });
    try {
      const codes: Array<number | undefined> = [];
      for (const [i, payload] of ['m1', 'm2', 'm3', 'm4'].entries()) {
        publish(pub5, i + 1, payload, 2);
        const rec = (await pub5.next('pubrec')) as IPublishPacket & { reasonCode?: number };
        codes.push(rec.reasonCode);
        if ((rec.reasonCode ?? 0) >= 0x80) continue; // a PUBREC with a failure code ends the exchange (5.0 section 4.3.3): no PUBREL
        pub5.send({ cmd: 'pubrel', messageId: i + 1 });
        await pub5.next('pubcomp');
      }
      assert.equal(codes, [0, 0, 0, 0x97]);
      assert.equal(await beforePing(pub5), []);
    } finally {
      pub5.end();
    }
    // 3.1.1 has no negative acknowledgement: the connection is closed without one, and the client resends later.
    for (const qos of [1, 2] as const) {
      const { client: pub4 } = await RawClient.connected(tb.port, { clientId: `pub4-${qos}` }, 4);
      try {
        publish(pub4, 1, `m-v4-${qos}`, qos);
        assert.equal(await pub4.expectClose(), []);
      } finally {
        pub4.end();
      }
    }
    assert.equal([tb.broker.stats.queueFull, tb.broker.sessions.byClientId.get('bounded2')!.pending.length], [3, 3]);
    const store = tb.broker.persistence!.store;
    await store.flush();
    assert.equal((await store.loadSessionMessages('bounded2')).map((m) => m.message.payload.toString()), ['m1', 'm2', 'm3']);
    const { client } = await RawClient.connected(tb.port, persistent('bounded2', false), 5);
    try {
      const got: IPublishPacket[] = [];
      for (let i = 0; i < 3; i++) got.push((await client.next('publish')) as IPublishPacket);
      assert.equal(got.map((p) => p.payload.toString()), ['m1', 'm2', 'm3']);
      for (const p of got) {
        client.send({ cmd: 'pubrec', messageId: p.messageId! });
        assert.is((await client.next('pubrel')).messageId, p.messageId);
        client.send({ cmd: 'pubcomp', messageId: p.messageId! });
      }
      assert.equal(await beforePing(client), []);
    } finally {
      client.end();
    }
  } finally {
    await tb.stop();
  }
});

test('mqtt.maxQueuedMessages bounds the offline queue: the oldest are kept, the rest refused with PUBACK 0x97 on 5.0', async () => {
  const tb = await startBroker({ maxQueuedMessages: 3 });
  try {
    await subscribedThenOffline(tb, 'bounded', 'oq/bounded');
    const pub = await connectClient(tb.url, { clientId: 'bounded-pub' });
    const outcomes: Array<number | string> = [];
    try {
      for (const n of [1, 2, 3, 4, 5]) {
        try {
          await pub.publishAsync('oq/bounded', `m${n}`, { qos: 1 });
          outcomes.push('ok');
        } catch (err) {
          outcomes.push((err as { code?: number }).code ?? String(err));
        }
      }
    } finally {
      await endClient(pub);
    }
    assert.equal(outcomes, ['ok', 'ok', 'ok', 0x97, 0x97]);
    assert.is(tb.broker.sessions.byClientId.get('bounded')!.pending.length, 3);
    // Refused before routing (issue 11), not dropped: the publisher still has them.
    assert.is(tb.broker.stats.dropped, 0);
    assert.is(tb.broker.stats.queueFull, 2);
    assert.is(tb.broker.stats.publishRefused.session_queue_full, 2);
    const { client } = await RawClient.connected(tb.port, persistent('bounded', false), 5);
    try {
      const payloads: string[] = [];
      for (let i = 0; i < 3; i++) {
        const p = (await client.next('publish')) as IPublishPacket;
        payloads.push(p.payload.toString());
        client.send({ cmd: 'puback', messageId: p.messageId! });
      }
      assert.equal(payloads, ['m1', 'm2', 'm3']);
      assert.equal(await beforePing(client), []);
    } finally {
      client.end();
    }
  } finally {
    await tb.stop();
  }
});

test('unacknowledged QoS 1 delivery is resent with DUP and the same packet identifier after reconnect [MQTT-4.4.0-1]', async () => {
  const tb = await startBroker();
  try {
    const first = await RawClient.connected(tb.port, persistent('inflight', true), 5);
    let original: IPublishPacket;
    try {
      first.client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'oq/inflight', qos: 1 }] });
      await first.client.next('suback');
      const pub = await connectClient(tb.url, { clientId: 'inflight-pub' });
      try {
        await pub.publishAsync('oq/inflight', 'unacked', { qos: 1 });
      } finally {
        await endClient(pub);
      }
      original = (await first.client.next('publish')) as IPublishPacket;
      assert.is(original.dup, false);
    } finally {
      first.client.end(); // no PUBACK
    }
    await waitFor(() => tb.broker.sessions.byClientId.get('inflight')?.connected === false, 2000, 'session detached');
    const second = await RawClient.connected(tb.port, persistent('inflight', false), 5);
    try {
      assert.is(second.connack.sessionPresent, true);
      const again = (await second.client.next('publish')) as IPublishPacket;
      assert.is(again.dup, true);
      assert.is(again.messageId, original.messageId);
      assert.is(again.qos, 1);
      assert.is(again.topic, 'oq/inflight');
      assert.is(again.payload.toString(), 'unacked');
      second.client.send({ cmd: 'puback', messageId: again.messageId! });
      second.client.send({ cmd: 'disconnect', reasonCode: 0 });
      await second.client.expectClose();
    } finally {
      second.client.end();
    }
    assert.is(tb.broker.sessions.byClientId.get('inflight')!.inflight.size, 0);
    // Acknowledged: not sent a third time.
    const third = await RawClient.connected(tb.port, persistent('inflight', false), 5);
    try {
      assert.is(third.connack.sessionPresent, true);
      assert.equal(await beforePing(third.client), []);
    } finally {
      third.client.end();
    }
  } finally {
    await tb.stop();
  }
});

test('QoS 2 after reconnect: an unreceived PUBLISH is resent with DUP, a released one continues with PUBREL [MQTT-4.4.0-1]', async () => {
  const tb = await startBroker();
  try {
    const first = await RawClient.connected(tb.port, persistent('q2', true), 5);
    let ids: number[];
    try {
      first.client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'oq/q2', qos: 2 }] });
      await first.client.next('suback');
      const pub = await connectClient(tb.url, { clientId: 'q2-pub' });
      try {
        await pub.publishAsync('oq/q2', 'one', { qos: 2 });
        await pub.publishAsync('oq/q2', 'two', { qos: 2 });
      } finally {
        await endClient(pub);
      }
      const one = (await first.client.next('publish')) as IPublishPacket;
      const two = (await first.client.next('publish')) as IPublishPacket;
      ids = [one.messageId!, two.messageId!];
      first.client.send({ cmd: 'pubrec', messageId: one.messageId! }); // "one" reaches PUBREL; "two" is not acknowledged
      assert.is(((await first.client.next('pubrel')) as IPubrelPacket).messageId, one.messageId);
    } finally {
      first.client.end();
    }
    await waitFor(() => tb.broker.sessions.byClientId.get('q2')?.connected === false, 2000, 'session detached');
    const second = await RawClient.connected(tb.port, persistent('q2', false), 5);
    try {
      const rel = (await second.client.next('pubrel')) as IPubrelPacket;
      assert.is(rel.messageId, ids[0]);
      const again = (await second.client.next('publish')) as IPublishPacket;
      assert.equal([again.messageId, again.dup, again.qos, again.payload.toString()], [ids[1], true, 2, 'two']);
      assert.equal(await beforePing(second.client), []);
    } finally {
      second.client.end();
    }
  } finally {
    await tb.stop();
  }
});

test('reconnecting with a smaller Receive Maximum resends the unacknowledged deliveries one at a time, each with DUP and its original identifier [MQTT-4.4.0-1] [MQTT-3.3.4-9]', async () => {
  const tb = await startBroker();
  try {
    const first = await RawClient.connected(tb.port, { ...persistent('shrink', true), properties: { sessionExpiryInterval: 60, receiveMaximum: 10 } }, 5);
    const original: Array<[number, string]> = [];
    try {
      first.client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'oq/shrink', qos: 1 }] });
      await first.client.next('suback');
      const pub = await connectClient(tb.url, { clientId: 'shrink-pub' });
      try {
        for (const n of [1, 2, 3]) await pub.publishAsync('oq/shrink', `m${n}`, { qos: 1 });
      } finally {
        await endClient(pub);
      }
      for (let i = 0; i < 3; i++) {
        const p = (await first.client.next('publish')) as IPublishPacket;
        original.push([p.messageId!, p.payload.toString()]);
      }
    } finally {
      first.client.end(); // none acknowledged
    }
    await waitFor(() => tb.broker.sessions.byClientId.get('shrink')?.connected === false, 2000, 'session detached');
    const second = await RawClient.connected(tb.port, { ...persistent('shrink', false), properties: { sessionExpiryInterval: 60, receiveMaximum: 1 } }, 5);
    try {
      const resent: Array<[number, string, boolean]> = [];
      for (let i = 0; i < 3; i++) {
        const p = (await second.client.next('publish')) as IPublishPacket;
        resent.push([p.messageId!, p.payload.toString(), p.dup]);
        // Receive Maximum 1: nothing more until this one is acknowledged.
        assert.equal(await beforePing(second.client), [], 'more than Receive Maximum in flight');
        second.client.send({ cmd: 'puback', messageId: p.messageId! });
      }
      assert.equal(resent, original.map(([id, payload]) => [id, payload, true]));
    } finally {
      second.client.end();
    }
  } finally {
    await tb.stop();
  }
});

test.run();
