// Store.removeQueueMessages: the acknowledgements of one burst leave a queue in one operation (the bridge outbox
// and every queue consumer use it), with the same effect as one removal each, with and without the commit log.

import { cpSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Store } from '../../src/store/store.js';
import { message, removeTempDirs, tempDir } from './helpers.js';
import { collectGarbage } from './payload-impls.js';

const many = suite('store: batched queue removal');
many.after.each(removeTempDirs);

const payloadOf = (m: { message: { payload: Buffer } }) => m.message.payload.readUInt32BE(0);

many('removes exactly the given messages as one operation, frees their payload-store payloads, and stays removed after reopen', async () => {
  const dataDir = tempDir('remove-many');
  const options = { dataDir, commitIntervalMs: 2, minFreeDiskBytes: 0, inlineMaxBytes: 64, payloadSegmentBytes: 4096 };
  let s = await Store.open(options);
  const segmentDir = join(dataDir, 'payloads');
  // Messages 0 and 3 are too large to be inline (one 5000-byte payload per 4096-byte segment): their removal must
  // free a payload-store reference, whether the caller says they are inline or not.
  const appended = Array.from({ length: 8 }, (_, i) => s.appendQueueMessage(4, message(i, i === 0 || i === 3 ? 5000 : 32, 'q/x')));
  await Promise.all(appended.map((a) => a.durable));
  const segments = readdirSync(segmentDir).sort();
  // A later payload opens a new segment: the two above are sealed, and go once nothing in them is live.
  const kept = s.appendQueueMessage(4, message(8, 5000, 'q/x'));
  const other = s.appendQueueMessage(5, message(99, 32, 'q/y'));
  await Promise.all([kept.durable, other.durable]);
  assert.is(segments.length, 2);
  const before = s.metrics().opsCommitted;
  const gone = [0, 1, 3, 6];
  // The inline flags as the queue knows them, but message 3's left out (undefined): a record is then read.
  const inline = gone.map((i) => (i === 3 ? (undefined as unknown as boolean) : appended[i]!.inline));
  await s.removeQueueMessages(4, gone.map((i) => appended[i]!.seq), inline);
  assert.is(s.metrics().opsCommitted - before, 1, 'one store operation for the whole batch');
  assert.equal((await s.readQueueMessages(4, { limit: 20 })).map(payloadOf), [2, 4, 5, 7, 8]);
  assert.equal((await s.readQueueMessages(5, { limit: 20 })).map(payloadOf), [99], "another queue's message with the same sequence stays");
  let left = readdirSync(segmentDir);
  for (let i = 0; i < 50 && segments.some((f) => left.includes(f)); i++) {
    await collectGarbage();
    await new Promise((r) => setTimeout(r, 20));
    left = readdirSync(segmentDir);
  }
  assert.equal(segments.filter((f) => left.includes(f)), [], `segments of removed payloads are deleted (left: ${left.join(', ')})`);
  await s.close();
  s = await Store.open(options);
  assert.equal((await s.readQueueMessages(4, { limit: 20 })).map(payloadOf), [2, 4, 5, 7, 8]);
  assert.is(s.openReport.payloads.missingRefs, 0);
  await s.close();
});

many('with the commit log: acknowledged before LMDB holds it, read through, and replayed from the log after a crash', async () => {
  const dataDir = tempDir('remove-many-log');
  const s = await Store.open({ dataDir, commitLog: true, logIndexMaxOps: 1_000_000, logIndexIntervalMs: 600_000, minFreeDiskBytes: 0 });
  const appended = Array.from({ length: 8 }, (_, i) => s.appendQueueMessage(7, message(i, 64, 'q/x')));
  await Promise.all(appended.map((a) => a.durable));
  await s.removeQueueMessages(7, [appended[0]!.seq, appended[2]!.seq, appended[7]!.seq], [true, true, true]);
  // What a SIGKILL leaves: LMDB without these windows, the log with all of them.
  const copy = tempDir('remove-many-log-copy');
  cpSync(dataDir, copy, { recursive: true });
  assert.equal((await s.readQueueMessages(7, { limit: 20 })).map(payloadOf), [1, 3, 4, 5, 6]);
  await s.close();
  const c = await Store.open({ dataDir: copy, minFreeDiskBytes: 0 });
  assert.ok(c.openReport.logRecordsReplayed >= 9, `replayed ${c.openReport.logRecordsReplayed}`);
  assert.equal((await c.readQueueMessages(7, { limit: 20 })).map(payloadOf), [1, 3, 4, 5, 6]);
  await c.close();
});

many.run();
