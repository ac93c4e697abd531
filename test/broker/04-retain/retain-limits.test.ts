// Retained messages over time and space: Message Expiry Interval (MQTT 5.0 section 3.3.2.3.3) and the
// broker's mqtt.maxRetainedMessages bound, whose refusals are counted in the broker stats.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type Harness, nextPublish, publish, subscribe, withBroker } from '../../helpers/sub-harness.js';
import { onDataDir } from '../../helpers/restartable.js';
import { advanceClock } from '../../helpers/publish-kit.js';
import { beforePing } from '../../helpers/end-marker.js';

const test = suite('04-retain: expiry and limits');

test('an expired retained message is not sent to a new subscriber and leaves the store [MQTT-3.3.2-5]', async () => {
  await withBroker(async (h) => {
    const pub = await h.raw();
    await publish(pub, 'exp/short', 'short', { qos: 1, retain: true, properties: { messageExpiryInterval: 1 } });
    await publish(pub, 'exp/long', 'long', { qos: 1, retain: true, properties: { messageExpiryInterval: 3600 } });
    await publish(pub, 'exp/never', 'never', { qos: 1, retain: true });
    // Expiry is wall-clock time: there is no event to await.
    await new Promise((r) => setTimeout(r, 1100));
    const c = await h.raw();
    await subscribe(c, [{ topic: 'exp/+', qos: 0 }]);
    const got = [await nextPublish(c), await nextPublish(c)].map((m) => m.text).sort();
    assert.equal(got, ['long', 'never']);
    assert.equal(await beforePing(c), []);
    assert.is(h.broker.retained.get('exp/short'), undefined);
    assert.is(h.broker.retained.size, 2);
    assert.equal(await storedRetained(h), ['exp/long', 'exp/never'], 'the expired message is gone from disk too');
  });
});

test('an exact-topic subscribe skips an expired retained message too', async () => {
  await withBroker(async (h) => {
    const pub = await h.raw();
    await publish(pub, 'exp/exact', 'x', { qos: 1, retain: true, properties: { messageExpiryInterval: 60 } });
    // Move the deadline into the past instead of waiting a minute.
    h.broker.retained.get('exp/exact')!.expiresAt = Date.now() - 1;
    const c = await h.raw();
    await subscribe(c, [{ topic: 'exp/exact', qos: 1 }]);
    assert.equal(await beforePing(c), []);
    assert.is(h.broker.retained.size, 0);
    assert.equal(await storedRetained(h), [], 'the expired message is gone from disk too');
  });
});

test('an expired retained message found at start-up is not restored and leaves the disk', async () => {
  await onDataDir('wharf-retain-', async (boot) => {
    let h = await boot();
    const pub = await h.raw();
    await publish(pub, 'exp/boot', 'soon', { qos: 1, retain: true, properties: { messageExpiryInterval: 60 } });
    await publish(pub, 'exp/kept', 'kept', { qos: 1, retain: true });
    h = await boot();
    assert.equal(await storedRetained(h), ['exp/boot', 'exp/kept']);
    const restore = advanceClock(61_000);
    try {
      h = await boot();
    } finally {
      restore();
    }
    assert.equal([...h.broker.retained.all()].map((m) => m.topic), ['exp/kept']);
    assert.equal(await storedRetained(h), ['exp/kept']);
  });
});

/** Topics of the retained messages on disk, once every write so far is committed. */
async function storedRetained(h: Harness): Promise<string[]> {
  const store = h.broker.persistence!.store;
  await store.flush();
  return (await store.loadRetained()).map((m) => m.topic).sort();
}

