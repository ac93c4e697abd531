// Will messages without delay: published when the connection ends other than by a normal DISCONNECT
// [MQTT-3.1.2-8], discarded on DISCONNECT 0x00 [MQTT-3.1.2-10] [MQTT-3.14.4-3], kept on DISCONNECT 0x04,
// the Will Retain flag [MQTT-3.1.2-16] [MQTT-3.1.2-17], and the Will QoS.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IConnectPacket, IPublishPacket } from 'mqtt-packet';
import { startBroker, type TestBroker } from '../../helpers/broker.js';
import { RawClient } from '../../helpers/raw-client.js';
import { collect, connectClient, endClient } from '../../helpers/mqttjs.js';
import { beforePing } from '../../helpers/end-marker.js';

const test = suite('will: publication');

type WillFields = NonNullable<IConnectPacket['will']>;

/** A raw 5.0 client with a will on `topic`, and a raw subscriber on the same topic at QoS 2. */
async function withWill(tb: TestBroker, clientId: string, will: Partial<WillFields> & { topic: string }, protocolVersion: 4 | 5 = 5) {
  const watcher = await RawClient.connected(tb.port, { clientId: `${clientId}-watcher` }, 5);
  watcher.client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: will.topic, qos: 2 }] });
  await watcher.client.next('suback');
  const owner = await RawClient.connected(
    tb.port,
    { clientId, will: { payload: Buffer.from(`${clientId} is gone`), qos: 0, retain: false, ...will } as WillFields },
    protocolVersion,
  );
  return { watcher: watcher.client, owner: owner.client };
}

test('5.0 will is published when the client socket is destroyed [MQTT-3.1.2-8]', async () => {
  const tb = await startBroker();
  try {
    const { watcher, owner } = await withWill(tb, 'w-destroy', { topic: 'will/destroy' });
    try {
      owner.end();
      const p = (await watcher.next('publish')) as IPublishPacket;
      assert.equal([p.topic, p.payload.toString(), p.qos, p.retain], ['will/destroy', 'w-destroy is gone', 0, false]);
    } finally {
      owner.end();
      watcher.end();
    }
  } finally {
    await tb.stop();
  }
});

test('3.1.1 will is published when the client socket is destroyed', async () => {
  const tb = await startBroker();
  try {
    const { watcher, owner } = await withWill(tb, 'w-destroy-4', { topic: 'will/destroy4', qos: 1 }, 4);
    try {
      owner.end();
      const p = (await watcher.next('publish')) as IPublishPacket;
      assert.equal([p.topic, p.payload.toString(), p.qos], ['will/destroy4', 'w-destroy-4 is gone', 1]);
    } finally {
      owner.end();
      watcher.end();
    }
  } finally {
    await tb.stop();
  }
});

test('will is not published after DISCONNECT 0x00, on 5.0 and 3.1.1 [MQTT-3.1.2-10] [MQTT-3.14.4-3]', async () => {
  const tb = await startBroker();
  try {
    for (const version of [5, 4] as const) {
      const { watcher, owner } = await withWill(tb, `w-normal-${version}`, { topic: `will/normal${version}` }, version);
      try {
        owner.send(version === 5 ? { cmd: 'disconnect', reasonCode: 0 } : { cmd: 'disconnect' });
        assert.equal(await owner.expectClose(), []);
        assert.equal(await beforePing(watcher), [], `v${version}: will published after a normal DISCONNECT`);
      } finally {
        owner.end();
        watcher.end();
      }
    }
  } finally {
    await tb.stop();
  }
});

test('5.0 will is published after DISCONNECT 0x04 Disconnect with Will Message', async () => {
  const tb = await startBroker();
  try {
    const { watcher, owner } = await withWill(tb, 'w-04', { topic: 'will/04' });
    try {
      owner.send({ cmd: 'disconnect', reasonCode: 0x04 });
      assert.equal(await owner.expectClose(), []);
      const p = (await watcher.next('publish')) as IPublishPacket;
      assert.equal([p.topic, p.payload.toString()], ['will/04', 'w-04 is gone']);
    } finally {
      owner.end();
      watcher.end();
    }
  } finally {
    await tb.stop();
  }
});

test('will is published when the broker closes the connection for a protocol error (second CONNECT)', async () => {
  const tb = await startBroker();
  try {
    const { watcher, owner } = await withWill(tb, 'w-proto', { topic: 'will/proto' });
    try {
      owner.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 60, clientId: 'w-proto' });
      await owner.expectClose();
      const p = (await watcher.next('publish')) as IPublishPacket;
      assert.is(p.topic, 'will/proto');
    } finally {
      owner.end();
      watcher.end();
    }
  } finally {
    await tb.stop();
  }
});

