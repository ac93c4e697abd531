// Session paging against a scripted store (SessionHooks): what the session does with each kind of page it reads
// back — records not committed yet, records whose writes failed, records restored in flight, a read overtaken by
// the end of the session — and the cap on deliveries in flight.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Message } from '../../src/protocol/message.js';
import { MAX_INFLIGHT, Session, type Outgoing, type SessionHooks, type SessionLink, type StoredPage } from '../../src/broker/session.js';
import { HEAD_MAX_MESSAGES } from '../../src/broker/outgoing-queue.js';

const test = suite('session: paging its backlog from the store');

const message = (i: number): Message => ({ topic: 't', payload: Buffer.from(`m${i}`), qos: 1, retain: false, properties: undefined, expiresAt: 0, origin: 'p' });

/** A store that keeps every appended message; reads answer from `committed` only (what a commit made visible). */
class ScriptedStore implements SessionHooks {
  readonly records = new Map<number, Outgoing>();
  private nextSeq = 1;
  /** Records a read may see; undefined: all. */
  committedUpTo: number | undefined = undefined;
  /** What a read says of records it does not see. */
  complete = true;
  reads = 0;
  private held: Array<() => void> = [];
  /** Reads wait for release() while true. */
  holdReads = false;

  stored(_s: Session, out: Outgoing): boolean {
    out.seq = this.nextSeq++;
    this.records.set(out.seq, { ...out });
    return true;
  }
  sent(): void {}
  released(): void {}
  done(_s: Session, out: Outgoing): void {
    this.records.delete(out.seq);
  }
  readStored(_s: Session, afterSeq: number, limit: number): Promise<StoredPage | null> {
    this.reads++;
    const page = (): StoredPage => {
      const messages = [...this.records.values()]
        .filter((o) => o.seq > afterSeq && (this.committedUpTo === undefined || o.seq <= this.committedUpTo))
        .sort((a, b) => a.seq - b.seq)
        .slice(0, limit)
        .map((o) => ({ ...o }));
      return { messages, complete: this.complete };
    };
    if (!this.holdReads) return Promise.resolve(page());
    return new Promise((resolve) => this.held.push(() => resolve(page())));
  }
  release(): void {
    for (const r of this.held.splice(0)) r();
  }
}

class FakeLink implements SessionLink {
  readonly sent: Outgoing[] = [];
  constructor(readonly clientReceiveMaximum: number) {}
  sendPublish(out: Outgoing): void {
    this.sent.push(out);
  }
  sendPubrel(): void {}
  writable(): boolean {
    return true;
  }
}

function offlineSession(n: number, store = new ScriptedStore()): { session: Session; store: ScriptedStore; counters: { dropped: number; queueFull: number; deliveriesWithheld: number } } {
  const counters = { dropped: 0, queueFull: 0, deliveriesWithheld: 0 };
  const session = new Session('c', 100_000, counters);
  session.hooks = store;
  for (let i = 0; i < n; i++) session.deliver(message(i), 1, false, undefined);
  return { session, store, counters };
}

const settle = () => new Promise((r) => setImmediate(r));

/** Acknowledges everything in flight, once per turn, until `link` has seen `count` messages or `turns` pass. */
async function ackAll(session: Session, link: FakeLink, count: number, turns = 200): Promise<void> {
  for (let t = 0; t < turns && link.sent.length < count; t++) {
    for (const id of [...session.inflight.keys()]) session.complete(id);
    await settle();
  }
  for (const id of [...session.inflight.keys()]) session.complete(id);
}

const payloads = (outs: Outgoing[]) => outs.map((o) => o.msg.payload.toString());
const names = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `m${from + i}`);

test('only the head is kept in memory; the rest comes back from the store in order as the client acknowledges', async () => {
  const N = 3 * HEAD_MAX_MESSAGES + 7;
  const { session } = offlineSession(N);
  assert.equal([session.pending.length, session.pending.inMemory], [N, HEAD_MAX_MESSAGES]);
  const link = new FakeLink(16);
  session.resume(link);
  await ackAll(session, link, N);
  assert.equal(payloads(link.sent), names(0, N));
  assert.is(session.pending.length, 0);
});

