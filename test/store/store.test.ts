import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StoreError } from '../../src/store/errors.js';
import { Store, type StoreOptions } from '../../src/store/store.js';
import { message, outgoing, removeTempDirs, session, tempDir } from './helpers.js';
import { collectGarbage } from './payload-impls.js';

const store = suite('store');
store.after.each(removeTempDirs);

function options(dataDir: string): StoreOptions {
  return { dataDir, commitIntervalMs: 2, minFreeDiskBytes: 0 };
}

/**
 * Segment files are deleted once nothing refers to them (the native store also waits for payload Buffers to be
 * collected): waits up to about a second for `files` to be gone; returns those still there, and the directory.
 */
async function segmentsLeft(segmentDir: string, files: readonly string[]): Promise<{ still: string[]; left: string[] }> {
  let left = readdirSync(segmentDir);
  for (let i = 0; i < 50 && files.some((f) => left.includes(f)); i++) {
    await collectGarbage();
    await new Promise((r) => setTimeout(r, 20));
    left = readdirSync(segmentDir);
  }
  return { still: files.filter((f) => left.includes(f)), left };
}

const subscription = { topicFilter: 'site/+/sensor/#', qos: 1 as const, noLocal: true, retainAsPublished: false, retainHandling: 2 as const, subscriptionId: 7 };

store('a session with its subscriptions, messages and QoS 2 state survives close and reopen', async () => {
  const dataDir = tempDir('store');
  let s = await Store.open(options(dataDir));
  await s.saveSession({ ...session('client-a', [subscription]), disconnectedAt: 1234 });
  const appended = [1, 2, 3].map((i) => s.appendSessionMessage('client-a', outgoing(message(i))));
  assert.equal(
    appended.map((a) => a.seq),
    [1, 2, 3],
  );
  await Promise.all(appended.map((a) => a.durable));
  await s.updateInflight('client-a', 1, 11, false);
  await s.updateInflight('client-a', 2, 12, true);
  await s.addIncomingQos2('client-a', 300);
  await s.addIncomingQos2('client-a', 5);
  await s.close();

  s = await Store.open(options(dataDir));
  assert.equal(await s.loadSessions(), [{ ...session('client-a', [subscription]), disconnectedAt: 1234 }]);
  const messages = await s.loadSessionMessages('client-a');
  assert.equal(
    messages.map((m) => [m.seq, m.packetId, m.released, m.message.payload.readUInt32BE(0)]),
    [
      [1, 11, false, 1],
      [2, 12, true, 2],
      [3, 0, false, 3],
    ],
  );
  assert.equal(messages[2]!.message, message(3));
  assert.equal(await s.loadIncomingQos2('client-a'), [5, 300]);
  // Sequences continue after a restart, never reusing a number.
  assert.is(s.appendSessionMessage('client-a', outgoing(message(4))).seq, 4);
  await s.close();
});

store('messages come back in order, page by page', async () => {
  const s = await Store.open(options(tempDir('store')));
  await s.saveSession(session('c'));
  await Promise.all(Array.from({ length: 25 }, (_, i) => s.appendSessionMessage('c', outgoing(message(i + 1))).durable));
  const first = await s.loadSessionMessages('c', { limit: 10 });
  const second = await s.loadSessionMessages('c', { afterSeq: first[9]!.seq, limit: 10 });
  const third = await s.loadSessionMessages('c', { afterSeq: second[9]!.seq, limit: 10 });
  assert.equal(
    [...first, ...second, ...third].map((m) => m.seq),
    Array.from({ length: 25 }, (_, i) => i + 1),
  );
  await s.close();
});

store('removed messages and QoS 2 identifiers are gone; unknown sessions are a caller error', async () => {
  const s = await Store.open(options(tempDir('store')));
  await s.saveSession(session('c'));
  const a = s.appendSessionMessage('c', outgoing(message(1)));
  const b = s.appendSessionMessage('c', outgoing(message(2)));
  // Appended and removed in the same window: the removal sees the append.
  await Promise.all([a.durable, s.removeSessionMessage('c', a.seq), b.durable]);
  await s.addIncomingQos2('c', 9);
  await s.removeIncomingQos2('c', 9);
  assert.equal(
    (await s.loadSessionMessages('c')).map((m) => m.seq),
    [b.seq],
  );
  assert.equal(await s.loadIncomingQos2('c'), []);
  assert.throws(() => s.appendSessionMessage('nobody', outgoing(message(1))), (err: unknown) => err instanceof StoreError && err.code === 'UNKNOWN_SESSION');
  await s.close();
});

