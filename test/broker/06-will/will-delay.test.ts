// Will Delay Interval (5.0 section 3.1.3.2.2): the will waits for the delay or the end of the session,
// whichever comes first [MQTT-3.1.2-8]; a new connection for the session within the delay cancels it
// [MQTT-3.1.3-9]. Will properties travel with the published will [MQTT-3.1.3-10].

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IConnectPacket, IPublishPacket } from 'mqtt-packet';
import { startBroker, type TestBroker } from '../../helpers/broker.js';
import { RawClient } from '../../helpers/raw-client.js';
import { END_MARKER, publishEndMarker } from '../../helpers/end-marker.js';
import { waitFor } from '../../helpers/tools.js';

const test = suite('will: delay and properties');

type WillProps = NonNullable<NonNullable<IConnectPacket['will']>['properties']>;

async function watch(tb: TestBroker, topic: string): Promise<RawClient> {
  const { client } = await RawClient.connected(tb.port, { clientId: `watch-${topic.replace(/\//g, '-')}` }, 5);
  client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] });
  await client.next('suback');
  return client;
}

/** A 5.0 client with a will on `topic` and the given session expiry and will properties. */
async function owner(tb: TestBroker, clientId: string, topic: string, expiry: number, willProps: WillProps, clean = true) {
  const { client, connack } = await RawClient.connected(
    tb.port,
    {
      clientId,
      clean,
      properties: expiry > 0 ? { sessionExpiryInterval: expiry } : undefined,
      will: { topic, payload: Buffer.from(`${clientId} will`), qos: 1, retain: false, properties: willProps },
    },
    5,
  );
  return { client, connack };
}

const detached = (tb: TestBroker, clientId: string) =>
  waitFor(() => tb.broker.sessions.byClientId.get(clientId)?.connected === false, 1000, 'session detached');

/**
 * The end marker for a will that must not come: a second owner with the same will delay (1 s) disconnects now, so
 * its will is due after any will whose delay started earlier. Returns the payload of the watcher's next PUBLISH.
 */
async function firstAfterMarkerWill(tb: TestBroker, watcher: RawClient, topic: string): Promise<string> {
  const { client } = await RawClient.connected(
    tb.port,
    { clientId: 'wd-marker', properties: { sessionExpiryInterval: 10 }, will: { topic, payload: Buffer.from('marker will'), qos: 1, retain: false, properties: { willDelayInterval: 1 } } },
    5,
  );
  client.end();
  await detached(tb, 'wd-marker');
  return ((await watcher.next('publish', 3000)) as IPublishPacket).payload.toString();
}

test('will delay interval delays the will by about its value [MQTT-3.1.2-8]', async () => {
  const tb = await startBroker();
  const watcher = await watch(tb, 'wd/delay');
  try {
    const o = await owner(tb, 'wd-delay', 'wd/delay', 10, { willDelayInterval: 1 });
    const closedAt = Date.now();
    o.client.end();
    // The will is the watcher's first packet, and it comes no earlier than its delay.
    const p = (await watcher.next('publish', 3000)) as IPublishPacket;
    const elapsed = Date.now() - closedAt;
    assert.equal([p.topic, p.payload.toString()], ['wd/delay', 'wd-delay will']);
    assert.ok(elapsed >= 950, `published after ${elapsed} ms`);
    // The session itself is still there (expiry 10 s).
    assert.ok(tb.broker.sessions.byClientId.has('wd-delay'));
  } finally {
    watcher.end();
    await tb.stop();
  }
});

test('a reconnect within the will delay cancels the will [MQTT-3.1.3-9]', async () => {
  const tb = await startBroker();
  const watcher = await watch(tb, 'wd/cancel');
  try {
    const o = await owner(tb, 'wd-cancel', 'wd/cancel', 10, { willDelayInterval: 1 });
    o.client.end();
    await detached(tb, 'wd-cancel');
    const back = await RawClient.connected(tb.port, { clientId: 'wd-cancel', clean: false, properties: { sessionExpiryInterval: 10 } }, 5);
    try {
      assert.is(back.connack.sessionPresent, true);
      assert.is(tb.broker.sessions.byClientId.get('wd-cancel')!.willTimer, null);
      assert.is(await firstAfterMarkerWill(tb, watcher, 'wd/cancel'), 'marker will', 'cancelled will was published');
    } finally {
      back.client.end();
    }
  } finally {
    watcher.end();
    await tb.stop();
  }
});

