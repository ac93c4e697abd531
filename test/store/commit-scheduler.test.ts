import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CapacityGuard } from '../../src/store/capacity.js';
import type { CommitClock } from '../../src/store/commit-pacing.js';
import { CommitScheduler, type CommitSchedulerOptions, type TxnScope, type WriteOp } from '../../src/store/commit-scheduler.js';
import { StoreEnvironment } from '../../src/store/environment.js';
import { StoreClosedError, StoreFullError, StoreWriteError } from '../../src/store/errors.js';
import { seqKey } from '../../src/store/keys.js';
import { StoreMetrics } from '../../src/store/metrics.js';
import { PutOp, RemoveOp } from '../../src/store/ops.js';
import { FilePayloadStore } from '../../src/store/payload/file-payload-store.js';
import type { PayloadStore } from '../../src/store/payload/payload-store.js';
import { removeTempDirs, tempDir } from './helpers.js';
import { waitFor, within } from '../helpers/tools.js';

interface Rig {
  env: StoreEnvironment;
  payloads: PayloadStore;
  metrics: StoreMetrics;
  capacity: CapacityGuard;
  scheduler: CommitScheduler;
  close(): Promise<void>;
}

type RigOptions = Partial<CommitSchedulerOptions> & { commitIntervalMs: number; commitMaxBytes: number };

async function rig(partial: RigOptions, payloadStore?: PayloadStore): Promise<Rig> {
  // No rate cap or minimum batch unless a test asks for them.
  const options: CommitSchedulerOptions = { commitMaxPerSecond: 100_000, commitMinBatchBytes: 0, ...partial };
  const dataDir = tempDir('sched');
  const env = await StoreEnvironment.open({ dataDir, mapSizeBytes: 64 << 20 });
  const payloads = payloadStore ?? (await FilePayloadStore.open(`${dataDir}/payloads`));
  const metrics = new StoreMetrics(() => env.bytesWritten());
  const capacity = new CapacityGuard(() => env.space(), () => payloads.pendingBytes(), { maxUsedBytes: 1 << 30, minFreeDiskBytes: 0, dataDir });
  const scheduler = new CommitScheduler(env, payloads, capacity, metrics, options);
  return {
    env,
    payloads,
    metrics,
    capacity,
    scheduler,
    async close() {
      await scheduler.close();
      await payloads.close();
      await env.close();
    },
  };
}

function put(r: Rig, seq: number, bytes = 256): PutOp {
  return new PutOp(r.env.dbs.queueMessages, seqKey(1, seq), Buffer.alloc(bytes, seq & 0xff), bytes + 12);
}

class ThrowingOp implements WriteOp {
  readonly grows = true;
  readonly bytes = 10;
  readonly payloadBytes = 0;
  readonly stagedRefs = undefined;
  constructor(private readonly before: () => void) {}
  apply(_scope: TxnScope): void {
    this.before();
    throw new Error('operation bug');
  }
}

/** A clock that moves only when the test says so; its timers fire from advance(). */
class ManualClock implements CommitClock {
  private time = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;
  /** Delays the scheduler asked for, in order. */
  readonly delays: number[] = [];

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    this.delays.push(ms);
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Moves time to now + ms, firing the timers that fall due, in order. */
  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= until && (next === undefined || entry[1].at < next[1].at)) next = entry;
      if (next === undefined) break;
      this.timers.delete(next[0]);
      this.time = next[1].at;
      next[1].fn();
    }
    this.time = until;
  }
}

/** Counts LMDB transactions as they start; a held gate keeps the next ones from committing until released. */
function watchTransactions(r: Rig): { started: number; running: number; hold(): void; release(): void } {
  const real = r.env.transaction.bind(r.env);
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  const watch = {
    started: 0,
    running: 0,
    hold(): void {
      gate = new Promise((done) => (open = done));
    },
    release(): void {
      open?.();
      gate = undefined;
    },
  };
  r.env.transaction = async (fn) => {
    watch.started++;
    watch.running++;
    try {
      if (gate !== undefined) await gate;
      return await real(fn);
    } finally {
      watch.running--;
    }
  };
  return watch;
}

