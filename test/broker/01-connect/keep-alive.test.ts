// Keep alive: Server Keep Alive when the client asks more than mqtt.maxKeepAlive, the 1.5x timeout
// [MQTT-3.1.2-22] with DISCONNECT 0x8D on 5.0, PINGREQ keeping the connection up, and the CONNECT timeout.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startBroker } from '../../helpers/broker.js';
import { RawClient } from '../../helpers/raw-client.js';
import { holdStoreBehind } from '../../helpers/slow-disk.js';

const test = suite('connect: keep alive');

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('5.0 CONNACK carries Server Keep Alive = maxKeepAlive when the client asks more [MQTT-3.1.2-21]', async () => {
  const tb = await startBroker({ maxKeepAlive: 30 });
  try {
    const more = await RawClient.connected(tb.port, { clientId: 'ka-more', keepalive: 60 }, 5);
    try {
      assert.is(more.connack.properties?.serverKeepAlive, 30);
    } finally {
      more.client.end();
    }
    const less = await RawClient.connected(tb.port, { clientId: 'ka-less', keepalive: 20 }, 5);
    try {
      assert.is(less.connack.properties?.serverKeepAlive, undefined);
    } finally {
      less.client.end();
    }
    const equal = await RawClient.connected(tb.port, { clientId: 'ka-equal', keepalive: 30 }, 5);
    try {
      assert.is(equal.connack.properties?.serverKeepAlive, undefined);
    } finally {
      equal.client.end();
    }
  } finally {
    await tb.stop();
  }
});

test('5.0 keep alive 0 is answered with Server Keep Alive when maxKeepAlive is limited', async () => {
  const tb = await startBroker({ maxKeepAlive: 30 });
  try {
    const { client, connack } = await RawClient.connected(tb.port, { clientId: 'ka-zero', keepalive: 0 }, 5);
    try {
      assert.is(connack.properties?.serverKeepAlive, 30);
    } finally {
      client.end();
    }
  } finally {
    await tb.stop();
  }
});

test('with the default maxKeepAlive there is no Server Keep Alive, also for keep alive 0', async () => {
  const tb = await startBroker();
  try {
    for (const keepalive of [0, 65535]) {
      const { client, connack } = await RawClient.connected(tb.port, { clientId: `ka-${keepalive}`, keepalive }, 5);
      try {
        assert.is(connack.properties?.serverKeepAlive, undefined);
      } finally {
        client.end();
      }
    }
  } finally {
    await tb.stop();
  }
});

test('5.0 silent client is disconnected with 0x8D after 1.5x keep alive [MQTT-3.1.2-22]', async () => {
  const tb = await startBroker();
  try {
    const { client } = await RawClient.connected(tb.port, { clientId: 'ka-silent', keepalive: 1 }, 5);
    const started = Date.now();
    try {
      const packets = await client.expectClose(2500);
      const elapsed = Date.now() - started;
      assert.is(packets.length, 1);
      assert.is(packets[0]!.cmd, 'disconnect');
      assert.is((packets[0] as { reasonCode?: number }).reasonCode, 0x8d);
      assert.ok(elapsed >= 1400, `closed after ${elapsed} ms, before 1.5 x keep alive`);
      assert.not.ok(tb.broker.sessions.byClientId.has('ka-silent'));
    } finally {
      client.end();
    }
  } finally {
    await tb.stop();
  }
});

test('3.1.1 silent client is closed after 1.5x keep alive without a DISCONNECT', async () => {
  const tb = await startBroker();
  try {
    const { client } = await RawClient.connected(tb.port, { clientId: 'ka-silent-4', keepalive: 1 }, 4);
    const started = Date.now();
    try {
      assert.equal(await client.expectClose(2500), []);
      assert.ok(Date.now() - started >= 1400);
    } finally {
      client.end();
    }
  } finally {
    await tb.stop();
  }
});

