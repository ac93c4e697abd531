// BrokerPersistence.done(): a turn's finished messages leave the store as one operation per session at the end of
// the turn, and never touch a newer session that took the client identifier meanwhile.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig } from '../../src/config/types.js';
import { silentLogger } from '../../src/log/logger.js';
import { openConfiguredStore } from '../../src/store/open-configured.js';
import type { Store } from '../../src/store/store.js';
import { BrokerPersistence } from '../../src/broker/persistence.js';
import { Session, type Outgoing } from '../../src/broker/session.js';

const test = suite('persistence: removals of finished messages');

async function withStore(fn: (store: Store, persistence: BrokerPersistence) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-removals-'));
  const storage = defaultConfig().storage;
  storage.dataDir = dir;
  storage.minFreeDiskBytes = 0;
  const store = await openConfiguredStore(storage);
  try {
    await fn(store, new BrokerPersistence(store, silentLogger));
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const counters = () => ({ dropped: 0, queueFull: 0, deliveriesWithheld: 0 });

const outgoing = (i: number): Outgoing => ({
  msg: { topic: 't', payload: Buffer.from(`m${i}`), qos: 1, retain: false, properties: undefined, expiresAt: 0, origin: 'p' },
  qos: 1,
  retain: false,
  subscriptionIds: undefined,
  packetId: 0,
  released: false,
  seq: 0,
});

/** A saved session with `n` stored messages, all in this turn; `settled` once they are durable. */
function sessionWith(persistence: BrokerPersistence, n: number): { session: Session; outs: Outgoing[]; settled: Promise<unknown> } {
  const session = new Session('c', 1000, counters());
  session.expiryInterval = 60;
  session.hooks = persistence;
  const saved = persistence.saveSession(session, false);
  const outs: Outgoing[] = [];
  persistence.begin();
  for (let i = 0; i < n; i++) {
    const out = outgoing(i);
    assert.ok(persistence.stored(session, out));
    outs.push(out);
  }
  return { session, outs, settled: Promise.all([saved, persistence.finish()]) };
}

const stored = async (store: Store, clientId = 'c') => {
  await store.flush();
  return (await store.loadSessionMessages(clientId)).map((m) => m.message.payload.toString());
};

test("a turn's finished messages are removed at its end, the others stay", async () => {
  await withStore(async (store, persistence) => {
    const { session, outs, settled } = sessionWith(persistence, 5);
    await settled;
    for (const i of [0, 1, 3]) persistence.done(session, outs[i]!);
    await new Promise((r) => setImmediate(r));
    assert.equal(await stored(store), ['m2', 'm4']);
  });
});

test('a session ended in the same turn: its pending removals do not reach the new session with that client id', async () => {
  await withStore(async (store, persistence) => {
    const old = sessionWith(persistence, 2);
    await old.settled;
    persistence.done(old.session, old.outs[0]!);
    persistence.done(old.session, old.outs[1]!);
    // Clean start in the same turn: the old session goes (SessionRegistry.end), a new one stores its messages.
    persistence.deleteSession('c');
    old.session.hooks = null;
    const fresh = sessionWith(persistence, 2);
    persistence.flushRemovals();
    await fresh.settled;
    assert.equal(fresh.outs.map((o) => o.seq), old.outs.map((o) => o.seq), 'the same sequence numbers');
    assert.equal(await stored(store), ['m0', 'm1'], "the new session's messages stay");
  });
});

test.run();
