// /api/v1/queues over real HTTP: create, validation (the configuration file's rules and messages), conflicts,
// update of limits taking effect on publishers, delete, purge of a multi-window backlog, peek without consuming.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MqttClient } from 'mqtt';
import { AdminTestBed } from '../helpers/admin-test-bed.js';
import { collect } from '../helpers/mqttjs.js';
import { waitFor } from '../helpers/tools.js';
import { RawClient } from '../helpers/raw-client.js';
import type { IPubackPacket, IPublishPacket, Packet } from 'mqtt-packet';

const test = suite('admin: queues API');

const bed = new AdminTestBed();
test.before.each(async () => {
  await bed.start();
});
test.after.each(() => bed.stop());

/** Publishes `n` QoS 1 messages, up to 200 awaiting their PUBACK at a time (within the broker's Receive Maximum). */
async function publishMany(c: MqttClient, topic: string, n: number): Promise<void> {
  for (let at = 0; at < n; at += 200) {
    await Promise.all(Array.from({ length: Math.min(200, n - at) }, (_, i) => c.publishAsync(topic, `m${at + i}`, { qos: 1 })));
  }
}

test('create answers 201 with the queue in the file form, and it captures publishes at once', async () => {
  const r = await bed.tb.api('POST', '/api/v1/queues', { body: { name: 'orders', topicFilter: 'orders/#', retention: '7d', maxBytes: '1MiB' } });
  assert.is(r.status, 201);
  assert.is(r.headers.get('location'), '/api/v1/queues/orders');
  assert.is(r.body.settings.retention, '7d');
  assert.is(r.body.settings.maxBytes, 1048576);
  assert.is(r.body.settings.dispatch, 'least_inflight', 'omitted settings come from queues.defaults');
  const pub = await bed.client('pub');
  await pub.publishAsync('orders/1', 'one', { qos: 1 });
  const q = (await bed.tb.api('GET', '/api/v1/queues/orders')).body;
  assert.is(q.depth, 1);
  const list = (await bed.tb.api('GET', '/api/v1/queues')).body;
  assert.equal(list.queues.map((x: { name: string }) => x.name), ['orders']);
});

test('invalid input is a 400 naming every field with the configuration file wording', async () => {
  const r = await bed.tb.api('POST', '/api/v1/queues', { body: { name: 'bad name', topicFilter: 'a/#/b', maxMessages: -1, dispatch: 'fastest', colour: 'red' } });
  assert.is(r.status, 400);
  assert.equal(r.body.errors, [
    'colour: unknown key (allowed: name, topicFilter, type, key, dispatch, missingKey, consumerInflight, retention, maxMessages, maxBytes, overflow, maxDeliveries, deadLetter, redeliveryDelay, ackTimeout, maxInstances)',
    'topicFilter: must be a valid MQTT topic filter ("+" and "#" only as whole levels, "#" only last, not empty); got "a/#/b"',
    'name: must be a queue name of 1-255 letters, digits, "_", "-" or "."; got "bad name"',
    'dispatch: expected one of random, round_robin, least_inflight, hash_key; got "fastest"',
    'maxMessages: must be an integer 0-4294967295; got -1',
  ]);
  assert.is(r.body.error, r.body.errors.join('; '));
  const lv = await bed.tb.api('POST', '/api/v1/queues', { body: { topicFilter: 'cmd/#', type: 'lastvalue' } });
  assert.is(lv.status, 400);
  assert.match(lv.body.error, /^key: required for lastvalue queues/);
  const noFilter = await bed.tb.api('POST', '/api/v1/queues', { body: { name: 'x' } });
  assert.match(noFilter.body.error, /^topicFilter: required/);
  const dead = await bed.tb.api('POST', '/api/v1/queues', { body: { name: 'x', topicFilter: 'x/#', maxDeliveries: 3, deadLetter: 'nowhere' } });
  assert.is(dead.status, 400);
  assert.is(dead.body.error, 'deadLetter: no queue named "nowhere"');
});

test('bodies that are not JSON objects are refused with 400 or 415', async () => {
  const notJson = await fetch(bed.tb.adminUrl + '/api/v1/queues', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":' });
  assert.is(notJson.status, 400);
  assert.match(((await notJson.json()) as { error: string }).error, /^request body is not valid JSON/);
  const form = await fetch(bed.tb.adminUrl + '/api/v1/queues', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'name=x' });
  assert.is(form.status, 415);
  const list = await bed.tb.api('POST', '/api/v1/queues', { body: [1, 2] });
  assert.is(list.status, 400);
  assert.is(list.body.error, 'request body: expected a JSON object with at least topicFilter');
});

