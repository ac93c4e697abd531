// The owner recorded with a persistent session (SessionState.username) in a real store: a user name, null for an
// anonymous client, and nothing at all in a record written before owners were recorded, which still loads; such
// a session is resumed by the client that comes back and its queued messages are checked against its rules.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { defaultConfig } from '../../src/config/types.js';
import { openConfiguredStore } from '../../src/store/open-configured.js';
import type { SessionState, StoredMessage } from '../../src/store/types.js';
import { newDataDir, removeDataDir, startBrokerOn } from '../helpers/durable-broker.js';
import { collect, endClient } from '../helpers/mqttjs.js';

const test = suite('auth: session owner in the store');

function openStore(dataDir: string) {
  const config = defaultConfig();
  config.storage.dataDir = dataDir;
  config.storage.minFreeDiskBytes = 0;
  return openConfiguredStore(config.storage);
}

const session = (clientId: string, username?: string | null): SessionState => ({
  clientId,
  protocolVersion: 5,
  sessionExpiryInterval: 3600,
  disconnectedAt: Date.now(),
  subscriptions: [{ topicFilter: 'plant/#', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: undefined }],
  ...(username === undefined ? {} : { username }),
});

const message = (topic: string, payload: string): StoredMessage => ({ topic, payload: Buffer.from(payload), qos: 1, retain: false, properties: undefined, expiresAt: 0, origin: 'writer-1' });

test('a user name, null (anonymous) and no owner at all (an older record) come back as written', async () => {
  const dataDir = newDataDir('wharf-owner-');
  try {
    let store = await openStore(dataDir);
    await store.saveSession(session('older'));
    await store.saveSession(session('anonymous', null));
    await store.saveSession(session('named', 'reader'));
    await store.close();
    store = await openStore(dataDir);
    const byId = new Map((await store.loadSessions()).map((s) => [s.clientId, s]));
    await store.close();
    assert.not.ok('username' in byId.get('older')!, 'an older record has no owner: not "anonymous"');
    assert.is(byId.get('anonymous')!.username, null);
    assert.is(byId.get('named')!.username, 'reader');
    assert.equal(byId.get('named')!.subscriptions, session('x').subscriptions);
  } finally {
    removeDataDir(dataDir);
  }
});

test('a session from an older record is resumed by its client; what it queued is checked against that client', async () => {
  const dataDir = newDataDir('wharf-owner-');
  const aclPath = join(dataDir, 'acl');
  writeFileSync(aclPath, 'user reader\ntopic read plant/#\ntopic deny plant/secret/#\n');
  try {
    const store = await openStore(dataDir);
    await store.saveSession(session('older'));
    for (const [topic, payload] of [
      ['plant/secret/key', 'secret'],
      ['plant/open/a', 'open'],
    ] as const) {
      await store.appendSessionMessage('older', { message: message(topic, payload), qos: 1, retain: false, subscriptionIds: undefined, packetId: 0, released: false }).durable;
    }
    await store.close();
    let db = await startBrokerOn(dataDir, {}, (c) => (c.auth.aclFile = aclPath));
    try {
      const restored = db.broker.sessions.byClientId.get('older')!;
      assert.is(restored.username, undefined);
      assert.is(restored.acl, null, 'no owner known: no rules to apply before its client returns');
      const c = mqtt.connect(db.url, { reconnectPeriod: 0, protocolVersion: 5, clientId: 'older', username: 'reader', clean: false, properties: { sessionExpiryInterval: 3600 } });
      const got = collect(c);
      const connack = await new Promise<{ sessionPresent: boolean }>((resolve, reject) => {
        c.once('connect', (p) => resolve(p));
        c.once('error', reject);
      });
      assert.is(connack.sessionPresent, true, 'an unknown owner is not taken for another user');
      await got.waitCount(1);
      assert.equal(
        got.messages.map((m) => m.payload),
        ['open'],
      );
      assert.is(db.broker.stats.deliveriesWithheld, 1);
      await endClient(c);
    } finally {
      await db.stop();
    }
    // Its record now names the owner.
    db = await startBrokerOn(dataDir, {}, (c) => (c.auth.aclFile = aclPath));
    try {
      const s = db.broker.sessions.byClientId.get('older')!;
      assert.is(s.username, 'reader');
      assert.ok(s.acl !== null && s.acl.username === 'reader', "restored with its owner's rules");
    } finally {
      await db.stop();
    }
  } finally {
    removeDataDir(dataDir);
  }
});

test.run();
