// Compaction under SIGKILL, for each payload store: a writer keeps appending and removing queue messages while
// the store compacts every few milliseconds; after each kill, every message acknowledged and not removed is
// there with its exact payload (read back with its checksum) and no reference points at missing data.

import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Store } from '../../src/store/store.js';
import { assertQueueSurvived, type AckedAndRemoved } from './crash-check.js';
import { removeTempDirs, tempDir } from './helpers.js';
import { runWriterUntilKilled } from './kill-writer.js';
import { PAYLOAD_KINDS, requireNativeInCi } from './payload-impls.js';

requireNativeInCi('payload-compaction-crash.test');

const WRITER = fileURLToPath(new URL('./fixtures/compaction-writer.js', import.meta.url));

interface Seen extends AckedAndRemoved {
  compacted: number;
}

/** Segments compacted in a round before its kill, fewest and most: the writer is killed right after the Nth. */
const KILL_AFTER_COMPACTED: [number, number] = [1, 6];

/**
 * Runs the writer until it reported a random number of compacted segments (durable relocations) in this round,
 * then SIGKILLs it while it keeps appending, removing and compacting: the kill lands after that many compaction
 * steps, wherever the machine's speed puts them in time.
 */
async function runAndKill(dataDir: string, round: number, kind: string, seen: Seen): Promise<number> {
  const killAfter = KILL_AFTER_COMPACTED[0] + Math.floor(Math.random() * (KILL_AFTER_COMPACTED[1] - KILL_AFTER_COMPACTED[0] + 1));
  await runWriterUntilKilled(WRITER, [dataDir, String(round), kind], () => seen.compacted >= killAfter, ([what, a, b]) => {
    if (what === 'ack') seen.acked.set(Number(a), Number(b));
    else if (what === 'removed') seen.removed.add(Number(a));
    else if (what === 'compacted') seen.compacted = Math.max(seen.compacted, Number(a));
  });
  return killAfter;
}

for (const kind of PAYLOAD_KINDS) {
  const crash = suite(`payload compaction crash (SIGKILL, ${kind})`);
  crash.after(removeTempDirs);

  crash('acknowledged messages survive kills during compaction with their exact payloads, over 3 rounds', async () => {
    const dataDir = tempDir('compaction-crash');
    const seen: Seen = { acked: new Map(), removed: new Set(), compacted: 0 };
    for (let round = 1; round <= 3; round++) {
      seen.compacted = 0;
      const killAfter = await runAndKill(dataDir, round, kind, seen);
      const context = `round ${round}, killed after ${killAfter} compacted segments (${seen.compacted} reported in all)`;
      assert.ok(seen.compacted >= killAfter, `the writer compacted ${killAfter} segments before it was killed (${context})`);
      const store = await Store.open({ dataDir, minFreeDiskBytes: 0, inlineMaxBytes: 1024, payloadSegmentBytes: 64 * 1024, payloadStoreKind: kind, payloadCompaction: { intervalMs: 0 } });
      try {
        assert.is(store.openReport.payloads.missingRefs, 0, `references to missing payload data (${context})`);
        await assertQueueSurvived(store, seen, (id) => 3000 + (id % 5) * 500, context);
      } finally {
        await store.close();
      }
    }
  });

  crash.run();
}