test('conflicts are 409, unknown queues 404, wrong methods 405 with Allow', async () => {
  assert.is((await bed.tb.api('POST', '/api/v1/queues', { body: { name: 'a', topicFilter: 'a/#' } })).status, 201);
  const sameName = await bed.tb.api('POST', '/api/v1/queues', { body: { name: 'a', topicFilter: 'other/#' } });
  assert.is(sameName.status, 409);
  assert.is(sameName.body.error, 'a queue named "a" already exists');
  const sameFilter = await bed.tb.api('POST', '/api/v1/queues', { body: { name: 'b', topicFilter: 'a/#' } });
  assert.is(sameFilter.status, 409);
  assert.is(sameFilter.body.error, 'topicFilter: "a/#" is already the filter of queue "a"');
  for (const [method, path] of [
    ['GET', '/api/v1/queues/nope'],
    ['PATCH', '/api/v1/queues/nope'],
    ['DELETE', '/api/v1/queues/nope'],
    ['POST', '/api/v1/queues/nope/purge'],
    ['GET', '/api/v1/queues/nope/messages'],
  ] as const) {
    const r = await bed.tb.api(method, path, method === 'PATCH' ? { body: {} } : {});
    assert.is(r.status, 404, `${method} ${path}`);
    assert.is(r.body.error, 'no queue named "nope"');
  }
  const put = await bed.tb.api('PUT', '/api/v1/queues/a');
  assert.is(put.status, 405);
  assert.is(put.headers.get('allow'), 'GET, PATCH, DELETE');
  assert.is((await bed.tb.api('GET', '/api/v1/nothing')).status, 404);
});

test('a template posted with a named level makes its instances on first publish; the list shows both', async () => {
  const r = await bed.tb.api('POST', '/api/v1/queues', { body: { topicFilter: 'lamps/{id}/cmd', maxInstances: 1 } });
  assert.is(r.status, 201);
  assert.equal(r.body.template, { name: 'lamps.{id}.cmd', topicFilter: 'lamps/{id}/cmd', maxInstances: 1, instances: 0, refused: 0, open: true });
  assert.is((await bed.tb.api('POST', '/api/v1/queues', { body: { topicFilter: 'lamps/{id}/cmd' } })).status, 409);
  const pub = await bed.client('pub');
  await pub.publishAsync('lamps/a/cmd', 'on', { qos: 1 });
  const over = await pub.publishAsync('lamps/b/cmd', 'on', { qos: 1 }).then(
    () => 0,
    (err: { code?: number }) => err.code,
  );
  assert.is(over, 0x97);
  const list = (await bed.tb.api('GET', '/api/v1/queues')).body;
  assert.equal(list.queues.map((x: { name: string; template: string | null; depth: number }) => [x.name, x.template, x.depth]), [['lamps.a.cmd', 'lamps.{id}.cmd', 1]]);
  assert.is(list.templates[0].refused, 1);
  const one = (await bed.tb.api('GET', '/api/v1/queues/lamps.a.cmd')).body;
  assert.equal(one.settings.templateValues, { id: 'a' });
});

test('update changes limits that publishers feel at once; identity fields cannot change', async () => {
  await bed.tb.api('POST', '/api/v1/queues', { body: { name: 'capped', topicFilter: 'capped/#' } });
  const r = await bed.tb.api('PATCH', '/api/v1/queues/capped', { body: { maxMessages: 2, overflow: 'reject', ackTimeout: '30s' } });
  assert.is(r.status, 200);
  assert.is(r.body.settings.maxMessages, 2);
  assert.is(r.body.settings.ackTimeout, '30s');
  const pub = await bed.client('pub');
  await publishMany(pub, 'capped/x', 2);
  const third = await pub.publishAsync('capped/x', 'over', { qos: 1 }).then(
    () => 0,
    (err: { code?: number }) => err.code,
  );
  assert.is(third, 0x97, 'Quota exceeded once the queue holds maxMessages');
  const q = (await bed.tb.api('GET', '/api/v1/queues/capped')).body;
  assert.is(q.depth, 2);
  assert.is(q.counters.publishRejected, 1);
  const type = await bed.tb.api('PATCH', '/api/v1/queues/capped', { body: { type: 'lastvalue', topicFilter: 'other/#' } });
  assert.is(type.status, 400);
  assert.equal(type.body.errors, [
    'topicFilter: cannot be changed on an existing queue (delete it and create it again)',
    'type: cannot be changed on an existing queue (delete it and create it again)',
  ]);
  const bad = await bed.tb.api('PATCH', '/api/v1/queues/capped', { body: { consumerInflight: 0 } });
  assert.is(bad.status, 400);
  assert.is(bad.body.error, 'consumerInflight: must be an integer 1-65535; got 0');
});