test('will with Will Retain 1 is published retained and stored; later subscribers get it with RETAIN 1 [MQTT-3.1.2-17]', async () => {
  const tb = await startBroker();
  try {
    const { watcher, owner } = await withWill(tb, 'w-retain', { topic: 'will/retain', retain: true, qos: 1 });
    try {
      owner.end();
      const live = (await watcher.next('publish')) as IPublishPacket;
      assert.is(live.topic, 'will/retain');
      // Forwarded to an existing subscription without Retain As Published: RETAIN 0.
      assert.is(live.retain, false);
      watcher.send({ cmd: 'puback', messageId: live.messageId! });
      const stored = tb.broker.retained.match('will/retain', Date.now());
      assert.equal(stored.map((m) => [m.topic, m.payload.toString(), m.qos]), [['will/retain', 'w-retain is gone', 1]]);
      const late = await RawClient.connected(tb.port, { clientId: 'w-retain-late' }, 5);
      try {
        late.client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'will/+', qos: 1 }] });
        await late.client.next('suback');
        const r = (await late.client.next('publish')) as IPublishPacket;
        assert.equal([r.topic, r.payload.toString(), r.retain, r.qos], ['will/retain', 'w-retain is gone', true, 1]);
      } finally {
        late.client.end();
      }
    } finally {
      owner.end();
      watcher.end();
    }
  } finally {
    await tb.stop();
  }
});

test('will with Will Retain 0 is not stored as retained [MQTT-3.1.2-16]', async () => {
  const tb = await startBroker();
  try {
    const { watcher, owner } = await withWill(tb, 'w-noretain', { topic: 'will/noretain', retain: false });
    try {
      owner.end();
      await watcher.next('publish');
      assert.equal(tb.broker.retained.match('will/noretain', Date.now()), []);
    } finally {
      owner.end();
      watcher.end();
    }
  } finally {
    await tb.stop();
  }
});

test('will QoS 2 reaches a QoS 2 subscriber at QoS 2 and a QoS 0 subscriber at QoS 0', async () => {
  const tb = await startBroker();
  try {
    const q0 = await connectClient(tb.url, { clientId: 'w-q0', protocolVersion: 4 });
    const got0 = collect(q0);
    await q0.subscribeAsync('will/q2', { qos: 0 });
    const { watcher, owner } = await withWill(tb, 'w-q2', { topic: 'will/q2', qos: 2 });
    try {
      owner.end();
      const p = (await watcher.next('publish')) as IPublishPacket;
      assert.is(p.qos, 2);
      await got0.waitCount(1);
      assert.equal(got0.messages.map((m) => [m.topic, m.payload, m.packet.qos]), [['will/q2', 'w-q2 is gone', 0]]);
    } finally {
      owner.end();
      watcher.end();
      await endClient(q0, true);
    }
  } finally {
    await tb.stop();
  }
});

test('MQTT.js v4 and v5: will published when the client is force-closed, not after end()', async () => {
  const tb = await startBroker();
  try {
    const watcher = await connectClient(tb.url, { clientId: 'js-watcher' });
    const got = collect(watcher);
    await watcher.subscribeAsync('will/js/#', { qos: 1 });
    try {
      for (const protocolVersion of [4, 5] as const) {
        const graceful = await connectClient(tb.url, { clientId: `js-graceful-${protocolVersion}`, protocolVersion, will: { topic: `will/js/graceful${protocolVersion}`, payload: Buffer.from('no'), qos: 1, retain: false } });
        await endClient(graceful); // sends DISCONNECT
        const abrupt = await connectClient(tb.url, { clientId: `js-abrupt-${protocolVersion}`, protocolVersion, will: { topic: `will/js/abrupt${protocolVersion}`, payload: Buffer.from('yes'), qos: 1, retain: false } });
        abrupt.stream.destroy(); // no DISCONNECT
        await endClient(abrupt, true);
      }
      await got.waitCount(2);
      assert.ok(await new Promise<boolean>((r) => setTimeout(() => r(got.messages.length === 2), 100)));
      assert.equal(got.messages.map((m) => [m.topic, m.payload]), [['will/js/abrupt4', 'yes'], ['will/js/abrupt5', 'yes']]);
    } finally {
      await endClient(watcher, true);
    }
  } finally {
    await tb.stop();
  }
});

test('will is published at keep-alive timeout', async () => {
  const tb = await startBroker();
  try {
    const watcher = await RawClient.connected(tb.port, { clientId: 'w-ka-watcher' }, 5);
    watcher.client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'will/ka', qos: 0 }] });
    await watcher.client.next('suback');
    const owner = await RawClient.connected(tb.port, { clientId: 'w-ka', keepalive: 1, will: { topic: 'will/ka', payload: Buffer.from('timed out'), qos: 0, retain: false } }, 5);
    try {
      const p = (await watcher.client.next('publish', 2500)) as IPublishPacket;
      assert.equal([p.topic, p.payload.toString()], ['will/ka', 'timed out']);
      const closing = await owner.client.expectClose();
      assert.equal(closing.map((x) => x.cmd), ['disconnect']);
    } finally {
      owner.client.end();
      watcher.client.end();
    }
  } finally {
    await tb.stop();
  }
});

test.run();
