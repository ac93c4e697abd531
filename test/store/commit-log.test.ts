// The commit log (storage.commitLog) in one process: its record format and torn-tail scan, reads that see
// acknowledged writes LMDB does not hold yet, recovery from a copy of a running store's directory (what a crash
// leaves: the log ahead of LMDB), and the migration of a format 1 data directory.

import { cpSync, mkdirSync, openSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { open as openLmdb } from 'lmdb';
import { Packr } from 'msgpackr';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FORMAT_VERSION } from '../../src/store/environment.js';
import { StoreOpenError } from '../../src/store/errors.js';
import { CommitLog } from '../../src/store/log/commit-log.js';
import { LOG_HEADER_BYTES } from '../../src/store/log/log-format.js';
import { logRefOf, loggedRecord, type StoreContext } from '../../src/store/message-records.js';
import { crc32Continue } from '../../src/store/payload/crc32.js';
import { Store } from '../../src/store/store.js';
import { logRecordsOnDisk, message, outgoing, removeTempDirs, session, tempDir } from './helpers.js';

const bodies = (from: number, n: number): Buffer[] => Array.from({ length: n }, (_, i) => Buffer.from(`record ${from + i}`));
const text = (records: { body: Buffer }[]): string[] => records.map((r) => r.body.toString());

const log = suite('commit log');
log.after(removeTempDirs);

log('records come back in LSN order after the checkpoint, across files, and writing goes on past them', async () => {
  const dir = tempDir('log-format');
  const a = await CommitLog.open(dir, true, undefined, 8192);
  await a.write(bodies(1, 3)); // one 4 KiB block
  await a.write(bodies(4, 2)); // second block: the file is full (8 KiB), the next write starts a new one
  await a.write(bodies(6, 2));
  await a.close();
  assert.is(readdirSync(dir).length, 2);
  const b = await CommitLog.open(dir, true);
  assert.equal(text(b.recordsAfter(3)), ['record 4', 'record 5', 'record 6', 'record 7']);
  assert.is(b.next, 8);
  await b.release(7);
  // Covered files are kept for reuse (two at most) and written over under a new number.
  assert.is(readdirSync(dir).length, 2);
  await b.write(bodies(8, 1));
  assert.equal(readdirSync(dir).sort(), ['log-0000000002.wlg', 'log-0000000003.wlg']);
  await b.close();
  const c = await CommitLog.open(dir, true);
  assert.equal(text(c.recordsAfter(7)), ['record 8'], 'the reused file holds the new record, its old ones end the scan');
  await c.release(8);
  await c.close();
});

/** reusableBytes() after every event-loop turn until `work` settles (a release, a write taking a spare). */
async function reusableWhile(a: CommitLog, work: Promise<unknown>): Promise<number[]> {
  let settled = false;
  void work.then(() => (settled = true), () => (settled = true));
  const seen: number[] = [];
  while (!settled) {
    seen.push(a.reusableBytes());
    await new Promise((resolve) => setImmediate(resolve));
  }
  await work;
  return seen;
}

log('a released file counts as reusable space throughout: while it goes to the spares, and while a write takes it', async () => {
  const dir = tempDir('log-reusable');
  const a = await CommitLog.open(dir, true, undefined, 8192);
  const first = await a.write(bodies(1, 3));
  await a.write(bodies(4, 2)); // the file is full (8 KiB) and sealed
  await a.read(first.refs[0]!); // a reader the release has to close (I/O between leaving the files and the spares)
  assert.is(a.reusableBytes(), 0);
  const releasing = await reusableWhile(a, a.release(5));
  assert.ok(releasing.length > 0 && releasing.every((bytes) => bytes === 8192), `while released: ${releasing}`);
  assert.is(a.reusableBytes(), 8192);
  // The next write renames the spare and syncs the directory before it writes over the first 4 KiB.
  const taking = await reusableWhile(a, a.write(bodies(6, 1)));
  assert.ok(taking.length > 0 && taking.every((bytes) => bytes === 8192), `while taken: ${taking}`);
  assert.is(a.reusableBytes(), 4096);
  await a.close();
});