const turn = (): Promise<void> => new Promise((done) => setImmediate(done));

type Watch = ReturnType<typeof watchTransactions>;

/**
 * Runs `commits` commits back to back at the cap's pace, one every `spacingMs` of clock time, each write arriving
 * while the previous commit runs, as a steady stream of writes does; then lets the last one end with nothing
 * waiting. Each write is `minBatchBytes` large, so none of them waits for the minimum batch.
 */
async function backToBackAtTheCap(r: Rig, clock: ManualClock, txns: Watch, commits: number, spacingMs: number, minBatchBytes: number): Promise<void> {
  const base = txns.started;
  let seq = 1_000_000;
  txns.hold();
  let running = r.scheduler.enqueue(put(r, seq++, minBatchBytes));
  // Waits by event-loop turns (bounded), not by waitFor's 10 ms polls: 90 commits take a few milliseconds.
  const started = async (n: number): Promise<void> => {
    for (let t = 0; txns.started < base + n && t < 1_000_000; t++) await turn();
    assert.is(txns.started, base + n, `commit ${n} of the stream started`);
  };
  for (let i = 1; i < commits; i++) {
    await started(i);
    const next = r.scheduler.enqueue(put(r, seq++, minBatchBytes));
    clock.advance(spacingMs);
    txns.release();
    txns.hold();
    await running;
    running = next;
  }
  await started(commits);
  clock.advance(spacingMs);
  txns.release();
  await running;
  await turn();
}

const scheduler = suite('commit scheduler');
scheduler.after.each(removeTempDirs);

scheduler('10,000 puts queued in one event-loop turn go into one commit with one sync', async () => {
  const r = await rig({ commitIntervalMs: 5, commitMaxBytes: 64 << 20 });
  const writes: Promise<void>[] = [];
  for (let i = 1; i <= 10_000; i++) writes.push(r.scheduler.enqueue(put(r, i)));
  await Promise.all(writes);
  assert.is(r.metrics.commits, 1);
  assert.is(r.metrics.syncs, 1);
  assert.is(r.metrics.opsCommitted, 10_000);
  assert.is(r.env.dbs.queueMessages.getCount({}), 10_000);
  await r.close();
});

scheduler('an idle scheduler commits a write at once: no timer is set, none has to fire', async () => {
  const clock = new ManualClock();
  // A one-minute longest wait and a minimum batch far above one write: neither may hold a write on an idle disk.
  const r = await rig({ commitIntervalMs: 60_000, commitMaxBytes: 64 << 20, commitMinBatchBytes: 1 << 20, commitMaxPerSecond: 1, clock });
  for (let i = 1; i <= 3; i++) {
    // The clock never moves: a write that waited for any timer would never resolve (bounded by `within`).
    await within(r.scheduler.enqueue(put(r, i)), 20_000, `write ${i}, committed without a timer`);
    r.env.root.resetReadTxn();
    assert.ok(r.env.dbs.queueMessages.get(seqKey(1, i)), 'visible when resolved');
    // The next write comes 1 s later, once the cap's spacing has passed: it too finds the disk idle.
    clock.advance(1000);
  }
  assert.is(clock.delays.length, 0, 'no timer was set');
  assert.is(r.metrics.commits, 3);
  await r.close();
});

scheduler('writes arriving while a commit runs join the next commit, all of them together', async () => {
  const r = await rig({ commitIntervalMs: 60_000, commitMaxBytes: 64 << 20 });
  const txns = watchTransactions(r);
  txns.hold();
  const first = r.scheduler.enqueueJoining(put(r, 1));
  await waitFor(() => txns.started === 1, 20_000, 'the first commit to start');
  const during = [2, 3, 4].map((i) => r.scheduler.enqueueJoining(put(r, i)));
  await turn();
  assert.is(txns.started, 1, 'no second commit while the first one runs');
  txns.release();
  await first.durable;
  await Promise.all(during.map((d) => d.durable));
  assert.is(r.metrics.commits, 2, 'the first write alone, then the three that came during its commit');
  assert.ok(during.every((d) => d.window === during[0]!.window) && during[0]!.window !== first.window);
  await r.close();
});

