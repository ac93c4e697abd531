// The ACL where one message is given to one of several receivers: a shared subscription group only chooses a
// member that may read the topic (none may: the message goes to no member, counted), and a queue consumer whose
// `consume` right a reload took away stops consuming at once (its subscription goes, others get the messages).

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions } from 'mqtt';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { collect, connectClient, endClient } from '../helpers/mqttjs.js';
import { reloadAuth } from '../../src/auth/reload.js';

const test = suite('auth: shared groups and queue consumers under the ACL');

const ACL = `
user full
topic read plant/#

user partial
topic read plant/#
topic deny plant/secret/#

user writer
topic write #

user worker
queue consume jobs
`;

let dir = '';
let aclPath = '';
let tb: TestBroker;

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wharf-acl-shared-'));
  aclPath = join(dir, 'acl');
  writeFileSync(aclPath, ACL);
  tb = await startBroker({}, (c) => {
    c.auth.aclFile = aclPath;
    c.queues.definitions.push({ ...c.queues.defaults, name: 'jobs', topicFilter: 'jobs/#' });
  });
});
test.after(async () => {
  await tb.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A connected client collecting what it gets (the collector is in place before CONNACK). */
async function client(opts: IClientOptions) {
  const c = mqtt.connect(tb.url, { reconnectPeriod: 0, connectTimeout: 3000, protocolVersion: 5, ...opts });
  const got = collect(c);
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  return { c, got };
}

test('a group member that may not read the topic is never chosen for it: the member that may gets every one', async () => {
  const full = await client({ username: 'full', clientId: 'g-full' });
  const partial = await client({ username: 'partial', clientId: 'g-partial' });
  await full.c.subscribeAsync('$share/g/plant/#', { qos: 1 });
  await partial.c.subscribeAsync('$share/g/plant/#', { qos: 1 });
  const w = await connectClient(tb.url, { username: 'writer', clientId: 'g-writer' });
  const n = 20;
  // Secrets in a row, so that a plain round robin could not happen to give them all to "full".
  for (let i = 0; i < n; i++) await w.publishAsync(`plant/secret/${i}`, `s${i}`, { qos: 1 });
  for (let i = 0; i < n; i++) await w.publishAsync(`plant/open/${i}`, `o${i}`, { qos: 1 });
  // Round robin over both members would hand about half the secrets to "partial", where the ACL drops them.
  await waitUntil(() => full.got.messages.length + partial.got.messages.length === 2 * n, 'every message delivered to one member');
  assert.is(full.got.messages.filter((m) => m.topic.startsWith('plant/secret/')).length, n);
  assert.is(partial.got.messages.filter((m) => m.topic.startsWith('plant/secret/')).length, 0);
  assert.ok(partial.got.messages.length > 0, 'partial still takes its share of plant/open/#');
  await endClient(full.c);
  await endClient(partial.c);
  await endClient(w);
});

test('an offline member that may read is chosen over a connected one that may not', async () => {
  const opts = { username: 'full', clientId: 'g2-full', clean: false, properties: { sessionExpiryInterval: 600 } };
  const full = await client(opts);
  await full.c.subscribeAsync('$share/g2/plant/#', { qos: 1 });
  await endClient(full.c);
  const partial = await client({ username: 'partial', clientId: 'g2-partial' });
  await partial.c.subscribeAsync('$share/g2/plant/#', { qos: 1 });
  const w = await connectClient(tb.url, { username: 'writer', clientId: 'g2-writer' });
  await w.publishAsync('plant/secret/kept', 'for full', { qos: 1 });
  assert.is(tb.broker.sessions.byClientId.get('g2-full')!.pending.length, 1);
  const back = await client(opts);
  await back.got.waitCount(1);
  assert.is(back.got.messages[0]!.payload, 'for full');
  await endClient(back.c);
  await endClient(partial.c);
  await endClient(w);
});

test('a group whose members may not read the topic does not get the message: counted, later ones still flow', async () => {
  const partial = await client({ username: 'partial', clientId: 'g3-partial' });
  await partial.c.subscribeAsync('$share/g3/plant/#', { qos: 1 });
  const before = tb.broker.stats.sharedGroupDenied;
  const w = await connectClient(tb.url, { username: 'writer', clientId: 'g3-writer' });
  await w.publishAsync('plant/secret/x', 'nobody', { qos: 1 });
  await w.publishAsync('plant/open/x', 'marker', { qos: 1 });
  await partial.got.waitCount(1);
  assert.equal(
    partial.got.messages.map((m) => m.payload),
    ['marker'],
  );
  assert.is(tb.broker.stats.sharedGroupDenied, before + 1);
  await endClient(partial.c);
  await endClient(w);
});

test('a reload that takes away consume stops the consumer at once; the queue keeps the message for another', async () => {
  const queue = tb.broker.queues!.queueByName('jobs')!;
  const worker = await client({ username: 'worker', clientId: 'q-worker' });
  await worker.c.subscribeAsync('$queue/jobs', { qos: 1 });
  const w = await connectClient(tb.url, { username: 'writer', clientId: 'q-writer' });
  await w.publishAsync('jobs/1', 'before', { qos: 1 });
  await worker.got.waitCount(1);
  assert.is(queue.consumers.length, 1);
  writeFileSync(aclPath, ACL.replace('queue consume jobs', ''));
  try {
    reloadAuth(tb.broker);
    assert.is(queue.consumers.length, 0, 'the consumer is gone');
    assert.not.ok(tb.broker.sessions.byClientId.get('q-worker')!.subscriptions.has('$queue/jobs'));
    await w.publishAsync('jobs/2', 'after', { qos: 1 });
    await waitUntil(() => queue.depth === 1, 'jobs/2 waiting in the queue');
    // Given back, the right lets a new consumer take what waited; the one that lost it got nothing more.
    writeFileSync(aclPath, ACL);
    reloadAuth(tb.broker);
    const other = await client({ username: 'worker', clientId: 'q-worker-2' });
    await other.c.subscribeAsync('$queue/jobs', { qos: 1 });
    await other.got.waitCount(1);
    assert.is(other.got.messages[0]!.payload, 'after');
    assert.equal(
      worker.got.messages.map((m) => m.payload),
      ['before'],
    );
    await endClient(other.c);
  } finally {
    writeFileSync(aclPath, ACL);
    reloadAuth(tb.broker);
  }
  await endClient(worker.c);
  await endClient(w);
});

async function waitUntil(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test.run();
