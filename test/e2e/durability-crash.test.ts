// End to end, DESIGN.md "Durability contract" (issue 3): a `wharf` child process is killed with SIGKILL (as on
// a power cut) and restarted on the same data directory; nothing it had acknowledged may be missing afterwards:
// QoS 1 messages queued for an offline persistent session (PUBACK), retained messages (PUBACK) and
// subscriptions (SUBACK / UNSUBACK). Set WHARF_CRASH_SEED to replay the kill moments of an earlier run.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import { Workspace, type WharfProcess } from '../helpers/broker-process.js';
import { DrainSubscriber, type DrainResult } from '../helpers/drain-subscriber.js';
import { packetsBeforeMarker } from '../helpers/end-marker.js';
import { LeanPublisher, decodeSeqPayload, type PublishResult } from '../helpers/lean-publisher.js';
import { RawClient } from '../helpers/raw-client.js';
import { prng, seedFrom } from '../helpers/prng.js';

const test = suite('e2e durability: SIGKILL loses nothing that was acknowledged');

const PAYLOAD_BYTES = 256;
const WINDOW = 64;
/**
 * Bounds a round's work. Below 65535, the Receive Maximum the subscriber leaves at its default, so the whole
 * backlog can be in flight at once after the restart; far above the latest kill (KILL_AFTER_ACKS), so the kill
 * always lands while the publisher is still sending.
 */
const MAX_MESSAGES = 60_000;
/** The kill comes after this many PUBACKs (each round in its own third): early, middle and late in a burst. */
const KILL_AFTER_ACKS = { from: 500, to: 12_500 };
/** Reaching the interrupt point: generous for a loaded machine, short enough to catch a broker that stopped. */
const INTERRUPT_WITHIN_MS = 20_000;
const QUIET_MS = 1000;
const DRAIN_MAX_MS = 20_000;
const ROUNDS = 3;
const SEED = seedFrom('WHARF_CRASH_SEED');

