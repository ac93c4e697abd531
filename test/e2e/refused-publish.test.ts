// End to end, issue 11: a refused publish reaches nobody. A real `wharf` process with a queue `small` (small/#,
// maxMessages 1, overflow reject); an ordinary mosquitto_sub on small/# counts the copies it gets. A retrying
// MQTT.js 3.1.1 publisher (clean: false, reconnectPeriod: 200) is disconnected without PUBACK on every resend and
// none of them is delivered; once a consumer frees the queue, the next resend is accepted and delivered once.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import mqtt, { type MqttClient } from 'mqtt';
import { Workspace, type WharfProcess } from '../helpers/broker-process.js';
import { collect, connectClient, endClient } from '../helpers/mqttjs.js';
import { requireTool, waitFor } from '../helpers/tools.js';
import { countLines, metric, MosquittoSub } from '../helpers/e2e-observers.js';

const test = suite('e2e refused publishes: nothing delivered, counted, logged once');
const withClients = requireTool(test, 'mosquitto_sub', 'mosquitto_pub');

const QUEUES_YAML = `queues:
  definitions:
    - name: small
      topicFilter: small/#
      maxMessages: 1
      overflow: reject
`;

withClients('a retrying MQTT.js 3.1.1 publisher on a full queue: no resend reaches mosquitto_sub; refusals are counted and logged once; after the queue drains the message arrives exactly once', async () => {
  const ws = Workspace.create(undefined, QUEUES_YAML);
  let broker: WharfProcess | undefined;
  let sub: MosquittoSub | undefined;
  const clients: MqttClient[] = [];
  try {
    broker = await ws.start();
    sub = await MosquittoSub.start(broker, 'small/#', ['-V', 'mqttv311', '-q', '1']);
    const filler = await connectClient(broker.url, { clientId: 'filler' });
    clients.push(filler);
    await filler.publishAsync('small/a', 'first', { qos: 1 });

    const retrier = mqtt.connect(broker.url, { protocolVersion: 4, clientId: 'retrier', clean: false, reconnectPeriod: 200, connectTimeout: 3000 });
    clients.push(retrier);
    let closes = 0;
    retrier.on('close', () => closes++);
    let acked = false;
    retrier.publish('small/a', 'refused', { qos: 1 }, (err) => {
      if (err === undefined || err === null) acked = true;
    });
    // Each close is a refusal of the original or of a resend after reconnecting.
    await waitFor(() => closes >= 4, 10_000, 'four refusals of the 3.1.1 publisher');
    assert.is(acked, false, 'never acknowledged while the queue is full');
    await sub.marker();
    assert.is(sub.count('small/a|refused'), 0, 'no copy of the refused message at the ordinary subscriber');
    assert.is(sub.count('small/a|first'), 1);

    const refusedTotal = await metric(broker, 'wharf_publish_refused_total', { reason: 'queue_full' });
    assert.ok(refusedTotal >= 4, `wharf_publish_refused_total{reason="queue_full"} is ${refusedTotal}`);
    assert.is(countLines(broker.output(), /publish refused .*clientId=retrier/), 1, `one log line for the retrier, rate-limited; log:\n${broker.output()}`);
    assert.match(broker.output(), /publish refused .*clientId=retrier .*reason=queue_full .*queue=small .*action="connection closed/);

    // A consumer takes "first": the queue has room, and the next resend is accepted and delivered once.
    const consumer = await connectClient(broker.url, { clientId: 'consumer' });
    clients.push(consumer);
    const got = collect(consumer);
    await consumer.subscribeAsync('$q/small/#', { qos: 1 });
    await got.waitCount(2, 10_000);
    assert.equal(got.messages.map((m) => m.payload), ['first', 'refused']);
    await waitFor(() => acked, 10_000, 'the resend to be acknowledged');
    await sub.marker();
    assert.is(sub.count('small/a|refused'), 1, 'delivered exactly once once it was accepted');
  } finally {
    await Promise.all(clients.map((c) => endClient(c, true)));
    await sub?.stop();
    await broker?.crash();
    await ws.dispose();
  }
});

withClients('a last-value message without its key: an MQTT 5 publisher gets 0x99, a 3.1.1 publisher its PUBACK, and mosquitto_sub gets neither', async () => {
  const ws = Workspace.create(undefined, `queues:
  definitions:
    - name: cmds
      topicFilter: cmd/+
      type: lastvalue
      key: userProperty:command_type
`);
  let broker: WharfProcess | undefined;
  let sub: MosquittoSub | undefined;
  const clients: MqttClient[] = [];
  try {
    broker = await ws.start();
    sub = await MosquittoSub.start(broker, 'cmd/#', ['-V', 'mqttv5', '-q', '1']);
    const v5 = await connectClient(broker.url, { clientId: 'app5' });
    const v4 = await connectClient(broker.url, { clientId: 'app4', protocolVersion: 4 });
    clients.push(v5, v4);
    const refused = await v5.publishAsync('cmd/x', 'no-key-5', { qos: 1 }).then(
      () => 0,
      (err: { code?: number }) => err.code ?? -1,
    );
    assert.is(refused, 0x99);
    await v4.publishAsync('cmd/x', 'no-key-4', { qos: 1 }); // acknowledged: resending cannot help
    await v5.publishAsync('cmd/x', 'keyed', { qos: 1, properties: { userProperties: { command_type: 'set-color' } } });
    await sub.marker();
    assert.is(sub.count('cmd/x|no-key-5'), 0);
    assert.is(sub.count('cmd/x|no-key-4'), 0);
    assert.is(sub.count('cmd/x|keyed'), 1);
    assert.is(await metric(broker, 'wharf_publish_refused_total', { reason: 'missing_key' }), 2);
    assert.is(await metric(broker, 'wharf_queue_publish_rejected_total', { queue: 'cmds' }), 2);
  } finally {
    await Promise.all(clients.map((c) => endClient(c, true)));
    await sub?.stop();
    await broker?.crash();
    await ws.dispose();
  }
});

test.run();
