// Store format 4: small messages appended through the commit log stay in its records and LMDB holds index
// entries referring to them; log files are kept while such records are live, released when not, and compacted.

import { open as openLmdb } from 'lmdb';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FORMAT_VERSION } from '../../src/store/environment.js';
import { seqKey } from '../../src/store/keys.js';
import { isIndexEntry, type StoreContext } from '../../src/store/message-records.js';
import { PutOp } from '../../src/store/ops.js';
import { Store, type StoreOptions } from '../../src/store/store.js';
import { message, outgoing, removeTempDirs, session, tempDir } from './helpers.js';

const records = suite('log records (store format 4)');
records.after.each(removeTempDirs);

const SMALL_FILES = 8 * 1024;

function options(dataDir: string, more: Partial<StoreOptions> = {}): StoreOptions {
  // Format 4's entry per message (runs of them, format 5, are index-runs.test.ts's).
  return { dataDir, minFreeDiskBytes: 0, logFileBytes: SMALL_FILES, logRecords: true, indexRuns: false, payloadCompaction: { intervalMs: 0 }, ...more };
}

function ctxOf(s: Store): StoreContext {
  return (s as unknown as { ctx: StoreContext }).ctx;
}

/** Appends `count` session messages of 200 bytes, 20 per window; returns their seqs. */
async function appendSession(s: Store, count: number, first = 0): Promise<number[]> {
  const seqs: number[] = [];
  for (let i = 0; i < count; i += 20) {
    const batch = Array.from({ length: Math.min(20, count - i) }, (_, j) => s.appendSessionMessage('c', outgoing(message(first + i + j, 200))));
    await Promise.all(batch.map((a) => a.durable));
    seqs.push(...batch.map((a) => a.seq));
  }
  return seqs;
}

function intact(messages: { message: { payload: Buffer } }[], ids: number[]): void {
  assert.equal(messages.map((m) => m.message.payload.readUInt32BE(0)), ids);
  for (const m of messages) assert.ok(m.message.payload.subarray(4).every((b) => b === (m.message.payload.readUInt32BE(0) & 0xff)));
}

records('small messages live in rotated log files, LMDB holds index entries, reopen reads them, removals release the files', async () => {
  const dataDir = tempDir('log-records');
  let s = await Store.open(options(dataDir));
  await s.saveSession(session('c'));
  const seqs = await appendSession(s, 300);
  await s.flush();
  const ctx = ctxOf(s);
  const values = [...ctx.dbs.sessionMessages.getRange({})].map(({ value }) => value);
  assert.is(values.length, 300);
  assert.ok(values.every(isIndexEntry), 'every small message is an index entry');
  const files = ctx.log.fileCount();
  assert.ok(files >= 5, `log files kept for their live records: ${files}`);
  await s.updateInflight('c', seqs[0]!, 9, true);
  await s.close();

  s = await Store.open(options(dataDir));
  assert.is(s.openReport.missingLogRefs, 0);
  const loaded = await s.loadSessionMessages('c');
  intact(loaded, seqs.map((_, i) => i));
  assert.is(loaded[0]!.packetId, 9);
  assert.is(loaded[0]!.released, true);
  await Promise.all(seqs.map((seq) => s.removeSessionMessage('c', seq, true)));
  await s.flush();
  assert.ok(ctxOf(s).log.fileCount() <= 1, `log files left after every message was removed: ${ctxOf(s).log.fileCount()}`);
  await s.close();
});

records('a batch of acknowledgements of inline session messages frees their log records (Store.removeSessionMessages)', async () => {
  const dataDir = tempDir('log-records-batch');
  const s = await Store.open(options(dataDir));
  await s.saveSession(session('c'));
  const seqs = await appendSession(s, 300);
  await s.flush();
  const ctx = ctxOf(s);
  assert.ok(ctx.log.liveBytes() > 0, 'the index entries keep their records live');
  // The broker acknowledges a turn's PUBACKs together, telling the store their payloads are inline.
  for (let i = 0; i < seqs.length; i += 50) {
    const batch = seqs.slice(i, i + 50);
    await s.removeSessionMessages('c', batch, batch.map(() => true));
  }
  await s.flush();
  assert.equal(await s.loadSessionMessages('c'), []);
  assert.is(ctx.log.liveBytes(), 0, 'no log record stays live for a removed message');
  assert.ok(ctx.log.fileCount() <= 1, `log files left after every message was removed: ${ctx.log.fileCount()}`);
  await s.close();
});