test('dead letters always have somewhere to go: no circles, and a queue others dead-letter into is not deleted', async () => {
  const post = (body: Record<string, unknown>) => bed.tb.api('POST', '/api/v1/queues', { body });
  assert.is((await post({ name: 'dl-b', topicFilter: 'dlb/#' })).status, 201);
  assert.is((await post({ name: 'dl-a', topicFilter: 'dla/#', maxDeliveries: 2, deadLetter: 'dl-b' })).status, 201);
  const loop = await bed.tb.api('PATCH', '/api/v1/queues/dl-b', { body: { maxDeliveries: 2, deadLetter: 'dl-a' } });
  assert.is(loop.status, 400);
  assert.is(loop.body.error, 'deadLetter: dead letters would go round in a circle: dl-b -> dl-a -> dl-b');
  assert.is((await bed.tb.api('GET', '/api/v1/queues/dl-b')).body.deadLetter, undefined, 'the refused update changed nothing');
  const del = await bed.tb.api('DELETE', '/api/v1/queues/dl-b');
  assert.is(del.status, 409);
  assert.match(del.body.error, /"dl-b" is the deadLetter of "dl-a"/);
  assert.is((await bed.tb.api('DELETE', '/api/v1/queues/dl-a')).status, 200);
  assert.is((await bed.tb.api('DELETE', '/api/v1/queues/dl-b')).status, 200, 'deletable once nothing dead-letters into it');
});

test('peek shows the first messages without consuming them', async () => {
  await bed.tb.api('POST', '/api/v1/queues', { body: { name: 'peeked', topicFilter: 'peek/#', consumerInflight: 1 } });
  const pub = await bed.client('pub');
  for (let i = 0; i < 5; i++) await pub.publishAsync(`peek/${i}`, i === 4 ? Buffer.from([0xff, 0x00, 0xfe]) : `payload ${i}`, { qos: 1 });
  const r = await bed.tb.api('GET', '/api/v1/queues/peeked/messages?limit=3');
  assert.is(r.status, 200);
  assert.equal(r.body.messages.map((m: { topic: string; payload: string }) => [m.topic, m.payload]), [
    ['peek/0', 'payload 0'],
    ['peek/1', 'payload 1'],
    ['peek/2', 'payload 2'],
  ]);
  assert.is(r.body.messages[0].deliveryCount, 0);
  const all = (await bed.tb.api('GET', '/api/v1/queues/peeked/messages?limit=10')).body.messages;
  assert.equal([all[4].encoding, all[4].payload], ['base64', Buffer.from([0xff, 0x00, 0xfe]).toString('base64')]);
  assert.is((await bed.tb.api('GET', '/api/v1/queues/peeked')).body.depth, 5, 'peeking removed nothing');
  assert.is((await bed.tb.api('GET', '/api/v1/queues/peeked/messages?limit=0')).status, 400);
  const sub = await bed.client('consumer');
  const got = collect(sub);
  await sub.subscribeAsync('$queue/peeked', { qos: 1 });
  await got.waitCount(5);
  assert.equal(got.messages.slice(0, 4).map((m) => m.payload), ['payload 0', 'payload 1', 'payload 2', 'payload 3'], 'a consumer still gets every message, in order');
});

test('purge removes a backlog larger than the in-memory window, streaming progress when asked', async () => {
  await bed.tb.api('POST', '/api/v1/queues', { body: { name: 'big', topicFilter: 'big/#' } });
  const pub = await bed.client('pub');
  await publishMany(pub, 'big/x', 1500);
  assert.is((await bed.tb.api('GET', '/api/v1/queues/big')).body.depth, 1500);
  const res = await fetch(bed.tb.adminUrl + '/api/v1/queues/big/purge', { method: 'POST', headers: { accept: 'application/x-ndjson' } });
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /application\/x-ndjson/);
  const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l) as { purged: number; remaining: number; done: boolean });
  const last = lines[lines.length - 1]!;
  assert.equal(last, { queue: 'big', purged: 1500, remaining: 0, inflight: 0, done: true });
  assert.ok(lines.length >= 2, 'at least one progress line before the result');
  assert.is(lines[0]!.purged > 0 && lines[0]!.purged < 1500, true, `progress after the first window: ${JSON.stringify(lines[0])}`);
  for (const l of lines.slice(0, -1)) assert.is(l.done, false);
  const q = (await bed.tb.api('GET', '/api/v1/queues/big')).body;
  assert.is(q.depth, 0);
  assert.is(q.depthBytes, 0);
  assert.is(q.counters.dropped, 1500);
  await bed.tb.broker.persistence!.store.flush();
  assert.equal(await bed.tb.broker.persistence!.store.readQueueMessages(bed.tb.broker.queues!.queueByName('big')!.id, { limit: 10 }), [], 'gone from the store');
  // A purge leaves messages in flight to their consumers.
  await publishMany(pub, 'big/x', 3);
  const sub = await bed.client('worker');
  await sub.subscribeAsync('$queue/big', { qos: 1 });
  await waitFor(() => bed.tb.broker.queues!.queueByName('big')!.depth === 0, 3000, 'the new messages consumed');
  const again = await bed.tb.api('POST', '/api/v1/queues/big/purge');
  assert.equal(again.body, { queue: 'big', purged: 0, remaining: 0, inflight: 0, done: true });
});