scheduler('commitMaxBytes caps one commit: a larger backlog goes into several, each within the cap', async () => {
  const r = await rig({ commitIntervalMs: 60_000, commitMaxBytes: 16 * 1024 });
  // 612 bytes each: 16 KiB is no multiple of it, so a window that took one more would exceed the cap.
  const joined = Array.from({ length: 200 }, (_, i) => r.scheduler.enqueueJoining(put(r, i + 1, 600)));
  await Promise.all(joined.map((j) => j.durable));
  const bytes = new Map<number, number>();
  for (const j of joined) bytes.set(j.window!, (bytes.get(j.window!) ?? 0) + 612);
  assert.ok([...bytes.values()].every((b) => b <= 16 * 1024), `window bytes ${[...bytes.values()].join(',')}`);
  assert.is(r.metrics.commits, bytes.size);
  assert.ok(bytes.size >= Math.ceil((200 * 612) / (16 * 1024)), `${bytes.size} commits`);
  assert.is(r.env.dbs.queueMessages.getCount({}), 200);
  await r.close();
});

scheduler('commits never start more often than commitMaxPerSecond, counted against the clock', async () => {
  const clock = new ManualClock();
  const r = await rig({ commitIntervalMs: 20, commitMaxBytes: 64 << 20, commitMaxPerSecond: 50, clock });
  const txns = watchTransactions(r);
  const writes: Promise<void>[] = [];
  let seq = 0;
  // A stream of writes until 10 commits have started (bounded in writes). The clock moves 1 ms per event-loop
  // turn while no commit runs and stands still during one, so however fast or slow the disk is, a scheduler
  // without the cap would start commits 1-2 ms of clock time apart.
  // At most two writes per millisecond of clock time: a slow commit (a loaded machine) spans many turns, and a
  // write per turn would then exhaust the bound before 10 commits were reached.
  let writesThisMs = 0;
  for (let turns = 0; r.metrics.commits < 10 && seq < 20_000 && turns < 2_000_000; turns++) {
    if (writesThisMs < 2) {
      writes.push(r.scheduler.enqueue(put(r, ++seq, 64)));
      writesThisMs++;
    }
    await turn();
    if (txns.running === 0) {
      clock.advance(1);
      writesThisMs = 0;
    }
  }
  const commits = r.metrics.commits;
  const elapsed = clock.now();
  for (let i = 0; i < 200_000 && r.scheduler.pendingBytes() > 0; i++) {
    await turn();
    if (txns.running === 0) clock.advance(1);
  }
  await within(Promise.all(writes), 20_000, 'every write of the stream');
  assert.ok(commits >= 10, `${commits} commits of ${seq} writes`);
  // At most one commit per 20 ms of clock time, plus the first one.
  assert.ok(commits <= Math.floor(elapsed / 20) + 1, `${commits} commits in ${elapsed} ms of clock time`);
  assert.ok(clock.delays.every((d) => d <= 20), `waits asked for: ${clock.delays.join(',')}`);
  assert.is(r.env.dbs.queueMessages.getCount({}), seq);
  await r.close();
});

