// Session takeover: a CONNECT with the client identifier of a connected client closes the older connection
// [MQTT-3.1.4-3] (5.0: DISCONNECT 0x8E first; 3.1.1 [MQTT-3.1.4-2]: just closed).

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IDisconnectPacket, IPublishPacket } from 'mqtt-packet';
import { startBroker } from '../../helpers/broker.js';
import { RawClient } from '../../helpers/raw-client.js';
import { collect, connectClient, endClient } from '../../helpers/mqttjs.js';
import { connectWithConnack, mqttjsClosed } from '../../helpers/connect-tools.js';

const test = suite('session: takeover');

test('5.0 takeover: the old connection gets DISCONNECT 0x8E and is closed; the new one is accepted [MQTT-3.1.4-3]', async () => {
  const tb = await startBroker();
  try {
    const old = await RawClient.connected(tb.port, { clientId: 'dup-id' }, 5);
    try {
      const fresh = await RawClient.connected(tb.port, { clientId: 'dup-id' }, 5);
      try {
        assert.is(fresh.connack.reasonCode, 0);
        const packets = await old.client.expectClose();
        assert.equal(packets.map((p) => [p.cmd, (p as IDisconnectPacket).reasonCode]), [['disconnect', 0x8e]]);
        assert.is(tb.broker.connections.size, 1);
        assert.is(tb.broker.sessions.size, 1);
        // The new connection is the live one.
        fresh.client.send({ cmd: 'pingreq' });
        await fresh.client.next('pingresp');
      } finally {
        fresh.client.end();
      }
    } finally {
      old.client.end();
    }
  } finally {
    await tb.stop();
  }
});

test('3.1.1 takeover: the old connection is closed without a DISCONNECT (3.1.1 [MQTT-3.1.4-2])', async () => {
  const tb = await startBroker();
  try {
    const old = await RawClient.connected(tb.port, { clientId: 'dup-id-4' }, 4);
    try {
      const fresh = await RawClient.connected(tb.port, { clientId: 'dup-id-4' }, 4);
      try {
        assert.is(fresh.connack.returnCode, 0);
        assert.equal(await old.client.expectClose(), []);
        assert.is(fresh.client.isClosed, false);
        assert.is(tb.broker.connections.size, 1);
      } finally {
        fresh.client.end();
      }
    } finally {
      old.client.end();
    }
  } finally {
    await tb.stop();
  }
});

test('a 3.1.1 connection taken over by a 5.0 CONNECT is closed without a DISCONNECT', async () => {
  const tb = await startBroker();
  try {
    const old = await RawClient.connected(tb.port, { clientId: 'mixed' }, 4);
    try {
      const fresh = await RawClient.connected(tb.port, { clientId: 'mixed' }, 5);
      try {
        assert.is(fresh.connack.reasonCode, 0);
        assert.equal(await old.client.expectClose(), []);
      } finally {
        fresh.client.end();
      }
    } finally {
      old.client.end();
    }
  } finally {
    await tb.stop();
  }
});

test('MQTT.js 5.0 client that is taken over sees DISCONNECT 0x8E, then close', async () => {
  const tb = await startBroker();
  try {
    const old = await connectClient(tb.url, { clientId: 'js-dup', protocolVersion: 5 });
    const disconnects: number[] = [];
    old.on('disconnect', (p) => disconnects.push(p.reasonCode ?? 0));
    const closed = mqttjsClosed(old);
    try {
      const fresh = await connectClient(tb.url, { clientId: 'js-dup', protocolVersion: 5 });
      try {
        await closed;
        assert.equal(disconnects, [0x8e]);
        assert.is(fresh.connected, true);
      } finally {
        await endClient(fresh, true);
      }
    } finally {
      await endClient(old, true);
    }
  } finally {
    await tb.stop();
  }
});

test('MQTT.js 3.1.1 client that is taken over is closed', async () => {
  const tb = await startBroker();
  try {
    const old = await connectClient(tb.url, { clientId: 'js-dup-4', protocolVersion: 4 });
    const closed = mqttjsClosed(old);
    try {
      const fresh = await connectClient(tb.url, { clientId: 'js-dup-4', protocolVersion: 4 });
      try {
        await closed;
        assert.is(old.connected, false);
        assert.is(fresh.connected, true);
      } finally {
        await endClient(fresh, true);
      }
    } finally {
      await endClient(old, true);
    }
  } finally {
    await tb.stop();
  }
});

test('takeover with clean start 0 keeps the session: sessionPresent 1 and the subscription delivers to the new connection', async () => {
  const tb = await startBroker();
  try {
    const old = await RawClient.connected(tb.port, { clientId: 'keep', clean: false, properties: { sessionExpiryInterval: 60 } }, 5);
    try {
      old.client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'tk/keep', qos: 1 }] });
      await old.client.next('suback');
      const fresh = await RawClient.connected(tb.port, { clientId: 'keep', clean: false, properties: { sessionExpiryInterval: 60 } }, 5);
      try {
        assert.is(fresh.connack.sessionPresent, true);
        await old.client.expectClose();
        const pub = await connectClient(tb.url, { clientId: 'keep-pub' });
        try {
          await pub.publishAsync('tk/keep', 'after takeover', { qos: 1 });
          const msg = (await fresh.client.next('publish')) as IPublishPacket;
          assert.is(msg.topic, 'tk/keep');
          assert.is(msg.payload.toString(), 'after takeover');
          assert.is(msg.qos, 1);
        } finally {
          await endClient(pub, true);
        }
      } finally {
        fresh.client.end();
      }
    } finally {
      old.client.end();
    }
  } finally {
    await tb.stop();
  }
});

test('MQTT.js 3.1.1 takeover with clean session 0 reports sessionPresent and keeps receiving', async () => {
  const tb = await startBroker();
  try {
    const old = await connectWithConnack(tb.url, { clientId: 'js-keep', protocolVersion: 4, clean: false });
    try {
      await old.client.subscribeAsync('tk/js', { qos: 1 });
      const fresh = await connectWithConnack(tb.url, { clientId: 'js-keep', protocolVersion: 4, clean: false });
      try {
        assert.is(fresh.connack.sessionPresent, true);
        const got = collect(fresh.client);
        const pub = await connectClient(tb.url, { clientId: 'js-keep-pub' });
        try {
          await pub.publishAsync('tk/js', 'hello', { qos: 1 });
          await got.waitCount(1);
          assert.equal(got.messages.map((m) => [m.topic, m.payload, m.packet.qos]), [['tk/js', 'hello', 1]]);
        } finally {
          await endClient(pub, true);
        }
      } finally {
        await endClient(fresh.client, true);
      }
    } finally {
      await endClient(old.client, true);
    }
  } finally {
    await tb.stop();
  }
});

test.run();
