// Compaction through the store: live payloads of mostly-dead segments move forward, every record referring to
// them (queue messages, session messages of several sessions, retained messages) is rewritten in one commit, and
// the old segments disappear; everything reads back, also after a restart. Runs for each payload store.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Store, type StoreOptions } from '../../src/store/store.js';
import { message, outgoing, removeTempDirs, session, tempDir } from './helpers.js';
import { PAYLOAD_KINDS, collectGarbage, requireNativeInCi } from './payload-impls.js';
import type { PayloadStoreChoice } from '../../src/store/payload/open-payload-store.js';
import { seqKey } from '../../src/store/keys.js';
import { refOf, type StoreContext } from '../../src/store/message-records.js';

requireNativeInCi('payload-compaction.test');

function options(dataDir: string, kind: PayloadStoreChoice): StoreOptions {
  return {
    dataDir,
    commitIntervalMs: 2,
    inlineMaxBytes: 1024,
    minFreeDiskBytes: 0,
    payloadSegmentBytes: 64 * 1024,
    payloadStoreKind: kind,
    payloadCompaction: { intervalMs: 0 },
  };
}

function segmentFiles(dataDir: string): string[] {
  return readdirSync(join(dataDir, 'payloads')).filter((n) => n.endsWith('.wps')).sort();
}

const seg = (...ids: number[]) => ids.map((id) => `seg-${String(id).padStart(10, '0')}.wps`);

// The layout the exact counts below follow from (src/store/payload/segment-format.ts, segment-payload-store.ts):
// a record is a 12-byte header plus the payload, a segment file starts with a 16-byte header, every flush is
// padded to the next 4 KiB, and a record that would take a segment past payloadSegmentBytes (64 KiB) starts a new
// one. So a 5,000-byte payload flushed alone takes 8 KiB (8 to a segment); 5,000-byte payloads flushed together
// take 5,012 bytes each (13 to a segment: 16 + 13 x 5,012 = 65,172). A segment is compacted when its live payload
// bytes are below 25% of 64 KiB (16,384: three 5,000-byte payloads are, four are not); the active one never is.

