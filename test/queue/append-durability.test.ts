// The durability of queue appends reaches the publisher's waiter (src/queue/engine.ts AppendWaiter): told once
// the append is on disk, and a write that fails after admission counts against the queue (publishRejected).

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { silentLogger } from '../../src/log/logger.js';
import type { Message } from '../../src/protocol/message.js';
import { QueueEngine } from '../../src/queue/engine.js';
import { DEFAULT_QUEUE_SETTINGS } from '../../src/queue/types.js';
import { NOTIFIED, type DurabilityWaiter } from '../../src/store/commit-scheduler.js';
import { StoreFullError } from '../../src/store/errors.js';
import { Store } from '../../src/store/store.js';
import { removeTempDirs, tempDir } from '../store/helpers.js';

const test = suite('queue append durability');

function msg(topic: string): Message {
  return { topic, payload: Buffer.from('x'), qos: 1, retain: false, properties: undefined, expiresAt: 0, origin: 'test' };
}

class Heard implements DurabilityWaiter {
  readonly outcomes: unknown[] = [];
  durable(err: unknown): void {
    this.outcomes.push(err ?? 'durable');
  }
}

async function withEngine(fn: (engine: QueueEngine, store: Store) => Promise<void>): Promise<void> {
  const store = await Store.open({ dataDir: tempDir('append-durability'), commitIntervalMs: 2, minFreeDiskBytes: 0 });
  const engine = new QueueEngine(store, silentLogger, { autoCreate: false, defaults: DEFAULT_QUEUE_SETTINGS });
  try {
    await engine.load([{ ...DEFAULT_QUEUE_SETTINGS, name: 'jobs', topicFilter: 'jobs/#' }]);
    await fn(engine, store);
  } finally {
    engine.stop();
    await store.close();
  }
}

test.after(() => removeTempDirs());

test('the publisher hears of an append once it is on disk, not before', async () => {
  await withEngine(async (engine, store) => {
    const heard = new Heard();
    engine.waiter = () => heard;
    assert.is(engine.capture(msg('jobs/1')), 1);
    assert.equal(heard.outcomes, [], 'not durable while the commit has not run');
    await store.flush();
    assert.equal(heard.outcomes, ['durable']);
    assert.is(engine.queueByName('jobs')!.counters.publishRejected, 0);
  });
});

test('an append that fails after admission counts against the queue and reaches the publisher', async () => {
  await withEngine(async (engine, store) => {
    const heard = new Heard();
    engine.waiter = () => heard;
    const full = new StoreFullError('storage limit reached');
    // The store's commit failing for this write: it tells the waiter it was given.
    store.appendQueueMessage = (_id, _m, _k, _r, waiter) => {
      waiter!.durable(full);
      return { seq: 1, durable: NOTIFIED, inline: true };
    };
    engine.capture(msg('jobs/2'));
    assert.is(heard.outcomes.length, 1);
    assert.is(heard.outcomes[0], full);
    assert.is(engine.queueByName('jobs')!.counters.publishRejected, 1);
  });
});

test.run();
