// Shared subscriptions and member availability: members that are offline (persistent session, disconnected)
// or at their inflight limit (Receive Maximum reached, not acknowledging) are passed over while another member
// has room, and messages are not lost when no member can take them right now.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RawClient } from '../../helpers/raw-client.js';
import { nextPublish, publish, subscribe, withBroker, type Harness } from '../../helpers/sub-harness.js';
import { beforePing } from '../../helpers/end-marker.js';

const test = suite('07-shared: member availability');

const persistent = { clean: true, properties: { sessionExpiryInterval: 300 } };

async function member(h: Harness, clientId: string, connect: Record<string, unknown> = {}, qos: 0 | 1 = 1): Promise<RawClient> {
  const c = await h.raw({ clientId, ...connect });
  assert.equal((await subscribe(c, [{ topic: '$share/g/work', qos }])).granted, [qos]);
  return c;
}

/** Clean DISCONNECT; resolves once the broker has closed the connection (and detached the session). */
async function goOffline(c: RawClient): Promise<void> {
  c.send({ cmd: 'disconnect', reasonCode: 0 });
  await c.expectClose();
}

/** Reads `n` PUBLISHes, acknowledging QoS 1 ones; returns their payloads. */
async function take(c: RawClient, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const m = await nextPublish(c);
    if (m.qos === 1) c.send({ cmd: 'puback', messageId: m.messageId! });
    out.push(m.text);
  }
  return out;
}

test('a member whose persistent session is offline is skipped; it gets none of those messages on return', async () => {
  await withBroker(async (h) => {
    const off = await member(h, 'offline', persistent);
    const on = await member(h, 'online');
    await goOffline(off);
    assert.is(h.broker.sessions.byClientId.get('offline')?.connected, false);
    const pub = await h.raw();
    for (let i = 0; i < 4; i++) await publish(pub, 'work', `q1-${i}`, { qos: 1 });
    for (let i = 0; i < 2; i++) await publish(pub, 'work', `q0-${i}`, { qos: 0 });
    assert.equal(await take(on, 6), ['q1-0', 'q1-1', 'q1-2', 'q1-3', 'q0-0', 'q0-1']);
    const back = await h.rawConnack({ clientId: 'offline', clean: false, properties: { sessionExpiryInterval: 300 } });
    assert.is(back.connack.sessionPresent, true);
    assert.equal(await beforePing(back.client), [], 'nothing was queued for the offline member');
    // Back online, it takes its turn again.
    for (let i = 0; i < 2; i++) await publish(pub, 'work', `again-${i}`, { qos: 1 });
    const a = await take(back.client, 1);
    const b = await take(on, 1);
    assert.equal([...a, ...b].sort(), ['again-0', 'again-1']);
  });
});

test('a member at its Receive Maximum is skipped while another has room; nothing is queued for it', async () => {
  await withBroker(async (h) => {
    const busy = await member(h, 'busy', { properties: { receiveMaximum: 1 } });
    const free = await member(h, 'free');
    const pub = await h.raw();
    for (let i = 0; i < 6; i++) await publish(pub, 'work', `m${i}`, { qos: 1 });
    // busy takes one message and does not acknowledge it: its window is full.
    const held = await nextPublish(busy);
    const rest = await take(free, 5);
    assert.equal([held.text, ...rest].sort(), ['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
    const session = h.broker.sessions.byClientId.get('busy')!;
    assert.equal([session.inflight.size, session.pending.length], [1, 0]);
    // Acknowledging frees the window: no backlog arrives, and the member is used again.
    busy.send({ cmd: 'puback', messageId: held.messageId! });
    assert.equal(await beforePing(busy), [], 'no backlog was queued for the busy member');
    for (let i = 0; i < 2; i++) await publish(pub, 'work', `n${i}`, { qos: 1 });
    assert.equal([...(await take(busy, 1)), ...(await take(free, 1))].sort(), ['n0', 'n1']);
  });
});

test('a member with a large Receive Maximum is full at 1024 unacknowledged deliveries: the next go to another', async () => {
  await withBroker(async (h) => {
    // Receive Maximum 65535 (the default): the broker's own cap of 1024 in flight per session is what fills it.
    const busy = await member(h, 'busy');
    const pub = await h.raw();
    for (let i = 0; i < 1024; i++) await publish(pub, 'work', `held-${i}`, { qos: 1 });
    for (let i = 0; i < 1024; i++) await nextPublish(busy);
    const session = h.broker.sessions.byClientId.get('busy')!;
    assert.equal([session.inflight.size, session.pending.length], [1024, 0]);
    const free = await member(h, 'free');
    for (let i = 0; i < 4; i++) await publish(pub, 'work', `next-${i}`, { qos: 1 });
    assert.equal(await take(free, 4), ['next-0', 'next-1', 'next-2', 'next-3']);
    assert.is(session.pending.length, 0, 'nothing waits in the full member\'s queue');
  });
});

test('with every member offline, a QoS 1 message is kept for one member and delivered once on reconnect', async () => {
  await withBroker(async (h) => {
    const a = await member(h, 'a', persistent);
    const b = await member(h, 'b', persistent);
    await goOffline(a);
    await goOffline(b);
    const pub = await h.raw();
    await publish(pub, 'work', 'k0', { qos: 1 });
    await publish(pub, 'work', 'k1', { qos: 1 });
    await publish(pub, 'work', 'lost', { qos: 0 }); // QoS 0 is not kept for offline clients
    const sessions = ['a', 'b'].map((id) => h.broker.sessions.byClientId.get(id)!);
    assert.is(
      sessions.reduce((n, s) => n + s.pending.length, 0),
      2,
    );
    const waiting = sessions.map((s) => s.pending.length);
    const received: string[] = [];
    for (const [i, id] of ['a', 'b'].entries()) {
      const { client, connack } = await h.rawConnack({ clientId: id, clean: false, properties: { sessionExpiryInterval: 300 } });
      assert.is(connack.sessionPresent, true);
      received.push(...(await take(client, waiting[i]!)));
      assert.equal(await beforePing(client), []);
    }
    assert.equal(received.sort(), ['k0', 'k1']);
  });
});

test('with every member at its Receive Maximum, a message waits for one of them and is delivered once', async () => {
  await withBroker(async (h) => {
    const a = await member(h, 'a', { properties: { receiveMaximum: 1 } });
    const b = await member(h, 'b', { properties: { receiveMaximum: 1 } });
    const pub = await h.raw();
    for (let i = 0; i < 3; i++) await publish(pub, 'work', `w${i}`, { qos: 1 });
    const first = [await nextPublish(a), await nextPublish(b)];
    assert.equal(first.map((m) => m.text).sort(), ['w0', 'w1']);
    // Both windows are full: w2 waits in one session's queue.
    const queued = ['a', 'b'].map((id) => h.broker.sessions.byClientId.get(id)!.pending.length);
    assert.equal(queued.sort(), [0, 1]);
    const holderId = ['a', 'b'].find((id) => h.broker.sessions.byClientId.get(id)!.pending.length === 1)!;
    const [holder, other] = holderId === 'a' ? [a, b] : [b, a];
    a.send({ cmd: 'puback', messageId: first[0]!.messageId! });
    b.send({ cmd: 'puback', messageId: first[1]!.messageId! });
    assert.is((await nextPublish(holder)).text, 'w2');
    assert.equal(await beforePing(other), []);
    assert.equal(await beforePing(holder), []);
  });
});

test.run();