for (const kind of PAYLOAD_KINDS) {
  const compaction = suite(`payload compaction through the store (${kind})`);
  compaction.after.each(removeTempDirs);

  compaction('live payloads move out of mostly-dead segments; queue, session and retained records follow them', async () => {
    const dataDir = tempDir('compact');
    let s = await Store.open(options(dataDir, kind));
    assert.is(s.openReport.payloadStore, kind);
    await s.saveSession(session('a'));
    await s.saveSession(session('b'));
    const seqs: number[] = [];
    for (let i = 0; i < 36; i++) {
      const { seq, durable } = s.appendQueueMessage(1, message(i, 5000, `q/${i}`));
      seqs.push(seq);
      await durable;
    }
    const shared = message(100, 6000, 'fan/out');
    await Promise.all([s.appendSessionMessage('a', outgoing(shared)).durable, s.appendSessionMessage('b', outgoing(shared)).durable]);
    await s.setRetained({ ...message(101, 7000, 'r/1'), retain: true });
    for (let i = 0; i < 8; i++) await s.appendQueueMessage(2, message(200 + i, 5000, 'fill')).durable; // later segments
    // One flush per payload, 8 to a segment: queue 1's 0-7, 8-15, 16-23, 24-31; then 32-35, the shared and the
    // retained payload and 2 fills; then the other 6 fills in the active segment.
    const before = segmentFiles(dataDir);
    assert.equal(before, seg(1, 2, 3, 4, 5, 6));
    // Keep every sixth queue message (0, 6 | 12 | 18 | 24, 30): 1 or 2 of the 8 payloads of segments 1-4 stay
    // live; segment 5 keeps 23,000 live bytes (35%) and stays.
    await Promise.all(seqs.filter((_, i) => i % 6 !== 0).map((seq) => s.removeQueueMessage(1, seq)));

    const report = await s.compactPayloads();
    assert.equal(report, { segmentsCompacted: 4, payloadsMoved: 6, bytesCopied: 6 * 5000, segmentsSkipped: 0 });
    const metrics = s.metrics().payloads;
    assert.equal([metrics.segmentsCompacted, metrics.bytesCopied], [report.segmentsCompacted, report.bytesCopied], 'in the store metrics too');
    assert.ok(metrics.diskBytes > 0);
    const kept = await s.readQueueMessages(1, { limit: 100 });
    assert.equal(kept.map((m) => m.message.payload.readUInt32BE(0)), [0, 6, 12, 18, 24, 30]);
    for (const m of kept) assert.equal(m.message.payload, message(m.message.payload.readUInt32BE(0), 5000).payload);
    assert.equal((await s.loadSessionMessages('a'))[0]!.message.payload, shared.payload);
    assert.equal((await s.loadSessionMessages('b'))[0]!.message.payload, shared.payload);
    assert.equal((await s.loadRetained())[0]!.payload, message(101, 7000).payload);
    await s.close();
    await collectGarbage();
    // Segments 1-4 are gone; the 30,000 copied bytes do not fit beside the 6 fills of segment 6 and start 7.
    assert.equal(segmentFiles(dataDir), seg(5, 6, 7));

    s = await Store.open(options(dataDir, kind));
    assert.is(s.openReport.payloads.missingRefs, 0);
    assert.is(s.openReport.payloads.segmentsDeleted, 0, 'nothing was left behind unreferenced');
    const reread = await s.readQueueMessages(1, { limit: 100 });
    for (const m of reread) assert.equal(m.message.payload, message(m.message.payload.readUInt32BE(0), 5000).payload);
    // The shared payload still has two owners: one session's removal must not delete it.
    await s.deleteSession('a');
    assert.equal((await s.loadSessionMessages('b'))[0]!.message.payload, shared.payload);
    await s.close();
  });

  compaction('a segment whose payloads were all freed meanwhile needs no compaction and is simply deleted', async () => {
    const dataDir = tempDir('compact');
    const s = await Store.open(options(dataDir, kind));
    const seqs: number[] = [];
    for (let i = 0; i < 15; i++) {
      const a = s.appendQueueMessage(1, message(i, 5000, 'q'));
      seqs.push(a.seq);
      await a.durable;
    }
    // Payloads 0-7 in segment 1, 8-14 in segment 2 (active): segment 1 is all dead, segment 2 is never compacted.
    await Promise.all(seqs.slice(0, 12).map((seq) => s.removeQueueMessage(1, seq)));
    const report = await s.compactPayloads();
    assert.equal(report, { segmentsCompacted: 0, payloadsMoved: 0, bytesCopied: 0, segmentsSkipped: 0 });
    await s.close();
    await collectGarbage();
    assert.equal(segmentFiles(dataDir), seg(2));
  });

  compaction('messages removed in the same window as the relocation are freed, not resurrected', async () => {
    const dataDir = tempDir('compact');
    let s = await Store.open({ ...options(dataDir, kind), commitIntervalMs: 50 });
    const seqs: number[] = [];
    for (let i = 0; i < 24; i++) seqs.push(s.appendQueueMessage(1, message(i, 5000, 'q')).seq);
    await s.flush();
    await Promise.all(seqs.filter((_, i) => i % 6 !== 0).map((seq) => s.removeQueueMessage(1, seq)));
    // In LMDB too (with the commit log, compaction would otherwise catch up first, and take the two removals
    // below with it, before it stages the relocation).
    await s.flush();
    // Removals queued in the window that will also carry the relocation.
    const compacted = s.compactPayloads();
    const removals = [s.removeQueueMessage(1, seqs[0]!), s.removeQueueMessage(1, seqs[6]!)];
    const [report] = await Promise.all([compacted, ...removals]);
    // One flush: 0-12 in segment 1 (live 0, 6, 12: 15,000 bytes), 13-23 in the active segment 2 (live 18).
    // All three of segment 1 are copied, the two removed in the relocation's window with them.
    assert.equal(report, { segmentsCompacted: 1, payloadsMoved: 3, bytesCopied: 3 * 5000, segmentsSkipped: 0 });
    assert.equal((await s.readQueueMessages(1, { limit: 100 })).map((m) => m.message.payload.readUInt32BE(0)), [12, 18]);
    await s.close();
    s = await Store.open(options(dataDir, kind));
    assert.is(s.openReport.payloads.missingRefs, 0);
    const left: number[] = [];
    for (const m of await s.readQueueMessages(1, { limit: 100 })) {
      assert.equal(m.message.payload, message(m.message.payload.readUInt32BE(0), 5000).payload);
      left.push(m.seq);
    }
    assert.equal(left, [seqs[12], seqs[18]]);
    await Promise.all(left.map((seq) => s.removeQueueMessage(1, seq)));
    await s.close();
    // A segment whose last payload is freed while a Buffer still views it (the native store) goes at the next open.
    await collectGarbage();
    s = await Store.open(options(dataDir, kind));
    assert.is(s.openReport.payloads.missingRefs, 0);
    await s.close();
    assert.equal(segmentFiles(dataDir), [], 'no payload left, no segment left');
  });

  compaction('an owner the scan cannot see makes the relocation give up that segment, references untouched', async () => {
    const dataDir = tempDir('compact');
    const s = await Store.open(options(dataDir, kind));
    const seqs: number[] = [];
    for (let i = 0; i < 24; i++) seqs.push(s.appendQueueMessage(1, message(i, 5000, 'q')).seq);
    await s.flush();
    await Promise.all(seqs.filter((_, i) => i % 6 !== 0).map((seq) => s.removeQueueMessage(1, seq)));
    // An owner without a committed record, as an append in flight that shares the payload would be.
    const ctx = (s as unknown as { ctx: StoreContext }).ctx;
    const held = refOf(ctx.dbs.queueMessages.get(seqKey(1, seqs[0]!)))!;
    assert.ok(ctx.payloads.addRef(held));
    // As above: 0-12 in segment 1 (live 0, 6, 12), 13-23 in the active segment 2 (live 18).
    const first = await s.compactPayloads();
    assert.equal(first, { segmentsCompacted: 0, payloadsMoved: 0, bytesCopied: 0, segmentsSkipped: 1 }, 'the segment holding it was given up');
    assert.equal(refOf(ctx.dbs.queueMessages.get(seqKey(1, seqs[0]!))), held, 'its record still refers to the old place');
    assert.is(ctx.payloads.owners(held), 2);
    ctx.payloads.free(held);
    // The copies given up in the first round did not fit into segment 2 and sealed it (18 alone, 5,000 bytes live):
    // now both go, 3 + 1 payloads.
    const second = await s.compactPayloads();
    assert.equal(second, { segmentsCompacted: 2, payloadsMoved: 4, bytesCopied: 4 * 5000, segmentsSkipped: 0 });
    const moved = refOf(ctx.dbs.queueMessages.get(seqKey(1, seqs[0]!)))!;
    assert.is.not(moved.segment, held.segment);
    assert.equal((await s.readQueueMessages(1, { limit: 1 }))[0]!.message.payload, message(0, 5000).payload);
    await s.close();
  });

  compaction.run();
}
