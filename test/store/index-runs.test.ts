// Store format 5: consecutive small messages of one session or queue share one LMDB index entry, a run; each
// message is still found, changed, removed, read, replayed and compacted as one with its own key.

import { open as openLmdb } from 'lmdb';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { TxnScope } from '../../src/store/commit-scheduler.js';
import { FORMAT_VERSION } from '../../src/store/environment.js';
import type { LogRef } from '../../src/store/log/commit-log.js';
import { isIndexEntry, loggedRecord, type StoreContext } from '../../src/store/message-records.js';
import { placeOf } from '../../src/store/runs/message-index.js';
import { decodeRun, isRunEntry, type StoredRun } from '../../src/store/runs/run-entry.js';
import { Store, type StoreOptions } from '../../src/store/store.js';
import { message, outgoing, removeTempDirs, session, tempDir } from './helpers.js';

const runs = suite('store: index runs (store format 5)');
runs.after.each(removeTempDirs);

const SMALL_FILES = 8 * 1024;

function options(dataDir: string, more: Partial<StoreOptions> = {}): StoreOptions {
  return { dataDir, minFreeDiskBytes: 0, logFileBytes: SMALL_FILES, indexRuns: true, payloadCompaction: { intervalMs: 0 }, ...more };
}

function ctxOf(s: Store): StoreContext {
  return (s as unknown as { ctx: StoreContext }).ctx;
}

/** Appends `count` session messages of 200 bytes, `window` per window; returns their seqs. */
async function appendSession(s: Store, count: number, first = 0, window = 20): Promise<number[]> {
  const seqs: number[] = [];
  for (let i = 0; i < count; i += window) {
    const batch = Array.from({ length: Math.min(window, count - i) }, (_, j) => s.appendSessionMessage('c', outgoing(message(first + i + j, 200))));
    await Promise.all(batch.map((a) => a.durable));
    seqs.push(...batch.map((a) => a.seq));
  }
  return seqs;
}

const ids = (messages: { message: { payload: Buffer } }[]): number[] => messages.map((m) => m.message.payload.readUInt32BE(0));

function intact(messages: { message: { payload: Buffer } }[], expected: number[]): void {
  assert.equal(ids(messages), expected);
  for (const m of messages) assert.ok(m.message.payload.subarray(4).every((b) => b === (m.message.payload.readUInt32BE(0) & 0xff)), 'payload bytes intact');
}

function entries(s: Store, db: 'sessionMessages' | 'queueMessages'): unknown[] {
  return [...ctxOf(s).dbs[db].getRange({})].map(({ value }) => value);
}

runs('a backlog takes one entry per run; reopen reads every message; an update and removals reach messages inside runs and release the files', async () => {
  const dataDir = tempDir('runs-backlog');
  let s = await Store.open(options(dataDir));
  await s.saveSession(session('c'));
  const seqs = await appendSession(s, 300);
  await s.flush();
  const values = entries(s, 'sessionMessages');
  assert.ok(values.every(isRunEntry), 'every entry is a run');
  // 8 KiB log files hold ~30 records each: a run ends with its file.
  assert.ok(values.length <= 300 / 20 + 12, `entries for 300 messages: ${values.length}`);
  assert.ok(ctxOf(s).log.fileCount() >= 5, 'log files kept for their live records');
  await s.updateInflight('c', seqs[33]!, 9, true);
  await s.close();

  s = await Store.open(options(dataDir));
  assert.is(s.openReport.missingLogRefs, 0);
  const loaded = await s.loadSessionMessages('c');
  intact(loaded, seqs.map((_, i) => i));
  assert.equal(loaded.map((m) => m.seq), seqs);
  assert.equal([loaded[33]!.packetId, loaded[33]!.released], [9, true]);
  assert.equal([loaded[34]!.packetId, loaded[34]!.released], [0, false]);
  // Single removals and a turn's batch, as the broker sends them.
  await Promise.all(seqs.slice(0, 150).map((seq) => s.removeSessionMessage('c', seq, true)));
  await s.removeSessionMessages('c', seqs.slice(150), seqs.slice(150).map(() => true));
  await s.flush();
  assert.equal(await s.loadSessionMessages('c'), []);
  assert.equal(entries(s, 'sessionMessages'), [], 'a run whose messages are all removed is deleted');
  assert.is(ctxOf(s).log.liveBytes(), 0);
  assert.ok(ctxOf(s).log.fileCount() <= 1, `log files left: ${ctxOf(s).log.fileCount()}`);
  await s.close();
});