/** Resolves once `pub` has `acks` PUBACKs; fails if it stops getting them first or takes INTERRUPT_WITHIN_MS. */
async function acknowledgedAtLeast(pub: LeanPublisher, acks: number, running: Promise<PublishResult>): Promise<void> {
  let ended = false;
  void running.then(() => (ended = true));
  const deadline = Date.now() + INTERRUPT_WITHIN_MS;
  while (pub.acknowledged < acks) {
    if (ended) throw new Error(`the publisher ended after ${pub.acknowledged} PUBACKs, before ${acks}`);
    if (Date.now() > deadline) throw new Error(`only ${pub.acknowledged} of ${acks} PUBACKs within ${INTERRUPT_WITHIN_MS} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

interface Tally {
  sent: number;
  acked: number;
  refused: string;
  delivered: number;
  duplicates: number;
  unackedButDelivered: number;
  lost: number[];
  /** Payloads that are not one of ours, or damaged. */
  corrupt: number;
  /** Sequences delivered that were never sent. */
  phantom: number;
  /** Deliveries whose sequence is lower than the one before (ignoring duplicates). */
  outOfOrder: number;
}

function tally(pub: PublishResult, drained: DrainResult): Tally {
  const seen = new Map<number, number>();
  let corrupt = 0;
  let outOfOrder = 0;
  let last = -1;
  for (const m of drained.messages) {
    const seq = decodeSeqPayload(m.payload, PAYLOAD_BYTES);
    if (seq < 0 || m.topic !== 'crash/data') {
      corrupt++;
      continue;
    }
    const n = seen.get(seq) ?? 0;
    seen.set(seq, n + 1);
    if (n === 0 && seq < last) outOfOrder++;
    if (n === 0) last = seq;
  }
  const lost = [...pub.acked].filter((s) => !seen.has(s)).sort((a, b) => a - b);
  let duplicates = 0;
  let unackedButDelivered = 0;
  let phantom = 0;
  for (const [seq, n] of seen) {
    duplicates += n - 1;
    if (seq >= pub.sent) phantom++;
    else if (!pub.acked.has(seq)) unackedButDelivered++;
  }
  const refused = [...pub.refused].map(([rc, n]) => `0x${rc.toString(16)}x${n}`).join(',') || '0';
  return { sent: pub.sent, acked: pub.acked.size, refused, delivered: seen.size, duplicates, unackedButDelivered, lost, corrupt, phantom, outOfOrder };
}

function describe(t: Tally): string {
  return (
    `sent ${t.sent}, acked ${t.acked}, refused ${t.refused}, delivered ${t.delivered} (distinct), duplicates ${t.duplicates}, ` +
    `unacked-but-delivered ${t.unackedButDelivered}, lost ${t.lost.length}, corrupt ${t.corrupt}, phantom ${t.phantom}, out of order ${t.outOfOrder}`
  );
}

/** Zero loss: every sequence with a successful PUBACK came out of the broker, intact, and nothing else did. */
function assertNothingLost(t: Tally, drained: DrainResult, what: string): void {
  assert.ok(t.acked > 0, `${what}: the publisher got no PUBACK at all, so the round proves nothing`);
  assert.is(drained.cutShort, false, `${what}: still draining after ${DRAIN_MAX_MS} ms`);
  assert.is(t.corrupt, 0, `${what}: ${t.corrupt} delivered payloads are damaged or not ours`);
  assert.is(t.phantom, 0, `${what}: ${t.phantom} delivered sequences were never published`);
  const first = t.lost.slice(0, 10).join(', ');
  assert.is(t.lost.length, 0, `${what}: ${t.lost.length} of ${t.acked} acknowledged messages were lost (first: ${first})`);
}

/**
 * One scenario: a persistent QoS 1 subscriber on crash/# goes offline; a publisher sends QoS 1 messages as fast
 * as its window allows until `interruptAfterAcks` of them are acknowledged; then `interrupt` (a crash and
 * restart, or a clean stop of the publisher) returns the broker the subscriber reconnects to, with clean start 0,
 * and drains.
 */
async function offlineBacklog(
  subVersion: 4 | 5,
  interruptAfterAcks: number,
  interrupt: (ws: Workspace, broker: WharfProcess, pub: LeanPublisher) => Promise<WharfProcess>,
): Promise<{ tally: Tally; drained: DrainResult; sessionPresent: boolean; published: PublishResult }> {
  const ws = Workspace.create();
  const clients: Array<{ end(): void }> = [];
  try {
    let broker = await ws.start();
    const first = await DrainSubscriber.connect(broker.port, 'crash-sub', subVersion);
    clients.push(first.sub);
    await first.sub.subscribe([{ topic: 'crash/#', qos: 1 }]);
    await first.sub.disconnect();

    const pub = await LeanPublisher.connect(broker.port, 'crash-pub');
    clients.push({ end: () => pub.close() });
    const running = pub.run({ topic: 'crash/data', window: WINDOW, payloadBytes: PAYLOAD_BYTES, maxMessages: MAX_MESSAGES });
    await acknowledgedAtLeast(pub, interruptAfterAcks, running);
    broker = await interrupt(ws, broker, pub);
    const published = await running;
    pub.close();

    const again = await DrainSubscriber.connect(broker.port, 'crash-sub', subVersion);
    clients.push(again.sub);
    const drained = await again.sub.drain(QUIET_MS, DRAIN_MAX_MS);
    return { tally: tally(published, drained), drained, sessionPresent: again.sessionPresent, published };
  } finally {
    for (const c of clients) c.end();
    await ws.dispose();
  }
}

test('without a crash every acknowledged message is delivered, once and in order (sanity check of the harness)', async () => {
  const r = await offlineBacklog(5, 5000, async (_ws, broker, pub) => {
    pub.stop();
    return broker;
  });
  console.log(`  no crash: publisher stopped after 5000 PUBACKs; ${describe(r.tally)}`);
  assert.is(r.published.connectionLost, false, 'the publisher kept its connection');
  assert.is(r.published.unacked, 0, 'every message sent was acknowledged');
  assert.is(r.sessionPresent, true, 'session present on reconnect');
  assertNothingLost(r.tally, r.drained, 'no crash');
  assert.is(r.tally.delivered, r.tally.acked, 'delivered exactly the acknowledged messages');
  assert.is(r.tally.duplicates, 0, 'no duplicates without a reconnect during delivery');
  assert.is(r.tally.outOfOrder, 0, 'queued messages delivered in publish order');
});

const random = prng(SEED);
for (let round = 1; round <= ROUNDS; round++) {
  // Each round kills within its own third of the range, so early, middle and late moments are all covered.
  const span = (KILL_AFTER_ACKS.to - KILL_AFTER_ACKS.from) / ROUNDS;
  const from = Math.round(KILL_AFTER_ACKS.from + span * (round - 1));
  const to = Math.round(KILL_AFTER_ACKS.from + span * round);
  const killAfter = Math.round(from + random() * span);
  const subVersion: 4 | 5 = round % 2 === 0 ? 4 : 5;
  const label = subVersion === 5 ? '5.0 session expiry 3600' : '3.1.1 clean session 0';
  test(`crash round ${round}/${ROUNDS}: SIGKILL after ${from}-${to} PUBACKs of a QoS 1 publish burst loses no acknowledged message (${label} subscriber)`, async () => {
    console.log(`  crash round ${round}: seed ${SEED} (WHARF_CRASH_SEED), SIGKILL after ${killAfter} PUBACKs`);
    const r = await offlineBacklog(subVersion, killAfter, async (ws, broker) => {
      await broker.crash();
      return ws.start();
    });
    console.log(`  crash round ${round}: ${describe(r.tally)}, in flight at the kill ${r.published.unacked}; session present ${r.sessionPresent}`);
    const what = `crash round ${round} (seed ${SEED}, SIGKILL after ${killAfter} PUBACKs)`;
    // Mid-burst: the kill ended the publisher's connection while it was still sending, messages in flight.
    assert.is(r.published.connectionLost, true, `${what}: the kill ended the publisher's connection`);
    assert.ok(r.tally.sent < MAX_MESSAGES, `${what}: the publisher had not sent all ${MAX_MESSAGES} (sent ${r.tally.sent})`);
    assert.ok(r.published.unacked > 0, `${what}: messages were in flight at the kill`);
    assert.ok(r.tally.acked >= killAfter, `${what}: acknowledged ${r.tally.acked} before the kill`);
    assertNothingLost(r.tally, r.drained, what);
    assert.is(r.sessionPresent, true, 'the persistent session is present after the restart');
  });
}

