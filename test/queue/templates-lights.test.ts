// End to end, issue 15 "queue templates": one template `lights/{id}/commands` stands for the queue of every light.
// A real wharf process, MQTT.js and mosquitto_pub/mosquitto_sub as clients, kill -9 and a restart in between.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MqttClient } from 'mqtt';
import { Workspace, type WharfProcess } from '../helpers/broker-process.js';
import { collect, connectClient, endClient } from '../helpers/mqttjs.js';
import { requireTool, run, waitFor } from '../helpers/tools.js';

const test = suite('e2e queue templates: 100 lights, each with its own last-value queue');
const withTools = requireTool(test, 'mosquitto_pub', 'mosquitto_sub');

const LIGHTS = 100;
const TEMPLATE = 'lights.{id}.commands';
const yaml = `queues:
  definitions:
    - { topicFilter: "lights/{id}/commands", type: lastvalue, key: topic, maxInstances: ${LIGHTS} }
`;

interface QueueList {
  queues: { name: string; template: string | null; depth: number; inflight: number }[];
  templates: { name: string; instances: number; maxInstances: number; refused: number }[];
}

/** The admin API listens a moment after the MQTT port after a start: retried for a while. */
async function queueList(broker: WharfProcess): Promise<QueueList> {
  for (let i = 0; ; i++) {
    const res = await fetch(`http://127.0.0.1:${broker.adminPort}/api/v1/queues`).catch((err: unknown) => {
      if (i >= 100) throw err;
      return undefined;
    });
    if (res !== undefined) return (await res.json()) as QueueList;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const lightIds = Array.from({ length: LIGHTS }, (_, i) => `light-${i + 1}`);

withTools('100 lights offline sent blue, red, green; the 101st refused 0x97; after kill -9 each light gets exactly its own green', async () => {
  const ws = Workspace.create(undefined, yaml);
  const clients: MqttClient[] = [];
  try {
    let broker = await ws.start();
    const ops = await connectClient(broker.url, { clientId: 'ops' });
    clients.push(ops);
    for (const id of lightIds) for (const colour of ['blue', 'red', 'green']) await ops.publishAsync(`lights/${id}/commands`, colour, { qos: 1 });

    // The 101st light: MQTT 5 hears Quota exceeded; the queue is not made.
    const code = await ops.publishAsync('lights/light-101/commands', 'blue', { qos: 1 }).then(
      () => 0,
      (err: { code?: number }) => err.code,
    );
    assert.is(code, 0x97, 'PUBACK 0x97 Quota exceeded beyond maxInstances');
    const v5 = await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(broker.port), '-V', 'mqttv5', '-q', '1', '-t', 'lights/light-102/commands', '-m', 'blue']);
    assert.match(v5.stderr + v5.stdout, /quota exceeded/i, 'mosquitto_pub (MQTT 5) is told the reason');
    // 3.1.1 cannot hear a reason code: acknowledged, not queued (the project's refusal convention for permanent refusals).
    const v311 = await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(broker.port), '-V', 'mqttv311', '-q', '1', '-t', 'lights/light-103/commands', '-m', 'blue']);
    assert.is(v311.code, 0, v311.stderr);
    const sub101 = await ops.subscribeAsync('$q/lights/light-101/commands', { qos: 1 }).then(
      (granted) => granted[0]!.qos,
      () => 0x80,
    );
    assert.ok(sub101 >= 0x80, `a consuming subscription beyond the limit is refused (SUBACK ${sub101})`);

    let list = await queueList(broker);
    const instances = list.queues.filter((q) => q.template === TEMPLATE);
    assert.is(instances.length, LIGHTS, 'one queue per light, each from the template');
    assert.ok(instances.every((q) => q.depth === 1), 'last value: one command waits per light');
    assert.equal(list.templates.map((t) => [t.name, t.instances, t.maxInstances]), [[TEMPLATE, LIGHTS, LIGHTS]]);
    assert.is(list.templates[0]!.refused, 4, 'two publishes, the 3.1.1 one and the subscription refused');
    assert.ok(!list.queues.some((q) => /light-10[1-3]/.test(q.name)));
    // The CLI shows the instances with their template.
    const cli = await run(process.execPath, [new URL('../../src/cli/main.js', import.meta.url).pathname, '--admin', `127.0.0.1:${broker.adminPort}`, 'queues']);
    assert.match(cli.stdout, /lights\.light-7\.commands\s.*lights\.\{id\}\.commands/);
    assert.match(cli.stdout, /TEMPLATE\s+TOPIC FILTER\s+INSTANCES\s+MAX\s+REFUSED/);

    await endClient(ops, true);
    clients.length = 0;
    await broker.crash();
    broker = await ws.start();

    list = await queueList(broker);
    assert.is(list.queues.filter((q) => q.template === TEMPLATE && q.depth === 1).length, LIGHTS, 'instances and their messages survive kill -9');
    assert.is(list.templates[0]!.instances, LIGHTS);

    // Each light consumes its own queue: MQTT.js for most, mosquitto_sub for the last five.
    const viaMqttJs = lightIds.slice(0, LIGHTS - 5);
    const received = new Map<string, { topic: string; payload: string }[]>();
    for (const id of viaMqttJs) {
      const c = await connectClient(broker.url, { clientId: id });
      clients.push(c);
      const got = collect(c);
      received.set(id, got.messages);
      await c.subscribeAsync(`$q/lights/${id}/commands`, { qos: 1 });
    }
    const subs = await Promise.all(
      lightIds.slice(LIGHTS - 5).map((id) =>
        run('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(broker.port), '-V', 'mqttv5', '-q', '1', '-i', id, '-t', `$q/lights/${id}/commands`, '-C', '1', '-W', '20', '-v'], 25000),
      ),
    );
    subs.forEach((s, i) => assert.is(s.stdout.trim(), `lights/${lightIds[LIGHTS - 5 + i]}/commands green`));
    await waitFor(() => [...received.values()].every((m) => m.length >= 1), 20000, 'every light got a command');
    // Everything acknowledged: nothing else is left to arrive anywhere.
    for (let i = 0; i < 200; i++) {
      list = await queueList(broker);
      if (list.queues.filter((q) => q.template === TEMPLATE).every((q) => q.depth === 0 && q.inflight === 0)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(list.queues.filter((q) => q.template === TEMPLATE).every((q) => q.depth === 0), 'all queues drained');
    for (const [id, messages] of received) assert.equal(messages.map((m) => [m.topic, m.payload]), [[`lights/${id}/commands`, 'green']], `${id} gets exactly its own green`);
  } finally {
    for (const c of clients) await endClient(c, true);
    await ws.dispose();
  }
});

test.run();
