// Wildcard subscriptions end to end (MQTT 5.0 section 4.7): "+" and "#" over real connections, $-topics not
// matched by leading wildcards, and one copy per client for overlapping subscriptions.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MqttClient } from 'mqtt';
import { collect } from '../../helpers/mqttjs.js';
import { nextPublish, publish, subscribe, withBroker } from '../../helpers/sub-harness.js';
import { beforePing } from '../../helpers/end-marker.js';

const test = suite('02-subscribe: wildcards');

const topics = ['home/kitchen/temp', 'home/hall/temp', 'home/kitchen/light', 'home', 'home/', 'home//temp', 'garden/temp', '/home', '$SYS/home/temp', '$sys'];

// filter → topics (from the list above) it receives, in publish order.
const expected: Record<string, string[]> = {
  'home/+/temp': ['home/kitchen/temp', 'home/hall/temp', 'home//temp'],
  'home/#': ['home/kitchen/temp', 'home/hall/temp', 'home/kitchen/light', 'home', 'home/', 'home//temp'],
  'home/+': ['home/'],
  '+': ['home'],
  '+/+': ['home/', 'garden/temp', '/home'],
  '+/+/temp': ['home/kitchen/temp', 'home/hall/temp', 'home//temp'], // $SYS/home/temp is excluded [MQTT-4.7.2-1]
  '#': ['home/kitchen/temp', 'home/hall/temp', 'home/kitchen/light', 'home', 'home/', 'home//temp', 'garden/temp', '/home'],
  '$SYS/#': ['$SYS/home/temp'],
  '$SYS/+/temp': ['$SYS/home/temp'],
  '/#': ['/home'],
  'home/kitchen/temp': ['home/kitchen/temp'],
};

/**
 * Publishes every topic, then a sentinel each subscriber also listens to: messages on one connection keep
 * their order, so once the sentinel is in, everything that was going to arrive has.
 */
async function run(subs: Map<string, MqttClient>, pub: MqttClient): Promise<Record<string, string[]>> {
  const got = new Map<string, ReturnType<typeof collect>>();
  for (const [filter, c] of subs) {
    got.set(filter, collect(c));
    await c.subscribeAsync([filter, 'sentinel'], { qos: 1 });
  }
  for (const t of topics) await pub.publishAsync(t, t, { qos: 1 });
  await pub.publishAsync('sentinel', 'end', { qos: 1 });
  const out: Record<string, string[]> = {};
  for (const [filter, g] of got) {
    await g.waitCount(expected[filter]!.length + 1);
    const received = g.messages.map((m) => m.topic);
    // Anything after the expected count would be an extra message: it shows up as a missing final sentinel.
    assert.is(received[received.length - 1], 'sentinel', `${filter} got ${received.join(', ')}`);
    out[filter] = received.slice(0, -1);
  }
  return out;
}

for (const protocolVersion of [5, 4] as const) {
  test(`${protocolVersion === 5 ? '5.0' : '3.1.1'}: "+" matches one level, "#" the parent and all below, leading wildcards skip $-topics [MQTT-4.7.1-1] [MQTT-4.7.1-2] [MQTT-4.7.2-1]`, async () => {
    await withBroker(async (h) => {
      const subs = new Map<string, MqttClient>();
      for (const filter of Object.keys(expected)) subs.set(filter, await h.mqtt({ protocolVersion }));
      const pub = await h.mqtt({ protocolVersion });
      assert.equal(await run(subs, pub), expected);
    });
  });
}

test('overlapping subscriptions deliver one copy at the highest granted QoS [MQTT-3.3.4-2]', async () => {
  await withBroker(async (h) => {
    const c = await h.raw();
    await subscribe(c, [
      { topic: 'o/#', qos: 0 },
      { topic: 'o/+/c', qos: 1 },
      { topic: 'o/b/c', qos: 0 },
      { topic: '#', qos: 0 },
    ]);
    const pub = await h.raw();
    await publish(pub, 'o/b/c', 'one', { qos: 1 });
    await publish(pub, 'o/x', 'two', { qos: 1 });
    const m1 = await nextPublish(c);
    const m2 = await nextPublish(c);
    assert.equal(
      [
        [m1.text, m1.qos],
        [m2.text, m2.qos],
      ],
      [
        ['one', 1],
        ['two', 0],
      ],
    );
    assert.equal(await beforePing(c), [], 'no duplicates');
  });
});

test('a $-topic is delivered to a filter naming its first level, not to "#" or "+/..." subscribers [MQTT-4.7.2-1]', async () => {
  await withBroker(async (h) => {
    const all = await h.raw();
    const sys = await h.raw();
    await subscribe(all, [
      { topic: '#', qos: 0 },
      { topic: '+/stats', qos: 0 },
    ]);
    await subscribe(sys, [{ topic: '$app/stats', qos: 0 }]);
    const pub = await h.raw();
    await publish(pub, '$app/stats', 'dollar');
    await publish(pub, 'app/stats', 'plain');
    assert.is((await nextPublish(sys)).text, 'dollar');
    assert.is((await nextPublish(all)).text, 'plain');
    assert.equal(await beforePing(all), []);
    assert.equal(await beforePing(sys), []);
  });
});

test.run();
