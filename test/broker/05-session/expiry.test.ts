// Session Expiry Interval (5.0 section 3.1.2.11.2): the session outlives its connection for the interval
// [MQTT-3.1.2-23] and is gone after it; DISCONNECT may change it, but not from 0 (section 3.14.2.2.2);
// 3.1.1 clean session 0 sessions last for mqtt.maxSessionExpiryInterval.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IDisconnectPacket, IPublishPacket } from 'mqtt-packet';
import { startBroker, type TestBroker } from '../../helpers/broker.js';
import { RawClient } from '../../helpers/raw-client.js';
import { connectClient, endClient } from '../../helpers/mqttjs.js';
import { waitFor } from '../../helpers/tools.js';
import { beforePing } from '../../helpers/end-marker.js';

const test = suite('session: expiry');

/** Connects with the given expiry, subscribes to `topic`, then leaves with DISCONNECT (optionally changing the expiry). */
async function sessionThenDisconnect(tb: TestBroker, clientId: string, expiry: number, onDisconnect?: number): Promise<void> {
  const { client } = await RawClient.connected(tb.port, { clientId, clean: true, properties: { sessionExpiryInterval: expiry } }, 5);
  try {
    client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `exp/${clientId}`, qos: 1 }] });
    await client.next('suback');
    const properties = onDisconnect === undefined ? undefined : { sessionExpiryInterval: onDisconnect };
    client.send({ cmd: 'disconnect', reasonCode: 0, properties });
    assert.equal(await client.expectClose(), []);
  } finally {
    client.end();
  }
}

async function reconnectPresent(tb: TestBroker, clientId: string): Promise<boolean> {
  const { client, connack } = await RawClient.connected(tb.port, { clientId, clean: false, properties: { sessionExpiryInterval: 60 } }, 5);
  client.end();
  return connack.sessionPresent;
}

test('session is kept before its expiry interval has passed [MQTT-3.1.2-23]', async () => {
  const tb = await startBroker();
  try {
    await sessionThenDisconnect(tb, 'kept', 1);
    const session = tb.broker.sessions.byClientId.get('kept');
    assert.ok(session);
    assert.is(session!.connected, false);
    assert.is(await reconnectPresent(tb, 'kept'), true);
  } finally {
    await tb.stop();
  }
});

test('session is gone after its expiry interval: subscriptions removed, reconnect gets sessionPresent 0', async () => {
  const tb = await startBroker();
  try {
    const started = Date.now();
    await sessionThenDisconnect(tb, 'gone', 1);
    await waitFor(() => !tb.broker.sessions.byClientId.has('gone'), 1800, 'session expiry');
    assert.ok(Date.now() - started >= 950, 'expired early');
    const pub = await RawClient.connected(tb.port, { clientId: 'gone-pub' }, 5);
    try {
      pub.client.send({ cmd: 'publish', topic: 'exp/gone', payload: Buffer.from('x'), qos: 1, messageId: 1, retain: false, dup: false });
      assert.is((await pub.client.next('puback') as { reasonCode?: number }).reasonCode, 0x10);
    } finally {
      pub.client.end();
    }
    assert.is(await reconnectPresent(tb, 'gone'), false);
  } finally {
    await tb.stop();
  }
});

test('DISCONNECT with Session Expiry Interval 0 ends a session that had a non-zero interval', async () => {
  const tb = await startBroker();
  try {
    await sessionThenDisconnect(tb, 'shorten-0', 60, 0);
    assert.not.ok(tb.broker.sessions.byClientId.has('shorten-0'));
    assert.is(await reconnectPresent(tb, 'shorten-0'), false);
  } finally {
    await tb.stop();
  }
});

test('DISCONNECT can change the Session Expiry Interval: 60 -> 1 expires after about 1 s', async () => {
  const tb = await startBroker();
  try {
    const started = Date.now();
    await sessionThenDisconnect(tb, 'shorten-1', 60, 1);
    assert.is(tb.broker.sessions.byClientId.get('shorten-1')?.expiryInterval, 1);
    await waitFor(() => !tb.broker.sessions.byClientId.has('shorten-1'), 1800, 'session expiry');
    assert.ok(Date.now() - started >= 950);
  } finally {
    await tb.stop();
  }
});

