// Composite last-value keys (issue 11): `key: [topicLevel:1, userProperty:command_type]` keeps one command per
// device and type in a queue that spans devices, where the property alone mixed devices (d-18's set-color replaced
// d-17's). Through the broker with a real store, and through the admin API, which creates and shows such queues.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IPublishPacket } from 'mqtt-packet';
import { ack, declare, flushed, queueOf, rawConsumer, send, text, until, withQueues } from '../../helpers/queue-kit.js';
import { startAdminBroker } from '../../helpers/admin.js';

const test = suite('12-lastvalue: composite keys');

const KEY = ['topicLevel:1', 'userProperty:command_type'];
const cmd = (type: string) => ({ properties: { userProperties: { command_type: type } } });

test('devices/+/commands keyed by [device, command_type]: each device keeps its own latest set-color, and a message missing a part is refused (0x99)', async () => {
  await withQueues(declare({ name: 'commands', topicFilter: 'devices/+/commands', type: 'lastvalue', key: KEY }), async (h) => {
    const pub = await h.raw();
    const codes = [];
    for (const [device, payload, type] of [
      ['d-17', 'blue', 'set-color'],
      ['d-18', 'red', 'set-color'],
      ['d-17', 'green', 'set-color'],
      ['d-17', 'v2', 'update-firmware'],
    ] as const) {
      codes.push(await send(pub, `devices/${device}/commands`, payload, cmd(type)));
    }
    codes.push(await send(pub, 'devices/d-17/commands', 'no-type'));
    assert.equal(codes, [0, 0, 0, 0, 0x99]);
    const q = queueOf(h, 'commands');
    assert.equal([q.depth, q.counters.superseded], [3, 1]);
    const c = await rawConsumer(h, '$queue/commands');
    await until(() => q.inflight === 3);
    const [got] = await flushed(pub, [c]);
    for (const p of got!) ack(c, p);
    assert.equal(
      got!.map((p: IPublishPacket) => `${p.topic} ${text(p)}`),
      ['devices/d-18/commands red', 'devices/d-17/commands green', 'devices/d-17/commands v2'],
    );
  });
});

test('the admin API creates a queue with a composite key, shows it as written, and accepts it unchanged in a PATCH', async () => {
  const tb = await startAdminBroker();
  try {
    const created = await tb.api('POST', '/api/v1/queues', { body: { name: 'commands', topicFilter: 'devices/+/commands', type: 'lastvalue', key: KEY } });
    assert.is(created.status, 201, created.text);
    assert.equal(created.body.settings.key, KEY);
    const patched = await tb.api('PATCH', '/api/v1/queues/commands', { body: { key: KEY, maxMessages: 10 } });
    assert.is(patched.status, 200, patched.text);
    const changed = await tb.api('PATCH', '/api/v1/queues/commands', { body: { key: ['topicLevel:1'] } });
    assert.is(changed.status, 400);
    const bad = await tb.api('POST', '/api/v1/queues', { body: { name: 'bad', topicFilter: 'x/+', type: 'lastvalue', key: ['topicLevel:1', 'header:x'] } });
    assert.is(bad.status, 400);
    assert.match(bad.body.errors[0], /^key\[1\]: invalid key "header:x"/);
    // The engine keys by both parts.
    const q = tb.broker.queues!.queueByName('commands')!;
    assert.equal(q.definition.key, KEY);
  } finally {
    await tb.stop();
  }
});

test.run();
