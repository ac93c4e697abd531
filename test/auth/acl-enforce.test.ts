// ACL enforcement in the broker (auth.aclFile), with raw packets for the exact reason codes and MQTT.js for
// deliveries: PUBLISH (5.0 0x87, 3.1.1 acknowledged and dropped), SUBSCRIBE (0x87 / 0x80), wildcard
// subscriptions that must not leak a denied topic, denied retained messages, $SYS, shared subscriptions and
// each queue form with and without consume/create. "Not delivered" is proven by a later allowed message.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IPubackPacket, IPubrecPacket, ISubackPacket, Packet } from 'mqtt-packet';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { collect, connectClient, endClient } from '../helpers/mqttjs.js';
import { RawClient } from '../helpers/raw-client.js';
import { reloadAuth } from '../../src/auth/reload.js';

const test = suite('auth: ACL enforcement');

const ACL = `
topic read public/#

user writer
topic write #
topic write $SYS/fake
topic readwrite plant/#

user reader
topic read plant/#
topic deny plant/secret/#
topic read $SYS/broker/#

user worker
queue consume jobs
queue all work-%u
topic read #

user nobody
topic read nothing/here
`;

let dir = '';
let tb: TestBroker;

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wharf-acl-'));
  const aclFile = join(dir, 'acl');
  writeFileSync(aclFile, ACL);
  tb = await startBroker({}, (c) => {
    c.auth.aclFile = aclFile;
    c.queues.definitions.push({ ...c.queues.defaults, name: 'jobs', topicFilter: 'jobs/#' });
  });
});
test.after(async () => {
  await tb.stop();
  rmSync(dir, { recursive: true, force: true });
});

let nextId = 1;
async function raw(username: string | undefined, version: 4 | 5 = 5): Promise<RawClient> {
  const { client, connack } = await RawClient.connected(tb.port, { clientId: `raw-${nextId++}`, ...(username ? { username } : {}) }, version);
  assert.is((connack as { reasonCode?: number; returnCode?: number }).reasonCode ?? (connack as { returnCode?: number }).returnCode, 0);
  return client;
}

async function subscribe(c: RawClient, topic: string, qos: 0 | 1 = 1): Promise<number> {
  const messageId = nextId++;
  c.send({ cmd: 'subscribe', messageId, subscriptions: [{ topic, qos }] } as Packet);
  const suback = (await c.next('suback')) as ISubackPacket;
  return suback.granted[0] as number;
}

test('a PUBLISH the user may not write: PUBACK and PUBREC 0x87 on 5.0', async () => {
  const c = await raw('reader');
  c.send({ cmd: 'publish', topic: 'plant/a', payload: Buffer.from('x'), qos: 1, messageId: 10, retain: false, dup: false });
  assert.is(((await c.next('puback')) as IPubackPacket).reasonCode, 0x87);
  c.send({ cmd: 'publish', topic: 'plant/a', payload: Buffer.from('x'), qos: 2, messageId: 11, retain: false, dup: false });
  assert.is(((await c.next('pubrec')) as IPubrecPacket).reasonCode, 0x87);
  c.end();
});

test('3.1.1: a denied PUBLISH is acknowledged and dropped', async () => {
  const sub = await connectClient(tb.url, { username: 'reader', clientId: 'r311' });
  const got = collect(sub);
  await sub.subscribeAsync('plant/#', { qos: 1 });
  const c = await raw('reader', 4);
  c.send({ cmd: 'publish', topic: 'plant/a', payload: Buffer.from('denied'), qos: 1, messageId: 12, retain: false, dup: false });
  const ack = (await c.next('puback')) as IPubackPacket;
  assert.is(ack.messageId, 12);
  const w = await connectClient(tb.url, { username: 'writer', clientId: 'w311' });
  await w.publishAsync('plant/a', 'allowed', { qos: 1 });
  await got.waitCount(1);
  assert.equal(
    got.messages.map((m) => m.payload),
    ['allowed'],
  );
  c.end();
  await endClient(w);
  await endClient(sub);
});

test('SUBSCRIBE outside the read rules: 0x87 on 5.0, 0x80 on 3.1.1; inside: granted', async () => {
  const c5 = await raw('reader');
  assert.is(await subscribe(c5, 'other/#'), 0x87);
  assert.is(await subscribe(c5, '#'), 0x87);
  assert.is(await subscribe(c5, 'plant/secret/#'), 0x87);
  assert.is(await subscribe(c5, 'plant/#'), 1);
  c5.end();
  const c4 = await raw('reader', 4);
  assert.is(await subscribe(c4, 'other/#'), 0x80);
  assert.is(await subscribe(c4, 'plant/+'), 1);
  c4.end();
});

test('a granted wildcard subscription never delivers a denied topic, live or retained', async () => {
  const w = await connectClient(tb.url, { username: 'writer', clientId: 'w-leak' });
  await w.publishAsync('plant/secret/key', 'retained secret', { qos: 1, retain: true });
  await w.publishAsync('plant/open', 'retained open', { qos: 1, retain: true });
  const r = await connectClient(tb.url, { username: 'reader', clientId: 'r-leak' });
  const got = collect(r);
  await r.subscribeAsync('plant/#', { qos: 1 });
  await got.waitCount(1);
  await w.publishAsync('plant/secret/key', 'live secret', { qos: 1 });
  await w.publishAsync('plant/after', 'marker', { qos: 1 });
  await got.waitCount(2);
  assert.equal(
    got.messages.map((m) => m.payload),
    ['retained open', 'marker'],
  );
  await w.publishAsync('plant/secret/key', '', { qos: 1, retain: true });
  await w.publishAsync('plant/open', '', { qos: 1, retain: true });
  await endClient(w);
  await endClient(r);
});

