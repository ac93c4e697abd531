// End to end, DESIGN.md "Durability contract" (issue 3): state that must survive a restart of the `wharf`
// process on the same data directory: QoS 2 handshakes in progress in both directions (across a SIGKILL),
// everything across a graceful SIGTERM restart, and session expiry counted across the time the broker was down.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IConnectPacket, IPublishPacket, Packet } from 'mqtt-packet';
import { Workspace } from '../helpers/broker-process.js';
import { DrainSubscriber } from '../helpers/drain-subscriber.js';
import { packetsBeforeMarker } from '../helpers/end-marker.js';
import { LeanPublisher, decodeSeqPayload } from '../helpers/lean-publisher.js';
import { RawClient } from '../helpers/raw-client.js';

const test = suite('e2e durability: restarts keep sessions, handshakes and expiry');

const persistent = (clientId: string, sessionExpiryInterval = 3600): Partial<IConnectPacket> => ({
  clientId,
  clean: false,
  properties: { sessionExpiryInterval },
});

const publish = (topic: string, payload: string, messageId: number, fields: Partial<IPublishPacket> = {}): IPublishPacket => ({
  cmd: 'publish',
  topic,
  payload: Buffer.from(payload),
  qos: 1,
  messageId,
  retain: false,
  dup: false,
  ...fields,
});

/** The packet with its identifier, reason code and, for a PUBLISH, what it carries: for exact comparisons. */
function summary(p: Packet): string {
  const id = p.messageId === undefined ? '' : ` id=${p.messageId}`;
  const rc = (p as { reasonCode?: number }).reasonCode;
  // A 5.0 acknowledgement without a reason code means Success (0x00).
  const reason = ['puback', 'pubrec', 'pubrel', 'pubcomp'].includes(p.cmd) ? ` rc=0x${(rc ?? 0).toString(16)}` : '';
  if (p.cmd !== 'publish') return `${p.cmd}${id}${reason}`;
  const pub = p as IPublishPacket;
  return `publish${id} ${pub.topic}=${pub.payload.toString()} qos=${pub.qos} dup=${pub.dup}`;
}

/** Runs `fn` with a workspace and a list for its raw clients; closes the clients and removes everything after. */
type Closable = { end(): void };

async function withWorkspace(fn: (ws: Workspace, clients: Closable[]) => Promise<void>): Promise<void> {
  const ws = Workspace.create();
  const clients: Closable[] = [];
  try {
    await fn(ws, clients);
  } finally {
    for (const c of clients) c.end();
    await ws.dispose();
  }
}

/** Connects a raw client (CONNACK must accept) and registers it for cleanup. */
async function connect(port: number, clients: Closable[], fields: Partial<IConnectPacket>, version: 4 | 5 = 5) {
  const r = await RawClient.connected(port, fields, version);
  clients.push(r.client);
  const code = version === 5 ? r.connack.reasonCode : r.connack.returnCode;
  if (code !== 0) throw new Error(`CONNACK for ${fields.clientId} refused: ${code}`);
  return r;
}

/** SUBSCRIBE, checking the SUBACK grants what was asked. */
async function subscribe(client: RawClient, topic: string, qos: 0 | 1 | 2): Promise<void> {
  client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos }] });
  const suback = (await client.next('suback')) as Packet & { granted: number[] };
  assert.equal(suback.granted, [qos], `SUBACK for ${topic}`);
}

/** DISCONNECT (normal: the session stays) and wait until the broker has closed the connection. */
async function goOffline(client: RawClient): Promise<void> {
  client.send({ cmd: 'disconnect' } as Packet);
  await client.expectClose();
}

/** QoS 1 PUBLISH that must get a successful PUBACK. */
async function publishAcked(client: RawClient, p: IPublishPacket): Promise<void> {
  client.send(p);
  const ack = await client.next('puback');
  assert.ok(((ack as { reasonCode?: number }).reasonCode ?? 0) < 0x80, `PUBACK for ${p.topic}: ${summary(ack)}`);
}