records('index entries are the default; a directory written without them opens with them and the other way round', async () => {
  const dataDir = tempDir('log-records-default');
  const { logRecords: _, ...byDefault } = options(dataDir);
  let s = await Store.open({ ...byDefault, logRecords: false }); // what the default was before 2026-12-03
  await s.saveSession(session('c'));
  await appendSession(s, 60);
  await s.flush();
  assert.ok([...ctxOf(s).dbs.sessionMessages.getRange({})].every(({ value }) => !isIndexEntry(value)), 'whole records');
  await s.close();
  s = await Store.open(byDefault);
  intact(await s.loadSessionMessages('c'), [...Array(60).keys()]);
  await appendSession(s, 60, 60);
  await s.flush();
  const values = [...ctxOf(s).dbs.sessionMessages.getRange({})].map(({ value }) => value);
  assert.is(values.filter(isIndexEntry).length, 60, 'the new messages are index entries');
  await s.close();
  s = await Store.open({ ...byDefault, logRecords: false });
  assert.is(s.openReport.missingLogRefs, 0);
  intact(await s.loadSessionMessages('c'), [...Array(120).keys()]);
  await s.close();
});

records('log compaction moves the live records of mostly-dead files forward; the old files go and the copies stay', async () => {
  const dataDir = tempDir('log-compact');
  let s = await Store.open(options(dataDir));
  await s.saveSession(session('c'));
  const seqs = await appendSession(s, 400);
  const kept = seqs.filter((_, i) => i % 10 === 0);
  await Promise.all(seqs.filter((_, i) => i % 10 !== 0).map((seq) => s.removeSessionMessage('c', seq, true)));
  await s.flush();
  const log = ctxOf(s).log;
  const before = log.fileCount();
  await s.compactPayloads();
  const compactor = (s as unknown as { compactor: { logFiles: { totals: { recordsMoved: number; filesCompacted: number } } } }).compactor.logFiles;
  assert.ok(compactor.totals.recordsMoved > 0, 'records moved');
  assert.ok(log.fileCount() < before, `log files ${before} -> ${log.fileCount()}`);
  intact(await s.loadSessionMessages('c'), kept.map((seq) => seqs.indexOf(seq)));
  // More windows seal the file holding the copies, then go again: the copies must keep that file.
  const more = await appendSession(s, 200, 1000);
  await Promise.all(more.map((seq) => s.removeSessionMessage('c', seq, true)));
  await s.flush();
  intact(await s.loadSessionMessages('c'), kept.map((seq) => seqs.indexOf(seq)));
  await s.close();
  s = await Store.open(options(dataDir));
  assert.is(s.openReport.missingLogRefs, 0);
  intact(await s.loadSessionMessages('c'), kept.map((seq) => seqs.indexOf(seq)));
  await s.close();
});

records('queue messages: index entries keep their delivery count; a last-value replacement frees the old record', async () => {
  const dataDir = tempDir('log-queue');
  let s = await Store.open(options(dataDir));
  const a = s.appendQueueMessage(1, message(1, 100), 'k');
  await a.durable;
  await s.setQueueDeliveryCount(1, a.seq, 3);
  const b = s.appendQueueMessage(1, message(2, 100), 'k', { seq: a.seq, inline: true });
  await b.durable;
  await s.setQueueDeliveryCount(1, b.seq, 2);
  await s.flush();
  await s.close();
  s = await Store.open(options(dataDir));
  const read = await s.readQueueMessages(1, { limit: 10 });
  assert.equal(read.map((m) => [m.seq, m.key, m.deliveryCount, m.message.payload.readUInt32BE(0)]), [[b.seq, 'k', 2, 2]]);
  assert.ok(read[0]!.enqueuedAt > 0);
  await s.close();
});

