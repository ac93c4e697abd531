// Issue 5, the light scenario: a smart light is offline while its user picks blue, then red, then green; a
// firmware update is queued beside them. The light's commands go to a declared last-value queue keyed by the
// user property command_type. When the light subscribes ($q/<filter>, or $queue/<name>), it gets green (the
// latest set-color) and the update-firmware command: exactly one message per key. Published with MQTT.js and
// with `mosquitto_pub -V mqttv5 -D PUBLISH user-property command_type ...`.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MqttClient } from 'mqtt';
import { collect } from '../../helpers/mqttjs.js';
import { declare, queueOf, SENTINEL, until, withQueues } from '../../helpers/queue-kit.js';
import type { Harness } from '../../helpers/sub-harness.js';
import { requireTool, run } from '../../helpers/tools.js';

const test = suite('12-lastvalue: the light scenario');
const withMosquittoPub = requireTool(test, 'mosquitto_pub');

const TOPIC = 'lights/light-123/commands';
const QUEUE = 'light-123-commands';
const lightQueue = declare({ name: QUEUE, topicFilter: TOPIC, type: 'lastvalue', key: 'userProperty:command_type' });

/** The commands the user sends while the light is offline, in this order: [payload, command_type]. */
const COMMANDS: Array<[string, string]> = [
  ['blue', 'set-color'],
  ['red', 'set-color'],
  ['green', 'set-color'],
  ['v2.4.1', 'update-firmware'],
];

type Publisher = (h: Harness, payload: string, commandType: string) => Promise<void>;

let mqttjsPublisher: MqttClient | undefined;
const viaMqttjs: Publisher = async (h, payload, commandType) => {
  mqttjsPublisher ??= await h.mqtt({ clientId: 'phone-app' });
  const ack = await mqttjsPublisher.publishAsync(TOPIC, payload, { qos: 1, properties: { userProperties: { command_type: commandType } } });
  const code = (ack as { reasonCode?: number } | undefined)?.reasonCode ?? 0;
  if (code >= 0x80) throw new Error(`PUBACK 0x${code.toString(16)} for ${payload}`);
};

const viaMosquittoPub: Publisher = async (h, payload, commandType) => {
  const r = await run('mosquitto_pub', [
    '-h', '127.0.0.1', '-p', String(h.tb.port), '-V', 'mqttv5', '-q', '1', '-i', 'phone-app',
    '-t', TOPIC, '-m', payload, '-D', 'PUBLISH', 'user-property', 'command_type', commandType,
  ], 3000);
  if (r.code !== 0) throw new Error(`mosquitto_pub exited with ${r.code}: ${r.stderr}`);
};

async function lightScenario(publish: Publisher, subscription: string): Promise<void> {
  mqttjsPublisher = undefined;
  await withQueues(lightQueue, async (h) => {
    for (const [payload, type] of COMMANDS) await publish(h, payload, type);
    const q = queueOf(h, QUEUE);
    assert.equal([q.depth, q.counters.enqueued, q.counters.superseded], [2, 4, 2], 'two keys stored while the light is offline');

    // The light comes online. Its sentinel subscription comes first, so it is in place before queued messages flow.
    const light = await h.mqtt({ clientId: 'light-123' });
    const got = collect(light);
    await light.subscribeAsync(SENTINEL, { qos: 0 });
    const granted = await light.subscribeAsync(subscription, { qos: 1 });
    assert.is(granted[0]!.qos, 1, `SUBACK for ${subscription}`);
    await got.waitCount(2);
    // Anything else the queue had for the light would have been written before this sentinel.
    const probe = await h.mqtt();
    await probe.publishAsync(SENTINEL, 'end', { qos: 0 });
    await got.waitCount(3);
    assert.equal(
      got.messages.map((m) => [m.topic, m.payload, m.packet.qos, m.packet.properties?.userProperties?.command_type]),
      [
        [TOPIC, 'green', 1, 'set-color'],
        [TOPIC, 'v2.4.1', 1, 'update-firmware'],
        [SENTINEL, 'end', 0, undefined],
      ],
      'exactly one message per key, the latest',
    );
    // MQTT.js acknowledged both: nothing is left.
    await until(() => q.depth === 0);
    assert.equal([q.inflight, q.counters.delivered, q.counters.acknowledged, q.counters.superseded], [0, 2, 2, 2]);
  });
}

test('MQTT.js publishes blue, red, green and a firmware update while the light is offline; on $q/lights/light-123/commands it gets green and the update only', async () => {
  await lightScenario(viaMqttjs, `$q/${TOPIC}`);
});

test('MQTT.js publishes; the light consuming $queue/light-123-commands gets green and the update only', async () => {
  await lightScenario(viaMqttjs, `$queue/${QUEUE}`);
});

withMosquittoPub('mosquitto_pub -V mqttv5 -D PUBLISH user-property command_type ... publishes; on $q/lights/light-123/commands the light gets green and the update only', async () => {
  await lightScenario(viaMosquittoPub, `$q/${TOPIC}`);
});

withMosquittoPub('mosquitto_pub publishes; the light consuming $queue/light-123-commands gets green and the update only', async () => {
  await lightScenario(viaMosquittoPub, `$queue/${QUEUE}`);
});

test('once the light has acknowledged green, the same green published again is a new command and is delivered again', async () => {
  await withQueues(lightQueue, async (h) => {
    const light = await h.mqtt({ clientId: 'light-123' });
    const got = collect(light);
    await light.subscribeAsync(`$q/${TOPIC}`, { qos: 1 });
    mqttjsPublisher = undefined;
    await viaMqttjs(h, 'green', 'set-color');
    await got.waitCount(1);
    const q = queueOf(h, QUEUE);
    await until(() => q.depth === 0);
    await viaMqttjs(h, 'green', 'set-color');
    await got.waitCount(2);
    assert.equal(got.messages.map((m) => m.payload), ['green', 'green'], 'an acknowledged key is free again: the same value is a new command');
    await until(() => q.depth === 0);
    assert.equal([q.counters.enqueued, q.counters.acknowledged, q.counters.superseded], [2, 2, 0]);
  });
});

test.run();