test('DISCONNECT changing the Session Expiry Interval from 0 to non-zero is a protocol error: DISCONNECT 0x82', async () => {
  const tb = await startBroker();
  try {
    const { client } = await RawClient.connected(tb.port, { clientId: 'from-zero', clean: false }, 5);
    try {
      client.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 30 } });
      const packets = await client.expectClose();
      assert.equal(packets.map((p) => [p.cmd, (p as IDisconnectPacket).reasonCode]), [['disconnect', 0x82]]);
      // The session keeps its interval of 0, so it ended with the connection.
      assert.not.ok(tb.broker.sessions.byClientId.has('from-zero'));
    } finally {
      client.end();
    }
  } finally {
    await tb.stop();
  }
});

test('a long Session Expiry Interval (30 days, beyond a 32-bit millisecond timer) does not end the session early', async () => {
  const tb = await startBroker();
  try {
    await sessionThenDisconnect(tb, 'month', 30 * 24 * 3600);
    const session = tb.broker.sessions.byClientId.get('month');
    assert.ok(session);
    await new Promise((r) => setTimeout(r, 50));
    assert.is(tb.broker.sessions.byClientId.get('month'), session, 'session ended long before its expiry');
    assert.is(await reconnectPresent(tb, 'month'), true);
  } finally {
    await tb.stop();
  }
});

test('0xFFFFFFFF never expires: no expiry timer is armed', async () => {
  const tb = await startBroker();
  try {
    await sessionThenDisconnect(tb, 'forever', 0xffffffff);
    const session = tb.broker.sessions.byClientId.get('forever');
    assert.ok(session);
    assert.is(session!.expiryTimer, null);
  } finally {
    await tb.stop();
  }
});

test('the interval is capped by mqtt.maxSessionExpiryInterval: a 60 s request expires after the 1 s cap', async () => {
  const tb = await startBroker({ maxSessionExpiryInterval: 1 });
  try {
    const started = Date.now();
    await sessionThenDisconnect(tb, 'capped', 60);
    await waitFor(() => !tb.broker.sessions.byClientId.has('capped'), 1800, 'session expiry');
    assert.ok(Date.now() - started >= 950);
  } finally {
    await tb.stop();
  }
});

test('3.1.1 clean session 0 session lasts mqtt.maxSessionExpiryInterval, then is gone', async () => {
  const tb = await startBroker({ maxSessionExpiryInterval: 1 });
  try {
    const first = await connectClient(tb.url, { clientId: 'v4-exp', protocolVersion: 4, clean: false });
    try {
      await first.subscribeAsync('exp/v4', { qos: 1 });
    } finally {
      await endClient(first);
    }
    await waitFor(() => tb.broker.sessions.byClientId.get('v4-exp')?.connected === false, 1000, 'session detached');
    const started = Date.now();
    const pub = await RawClient.connected(tb.port, { clientId: 'v4-exp-pub' }, 5);
    try {
      pub.client.send({ cmd: 'publish', topic: 'exp/v4', payload: Buffer.from('queued'), qos: 1, messageId: 1, retain: false, dup: false });
      assert.is((await pub.client.next('puback') as { reasonCode?: number }).reasonCode, 0);
      assert.is(tb.broker.sessions.byClientId.get('v4-exp')!.pending.length, 1);
      await waitFor(() => !tb.broker.sessions.byClientId.has('v4-exp'), 1800, 'session expiry');
      assert.ok(Date.now() - started >= 800);
    } finally {
      pub.client.end();
    }
    const again = await RawClient.connected(tb.port, { clientId: 'v4-exp', clean: false }, 4);
    try {
      assert.is(again.connack.sessionPresent, false);
      // The queued message went with the session.
      assert.equal(await beforePing(again.client), []);
    } finally {
      again.client.end();
    }
  } finally {
    await tb.stop();
  }
});

test('reconnecting before expiry delivers what was queued and cancels the expiry', async () => {
  const tb = await startBroker();
  try {
    await sessionThenDisconnect(tb, 'back', 1);
    const pub = await connectClient(tb.url, { clientId: 'back-pub' });
    try {
      await pub.publishAsync('exp/back', 'waiting', { qos: 1 });
    } finally {
      await endClient(pub);
    }
    const { client, connack } = await RawClient.connected(tb.port, { clientId: 'back', clean: false, properties: { sessionExpiryInterval: 1 } }, 5);
    try {
      assert.is(connack.sessionPresent, true);
      const p = (await client.next('publish')) as IPublishPacket;
      assert.is(p.payload.toString(), 'waiting');
      assert.is(tb.broker.sessions.byClientId.get('back')!.expiryTimer, null);
    } finally {
      client.end();
    }
  } finally {
    await tb.stop();
  }
});

test.run();
