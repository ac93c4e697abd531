// Clean Start / Clean Session: 0 resumes an existing session (sessionPresent 1, subscriptions kept),
// 1 discards it [MQTT-3.1.2-4] [MQTT-3.1.2-5] [MQTT-3.2.2-2] [MQTT-3.2.2-3].

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IPubackPacket, IPublishPacket } from 'mqtt-packet';
import { startBroker } from '../../helpers/broker.js';
import { RawClient } from '../../helpers/raw-client.js';
import { collect, connectClient, endClient } from '../../helpers/mqttjs.js';
import { connectWithConnack } from '../../helpers/connect-tools.js';
import { beforePing } from '../../helpers/end-marker.js';

const test = suite('session: clean start');

const persistent = (clientId: string, clean: boolean) => ({ clientId, clean, properties: { sessionExpiryInterval: 60 } });

async function subscribeAndLeave(port: number, clientId: string, topic: string): Promise<void> {
  const { client } = await RawClient.connected(port, persistent(clientId, true), 5);
  try {
    client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] });
    await client.next('suback');
    client.send({ cmd: 'disconnect', reasonCode: 0 });
    await client.expectClose();
  } finally {
    client.end();
  }
}

test('5.0 clean start 0 resumes the session: sessionPresent 1 and the subscription still delivers [MQTT-3.1.2-5] [MQTT-3.2.2-3]', async () => {
  const tb = await startBroker();
  try {
    await subscribeAndLeave(tb.port, 'resume', 'cs/resume');
    const { client, connack } = await RawClient.connected(tb.port, persistent('resume', false), 5);
    try {
      assert.is(connack.reasonCode, 0);
      assert.is(connack.sessionPresent, true);
      const pub = await connectClient(tb.url, { clientId: 'resume-pub' });
      try {
        await pub.publishAsync('cs/resume', 'still subscribed', { qos: 1 });
        const msg = (await client.next('publish')) as IPublishPacket;
        assert.is(msg.topic, 'cs/resume');
        assert.is(msg.payload.toString(), 'still subscribed');
      } finally {
        await endClient(pub, true);
      }
    } finally {
      client.end();
    }
  } finally {
    await tb.stop();
  }
});

test('5.0 clean start 1 discards the existing session: sessionPresent 0 and its subscriptions are gone [MQTT-3.1.2-4] [MQTT-3.2.2-2]', async () => {
  const tb = await startBroker();
  try {
    await subscribeAndLeave(tb.port, 'discard', 'cs/discard');
    assert.is(tb.broker.sessions.byClientId.get('discard')?.subscriptions.size, 1);
    const { client, connack } = await RawClient.connected(tb.port, persistent('discard', true), 5);
    try {
      assert.is(connack.sessionPresent, false);
      assert.is(tb.broker.sessions.byClientId.get('discard')?.subscriptions.size, 0);
      const pub = await RawClient.connected(tb.port, { clientId: 'discard-pub' }, 5);
      try {
        pub.client.send({ cmd: 'publish', topic: 'cs/discard', payload: Buffer.from('nobody'), qos: 1, messageId: 7, retain: false, dup: false });
        // 0x10 No matching subscribers: the old subscription no longer exists anywhere.
        const ack = (await pub.client.next('puback')) as IPubackPacket;
        assert.equal([ack.messageId, ack.reasonCode], [7, 0x10]);
        assert.equal(await beforePing(client), []);
      } finally {
        pub.client.end();
      }
    } finally {
      client.end();
    }
  } finally {
    await tb.stop();
  }
});

test('5.0 clean start 0 without an existing session starts a new one with sessionPresent 0', async () => {
  const tb = await startBroker();
  try {
    const { client, connack } = await RawClient.connected(tb.port, persistent('no-session', false), 5);
    try {
      assert.is(connack.reasonCode, 0);
      assert.is(connack.sessionPresent, false);
      assert.ok(tb.broker.sessions.byClientId.has('no-session'));
    } finally {
      client.end();
    }
  } finally {
    await tb.stop();
  }
});

test('5.0 session with expiry 0 ends with its connection: clean start 0 afterwards gets sessionPresent 0', async () => {
  const tb = await startBroker();
  try {
    const first = await RawClient.connected(tb.port, { clientId: 'short', clean: false }, 5);
    try {
      first.client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'cs/short', qos: 1 }] });
      await first.client.next('suback');
      first.client.send({ cmd: 'disconnect', reasonCode: 0 });
      await first.client.expectClose();
    } finally {
      first.client.end();
    }
    assert.not.ok(tb.broker.sessions.byClientId.has('short'));
    const again = await RawClient.connected(tb.port, { clientId: 'short', clean: false }, 5);
    try {
      assert.is(again.connack.sessionPresent, false);
      assert.is(tb.broker.sessions.byClientId.get('short')?.subscriptions.size, 0);
    } finally {
      again.client.end();
    }
  } finally {
    await tb.stop();
  }
});

for (const protocolVersion of [4, 5] as const) {
  const sessionOpts = protocolVersion === 5 ? { properties: { sessionExpiryInterval: 60 } } : {};

  test(`MQTT.js v${protocolVersion}: clean false reconnect reports sessionPresent and keeps the subscription`, async () => {
    const tb = await startBroker();
    try {
      const clientId = `js-resume-${protocolVersion}`;
      const first = await connectWithConnack(tb.url, { clientId, protocolVersion, clean: false, ...sessionOpts });
      try {
        assert.is(first.connack.sessionPresent, false);
        await first.client.subscribeAsync('cs/js', { qos: 1 });
      } finally {
        await endClient(first.client);
      }
      const second = await connectWithConnack(tb.url, { clientId, protocolVersion, clean: false, ...sessionOpts });
      try {
        assert.is(second.connack.sessionPresent, true);
        const got = collect(second.client);
        const pub = await connectClient(tb.url, { clientId: `${clientId}-pub`, protocolVersion });
        try {
          await pub.publishAsync('cs/js', 'kept', { qos: 1 });
          await got.waitCount(1);
          assert.equal(got.messages.map((m) => [m.topic, m.payload]), [['cs/js', 'kept']]);
        } finally {
          await endClient(pub, true);
        }
      } finally {
        await endClient(second.client, true);
      }
      // clean true discards it.
      const third = await connectWithConnack(tb.url, { clientId, protocolVersion, clean: true, ...sessionOpts });
      try {
        assert.is(third.connack.sessionPresent, false);
        assert.is(tb.broker.sessions.byClientId.get(clientId)?.subscriptions.size, 0);
      } finally {
        await endClient(third.client, true);
      }
    } finally {
      await tb.stop();
    }
  });
}

test('3.1.1 clean session 0 session persists after the connection closes', async () => {
  const tb = await startBroker();
  try {
    const first = await RawClient.connected(tb.port, { clientId: 'v4-persist', clean: false }, 4);
    try {
      first.client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'cs/v4', qos: 1 }] });
      await first.client.next('suback');
    } finally {
      first.client.end(); // socket dropped, no DISCONNECT
    }
    await first.client.closed;
    const second = await RawClient.connected(tb.port, { clientId: 'v4-persist', clean: false }, 4);
    try {
      assert.is(second.connack.returnCode, 0);
      assert.is(second.connack.sessionPresent, true);
      assert.equal([...tb.broker.sessions.byClientId.get('v4-persist')!.subscriptions.keys()], ['cs/v4']);
    } finally {
      second.client.end();
    }
  } finally {
    await tb.stop();
  }
});

test.run();
