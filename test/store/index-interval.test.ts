// How long acknowledged operations wait in the commit log for LMDB (issue 13, flash wear at low rates). An index
// commit costs LMDB 5-6 pages and two flushes however little it takes, and what it takes is already durable in
// the log: by default it comes once logIndexMaxOps or commitMaxBytes wait, once a removal or update waited
// 100 ms (space to give back), or once appends alone waited 5 s; the compactor's timer commits the index only
// for a round that found something to move.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Store } from '../../src/store/store.js';
import { message, outgoing, removeTempDirs, session, tempDir } from './helpers.js';

const test = suite('store: index commits at low rates');
test.after.each(removeTempDirs);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const unindexed = (s: Store): number => (s as unknown as { ctx: { scheduler: { unindexedOps(): number } } }).ctx.scheduler.unindexedOps();

/** Session 'c' in LMDB, then three 256-byte messages appended to it and durable (in the log). */
async function threeAppends(s: Store): Promise<{ seq: number }[]> {
  await s.saveSession(session('c'));
  await s.flush();
  const appended = [0, 1, 2].map((i) => s.appendSessionMessage('c', outgoing(message(i, 256))));
  await Promise.all(appended.map((a) => a.durable));
  return appended;
}

test('a few acknowledged messages stay in the log only, across a second of compactor ticks; compacting on request catches LMDB up', async () => {
  const dataDir = tempDir('index-interval');
  const s = await Store.open({ dataDir, minFreeDiskBytes: 0, payloadCompaction: { intervalMs: 20 } });
  try {
    const appended = await threeAppends(s);
    await sleep(1000);
    assert.is(unindexed(s), 3, 'no index commit within a second: neither the interval nor 50 compactor ticks made one');
    await s.compactPayloads();
    assert.is(unindexed(s), 0, 'a compaction asked for sees every acknowledged removal: LMDB took the log first');
    assert.equal((await s.loadSessionMessages('c')).map((m) => m.seq), appended.map((a) => a.seq));
  } finally {
    await s.close();
  }
});

test('a removal behind appends that wait brings the index commit forward to its own interval', async () => {
  const dataDir = tempDir('index-interval-removal');
  const s = await Store.open({ dataDir, minFreeDiskBytes: 0 });
  try {
    const appended = await threeAppends(s);
    await sleep(300);
    assert.is(unindexed(s), 3, 'appends alone wait');
    await s.removeSessionMessage('c', appended[0]!.seq, true);
    const deadline = Date.now() + 2000;
    while (unindexed(s) > 0 && Date.now() < deadline) await sleep(10);
    assert.is(unindexed(s), 0, 'LMDB took the removal, and the appends before it, within 100 ms of it (not 5 s)');
  } finally {
    await s.close();
  }
});

test('the timer still compacts a segment that removals emptied, once an index commit has taken them', async () => {
  const dataDir = tempDir('index-interval-compact');
  // 5,000-byte payloads flushed one at a time take 8 KiB each, 8 to a 64 KiB segment; a sealed segment is
  // compacted below 25 % live (payload-compaction.test.ts has the layout).
  const s = await Store.open({
    dataDir,
    minFreeDiskBytes: 0,
    inlineMaxBytes: 1024,
    payloadSegmentBytes: 64 * 1024,
    payloadCompaction: { intervalMs: 20 },
    logIndexIntervalMs: 50,
  });
  try {
    const seqs: number[] = [];
    for (let i = 0; i < 9; i++) {
      const { seq, durable } = s.appendQueueMessage(1, message(i, 5000, `q/${i}`));
      seqs.push(seq);
      await durable;
    }
    for (const seq of seqs.slice(0, 6)) await s.removeQueueMessage(1, seq);
    const deadline = Date.now() + 5000;
    while (s.metrics().payloads.segmentsCompacted === 0 && Date.now() < deadline) await sleep(20);
    assert.is(s.metrics().payloads.segmentsCompacted, 1, 'the first segment (2 of 8 payloads live) was compacted by the timer');
    assert.equal((await s.readQueueMessages(1, { limit: 10 })).map((m) => m.message.payload.readUInt32BE(0)), [6, 7, 8]);
  } finally {
    await s.close();
  }
});

test.run();