store('large payloads go to the payload store, survive a restart and are freed with their session', async () => {
  const dataDir = tempDir('store');
  let s = await Store.open({ ...options(dataDir), inlineMaxBytes: 1024 });
  await s.saveSession(session('a'));
  await s.saveSession(session('b'));
  const big = message(1, 200_000);
  // Fan-out of one message to two sessions: one payload on disk, two owners.
  await s.appendSessionMessage('a', outgoing(big)).durable;
  await s.appendSessionMessage('b', outgoing(big)).durable;
  await s.appendSessionMessage('a', outgoing(message(2, 100))).durable;
  const segmentDir = join(dataDir, 'payloads');
  assert.equal(readdirSync(segmentDir).length, 1);
  await s.close();

  s = await Store.open({ ...options(dataDir), inlineMaxBytes: 1024 });
  assert.equal(s.openReport.payloads.missingRefs, 0);
  // In functions of their own: no payload Buffer stays reachable from this frame (see collectGarbage below).
  const checkA = async (): Promise<void> => {
    const [first, second] = await s.loadSessionMessages('a');
    assert.equal(first!.message.payload, big.payload);
    assert.is(second!.message.payload.length, 100);
  };
  const checkB = async (): Promise<void> => {
    assert.equal((await s.loadSessionMessages('b'))[0]!.message.payload, big.payload);
  };
  await checkA();
  await s.deleteSession('a');
  assert.equal(readdirSync(segmentDir).length, 1, 'b still owns the payload');
  await checkB();
  await s.deleteSession('b');
  await s.close();
  await collectGarbage(); // the native payload store deletes a segment once no payload Buffer read from it is alive
  assert.equal(readdirSync(segmentDir), []);
  s = await Store.open(options(dataDir));
  assert.equal(await s.loadSessions(), []);
  await s.close();
});

store('retained messages are set, replaced and deleted per topic', async () => {
  const dataDir = tempDir('store');
  let s = await Store.open({ ...options(dataDir), inlineMaxBytes: 64 });
  const props = { contentType: 'application/json', userProperties: { unit: 'C' }, correlationData: Buffer.from([1, 2]) };
  await s.setRetained({ ...message(1, 10, 'a/1'), retain: true, properties: props, expiresAt: 99_000 });
  await s.setRetained({ ...message(2, 500, 'a/2'), retain: true });
  await s.setRetained({ ...message(3, 600, 'a/2'), retain: true });
  await s.setRetained({ ...message(4, 10, 'a/3'), retain: true });
  await s.deleteRetained('a/3');
  await s.close();
  s = await Store.open({ ...options(dataDir), inlineMaxBytes: 64 });
  const retained = (await s.loadRetained()).sort((x, y) => x.topic.localeCompare(y.topic));
  assert.equal(
    retained.map((m) => [m.topic, m.payload.readUInt32BE(0), m.payload.length]),
    [
      ['a/1', 1, 10],
      ['a/2', 3, 600],
    ],
  );
  assert.equal(retained[0]!.properties, props);
  assert.is(retained[0]!.expiresAt, 99_000);
  assert.is(s.openReport.payloads.segmentsDeleted + readdirSync(join(dataDir, 'payloads')).length, 1, 'the replaced payload is gone');
  await s.close();
});

