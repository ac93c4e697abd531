// The queue engine with a consumer that is not an MQTT session: the QueueConsumer contract on its own, over a real
// store, as an in-process consumer (a device bridge) will use it. No broker, no sockets.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { silentLogger } from '../../src/log/logger.js';
import type { Message } from '../../src/protocol/message.js';
import { QueueConsumer } from '../../src/queue/consumer.js';
import { QueueEngine } from '../../src/queue/engine.js';
import type { HeldMessage, Queue } from '../../src/queue/queue.js';
import { DEFAULT_QUEUE_SETTINGS, type QueueDefinition } from '../../src/queue/types.js';
import { Store } from '../../src/store/store.js';
import { removeTempDirs, tempDir } from '../store/helpers.js';

/** Takes deliveries into a list and settles them when the test says so, keyed by its own counter. */
class ListConsumer extends QueueConsumer<number> {
  readonly received: { key: number; held: HeldMessage }[] = [];
  private nextKey = 1;
  room = true;

  constructor(queue: Queue, owner: object, readonly name: string) {
    super(queue, owner, 1);
  }

  get id(): string {
    return this.name;
  }

  protected transportHasRoom(): boolean {
    return this.room;
  }

  deliver(held: HeldMessage): void {
    const key = this.nextKey++;
    this.begin(held, key);
    this.received.push({ key, held });
  }

  verdict(key: number, accepted: boolean): void {
    this.settle(key, accepted);
  }
}

function msg(topic: string, payload: string): Message {
  return { topic, payload: Buffer.from(payload), qos: 1, retain: false, properties: undefined, expiresAt: 0, origin: 'test' };
}

function definition(over: Partial<QueueDefinition>): QueueDefinition {
  return { ...DEFAULT_QUEUE_SETTINGS, name: 'commands', topicFilter: 'devices/+/set/#', ...over };
}

const until = async (check: () => boolean, what: string): Promise<void> => {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(check(), `timed out waiting for ${what}`);
};

async function withEngine(def: QueueDefinition, fn: (engine: QueueEngine, queue: Queue) => Promise<void>): Promise<void> {
  const store = await Store.open({ dataDir: tempDir('in-process-consumer'), commitIntervalMs: 2, minFreeDiskBytes: 0 });
  const engine = new QueueEngine(store, silentLogger, { autoCreate: false, defaults: DEFAULT_QUEUE_SETTINGS });
  try {
    await engine.load([def]);
    await fn(engine, engine.queueByName(def.name)!);
  } finally {
    engine.stop();
    await store.close();
  }
}

const consumer = suite('in-process queue consumer');
consumer.after.each(removeTempDirs);

consumer('messages reach a consumer that is not a session; an accepted one leaves the queue, a rejected one comes back', () =>
  withEngine(definition({}), async (engine, queue) => {
    const owner = {};
    const c = new ListConsumer(queue, owner, 'bridge');
    assert.ok(engine.addConsumer(c));
    assert.not.ok(engine.addConsumer(new ListConsumer(queue, owner, 'bridge')), 'one consumer per owner and queue');
    engine.capture(msg('devices/pump/set/speed', '10'));
    engine.capture(msg('devices/pump/set/mode', 'auto'));
    await until(() => c.received.length === 2, 'two deliveries');
    assert.is(c.inflight, 2);
    c.verdict(c.received[0]!.key, true);
    c.verdict(c.received[1]!.key, false);
    await until(() => c.received.length === 3, 'the redelivery');
    assert.is(c.received[2]!.held.message.payload.toString(), 'auto');
    assert.is(c.received[2]!.held.deliveryCount, 1);
    c.verdict(c.received[2]!.key, true);
    await until(() => queue.depth === 0, 'an empty queue');
    assert.equal([c.delivered, c.acknowledged, c.rejected], [3, 2, 1]);
    assert.is(queue.counters.rejected, 1);
  }),
);

consumer('a consumer without room gets nothing until its owner says it has room again', () =>
  withEngine(definition({}), async (engine, queue) => {
    const owner = {};
    const c = new ListConsumer(queue, owner, 'bridge');
    c.room = false;
    engine.addConsumer(c);
    engine.capture(msg('devices/pump/set/speed', '10'));
    await new Promise((r) => setTimeout(r, 50));
    assert.is(c.received.length, 0);
    c.room = true;
    engine.ownerHasRoom(owner);
    await until(() => c.received.length === 1, 'the delivery after room');
  }),
);

consumer('maxDeliveries rejections dead-letter the message; a detached owner gives its in-flight messages back', () =>
  withEngine(definition({ maxDeliveries: 2, deadLetter: 'commands-dead' }), async (engine, queue) => {
    const owner = {};
    const c = new ListConsumer(queue, owner, 'bridge');
    engine.addConsumer(c);
    engine.capture(msg('devices/pump/set/speed', '10'));
    await until(() => c.received.length === 1, 'first delivery');
    c.verdict(c.received[0]!.key, false);
    await until(() => c.received.length === 2, 'second delivery');
    c.verdict(c.received[1]!.key, false);
    await until(() => engine.queueByName('commands-dead')?.depth === 1, 'the dead letter');
    assert.is(queue.depth, 0);

    engine.capture(msg('devices/pump/set/speed', '20'));
    await until(() => c.received.length === 3, 'third delivery');
    engine.ownerDetached(owner);
    assert.is(c.inflight, 0);
    assert.is(queue.consumers.length, 0);
    const next = new ListConsumer(queue, {}, 'bridge-2');
    engine.addConsumer(next);
    await until(() => next.received.length === 1, 'delivery to the next consumer');
    assert.is(next.received[0]!.held.message.payload.toString(), '20');
    assert.is(next.received[0]!.held.deliveryCount, 1, 'a lost consumer counts as a delivery attempt');
  }),
);

consumer('a delivery past ackTimeout is rejected and a late verdict is ignored', () =>
  withEngine(definition({ ackTimeoutMs: 100 }), async (engine, queue) => {
    const c = new ListConsumer(queue, {}, 'bridge');
    engine.addConsumer(c);
    engine.capture(msg('devices/pump/set/speed', '10'));
    await until(() => c.received.length === 1, 'first delivery');
    await until(() => c.received.length === 2, 'redelivery after the ack timeout');
    c.verdict(c.received[0]!.key, true); // late: must not acknowledge the redelivered message
    assert.is(queue.depth, 1);
    assert.is(queue.counters.ackTimeouts, 1);
    c.verdict(c.received[1]!.key, true);
    await until(() => queue.depth === 0, 'an empty queue');
  }),
);

consumer.run();