test('$SYS: only readable when granted; a # rule does not reach it; nobody may publish into $SYS by an ACL of #', async () => {
  const r = await raw('reader');
  assert.is(await subscribe(r, '$SYS/broker/#'), 1);
  assert.is(await subscribe(r, '$SYS/#'), 0x87);
  r.end();
  const wk = await raw('worker');
  assert.is(await subscribe(wk, '$SYS/broker/uptime'), 0x87);
  wk.end();
});

test('shared subscriptions are checked on their topic filter', async () => {
  const c = await raw('reader');
  assert.is(await subscribe(c, '$share/g/plant/#'), 1);
  assert.is(await subscribe(c, '$share/g/other/#'), 0x87);
  c.end();
});

test('anonymous clients get the rules before the first user line', async () => {
  const c = await raw(undefined);
  assert.is(await subscribe(c, 'public/#'), 1);
  assert.is(await subscribe(c, 'plant/#'), 0x87);
  c.send({ cmd: 'publish', topic: 'public/x', payload: Buffer.from('x'), qos: 1, messageId: 13, retain: false, dup: false });
  assert.is(((await c.next('puback')) as IPubackPacket).reasonCode, 0x87);
  c.end();
});

test('queues: consume needs the right; auto-creating needs create too; nothing is created on refusal', async () => {
  const queues = tb.broker.queues!;
  const worker = await raw('worker');
  assert.is(await subscribe(worker, '$queue/jobs'), 1);
  assert.is(await subscribe(worker, '$q/jobs/#'), 1, '$q/ names the declared queue by its filter');
  assert.is(await subscribe(worker, '$queue/work-worker/w/#'), 1, 'created under queue all work-%u');
  assert.ok(queues.queueByName('work-worker'));
  assert.is(await subscribe(worker, '$queue/other/o/#'), 0x87);
  assert.is(queues.queueByName('other'), undefined);
  assert.is(await subscribe(worker, '$q/free/#'), 0x87);
  worker.end();
  const nobody = await raw('nobody');
  assert.is(await subscribe(nobody, '$queue/jobs'), 0x87);
  assert.is(await subscribe(nobody, '$q/jobs/#'), 0x87);
  nobody.end();
  const anon311 = await raw(undefined, 4);
  assert.is(await subscribe(anon311, '$queue/jobs'), 0x80);
  anon311.end();
});

test('a message enters a queue only through a publish the user may make', async () => {
  const queue = tb.broker.queues!.queueByName('jobs')!;
  const before = queue.depth;
  const c = await raw('reader');
  c.send({ cmd: 'publish', topic: 'jobs/1', payload: Buffer.from('x'), qos: 1, messageId: 14, retain: false, dup: false });
  assert.is(((await c.next('puback')) as IPubackPacket).reasonCode, 0x87);
  assert.is(queue.depth, before);
  const w = await raw('writer');
  w.send({ cmd: 'publish', topic: 'jobs/1', payload: Buffer.from('x'), qos: 1, messageId: 15, retain: false, dup: false });
  assert.is(((await w.next('puback')) as IPubackPacket).reasonCode, 0);
  assert.is(queue.depth, before + 1);
  c.end();
  w.end();
});

test('a will on a topic the user may not write is refused at CONNECT with 0x87', async () => {
  const { client, connack } = await RawClient.connected(tb.port, { clientId: 'will-1', username: 'reader', will: { topic: 'plant/x', payload: Buffer.from('bye'), qos: 0, retain: false } });
  assert.is((connack as { reasonCode?: number }).reasonCode, 0x87);
  client.end();
});

test('a session resumed by another user name starts clean; one resumed by its user keeps only what it may still subscribe', async () => {
  const persistent = (username: string) => RawClient.connected(tb.port, { clientId: 'shared-id', clean: false, username, properties: { sessionExpiryInterval: 600 } });
  let { client, connack } = await persistent('worker');
  assert.is(await subscribe(client, 'plant/#'), 1);
  assert.is(await subscribe(client, '$queue/work-worker'), 1);
  client.end();
  await client.closed;
  ({ client, connack } = await persistent('worker'));
  assert.is((connack as { sessionPresent: boolean }).sessionPresent, true);
  client.end();
  await client.closed;
  // Another user with the same client identifier: no session handed over.
  ({ client, connack } = await persistent('reader'));
  assert.is((connack as { sessionPresent: boolean }).sessionPresent, false);
  assert.equal([...tb.broker.sessions.byClientId.get('shared-id')!.subscriptions.keys()], []);
  assert.is(await subscribe(client, 'plant/#'), 1);
  assert.is(await subscribe(client, '$share/g/plant/#'), 1);
  client.end();
  await client.closed;
  // The rules change under the session (SIGHUP): on its return the subscriptions no longer allowed go.
  writeFileSync(tb.config.auth.aclFile!, `${ACL}\nuser reader\ntopic read plant/a/#\n`.replace('topic read plant/#\n', ''));
  reloadAuth(tb.broker);
  try {
    ({ client, connack } = await persistent('reader'));
    assert.is((connack as { sessionPresent: boolean }).sessionPresent, true);
    assert.equal([...tb.broker.sessions.byClientId.get('shared-id')!.subscriptions.keys()], []);
    client.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } } as Packet);
    await client.closed;
  } finally {
    writeFileSync(tb.config.auth.aclFile!, ACL);
    reloadAuth(tb.broker);
  }
});

test.run();
