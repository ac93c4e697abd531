// Compaction of commit-log files under SIGKILL (store format 4): a writer keeps appending small queue messages
// (their records stay in the log, LMDB holds index entries) and removing most of them while the store moves the
// live records of mostly-dead log files forward every few milliseconds; after each kill, every message
// acknowledged and not removed is there with its exact payload, and no index entry refers to a missing record.

import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Store } from '../../src/store/store.js';
import { assertQueueSurvived, type AckedAndRemoved } from './crash-check.js';
import { removeTempDirs, tempDir } from './helpers.js';
import { runWriterUntilKilled } from './kill-writer.js';
import { PAYLOAD_KINDS } from './payload-impls.js';

const WRITER = fileURLToPath(new URL('./fixtures/log-compaction-writer.js', import.meta.url));

/** Records moved in a round before its kill, fewest and most: the writer is killed right after that many. */
const KILL_AFTER_MOVED: [number, number] = [1, 40];

interface Seen extends AckedAndRemoved {
  moved: number;
}

for (const kind of PAYLOAD_KINDS) {
  const crash = suite(`log compaction crash (SIGKILL, ${kind} file access)`);
  crash.after(removeTempDirs);

  crash('acknowledged messages survive kills while log files are compacted, with their exact payloads, over 3 rounds', async () => {
    const dataDir = tempDir('log-compaction-crash');
    const seen: Seen = { acked: new Map(), removed: new Set(), moved: 0 };
    let movedInAll = 0;
    for (let round = 1; round <= 3; round++) {
      seen.moved = 0;
      const killAfter = KILL_AFTER_MOVED[0] + Math.floor(Math.random() * (KILL_AFTER_MOVED[1] - KILL_AFTER_MOVED[0] + 1));
      await runWriterUntilKilled(WRITER, [dataDir, String(round), kind], () => seen.moved >= killAfter, ([what, a, b]) => {
        if (what === 'ack') seen.acked.set(Number(a), Number(b));
        else if (what === 'removed') seen.removed.add(Number(a));
        else if (what === 'moved') seen.moved = Math.max(seen.moved, Number(a));
      });
      movedInAll += seen.moved;
      const context = `round ${round}, killed after ${seen.moved} moved records`;
      const store = await Store.open({ dataDir, minFreeDiskBytes: 0, logFileBytes: 16 * 1024, logRecords: true, payloadStoreKind: kind, payloadCompaction: { intervalMs: 0 } });
      try {
        assert.is(store.openReport.missingLogRefs, 0, `index entries referring to missing log records (${context})`);
        await assertQueueSurvived(store, seen, (id) => 200 + (id % 5) * 20, context);
      } finally {
        await store.close();
      }
    }
    assert.ok(movedInAll >= 3, `log records moved in all rounds: ${movedInAll}`);
  });

  crash.run();
}
