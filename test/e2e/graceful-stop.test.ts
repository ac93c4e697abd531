// End to end: a SIGTERM stop of `wharf` is nobody's failure (README "Wills on shutdown", DESIGN "Queues").
// - No will is published by the shutdown: not to a subscriber connected then, not into a persistent session,
//   not into a queue (all three would still hold it after a restart), and a will waiting for its delay is
//   forgotten. Wills of clients lost before the stop are published as usual: they prove the channels work.
// - A queue delivery in flight at the stop is not a failed delivery: it is offered again after the restart
//   with its delivery count unchanged, so maxDeliveries 1 does not dead-letter it.
// Mosquitto differs here: it publishes every will, delayed ones included, as it shuts down.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IConnectPacket, IPublishPacket, Packet } from 'mqtt-packet';
import { Workspace } from '../helpers/broker-process.js';
import { RawClient } from '../helpers/raw-client.js';

const test = suite('e2e graceful stop: SIGTERM publishes no will and fails no delivery');

const WAIT_MS = 5000;

/** Runs `fn` with a workspace and a list for its raw clients; closes the clients and removes everything after. */
async function withWorkspace(extraYaml: string, fn: (ws: Workspace, clients: RawClient[]) => Promise<void>): Promise<void> {
  const ws = Workspace.create(undefined, extraYaml);
  const clients: RawClient[] = [];
  try {
    await fn(ws, clients);
  } finally {
    for (const c of clients) c.end();
    await ws.dispose();
  }
}

/** Connects (CONNACK must accept) and registers the client for cleanup. */
async function connect(port: number, clients: RawClient[], fields: Partial<IConnectPacket>, version: 4 | 5 = 5) {
  const { client, connack } = await RawClient.connected(port, fields, version);
  clients.push(client);
  const code = version === 5 ? connack.reasonCode : connack.returnCode;
  if (code !== 0) throw new Error(`CONNACK refused for ${fields.clientId}: ${code}`);
  return { client, sessionPresent: connack.sessionPresent };
}

const persistent = (clientId: string): Partial<IConnectPacket> => ({ clientId, clean: false, properties: { sessionExpiryInterval: 3600 } });

type WillFields = NonNullable<IConnectPacket['will']>;
const will = (topic: string, willDelayInterval?: number): WillFields =>
  ({ topic, payload: Buffer.from(`${topic} gone`), qos: 1, retain: false, properties: willDelayInterval === undefined ? undefined : { willDelayInterval } }) as WillFields;

async function subscribe(c: RawClient, topic: string, messageId = 1): Promise<number[]> {
  c.send({ cmd: 'subscribe', messageId, subscriptions: [{ topic, qos: 1 }] });
  return ((await c.next('suback')) as Packet & { granted: number[] }).granted;
}

/** The next PUBLISH, acknowledged at once. */
async function receive(c: RawClient, reasonCode = 0): Promise<IPublishPacket> {
  const p = (await c.next('publish', WAIT_MS)) as IPublishPacket;
  if (p.qos > 0) c.send({ cmd: 'puback', messageId: p.messageId!, reasonCode } as Packet);
  return p;
}

async function publish(c: RawClient, topic: string, payload: string, messageId: number): Promise<void> {
  c.send({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false, messageId });
  const ack = (await c.next('puback')) as Packet & { reasonCode?: number };
  assert.ok((ack.reasonCode ?? 0) < 0x80, `PUBLISH ${topic} acknowledged with 0x${(ack.reasonCode ?? 0).toString(16)}`);
}

const summary = (packets: Packet[]) => packets.map((p) => (p.cmd === 'publish' ? `publish ${(p as IPublishPacket).topic}` : `${p.cmd} 0x${((p as { reasonCode?: number }).reasonCode ?? 0).toString(16)}`));