test('QoS 2 inbound: PUBREC before a SIGKILL, PUBREL after the restart -> PUBCOMP 0, message delivered exactly once', () =>
  withWorkspace(async (ws, clients) => {
    let broker = await ws.start();
    const sub = await connect(broker.port, clients, persistent('q2in-sub'));
    await subscribe(sub.client, 'q2in/#', 2);
    await goOffline(sub.client);
    const pub = await connect(broker.port, clients, persistent('q2in-pub'));
    pub.client.send(publish('q2in/x', 'exactly-once', 7, { qos: 2 }));
    assert.is(summary(await pub.client.next('pubrec')), 'pubrec id=7 rc=0x0', 'PUBREC before the kill');
    await broker.crash();

    broker = await ws.start();
    const pubAgain = await connect(broker.port, clients, persistent('q2in-pub'));
    pubAgain.client.send({ cmd: 'pubrel', messageId: 7 });
    assert.is(summary(await pubAgain.client.next('pubcomp')), 'pubcomp id=7 rc=0x0', 'PUBCOMP for the PUBREL sent after the restart');
    assert.is(pubAgain.connack.sessionPresent, true, "the publisher's session is present after the restart");

    const subAgain = await connect(broker.port, clients, persistent('q2in-sub'));
    const got = (await packetsBeforeMarker(subAgain.client, broker.port, 'q2in/end')).map(summary).map((s) => s.replace(/ id=\d+/, ''));
    assert.equal(got, ['publish q2in/x=exactly-once qos=2 dup=false'], 'the subscriber gets the message exactly once');
    assert.is(subAgain.connack.sessionPresent, true, "the subscriber's session is present after the restart");
  }),
);

test('QoS 2 outbound: after a SIGKILL the subscriber gets PUBREL for the message it PUBRECed (not the PUBLISH again) and the unanswered one with DUP', () =>
  withWorkspace(async (ws, clients) => {
    let broker = await ws.start();
    const sub = await connect(broker.port, clients, persistent('q2out-sub'));
    await subscribe(sub.client, 'q2out/#', 2);
    const pub = await connect(broker.port, clients, { clientId: 'q2out-pub' });
    for (const [id, topic, payload] of [[1, 'q2out/a', 'released'], [2, 'q2out/b', 'unanswered']] as const) {
      pub.client.send(publish(topic, payload, id, { qos: 2 }));
      await pub.client.next('pubrec');
      pub.client.send({ cmd: 'pubrel', messageId: id });
      await pub.client.next('pubcomp');
    }
    const a = (await sub.client.next('publish')) as IPublishPacket;
    const b = (await sub.client.next('publish')) as IPublishPacket;
    assert.equal([a.topic, b.topic], ['q2out/a', 'q2out/b']);
    sub.client.send({ cmd: 'pubrec', messageId: a.messageId! });
    assert.is(summary(await sub.client.next('pubrel')), `pubrel id=${a.messageId} rc=0x0`);
    // Fence: a retained QoS 1 message is durable, so its PUBACK comes after a commit that follows the PUBREC
    // above; the broker has then had its chance to store that the first message was released.
    await publishAcked(pub.client, publish('fence/q2out', 'fence', 3, { retain: true }));
    await broker.crash();

    broker = await ws.start();
    const again = await connect(broker.port, clients, persistent('q2out-sub'));
    const resent = (await packetsBeforeMarker(again.client, broker.port, 'q2out/end')).map(summary).sort();
    assert.equal(resent, [`pubrel id=${a.messageId} rc=0x0`, `publish id=${b.messageId} q2out/b=unanswered qos=2 dup=true`].sort());
    assert.is(again.connack.sessionPresent, true, 'session present after the restart');
    again.client.send({ cmd: 'pubcomp', messageId: a.messageId! });
    again.client.send({ cmd: 'pubrec', messageId: b.messageId! });
    assert.is(summary(await again.client.next('pubrel')), `pubrel id=${b.messageId} rc=0x0`);
    again.client.send({ cmd: 'pubcomp', messageId: b.messageId! });
    assert.equal((await packetsBeforeMarker(again.client, broker.port, 'q2out/end')).map(summary), [], 'nothing more once both handshakes are complete');
  }),
);

