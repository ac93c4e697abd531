// The free-disk reserve (storage.minFreeDiskBytes) on a real small disk: a tmpfs the test mounts. With the commit
// log, windows are acknowledged after the log's fdatasync and reach LMDB only at the next index commit; the bytes
// they put in payload segments and log files must count against the reserve at once, not at that commit (a fill
// once ran 20 MiB past the reserve of a 24 MiB disk between two of them). Needs mount(8) permission (root):
// skipped loudly without it, a failure under CI=true.

import { statfsSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StoreFullError } from '../../src/store/errors.js';
import { NativePayloadStore } from '../../src/store/payload/native-payload-store.js';
import { Store } from '../../src/store/store.js';
import { mountTmpfs, tmpfsUnavailable } from '../helpers/full-disk-kit.js';
import { requireAvailable } from '../helpers/tools.js';
import { message, outgoing, session } from './helpers.js';

const test = suite('store: the free-disk reserve with the commit log');

const MiB = 1024 * 1024;
const RESERVE = 12 * MiB;
const PAYLOAD = 64 * 1024;
/** What a window or two may overshoot by: the guard's estimate is per commit, not per byte. */
const SLACK = 2 * MiB;

function freeBytes(dir: string): number {
  const fs = statfsSync(dir);
  return fs.bavail * fs.bsize;
}

const noTmpfs = tmpfsUnavailable();
const addon = NativePayloadStore.available();
const runs = [
  ['js', requireAvailable(test, noTmpfs)],
  ['native', requireAvailable(test, noTmpfs ?? (addon.ok ? undefined : `the native addon does not load (${addon.reason})`))],
] as const;

for (const [payloadStoreKind, onTmpfs] of runs) {
  onTmpfs(`payloads acknowledged from the log count against the reserve before LMDB has them (${payloadStoreKind})`, async () => {
    const disk = mountTmpfs('24m');
    if ('error' in disk) throw new Error(disk.error);
    const dataDir = join(disk.dir, 'data');
    // No index commit during the fill: everything acknowledged is in the log and the payload files only.
    const options = { dataDir, commitLog: true, minFreeDiskBytes: RESERVE, logIndexIntervalMs: 60_000, logIndexMaxOps: 1_000_000, payloadStoreKind };
    try {
      let s = await Store.open(options);
      await s.saveSession(session('c'));
      const stored: number[] = [];
      let refused: unknown;
      for (let batch = 0; batch < 100 && refused === undefined; batch++) {
        const appends = Array.from({ length: 8 }, (_, i) => s.appendSessionMessage('c', outgoing(message(batch * 8 + i, PAYLOAD))));
        const results = await Promise.allSettled(appends.map((a) => a.durable));
        results.forEach((r, i) => (r.status === 'fulfilled' ? stored.push(appends[i]!.seq) : (refused ??= r.reason)));
      }
      assert.instance(refused, StoreFullError, 'refused before 100 batches');
      assert.match(String((refused as Error).message), /kept in reserve/);
      const free = freeBytes(disk.dir);
      assert.ok(free >= RESERVE - SLACK, `${free} bytes free after the fill, reserve ${RESERVE}`);
      assert.ok(stored.length * PAYLOAD > 4 * MiB, `only ${stored.length} messages stored`);
      await s.close();
      s = await Store.open(options);
      assert.equal((await s.loadSessionMessages('c')).map((m) => m.seq), stored);
      await s.close();
    } finally {
      disk.umount();
    }
  });
}

test('small messages in log records (store format 4): a drained store takes as many again, cycle after cycle, within the reserve', async () => {
  if (noTmpfs !== undefined) return; // the runs above report the skip
  const disk = mountTmpfs('12m');
  if ('error' in disk) throw new Error(disk.error);
  const dataDir = join(disk.dir, 'data');
  const reserve = 8 * MiB;
  // Inline payloads: their records stay in the log file, which is released when drained and then reused. The
  // part of the reused file ahead of its write position is reusable space; counted as used (as before), the
  // second fill was refused early and the fourth at once; counted from a stale reading, a fill ran into ENOSPC.
  const s = await Store.open({ dataDir, logRecords: true, minFreeDiskBytes: reserve, payloadStoreKind: 'js' });
  try {
    await s.saveQueue(1, { name: 'q', topicFilter: 'df/jobs', type: 'standard' });
    const accepted: number[] = [];
    for (let cycle = 0; cycle < 5; cycle++) {
      const stored: number[] = [];
      let refused: unknown;
      for (let batch = 0; batch < 400 && refused === undefined; batch++) {
        const appends = Array.from({ length: 64 }, (_, i) => s.appendQueueMessage(1, message(batch * 64 + i, 1500, 'df/jobs')));
        const results = await Promise.allSettled(appends.map((a) => a.durable));
        results.forEach((r, i) => (r.status === 'fulfilled' ? stored.push(appends[i]!.seq) : (refused ??= r.reason)));
      }
      assert.instance(refused, StoreFullError, `cycle ${cycle}: refused before 400 windows`);
      assert.match(String((refused as Error).message), /kept in reserve/, `cycle ${cycle}`);
      const free = freeBytes(disk.dir);
      assert.ok(free >= reserve - SLACK, `cycle ${cycle}: ${free} bytes free after the fill, reserve ${reserve}`);
      accepted.push(stored.length);
      for (let i = 0; i < stored.length; i += 64) {
        const seqs = stored.slice(i, i + 64);
        await s.removeQueueMessages(1, seqs, seqs.map(() => true));
      }
      await s.flush();
      // Released files come back through a promise chain: a few turns, bounded in count.
      for (let turn = 0; turn < 50 && s.refuses(1600); turn++) await new Promise((r) => setTimeout(r, 20));
      assert.not.ok(s.refuses(1600), `cycle ${cycle}: drained, a message is still refused`);
    }
    for (const [i, n] of accepted.entries()) assert.ok(n >= 0.8 * accepted[0]!, `cycle ${i} took ${n} messages, the first ${accepted[0]}`);
    assert.ok(accepted[0]! > 1000, `the first fill took ${accepted[0]}`);
  } finally {
    await s.close();
    disk.umount();
  }
});

test.run();