log('a torn tail, garbage, or a record copied from another file ends the scan there', async () => {
  const dir = tempDir('log-torn');
  const a = await CommitLog.open(dir, true);
  await a.write(bodies(1, 2));
  await a.write(bodies(3, 2));
  await a.close();
  const [name] = readdirSync(dir);
  const path = join(dir, name!);
  const size = statSync(path).size;
  assert.is(size, 8192);
  // Cut into the second flush's first record: records 1 and 2 remain.
  truncateSync(path, 4096 + 10);
  const torn = await CommitLog.open(dir, true);
  assert.equal(text(torn.recordsAfter(0)), ['record 1', 'record 2']);
  // Garbage where the second flush was: the same.
  const fd = openSync(path, 'r+');
  writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, 4096);
  closeSync(fd);
  assert.equal(text((await CommitLog.open(dir, true)).recordsAfter(0)), ['record 1', 'record 2']);
  // A flipped bit in record 2's body: only record 1.
  const fd2 = openSync(path, 'r+');
  writeSync(fd2, Buffer.from("X"), 0, 1, 14 + 8 + 14 + 3);
  closeSync(fd2);
  assert.equal(text((await CommitLog.open(dir, true)).recordsAfter(0)), ['record 1']);
  // A gap in the LSNs (what follows was never acknowledged) ends the replay as well.
  const gap = tempDir('log-gap');
  const g = await CommitLog.open(gap, true);
  await g.write(bodies(1, 2));
  await g.close();
  assert.equal(text((await CommitLog.open(gap, true)).recordsAfter(5)), [], 'nothing after a checkpoint beyond the log');
});

log('reads see acknowledged writes LMDB does not hold yet; removals too', async () => {
  const dataDir = tempDir('log-overlay');
  const s = await Store.open({ dataDir, commitLog: true, logIndexMaxOps: 1_000_000, logIndexIntervalMs: 600_000, minFreeDiskBytes: 0 });
  await s.saveSession(session('c'));
  const appended = Array.from({ length: 20 }, (_, i) => s.appendSessionMessage('c', outgoing(message(i, 256))));
  const queued = Array.from({ length: 5 }, (_, i) => s.appendQueueMessage(3, message(100 + i, 64, 'q/x')));
  await Promise.all([...appended, ...queued].map((a) => a.durable));
  await s.removeSessionMessage('c', appended[0]!.seq, true);
  await s.updateInflight('c', appended[1]!.seq, 42, false);
  const scheduler = (s as unknown as { ctx: { scheduler: { unindexedOps(): number } } }).ctx.scheduler;
  assert.ok(scheduler.unindexedOps() >= 27, `acknowledged, not in LMDB yet (${scheduler.unindexedOps()})`);
  const loaded = await s.loadSessionMessages('c');
  assert.equal(loaded.map((m) => m.seq), appended.slice(1).map((a) => a.seq));
  assert.is(loaded[0]!.packetId, 42);
  assert.equal((await s.readQueueMessages(3, { limit: 10 })).map((m) => m.message.payload.readUInt32BE(0)), [100, 101, 102, 103, 104]);
  assert.is(scheduler.unindexedOps(), 0, 'the read brought LMDB up to date');
  await s.close();
});

log('a copy of a running store (log ahead of LMDB) opens with every acknowledged write, replayed from the log', async () => {
  const dataDir = tempDir('log-copy');
  const s = await Store.open({ dataDir, commitLog: true, logIndexMaxOps: 1_000_000, logIndexIntervalMs: 600_000, minFreeDiskBytes: 0 });
  await s.saveSession(session('c'));
  const appended = Array.from({ length: 50 }, (_, i) => s.appendSessionMessage('c', outgoing(message(i, i % 10 === 0 ? 5000 : 256))));
  await Promise.all(appended.map((a) => a.durable));
  await s.removeSessionMessage('c', appended[3]!.seq);
  await s.setRetained({ ...message(7, 10, 'r/1'), retain: true });
  // What a SIGKILL leaves: LMDB as last committed (nothing of these windows), the log with all of them.
  const copy = tempDir('log-copy-of');
  cpSync(dataDir, copy, { recursive: true });
  await s.close();
  const c = await Store.open({ dataDir: copy, minFreeDiskBytes: 0 });
  assert.ok(c.openReport.logRecordsReplayed >= 53, `replayed ${c.openReport.logRecordsReplayed}`);
  assert.is(c.openReport.payloads.missingRefs, 0);
  const loaded = await c.loadSessionMessages('c');
  assert.equal(loaded.map((m) => m.seq), appended.filter((_, i) => i !== 3).map((a) => a.seq));
  assert.is(loaded[9]!.message.payload.length, 5000, 'a payload-store payload a log record refers to survives reconcile');
  assert.equal((await c.loadRetained()).map((m) => m.topic), ['r/1']);
  await c.close();
  // Replayed once: a second open finds nothing more to do.
  const again = await Store.open({ dataDir: copy, minFreeDiskBytes: 0 });
  assert.is(again.openReport.logRecordsReplayed, 0);
  assert.is((await again.loadSessionMessages('c')).length, 49);
  await again.close();
});