records('a format 3 directory is migrated: its whole records stay readable beside new index entries', async () => {
  const dataDir = tempDir('log-migrate3');
  let s = await Store.open(options(dataDir, { commitLog: false }));
  await s.saveSession(session('c'));
  await appendSession(s, 40);
  await s.close();
  const root = openLmdb({ path: join(dataDir, 'lmdb') });
  const meta = root.openDB({ name: 'meta' });
  await meta.put('wharf', { ...(meta.get('wharf') as object), formatVersion: 3 });
  await root.close();
  s = await Store.open(options(dataDir));
  await appendSession(s, 40, 40);
  await s.flush();
  const shapes = [...ctxOf(s).dbs.sessionMessages.getRange({})].map(({ value }) => isIndexEntry(value));
  assert.equal(shapes, [...Array(40).fill(false), ...Array(40).fill(true)]);
  intact(await s.loadSessionMessages('c'), Array.from({ length: 80 }, (_, i) => i));
  await s.close();
  const check = openLmdb({ path: join(dataDir, 'lmdb') });
  assert.is((check.openDB({ name: 'meta' }).get('wharf') as { formatVersion: number }).formatVersion, FORMAT_VERSION);
  await check.close();
});

records('windows filling less than a log page keep whole records in LMDB: the log files are released and reused', async () => {
  const dataDir = tempDir('log-small-windows');
  const s = await Store.open(options(dataDir, { logIndexMaxOps: 8 }));
  await s.saveSession(session('c'));
  // One message per window (a publisher waiting for each PUBACK), into 8 KiB log files: 60 windows of 4 KiB.
  for (let i = 0; i < 60; i++) await s.appendSessionMessage('c', outgoing(message(i, 200))).durable;
  await s.flush();
  const ctx = ctxOf(s);
  const values = [...ctx.dbs.sessionMessages.getRange({})].map(({ value }) => value);
  assert.is(values.length, 60);
  assert.ok(values.every((v) => !isIndexEntry(v)), 'whole records');
  assert.is(ctx.log.liveBytes(), 0);
  assert.ok(ctx.log.fileCount() <= 3, `log files kept: ${ctx.log.fileCount()}`);
  intact(await s.loadSessionMessages('c'), Array.from({ length: 60 }, (_, i) => i));
  await s.close();
});

records('a format 3 directory killed before an index commit: its log records (whole-record puts) replay as whole records', async () => {
  const dataDir = tempDir('log-migrate3-replay');
  const s = await Store.open(options(dataDir, { logIndexMaxOps: 1_000_000, logIndexIntervalMs: 600_000 }));
  await s.saveSession(session('c'));
  await s.flush();
  const ctx = ctxOf(s);
  const sid = (s as unknown as { sessions: { entry(c: string): { sid: number } } }).sessions.entry('c').sid;
  // What format 3 logged for a session message: a Put of the whole record into sessionMessages (kind 0).
  const puts = Array.from({ length: 30 }, (_, i) => {
    const m = message(i, 200);
    const record = [[m.topic, 1, 0, m.payload, null, null, 0, m.origin], 1, 0, i === 4 ? 77 : 0, false, null];
    return ctx.scheduler.enqueue(new PutOp(ctx.dbs.sessionMessages, seqKey(sid, i + 1), record, 300, 200));
  });
  await Promise.all(puts);
  // A SIGKILL now leaves LMDB without them and the log with them; the copy gets format 3 in its meta record.
  const copy = tempDir('log-migrate3-replay-copy');
  cpSync(dataDir, copy, { recursive: true });
  await s.close();
  const root = openLmdb({ path: join(copy, 'lmdb') });
  const meta = root.openDB({ name: 'meta' });
  await meta.put('wharf', { ...(meta.get('wharf') as object), formatVersion: 3 });
  await root.close();
  let c = await Store.open(options(copy));
  assert.ok(c.openReport.logRecordsReplayed >= 30, `replayed ${c.openReport.logRecordsReplayed}`);
  const shapes = [...ctxOf(c).dbs.sessionMessages.getRange({})].map(({ value }) => isIndexEntry(value));
  assert.equal(shapes, Array(30).fill(false), 'whole records');
  await appendSession(c, 40, 30);
  await c.close();
  c = await Store.open(options(copy));
  const loaded = await c.loadSessionMessages('c');
  intact(loaded, Array.from({ length: 70 }, (_, i) => i));
  assert.is(loaded[4]!.packetId, 77);
  assert.equal(loaded.map((m) => m.message.topic), Array.from({ length: 70 }, (_, i) => `site/1/sensor/${i}`));
  await c.close();
});

records.run();
