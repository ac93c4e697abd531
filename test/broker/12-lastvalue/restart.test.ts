// Replacement across a restart of the broker on the same data directory: the keys and their live values come
// back from disk, a new value after the restart replaces the one stored before it, and a consumer that
// reconnects gets exactly the keys whose latest value it has not acknowledged.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IPublishPacket } from 'mqtt-packet';
import { onDataDir } from '../../helpers/restartable.js';
import type { RawClient } from '../../helpers/raw-client.js';
import { ack, declare, flushed, queueOf, rawConsumer, send, text, until } from '../../helpers/queue-kit.js';

const test = suite('12-lastvalue: replacement across a restart');

const commands = declare({ name: 'cmds', topicFilter: 'lights/+/commands', type: 'lastvalue', key: 'userProperty:command_type' });
const TOPIC = 'lights/light-123/commands';

async function cmd(pub: RawClient, payload: string, type: string): Promise<void> {
  const rc = await send(pub, TOPIC, payload, { properties: { userProperties: { command_type: type } } });
  if (rc >= 0x80) throw new Error(`PUBACK 0x${rc.toString(16)} for ${payload}`);
}

const label = (p: IPublishPacket) => `${p.properties?.userProperties?.command_type}=${text(p)}`;


test('a value published after a restart replaces the one stored before it; the light gets only the newest per key', async () => {
  await onDataDir('wharf-lastvalue-', async (boot) => {
    let h = await boot(commands);
    let pub = await h.raw();
    await cmd(pub, 'blue', 'set-color');
    await cmd(pub, 'red', 'set-color');
    await cmd(pub, 'v1', 'update-firmware');
    h = await boot(commands);
    let q = queueOf(h, 'cmds');
    assert.equal([q.depth, q.depthBytes], [2, 'red'.length + 'v1'.length], 'two keys restored');
    pub = await h.raw();
    await cmd(pub, 'green', 'set-color');
    assert.equal([q.depth, q.counters.superseded], [2, 1], 'green replaced red, stored before the restart');
    h = await boot(commands);
    q = queueOf(h, 'cmds');
    assert.equal([q.depth, q.depthBytes], [2, 'green'.length + 'v1'.length]);
    pub = await h.raw();
    const light = await rawConsumer(h, '$queue/cmds', { clientId: 'light-123' });
    await until(() => q.inflight === 2);
    const [got] = await flushed(pub, [light]);
    assert.equal(got!.map(label), ['update-firmware=v1', 'set-color=green']);
    for (const p of got!) ack(light, p);
    await until(() => q.depth === 0);
    h = await boot(commands);
    assert.equal([queueOf(h, 'cmds').depth, queueOf(h, 'cmds').depthBytes], [0, 0], 'acknowledged values stay gone');
  });
});

test('a consumer back after a restart gets exactly the keys whose latest value it has not acknowledged', async () => {
  await onDataDir('wharf-lastvalue-', async (boot) => {
    let h = await boot(commands);
    let pub = await h.raw();
    const light = await rawConsumer(h, '$queue/cmds', { clientId: 'light-123' });
    await cmd(pub, 'green', 'set-color');
    await cmd(pub, 'v1', 'update-firmware');
    await cmd(pub, '19', 'set-point');
    const q = queueOf(h, 'cmds');
    await until(() => q.inflight === 3);
    const [got] = await flushed(pub, [light]);
    assert.equal(got!.map(label), ['set-color=green', 'update-firmware=v1', 'set-point=19']);
    ack(light, got![0]!); // green done; v1 and 19 still unacknowledged at the restart
    await until(() => q.depth === 2);
    await cmd(pub, '21', 'set-point'); // replaces 19 while 19 is in flight
    assert.equal([q.depth, q.counters.superseded], [2, 1]);

    h = await boot(commands);
    pub = await h.raw();
    const back = await rawConsumer(h, '$queue/cmds', { clientId: 'light-123' });
    const q2 = queueOf(h, 'cmds');
    await until(() => q2.inflight === 2);
    const [again] = await flushed(pub, [back]);
    assert.equal(again!.map(label), ['update-firmware=v1', 'set-point=21'], 'not green (acknowledged), not 19 (replaced)');
    for (const p of again!) ack(back, p);
    await until(() => q2.depth === 0);
  });
});

test('a value read back from disk after a restart and out for delivery: a newer value waits for its acknowledgement, then follows', async () => {
  await onDataDir('wharf-lastvalue-', async (boot) => {
    let h = await boot(commands);
    let pub = await h.raw();
    await cmd(pub, 'blue', 'set-color');
    h = await boot(commands);
    pub = await h.raw();
    const light = await rawConsumer(h, '$queue/cmds', { clientId: 'light-123' });
    const blue = (await light.next('publish')) as IPublishPacket;
    assert.is(text(blue), 'blue');
    await cmd(pub, 'red', 'set-color'); // blue (read back from disk) is in flight
    const q = queueOf(h, 'cmds');
    const [waiting] = await flushed(pub, [light]);
    assert.equal(waiting, [], 'red waits for blue');
    ack(light, blue);
    const red = (await light.next('publish')) as IPublishPacket;
    assert.is(text(red), 'red');
    ack(light, red);
    await until(() => q.depth === 0 && q.inflight === 0);
    h = await boot(commands);
    assert.is(queueOf(h, 'cmds').depth, 0);
  });
});

test.run();
