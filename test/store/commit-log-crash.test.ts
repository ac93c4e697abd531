// storage.commitLog under SIGKILL: a writer child acknowledges session and queue messages after the log's
// fdatasync, LMDB following in batches (or never, so that everything must come back from the log), and is
// killed after a random number of acknowledgements or right after the first. After each kill the store opens
// again: every acknowledged message is there exactly once and in order, acknowledged removals stay removed,
// acknowledged packet ids are kept.

import { readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StoreOpenError } from '../../src/store/errors.js';
import { PREPARE_CHUNK_BYTES } from '../../src/store/log/log-preallocate.js';
import { Store } from '../../src/store/store.js';
import { fillDisk, mountTmpfs, tmpfsUnavailable } from '../helpers/full-disk-kit.js';
import { requireAvailable } from '../helpers/tools.js';
import { removeTempDirs, tempDir } from './helpers.js';
import { runWriterUntilKilled } from './kill-writer.js';

const WRITER = fileURLToPath(new URL('./fixtures/log-writer.js', import.meta.url));
const CLIENT = 'log-subscriber';
const QUEUE = 7;

interface Acknowledged {
  session: Map<number, number>;
  queue: Map<number, number>;
  removedSession: Set<number>;
  removedQueue: Set<number>;
  inflight: Map<number, number>;
}

function acknowledged(): Acknowledged {
  return { session: new Map(), queue: new Map(), removedSession: new Set(), removedQueue: new Set(), inflight: new Map() };
}

async function runAndKill(dataDir: string, round: number, index: [number, number], killAfter: number, acked: Acknowledged, fileBytes?: number, pauseAtPrepared?: number): Promise<number> {
  let acks = 0;
  let paused = false;
  const args = [dataDir, String(round), String(index[0]), String(index[1]), ...(fileBytes === undefined ? [] : [String(fileBytes)])];
  if (pauseAtPrepared !== undefined) args.push(String(pauseAtPrepared));
  await runWriterUntilKilled(WRITER, args, () => (pauseAtPrepared === undefined ? acks >= killAfter : paused), (w) => {
    if (w[0] === 'paused') paused = true;
    else if (w[0] === 'ack') {
      acks++;
      (w[1] === 's' ? acked.session : acked.queue).set(Number(w[2]), Number(w[3]));
    } else if (w[0] === 'removed') (w[1] === 's' ? acked.removedSession : acked.removedQueue).add(Number(w[2]));
    else if (w[0] === 'inflight') acked.inflight.set(Number(w[1]), Number(w[2]));
  });
  return acks;
}

/** Opens the store after a kill and checks it against what the writer saw acknowledged; returns records replayed. */
async function verify(dataDir: string, acked: Acknowledged, context: string): Promise<number> {
  const store = await Store.open({ dataDir, minFreeDiskBytes: 0, commitLog: true });
  try {
    assert.is(store.openReport.payloads.missingRefs, 0, `payload references to missing data (${context})`);
    const session = await store.loadSessionMessages(CLIENT);
    const queue: { seq: number; id: number }[] = [];
    for (let after = 0; ; ) {
      const page = await store.readQueueMessages(QUEUE, { afterSeq: after, limit: 500 });
      if (page.length === 0) break;
      for (const m of page) queue.push({ seq: m.seq, id: m.message.payload.readUIntBE(0, 6) });
      after = page[page.length - 1]!.seq;
    }
    const check = (name: string, rows: { seq: number; id: number }[], acks: Map<number, number>, removed: Set<number>): void => {
      const seqs = rows.map((r) => r.seq);
      assert.equal(seqs, [...seqs].sort((a, b) => a - b), `${name}: in order (${context})`);
      assert.is(new Set(seqs).size, seqs.length, `${name}: each seq once (${context})`);
      const ids = rows.map((r) => r.id);
      assert.is(new Set(ids).size, ids.length, `${name}: each message once (${context})`);
      const stored = new Map(rows.map((r) => [r.seq, r.id]));
      const lost: string[] = [];
      for (const [seq, id] of acks) {
        // Every 7th is removed after its ack: that removal may be durable without having been printed.
        if (id % 7 === 0) continue;
        if (stored.get(seq) !== id) lost.push(`${seq}:${id}->${stored.get(seq)}`);
      }
      assert.equal(lost.slice(0, 10), [], `${name}: acknowledged messages lost, ${lost.length} in all (${context})`);
      for (const seq of removed) assert.not.ok(stored.has(seq), `${name}: removed message ${seq} came back (${context})`);
    };
    check('session', session.map((m) => ({ seq: m.seq, id: m.message.payload.readUIntBE(0, 6) })), acked.session, acked.removedSession);
    check('queue', queue, acked.queue, acked.removedQueue);
    const bySeq = new Map(session.map((m) => [m.seq, m.packetId]));
    for (const [seq, packetId] of acked.inflight) assert.is(bySeq.get(seq), packetId, `packet id of ${seq} kept (${context})`);
    return store.openReport.logRecordsReplayed;
  } finally {
    await store.close();
  }
}

