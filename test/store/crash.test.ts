import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Store } from '../../src/store/store.js';
import { removeTempDirs, tempDir } from './helpers.js';
import { runWriterUntilKilled } from './kill-writer.js';

const WRITER = fileURLToPath(new URL('./fixtures/crash-writer.js', import.meta.url));
const CLIENT = 'crash-subscriber';

interface Acknowledged {
  /** seq -> payload id of every appended message the writer saw durable. */
  messages: Map<number, number>;
  removed: Set<number>;
  /** topic -> highest id the writer saw durable. */
  retained: Map<string, number>;
}

/** Fewest and most acknowledgements of a round before its kill: the writer is killed right after the Nth. */
const KILL_AFTER_ACKS: [number, number] = [100, 5000];

/**
 * Runs the writer until it reported a random number of acknowledgements in this round, then SIGKILLs it: the
 * kill lands after that many commits, wherever the machine's speed puts them in time.
 */
async function runAndKill(dataDir: string, round: number, acked: Acknowledged): Promise<{ killAfterAcks: number; acksSeen: number; lines: number }> {
  const killAfterAcks = KILL_AFTER_ACKS[0] + Math.floor(Math.random() * (KILL_AFTER_ACKS[1] - KILL_AFTER_ACKS[0]));
  let acksSeen = 0;
  const lines = await runWriterUntilKilled(WRITER, [dataDir, String(round)], () => acksSeen >= killAfterAcks, ([kind, a, b]) => {
    if (kind === 'ack') {
      acksSeen++;
      acked.messages.set(Number(a), Number(b));
    } else if (kind === 'removed') acked.removed.add(Number(a));
    else if (kind === 'retained') acked.retained.set(a!, Math.max(acked.retained.get(a!) ?? 0, Number(b)));
  });
  return { killAfterAcks, acksSeen, lines };
}

const crash = suite('store crash (SIGKILL)');
crash.after(removeTempDirs);

crash('every record acknowledged before a SIGKILL is there after reopening, over 3 rounds', async () => {
  const dataDir = tempDir('crash');
  const acked: Acknowledged = { messages: new Map(), removed: new Set(), retained: new Map() };
  for (let round = 1; round <= 3; round++) {
    const { killAfterAcks, acksSeen, lines } = await runAndKill(dataDir, round, acked);
    const context = `round ${round}, killed after acknowledgement ${killAfterAcks} (${acksSeen} read in all), ${lines} lines read`;
    assert.ok(acksSeen >= killAfterAcks, `the kill came after ${killAfterAcks} acknowledgements (${context})`);

    const store = await Store.open({ dataDir, minFreeDiskBytes: 0 });
    try {
      assert.is(store.openReport.payloads.missingRefs, 0, `payload references to missing data (${context})`);
      const stored = new Map<number, number>();
      // Reading every message also verifies the checksum of every payload-store payload.
      for (const m of await store.loadSessionMessages(CLIENT)) stored.set(m.seq, m.message.payload.readUIntBE(0, 6));
      const lost: string[] = [];
      for (const [seq, id] of acked.messages) {
        // The writer removes every 7th id after its ack: its removal may be durable without having been printed.
        if (id % 7 === 0) continue;
        if (stored.get(seq) !== id) lost.push(`${seq}:${id}->${stored.get(seq)}`);
      }
      assert.equal(lost, [], `acknowledged messages lost (${context})`);
      for (const seq of acked.removed) assert.not.ok(stored.has(seq), `removed message ${seq} came back (${context})`);
      const retained = new Map((await store.loadRetained()).map((m) => [m.topic, m.payload.readUIntBE(0, 6)]));
      for (const [topic, id] of acked.retained) {
        assert.ok((retained.get(topic) ?? 0) >= id, `retained ${topic} older than acknowledged ${id} (${context})`);
      }
    } finally {
      await store.close();
    }
  }
});

crash.run();