log('a format 1 data directory is migrated on open', async () => {
  const dataDir = tempDir('log-migrate');
  const s = await Store.open({ dataDir, minFreeDiskBytes: 0 });
  await s.saveSession(session('c'));
  await s.close();
  const root = openLmdb({ path: join(dataDir, 'lmdb') });
  const meta = root.openDB({ name: 'meta' });
  await meta.put('wharf', { ...(meta.get('wharf') as object), formatVersion: 1 });
  await root.close();
  const m = await Store.open({ dataDir, minFreeDiskBytes: 0, commitLog: true });
  assert.equal((await m.loadSessions()).map((x) => x.clientId), ['c']);
  await m.close();
  const check = openLmdb({ path: join(dataDir, 'lmdb') });
  assert.is((check.openDB({ name: 'meta' }).get('wharf') as { formatVersion: number }).formatVersion, FORMAT_VERSION);
  await check.close();
});

/** A commit-log record of store format 2 (24-byte header with magic and file number), as that version wrote it. */
function v2Record(fileId: number, lsn: number, body: Buffer): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32BE(0x574c4731, 0);
  header.writeUInt32BE(body.length, 4);
  header.writeUInt32BE(fileId, 8);
  header.writeUInt32BE(0, 16);
  header.writeUInt32BE(lsn, 20);
  header.writeUInt32BE(crc32Continue(body, crc32Continue(header.subarray(16, 24), crc32Continue(header.subarray(8, 12), 0))), 12);
  return Buffer.concat([header, body]);
}

/** Makes `dataDir` look like format 2 with LMDB's checkpoint at `checkpoint` and a log file holding `lsns`. */
async function asFormat2(dataDir: string, checkpoint: number, lsns: number[]): Promise<void> {
  const root = openLmdb({ path: join(dataDir, 'lmdb') });
  const meta = root.openDB({ name: 'meta' });
  await meta.put('wharf', { ...(meta.get('wharf') as object), formatVersion: 2 });
  await meta.put('logCheckpoint', checkpoint);
  await root.close();
  rmSync(join(dataDir, 'log'), { recursive: true, force: true });
  mkdirSync(join(dataDir, 'log'));
  writeFileSync(join(dataDir, 'log', 'log-0000000007.wlg'), Buffer.concat(lsns.map((lsn) => v2Record(7, lsn, Buffer.from(`old ${lsn}`)))));
}

log('a format 2 directory whose log LMDB covers is migrated, and new records continue past its checkpoint', async () => {
  const dataDir = tempDir('log-migrate2');
  const s = await Store.open({ dataDir, minFreeDiskBytes: 0 });
  await s.saveSession(session('c'));
  await s.close();
  await asFormat2(dataDir, 900, [899, 900]);
  const m = await Store.open({ dataDir, minFreeDiskBytes: 0, logIndexMaxOps: 1_000_000, logIndexIntervalMs: 600_000 });
  assert.is(m.openReport.logRecordsReplayed, 0);
  const appended = Array.from({ length: 5 }, (_, i) => m.appendSessionMessage('c', outgoing(message(i, 256))));
  await Promise.all(appended.map((a) => a.durable));
  // A crash now: LMDB at checkpoint 900, the five only in the log (new format, LSNs above 900).
  const copy = tempDir('log-migrate2-copy');
  cpSync(dataDir, copy, { recursive: true });
  await m.close();
  const c = await Store.open({ dataDir: copy, minFreeDiskBytes: 0 });
  assert.is(c.openReport.logRecordsReplayed, 5);
  assert.equal((await c.loadSessionMessages('c')).map((x) => x.seq), appended.map((a) => a.seq));
  await c.close();
  const check = openLmdb({ path: join(copy, 'lmdb') });
  assert.is((check.openDB({ name: 'meta' }).get('wharf') as { formatVersion: number }).formatVersion, FORMAT_VERSION);
  await check.close();
});

log('a format 2 directory with log records LMDB lacks is refused, and left as it was', async () => {
  const dataDir = tempDir('log-refuse2');
  const s = await Store.open({ dataDir, minFreeDiskBytes: 0 });
  await s.close();
  await asFormat2(dataDir, 900, [900, 901, 902]);
  const err = await Store.open({ dataDir, minFreeDiskBytes: 0 }).catch((e: unknown) => e);
  assert.instance(err, StoreOpenError);
  assert.match((err as Error).message, /up to 902, checkpoint 900/);
  const check = openLmdb({ path: join(dataDir, 'lmdb') });
  assert.is((check.openDB({ name: 'meta' }).get('wharf') as { formatVersion: number }).formatVersion, 2);
  await check.close();
});

