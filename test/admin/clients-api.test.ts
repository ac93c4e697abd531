// /api/v1/clients, /api/v1/sessions and /api/v1/retained over real HTTP with MQTT.js clients.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AdminTestBed } from '../helpers/admin-test-bed.js';
import { collect } from '../helpers/mqttjs.js';
import { waitFor } from '../helpers/tools.js';
import type { Message } from '../../src/protocol/message.js';

const test = suite('admin: clients, sessions, retained API');

const bed = new AdminTestBed();
test.before.each(async () => {
  await bed.start();
});
test.after.each(() => bed.stop());

/** A QoS 0 message for asking the router how many sessions a topic reaches. */
const probe = (topic: string): Message => ({ topic, payload: Buffer.from('probe'), qos: 0, retain: false, properties: undefined, expiresAt: 0, origin: 'admin-test' });

test('clients lists connected clients with their subscriptions; show gives the details', async () => {
  const a = await bed.client('sensor-a');
  await a.subscribeAsync('cmd/a/#', { qos: 1 });
  await bed.client('sensor b/ü', { protocolVersion: 4 });
  const list = (await bed.tb.api('GET', '/api/v1/clients')).body.clients as Array<Record<string, unknown>>;
  assert.equal(list.map((c) => [c.clientId, c.protocol, c.subscriptions, c.connected]), [
    ['sensor-a', '5.0', 1, true],
    ['sensor b/ü', '3.1.1', 0, true],
  ]);
  assert.match(String(list[0]!.remote), /^127\.0\.0\.1:\d+$/);
  const show = await bed.tb.api('GET', `/api/v1/clients/${encodeURIComponent('sensor-a')}`);
  assert.is(show.status, 200);
  assert.equal(show.body.subscriptionList, [{ topicFilter: 'cmd/a/#', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: null, queue: null }]);
  assert.is(show.body.keepAlive, 60);
  const odd = await bed.tb.api('GET', `/api/v1/clients/${encodeURIComponent('sensor b/ü')}`);
  assert.is(odd.body.clientId, 'sensor b/ü', 'identifiers with spaces, slashes and non-ASCII are addressable');
  assert.is((await bed.tb.api('GET', '/api/v1/clients/nobody')).status, 404);
});

test('disconnecting a client sends DISCONNECT 0x98 and keeps its persistent session', async () => {
  const c = await bed.client('kept', { clean: false, properties: { sessionExpiryInterval: 3600 } });
  await c.subscribeAsync('kept/#', { qos: 1 });
  const reason = new Promise<number | undefined>((resolve) => c.once('disconnect', (p) => resolve(p.reasonCode)));
  const r = await bed.tb.api('DELETE', '/api/v1/clients/kept');
  assert.equal(r.body, { clientId: 'kept', disconnected: true });
  assert.is(await reason, 0x98, 'Administrative action');
  await waitFor(() => bed.tb.broker.connections.size === 0, 3000, 'connection closed');
  assert.is((await bed.tb.api('GET', '/api/v1/clients/kept')).status, 404, 'no longer a connected client');
  const s = await bed.tb.api('GET', '/api/v1/sessions/kept');
  assert.is(s.status, 200);
  assert.is(s.body.connected, false);
  assert.is(s.body.persistent, true);
  assert.is(s.body.sessionExpiryInterval, 3600);
  assert.is(s.body.subscriptionList[0].topicFilter, 'kept/#');
});

test('deleting a session disconnects its client and forgets its subscriptions', async () => {
  const c = await bed.client('doomed', { clean: false, properties: { sessionExpiryInterval: 3600 } });
  await c.subscribeAsync('doomed/#', { qos: 1 });
  const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
  assert.is(bed.tb.broker.router.route(probe('doomed/x')), 1, 'routed to it before');
  const r = await bed.tb.api('DELETE', '/api/v1/sessions/doomed');
  assert.equal(r.body, { clientId: 'doomed', deleted: true, wasConnected: true });
  await closed;
  assert.is((await bed.tb.api('GET', '/api/v1/sessions/doomed')).status, 404);
  const sessions = (await bed.tb.api('GET', '/api/v1/sessions')).body.sessions as unknown[];
  assert.is(sessions.length, bed.clients.length - 1);
  // Nothing routes to it any more.
  assert.is(bed.tb.broker.router.route(probe('doomed/x')), 0);
  assert.is(bed.tb.broker.sessions.byClientId.has('doomed'), false);
});

test('retained messages: list with a filter, delete one topic (also from the store)', async () => {
  const pub = await bed.client('pub');
  await pub.publishAsync('site/boiler/temp', '71.5', { qos: 1, retain: true });
  await pub.publishAsync('site/boiler/state', 'on', { qos: 1, retain: true });
  await pub.publishAsync('other/x', 'x', { qos: 1, retain: true });
  const list = await bed.tb.api('GET', `/api/v1/retained?filter=${encodeURIComponent('site/#')}`);
  assert.is(list.body.total, 2);
  assert.equal(list.body.messages.map((m: { topic: string; payload: string }) => [m.topic, m.payload]).sort(), [
    ['site/boiler/state', 'on'],
    ['site/boiler/temp', '71.5'],
  ]);
  assert.is((await bed.tb.api('GET', '/api/v1/retained?filter=a/%23/b')).status, 400);
  const del = await bed.tb.api('DELETE', `/api/v1/retained?topic=${encodeURIComponent('site/boiler/temp')}`);
  assert.equal(del.body, { topic: 'site/boiler/temp', deleted: true });
  assert.is((await bed.tb.api('DELETE', `/api/v1/retained?topic=${encodeURIComponent('site/boiler/temp')}`)).status, 404);
  assert.is((await bed.tb.api('DELETE', '/api/v1/retained?topic=site/%2B')).status, 400, 'a filter is not a topic');
  const stored = await bed.tb.broker.persistence!.store.loadRetained();
  assert.equal(stored.map((m) => m.topic).sort(), ['other/x', 'site/boiler/state']);
  const sub = await bed.client('late-sub');
  const got = collect(sub);
  await sub.subscribeAsync('site/#', { qos: 1 });
  // Retained messages go out with the SUBACK, before anything published after it: a live marker ends the list.
  await (await bed.client('marker-pub')).publishAsync('site/end', 'end', { qos: 1 });
  await got.waitCount(2);
  assert.equal(got.messages.map((m) => m.topic), ['site/boiler/state', 'site/end'], 'a new subscriber no longer gets the deleted one');
});

test.run();