test('purge of a last-value queue without consumers reads its keys off the disk window by window', async () => {
  await bed.tb.api('POST', '/api/v1/queues', { body: { name: 'latest', topicFilter: 'latest/+', type: 'lastvalue', key: 'topicLevel:1' } });
  const pub = await bed.client('pub');
  for (let at = 0; at < 700; at += 200) {
    await Promise.all(Array.from({ length: Math.min(200, 700 - at) }, (_, i) => pub.publishAsync(`latest/k${at + i}`, 'v1', { qos: 1 })));
  }
  await pub.publishAsync('latest/k0', 'v2', { qos: 1 });
  let q = (await bed.tb.api('GET', '/api/v1/queues/latest')).body;
  assert.is(q.depth, 700, 'one message per key');
  assert.is(q.counters.superseded, 1);
  const r = await bed.tb.api('POST', '/api/v1/queues/latest/purge');
  assert.equal(r.body, { queue: 'latest', purged: 700, remaining: 0, inflight: 0, done: true });
  q = (await bed.tb.api('GET', '/api/v1/queues/latest')).body;
  assert.is(q.depth, 0);
  await pub.publishAsync('latest/k0', 'v3', { qos: 1 });
  assert.is((await bed.tb.api('GET', '/api/v1/queues/latest')).body.depth, 1, 'a purged key starts again');
});

test('purge leaves deliveries in flight to their consumer', async () => {
  await bed.tb.api('POST', '/api/v1/queues', { body: { name: 'busy', topicFilter: 'busy/#', consumerInflight: 2 } });
  const pub = await bed.client('pub');
  await publishMany(pub, 'busy/x', 10);
  const { client: worker } = await RawClient.connected(bed.tb.port, { clientId: 'slow-worker' });
  try {
    worker.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$queue/busy', qos: 1 }] } as Packet);
    const held: IPublishPacket[] = [];
    while (held.length < 2) {
      const p = await worker.next();
      if (p.cmd === 'publish') held.push(p as IPublishPacket);
    }
    const r = await bed.tb.api('POST', '/api/v1/queues/busy/purge');
    assert.equal(r.body, { queue: 'busy', purged: 8, remaining: 0, inflight: 2, done: true });
    assert.is((await bed.tb.api('GET', '/api/v1/queues/busy')).body.depth, 2);
    for (const p of held) worker.send({ cmd: 'puback', messageId: p.messageId!, reasonCode: 0 } as Packet);
    await waitFor(() => bed.tb.broker.queues!.queueByName('busy')!.depth === 0, 3000, 'acknowledged');
    assert.equal(held.map((p) => p.payload.toString()), ['m0', 'm1']);
  } finally {
    worker.end();
  }
});

test('delete removes the queue and its messages; its topic is no longer captured', async () => {
  await bed.tb.api('POST', '/api/v1/queues', { body: { name: 'gone', topicFilter: 'gone/#' } });
  const pub = await bed.client('pub');
  await publishMany(pub, 'gone/x', 4);
  const r = await bed.tb.api('DELETE', '/api/v1/queues/gone');
  assert.equal(r.body, { name: 'gone', deleted: true, messagesDeleted: 4 });
  assert.is((await bed.tb.api('GET', '/api/v1/queues/gone')).status, 404);
  const { client: raw } = await RawClient.connected(bed.tb.port, { clientId: 'raw-pub' });
  try {
    raw.send({ cmd: 'publish', topic: 'gone/x', payload: Buffer.from('after'), qos: 1, messageId: 7, retain: false, dup: false } as Packet);
    const puback = (await raw.next('puback')) as IPubackPacket;
    assert.is(puback.reasonCode, 0x10, 'No matching subscribers: nothing captures it now');
  } finally {
    raw.end();
  }
});

test.run();
