// The queue engine's hooks as the device command queue uses them (issue 15), over a real store, no broker: an
// admission check refuses before anything is stored, a split stores one message per key, and the queue's observer
// hears of messages that leave unconsumed (superseded while waiting, expired, dead-lettered with the consumer's reason).

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { silentLogger } from '../../src/log/logger.js';
import type { Message } from '../../src/protocol/message.js';
import { QueueConsumer } from '../../src/queue/consumer.js';
import { QueueEngine } from '../../src/queue/engine.js';
import type { Departure, HeldMessage, Queue } from '../../src/queue/queue.js';
import { DEFAULT_QUEUE_SETTINGS, type QueueDefinition } from '../../src/queue/types.js';
import { Store } from '../../src/store/store.js';
import { removeTempDirs, tempDir } from '../store/helpers.js';

class Taker extends QueueConsumer<number> {
  readonly received: { key: number; held: HeldMessage }[] = [];
  private nextKey = 1;
  room = true;
  get id(): string {
    return 'bridge';
  }
  protected transportHasRoom(): boolean {
    return this.room;
  }
  deliver(held: HeldMessage): void {
    const key = this.nextKey++;
    this.begin(held, key);
    this.received.push({ key, held });
  }
  verdict(key: number, accepted: boolean, detail?: string): void {
    this.settle(key, accepted, detail);
  }
}

const msg = (topic: string, payload: string, expiresAt = 0): Message => ({ topic, payload: Buffer.from(payload), qos: 1, retain: false, properties: undefined, expiresAt, origin: 't' });

const def: QueueDefinition = {
  ...DEFAULT_QUEUE_SETTINGS,
  name: 'devices.pump.commands',
  topicFilter: 'devices/pump/set/#',
  type: 'lastvalue',
  key: 'topicLevel:3',
  maxDeliveries: 2,
  deadLetter: 'dead',
};

const until = async (check: () => boolean, what: string): Promise<void> => {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(check(), `timed out waiting for ${what}`);
};

const test = suite('device command queue: engine hooks and observer');
test.after.each(removeTempDirs);

test('check refuses before storing; split stores one message per point; superseded, expired and dead-lettered are told', async () => {
  const store = await Store.open({ dataDir: tempDir('command-queue'), commitIntervalMs: 2, minFreeDiskBytes: 0 });
  const engine = new QueueEngine(store, silentLogger, { autoCreate: false, defaults: DEFAULT_QUEUE_SETTINGS });
  try {
    await engine.load([def]);
    const queue: Queue = engine.queueByName(def.name)!;
    const told: [Departure, string, string][] = [];
    queue.observer = (held, why) => told.push([why, held.message.topic, held.message.payload.toString()]);
    engine.setHooks(def.name, {
      check: (m) => (m.payload.toString() === 'bad' ? { reason: 'invalid_command', reasonCode: 0x99, permanent: true, queue: def.name, detail: 'bad value' } : null),
      split: (m) =>
        m.topic === 'devices/pump/set'
          ? Object.entries(JSON.parse(m.payload.toString()) as Record<string, unknown>).map(([p, v]) => msg(`devices/pump/set/${p}`, JSON.stringify(v)))
          : undefined,
    });
    assert.equal(engine.admit(msg('devices/pump/set/speed', 'bad'), true)?.reasonCode, 0x99, 'a strict publish hears the refusal');
    assert.is(engine.capture(msg('devices/pump/set/speed', 'bad')), 0, 'nor is a QoS 0 one stored');
    assert.is(queue.depth, 0);

    engine.capture(msg('devices/pump/set', '{"speed": 30, "valve": true}'));
    engine.capture(msg('devices/pump/set/speed', '60'));
    engine.capture(msg('devices/pump/set/mode', '1', Date.now() - 1));
    assert.is(queue.depth, 3, 'speed 60, valve true, mode 1: one per key, the split speed replaced');
    assert.equal(told, [['superseded', 'devices/pump/set/speed', '30']]);

    const bridge = new Taker(queue, {}, 1);
    engine.addConsumer(bridge);
    await until(() => bridge.received.length === 2, 'two deliveries');
    assert.equal(bridge.received.map((r) => r.held.message.payload.toString()).sort(), ['60', 'true']);
    assert.equal(told[1], ['expired', 'devices/pump/set/mode', '1']);
    const speed = bridge.received.find((r) => r.held.message.payload.toString() === '60')!;
    bridge.verdict(speed.key, false, 'failed: read back 0');
    await until(() => bridge.received.length === 3, 'the redelivery');
    bridge.verdict(bridge.received[2]!.key, false, 'failed: read back 0');
    await until(() => told.length === 3, 'the dead letter');
    assert.equal(told[2], ['deadLettered', 'devices/pump/set/speed', '60']);
    await until(() => (engine.queueByName('dead')?.depth ?? 0) === 1, 'the dead-letter queue');
    await store.flush(); // the dead letter's append is durable after the next commit
    const [dead] = await store.readQueueMessages(engine.queueByName('dead')!.id, { afterSeq: 0, limit: 10 });
    assert.is(dead!.message.properties?.userProperties?.['wharf-dead-letter-detail'], 'failed: read back 0');
  } finally {
    engine.stop();
    await store.close();
  }
});

test.run();
