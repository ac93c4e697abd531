// The in-process publisher of field devices: a reading goes through the broker's admission like a client's QoS 1
// publish, lands in a declared queue durably (it survives a restart), and a full queue refuses it (nothing stored).

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LocalPublisher } from '../../src/broker/local-publisher.js';
import { DEFAULT_QUEUE_SETTINGS } from '../../src/queue/types.js';
import { newDataDir, removeDataDir, startBrokerOn } from '../helpers/durable-broker.js';

const test = suite('devices: local publisher');

const withQueue = (maxMessages: number) => (config: { queues: { definitions: unknown[] } }) => {
  config.queues.definitions = [{ ...DEFAULT_QUEUE_SETTINGS, name: 'readings', topicFilter: 'devices/+/state', maxMessages }];
};

test('QoS 1 readings are stored in the matching queue before publish() resolves, and survive a restart', async () => {
  const dataDir = newDataDir();
  try {
    const first = await startBrokerOn(dataDir, {}, withQueue(0));
    const publisher = new LocalPublisher(first.broker, 'device:meter1');
    for (let i = 0; i < 5; i++) {
      const outcome = await publisher.publish('devices/meter1/state', Buffer.from(JSON.stringify({ i })), { qos: 1, retain: false });
      assert.equal(outcome, { kind: 'stored', receivers: 1 });
    }
    assert.is((await publisher.publish('devices/meter1/other', Buffer.from('x'), { qos: 1, retain: false })).kind, 'stored');
    assert.is(first.broker.queues!.queueByName('readings')!.depth, 5);
    assert.is(first.broker.stats.messagesInByQos[1], 6);
    await first.stop();
    const second = await startBrokerOn(dataDir, {}, withQueue(0));
    try {
      assert.is(second.broker.queues!.queueByName('readings')!.depth, 5);
    } finally {
      await second.stop();
    }
  } finally {
    removeDataDir(dataDir);
  }
});

test('a full queue refuses a reading: refused outcome, nothing stored, counted as a refused publish', async () => {
  const dataDir = newDataDir();
  const b = await startBrokerOn(dataDir, {}, withQueue(2));
  try {
    const publisher = new LocalPublisher(b.broker, 'device:meter1');
    const outcomes = [];
    for (let i = 0; i < 4; i++) outcomes.push(await publisher.publish('devices/meter1/state', Buffer.from(String(i)), { qos: 1, retain: false }));
    assert.equal(outcomes.map((o) => o.kind), ['stored', 'stored', 'refused', 'refused']);
    assert.is(outcomes[2]!.kind === 'refused' && outcomes[2]!.reason, 'queue_full');
    assert.is(b.broker.queues!.queueByName('readings')!.depth, 2);
    assert.is(b.broker.stats.publishRefused.queue_full, 2);
  } finally {
    await b.stop();
    removeDataDir(dataDir);
  }
});

test('retained status: the last value is kept for later subscribers', async () => {
  const dataDir = newDataDir();
  const b = await startBrokerOn(dataDir);
  try {
    const publisher = new LocalPublisher(b.broker, 'device:meter1');
    await publisher.publish('devices/meter1/status', Buffer.from('{"state":"offline"}'), { qos: 1, retain: true });
    await publisher.publish('devices/meter1/status', Buffer.from('{"state":"online"}'), { qos: 1, retain: true });
    const kept = b.broker.retained.get('devices/meter1/status');
    assert.is(kept?.payload.toString(), '{"state":"online"}');
  } finally {
    await b.stop();
    removeDataDir(dataDir);
  }
});

test.run();
