// The commit log (storage.commitLog) in one process: its record format and torn-tail scan, reads that see
// acknowledged writes LMDB does not hold yet, recovery from a copy of a running store's directory (what a crash
// leaves: the log ahead of LMDB), and the migration of a format 1 data directory.

import { cpSync, openSync, readdirSync, statSync, truncateSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { open as openLmdb } from 'lmdb';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CommitLog } from '../../src/store/log/commit-log.js';
import { Store } from '../../src/store/store.js';
import { message, outgoing, removeTempDirs, session, tempDir } from './helpers.js';

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
  truncateSync(path, 4096 + 30);
  const torn = await CommitLog.open(dir, true);
  assert.equal(text(torn.recordsAfter(0)), ['record 1', 'record 2']);
  // Garbage where the second flush was: the same.
  const fd = openSync(path, 'r+');
  writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, 4096);
  closeSync(fd);
  assert.equal(text((await CommitLog.open(dir, true)).recordsAfter(0)), ['record 1', 'record 2']);
  // A flipped bit in record 2's body: only record 1.
  const fd2 = openSync(path, 'r+');
  writeSync(fd2, Buffer.from('X'), 0, 1, 24 + 8 + 24 + 3);
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
  assert.is((check.openDB({ name: 'meta' }).get('wharf') as { formatVersion: number }).formatVersion, 2);
  await check.close();
});

log.run();
