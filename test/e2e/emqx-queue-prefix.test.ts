// End to end, issue 11: what `$queue/` means. By default EMQX 6.1's named queue (`$queue/<name>/<filter>`); with
// `queues.dollarQueue: shared` EMQX 4.x/5.x's shared subscription without a group (`$queue/<filter>`), so clients
// written for those versions work unchanged: each message goes to one of the `$queue/` subscribers and no queue is
// created. `$q/<filter>` (EMQX 6.0) consumes a queue in both settings.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MqttClient } from 'mqtt';
import { Workspace, type WharfProcess } from '../helpers/broker-process.js';
import { collect, connectClient, endClient } from '../helpers/mqttjs.js';
import { requireTool, run, waitFor } from '../helpers/tools.js';

const test = suite('e2e EMQX $queue/ forms: queues.dollarQueue named and shared');

async function withBroker(yaml: string, fn: (broker: WharfProcess, clients: MqttClient[]) => Promise<void>): Promise<void> {
  const ws = Workspace.create(undefined, yaml);
  let broker: WharfProcess | undefined;
  const clients: MqttClient[] = [];
  try {
    broker = await ws.start();
    await fn(broker, clients);
  } finally {
    await Promise.all(clients.map((c) => endClient(c, true)));
    await broker?.crash();
    await ws.dispose();
  }
}

async function queueNames(broker: WharfProcess): Promise<string[]> {
  const r = await fetch(`http://127.0.0.1:${broker.adminPort}/api/v1/queues`);
  const body = (await r.json()) as { queues?: { name: string }[] } | { name: string }[];
  return (Array.isArray(body) ? body : (body.queues ?? [])).map((q) => q.name);
}

test('dollarQueue: shared (EMQX 4/5): two $queue/plant/temp subscribers share plant/temp, each message to one of them, and no queue is created', async () => {
  await withBroker('queues:\n  dollarQueue: shared\n', async (broker, clients) => {
    const members: ReturnType<typeof collect>[] = [];
    for (const clientId of ['emqx5-a', 'emqx5-b']) {
      const c = await connectClient(broker.url, { clientId, protocolVersion: 4 });
      clients.push(c);
      const granted = await c.subscribeAsync('$queue/plant/temp', { qos: 1 });
      assert.is(granted[0]!.qos, 1);
      members.push(collect(c));
    }
    const pub = await connectClient(broker.url, { clientId: 'sensor' });
    clients.push(pub);
    const sent = ['t1', 't2', 't3', 't4', 't5', 't6'];
    for (const t of sent) await pub.publishAsync('plant/temp', t, { qos: 1 });
    const total = () => members[0]!.messages.length + members[1]!.messages.length;
    await waitFor(() => total() >= sent.length, 5000, 'every message at one of the members').catch(() => undefined);
    const got = members.flatMap((m) => m.messages.map((x) => x.payload)).sort();
    assert.equal(got, sent, 'every message exactly once across the group');
    assert.ok(members.every((m) => m.messages.length > 0), 'both members take part');
    assert.ok(members.every((m) => m.messages.every((x) => x.topic === 'plant/temp')));
    assert.equal(await queueNames(broker), []);
    // Unsubscribing one member leaves the other with every message.
    await clients[0]!.unsubscribeAsync('$queue/plant/temp');
    const before = members[1]!.messages.length;
    await pub.publishAsync('plant/temp', 'after', { qos: 1 });
    await members[1]!.waitCount(before + 1).catch((err: Error) => {
      throw new Error(`${err.message}; members got ${JSON.stringify(members.map((m) => m.messages.map((x) => x.payload)))}`);
    });
    assert.is(members[1]!.messages.at(-1)!.payload, 'after');
  });
});

test('dollarQueue: shared still consumes queues through $q/<filter> (EMQX 6.0)', async () => {
  await withBroker('queues:\n  dollarQueue: shared\n  definitions:\n    - { name: jobs, topicFilter: jobs/+ }\n', async (broker, clients) => {
    const pub = await connectClient(broker.url, { clientId: 'producer' });
    clients.push(pub);
    await pub.publishAsync('jobs/a', 'j1', { qos: 1 });
    const worker = await connectClient(broker.url, { clientId: 'worker' });
    clients.push(worker);
    const got = collect(worker);
    await worker.subscribeAsync('$q/jobs/+', { qos: 1 });
    await got.waitCount(1);
    assert.equal(got.messages.map((m) => m.payload), ['j1']);
  });
});

requireTool(test, 'mosquitto_sub')('the default (named, EMQX 6.1): $queue/<name>/<filter> creates and consumes the named queue; mosquitto_sub -C 1 gets what was published before', async () => {
  await withBroker('', async (broker, clients) => {
    const first = await connectClient(broker.url, { clientId: 'declarer' });
    clients.push(first);
    await first.subscribeAsync('$queue/plant-temps/plant/temp', { qos: 1 });
    await endClient(first);
    assert.equal(await queueNames(broker), ['plant-temps']);
    const pub = await connectClient(broker.url, { clientId: 'sensor' });
    clients.push(pub);
    await pub.publishAsync('plant/temp', '21.5', { qos: 1 });
    const r = await run('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(broker.port), '-q', '1', '-t', '$queue/plant-temps', '-C', '1', '-W', '10', '-F', '%t %p'], 15_000);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout, 'plant/temp 21.5\n');
  });
});

test.run();
