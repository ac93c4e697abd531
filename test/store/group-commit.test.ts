// Group commit as the store's callers see it (DESIGN.md, "Durability contract"): a write on an idle store is
// committed without waiting for commitIntervalMs, writes arriving during a commit share the next one, and
// commits per second stay within commitMaxPerSecond (a count bound against the time the run took).

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Store, type StoreOptions } from '../../src/store/store.js';
import { within } from '../helpers/tools.js';
import { message, outgoing, removeTempDirs, session, tempDir } from './helpers.js';

const test = suite('store: group commit');
test.after.each(removeTempDirs);

const options = (dataDir: string, more: Partial<StoreOptions> = {}): StoreOptions => ({ dataDir, minFreeDiskBytes: 0, ...more });

test('an append on an idle store is durable without waiting for commitIntervalMs', async () => {
  const dataDir = tempDir('group');
  // A one-minute longest wait: the bound below fails only if a write waits for it.
  let s = await Store.open(options(dataDir, { commitIntervalMs: 60_000, commitMaxPerSecond: 1000 }));
  await within(s.saveSession(session('sensor-1')), 20_000, 'the session save');
  const appended = s.appendSessionMessage('sensor-1', outgoing(message(7)));
  await within(appended.durable, 20_000, 'the append, committed at once on an idle disk');
  await s.close();
  s = await Store.open(options(dataDir));
  const stored = await s.loadSessionMessages('sensor-1');
  assert.is(stored.length, 1, 'durable when its promise resolved');
  assert.is(stored[0]!.message.payload.readUInt32BE(0), 7);
  await s.close();
});

test('writes arriving while a commit runs share the next commit', async () => {
  const dataDir = tempDir('group');
  const s = await Store.open(options(dataDir, { commitIntervalMs: 60_000 }));
  await s.saveSession(session('sensor-1'));
  const before = s.metrics().commits;
  const first = s.appendQueueMessage(1, message(1));
  // The first append's commit starts at the end of this turn; these arrive in a later one, while it runs.
  await new Promise((done) => setImmediate(done));
  const during = Array.from({ length: 50 }, (_, i) => s.appendQueueMessage(1, message(i + 2)));
  await first.durable;
  await Promise.all(during.map((a) => a.durable));
  const commits = s.metrics().commits - before;
  assert.ok(commits <= 2, `${commits} commits for 51 appends: the first alone, the rest together`);
  assert.is((await s.readQueueMessages(1, { limit: 100 })).length, 51);
  await s.close();
});

test('commits stay within commitMaxPerSecond under many concurrent writers, as a count over the time taken', async () => {
  const dataDir = tempDir('group');
  const maxPerSecond = 50;
  const s = await Store.open(options(dataDir, { commitIntervalMs: 20, commitMaxPerSecond: maxPerSecond, commitMinBatchBytes: 0 }));
  const before = s.metrics().commits;
  const started = performance.now();
  let appended = 0;
  // 16 writers with one write each in flight, as sensors waiting for their PUBACK: without the cap one commit
  // per fsync. Bounded in writes (400) and time (20 s).
  const writer = async (w: number): Promise<void> => {
    for (let i = 0; i < 25 && performance.now() - started < 20_000; i++) {
      await s.appendQueueMessage(w + 1, message(i)).durable;
      appended++;
    }
  };
  await Promise.all(Array.from({ length: 16 }, (_, w) => writer(w)));
  const seconds = (performance.now() - started) / 1000;
  const commits = s.metrics().commits - before;
  // Commit starts are at least 1000 / maxPerSecond ms apart, and all of them fall within the measured time.
  assert.ok(commits <= Math.floor(seconds * maxPerSecond) + 1, `${commits} commits in ${seconds.toFixed(3)} s`);
  assert.ok(appended > commits, `grouped: ${appended} appends in ${commits} commits`);
  await s.close();
});

test.run();
