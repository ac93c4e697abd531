// CONNACK contents: the server's limits and capabilities announced as 5.0 properties (section 3.2.2.3),
// the granted session expiry, and the plain 3.1.1 form.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startBroker } from '../../helpers/broker.js';
import { RawClient } from '../../helpers/raw-client.js';
import { endClient } from '../../helpers/mqttjs.js';
import { connectWithConnack } from '../../helpers/connect-tools.js';

const test = suite('connect: CONNACK');

test('5.0 CONNACK announces receive maximum, maximum packet size, topic alias maximum and available features', async () => {
  const tb = await startBroker();
  try {
    const { client, connack } = await RawClient.connected(tb.port, { clientId: 'props' }, 5);
    try {
      assert.is(connack.reasonCode, 0);
      assert.is(connack.sessionPresent, false);
      assert.equal(connack.properties, {
        receiveMaximum: 1024,
        maximumPacketSize: 1024 * 1024,
        topicAliasMaximum: 64,
        retainAvailable: true,
        wildcardSubscriptionAvailable: true,
        sharedSubscriptionAvailable: true,
        subscriptionIdentifiersAvailable: true,
      });
    } finally {
      client.end();
    }
  } finally {
    await tb.stop();
  }
});

test('5.0 CONNACK follows the configured limits', async () => {
  const tb = await startBroker({ receiveMaximum: 10, maxPacketSize: 4096, topicAliasMaximum: 5 });
  try {
    const { client, connack } = await RawClient.connected(tb.port, { clientId: 'limits' }, 5);
    try {
      assert.is(connack.properties?.receiveMaximum, 10);
      assert.is(connack.properties?.maximumPacketSize, 4096);
      assert.is(connack.properties?.topicAliasMaximum, 5);
    } finally {
      client.end();
    }
  } finally {
    await tb.stop();
  }
});

test('5.0 CONNACK carries the granted Session Expiry Interval only when it differs from the request', async () => {
  const tb = await startBroker({ maxSessionExpiryInterval: 10 });
  try {
    const capped = await RawClient.connected(tb.port, { clientId: 'capped', properties: { sessionExpiryInterval: 100 } }, 5);
    try {
      assert.is(capped.connack.properties?.sessionExpiryInterval, 10);
      assert.is(tb.broker.sessions.byClientId.get('capped')?.expiryInterval, 10);
    } finally {
      capped.client.end();
    }
    const within = await RawClient.connected(tb.port, { clientId: 'within', properties: { sessionExpiryInterval: 5 } }, 5);
    try {
      assert.is(within.connack.properties?.sessionExpiryInterval, undefined);
      assert.is(tb.broker.sessions.byClientId.get('within')?.expiryInterval, 5);
    } finally {
      within.client.end();
    }
  } finally {
    await tb.stop();
  }
});

test('3.1.1 CONNACK is return code 0 with session present 0 and no properties', async () => {
  const tb = await startBroker();
  try {
    const { client, connack } = await RawClient.connected(tb.port, { clientId: 'v4' }, 4);
    try {
      assert.is(connack.returnCode, 0);
      assert.is(connack.sessionPresent, false);
      assert.is(connack.reasonCode, undefined);
      assert.is(connack.properties, undefined);
      assert.is(connack.length, 2);
    } finally {
      client.end();
    }
  } finally {
    await tb.stop();
  }
});

test('MQTT.js 5.0 and 3.1.1 clients both connect and see the CONNACK the broker sent', async () => {
  const tb = await startBroker();
  try {
    const v5 = await connectWithConnack(tb.url, { clientId: 'mqttjs-5', protocolVersion: 5 });
    try {
      assert.is(v5.connack.reasonCode, 0);
      assert.is(v5.connack.properties?.receiveMaximum, 1024);
      assert.is(v5.connack.properties?.topicAliasMaximum, 64);
      assert.is(v5.connack.properties?.sharedSubscriptionAvailable, true);
    } finally {
      await endClient(v5.client, true);
    }
    const v4 = await connectWithConnack(tb.url, { clientId: 'mqttjs-4', protocolVersion: 4 });
    try {
      assert.is(v4.connack.returnCode, 0);
      assert.is(v4.connack.properties, undefined);
    } finally {
      await endClient(v4.client, true);
    }
  } finally {
    await tb.stop();
  }
});

test('5.0 CONNECT with Receive Maximum 0 is refused with 0x82 (section 3.1.2.11.3)', async () => {
  const tb = await startBroker();
  try {
    const { client, connack } = await RawClient.connected(tb.port, { clientId: 'rm0', properties: { receiveMaximum: 0 } }, 5);
    try {
      assert.is(connack.reasonCode, 0x82);
      assert.is(connack.sessionPresent, false);
      assert.equal(await client.expectClose(), []);
      assert.is(tb.broker.sessions.size, 0);
    } finally {
      client.end();
    }
  } finally {
    await tb.stop();
  }
});

test.run();
