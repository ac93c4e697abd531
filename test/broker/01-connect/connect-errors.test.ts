// CONNECT failures: a second CONNECT, an authentication method the broker does not offer, and a protocol
// level the broker does not speak.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IConnackPacket, Packet } from 'mqtt-packet';
import { startBroker } from '../../helpers/broker.js';
import { RawClient } from '../../helpers/raw-client.js';
import { connectBytes, connectRefused } from '../../helpers/connect-tools.js';

const test = suite('connect: errors');

const secondConnect = (clientId: string, protocolVersion: 4 | 5) =>
  ({ cmd: 'connect', protocolId: 'MQTT', protocolVersion, clean: true, keepalive: 60, clientId }) as Packet;

test('5.0 second CONNECT is a protocol error: DISCONNECT 0x82, then close [MQTT-3.1.0-2]', async () => {
  const tb = await startBroker();
  try {
    const { client } = await RawClient.connected(tb.port, { clientId: 'twice' }, 5);
    try {
      client.send(secondConnect('twice', 5));
      const packets = await client.expectClose();
      assert.equal(packets.map((p) => [p.cmd, (p as { reasonCode?: number }).reasonCode]), [['disconnect', 0x82]]);
      assert.not.ok(tb.broker.sessions.byClientId.has('twice'));
    } finally {
      client.end();
    }
  } finally {
    await tb.stop();
  }
});

test('3.1.1 second CONNECT closes the connection without any packet [MQTT-3.1.0-2]', async () => {
  const tb = await startBroker();
  try {
    const { client } = await RawClient.connected(tb.port, { clientId: 'twice-4' }, 4);
    try {
      client.send(secondConnect('twice-4', 4));
      assert.equal(await client.expectClose(), []);
    } finally {
      client.end();
    }
  } finally {
    await tb.stop();
  }
});

test('5.0 CONNECT with an Authentication Method is refused with CONNACK 0x8C and closed [MQTT-4.12.0-1]', async () => {
  const tb = await startBroker();
  try {
    const { client, connack } = await RawClient.connected(
      tb.port,
      { clientId: 'enhanced', properties: { authenticationMethod: 'SCRAM-SHA-1', authenticationData: Buffer.from('x') } },
      5,
    );
    try {
      assert.is(connack.reasonCode, 0x8c);
      assert.is(connack.sessionPresent, false);
      assert.equal(await client.expectClose(), []);
      assert.is(tb.broker.sessions.size, 0);
    } finally {
      client.end();
    }
    assert.is(await connectRefused(tb.url, { clientId: 'enhanced-js', protocolVersion: 5, properties: { authenticationMethod: 'OAUTH' } }), 0x8c);
  } finally {
    await tb.stop();
  }
});

test('unsupported protocol level is answered with the 3.1.1 CONNACK 0x01, then closed (3.1.1 [MQTT-3.1.2-2])', async () => {
  const tb = await startBroker();
  try {
    for (const level of [6, 2]) {
      const client = await RawClient.connect(tb.port, 4);
      const bytes: Buffer[] = [];
      client.socket.on('data', (d: Buffer) => bytes.push(d));
      try {
        client.sendBytes(connectBytes({ level, clean: true, clientId: `level-${level}` }));
        const packets = await client.expectClose();
        assert.is(packets.length, 1, `level ${level}: one packet before close`);
        const connack = packets[0] as IConnackPacket;
        assert.is(connack.cmd, 'connack');
        assert.is(connack.returnCode, 1);
        assert.is(connack.sessionPresent, false);
        // Exactly the 3.1.1 form: fixed header, remaining length 2, flags 0, return code 1.
        assert.equal([...Buffer.concat(bytes)], [0x20, 0x02, 0x00, 0x01]);
      } finally {
        client.end();
      }
    }
    assert.is(tb.broker.sessions.size, 0);
  } finally {
    await tb.stop();
  }
});

test('3.1 (MQIsdp, level 3) is still accepted', async () => {
  const tb = await startBroker();
  try {
    const client = await RawClient.connect(tb.port, 3);
    try {
      client.sendBytes(connectBytes({ protocolName: 'MQIsdp', level: 3, clean: true, clientId: 'old-client' }));
      const connack = (await client.next('connack')) as IConnackPacket;
      assert.is(connack.returnCode, 0);
      assert.ok(tb.broker.sessions.byClientId.has('old-client'));
    } finally {
      client.end();
    }
  } finally {
    await tb.stop();
  }
});

test('5.0 CONNECT whose will topic has a wildcard is refused with CONNACK 0x90 and closed', async () => {
  const tb = await startBroker();
  try {
    const { client, connack } = await RawClient.connected(
      tb.port,
      { clientId: 'bad-will', will: { topic: 'will/+', payload: Buffer.from('x'), qos: 0, retain: false } },
      5,
    );
    try {
      assert.is(connack.reasonCode, 0x90);
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
