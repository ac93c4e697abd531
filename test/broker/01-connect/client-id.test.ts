// Client identifier rules on CONNECT: server-assigned identifiers (5.0), empty identifiers on 3.1.1,
// and the configured length limit.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IConnackPacket } from 'mqtt-packet';
import { startBroker } from '../../helpers/broker.js';
import { RawClient } from '../../helpers/raw-client.js';
import { endClient } from '../../helpers/mqttjs.js';
import { connectBytes, connectRefused, connectWithConnack } from '../../helpers/connect-tools.js';

const test = suite('connect: client identifier');

const ASSIGNED = /^wharf-[A-Za-z0-9_-]{12}$/;

test('5.0 empty client id is accepted and answered with an Assigned Client Identifier [MQTT-3.1.3-6] [MQTT-3.1.3-7]', async () => {
  const tb = await startBroker();
  try {
    const { client, connack } = await RawClient.connected(tb.port, { clientId: '' }, 5);
    try {
      assert.is(connack.reasonCode, 0);
      assert.is(connack.sessionPresent, false);
      const assigned = connack.properties?.assignedClientIdentifier;
      assert.type(assigned, 'string');
      assert.match(assigned!, ASSIGNED);
      // The session is registered under the assigned identifier.
      assert.is(tb.broker.sessions.byClientId.get(assigned!)?.clientId, assigned);
      assert.is(tb.broker.sessions.size, 1);
    } finally {
      client.end();
    }
  } finally {
    await tb.stop();
  }
});

test('5.0 empty client ids get distinct assigned identifiers, also with clean start 0', async () => {
  const tb = await startBroker();
  try {
    const a = await RawClient.connected(tb.port, { clientId: '' }, 5);
    // mqtt-packet will not generate an empty id with clean start 0; 5.0 allows it [MQTT-3.1.3-6].
    const b = { client: await RawClient.connect(tb.port, 5), connack: undefined as unknown as IConnackPacket };
    b.client.sendBytes(connectBytes({ level: 5, clean: false, clientId: '' }));
    try {
      b.connack = (await b.client.next('connack')) as IConnackPacket;
      const idA = a.connack.properties?.assignedClientIdentifier;
      const idB = b.connack.properties?.assignedClientIdentifier;
      assert.match(idA!, ASSIGNED);
      assert.match(idB!, ASSIGNED);
      assert.is.not(idA, idB);
      assert.is(b.connack.reasonCode, 0);
      assert.is(b.connack.sessionPresent, false);
      assert.is(tb.broker.sessions.size, 2);
    } finally {
      a.client.end();
      b.client.end();
    }
  } finally {
    await tb.stop();
  }
});

test('MQTT.js 5.0 with an empty client id receives the assigned identifier in CONNACK', async () => {
  const tb = await startBroker();
  try {
    const { client, connack } = await connectWithConnack(tb.url, { clientId: '', protocolVersion: 5 });
    try {
      assert.match(connack.properties!.assignedClientIdentifier!, ASSIGNED);
      assert.ok(tb.broker.sessions.byClientId.has(connack.properties!.assignedClientIdentifier!));
    } finally {
      await endClient(client, true);
    }
  } finally {
    await tb.stop();
  }
});

test('3.1.1 empty client id with clean session 1 is accepted, without properties (raw and MQTT.js)', async () => {
  const tb = await startBroker();
  try {
    const { client, connack } = await RawClient.connected(tb.port, { clientId: '', clean: true }, 4);
    try {
      assert.is(connack.returnCode, 0);
      assert.is(connack.sessionPresent, false);
      assert.is(connack.length, 2);
      assert.is(connack.properties, undefined);
      assert.is(tb.broker.sessions.size, 1);
    } finally {
      client.end();
    }
    const m = await connectWithConnack(tb.url, { clientId: '', protocolVersion: 4, clean: true });
    try {
      assert.is(m.connack.returnCode, 0);
      assert.is(m.connack.properties, undefined);
    } finally {
      await endClient(m.client, true);
    }
  } finally {
    await tb.stop();
  }
});

test('3.1.1 empty client id with clean session 0 is refused with return code 2 and closed (3.1.1 [MQTT-3.1.3-8])', async () => {
  const tb = await startBroker();
  try {
    const client = await RawClient.connect(tb.port, 4);
    try {
      client.sendBytes(connectBytes({ level: 4, clean: false, clientId: '' }));
      const connack = (await client.next('connack')) as IConnackPacket;
      assert.is(connack.returnCode, 2);
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

test('empty client id is refused when allowEmptyClientId is false: 0x85 on 5.0, 2 on 3.1.1', async () => {
  const tb = await startBroker({ allowEmptyClientId: false });
  try {
    const v5 = await RawClient.connected(tb.port, { clientId: '' }, 5);
    try {
      assert.is(v5.connack.reasonCode, 0x85);
      assert.is(v5.connack.sessionPresent, false);
      assert.is(v5.connack.properties?.assignedClientIdentifier, undefined);
      assert.equal(await v5.client.expectClose(), []);
    } finally {
      v5.client.end();
    }
    const v4 = await RawClient.connected(tb.port, { clientId: '', clean: true }, 4);
    try {
      assert.is(v4.connack.returnCode, 2);
      assert.equal(await v4.client.expectClose(), []);
    } finally {
      v4.client.end();
    }
    assert.is(tb.broker.sessions.size, 0);
  } finally {
    await tb.stop();
  }
});

test('client id longer than maxClientIdLength bytes is refused with 0x85 on 5.0 and closed [MQTT-3.1.3-8]', async () => {
  const tb = await startBroker({ maxClientIdLength: 8 });
  try {
    const ok = await RawClient.connected(tb.port, { clientId: '12345678' }, 5);
    try {
      assert.is(ok.connack.reasonCode, 0);
    } finally {
      ok.client.end();
    }
    const long = await RawClient.connected(tb.port, { clientId: '123456789' }, 5);
    try {
      assert.is(long.connack.reasonCode, 0x85);
      assert.is(long.connack.sessionPresent, false);
      assert.equal(await long.client.expectClose(), []);
    } finally {
      long.client.end();
    }
    // The limit is in bytes: five two-byte characters are 10 bytes.
    const utf8 = await RawClient.connected(tb.port, { clientId: 'ééééé' }, 5);
    try {
      assert.is(utf8.connack.reasonCode, 0x85);
    } finally {
      utf8.client.end();
    }
    assert.not.ok(tb.broker.sessions.byClientId.has('123456789'));
  } finally {
    await tb.stop();
  }
});

test('client id longer than maxClientIdLength is refused with return code 2 on 3.1.1', async () => {
  const tb = await startBroker({ maxClientIdLength: 8 });
  try {
    const { client, connack } = await RawClient.connected(tb.port, { clientId: '123456789' }, 4);
    try {
      assert.is(connack.returnCode, 2);
      assert.equal(await client.expectClose(), []);
    } finally {
      client.end();
    }
  } finally {
    await tb.stop();
  }
});

test('MQTT.js sees the too-long client id refusal: code 0x85 on 5.0, 2 on 3.1.1', async () => {
  const tb = await startBroker({ maxClientIdLength: 8 });
  try {
    assert.is(await connectRefused(tb.url, { clientId: 'too-long-id', protocolVersion: 5 }), 0x85);
    assert.is(await connectRefused(tb.url, { clientId: 'too-long-id', protocolVersion: 4 }), 2);
    assert.is(tb.broker.sessions.size, 0);
  } finally {
    await tb.stop();
  }
});

test.run();
