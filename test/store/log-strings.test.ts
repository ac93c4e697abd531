// String tables of commit-log files (src/store/log/log-strings.ts): topics and origins of message records go by
// number after their first use in a file; every read (before LMDB has them, after reopen, after a replay, after
// compaction moved them to another file) gives the strings back.

import { cpSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LogKind, type LogEntry } from '../../src/store/log/log-entry.js';
import { StringTable, internEntry } from '../../src/store/log/log-strings.js';
import type { StoreContext } from '../../src/store/message-records.js';
import { Store, type StoreOptions } from '../../src/store/store.js';
import type { StoredMessage } from '../../src/store/types.js';
import { outgoing, removeTempDirs, session, tempDir } from './helpers.js';

const strings = suite('log string tables');
strings.after.each(removeTempDirs);

function entryWith(topic: string, origin: string): LogEntry {
  return [LogKind.SessionAppend, 1, 1, [[topic, 1, 0, Buffer.alloc(1), null, null, 0, origin], 1, 0, 0, false]];
}

strings('numbers in order of first use; short and very long strings, and strings past the cap, stay as they are', () => {
  const table = new StringTable();
  const added: string[] = [];
  assert.is(table.intern('a/b/c', added), 0);
  assert.is(table.intern('pub-1', added), 1);
  assert.is(table.intern('a/b/c', added), 0);
  assert.is(table.intern('a/b', added), 'a/b', 'three characters: as long as its number and length');
  const long = 'x'.repeat(257);
  assert.is(table.intern(long, added), long);
  assert.is(table.intern(7, added), 7, 'not a string');
  assert.equal(added, ['a/b/c', 'pub-1']);
  for (let i = 2; i < 4096; i++) table.intern(`topic/${i}`, added);
  assert.is(table.intern('one too many', added), 'one too many');
  table.truncate(1);
  assert.equal(table.strings, ['a/b/c']);
  assert.is(table.intern('pub-1', []), 1, 'forgotten strings are numbered again');
});

strings('an entry is interned in a copy: the operation keeps its own record (a whole record may go to LMDB)', () => {
  const table = new StringTable();
  const entry = entryWith('site/1/x', 'publisher');
  const interned = internEntry(table, entry, []);
  assert.is(((interned[3] as unknown[])[0] as unknown[])[0], 0);
  assert.is(((interned[3] as unknown[])[0] as unknown[])[7], 1);
  assert.is(((entry[3] as unknown[])[0] as unknown[])[0], 'site/1/x');
  assert.is(internEntry(table, [LogKind.Put, 1, Buffer.alloc(1), 'site/1/x'], []).at(-1), 'site/1/x', 'other kinds as they are');
});

function msg(i: number, bytes = 200): StoredMessage {
  const payload = Buffer.alloc(bytes, i & 0xff);
  payload.writeUInt32BE(i, 0);
  return { topic: `plant/${i % 3}/line`, payload, qos: 1, retain: false, properties: undefined, expiresAt: 0, origin: `publisher-${i % 2}` };
}

function check(loaded: { message: StoredMessage }[], ids: number[], what: string): void {
  assert.equal(
    loaded.map((m) => [m.message.payload.readUInt32BE(0), m.message.topic, m.message.origin]),
    ids.map((i) => [i, `plant/${i % 3}/line`, `publisher-${i % 2}`]),
    what,
  );
}

function options(dataDir: string, more: Partial<StoreOptions> = {}): StoreOptions {
  return { dataDir, minFreeDiskBytes: 0, logRecords: true, logFileBytes: 8 * 1024, payloadCompaction: { intervalMs: 0 }, ...more };
}

strings('topics and origins come back: before the index commit, after reopen, after a replay, queue messages too', async () => {
  const dataDir = tempDir('log-strings');
  let s = await Store.open(options(dataDir, { logIndexMaxOps: 1_000_000, logIndexIntervalMs: 600_000 }));
  await s.saveSession(session('c'));
  await s.saveQueue(2, { name: 'q', topicFilter: 'plant/#', type: 'standard' });
  const ids = Array.from({ length: 120 }, (_, i) => i);
  for (let i = 0; i < ids.length; i += 20) {
    // Every 10th payload goes to the payload store: its whole record goes to LMDB, the strings resolved.
    const batch = ids.slice(i, i + 20).map((id) => s.appendSessionMessage('c', outgoing(msg(id, id % 10 === 0 ? 5000 : 200))));
    const queued = ids.slice(i, i + 20).map((id) => s.appendQueueMessage(2, msg(id)));
    await Promise.all([...batch, ...queued].map((a) => a.durable));
  }
  // What a SIGKILL leaves: LMDB without these windows, the log (with the string tables) holding them.
  const copy = tempDir('log-strings-copy');
  cpSync(dataDir, copy, { recursive: true });
  check(await s.loadSessionMessages('c'), ids, 'read while running');
  await s.close();
  s = await Store.open(options(dataDir));
  check(await s.loadSessionMessages('c'), ids, 'after reopen (tables of records the checkpoint covers)');
  check(await s.readQueueMessages(2, { limit: 500 }), ids, 'queue after reopen');
  await s.close();
  const c = await Store.open(options(copy));
  assert.ok(c.openReport.logRecordsReplayed >= 240, `replayed ${c.openReport.logRecordsReplayed}`);
  const whole = [...(c as unknown as { ctx: StoreContext }).ctx.dbs.sessionMessages.getRange({})].filter(({ value }) => typeof (value as unknown[][])[0]![0] === 'string');
  assert.is(whole.length, 12, 'payload-store messages as whole records, topics as strings');
  check(await c.loadSessionMessages('c'), ids, 'after a replay');
  check(await c.readQueueMessages(2, { limit: 500 }), ids, 'queue after a replay');
  await c.close();
});

strings('log compaction copies records to another file with their strings: reads after the old files went', async () => {
  const dataDir = tempDir('log-strings-compact');
  let s = await Store.open(options(dataDir));
  await s.saveSession(session('c'));
  const seqs: number[] = [];
  for (let i = 0; i < 400; i += 20) {
    const batch = Array.from({ length: 20 }, (_, j) => s.appendSessionMessage('c', outgoing(msg(i + j, 200))));
    await Promise.all(batch.map((a) => a.durable));
    seqs.push(...batch.map((a) => a.seq));
  }
  const kept = seqs.map((_, i) => i).filter((i) => i % 10 === 0);
  await Promise.all(seqs.filter((_, i) => i % 10 !== 0).map((seq) => s.removeSessionMessage('c', seq, true)));
  await s.flush();
  const log = (s as unknown as { ctx: StoreContext }).ctx.log;
  const before = log.fileCount();
  await s.compactPayloads();
  assert.ok(log.fileCount() < before, `log files ${before} -> ${log.fileCount()}`);
  // New windows go to a new file with its own table: the copies must not take their numbers from it.
  for (let i = 1000; i < 1040; i += 20) {
    const batch = Array.from({ length: 20 }, (_, j) => s.appendSessionMessage('c', outgoing({ ...msg(i + j, 200), topic: `other/${i + j}`, origin: 'someone-else' })));
    await Promise.all(batch.map((a) => a.durable));
  }
  await s.flush();
  check((await s.loadSessionMessages('c')).slice(0, kept.length), kept, 'after compaction');
  await s.close();
  s = await Store.open(options(dataDir));
  assert.is(s.openReport.missingLogRefs, 0);
  check((await s.loadSessionMessages('c')).slice(0, kept.length), kept, 'after compaction and reopen');
  await s.close();
});

strings.run();