scheduler('while commits run back to back, a small batch waits for the minimum batch, at most commitIntervalMs', async () => {
  const clock = new ManualClock();
  const r = await rig({ commitIntervalMs: 50, commitMaxBytes: 64 << 20, commitMaxPerSecond: 100, commitMinBatchBytes: 8 * 1024, clock });
  const txns = watchTransactions(r);
  // 90 commits at the cap (100 per second): over the last second more than half the cap started.
  await backToBackAtTheCap(r, clock, txns, 90, 10, 8 * 1024);
  const base = txns.started;
  txns.hold();
  const first = r.scheduler.enqueue(put(r, 1));
  await waitFor(() => txns.started === base + 1, 20_000, 'the first commit to start');
  // Arrives during the first commit: when it ends, commits run back to back (at the cap's pace).
  const small = r.scheduler.enqueue(put(r, 2));
  txns.release();
  await first;
  await turn();
  await turn();
  assert.is(txns.started, base + 1, 'the small batch waits');
  assert.is(clock.delays[clock.delays.length - 1], 50, 'for the longest wait from its arrival, no longer');
  clock.advance(49);
  await turn();
  assert.is(txns.started, base + 1, 'still waiting 1 ms before its longest wait ends');
  clock.advance(1);
  await within(small, 20_000, 'the small batch, committed when its longest wait ended');
  assert.is(r.metrics.commits, base + 2);
  await r.close();
});

scheduler('a wait for the cap shorter than a timer can time is made turn by turn, and still holds the cap', async () => {
  const clock = new ManualClock();
  // 2000 commits per second: 0.5 ms between starts, half of Node's 1 ms timer resolution. A timer for the rest
  // of the spacing would fire about 1 ms later, holding a writer with one write outstanding below 1000 per second.
  const r = await rig({ commitIntervalMs: 5, commitMaxBytes: 64 << 20, commitMaxPerSecond: 2000, commitMinBatchBytes: 16 * 1024, clock });
  const txns = watchTransactions(r);
  await r.scheduler.enqueue(put(r, 1));
  clock.advance(0.2);
  const second = r.scheduler.enqueue(put(r, 2));
  let settled = false;
  void second.then(() => (settled = true));
  for (let i = 0; i < 50; i++) await turn();
  assert.is(txns.started, 1, 'not before 0.5 ms after the first start');
  assert.not.ok(settled);
  clock.advance(0.2);
  for (let i = 0; i < 50; i++) await turn();
  assert.is(txns.started, 1, 'not at 0.4 ms either');
  clock.advance(0.1);
  await within(second, 20_000, 'the second write, once the clock reached the spacing');
  assert.is(clock.delays.filter((d) => d < 1).length, 0, `no timer for less than 1 ms: ${clock.delays.join(',')}`);
  assert.is(r.metrics.commits, 2);
  await r.close();
});

scheduler('a writer appending again in its durability callback gets a commit per write, no minimum-batch wait', async () => {
  const clock = new ManualClock();
  // The in-process writer with one write outstanding (the store bench at --window 1, the bridge downlink): every
  // commit ends with its next write already queued, so each pair of commits runs back to back. 30 commits at the
  // cap (100 per second) are 30 per second over the last second, under half the cap: none may wait for the
  // 50 ms longest wait. The clock moves only by the cap's 10 ms between writes, so a write waiting for it hangs.
  const r = await rig({ commitIntervalMs: 50, commitMaxBytes: 64 << 20, commitMaxPerSecond: 100, commitMinBatchBytes: 8 * 1024, clock });
  let written = 0;
  const writeNext = (): Promise<void> =>
    r.scheduler.enqueue(put(r, ++written)).then(() => {
      if (written === 30) return;
      clock.advance(10);
      return writeNext();
    });
  await within(writeNext(), 20_000, '30 writes, each queued in the callback of the one before');
  assert.is(r.metrics.commits, 30, 'one commit per write');
  assert.ok(clock.delays.every((d) => d < 50), `waits asked for: ${clock.delays.join(',')}`);
  await r.close();
});