test('a takeover within the will delay cancels the old connection\'s will [MQTT-3.1.3-9]', async () => {
  const tb = await startBroker();
  const watcher = await watch(tb, 'wd/takeover');
  try {
    const o = await owner(tb, 'wd-takeover', 'wd/takeover', 10, { willDelayInterval: 1 });
    const fresh = await RawClient.connected(tb.port, { clientId: 'wd-takeover', clean: false, properties: { sessionExpiryInterval: 10 } }, 5);
    try {
      assert.is(fresh.connack.sessionPresent, true);
      await o.client.expectClose();
      assert.is(await firstAfterMarkerWill(tb, watcher, 'wd/takeover'), 'marker will', 'will of the taken-over connection was published');
    } finally {
      fresh.client.end();
      o.client.end();
    }
  } finally {
    watcher.end();
    await tb.stop();
  }
});

test('the will is published when the session expires before the will delay [MQTT-3.1.2-8]', async () => {
  const tb = await startBroker();
  const watcher = await watch(tb, 'wd/expiry');
  try {
    const o = await owner(tb, 'wd-expiry', 'wd/expiry', 1, { willDelayInterval: 10 });
    const closedAt = Date.now();
    o.client.end();
    const p = (await watcher.next('publish', 1800)) as IPublishPacket;
    const elapsed = Date.now() - closedAt;
    assert.is(p.topic, 'wd/expiry');
    assert.ok(elapsed >= 950, `published after ${elapsed} ms, before the session expired`);
    await waitFor(() => !tb.broker.sessions.byClientId.has('wd-expiry'), 500, 'session end');
  } finally {
    watcher.end();
    await tb.stop();
  }
});

test('with Session Expiry 0 the session ends at once, so a delayed will is published at once', async () => {
  const tb = await startBroker();
  const watcher = await watch(tb, 'wd/zero');
  try {
    const o = await owner(tb, 'wd-zero', 'wd/zero', 0, { willDelayInterval: 10 });
    o.client.end();
    const p = (await watcher.next('publish', 500)) as IPublishPacket;
    assert.is(p.topic, 'wd/zero');
  } finally {
    watcher.end();
    await tb.stop();
  }
});

test('a will delay beyond a 32-bit millisecond timer (30 days) is not published early', async () => {
  const tb = await startBroker();
  const watcher = await watch(tb, 'wd/long');
  try {
    const o = await owner(tb, 'wd-long', 'wd/long', 0xffffffff, { willDelayInterval: 30 * 24 * 3600 });
    o.client.end();
    await detached(tb, 'wd-long');
    // Published at once, it would have been routed when the session detached, before this marker.
    await publishEndMarker(tb.port, 'wd/long');
    const first = (await watcher.next('publish')) as IPublishPacket;
    assert.is(first.payload.toString(), END_MARKER, 'will with a 30-day delay was published at once');
    assert.ok(tb.broker.sessions.byClientId.get('wd-long')!.willTimer !== null);
  } finally {
    watcher.end();
    await tb.stop();
  }
});

test('will properties are passed through to subscribers; user properties keep their order [MQTT-3.1.3-10]', async () => {
  const tb = await startBroker();
  const watcher = await watch(tb, 'wd/props');
  try {
    const o = await owner(tb, 'wd-props', 'wd/props', 0, {
      payloadFormatIndicator: true,
      messageExpiryInterval: 60,
      contentType: 'text/plain',
      responseTopic: 'wd/reply',
      correlationData: Buffer.from([1, 2, 3]),
      userProperties: { first: '1', second: ['2a', '2b'], third: '3' },
    });
    o.client.end();
    const p = (await watcher.next('publish')) as IPublishPacket;
    const props = p.properties!;
    assert.is(props.payloadFormatIndicator, true);
    assert.is(props.contentType, 'text/plain');
    assert.is(props.responseTopic, 'wd/reply');
    assert.equal([...props.correlationData!], [1, 2, 3]);
    assert.equal(Object.entries(props.userProperties!), [['first', '1'], ['second', ['2a', '2b']], ['third', '3']]);
    // Forwarded with the time left, which is at most what was set [MQTT-3.3.2-6].
    assert.ok(props.messageExpiryInterval! <= 60 && props.messageExpiryInterval! >= 59, `expiry ${props.messageExpiryInterval}`);
    assert.is(p.payload.toString(), 'wd-props will');
    assert.is(p.qos, 1);
  } finally {
    watcher.end();
    await tb.stop();
  }
});

test('the will Message Expiry Interval starts when the will is published, not at disconnect (section 3.1.3.2.4)', async () => {
  const tb = await startBroker();
  const watcher = await watch(tb, 'wd/stale');
  try {
    // A 1 s expiry with a 1 s delay is still delivered, with its full 1 s.
    const o = await owner(tb, 'wd-stale', 'wd/stale', 10, { willDelayInterval: 1, messageExpiryInterval: 1 });
    o.client.end();
    const p = (await watcher.next('publish', 1800)) as IPublishPacket;
    assert.is(p.properties?.messageExpiryInterval, 1);
  } finally {
    watcher.end();
    await tb.stop();
  }
});

test.run();
