// The payload store, run against every implementation (payload-impls.ts): append/read/free, flush alignment,
// recovery after a crash (torn tail, unreferenced segments), checksums, the cap, compaction, many segments.

import { appendFileSync, closeSync, existsSync, openSync, readSync, readdirSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PayloadCorruptError, StoreFullError } from '../../src/store/errors.js';
import { crc32, crc32Table } from '../../src/store/payload/crc32.js';
import type { PayloadRef } from '../../src/store/payload/payload-store.js';
import { FLUSH_ALIGN_BYTES } from '../../src/store/payload/segment-format.js';
import { removeTempDirs, tempDir } from './helpers.js';
import { PAYLOAD_IMPLS, collectGarbage, requireNativeInCi } from './payload-impls.js';

function payload(i: number, bytes = 5000): Buffer {
  const b = Buffer.alloc(bytes, i & 0xff);
  b.writeUInt32BE(i, 0);
  return b;
}

function segments(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.endsWith('.wps')).sort();
}

const common = suite('payload store format');
common('crc32 matches the table implementation and the IEEE check value', () => {
  assert.is(crc32(Buffer.from('123456789')), 0xcbf43926);
  const data = payload(7, 10_000);
  assert.is(crc32(data), crc32Table(data));
});
common.run();

requireNativeInCi('payload-store.test');