store('queue primitives: ordered append, bounded reads, last-value replacement, removal, consumers', async () => {
  const dataDir = tempDir('store');
  let s = await Store.open(options(dataDir));
  await s.saveQueue(3, { name: 'commands', topicFilter: 'cmd/#', type: 'lastvalue' });
  const plain = [1, 2, 3, 4, 5].map((i) => s.appendQueueMessage(3, message(i)));
  const keyed1 = s.appendQueueMessage(3, message(10), 'setpoint');
  // Replaces keyed1 in the same window (the queue tells the store which record a new value replaces).
  const keyed2 = s.appendQueueMessage(3, message(11), 'setpoint', { seq: keyed1.seq, inline: keyed1.inline });
  await Promise.all([...plain, keyed1, keyed2].map((a) => a.durable));
  await s.removeQueueMessage(3, plain[1]!.seq);
  await s.setQueueDeliveryCount(3, plain[0]!.seq, 2);
  await s.saveConsumer(3, 'consumer-1', { inflight: [1] });
  await s.saveConsumer(4, 'consumer-x', {});
  await s.close();

  s = await Store.open(options(dataDir));
  assert.equal(await s.loadQueues(), [{ queueId: 3, definition: { name: 'commands', topicFilter: 'cmd/#', type: 'lastvalue' } }]);
  const batch1 = await s.readQueueMessages(3, { limit: 3 });
  const batch2 = await s.readQueueMessages(3, { afterSeq: batch1[2]!.seq, limit: 3 });
  assert.equal(
    [...batch1, ...batch2].map((m) => [m.seq, m.key, m.deliveryCount, m.message.payload.readUInt32BE(0)]),
    [
      [1, undefined, 2, 1],
      [3, undefined, 0, 3],
      [4, undefined, 0, 4],
      [5, undefined, 0, 5],
      [7, 'setpoint', 0, 11],
    ],
  );
  assert.equal(await s.loadConsumers(3), [{ consumerId: 'consumer-1', state: { inflight: [1] } }]);
  const next = s.appendQueueMessage(3, message(12), 'setpoint', { seq: 7, inline: true });
  assert.is(next.seq, 8);
  await next.durable;
  assert.equal(
    (await s.readQueueMessages(3, { afterSeq: 5, limit: 10 })).map((m) => [m.seq, m.key]),
    [[8, 'setpoint']],
    'the value stored before the restart is replaced',
  );
  await s.deleteConsumer(3, 'consumer-1');
  await s.deleteQueue(3);
  assert.equal(await s.loadQueues(), []);
  assert.equal(await s.readQueueMessages(3, { limit: 10 }), []);
  assert.equal(await s.loadConsumers(3), []);
  assert.equal(await s.loadConsumers(4), [{ consumerId: 'consumer-x', state: {} }]);
  await s.close();
});

store('a last-value replacement frees the replaced payload from the payload store', async () => {
  const dataDir = tempDir('store');
  const opts = { ...options(dataDir), inlineMaxBytes: 64, payloadSegmentBytes: 4096 };
  let s = await Store.open(opts);
  const segmentDir = join(dataDir, 'payloads');
  const first = s.appendQueueMessage(5, message(1, 5000, 'fw/lock-1'), 'update-firmware');
  await first.durable;
  assert.is(first.inline, false, 'a 5000-byte payload goes to the payload store');
  const before = readdirSync(segmentDir).sort();
  const second = s.appendQueueMessage(5, message(2, 6000, 'fw/lock-1'), 'update-firmware', { seq: first.seq, inline: first.inline });
  await second.durable;
  // Freed once the replacing commit is durable, not at the next start: the segment goes while the store runs.
  const { still, left } = await segmentsLeft(segmentDir, [before[0]!]);
  assert.equal(still, [], `the replaced payload's segment ${before[0]} is deleted (left: ${left.join(', ')})`);
  await s.close();
  s = await Store.open(opts);
  assert.equal(
    (await s.readQueueMessages(5, { limit: 10 })).map((m) => [m.seq, m.key, m.message.payload.readUInt32BE(0), m.message.payload.length]),
    [[second.seq, 'update-firmware', 2, 6000]],
  );
  assert.is(s.openReport.payloads.missingRefs, 0);
  await s.close();
});

store('removing queue messages frees their payload-store payloads, whether or not the caller says where the payload is', async () => {
  const dataDir = tempDir('store');
  const s = await Store.open({ ...options(dataDir), inlineMaxBytes: 64, payloadSegmentBytes: 4096 });
  const segmentDir = join(dataDir, 'payloads');
  const told = s.appendQueueMessage(6, message(1, 5000, 'img/1'));
  const untold = s.appendQueueMessage(6, message(2, 5000, 'img/2'));
  const small = s.appendQueueMessage(6, message(3, 10, 'img/3'));
  await Promise.all([told.durable, untold.durable, small.durable]);
  const segments = readdirSync(segmentDir).sort(); // one per 5000-byte payload (segments of 4096)
  // A later payload opens a new segment: the two above are sealed, and go once nothing in them is live.
  const kept = s.appendQueueMessage(6, message(4, 5000, 'img/4'));
  await kept.durable;
  assert.equal([told.inline, untold.inline, small.inline, kept.inline], [false, false, true, false]);
  assert.is(segments.length, 2);
  await s.removeQueueMessage(6, told.seq, told.inline);
  await s.removeQueueMessage(6, untold.seq);
  await s.removeQueueMessage(6, small.seq, small.inline);
  const { still, left } = await segmentsLeft(segmentDir, segments);
  assert.equal(still, [], `segments of removed payloads are deleted (left: ${left.join(', ')})`);
  assert.equal((await s.readQueueMessages(6, { limit: 10 })).map((m) => [m.seq, m.inline]), [[kept.seq, false]]);
  await s.close();
});

