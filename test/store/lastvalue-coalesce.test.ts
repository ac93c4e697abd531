// Last-value values replaced within one commit window are never written (queue-table.ts AppendQueueMessageOp):
// only the window's last value of a key reaches LMDB, every publish is still acknowledged, and a window that
// has to be applied op by op after a failure writes every value and removes the replaced ones instead.

import { cpSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { TxnScope, WriteOp } from '../../src/store/commit-scheduler.js';
import type { StoreContext } from '../../src/store/message-records.js';
import { Store, type StoreOptions } from '../../src/store/store.js';
import type { Appended } from '../../src/store/types.js';
import { logRecordsOnDisk, message, removeTempDirs, tempDir } from './helpers.js';

// A long window, so that everything a test appends without awaiting goes into one commit.
const optionsWith =
  (commitLog: boolean) =>
  (dataDir: string): StoreOptions => ({ dataDir, commitIntervalMs: 50, minFreeDiskBytes: 0, commitLog });

/**
 * Counts what reaches the disk of the queue-messages database: puts into LMDB, and (with the commit log) the
 * values whose payload is in a log record written since this call, read from the log's files. With the log,
 * LMDB takes acknowledged values at its next index commit, so `settled()` brings it up to date before the puts
 * are read.
 */
function countWrites(s: Store, dataDir: string): { puts: number; readonly logged: number[]; settled: () => Promise<void> } {
  const ctx = (s as unknown as { ctx: StoreContext }).ctx;
  const db = ctx.dbs.queueMessages;
  const logRecords = (): Buffer[] => (existsSync(join(dataDir, 'log')) ? logRecordsOnDisk(dataDir).map((r) => r.body) : []);
  const before = logRecords().length;
  const counter = {
    puts: 0,
    get logged(): number[] {
      const bodies = logRecords().slice(before);
      return bodies.flatMap((body) => VALUES.filter((v) => body.includes(message(v).payload)));
    },
    settled: () => s.flush(),
  };
  const put = db.put.bind(db);
  db.put = ((...args: Parameters<typeof put>) => {
    counter.puts++;
    return put(...args);
  }) as typeof db.put;
  return counter;
}

/** The payload values the tests use (message(v): 32 bytes that only value v has). */
const VALUES = [1, 2, 3, 9];

/** Appends values of one key, each replacing the one before (as the queue engine does). */
function appendValues(s: Store, queueId: number, key: string, values: number[], replacing?: Appended): Appended[] {
  const out: Appended[] = [];
  let previous = replacing;
  for (const v of values) {
    const a = s.appendQueueMessage(queueId, message(v), key, previous === undefined ? undefined : { seq: previous.seq, inline: previous.inline });
    out.push(a);
    previous = a;
  }
  return out;
}

async function stored(s: Store, queueId: number): Promise<[string | undefined, number][]> {
  return (await s.readQueueMessages(queueId, { limit: 100 })).map((m) => [m.key, m.message.payload.readUInt32BE(0)]);
}

for (const commitLog of [true, false]) {
  const test = suite(`store: last-value values replaced within a commit window (commitLog: ${commitLog})`);
  test.after.each(removeTempDirs);
  const options = optionsWith(commitLog);
  /** With the log, the values it holds; without, none (every write is an LMDB commit). */
  const logged = (values: number[]): number[] => (commitLog ? values : []);

  test('three values of a key in one window: one put, all acknowledged, the last one stored', async () => {
    const dataDir = tempDir('coalesce');
    let s = await Store.open(options(dataDir));
    const counter = countWrites(s, dataDir);
    const a = appendValues(s, 1, 'set-color', [1, 2, 3]);
    const other = s.appendQueueMessage(1, message(9), 'update-firmware');
    await Promise.all([...a, other].map((x) => x.durable));
    assert.equal(counter.logged, logged([3, 9]), 'logged: set-color=3 and update-firmware=9 only');
    await counter.settled();
    assert.is(counter.puts, 2, 'set-color=3 and update-firmware=9 only');
    await s.close();
    s = await Store.open(options(dataDir));
    assert.equal(await stored(s, 1), [
      ['set-color', 3],
      ['update-firmware', 9],
    ]);
    await s.close();
  });

  test('a value committed earlier is removed by a replacement whose own replacement comes in the same window', async () => {
    const dataDir = tempDir('coalesce');
    let s = await Store.open(options(dataDir));
    const [first] = appendValues(s, 2, 'setpoint', [1]);
    await first!.durable;
    await s.flush();
    const counter = countWrites(s, dataDir);
    const later = appendValues(s, 2, 'setpoint', [2, 3], first);
    await Promise.all(later.map((x) => x.durable));
    assert.equal(counter.logged, logged([3]), 'only setpoint=3 is logged');
    await counter.settled();
    assert.is(counter.puts, 1, 'only setpoint=3 is written');
    await s.close();
    s = await Store.open(options(dataDir));
    assert.equal(await stored(s, 2), [['setpoint', 3]], 'the value of the earlier window is gone too');
    await s.close();
  });

  test('a window applied op by op after a failure writes every value and removes the replaced ones', async () => {
    const dataDir = tempDir('coalesce');
    let s = await Store.open(options(dataDir));
    const counter = countWrites(s, dataDir);
    const values = appendValues(s, 3, 'mode', [1, 2, 3]);
    // A failing operation in the same window rolls the window back; it is then applied op by op.
    const ctx = (s as unknown as { ctx: StoreContext }).ctx;
    let isolated = false;
    const poison: WriteOp = {
      bytes: 1,
      grows: false,
      payloadBytes: 0,
      stagedRefs: undefined,
      apply(scope: TxnScope) {
        if (scope.isolating) isolated = true;
        throw new Error('poison');
      },
    };
    const failed = ctx.scheduler.enqueue(poison).then(
      () => 'resolved',
      () => 'rejected',
    );
    await Promise.all(values.map((x) => x.durable));
    assert.is(await failed, 'rejected');
    assert.ok(isolated, 'the window was applied op by op');
    // First attempt: one put (rolled back); op by op: all three. The poison cannot be logged, so the window
    // went to LMDB before its acknowledgement, with or without the commit log.
    assert.is(counter.puts, 4);
    assert.equal(counter.logged, []);
    await s.close();
    s = await Store.open(options(dataDir));
    assert.equal(await stored(s, 3), [['mode', 3]]);
    await s.close();
  });

  test('values of a key in different windows are each written, and each replaces the one before', async () => {
    const dataDir = tempDir('coalesce');
    let s = await Store.open(options(dataDir));
    const counter = countWrites(s, dataDir);
    let previous: Appended | undefined;
    for (const v of [1, 2, 3]) {
      [previous] = appendValues(s, 4, 'k', [v], previous);
      await previous!.durable;
    }
    assert.equal(counter.logged, logged([1, 2, 3]));
    await counter.settled();
    assert.is(counter.puts, 3);
    await s.close();
    s = await Store.open(options(dataDir));
    assert.equal(await stored(s, 4), [['k', 3]]);
    await s.close();
  });

  if (commitLog) {
    test('values replaced in their own window are replayed from the log as their last value alone', async () => {
      const dataDir = tempDir('coalesce');
      const s = await Store.open({ ...options(dataDir), logIndexMaxOps: 1_000_000, logIndexIntervalMs: 600_000 });
      const [first] = appendValues(s, 5, 'setpoint', [1]);
      await first!.durable;
      const later = appendValues(s, 5, 'setpoint', [2, 3], first);
      const other = appendValues(s, 5, 'mode', [9]);
      await Promise.all([...later, ...other].map((x) => x.durable));
      // What a SIGKILL leaves: LMDB without any of these windows, the log with all of them.
      const copy = tempDir('coalesce-copy');
      cpSync(dataDir, copy, { recursive: true });
      await s.close();
      const c = await Store.open(options(copy));
      assert.is(c.openReport.logRecordsReplayed, 3, 'setpoint=1, setpoint=3 (removing 1), mode=9');
      assert.equal(await stored(c, 5), [
        ['setpoint', 3],
        ['mode', 9],
      ]);
      await c.close();
    });
  }

  test.run();
}