for (const indexRuns of [false, true]) log(`appends removed again before their index commit are never written to LMDB; a replay ends the same (indexRuns: ${indexRuns})`, async () => {
  const dataDir = tempDir('log-cancel');
  const s = await Store.open({ dataDir, minFreeDiskBytes: 0, logIndexMaxOps: 1_000_000, logIndexIntervalMs: 600_000, indexRuns });
  await s.saveSession(session('c'));
  await s.flush();
  const ctx = (s as unknown as { ctx: StoreContext }).ctx;
  const puts = { session: 0, queue: 0 };
  for (const [name, db] of [['session', ctx.dbs.sessionMessages], ['queue', ctx.dbs.queueMessages]] as const) {
    const put = db.put.bind(db);
    db.put = ((...args: Parameters<typeof put>) => {
      puts[name]++;
      return put(...args);
    }) as typeof db.put;
  }
  const sent = Array.from({ length: 40 }, (_, i) => s.appendSessionMessage('c', outgoing(message(i, 256))));
  const queued = Array.from({ length: 40 }, (_, i) => s.appendQueueMessage(1, message(100 + i, 256, 'q/1')));
  // One in the payload store: its removal must free it, so it is written (and removed) as usual.
  const large = s.appendSessionMessage('c', outgoing(message(99, 5000)));
  await Promise.all([...sent, ...queued, large].map((a) => a.durable));
  await s.updateInflight('c', sent[0]!.seq, 7, false);
  const acked = (i: number) => i % 4 !== 0;
  await Promise.all([
    ...sent.filter((_, i) => acked(i)).map((a) => s.removeSessionMessage('c', a.seq, a.inline)),
    // Queue acknowledgements as the queue engine sends them: one batched removal per turn.
    s.removeQueueMessages(1, queued.filter((_, i) => acked(i)).map((a) => a.seq), queued.filter((_, i) => acked(i)).map((a) => a.inline)),
    s.removeSessionMessage('c', large.seq),
  ]);
  const copy = tempDir('log-cancel-copy');
  cpSync(dataDir, copy, { recursive: true });
  await s.flush();
  // With runs: the kept ones share one entry (the removed ones in between are marked in it), which also takes the
  // inflight update; the large one has its own.
  const expected = indexRuns ? { session: 1 + 1, queue: 1 } : { session: 10 + 1 + 1, queue: 10 };
  assert.equal(puts, expected, 'the kept ones, the large one, the inflight update of one kept');
  const check = async (store: Store): Promise<void> => {
    assert.equal((await store.loadSessionMessages('c')).map((m) => m.seq), sent.filter((_, i) => !acked(i)).map((a) => a.seq));
    assert.is((await store.loadSessionMessages('c'))[0]!.packetId, 7);
    assert.equal((await store.readQueueMessages(1, { limit: 100 })).map((m) => m.seq), queued.filter((_, i) => !acked(i)).map((a) => a.seq));
  };
  await check(s);
  await s.close();
  const reopened = await Store.open({ dataDir, minFreeDiskBytes: 0 });
  await check(reopened);
  assert.is(reopened.openReport.payloads.missingRefs, 0);
  await reopened.close();
  const replayed = await Store.open({ dataDir: copy, minFreeDiskBytes: 0 });
  // The queue's 30 removals are one record.
  assert.ok(replayed.openReport.logRecordsReplayed >= 80 + 30 + 1, `replayed ${replayed.openReport.logRecordsReplayed}`);
  await check(replayed);
  await replayed.close();
});

