import { appendFileSync, existsSync, openSync, readdirSync, readSync, statSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PayloadCorruptError, StoreFullError } from '../../src/store/errors.js';
import { crc32, crc32Table } from '../../src/store/payload/crc32.js';
import { FilePayloadStore } from '../../src/store/payload/file-payload-store.js';
import type { PayloadRef } from '../../src/store/payload/payload-store.js';
import { removeTempDirs, tempDir } from './helpers.js';

const payloads = suite('file payload store');
payloads.after.each(removeTempDirs);

function payload(i: number, bytes = 5000): Buffer {
  const b = Buffer.alloc(bytes, i & 0xff);
  b.writeUInt32BE(i, 0);
  return b;
}

function segments(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.endsWith('.wps')).sort();
}

payloads('crc32 matches the table implementation and the IEEE check value', () => {
  assert.is(crc32(Buffer.from('123456789')), 0xcbf43926);
  const data = payload(7, 10_000);
  assert.is(crc32(data), crc32Table(data));
});

payloads('appends of one flush are written and read back, from memory before the flush', async () => {
  const dir = tempDir('payloads');
  const store = await FilePayloadStore.open(dir);
  const refs = [1, 2, 3].map((i) => store.append(payload(i)));
  assert.is(store.pendingBytes(), 3 * (5000 + 12));
  assert.equal(await store.read(refs[1]!), payload(2), 'readable while staged');
  const written = await store.flush();
  assert.is(written, 16 + 3 * (5000 + 12));
  assert.is(store.pendingBytes(), 0);
  for (const [i, ref] of refs.entries()) assert.equal(await store.read(ref), payload(i + 1));
  await store.close();
  assert.equal(segments(dir), ['seg-0000000001.wps']);
});

payloads('a segment is deleted once every payload in it is freed, and not before', async () => {
  const dir = tempDir('payloads');
  const store = await FilePayloadStore.open(dir, { segmentMaxBytes: 12_000 });
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
  const reopened = await FilePayloadStore.open(dir, { segmentMaxBytes: 12_000 });
  await reopened.reconcile([b, c]);
  reopened.free(b);
  await reopened.close();
  assert.equal(segments(dir), ['seg-0000000002.wps']);
});

payloads('a shared payload lives until its last owner frees it', async () => {
  const dir = tempDir('payloads');
  const store = await FilePayloadStore.open(dir);
  const ref = store.append(payload(1));
  assert.ok(store.addRef(ref));
  await store.flush();
  store.free(ref);
  store.append(payload(2)); // keeps segment 1 in use; it is sealed when the store reopens
  await store.flush();
  await store.close();
  const reopened = await FilePayloadStore.open(dir);
  await reopened.reconcile([ref, ref]);
  reopened.free(ref);
  assert.equal(await reopened.read(ref), payload(1));
  reopened.free(ref);
  await reopened.close();
  assert.equal(segments(dir), []);
  assert.not.ok(reopened.addRef(ref));
});

payloads('on open, segments nothing refers to are deleted and a torn tail is cut back', async () => {
  const dir = tempDir('payloads');
  const store = await FilePayloadStore.open(dir);
  const kept = [1, 2].map((i) => store.append(payload(i)));
  await store.flush();
  store.append(payload(3)); // flushed but never committed: garbage after a crash
  await store.flush();
  await store.close();
  const path = join(dir, 'seg-0000000001.wps');
  appendFileSync(path, Buffer.concat([Buffer.from([0x57, 0x50, 0x52, 0x31, 0, 0, 0x13]), Buffer.alloc(100, 9)])); // a record cut short
  const unreferenced = await FilePayloadStore.open(dir);
  const orphan = unreferenced.append(payload(9));
  await unreferenced.flush();
  await unreferenced.close();
  assert.is(orphan.segment, 2);

  const reopened = await FilePayloadStore.open(dir);
  const report = await reopened.reconcile(kept);
  assert.is(report.segmentsDeleted, 1);
  assert.is(report.missingRefs, 0);
  assert.ok(report.tornTail);
  assert.is(report.tailBytesTruncated, 5012 + 107);
  assert.is(statSync(path).size, 16 + 2 * 5012);
  for (const [i, ref] of kept.entries()) assert.equal(await reopened.read(ref), payload(i + 1));
  await reopened.close();
  assert.not.ok(existsSync(join(dir, 'seg-0000000002.wps')));
});

payloads('a flipped bit is reported as PayloadCorruptError, not returned', async () => {
  const dir = tempDir('payloads');
  const store = await FilePayloadStore.open(dir);
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
  const reopened = await FilePayloadStore.open(dir);
  await reopened.reconcile([ref]);
  const error = await reopened.read(ref).catch((err: unknown) => err);
  assert.instance(error, PayloadCorruptError);
  assert.match(String((error as Error).message), /checksum mismatch/);
  const wrongLength: PayloadRef = { ...ref, length: ref.length - 1 };
  assert.instance(await reopened.read(wrongLength).catch((err: unknown) => err), PayloadCorruptError);
  await reopened.close();
});

payloads('references into missing or short segments are counted on reconcile', async () => {
  const dir = tempDir('payloads');
  const store = await FilePayloadStore.open(dir);
  const ref = store.append(payload(1));
  await store.flush();
  await store.close();
  const reopened = await FilePayloadStore.open(dir);
  const report = await reopened.reconcile([ref, { ...ref, segment: 99 }, { ...ref, offset: 1_000_000 }]);
  assert.is(report.missingRefs, 2);
  await reopened.close();
});

payloads('appends beyond maxBytes throw StoreFullError; freeing makes room again', async () => {
  const dir = tempDir('payloads');
  const store = await FilePayloadStore.open(dir, { maxBytes: 12_000, segmentMaxBytes: 6_000 });
  const a = store.append(payload(1));
  store.append(payload(2));
  assert.throws(() => store.append(payload(3)), (err: unknown) => err instanceof StoreFullError);
  await store.flush();
  store.free(a); // segment 1 holds only a: deleted
  assert.ok(store.append(payload(4)));
  await store.flush();
  await store.close();
});

payloads.run();