runs('pages start inside a run and end inside one; removed messages are skipped; the next seq after a restart follows the run', async () => {
  const dataDir = tempDir('runs-pages');
  let s = await Store.open(options(dataDir, { logFileBytes: 1024 * 1024 }));
  await s.saveSession(session('c'));
  const seqs = await appendSession(s, 100, 0, 50);
  const gone = new Set([seqs[10], seqs[11], seqs[60], seqs[99]]);
  await Promise.all([...gone].map((seq) => s.removeSessionMessage('c', seq!, true)));
  await s.flush();
  assert.is(entries(s, 'sessionMessages').length, 1, 'the two windows are one run');
  const kept = seqs.filter((seq) => !gone.has(seq));
  for (const [afterSeq, limit] of [[seqs[5]!, 10], [seqs[9]!, 3], [seqs[55]!, 1000], [seqs[98]!, 5], [0, 7]] as const) {
    const page = await s.loadSessionMessages('c', { afterSeq, limit });
    assert.equal(page.map((m) => m.seq), kept.filter((seq) => seq > afterSeq).slice(0, limit), `after ${afterSeq}, ${limit}`);
  }
  await s.close();
  s = await Store.open(options(dataDir));
  const next = s.appendSessionMessage('c', outgoing(message(500, 200)));
  await next.durable;
  assert.is(next.seq, seqs[99]! + 1, 'a removed last message of a run does not give its seq again');
  await s.close();
});

runs('messages acknowledged within the index interval are never written; the run goes on past them', async () => {
  const dataDir = tempDir('runs-live');
  const s = await Store.open(options(dataDir, { logFileBytes: 1024 * 1024, logIndexIntervalMs: 600_000, logIndexMaxOps: 1_000_000 }));
  await s.saveSession(session('c'));
  const seqs = await appendSession(s, 80);
  await Promise.all(seqs.filter((_, i) => i % 3 !== 0).map((seq) => s.removeSessionMessage('c', seq, true)));
  await s.flush();
  const values = entries(s, 'sessionMessages');
  assert.is(values.length, 1, 'one run for the 27 kept messages');
  assert.is(decodeRun(seqs[0]!, values[0] as StoredRun).live, 27);
  intact(await s.loadSessionMessages('c'), seqs.map((_, i) => i).filter((i) => i % 3 === 0));
  await s.close();
});

runs('queue messages: delivery counts and last-value replacements inside runs, and a read from the middle', async () => {
  const dataDir = tempDir('runs-queue');
  let s = await Store.open(options(dataDir, { logFileBytes: 1024 * 1024 }));
  const plain = Array.from({ length: 40 }, (_, i) => s.appendQueueMessage(1, message(i, 100, 'q/1')));
  await Promise.all(plain.map((a) => a.durable));
  const first = s.appendQueueMessage(2, message(100, 200, 'q/2'), 'k');
  const other = Array.from({ length: 20 }, (_, i) => s.appendQueueMessage(2, message(200 + i, 200, 'q/2'), `o${i}`));
  await Promise.all([first, ...other].map((a) => a.durable));
  await s.flush();
  assert.ok(entries(s, 'queueMessages').every(isRunEntry));
  await s.setQueueDeliveryCount(1, plain[7]!.seq, 3);
  await s.removeQueueMessages(1, [plain[8]!.seq, plain[9]!.seq], [true, true]);
  // The key's value is inside the flushed run: its replacement removes it there.
  const replacement = s.appendQueueMessage(2, message(101, 100, 'q/2'), 'k', { seq: first.seq, inline: true });
  await replacement.durable;
  await s.flush();
  await s.close();
  s = await Store.open(options(dataDir));
  const read = await s.readQueueMessages(1, { afterSeq: plain[5]!.seq, limit: 5 });
  assert.equal(read.map((m) => [m.seq, m.deliveryCount]), [[plain[6]!.seq, 0], [plain[7]!.seq, 3], [plain[10]!.seq, 0], [plain[11]!.seq, 0], [plain[12]!.seq, 0]]);
  const q2 = await s.readQueueMessages(2, { limit: 100 });
  assert.equal(q2.map((m) => m.key), [...other.map((_, i) => `o${i}`), 'k']);
  assert.is(q2.at(-1)!.message.payload.readUInt32BE(0), 101);
  assert.ok(q2[0]!.enqueuedAt > 0);
  await s.deleteQueue(2);
  await s.flush();
  assert.equal(await s.readQueueMessages(2, { limit: 100 }), []);
  await s.close();
});