test('while the broker does not read a publisher (store behind, storage.maxPendingBytes), its keep alive does not run out', async () => {
  const tb = await startBroker();
  try {
    const { client } = await RawClient.connected(tb.port, { clientId: 'ka-throttled', keepalive: 1 }, 5);
    const disk = holdStoreBehind(tb);
    client.send({ cmd: 'publish', topic: 'ka/t', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
    // The end marker: an idle client with the same keep alive, connected after that PUBLISH (the last packet read).
    const { client: idle } = await RawClient.connected(tb.port, { clientId: 'ka-idle-2', keepalive: 1 }, 5);
    try {
      for (let i = 0; i < 2; i++) {
        await delay(700);
        client.send({ cmd: 'pingreq' }); // waits unread in the socket
      }
      assert.equal((await idle.expectClose(3000)).map((p) => p.cmd), ['disconnect']);
      assert.is(client.isClosed, false, 'closed for a keep alive the broker itself kept from being seen');
      disk.open();
      assert.equal([(await client.next()).cmd, (await client.next()).cmd], ['pingresp', 'pingresp']);
    } finally {
      disk.open(); // the store's close waits for its flush
      client.end();
      idle.end();
    }
  } finally {
    await tb.stop();
  }
});

test('a publisher the broker does not read (store behind) can be taken over, and the broker stops', async () => {
  const tb = await startBroker();
  const disk = holdStoreBehind(tb);
  try {
    const { client } = await RawClient.connected(tb.port, { clientId: 'ka-paused' }, 5);
    client.send({ cmd: 'publish', topic: 'ka/t', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
    client.send({ cmd: 'pingreq' }); // waits unread in the socket
    const fresh = await RawClient.connected(tb.port, { clientId: 'ka-paused' }, 5);
    try {
      assert.equal((await client.expectClose()).map((p) => p.cmd), ['disconnect']);
      fresh.client.send({ cmd: 'pingreq' });
      assert.is((await fresh.client.next()).cmd, 'pingresp');
    } finally {
      client.end();
      fresh.client.end();
    }
  } finally {
    // Stopping waits for every connection to close, the one closed while not read included.
    await tb.stop();
    disk.open();
  }
});

test('PINGREQ within the keep alive keeps the connection open past 1.5x keep alive', async () => {
  const tb = await startBroker();
  try {
    const { client } = await RawClient.connected(tb.port, { clientId: 'ka-ping', keepalive: 1 }, 5);
    // The end marker: a client with the same keep alive, connected just after, that sends nothing. Its close comes
    // 1.5 s after its CONNECT, later than a close counted from ka-ping's CONNECT would have come.
    const { client: idle } = await RawClient.connected(tb.port, { clientId: 'ka-idle', keepalive: 1 }, 5);
    try {
      for (let i = 0; i < 2; i++) {
        await delay(700);
        client.send({ cmd: 'pingreq' });
        assert.is((await client.next('pingresp', 500)).cmd, 'pingresp');
      }
      assert.equal((await idle.expectClose(3000)).map((p) => p.cmd), ['disconnect']);
      // Past 1.5 s since CONNECT, the connection that sent PINGREQs is open and answers.
      assert.is(client.isClosed, false);
      client.send({ cmd: 'pingreq' });
      assert.is((await client.next('pingresp')).cmd, 'pingresp');
    } finally {
      client.end();
      idle.end();
    }
  } finally {
    await tb.stop();
  }
});

test('the Server Keep Alive is enforced: maxKeepAlive 1 closes a client that asked 60 after 1.5 s with 0x8D', async () => {
  const tb = await startBroker({ maxKeepAlive: 1 });
  try {
    const { client, connack } = await RawClient.connected(tb.port, { clientId: 'ka-server', keepalive: 60 }, 5);
    const started = Date.now();
    try {
      assert.is(connack.properties?.serverKeepAlive, 1);
      const packets = await client.expectClose(2500);
      assert.equal(packets.map((p) => [p.cmd, (p as { reasonCode?: number }).reasonCode]), [['disconnect', 0x8d]]);
      assert.ok(Date.now() - started >= 1400);
    } finally {
      client.end();
    }
  } finally {
    await tb.stop();
  }
});

test('a connection that sends no CONNECT is closed after connectTimeoutMs', async () => {
  const tb = await startBroker();
  try {
    tb.broker.connectTimeoutMs = 200;
    const client = await RawClient.connect(tb.port, 5);
    try {
      assert.equal(await client.expectClose(1500), []);
      assert.is(tb.broker.connections.size, 0);
    } finally {
      client.end();
    }
  } finally {
    await tb.stop();
  }
});

test.run();
