// Index commits (storage.commitLog) apply their batch in slices with an event-loop turn between them, inside
// their one LMDB transaction (commit-scheduler.ts applySliced): other work runs meanwhile, the batch and its
// checkpoint still commit together, a failing operation still fails alone, and reads still wait for the batch.

import { join } from 'node:path';
import type { Database } from 'lmdb';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CapacityGuard } from '../../src/store/capacity.js';
import { CommitScheduler, type TxnScope } from '../../src/store/commit-scheduler.js';
import { StoreEnvironment } from '../../src/store/environment.js';
import { seqKey } from '../../src/store/keys.js';
import { CommitLog } from '../../src/store/log/commit-log.js';
import { registerDatabaseNames } from '../../src/store/log/log-entry.js';
import { StoreMetrics } from '../../src/store/metrics.js';
import { PutOp } from '../../src/store/ops.js';
import { FilePayloadStore } from '../../src/store/payload/file-payload-store.js';
import { removeTempDirs, tempDir } from './helpers.js';

const SLICE_OPS = 16;

interface Rig {
  env: StoreEnvironment;
  metrics: StoreMetrics;
  scheduler: CommitScheduler;
  /** LMDB transactions started (env.transaction calls). */
  transactions(): number;
  /** Holds the next LMDB transactions before they start, until released. */
  hold(): void;
  release(): void;
  close(): Promise<void>;
}

async function rig(): Promise<Rig> {
  const dataDir = tempDir('slices');
  const env = await StoreEnvironment.open({ dataDir, mapSizeBytes: 64 << 20 });
  registerDatabaseNames(env.dbs as unknown as Record<string, Database>);
  const payloads = await FilePayloadStore.open(join(dataDir, 'payloads'));
  const log = await CommitLog.open(join(dataDir, 'log'), true);
  const metrics = new StoreMetrics(() => env.bytesWritten());
  const capacity = new CapacityGuard(() => env.space(), () => payloads.pendingBytes(), { maxUsedBytes: 1 << 30, minFreeDiskBytes: 0, dataDir });
  // Index commits only when asked (indexNow), slices by count only (a slice never runs for 10 s).
  const binding = { log, indexMaxOps: 1_000_000, indexIntervalMs: 600_000, indexSliceOps: SLICE_OPS, indexSliceMs: 10_000 };
  const scheduler = new CommitScheduler(env, payloads, capacity, metrics, {
    commitMaxPerSecond: 100_000,
    commitMinBatchBytes: 0,
    commitIntervalMs: 5,
    commitMaxBytes: 64 << 20,
    records: log,
    commitLog: binding,
  });
  let transactions = 0;
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  const real = env.transaction.bind(env);
  env.transaction = async (fn) => {
    transactions++;
    if (gate !== undefined) await gate;
    return real(fn);
  };
  return {
    env,
    metrics,
    scheduler,
    transactions: () => transactions,
    hold() {
      gate = new Promise((done) => (open = done));
    },
    release() {
      open?.();
      gate = undefined;
    },
    async close() {
      await scheduler.close();
      await scheduler.closeLog();
      await payloads.close();
      await env.close();
    },
  };
}

/** A put that remembers how many event-loop turns had passed when it was applied. */
class TurnPut extends PutOp {
  appliedAtTurn = -1;
  constructor(r: Rig, seq: number, private readonly turns: () => number) {
    super(r.env.dbs.queueMessages, seqKey(1, seq), Buffer.alloc(64, seq & 0xff), 76);
  }
  override apply(scope: TxnScope): void {
    this.appliedAtTurn = this.turns();
    super.apply(scope);
  }
}

/** Writes a record of its own, then throws: the record must not stay. */
class ThrowingPut extends PutOp {
  constructor(private readonly r: Rig) {
    super(r.env.dbs.queueMessages, seqKey(2, 1), 'never', 20);
  }
  override apply(_scope: TxnScope): void {
    this.r.env.dbs.queueMessages.put(seqKey(9, 9), 'half-done');
    throw new Error('operation bug');
  }
}

