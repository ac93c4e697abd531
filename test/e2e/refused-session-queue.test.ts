// End to end, issues 11 and 12: a session queue at mqtt.maxQueuedMessages (2 here) refuses a QoS 1/2 publish
// before it goes anywhere, with the durable store of a real `wharf` process: an MQTT 5 publisher gets 0x97 (PUBACK
// at QoS 1, PUBREC at QoS 2), a 3.1.1 publisher is disconnected without PUBACK, and an ordinary mosquitto_sub on
// the same topics gets no copy of the refused message. Once the offline subscriber drains its queue the same
// message is accepted and delivered once everywhere.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import mqtt, { type MqttClient } from 'mqtt';
import { Workspace, type WharfProcess } from '../helpers/broker-process.js';
import { collect, connectClient, endClient } from '../helpers/mqttjs.js';
import { requireTool, waitFor } from '../helpers/tools.js';
import { metric, MosquittoSub } from '../helpers/e2e-observers.js';

const test = suite('e2e refused publishes: a full session queue');
const withClients = requireTool(test, 'mosquitto_sub', 'mosquitto_pub');

const OFFLINE = { clientId: 'offline-sub', clean: false, properties: { sessionExpiryInterval: 3600 } };

interface Bed {
  broker: WharfProcess;
  sub: MosquittoSub;
  clients: MqttClient[];
}

/** A broker whose persistent subscriber of sq/# went offline, and a live mosquitto_sub on sq/#. */
async function withFullSessionBed(fn: (bed: Bed) => Promise<void>): Promise<void> {
  const ws = Workspace.create({ maxQueuedMessages: 2 });
  let broker: WharfProcess | undefined;
  let sub: MosquittoSub | undefined;
  const clients: MqttClient[] = [];
  try {
    broker = await ws.start();
    const offline = await connectClient(broker.url, OFFLINE);
    await offline.subscribeAsync('sq/#', { qos: 2 });
    await endClient(offline);
    sub = await MosquittoSub.start(broker, 'sq/#', ['-V', 'mqttv5', '-q', '2']);
    await fn({ broker, sub, clients });
  } finally {
    await Promise.all(clients.map((c) => endClient(c, true)));
    await sub?.stop();
    await broker?.crash();
    await ws.dispose();
  }
}

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 0,
    (err: { code?: number }) => err.code ?? -1,
  );

/** The offline subscriber comes back and receives (and acknowledges) `n` messages. */
async function drainOffline(bed: Bed, n: number): Promise<string[]> {
  // Listening before CONNACK: the queued messages follow it at once, possibly in the same read.
  const back = mqtt.connect(bed.broker.url, { ...OFFLINE, protocolVersion: 5, reconnectPeriod: 0 });
  bed.clients.push(back);
  const got = collect(back);
  await got.waitCount(n, 5000).catch((err: Error) => {
    throw new Error(`${err.message}; broker log:\n${bed.broker.output()}`);
  });
  return got.messages.map((m) => m.payload);
}

withClients('MQTT 5 at QoS 2: the third message gets PUBREC 0x97 and reaches nobody; after the offline session drains, it is accepted and delivered once', async () => {
  await withFullSessionBed(async (bed) => {
    const pub = await connectClient(bed.broker.url, { clientId: 'pub5' });
    bed.clients.push(pub);
    const codes = [];
    for (const m of ['m1', 'm2', 'm3']) codes.push(await codeOf(pub.publishAsync('sq/t', m, { qos: 2 })));
    assert.equal(codes, [0, 0, 0x97]);
    await bed.sub.marker();
    assert.equal([bed.sub.count('sq/t|m1'), bed.sub.count('sq/t|m2'), bed.sub.count('sq/t|m3')], [1, 1, 0]);
    assert.is(await metric(bed.broker, 'wharf_publish_refused_total', { reason: 'session_queue_full' }), 1);

    assert.equal(await drainOffline(bed, 2), ['m1', 'm2']);
    assert.is(await codeOf(pub.publishAsync('sq/t', 'm3', { qos: 2 })), 0);
    await bed.sub.marker();
    assert.is(bed.sub.count('sq/t|m3'), 1);
  });
});

withClients('MQTT 5 at QoS 1: PUBACK 0x97 for the third, no copy at mosquitto_sub', async () => {
  await withFullSessionBed(async (bed) => {
    const pub = await connectClient(bed.broker.url, { clientId: 'pub5q1' });
    bed.clients.push(pub);
    const codes = [];
    for (const m of ['m1', 'm2', 'm3']) codes.push(await codeOf(pub.publishAsync('sq/t', m, { qos: 1 })));
    assert.equal(codes, [0, 0, 0x97]);
    await bed.sub.marker();
    assert.is(bed.sub.count('sq/t|m3'), 0);
  });
});

withClients('MQTT 3.1.1 at QoS 1: the third closes the connection without PUBACK and reaches nobody; the resend after draining is delivered once', async () => {
  await withFullSessionBed(async (bed) => {
    const pub = await connectClient(bed.broker.url, { clientId: 'pub4', protocolVersion: 4 });
    bed.clients.push(pub);
    await pub.publishAsync('sq/t', 'm1', { qos: 1 });
    await pub.publishAsync('sq/t', 'm2', { qos: 1 });
    let closed = false;
    pub.once('close', () => (closed = true));
    let acked = false;
    pub.publish('sq/t', 'm3', { qos: 1 }, (err) => (acked = !err));
    await waitFor(() => closed || acked, 5000, 'the refusal of m3');
    assert.is(acked, false, 'no PUBACK before the close');
    await bed.sub.marker();
    assert.is(bed.sub.count('sq/t|m3'), 0);
    assert.is(await metric(bed.broker, 'wharf_publish_refused_total', { reason: 'session_queue_full' }), 1);
    assert.is(await metric(bed.broker, 'wharf_session_queue_full_total'), 1);
    assert.match(bed.broker.output(), /publish refused .*clientId=pub4 .*reason=session_queue_full/);

    assert.equal(await drainOffline(bed, 2), ['m1', 'm2']);
    const again = await connectClient(bed.broker.url, { clientId: 'pub4', protocolVersion: 4 });
    bed.clients.push(again);
    await again.publishAsync('sq/t', 'm3', { qos: 1 });
    await bed.sub.marker();
    assert.is(bed.sub.count('sq/t|m3'), 1);
  });
});

withClients('MQTT 3.1.1 at QoS 2: the third closes the connection without PUBREC and reaches nobody', async () => {
  await withFullSessionBed(async (bed) => {
    const pub = await connectClient(bed.broker.url, { clientId: 'pub4q2', protocolVersion: 4 });
    bed.clients.push(pub);
    await pub.publishAsync('sq/t', 'm1', { qos: 2 });
    await pub.publishAsync('sq/t', 'm2', { qos: 2 });
    let closed = false;
    pub.once('close', () => (closed = true));
    let completed = false;
    pub.publish('sq/t', 'm3', { qos: 2 }, (err) => (completed = !err));
    await waitFor(() => closed || completed, 5000, 'the refusal of m3');
    assert.equal([closed, completed], [true, false]);
    await bed.sub.marker();
    assert.equal([bed.sub.count('sq/t|m1'), bed.sub.count('sq/t|m3')], [1, 0]);
    assert.is(await metric(bed.broker, 'wharf_publish_refused_total', { reason: 'session_queue_full' }), 1);
  });
});

test.run();