test('a retained message carries the remaining Message Expiry Interval, and none when it has none [MQTT-3.3.2-6]', async () => {
  await withBroker(async (h) => {
    const pub = await h.raw();
    await publish(pub, 'exp/fwd', 'f', { qos: 1, retain: true, properties: { messageExpiryInterval: 120 } });
    await publish(pub, 'exp/plain', 'p', { qos: 1, retain: true });
    // 30 s "spent" in the broker.
    h.broker.retained.get('exp/fwd')!.expiresAt -= 30_000;
    const c = await h.raw();
    await subscribe(c, [{ topic: 'exp/fwd', qos: 1 }]);
    const m = await nextPublish(c);
    assert.equal([m.text, m.properties?.messageExpiryInterval], ['f', 90]);
    await subscribe(c, [{ topic: 'exp/plain', qos: 0 }]);
    const p = await nextPublish(c);
    assert.equal([p.text, p.properties?.messageExpiryInterval], ['p', undefined]);
  });
});

test('mqtt.maxRetainedMessages: new retained topics beyond it are not stored and are counted as rejected', async () => {
  await withBroker(
    async (h) => {
      const pub = await h.raw();
      const live = await h.raw();
      await subscribe(live, [{ topic: 'lim/#', qos: 0 }]);
      await publish(pub, 'lim/1', 'one', { qos: 1, retain: true });
      await publish(pub, 'lim/2', 'two', { qos: 1, retain: true });
      await publish(pub, 'lim/3', 'three', { qos: 1, retain: true });
      assert.is(h.broker.retained.size, 2);
      assert.is(h.broker.stats.retainedRejected, 1);
      // The refused message is still delivered live.
      assert.equal([(await nextPublish(live)).text, (await nextPublish(live)).text, (await nextPublish(live)).text], ['one', 'two', 'three']);
      // Replacing an existing retained topic is allowed when full.
      await publish(pub, 'lim/1', 'uno', { qos: 1, retain: true });
      assert.is(h.broker.stats.retainedRejected, 1);
      const c = await h.raw();
      await subscribe(c, [{ topic: 'lim/+', qos: 0, rh: 0 }]);
      const got = [await nextPublish(c), await nextPublish(c)].map((m) => `${m.topic}=${m.text}`).sort();
      assert.equal(got, ['lim/1=uno', 'lim/2=two']);
      assert.equal(await beforePing(c), [], 'lim/3 was not retained');
      // Clearing one frees a slot.
      await publish(pub, 'lim/2', '', { qos: 1, retain: true });
      await publish(pub, 'lim/3', 'three', { qos: 1, retain: true });
      assert.is(h.broker.retained.size, 2);
      assert.equal(h.broker.retained.get('lim/3')?.payload.toString(), 'three');
      assert.is(h.broker.stats.retainedRejected, 1);
    },
    { maxRetainedMessages: 2 },
  );
});

test('mqtt.maxRetainedMessages: an expired retained message does not keep a new topic out', async () => {
  await withBroker(
    async (h) => {
      const pub = await h.raw();
      await publish(pub, 'full/old', 'old', { qos: 1, retain: true, properties: { messageExpiryInterval: 60 } });
      h.broker.retained.get('full/old')!.expiresAt = Date.now() - 1;
      await publish(pub, 'full/new', 'new', { qos: 1, retain: true });
      assert.is(h.broker.stats.retainedRejected, 0);
      assert.equal([...h.broker.retained.all()].map((m) => m.topic), ['full/new']);
      const c = await h.raw();
      await subscribe(c, [{ topic: 'full/#', qos: 0 }]);
      assert.is((await nextPublish(c)).text, 'new');
    },
    { maxRetainedMessages: 1 },
  );
});

test('mqtt.maxRetainedMessages 0 keeps nothing', async () => {
  await withBroker(
    async (h) => {
      const pub = await h.raw();
      await publish(pub, 'zero/a', 'a', { qos: 1, retain: true });
      await publish(pub, 'zero/b', 'b', { retain: true });
      assert.is(h.broker.retained.size, 0);
      assert.is(h.broker.stats.retainedRejected, 2);
      const c = await h.raw();
      await subscribe(c, [{ topic: 'zero/#', qos: 0 }]);
      assert.equal(await beforePing(c), []);
    },
    { maxRetainedMessages: 0 },
  );
});

test.run();
