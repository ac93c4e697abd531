// Last-value values replaced within one commit window are never written (queue-table.ts AppendQueueMessageOp):
// only the window's last value of a key reaches LMDB, every publish is still acknowledged, and a window that
// has to be applied op by op after a failure writes every value and removes the replaced ones instead.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { TxnScope, WriteOp } from '../../src/store/commit-scheduler.js';
import type { StoreContext } from '../../src/store/message-records.js';
import { Store, type StoreOptions } from '../../src/store/store.js';
import type { Appended } from '../../src/store/types.js';
import { message, removeTempDirs, tempDir } from './helpers.js';

const test = suite('store: last-value values replaced within a commit window');
test.after.each(removeTempDirs);

// A long window, so that everything a test appends without awaiting goes into one commit.
const options = (dataDir: string): StoreOptions => ({ dataDir, commitIntervalMs: 50, minFreeDiskBytes: 0 });

/** Counts the puts into the queue-messages database. */
function countPuts(s: Store): { puts: number } {
  const ctx = (s as unknown as { ctx: StoreContext }).ctx;
  const db = ctx.dbs.queueMessages;
  const counter = { puts: 0 };
  const put = db.put.bind(db);
  db.put = ((...args: Parameters<typeof put>) => {
    counter.puts++;
    return put(...args);
  }) as typeof db.put;
  return counter;
}

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

test('three values of a key in one window: one put, all acknowledged, the last one stored', async () => {
  const dataDir = tempDir('coalesce');
  let s = await Store.open(options(dataDir));
  const counter = countPuts(s);
  const a = appendValues(s, 1, 'set-color', [1, 2, 3]);
  const other = s.appendQueueMessage(1, message(9), 'update-firmware');
  await Promise.all([...a, other].map((x) => x.durable));
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
  const counter = countPuts(s);
  const later = appendValues(s, 2, 'setpoint', [2, 3], first);
  await Promise.all(later.map((x) => x.durable));
  assert.is(counter.puts, 1, 'only setpoint=3 is written');
  await s.close();
  s = await Store.open(options(dataDir));
  assert.equal(await stored(s, 2), [['setpoint', 3]], 'the value of the earlier window is gone too');
  await s.close();
});

test('a window applied op by op after a failure writes every value and removes the replaced ones', async () => {
  const dataDir = tempDir('coalesce');
  let s = await Store.open(options(dataDir));
  const counter = countPuts(s);
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
  // First attempt: one put (rolled back); op by op: all three.
  assert.is(counter.puts, 4);
  await s.close();
  s = await Store.open(options(dataDir));
  assert.equal(await stored(s, 3), [['mode', 3]]);
  await s.close();
});

test('values of a key in different windows are each written, and each replaces the one before', async () => {
  const dataDir = tempDir('coalesce');
  let s = await Store.open(options(dataDir));
  const counter = countPuts(s);
  let previous: Appended | undefined;
  for (const v of [1, 2, 3]) {
    [previous] = appendValues(s, 4, 'k', [v], previous);
    await previous!.durable;
  }
  assert.is(counter.puts, 3);
  await s.close();
  s = await Store.open(options(dataDir));
  assert.equal(await stored(s, 4), [['k', 3]]);
  await s.close();
});

test.run();