const crash = suite('commit log crash (SIGKILL)');
crash.after(removeTempDirs);

crash('LMDB never indexes before the kill: every acknowledged write comes back from the log, over 2 rounds', async () => {
  const dataDir = tempDir('log-crash-replay');
  const acked = acknowledged();
  for (let round = 1; round <= 2; round++) {
    const killAfter = 200 + Math.floor(Math.random() * 2000);
    const acks = await runAndKill(dataDir, round, [1_000_000_000, 600_000], killAfter, acked);
    const replayed = await verify(dataDir, acked, `round ${round}, killed after ack ${killAfter} of ${acks} read`);
    assert.ok(replayed >= killAfter, `the acknowledged writes came from the log (${replayed} records replayed)`);
  }
});

crash('LMDB indexes every 300 operations: kills land inside windows and between index commits, over 3 rounds', async () => {
  const dataDir = tempDir('log-crash-index');
  const acked = acknowledged();
  for (let round = 1; round <= 3; round++) {
    const killAfter = 100 + Math.floor(Math.random() * 4000);
    const acks = await runAndKill(dataDir, round, [300, 5], killAfter, acked);
    await verify(dataDir, acked, `round ${round}, killed after ack ${killAfter} of ${acks} read`);
  }
});

crash('small log files (64 KiB), reused once covered: kills across rotations lose nothing, over 3 rounds', async () => {
  const dataDir = tempDir('log-crash-rotate');
  const acked = acknowledged();
  for (let round = 1; round <= 3; round++) {
    const killAfter = 500 + Math.floor(Math.random() * 4000);
    const acks = await runAndKill(dataDir, round, [200, 5], killAfter, acked, 64 * 1024);
    await verify(dataDir, acked, `round ${round}, killed after ack ${killAfter} of ${acks} read`);
  }
});

crash('a kill right after the first acknowledgement keeps it', async () => {
  const dataDir = tempDir('log-crash-first');
  const acked = acknowledged();
  await runAndKill(dataDir, 1, [1_000_000_000, 600_000], 1, acked);
  assert.ok(acked.session.size + acked.queue.size >= 1);
  await verify(dataDir, acked, 'killed after the first ack');
});

crash('a kill while the next log file is being prepared: nothing lost, the file prepared in part is reused', async () => {
  const dataDir = tempDir('log-crash-prepare');
  const logDir = join(dataDir, 'log');
  const acked = acknowledged();
  const fileBytes = 4 * PREPARE_CHUNK_BYTES;
  await runAndKill(dataDir, 1, [1_000_000_000, 600_000], 0, acked, fileBytes, 2 * PREPARE_CHUNK_BYTES);
  // The writer stopped after the second chunk of a file prepared ahead: half of it zeros, no record.
  const half = readdirSync(logDir).filter((n) => statSync(join(logDir, n)).size === 2 * PREPARE_CHUNK_BYTES);
  assert.is(half.length, 1, `one file prepared in part: ${readdirSync(logDir).join(', ')}`);
  assert.ok(readFileSync(join(logDir, half[0]!)).every((b) => b === 0));
  assert.ok(acked.session.size + acked.queue.size > 0);
  assert.ok((await verify(dataDir, acked, 'killed while preparing')) > 0);
  await runAndKill(dataDir, 2, [1_000_000_000, 600_000], 300, acked, fileBytes);
  assert.not.ok(readdirSync(logDir).includes(half[0]!), 'the file prepared in part was reused under a new number');
  await verify(dataDir, acked, 'after a second round');
});

// Needs mount(8) permission for a tmpfs (root): skipped loudly without it, a failure under CI=true.
const onTmpfs = requireAvailable(crash, tmpfsUnavailable());

onTmpfs('killed, then the disk filled by another file: open refuses and says to free space; after that nothing is lost', async () => {
  const disk = mountTmpfs('32m');
  if ('error' in disk) throw new Error(disk.error);
  try {
    const dataDir = join(disk.dir, 'data');
    const acked = acknowledged();
    await runAndKill(dataDir, 1, [1_000_000_000, 600_000], 1500, acked);
    const filler = join(disk.dir, 'filler');
    fillDisk(filler);
    const refused = await Store.open({ dataDir, minFreeDiskBytes: 0, commitLog: true }).then(
      async (s) => (await s.close(), undefined),
      (err: unknown) => err,
    );
    assert.instance(refused, StoreOpenError, 'the replay needs LMDB pages the disk does not have');
    const message = String((refused as Error).message);
    assert.match(message, /no room/);
    assert.match(message, /Free space on that file system/);
    assert.not.match(message, /new store/, 'never tells the operator to throw the data away');
    rmSync(filler);
    assert.ok((await verify(dataDir, acked, 'after the space came back')) >= 1500);
  } finally {
    disk.umount();
  }
});


crash.run();