test('graceful restart (SIGTERM, exit 0) keeps the 3.1.1 session, its subscription, queued messages in order, and retained messages', () =>
  withWorkspace(async (ws, clients) => {
    let broker = await ws.start();
    const first = await DrainSubscriber.connect(broker.port, 'graceful-sub', 4);
    clients.push(first.sub);
    await first.sub.subscribe([{ topic: 'graceful/#', qos: 1 }]);
    await first.sub.disconnect();
    const lean = await LeanPublisher.connect(broker.port, 'graceful-lean');
    clients.push({ end: () => lean.close() });
    const published = await lean.run({ topic: 'graceful/data', window: 64, payloadBytes: 256, maxMessages: 500 });
    lean.close();
    assert.is(published.acked.size, 500, 'all 500 queued messages acknowledged');
    const pub = await connect(broker.port, clients, { clientId: 'graceful-pub' });
    await publishAcked(pub.client, publish('status/graceful', 'kept', 1, { retain: true }));
    assert.equal(await broker.stop(), { code: 0, signal: null }, 'SIGTERM stops the broker with exit code 0');

    broker = await ws.start();
    const again = await DrainSubscriber.connect(broker.port, 'graceful-sub', 4);
    clients.push(again.sub);
    const pub2 = await connect(broker.port, clients, { clientId: 'graceful-pub' });
    await publishAcked(pub2.client, publish('graceful/live', 'after-restart', 1));
    const drained = await again.sub.drain(500, 10_000);
    const got = drained.messages.map((m) => (m.topic === 'graceful/data' ? decodeSeqPayload(m.payload, 256) : `${m.topic}=${m.payload}`));
    const want = [...Array.from({ length: 500 }, (_, i) => i), 'graceful/live=after-restart'];
    assert.is(got.length, want.length, `delivered ${got.length} of ${want.length} messages after the restart`);
    assert.equal(got, want, 'queued messages in publish order, then the live one');
    assert.is(again.sessionPresent, true, 'session present after the restart');
    const retained = await connect(broker.port, clients, { clientId: 'graceful-retained' });
    await subscribe(retained.client, 'status/#', 1);
    assert.equal((await packetsBeforeMarker(retained.client, broker.port, 'status/end')).map(summary).map((s) => s.replace(/ id=\d+/, '')), [
      'publish status/graceful=kept qos=1 dup=false',
    ]);
  }),
);

test('session expiry counts while the broker is down: expiry 2 s is gone after 3 s stopped, expiry 3600 s is present with its message', () =>
  withWorkspace(async (ws, clients) => {
    let broker = await ws.start();
    for (const [id, expiry] of [['expiry-short', 2], ['expiry-long', 3600]] as const) {
      const c = await connect(broker.port, clients, persistent(id, expiry));
      await subscribe(c.client, 'expiry/#', 1);
      await goOffline(c.client);
    }
    const pub = await connect(broker.port, clients, { clientId: 'expiry-pub' });
    await publishAcked(pub.client, publish('expiry/x', 'queued', 1));
    assert.equal(await broker.stop(), { code: 0, signal: null }, 'SIGTERM stops the broker with exit code 0');
    await new Promise((r) => setTimeout(r, 3000)); // the downtime itself is what is tested

    broker = await ws.start();
    const long = await connect(broker.port, clients, persistent('expiry-long', 3600));
    const short = await connect(broker.port, clients, persistent('expiry-short', 2));
    const longGot = (await packetsBeforeMarker(long.client, broker.port, 'expiry/end')).map(summary).map((s) => s.replace(/ id=\d+/, ''));
    // The expired session has no subscription for a marker to reach: a PINGRESP comes after anything it was sent.
    short.client.send({ cmd: 'pingreq' });
    const shortGot: string[] = [];
    for (let p = await short.client.next(); p.cmd !== 'pingresp'; p = await short.client.next()) shortGot.push(summary(p));
    assert.is(long.connack.sessionPresent, true, 'the session with expiry 3600 s is present after the restart');
    assert.equal(longGot, ['publish expiry/x=queued qos=1 dup=false'], 'and its queued message is delivered');
    assert.is(short.connack.sessionPresent, false, 'the session with expiry 2 s expired while the broker was down');
    assert.equal(shortGot, [], 'and nothing of it is delivered');
  }),
);

test.run();