/** Sends all `packets` (QoS 1 PUBLISH/SUBSCRIBE/UNSUBSCRIBE) and checks each acknowledgement's reason code. */
async function acknowledged(client: RawClient, packets: Packet[]): Promise<void> {
  const ackFor: Record<string, string> = { publish: 'puback', subscribe: 'suback', unsubscribe: 'unsuback' };
  for (const p of packets) client.send(p);
  for (const p of packets) {
    const ack = (await client.next(ackFor[p.cmd])) as Packet & { reasonCode?: number; granted?: Array<number | { qos: number }> };
    assert.is(ack.messageId, p.messageId, `acknowledgement for packet ${p.messageId}`);
    const codes = ack.cmd === 'puback' ? [ack.reasonCode ?? 0] : (ack.granted ?? []).map((g) => (typeof g === 'number' ? g : g.qos));
    for (const c of codes) assert.ok(c < 0x80, `${ack.cmd} ${p.messageId} succeeded (reason 0x${c.toString(16)})`);
  }
}

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

/** "topic=payload@qos" for every PUBLISH received, sorted. */
const publishes = (packets: Packet[]): string[] =>
  packets
    .filter((p): p is IPublishPacket => p.cmd === 'publish')
    .map((p) => `${p.topic}=${p.payload.toString()}@${p.qos}${p.retain ? ' retained' : ''}`)
    .sort();