for (const indexRuns of [false, true]) log(`a live consumer's updates and removals of appends cancelled in the same index commit read and write nothing in LMDB (indexRuns: ${indexRuns})`, async () => {
  const dataDir = tempDir('log-cancel-live');
  const s = await Store.open({ dataDir, minFreeDiskBytes: 0, logIndexMaxOps: 1_000_000, logIndexIntervalMs: 600_000, indexRuns });
  await s.saveSession(session('c'));
  await s.flush();
  const ctx = (s as unknown as { ctx: StoreContext }).ctx;
  const calls = { session: 0, queue: 0 };
  for (const [name, db] of [['session', ctx.dbs.sessionMessages], ['queue', ctx.dbs.queueMessages]] as const) {
    for (const method of ['get', 'getRange', 'put', 'remove'] as const) {
      const original = (db[method] as (...args: unknown[]) => unknown).bind(db);
      (db as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
        calls[name]++;
        return original(...args);
      };
    }
  }
  // What a consumer that keeps up does: each message is sent (its packet id recorded), redelivered once (its delivery
  // count), and acknowledged, all before the index commit.
  const sent = Array.from({ length: 40 }, (_, i) => s.appendSessionMessage('c', outgoing(message(i, 256))));
  const queued = Array.from({ length: 40 }, (_, i) => s.appendQueueMessage(1, message(100 + i, 256, 'q/1')));
  await Promise.all([...sent, ...queued].map((a) => a.durable));
  // The queue's first append looked up its last sequence; from here on nothing should touch either database.
  calls.session = calls.queue = 0;
  await Promise.all(sent.map((a, i) => s.updateInflight('c', a.seq, i + 1, false)));
  await Promise.all(queued.map((a) => s.setQueueDeliveryCount(1, a.seq, 2)));
  await Promise.all([
    ...sent.map((a) => s.removeSessionMessage('c', a.seq, a.inline)),
    s.removeQueueMessages(1, queued.map((a) => a.seq), queued.map((a) => a.inline)),
  ]);
  const copy = tempDir('log-cancel-live-copy');
  cpSync(dataDir, copy, { recursive: true });
  await s.flush();
  assert.equal(calls, { session: 0, queue: 0 });
  assert.equal(await s.loadSessionMessages('c'), []);
  assert.equal(await s.readQueueMessages(1, { limit: 100 }), []);
  await s.close();
  // The log still holds all of it: a replay, which applies each operation on its own, ends the same.
  const replayed = await Store.open({ dataDir: copy, minFreeDiskBytes: 0 });
  assert.ok(replayed.openReport.logRecordsReplayed >= 80 + 40 + 40 + 40 + 1, `replayed ${replayed.openReport.logRecordsReplayed}`);
  assert.equal(await replayed.loadSessionMessages('c'), []);
  assert.equal(await replayed.readQueueMessages(1, { limit: 100 }), []);
  await replayed.close();
});

log('a 256-byte message is one log record of its whole record plus 18 bytes less its topic and origin after their first use in the file, and a 16-byte index entry in LMDB', async () => {
  const dataDir = tempDir('log-size');
  // Store format 4's index entry of one message (format 5 puts runs of them in one entry: index-runs.test.ts).
  const s = await Store.open({ dataDir, minFreeDiskBytes: 0, logIndexIntervalMs: 600_000, logRecords: true, indexRuns: false });
  await s.saveSession(session('c'));
  const ctx = (s as unknown as { ctx: StoreContext }).ctx;
  // The records on the disk since the last call, as their sizes.
  let seen = 0;
  const newRecordSizes = (): number[] => {
    const records = logRecordsOnDisk(dataDir);
    const sizes = records.slice(seen).map((r) => LOG_HEADER_BYTES + r.body.length);
    seen = records.length;
    return sizes;
  };
  newRecordSizes(); // the session's
  const msg = { ...message(1, 256, 'bench/durable/1'), origin: 'bench-pub-0001' };
  // Windows of 16: a window filling less than a log page keeps whole records in LMDB.
  const window = async (): Promise<void> => void (await Promise.all(Array.from({ length: 16 }, () => s.appendSessionMessage('c', outgoing(msg)).durable)));
  await window();
  // The first write of the file holds the string table (topic and origin) before the records.
  assert.is(newRecordSizes().length, 17);
  await window();
  const sizes = newRecordSizes();
  await s.flush();
  const [key] = [...ctx.dbs.sessionMessages.getKeys({ limit: 32 })].slice(16);
  const value = ctx.dbs.sessionMessages.getBinary(key as Buffer);
  assert.ok(value !== undefined);
  assert.ok(value!.length <= 16, `index entry of ${value!.length} bytes`);
  const ref = logRefOf(ctx.dbs.sessionMessages.get(key as Buffer))!;
  const record = loggedRecord(await ctx.log.read(ref), ctx.log.stringsOf(ref.file));
  assert.is(record[0][0], 'bench/durable/1');
  assert.is(record[0][7], 'bench-pub-0001');
  const whole = new Packr({ useRecords: false }).pack(record).length;
  // The header, then the entry: kind, session id, seq (up to 5 bytes), the whole record with its topic (15 bytes
  // and a length byte) and origin (14 + 1) as one-byte numbers.
  assert.is(sizes.length, 16);
  const strings = 16 + 15 - 2;
  assert.ok(sizes[0]! <= LOG_HEADER_BYTES + 1 + 1 + 1 + 5 + whole - strings, `record ${sizes[0]} bytes for a ${whole}-byte whole record`);
  const loaded = await s.loadSessionMessages('c');
  assert.equal(loaded.map((m) => [m.message.topic, m.message.origin, m.message.payload.length]), Array(32).fill(['bench/durable/1', 'bench-pub-0001', 256]));
  await s.close();
});

log.run();