for (const impl of PAYLOAD_IMPLS) {
  const payloads = suite(`payload store (${impl.name})`);
  payloads.after.each(removeTempDirs);

  payloads('appends of one flush are written and read back, from memory before the flush', async () => {
    const dir = tempDir('payloads');
    const store = await impl.open(dir);
    assert.is(store.kind, impl.name);
    const refs = [1, 2, 3].map((i) => store.append(payload(i)));
    assert.is(store.pendingBytes(), 3 * (5000 + 12));
    assert.equal(await store.read(refs[1]!), payload(2), 'readable while staged');
    const flushing = store.flush();
    // Still the caller's to count (the capacity guard) until the flush reports what it wrote.
    assert.is(store.pendingBytes(), 3 * (5000 + 12), 'counted while the flush runs');
    const written = await flushing;
    assert.is(written, 4 * FLUSH_ALIGN_BYTES, '16-byte header + 3 records, padded to the flush boundary');
    assert.is(store.pendingBytes(), 0);
    for (const [i, ref] of refs.entries()) assert.equal(await store.read(ref), payload(i + 1));
    await store.close();
    assert.equal(segments(dir), ['seg-0000000001.wps']);
    assert.is(statSync(join(dir, 'seg-0000000001.wps')).size, 4 * FLUSH_ALIGN_BYTES);
  });

  payloads('every flush starts on a fresh 4 KiB block, so no block on disk is written twice', async () => {
    const dir = tempDir('payloads');
    const store = await impl.open(dir);
    const a = store.append(payload(1));
    await store.flush();
    const b = store.append(payload(2));
    assert.is(b.offset, 2 * FLUSH_ALIGN_BYTES);
    await store.flush();
    const c = store.append(payload(3, FLUSH_ALIGN_BYTES - 12 - 5)); // leaves a gap too small for a padding header
    await store.flush();
    const d = store.append(payload(4));
    assert.is(d.offset % FLUSH_ALIGN_BYTES, 0);
    assert.ok(d.offset - (c.offset + 12 + c.length) > FLUSH_ALIGN_BYTES, 'a 5-byte gap is padded to the block after');
    await store.flush();
    await store.close();
    const size = statSync(join(dir, 'seg-0000000001.wps')).size;
    assert.is(size % FLUSH_ALIGN_BYTES, 0);
    const reopened = await impl.open(dir);
    const report = await reopened.reconcile([a, b, c, d]);
    assert.is(report.tornTail, false, 'padding records are recognised');
    assert.is(report.tailBytesTruncated, size - (d.offset + 12 + d.length), 'only the last padding is cut');
    for (const [i, ref] of [a, b, c, d].entries()) assert.equal((await reopened.read(ref)).subarray(0, 4), payload(i + 1).subarray(0, 4));
    await reopened.close();
  });

  payloads('a segment is deleted once every payload in it is freed, and not before', async () => {
    const dir = tempDir('payloads');
    const store = await impl.open(dir, { segmentMaxBytes: 12_000 });
    const a = store.append(payload(1));
    const b = store.append(payload(2));
    const c = store.append(payload(3)); // does not fit: starts segment 2
    await store.flush();
    assert.is(a.segment, 1);
    assert.is(c.segment, 2);
    assert.equal(segments(dir), ['seg-0000000001.wps', 'seg-0000000002.wps']);
    store.free(a);
    await store.close();
    assert.equal(segments(dir).length, 2, 'b still lives in segment 1');
    const reopened = await impl.open(dir, { segmentMaxBytes: 12_000 });
    await reopened.reconcile([b, c]);
    reopened.free(b);
    await reopened.close();
    assert.equal(segments(dir), ['seg-0000000002.wps']);
  });

  payloads('a shared payload lives until its last owner frees it', async () => {
    const dir = tempDir('payloads');
    const store = await impl.open(dir);
    const ref = store.append(payload(1));
    assert.ok(store.addRef(ref));
    assert.is(store.owners(ref), 2);
    await store.flush();
    store.free(ref);
    store.append(payload(2)); // keeps segment 1 in use; it is sealed when the store reopens
    await store.flush();
    await store.close();
    const reopened = await impl.open(dir);
    await reopened.reconcile([ref, ref]);
    reopened.free(ref);
    assert.equal(await reopened.read(ref), payload(1));
    reopened.free(ref);
    await reopened.close();
    await collectGarbage(); // the native store keeps the file while the Buffer read above may still be alive
    assert.equal(segments(dir), []);
    assert.not.ok(reopened.addRef(ref));
  });

  payloads('on open, segments nothing refers to are deleted and a torn tail is cut back', async () => {
    const dir = tempDir('payloads');
    const store = await impl.open(dir);
    const kept = [1, 2].map((i) => store.append(payload(i)));
    await store.flush();
    store.append(payload(3)); // flushed but never committed: garbage after a crash
    await store.flush();
    await store.close();
    const path = join(dir, 'seg-0000000001.wps');
    const before = statSync(path).size;
    appendFileSync(path, Buffer.concat([Buffer.from([0x57, 0x50, 0x52, 0x31, 0, 0, 0x13]), Buffer.alloc(100, 9)])); // a record cut short
    const unreferenced = await impl.open(dir);
    const orphan = unreferenced.append(payload(9));
    await unreferenced.flush();
    await unreferenced.close();
    assert.is(orphan.segment, 2);

    const reopened = await impl.open(dir);
    const report = await reopened.reconcile(kept);
    assert.is(report.segmentsDeleted, 1);
    assert.is(report.missingRefs, 0);
    assert.ok(report.tornTail);
    const keepEnd = 16 + 2 * 5012;
    assert.is(report.tailBytesTruncated, before + 107 - keepEnd);
    assert.is(statSync(path).size, keepEnd);
    for (const [i, ref] of kept.entries()) assert.equal(await reopened.read(ref), payload(i + 1));
    await reopened.close();
    assert.not.ok(existsSync(join(dir, 'seg-0000000002.wps')));
  });

  payloads('a flipped bit is reported as PayloadCorruptError, not returned', async () => {
    const dir = tempDir('payloads');
    const store = await impl.open(dir);
    const ref = store.append(payload(1));
    await store.flush();
    await store.close();
    const fd = openSync(join(dir, 'seg-0000000001.wps'), 'r+');
    const byte = Buffer.alloc(1);
    const position = ref.offset + 12 + 100;
    readSync(fd, byte, 0, 1, position);
    byte[0] = byte[0]! ^ 0x04;
    writeSync(fd, byte, 0, 1, position);
    closeSync(fd);
    const reopened = await impl.open(dir);
    await reopened.reconcile([ref]);
    const error = await reopened.read(ref).catch((err: unknown) => err);
    assert.instance(error, PayloadCorruptError);
    assert.match(String((error as Error).message), /checksum mismatch/);
    const wrongLength: PayloadRef = { ...ref, length: ref.length - 1 };
    assert.instance(await reopened.read(wrongLength).catch((err: unknown) => err), PayloadCorruptError);
    const pastEnd: PayloadRef = { ...ref, offset: ref.offset + 8192 };
    assert.instance(await reopened.read(pastEnd).catch((err: unknown) => err), PayloadCorruptError);
    await reopened.close();
  });

  payloads('references into missing or short segments are counted on reconcile', async () => {
    const dir = tempDir('payloads');
    const store = await impl.open(dir);
    const ref = store.append(payload(1));
    await store.flush();
    await store.close();
    const reopened = await impl.open(dir);
    const report = await reopened.reconcile([ref, { ...ref, segment: 99 }, { ...ref, offset: 1_000_000 }]);
    assert.is(report.missingRefs, 2);
    await reopened.close();
  });

  payloads('appends beyond maxBytes throw StoreFullError; freeing makes room again', async () => {
    const dir = tempDir('payloads');
    const store = await impl.open(dir, { maxBytes: 14_000, segmentMaxBytes: 6_000 });
    const a = store.append(payload(1));
    store.append(payload(2));
    assert.throws(() => store.append(payload(3)), (err: unknown) => err instanceof StoreFullError);
    await store.flush();
    store.free(a); // segment 1 holds only a: deleted
    assert.ok(store.append(payload(4)));
    await store.flush();
    await store.close();
  });

  payloads('compaction copies live payloads forward, hands over their owners and deletes the old segment', async () => {
    const dir = tempDir('payloads');
    const store = await impl.open(dir, { segmentMaxBytes: 12_000 });
    const a = store.append(payload(1));
    const b = store.append(payload(2));
    store.append(payload(3, 8192 - 16 - 12)); // segment 2, active, ending on a flush boundary: all live
    assert.ok(store.addRef(b));
    await store.flush();
    assert.equal(store.beginCompaction(0.9, 1 << 20), [], 'segment 1 is full of live payloads');
    store.free(a);
    assert.equal(store.beginCompaction(0.6, 1 << 20), [1]);
    assert.not.ok(store.addRef(b), 'no new owners while compacting');
    assert.equal(store.beginCompaction(0.6, 1 << 20), [], 'already being compacted');
    const copy = await store.copyForward(b);
    assert.is.not(copy.segment, 1);
    assert.is(copy.checksum, b.checksum);
    await store.flush(); // the copy is durable before the commit that rewrites the references
    store.moveOwners(b, copy, 2);
    store.endCompaction([1]);
    assert.is(store.owners(b), 0);
    assert.is(store.owners(copy), 2);
    await store.close(); // waits for the deletion
    await collectGarbage(); // the native store deletes it once the Buffer copyForward read is collected
    assert.not.ok(existsSync(join(dir, 'seg-0000000001.wps')));
    const reopened = await impl.open(dir, { segmentMaxBytes: 12_000 });
    const report = await reopened.reconcile([copy, copy]);
    assert.is(report.missingRefs, 0);
    assert.equal(await reopened.read(copy), payload(2));
    await reopened.close();
  });

  payloads('a copy whose owners all went away meanwhile is dropped, and the old payload stays until freed', async () => {
    const dir = tempDir('payloads');
    const store = await impl.open(dir, { segmentMaxBytes: 12_000 });
    const a = store.append(payload(1));
    const b = store.append(payload(2));
    store.append(payload(3));
    await store.flush();
    store.free(a);
    assert.equal(store.beginCompaction(0.6, 1 << 20), [1]);
    const copy = await store.copyForward(b);
    await store.flush();
    store.moveOwners(b, copy, 0);
    store.endCompaction([1]);
    assert.is(store.owners(copy), 0);
    assert.is(store.owners(b), 1);
    assert.ok(store.addRef(b), 'takes owners again after endCompaction');
    await store.close();
  });

  payloads('hundreds of segments: every payload reads back across reopen, files go as their payloads are freed', async () => {
    const dir = tempDir('payloads');
    let store = await impl.open(dir, { segmentMaxBytes: 16 * 1024 });
    const refs: PayloadRef[] = [];
    for (let window = 0; window < 10; window++) {
      for (let i = 0; i < 30; i++) refs.push(store.append(payload(window * 30 + i, 3000 + i)));
      await store.flush();
    }
    const ids = new Set(refs.map((r) => r.segment));
    assert.ok(ids.size >= 60, `${ids.size} segments`);
    for (const [i, ref] of refs.entries()) assert.equal(await store.read(ref), payload(i, 3000 + (i % 30)));
    await store.close();
    store = await impl.open(dir, { segmentMaxBytes: 16 * 1024 });
    const report = await store.reconcile(refs);
    assert.is(report.missingRefs, 0);
    for (const [i, ref] of refs.entries()) if (i % 10 !== 0) store.free(ref);
    for (const [i, ref] of refs.entries()) if (i % 10 === 0) assert.equal(await store.read(ref), payload(i, 3000 + (i % 30)));
    await store.close();
    await collectGarbage();
    assert.is(segments(dir).length, new Set(refs.filter((_, i) => i % 10 === 0).map((r) => r.segment)).size);
    store = await impl.open(dir, { segmentMaxBytes: 16 * 1024 });
    const kept = refs.filter((_, i) => i % 10 === 0);
    await store.reconcile(kept);
    for (const ref of kept) store.free(ref);
    await store.close();
    await collectGarbage();
    assert.equal(segments(dir), []);
  });

  payloads.run();
}