test('retained messages acknowledged before a SIGKILL (set, replaced, cleared) are as they were after the restart', async () => {
  const ws = Workspace.create();
  const clients: RawClient[] = [];
  try {
    let broker = await ws.start();
    const pub = (await RawClient.connected(broker.port, { clientId: 'retain-pub' }, 5)).client;
    clients.push(pub);
    const packets: Packet[] = [];
    for (let i = 0; i < 20; i++) packets.push(publish(`keep/${i}`, `first-${i}`, i + 1, { retain: true }));
    packets.push(publish('keep/0', 'second-0', 21, { retain: true })); // replaces keep/0
    packets.push(publish('keep/1', '', 22, { retain: true })); // clears keep/1
    await acknowledged(pub, packets);
    await broker.crash();

    broker = await ws.start();
    const sub = (await RawClient.connected(broker.port, { clientId: 'retain-sub' }, 5)).client;
    clients.push(sub);
    sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'keep/#', qos: 1 }] });
    await sub.next('suback');
    const expected = ['keep/0=second-0@1 retained', ...Array.from({ length: 18 }, (_, k) => `keep/${k + 2}=first-${k + 2}@1 retained`)].sort();
    assert.equal(publishes(await packetsBeforeMarker(sub, broker.port, 'keep/end')), expected);
  } finally {
    for (const c of clients) c.end();
    await ws.dispose();
  }
});

test('subscriptions acknowledged before a SIGKILL (and an unsubscribe) are as they were after the restart, on 5.0 and 3.1.1', async () => {
  const ws = Workspace.create();
  const clients: RawClient[] = [];
  const connect5 = { clientId: 'subs-5', clean: false, properties: { sessionExpiryInterval: 3600 } };
  const connect4 = { clientId: 'subs-4', clean: false };
  try {
    let broker = await ws.start();
    const s5 = (await RawClient.connected(broker.port, connect5, 5)).client;
    const s4 = (await RawClient.connected(broker.port, connect4, 4)).client;
    clients.push(s5, s4);
    await acknowledged(s5, [
      { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'subs/a', qos: 1 }, { topic: 'subs/b/+', qos: 2 }] },
      { cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'subs/gone', qos: 1 }] },
      { cmd: 'unsubscribe', messageId: 3, unsubscriptions: ['subs/gone'] },
    ]);
    await acknowledged(s4, [{ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'subs/#', qos: 1 }] }]);
    // Killed while both subscribers are still connected, right after the last acknowledgement.
    await broker.crash();

    broker = await ws.start();
    const again5 = await RawClient.connected(broker.port, connect5, 5);
    const again4 = await RawClient.connected(broker.port, connect4, 4);
    clients.push(again5.client, again4.client);
    assert.is(again5.connack.sessionPresent, true, 'session present for the 5.0 subscriber (session expiry 3600)');
    assert.is(again4.connack.sessionPresent, true, 'session present for the 3.1.1 subscriber (clean session 0)');

    const pub = (await RawClient.connected(broker.port, { clientId: 'subs-pub' }, 5)).client;
    clients.push(pub);
    await acknowledged(pub, [publish('subs/a', 'A', 1), publish('subs/gone', 'G', 2)]);
    pub.send(publish('subs/b/x', 'B', 3, { qos: 2 }));
    await pub.next('pubrec');
    pub.send({ cmd: 'pubrel', messageId: 3 });
    await pub.next('pubcomp');

    // The first marker on subs/a reaches both (subs/a and subs/#), after the three publishes.
    assert.equal(publishes(await packetsBeforeMarker(again5.client, broker.port, 'subs/a')), ['subs/a=A@1', 'subs/b/x=B@2']);
    assert.equal(publishes(await packetsBeforeMarker(again4.client, broker.port, 'subs/a')), ['subs/a=A@1', 'subs/b/x=B@1', 'subs/gone=G@1']);
  } finally {
    for (const c of clients) c.end();
    await ws.dispose();
  }
});

test.run();