store('removing session messages frees their payload-store payloads, whether or not the caller says where the payload is', async () => {
  const dataDir = tempDir('store');
  const s = await Store.open({ ...options(dataDir), inlineMaxBytes: 64, payloadSegmentBytes: 4096 });
  const segmentDir = join(dataDir, 'payloads');
  await s.saveSession(session('c'));
  const told = s.appendSessionMessage('c', outgoing(message(1, 5000)));
  const untold = s.appendSessionMessage('c', outgoing(message(2, 5000)));
  const small = s.appendSessionMessage('c', outgoing(message(3, 10)));
  await Promise.all([told.durable, untold.durable, small.durable]);
  const segments = readdirSync(segmentDir).sort(); // one per 5000-byte payload (segments of 4096)
  const kept = s.appendSessionMessage('c', outgoing(message(4, 5000))); // seals the two above
  await kept.durable;
  assert.equal([told.inline, untold.inline, small.inline, kept.inline], [false, false, true, false]);
  assert.is(segments.length, 2);
  await s.removeSessionMessage('c', told.seq, told.inline);
  await s.removeSessionMessage('c', untold.seq);
  await s.removeSessionMessage('c', small.seq, small.inline);
  const { still, left } = await segmentsLeft(segmentDir, segments);
  assert.equal(still, [], `segments of removed payloads are deleted (left: ${left.join(', ')})`);
  assert.equal((await s.loadSessionMessages('c')).map((m) => [m.seq, m.inline]), [[kept.seq, false]]);
  await s.close();
});

for (const commitLog of [true, false]) {
  store(`metrics count commits, syncs and the bytes behind each accepted payload byte (commitLog: ${commitLog})`, async () => {
    // No index commit before the first snapshot (the log's batch waits for flush()), whatever the machine's speed.
    const s = await Store.open({ ...options(tempDir('store')), commitLog, logIndexIntervalMs: 600_000 });
    await s.saveSession(session('c'));
    await Promise.all(Array.from({ length: 2000 }, (_, i) => s.appendSessionMessage('c', outgoing(message(i, 256))).durable));
    const m = s.metrics();
    assert.ok(m.commits >= 2 && m.commits <= 5, `commits: ${m.commits}`);
    assert.is(m.syncs, m.commits);
    assert.is(m.opsCommitted, 2001);
    assert.is(m.payloadBytesAccepted, 2000 * 256);
    assert.ok(m.bytesWritten >= 2000 * 256, `written: ${m.bytesWritten}`);
    assert.ok(m.commitLatencyMs.count === m.commits && m.commitLatencyMs.p99 >= m.commitLatencyMs.p50);
    // With the log, what LMDB does not hold yet is still work for the store: publishers slow down on it too.
    if (commitLog) assert.ok(m.pendingBytes >= 2000 * 256, `pending: ${m.pendingBytes}`);
    else assert.is(m.pendingBytes, 0);
    assert.is(m.full, false);
    assert.is(m.payloads.kind, s.openReport.payloadStore);
    assert.is(m.payloads.diskBytes, 0, '256-byte payloads stay inline');
    // Once LMDB holds everything: nothing pending, one more sync (the index commit) with the log, and the bytes
    // behind each payload byte counted over both the log and LMDB.
    await s.flush();
    const after = s.metrics();
    assert.is(after.pendingBytes, 0);
    assert.is(after.commits, m.commits);
    assert.is(after.syncs, m.commits + (commitLog ? 1 : 0));
    assert.ok(after.writeAmplification > 1 && after.writeAmplification < (commitLog ? 5 : 3), `amplification: ${after.writeAmplification}`);
    await s.close();
  });
}

store.run();