test('a read that finds the records not committed yet reads again later, and loses nothing', async () => {
  const N = HEAD_MAX_MESSAGES + 50;
  const { session, store } = offlineSession(N);
  store.committedUpTo = HEAD_MAX_MESSAGES; // the spilled ones still wait for their commit
  store.complete = false;
  const link = new FakeLink(HEAD_MAX_MESSAGES);
  session.resume(link);
  await ackAll(session, link, N, 5);
  assert.is(link.sent.length, HEAD_MAX_MESSAGES);
  assert.is(session.pending.length, 50, 'still counted while their commit is outstanding');
  store.committedUpTo = undefined;
  for (let t = 0; t < 100 && link.sent.length < N; t++) await new Promise((r) => setTimeout(r, 5));
  await ackAll(session, link, N);
  assert.equal(payloads(link.sent), names(0, N));
  assert.is(session.pending.length, 0);
});

test('records whose writes failed: once a read that misses nothing finds none, they stop counting (dropped)', async () => {
  const N = HEAD_MAX_MESSAGES + 30;
  const { session, store, counters } = offlineSession(N);
  for (let seq = HEAD_MAX_MESSAGES + 1; seq <= N; seq++) store.records.delete(seq); // the commit failed
  const link = new FakeLink(1024);
  session.resume(link);
  await ackAll(session, link, N, 10);
  assert.equal(payloads(link.sent), names(0, HEAD_MAX_MESSAGES));
  assert.is(session.pending.length, 0);
  assert.is(counters.dropped, 30);
});

test('a record restored in flight is passed over by the read, not delivered a second time', async () => {
  const store = new ScriptedStore();
  const counters = { dropped: 0, queueFull: 0, deliveriesWithheld: 0 };
  const session = new Session('c', 100_000, counters);
  session.hooks = store;
  // As Broker.restore puts them back: HEAD_MAX waiting, then one sent as QoS 2 with packet id 7 (out of order
  // after a crash), then more waiting.
  const restore = (i: number, packetId: number) => {
    const out: Outgoing = { msg: message(i), qos: packetId > 0 ? 2 : 1, retain: false, subscriptionIds: undefined, packetId, released: false, seq: 0 };
    store.stored(session, out);
    session.restoreOutgoing({ ...out });
  };
  for (let i = 0; i < HEAD_MAX_MESSAGES + 10; i++) restore(i, i === HEAD_MAX_MESSAGES + 3 ? 7 : 0);
  assert.equal([session.inflight.size, session.pending.length, session.pending.inMemory], [1, HEAD_MAX_MESSAGES + 9, HEAD_MAX_MESSAGES]);
  const link = new FakeLink(64);
  session.resume(link);
  // The one restored in flight stays unacknowledged while the rest is read back (its record is still there).
  for (let t = 0; t < 200 && session.pending.length > 0; t++) {
    for (const id of [...session.inflight.keys()]) if (id !== link.sent[0]!.packetId) session.complete(id);
    await settle();
  }
  for (const id of [...session.inflight.keys()]) session.complete(id);
  const sent = payloads(link.sent);
  assert.is(sent.filter((p) => p === `m${HEAD_MAX_MESSAGES + 3}`).length, 1);
  assert.is(sent.length, HEAD_MAX_MESSAGES + 10);
  assert.is(session.pending.length, 0);
});

test('a read still under way when the session ends is dropped', async () => {
  const { session, store } = offlineSession(HEAD_MAX_MESSAGES + 20);
  store.holdReads = true;
  const link = new FakeLink(HEAD_MAX_MESSAGES);
  session.resume(link);
  for (const id of [...session.inflight.keys()]) session.complete(id);
  assert.is(store.reads, 1);
  session.pending.clear();
  session.inflight.clear();
  store.release();
  await settle();
  assert.equal([session.pending.length, session.pending.inMemory, session.inflight.size], [0, 0, 0]);
});

test(`at most ${MAX_INFLIGHT} deliveries in flight, whatever the client's Receive Maximum`, async () => {
  const { session } = offlineSession(MAX_INFLIGHT + 100);
  const link = new FakeLink(65535); // an MQTT 3.1.1 client
  session.resume(link);
  for (let t = 0; t < 20; t++) await settle();
  assert.is(link.sent.length, MAX_INFLIGHT);
  assert.is(session.inflight.size, MAX_INFLIGHT);
  session.complete(link.sent[0]!.packetId);
  for (let t = 0; t < 20; t++) await settle();
  assert.is(link.sent.length, MAX_INFLIGHT + 1);
});

test.run();
