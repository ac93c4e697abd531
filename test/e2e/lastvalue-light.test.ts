// End to end, issue 5: the light scenario against a real `wharf` process whose last-value queue is declared in the
// YAML file (type: lastvalue, key: userProperty:command_type). Blue, red and green are published while the light
// is offline (with mosquitto_pub -V mqttv5 -D PUBLISH user-property ..., and with MQTT.js), one of them across a
// graceful restart of the broker; a firmware update sits in the same queue under its own key. The light (MQTT.js)
// subscribes $q/lights/light-123/commands or $queue/light-123-commands and gets exactly green and the update.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MqttClient } from 'mqtt';
import { Workspace, type WharfProcess } from '../helpers/broker-process.js';
import { collect, connectClient, endClient } from '../helpers/mqttjs.js';
import { requireTool, run } from '../helpers/tools.js';

const test = suite('e2e last-value queues: the light scenario');

const TOPIC = 'lights/light-123/commands';
const QUEUE = 'light-123-commands';
const SENTINEL = 'sentinel/end';
const QUEUES_YAML = `queues:
  definitions:
    - name: ${QUEUE}
      topicFilter: ${TOPIC}
      type: lastvalue
      key: userProperty:command_type
`;

async function mosquittoPub(broker: WharfProcess, payload: string, commandType: string): Promise<void> {
  const r = await run('mosquitto_pub', [
    '-h', '127.0.0.1', '-p', String(broker.port), '-V', 'mqttv5', '-q', '1', '-i', 'phone-app',
    '-t', TOPIC, '-m', payload, '-D', 'PUBLISH', 'user-property', 'command_type', commandType,
  ], 3000);
  assert.is(r.code, 0, `mosquitto_pub ${payload}: ${r.stderr}`);
}

async function mqttjsPub(client: MqttClient, payload: string, commandType: string): Promise<void> {
  const ack = await client.publishAsync(TOPIC, payload, { qos: 1, properties: { userProperties: { command_type: commandType } } });
  assert.ok(((ack as { reasonCode?: number } | undefined)?.reasonCode ?? 0) < 0x80, `PUBACK for ${payload}`);
}

/** The light comes online on `subscription`: everything it receives before a sentinel published after two messages. */
async function lightReceives(broker: WharfProcess, subscription: string, clients: MqttClient[]): Promise<Array<[string, string, number, unknown]>> {
  const light = await connectClient(broker.url, { clientId: 'light-123' });
  clients.push(light);
  const got = collect(light);
  await light.subscribeAsync(SENTINEL, { qos: 0 });
  const granted = await light.subscribeAsync(subscription, { qos: 1 });
  assert.is(granted[0]!.qos, 1, `SUBACK for ${subscription}`);
  await got.waitCount(2);
  const probe = await connectClient(broker.url);
  clients.push(probe);
  await probe.publishAsync(SENTINEL, 'end', { qos: 0 });
  await got.waitCount(3);
  return got.messages.map((m) => [m.topic, m.payload, m.packet.qos, m.packet.properties?.userProperties?.command_type]);
}

const EXPECTED = [
  [TOPIC, 'green', 1, 'set-color'],
  [TOPIC, 'v2.4.1', 1, 'update-firmware'],
  [SENTINEL, 'end', 0, undefined],
];

requireTool(test, 'mosquitto_pub')('mosquitto_pub sends blue and red, the broker restarts, then green and a firmware update; the light on $q/lights/light-123/commands gets green and the update only', async () => {
  const ws = Workspace.create(undefined, QUEUES_YAML);
  let broker: WharfProcess | undefined;
  const clients: MqttClient[] = [];
  try {
    broker = await ws.start();
    await mosquittoPub(broker, 'blue', 'set-color');
    await mosquittoPub(broker, 'red', 'set-color');
    assert.equal(await broker.stop(), { code: 0, signal: null }, 'graceful stop');
    broker = await ws.start();
    await mosquittoPub(broker, 'green', 'set-color');
    await mosquittoPub(broker, 'v2.4.1', 'update-firmware');
    assert.equal(await lightReceives(broker, `$q/${TOPIC}`, clients), EXPECTED, 'exactly one message per key, the latest');
  } finally {
    await Promise.all(clients.map((c) => endClient(c, true)));
    await broker?.crash();
    await ws.dispose();
  }
});

test('MQTT.js sends blue, red, green and a firmware update; the light on $queue/light-123-commands gets green and the update, and nothing again after reconnecting', async () => {
  const ws = Workspace.create(undefined, QUEUES_YAML);
  let broker: WharfProcess | undefined;
  const clients: MqttClient[] = [];
  try {
    broker = await ws.start();
    const app = await connectClient(broker.url, { clientId: 'phone-app' });
    clients.push(app);
    for (const [payload, type] of [['blue', 'set-color'], ['red', 'set-color'], ['green', 'set-color'], ['v2.4.1', 'update-firmware']] as const) {
      await mqttjsPub(app, payload, type);
    }
    assert.equal(await lightReceives(broker, `$queue/${QUEUE}`, clients), EXPECTED, 'exactly one message per key, the latest');
    // MQTT.js acknowledged both: a light that comes back finds nothing. The proof is a marker command of a key of
    // its own, queued after it is back: the queue hands out in order, so anything left would come first.
    const first = clients.find((c) => c.options.clientId === 'light-123')!;
    await endClient(first, false);
    const again = await connectClient(broker.url, { clientId: 'light-123' });
    clients.push(again);
    const got = collect(again);
    await again.subscribeAsync(`$queue/${QUEUE}`, { qos: 1 });
    await mqttjsPub(app, 'end', 'end-marker');
    await got.waitCount(1, 5000);
    assert.equal(
      got.messages.map((m) => [m.payload, m.packet.properties?.userProperties?.command_type]),
      [['end', 'end-marker']],
      'only the marker: nothing was left in the queue',
    );
  } finally {
    await Promise.all(clients.map((c) => endClient(c, true)));
    await broker?.crash();
    await ws.dispose();
  }
});

test.run();