scheduler('a waiting batch that reaches the minimum batch commits once the rate cap allows, before its longest wait', async () => {
  const clock = new ManualClock();
  const r = await rig({ commitIntervalMs: 50, commitMaxBytes: 64 << 20, commitMaxPerSecond: 100, commitMinBatchBytes: 8 * 1024, clock });
  const txns = watchTransactions(r);
  await backToBackAtTheCap(r, clock, txns, 90, 10, 8 * 1024);
  const base = txns.started;
  const t0 = clock.now();
  txns.hold();
  const first = r.scheduler.enqueue(put(r, 1));
  await waitFor(() => txns.started === base + 1, 20_000, 'the first commit to start');
  const batch = [r.scheduler.enqueue(put(r, 2))];
  txns.release();
  await first;
  await turn();
  await turn();
  assert.is(txns.started, base + 1, 'one small write waits for the minimum batch');
  assert.is(clock.delays[clock.delays.length - 1], 50, 'for its longest wait, not for the cap alone');
  for (let i = 3; i < 3 + 40; i++) batch.push(r.scheduler.enqueue(put(r, i))); // 40 × 268 bytes > 8 KiB
  await turn();
  await turn();
  assert.is(txns.started, base + 1, 'the rate cap still holds it: 10 ms between commit starts');
  clock.advance(10);
  await within(Promise.all(batch), 20_000, 'the batch, committed when the cap allowed it');
  assert.is(clock.now() - t0, 10, 'well before the 50 ms longest wait');
  assert.is(r.metrics.commits, base + 2);
  await r.close();
});

scheduler('flush commits a batch waiting for its minimum batch, within the rate cap', async () => {
  const clock = new ManualClock();
  const r = await rig({ commitIntervalMs: 50, commitMaxBytes: 64 << 20, commitMaxPerSecond: 100, commitMinBatchBytes: 1 << 20, clock });
  const txns = watchTransactions(r);
  await backToBackAtTheCap(r, clock, txns, 90, 10, 1 << 20);
  const base = txns.started;
  txns.hold();
  const first = r.scheduler.enqueue(put(r, 1));
  await waitFor(() => txns.started === base + 1, 20_000, 'the first commit to start');
  const small = r.scheduler.enqueue(put(r, 2));
  txns.release();
  await first;
  await turn();
  await turn();
  assert.is(clock.delays[clock.delays.length - 1], 50, 'before the flush, the small write waits for its minimum batch');
  const flushed = r.scheduler.flush();
  await turn();
  await turn();
  assert.is(txns.started, base + 1, 'the rate cap holds even a flush: 10 ms between commit starts');
  assert.is(clock.delays[clock.delays.length - 1], 10, 'the flush waits for the cap only, not the 50 ms longest wait');
  clock.advance(10);
  await within(flushed, 20_000, 'the flush');
  await small;
  await r.close();
});

scheduler('an operation that throws is rejected alone; the rest of its window commits', async () => {
  const r = await rig({ commitIntervalMs: 5, commitMaxBytes: 64 << 20 });
  const first = r.scheduler.enqueue(put(r, 1));
  const bad = r.scheduler.enqueue(new ThrowingOp(() => r.env.dbs.queueMessages.put(seqKey(9, 9), 'half-done')));
  const last = r.scheduler.enqueue(put(r, 2));
  await first;
  await last;
  const error = await bad.then(
    () => undefined,
    (err: unknown) => err,
  );
  assert.instance(error, StoreWriteError);
  assert.match(String((error as Error).message), /operation bug/);
  assert.is(r.env.dbs.queueMessages.get(seqKey(9, 9)), undefined, 'the failed operation left nothing behind');
  assert.is(r.env.dbs.queueMessages.getCount({}), 2);
  assert.is(r.metrics.commits, 1);
  await r.close();
});

scheduler('pendingBytes counts what is not durable yet and returns to zero', async () => {
  const r = await rig({ commitIntervalMs: 20, commitMaxBytes: 64 << 20 });
  const writes = [1, 2, 3].map((i) => r.scheduler.enqueue(put(r, i, 1000)));
  assert.is(r.scheduler.pendingBytes(), 3 * 1012);
  await Promise.all(writes);
  assert.is(r.scheduler.pendingBytes(), 0);
  await r.close();
});

scheduler('close makes queued writes durable, then refuses new ones', async () => {
  const r = await rig({ commitIntervalMs: 60_000, commitMaxBytes: 64 << 20 });
  const write = r.scheduler.enqueue(put(r, 1));
  await r.scheduler.close();
  await write;
  assert.ok(r.env.dbs.queueMessages.get(seqKey(1, 1)));
  const refused = await r.scheduler.enqueue(put(r, 2)).catch((err: unknown) => err);
  assert.instance(refused, StoreClosedError);
  await r.close();
});