runs('a copy taken before the index commit replays the log into runs, with the removals and updates after it', async () => {
  const dataDir = tempDir('runs-replay');
  const s = await Store.open(options(dataDir, { logFileBytes: 1024 * 1024, logIndexIntervalMs: 600_000, logIndexMaxOps: 1_000_000 }));
  await s.saveSession(session('c'));
  await s.flush();
  const seqs = await appendSession(s, 60);
  await s.updateInflight('c', seqs[2]!, 5, false);
  await s.removeSessionMessage('c', seqs[4]!, true);
  // What a SIGKILL leaves: LMDB without these windows, the log with all of them.
  const copy = tempDir('runs-replay-copy');
  cpSync(dataDir, copy, { recursive: true });
  await s.close();
  const c = await Store.open(options(copy));
  assert.ok(c.openReport.logRecordsReplayed >= 62, `replayed ${c.openReport.logRecordsReplayed}`);
  assert.is(c.openReport.missingLogRefs, 0);
  const loaded = await c.loadSessionMessages('c');
  intact(loaded, seqs.map((_, i) => i).filter((i) => i !== 4));
  assert.is(loaded[2]!.packetId, 5);
  const values = entries(c, 'sessionMessages');
  assert.ok(values.every(isRunEntry) && values.length <= 3, `replayed appends extend runs: ${values.length} entries`);
  await c.close();
});

runs('log compaction copies a run into one record, twice over, and the messages read the same after reopen', async () => {
  const dataDir = tempDir('runs-compact');
  let s = await Store.open(options(dataDir));
  await s.saveSession(session('c'));
  const seqs = await appendSession(s, 400);
  let kept = seqs.filter((_, i) => i % 10 === 0);
  const updated = kept[3]!;
  await s.updateInflight('c', updated, 11, true);
  await Promise.all(seqs.filter((_, i) => i % 10 !== 0).map((seq) => s.removeSessionMessage('c', seq, true)));
  await s.flush();
  const log = ctxOf(s).log;
  const before = log.fileCount();
  await s.compactPayloads();
  assert.ok(log.fileCount() < before, `log files ${before} -> ${log.fileCount()}`);
  const packed = entries(s, 'sessionMessages').filter((v) => isRunEntry(v) && (v as StoredRun)[6] !== null);
  assert.ok(packed.length > 0, 'runs refer to packed copies');
  const check = async (store: Store): Promise<void> => {
    const loaded = await store.loadSessionMessages('c');
    intact(loaded, kept.map((seq) => seqs.indexOf(seq)));
    const m = loaded.find((l) => l.seq === updated)!;
    assert.equal([m.packetId, m.released], [11, true]);
    assert.ok(loaded.every((l) => l.seq === updated || l.packetId === 0));
  };
  await check(s);
  // Most of the copies go too, and more windows seal the files holding them: the packed runs move again.
  const dropped = kept.filter((_, i) => i % 4 !== 3 && i !== 3);
  await Promise.all(dropped.map((seq) => s.removeSessionMessage('c', seq, true)));
  kept = kept.filter((seq) => !dropped.includes(seq));
  const more = await appendSession(s, 200, 1000);
  await Promise.all(more.map((seq) => s.removeSessionMessage('c', seq, true)));
  await s.flush();
  const packedPlaces = (): string[] =>
    entries(s, 'sessionMessages')
      .filter((v) => isRunEntry(v) && (v as StoredRun)[6] !== null)
      .map((v) => `${(v as StoredRun)[0]}:${(v as StoredRun)[1]}`);
  const placesBefore = packedPlaces();
  await s.compactPayloads();
  assert.ok(packedPlaces().some((place) => !placesBefore.includes(place)), 'a packed run was copied again');
  await check(s);
  await s.close();
  s = await Store.open(options(dataDir));
  assert.is(s.openReport.missingLogRefs, 0);
  await check(s);
  await s.close();
});