/** Counts event-loop turns (check phases) until stopped. */
function turnCounter(): { turns(): number; stop(): void } {
  let turns = 0;
  let stopped = false;
  const tick = (): void => {
    turns++;
    if (!stopped) setImmediate(tick);
  };
  setImmediate(tick);
  return { turns: () => turns, stop: () => (stopped = true) };
}

const slices = suite('index commit in slices');
slices.after(removeTempDirs);

slices('a batch of 200 is applied over several event-loop turns and committed in one LMDB transaction with its checkpoint', async () => {
  const r = await rig();
  const counter = turnCounter();
  const ops = Array.from({ length: 200 }, (_, i) => new TurnPut(r, i + 1, counter.turns));
  await Promise.all(ops.map((op) => r.scheduler.enqueue(op)));
  assert.is(r.scheduler.unindexedOps(), 200, 'acknowledged from the log, not in LMDB yet');
  const before = r.transactions();
  await r.scheduler.indexNow();
  counter.stop();
  assert.is(r.transactions() - before, 1, 'one LMDB transaction');
  assert.is(r.env.dbs.queueMessages.getCount({}), 200);
  assert.ok(r.env.checkpoint() > 0, 'the checkpoint committed with the batch');
  const turns = new Set(ops.map((op) => op.appliedAtTurn));
  assert.ok(turns.size >= 200 / SLICE_OPS, `applied over ${turns.size} turns (slices of ${SLICE_OPS})`);
  // Within a slice, operations run in one turn: each turn holds a run of consecutive operations.
  for (let i = 1; i < ops.length; i++) assert.ok(ops[i]!.appliedAtTurn >= ops[i - 1]!.appliedAtTurn, 'in order');
  await r.close();
});

slices('an operation that throws in a later slice: the slices before are rolled back too, then each operation is applied alone, and only it fails', async () => {
  const r = await rig();
  const ops: PutOp[] = [];
  for (let i = 1; i <= 100; i++) ops.push(new PutOp(r.env.dbs.queueMessages, seqKey(1, i), Buffer.alloc(64, i), 76));
  ops.push(new ThrowingPut(r));
  for (let i = 101; i <= 200; i++) ops.push(new PutOp(r.env.dbs.queueMessages, seqKey(1, i), Buffer.alloc(64, i), 76));
  // Acknowledged at the log's fdatasync: the failure shows at the index commit, in the metrics.
  await Promise.all(ops.map((op) => r.scheduler.enqueue(op)));
  await r.scheduler.indexNow();
  assert.is(r.env.dbs.queueMessages.get(seqKey(9, 9)), undefined, 'the failed operation left nothing behind');
  assert.is(r.env.dbs.queueMessages.get(seqKey(2, 1)), undefined);
  assert.is(r.env.dbs.queueMessages.getCount({}), 200, 'every other operation is in LMDB');
  assert.is(r.metrics.opsFailed, 1);
  assert.is(r.scheduler.unindexedOps(), 0);
  await r.close();
});

slices('operations acknowledged while an index commit runs are in LMDB once indexNow returns', async () => {
  const r = await rig();
  const first = Array.from({ length: 200 }, (_, i) => new PutOp(r.env.dbs.queueMessages, seqKey(1, i + 1), Buffer.alloc(64, i), 76));
  await Promise.all(first.map((op) => r.scheduler.enqueue(op)));
  r.hold();
  const running = r.scheduler.indexNow();
  // The first index commit has started (and waits at the gate) while these are logged and acknowledged.
  const later = Array.from({ length: 64 }, (_, i) => new PutOp(r.env.dbs.queueMessages, seqKey(3, i + 1), Buffer.alloc(64, i), 76));
  await Promise.all(later.map((op) => r.scheduler.enqueue(op)));
  assert.is(r.scheduler.unindexedOps(), 64, 'acknowledged during the first index commit');
  r.release();
  await r.scheduler.indexNow();
  assert.is(r.env.dbs.queueMessages.getCount({}), 264, 'the read path sees both batches');
  await running;
  await r.close();
});

slices.run();