scheduler('a failed payload flush fails its window with StoreFullError and commits none of it', async () => {
  const failing: PayloadStore = {
    append: () => ({ segment: 1, offset: 16, length: 1, checksum: 0 }),
    addRef: () => false,
    pendingBytes: () => 1,
    flush: () => Promise.reject(Object.assign(new Error('No space left on device'), { code: 'ENOSPC' })),
    read: () => Promise.reject(new Error('unused')),
    free: () => undefined,
    reconcile: () => Promise.resolve({ segmentsDeleted: 0, tailBytesTruncated: 0, tornTail: false, missingRefs: 0 }),
    diskBytes: () => 0,
    kind: 'js',
    beginCompaction: () => [],
    owners: () => 0,
    copyForward: () => Promise.reject(new Error('unused')),
    moveOwners: () => undefined,
    endCompaction: () => undefined,
    close: () => Promise.resolve(),
  };
  const r = await rig({ commitIntervalMs: 5, commitMaxBytes: 64 << 20 }, failing);
  const error = await r.scheduler.enqueue(put(r, 1)).catch((err: unknown) => err);
  assert.instance(error, StoreFullError);
  assert.is(r.env.dbs.queueMessages.get(seqKey(1, 1)), undefined);
  assert.is(r.metrics.commits, 0);
  assert.is(r.metrics.opsFailed, 1);
  await r.close();
});

scheduler('a commit that runs out of space refuses what grows but still commits removals', async () => {
  const r = await rig({ commitIntervalMs: 5, commitMaxBytes: 64 << 20 });
  await Promise.all([1, 2, 3].map((i) => r.scheduler.enqueue(put(r, i, 3000))));
  const realTransaction = r.env.transaction.bind(r.env);
  let failures = 1;
  r.env.transaction = (fn) => {
    if (failures-- <= 0) return realTransaction(fn);
    // LMDB's MDB_MAP_FULL, as the environment reports it from lmdb-js's commitError.
    return Promise.reject(Object.assign(new Error('MDB_MAP_FULL: Environment mapsize limit reached'), { code: -30792 }));
  };
  const grow = r.scheduler.enqueue(put(r, 4)).catch((err: unknown) => err);
  const removal = r.scheduler.enqueue(new RemoveOp(r.env.dbs.queueMessages, seqKey(1, 1)));
  await removal;
  assert.instance(await grow, StoreFullError);
  assert.is(r.env.dbs.queueMessages.get(seqKey(1, 1)), undefined, 'the removal was committed in a second transaction');
  assert.is(r.env.dbs.queueMessages.get(seqKey(1, 4)), undefined);
  await r.scheduler.enqueue(put(r, 5)); // the removal freed pages: growth is accepted again
  failures = 1;
  assert.instance(await r.scheduler.enqueue(put(r, 6)).catch((err: unknown) => err), StoreFullError);
  const refused = await r.scheduler.enqueue(put(r, 7)).catch((err: unknown) => err);
  assert.instance(refused, StoreFullError, 'with nothing freed, growth stays refused for a while');
  assert.match(String((refused as Error).message), /ran out of space/);
  await r.close();
});

/** True if `p` settles within `turns` event-loop turns: with a hand-driven clock, a write waiting for a timer never does. */
async function settlesWithinTurns(p: Promise<unknown>, turns: number): Promise<boolean> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let t = 0; !settled && t < turns; t++) await turn();
  return settled;
}