runs('near a space limit a run moved without the log becomes records of their own, with their changed fields', async () => {
  const dataDir = tempDir('runs-explode');
  const s = await Store.open(options(dataDir, { logFileBytes: 1024 * 1024 }));
  await s.saveSession(session('c'));
  const seqs = await appendSession(s, 20);
  await s.updateInflight('c', seqs[1]!, 4, true);
  await s.removeSessionMessage('c', seqs[2]!, true);
  await s.flush();
  const ctx = ctxOf(s);
  const [{ key, value }] = [...ctx.dbs.sessionMessages.getRange({})];
  const run = decodeRun(seqs[0]!, value as StoredRun);
  const bodies = await Promise.all(Array.from({ length: run.count }, (_, i) => (i === 2 ? Buffer.alloc(0) : ctx.log.read({ file: run.file, offset: run.offsets[i]!, length: run.lengths[i]! }))));
  const freed: LogRef[] = [];
  const scope: TxnScope = {
    freeAfterCommit: () => undefined,
    pendingFrees: () => new Map(),
    afterCommit: () => undefined,
    logRecordLive: () => undefined,
    freeLogAfterCommit: (ref) => void freed.push(ref),
    isolating: true,
    deferred: () => undefined,
  };
  const strings = ctx.log.stringsOf(run.file);
  await ctx.env.transaction(() => {
    ctx.messageIndexes.sessionMessages.moveRun(scope, key as Buffer, placeOf(run), bodies, undefined, (body) => loggedRecord(body, strings) as unknown[]);
  });
  const values = entries(s, 'sessionMessages');
  assert.is(values.length, 19);
  assert.ok(values.every((v) => !isRunEntry(v) && !isIndexEntry(v)), 'whole records');
  assert.is(freed.length, 19, 'the log records are freed');
  const loaded = await s.loadSessionMessages('c');
  intact(loaded, [0, 1, ...Array.from({ length: 17 }, (_, i) => i + 3)]);
  assert.equal([loaded[1]!.packetId, loaded[1]!.released], [4, true]);
  await s.close();
});

runs('a format-4 directory is migrated and takes runs beside its entries; a store with runs opens with them off; deleting a session frees what its runs held', async () => {
  const dataDir = tempDir('runs-formats');
  let s = await Store.open(options(dataDir, { indexRuns: false }));
  await s.saveSession(session('c'));
  await appendSession(s, 60);
  await s.flush();
  assert.ok(entries(s, 'sessionMessages').every(isIndexEntry), 'format-4 index entries');
  await s.close();
  // What a format-4 Wharf leaves: its meta record says 4.
  const root = openLmdb({ path: join(dataDir, 'lmdb') });
  const meta = root.openDB({ name: 'meta' });
  await meta.put('wharf', { ...(meta.get('wharf') as object), formatVersion: 4 });
  await root.close();
  s = await Store.open(options(dataDir));
  intact(await s.loadSessionMessages('c'), [...Array(60).keys()]);
  const seqs = await appendSession(s, 60, 60);
  await s.removeSessionMessage('c', seqs[0]! - 60, true);
  await s.flush();
  const values = entries(s, 'sessionMessages');
  assert.is(values.filter(isIndexEntry).length, 59);
  assert.ok(values.filter(isRunEntry).length > 0);
  await s.close();
  s = await Store.open(options(dataDir, { indexRuns: false }));
  assert.is(s.openReport.missingLogRefs, 0);
  intact(await s.loadSessionMessages('c'), [...Array(120).keys()].slice(1));
  await s.deleteSession('c');
  await s.flush();
  assert.equal(entries(s, 'sessionMessages'), []);
  assert.is(ctxOf(s).log.liveBytes(), 0, 'no log record stays live');
  await s.close();
  const check = openLmdb({ path: join(dataDir, 'lmdb'), readOnly: true });
  assert.is((check.openDB({ name: 'meta' }).get('wharf') as { formatVersion: number }).formatVersion, FORMAT_VERSION);
  assert.is(FORMAT_VERSION, 5);
  await check.close();
});

runs.run();