/** Waits until the admin API shows the session of `clientId` disconnected (its will then waits for its delay). */
async function untilDisconnected(adminPort: number, clientId: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const res = await fetch(`http://127.0.0.1:${adminPort}/api/v1/sessions/${encodeURIComponent(clientId)}`);
    if (res.status !== 200) throw new Error(`GET session ${clientId}: ${res.status}`);
    if (!((await res.json()) as { connected: boolean }).connected) return;
    if (Date.now() > deadline) throw new Error(`the broker did not see ${clientId} disconnect`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('SIGTERM: wills of the clients still connected (5.0, 3.1.1, with a will delay) and a will waiting for its delay are never published; a lost client’s will before it is', async () => {
  await withWorkspace('queues:\n  definitions:\n    - { name: status, topicFilter: status/# }\n', async (ws, clients) => {
    const broker = await ws.start();
    const { client: live } = await connect(broker.port, clients, persistent('live'));
    assert.equal(await subscribe(live, 'status/#'), [1]);
    const { client: away } = await connect(broker.port, clients, persistent('away'));
    assert.equal(await subscribe(away, 'status/#'), [1]);
    away.send({ cmd: 'disconnect', reasonCode: 0 });
    await away.expectClose();

    // Control: a client lost before the stop has its will published, live and into the offline session and queue.
    const { client: dropped } = await connect(broker.port, clients, { clientId: 'dropped', will: will('status/dropped') });
    dropped.end();
    assert.equal((await receive(live)).topic, 'status/dropped');
    // Its will waits 3600 s (session expiry 3600 s too) when the stop comes.
    const { client: delayed } = await connect(broker.port, clients, { ...persistent('delayed'), will: will('status/delayed', 3600) });
    delayed.end();
    await untilDisconnected(broker.adminPort, 'delayed');

    // Connected at the stop: their connections are closed by the broker, which is no failure of theirs.
    const { client: w5 } = await connect(broker.port, clients, { clientId: 'w5', will: will('status/w5') });
    const { client: w4 } = await connect(broker.port, clients, { clientId: 'w4', will: will('status/w4') }, 4);
    const { client: w5delay } = await connect(broker.port, clients, { clientId: 'w5-delay', properties: { sessionExpiryInterval: 60 }, will: will('status/w5-delay', 30) });

    assert.equal(await broker.stop(), { code: 0, signal: null });
    // Everything the broker sent a client came before its socket closed: the live subscriber got no will.
    assert.equal(summary(await live.expectClose()), ['disconnect 0x8b']);
    assert.equal(summary(await w5.expectClose()), ['disconnect 0x8b']);
    assert.equal(summary(await w5delay.expectClose()), ['disconnect 0x8b']);
    assert.equal(summary(await w4.expectClose()), [], '3.1.1 has no DISCONNECT from the server');

    const again = await ws.start();
    const liveAgain = await connect(again.port, clients, persistent('live'));
    const awayAgain = await connect(again.port, clients, persistent('away'));
    assert.equal([liveAgain.sessionPresent, awayAgain.sessionPresent], [true, true]);
    const consumer = (await connect(again.port, clients, { clientId: 'status-reader' })).client;
    assert.equal(await subscribe(consumer, '$q/status/#'), [1]);
    // The end marker: published after the restart, so whatever the stop had published or stored comes before it.
    const { client: pub } = await connect(again.port, clients, { clientId: 'marker' });
    await publish(pub, 'status/marker', 'end', 1);
    assert.equal((await receive(liveAgain.client)).topic, 'status/marker', 'nothing was stored for the live session');
    assert.equal([(await receive(awayAgain.client)).topic, (await receive(awayAgain.client)).topic], ['status/dropped', 'status/marker']);
    assert.equal([(await receive(consumer)).topic, (await receive(consumer)).topic], ['status/dropped', 'status/marker']);
    assert.equal(await again.stop(), { code: 0, signal: null });
  });
});

test('SIGTERM with a job in flight at maxDeliveries 1: not dead-lettered; offered again after the restart, and a consumer lost then dead-letters it at delivery count 1', async () => {
  const yaml = `queues:
  definitions:
    - { name: jobs, topicFilter: jobs/+, maxDeliveries: 1, deadLetter: jobs-dlq }
    - { name: jobs-dlq, topicFilter: dead/jobs }
`;
  await withWorkspace(yaml, async (ws, clients) => {
    const broker = await ws.start();
    const { client: worker } = await connect(broker.port, clients, { clientId: 'worker-1' });
    assert.equal(await subscribe(worker, '$q/jobs/+'), [1]);
    const { client: pub } = await connect(broker.port, clients, { clientId: 'jobs-pub' });
    await publish(pub, 'jobs/ocr', 'page-1', 1);
    const held = (await worker.next('publish', WAIT_MS)) as IPublishPacket;
    assert.equal([held.topic, held.payload.toString()], ['jobs/ocr', 'page-1']);
    assert.equal(await broker.stop(), { code: 0, signal: null });

    const again = await ws.start();
    const { client: next } = await connect(again.port, clients, { clientId: 'worker-2' });
    assert.equal(await subscribe(next, '$q/jobs/+'), [1]);
    const offered = (await next.next('publish', WAIT_MS)) as IPublishPacket;
    assert.equal([offered.topic, offered.payload.toString()], ['jobs/ocr', 'page-1'], 'still in its queue, not in the dead-letter queue');
    next.end(); // lost while holding it: the first failed delivery, which maxDeliveries 1 allows
    const { client: reader } = await connect(again.port, clients, { clientId: 'dlq-reader' });
    assert.equal(await subscribe(reader, '$queue/jobs-dlq'), [1]);
    const dead = await receive(reader);
    assert.equal([dead.payload.toString(), { ...dead.properties?.userProperties }], [
      'page-1',
      { 'wharf-dead-letter-queue': 'jobs', 'wharf-dead-letter-reason': 'consumer_lost', 'wharf-delivery-count': '1' },
    ]);
    assert.equal(await again.stop(), { code: 0, signal: null });
  });
});

test.run();