scheduler('background writes alone wait commitIntervalMs for company; a write someone waits for takes them along', async () => {
  const clock = new ManualClock();
  const r = await rig({ commitIntervalMs: 50, commitMaxBytes: 64 << 20, clock });
  await r.scheduler.enqueue(put(r, 1));
  clock.advance(1); // past the cap's spacing: this clock only moves when told
  await r.scheduler.enqueue(put(r, 2));
  clock.advance(1);
  const commits = r.metrics.commits;
  const removal = r.scheduler.enqueueBackground(new RemoveOp(r.env.dbs.queueMessages, seqKey(1, 1)));
  assert.not.ok(await settlesWithinTurns(removal, 200), 'a removal alone does not commit at once');
  assert.is(clock.delays[clock.delays.length - 1], 50, 'it waits commitIntervalMs');
  const append = r.scheduler.enqueue(put(r, 3));
  assert.ok(await settlesWithinTurns(Promise.all([removal, append]), 100_000), 'the append commits at once, the removal with it');
  assert.is(r.metrics.commits, commits + 1, 'one commit for both');
  // Alone, it goes once commitIntervalMs has passed, and at once on a flush.
  const late = r.scheduler.enqueueBackground(new RemoveOp(r.env.dbs.queueMessages, seqKey(1, 2)));
  assert.not.ok(await settlesWithinTurns(late, 200));
  clock.advance(50);
  assert.ok(await settlesWithinTurns(late, 100_000), 'committed after commitIntervalMs');
  clock.advance(1);
  const flushed = r.scheduler.enqueueBackground(new RemoveOp(r.env.dbs.queueMessages, seqKey(1, 3)));
  await r.scheduler.flush();
  assert.ok(await settlesWithinTurns(flushed, 10), 'flush() does not wait for company');
  r.env.root.resetReadTxn();
  assert.is(r.env.dbs.queueMessages.getCount({}), 0);
  assert.is(r.metrics.commits, commits + 3);
  await r.close();
});

scheduler('near a space limit a background write does not wait: what it frees is wanted at once', async () => {
  const clock = new ManualClock();
  const r = await rig({ commitIntervalMs: 50, commitMaxBytes: 64 << 20, clock });
  await r.scheduler.enqueue(put(r, 1));
  clock.advance(1);
  // The guard's own figures decide nearLimit() (capacity.test.ts); here only the scheduler's use of it is tested.
  r.capacity.nearLimit = () => true;
  const removal = r.scheduler.enqueueBackground(new RemoveOp(r.env.dbs.queueMessages, seqKey(1, 1)));
  assert.ok(await settlesWithinTurns(removal, 100_000), 'committed without waiting for company');
  assert.not.ok(clock.delays.includes(50), 'no commitIntervalMs timer');
  await r.close();
});

scheduler('acknowledgements waiting behind each commit do not hold a one-in-flight writer to the minimum batch', async () => {
  // A publisher with one message in flight and a live subscriber: each commit holds the publish (and the
  // acknowledgement of the one before); the subscriber's acknowledgement of it arrives while it commits. Over
  // half the cap's rate (500 per second here) for a whole second, with a background write waiting at the end of
  // every commit: if that made the commits back to back, the publishes would wait for the minimum batch (a
  // timer of commitIntervalMs that this clock never fires).
  const clock = new ManualClock();
  const r = await rig({ commitIntervalMs: 20, commitMaxBytes: 64 << 20, commitMinBatchBytes: 1 << 20, commitMaxPerSecond: 1000, clock });
  const txns = watchTransactions(r);
  const background: Promise<void>[] = [];
  for (let i = 1; i <= 1000; i++) {
    clock.advance(1); // the cap's spacing
    txns.hold();
    const publish = r.scheduler.enqueue(put(r, i));
    for (let t = 0; txns.running === 0 && t < 100_000; t++) await turn();
    background.push(r.scheduler.enqueueBackground(new RemoveOp(r.env.dbs.queueMessages, seqKey(1, i))));
    txns.release();
    assert.ok(await settlesWithinTurns(publish, 100_000), `publish ${i} committed without waiting for a timer`);
  }
  clock.advance(1);
  await r.scheduler.flush();
  await Promise.all(background);
  assert.is(txns.started, r.metrics.commits);
  assert.ok(r.metrics.commits <= 1001, `${r.metrics.commits} commits: each acknowledgement rode with the next publish`);
  await r.close();
});

scheduler.run();
