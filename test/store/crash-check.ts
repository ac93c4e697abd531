// What the compaction crash tests check after each kill of their writer (payload segments and commit-log files):
// every acknowledged message the writer keeps (ids that are multiples of 8) is in queue 1 at its sequence with its
// exact payload, and no message whose removal was reported came back.

import * as assert from 'uvu/assert';
import type { Store } from '../../src/store/store.js';

/** What the writer reported before it was killed. */
export interface AckedAndRemoved {
  /** Sequence -> message id, for every acknowledged append. */
  acked: Map<number, number>;
  /** Sequences whose removal was acknowledged. */
  removed: Set<number>;
}

/**
 * Reads queue 1 whole and checks it against what the writer reported. A payload is 6 bytes of its id, then the id's
 * low byte repeated up to `payloadLength(id)` bytes.
 */
export async function assertQueueSurvived(store: Store, seen: AckedAndRemoved, payloadLength: (id: number) => number, context: string): Promise<void> {
  const stored = new Map<number, number>();
  for (let after = 0; ; ) {
    const page = await store.readQueueMessages(1, { afterSeq: after, limit: 500 });
    if (page.length === 0) break;
    for (const m of page) {
      const id = m.message.payload.readUIntBE(0, 6);
      assert.is(m.message.payload.length, payloadLength(id));
      assert.ok(m.message.payload.subarray(6).every((b) => b === (id & 0xff)), `payload of ${id} intact (${context})`);
      stored.set(m.seq, id);
    }
    after = page[page.length - 1]!.seq;
  }
  const lost: string[] = [];
  for (const [seq, id] of seen.acked) {
    if (id % 8 !== 0) continue; // removed after its ack; the removal may be durable without having been printed
    if (stored.get(seq) !== id) lost.push(`${seq}:${id}->${stored.get(seq)}`);
  }
  assert.equal(lost, [], `acknowledged messages lost (${context})`);
  for (const seq of seen.removed) assert.not.ok(stored.has(seq), `removed message ${seq} came back (${context})`);
}
