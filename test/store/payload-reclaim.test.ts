// The active payload segment gives its space back without waiting to fill up: deleted once all its payloads are
// dead (at once from 1 MiB, after a short pause below), sealed for compaction when a few live ones pin it; and a
// Buffer read from it stays intact meanwhile. Run against every implementation (payload-impls.ts).

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ACTIVE_RECLAIM_DELAY_MS } from '../../src/store/payload/segment-payload-store.js';
import { removeTempDirs, tempDir } from './helpers.js';
import { PAYLOAD_IMPLS, requireNativeInCi } from './payload-impls.js';

requireNativeInCi('payload-reclaim.test');

const MiB = 1024 * 1024;

function payload(i: number, bytes = 64 * 1024): Buffer {
  const b = Buffer.alloc(bytes, i & 0xff);
  b.writeUInt32BE(i, 0);
  return b;
}

function segments(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.endsWith('.wps')).sort();
}

/** Waits until `check` holds, polling; fails only if it never does within `timeoutMs`. */
async function eventually(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.unreachable(`${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

for (const impl of PAYLOAD_IMPLS) {
  const reclaim = suite(`active payload segment reclaimed (${impl.name})`);
  reclaim.after.each(removeTempDirs);

  reclaim('an all-dead active segment of 1 MiB or more is deleted at once; the next payload starts a new one', async () => {
    const dir = tempDir('reclaim');
    const store = await impl.open(dir, { segmentMaxBytes: 64 * MiB });
    const refs = Array.from({ length: 20 }, (_, i) => store.append(payload(i)));
    await store.flush();
    const held = await store.read(refs[3]!);
    assert.equal(segments(dir), ['seg-0000000001.wps']);
    for (const ref of refs) store.free(ref);
    assert.is(store.diskBytes(), 0, 'no segment counted any more');
    const next = store.append(payload(99));
    assert.is(next.segment, 2);
    await store.flush();
    assert.equal(segments(dir), ['seg-0000000002.wps'], 'segment 1 deleted, not waiting for 64 MiB');
    assert.equal(held, payload(3), 'a Buffer read before stays intact');
    assert.equal(await store.read(next), payload(99));
    await store.close();
  });

  reclaim('a smaller all-dead active segment is deleted after a short pause, without any new payload', async () => {
    const dir = tempDir('reclaim');
    const store = await impl.open(dir, { segmentMaxBytes: 64 * MiB });
    const ref = store.append(payload(1, 8 * 1024));
    await store.flush();
    const file = join(dir, 'seg-0000000001.wps');
    assert.ok(existsSync(file));
    store.free(ref);
    await eventually(() => !existsSync(file), `segment 1 deleted some ${ACTIVE_RECLAIM_DELAY_MS} ms after its last payload died`);
    assert.is(store.diskBytes(), 0);
    await store.close();
  });

  reclaim('an active segment still taking payloads is not deleted', async () => {
    const dir = tempDir('reclaim');
    const store = await impl.open(dir, { segmentMaxBytes: 64 * MiB });
    const first = store.append(payload(1, 8 * 1024));
    await store.flush();
    store.free(first);
    const second = store.append(payload(2, 8 * 1024)); // within the pause: same segment, which is live again
    await store.flush();
    await new Promise((resolve) => setTimeout(resolve, ACTIVE_RECLAIM_DELAY_MS * 2));
    assert.is(second.segment, 1);
    assert.equal(segments(dir), ['seg-0000000001.wps']);
    assert.equal(await store.read(second), payload(2, 8 * 1024));
    await store.close();
  });

  reclaim('short of space, a mostly-dead active segment is sealed for compaction; the copy goes to a new segment', async () => {
    const dir = tempDir('reclaim');
    const store = await impl.open(dir, { segmentMaxBytes: 4 * MiB });
    const refs = Array.from({ length: 20 }, (_, i) => store.append(payload(i)));
    await store.flush();
    for (const ref of refs.slice(1)) store.free(ref); // one payload (a held delivery) pins 1.3 MiB
    assert.equal(store.beginCompaction(0.25, 16 * MiB), [], 'with room to spare the active segment fills up first');
    assert.equal(store.beginCompaction(0.25, 16 * MiB, true), [1]);
    const copy = await store.copyForward(refs[0]!);
    assert.is(copy.segment, 2);
    await store.flush();
    store.moveOwners(refs[0]!, copy, 1);
    store.endCompaction([1]);
    await store.close();
    assert.equal(segments(dir), ['seg-0000000002.wps']);
    const reopened = await impl.open(dir);
    await reopened.reconcile([copy]);
    assert.equal(await reopened.read(copy), payload(0));
    await reopened.close();
  });

  reclaim('short of space, compaction takes only segments whose live payloads fit', async () => {
    const dir = tempDir('reclaim');
    const store = await impl.open(dir, { segmentMaxBytes: 1 * MiB });
    const refs = Array.from({ length: 30 }, (_, i) => store.append(payload(i)));
    await store.flush();
    // Segments 1 and 2 of 15 payloads each (about 1 MiB); keep 3 alive in 1 and 1 alive in 2.
    for (const ref of refs) if (![0, 1, 2, 20].includes(refs.indexOf(ref))) store.free(ref);
    const one = 64 * 1024 + 12;
    assert.equal(store.beginCompaction(0.25, 2 * one, true), [2], 'segment 1 needs three copies, only two fit');
    store.endCompaction([2]);
    assert.equal(store.beginCompaction(0.25, one / 2, true), [], 'nothing fits');
    assert.equal(store.beginCompaction(0.25, one / 2), [1], 'with room to spare: at least one segment');
    store.endCompaction([1]);
    await store.close();
  });

  reclaim.run();
}
