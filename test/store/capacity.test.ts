// The free-disk reserve (storage.minFreeDiskBytes) of the capacity guard, against the real free space of the
// temp directory's file system: growing writes are refused below it; LMDB's free pages inside data.mdb count as
// free space for what LMDB stores, never for payloads, which need the disk itself. Margins of gigabytes keep the
// tests independent of other processes writing to the same disk meanwhile.

import { statfsSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CapacityGuard, type SpaceReading } from '../../src/store/capacity.js';
import { StoreFullError } from '../../src/store/errors.js';
import { removeTempDirs, tempDir } from './helpers.js';

const capacity = suite('capacity guard: storage.minFreeDiskBytes');
capacity.after.each(removeTempDirs);

const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;

function diskFree(dir: string): number {
  const fs = statfsSync(dir);
  return fs.bavail * fs.bsize;
}

/** A started guard over `dir` with a reserve of `free + reserveAboveFree` and the LMDB figures given. */
async function guard(dir: string, reserveAboveFree: number, space: SpaceReading, pendingPayload: () => number = () => 0): Promise<CapacityGuard> {
  const g = new CapacityGuard(() => space, pendingPayload, { maxUsedBytes: 1024 * GiB, minFreeDiskBytes: Math.max(1, diskFree(dir) + reserveAboveFree), dataDir: dir });
  await g.start();
  return g;
}

capacity('a disk with less free space than the reserve refuses growing writes with StoreFullError', async () => {
  const dir = tempDir('capacity');
  const g = await guard(dir, 10 * GiB, { usedBytes: MiB, fileBytes: MiB });
  const refusal = g.admit(4096);
  assert.instance(refusal, StoreFullError);
  assert.match(String(refusal!.message), /kept in reserve/);
  assert.ok(g.full);
  g.stop();
});

capacity('with the reserve free, writes are taken', async () => {
  const dir = tempDir('capacity');
  const g = await guard(dir, -10 * GiB, { usedBytes: MiB, fileBytes: MiB });
  assert.is(g.admit(4096), undefined);
  assert.not.ok(g.full);
  g.stop();
});

capacity('free pages inside data.mdb count as free space: a drained queue takes inline messages below the reserve', async () => {
  const dir = tempDir('capacity');
  // data.mdb of 30 GiB, 1 MiB of it live: LMDB reuses the rest before the file grows.
  const g = await guard(dir, 10 * GiB, { usedBytes: MiB, fileBytes: 30 * GiB });
  assert.is(g.admit(4096), undefined);
  assert.not.ok(g.full);
  g.stop();
});

capacity('free pages inside data.mdb do not make room for payloads: those need the disk beyond the reserve', async () => {
  const dir = tempDir('capacity');
  let staged = 0;
  const g = await guard(dir, 10 * GiB, { usedBytes: MiB, fileBytes: 30 * GiB }, () => staged);
  staged = 64 * 1024;
  assert.instance(g.admit(100), StoreFullError);
  g.stop();
  const roomy = await guard(dir, -10 * GiB, { usedBytes: MiB, fileBytes: MiB }, () => staged);
  assert.is(roomy.admit(100), undefined, 'with the reserve free, the payload is taken');
  staged = 20 * GiB;
  assert.instance(roomy.admit(100), StoreFullError, 'a payload that would eat into the reserve is not');
  roomy.stop();
});

capacity('short of space while payloads are refused, although free pages of data.mdb still take records', async () => {
  const dir = tempDir('capacity');
  const drained = await guard(dir, 10 * GiB, { usedBytes: MiB, fileBytes: 30 * GiB });
  assert.not.ok(drained.full, 'a record is taken');
  assert.ok(drained.shortOfSpace(), 'a payload is not: compaction runs on the reserve');
  drained.stop();
  const roomy = await guard(dir, -10 * GiB, { usedBytes: MiB, fileBytes: MiB });
  assert.not.ok(roomy.shortOfSpace());
  roomy.stop();
});

capacity('spareDiskBytes is what the disk has now, the reserve included, less what is staged', async () => {
  const dir = tempDir('capacity');
  const g = await guard(dir, 10 * GiB, { usedBytes: MiB, fileBytes: MiB }, () => 5 * MiB);
  const spare = await g.spareDiskBytes();
  assert.ok(Math.abs(spare - (diskFree(dir) - 5 * MiB)) < GiB, `${spare}`);
  g.stop();
});

capacity('growth between exact readings is an estimate that never refuses by itself: the disk is read first', async () => {
  const dir = tempDir('capacity');
  // 20 GiB of headroom above the reserve; commits that (by the estimate) took 4 × 3 GiB × 2 leave none of it.
  const g = await guard(dir, -20 * GiB, { usedBytes: MiB, fileBytes: MiB });
  for (let i = 0; i < 4; i++) g.refresh(0, 6 * GiB);
  assert.is(g.admit(4096), undefined, 'statfs, read before refusing, still shows the headroom');
  assert.not.ok(g.full);
  g.stop();
});

capacity('the used-space cap: estimated growth between readings, an exact reading near the cap and before refusing', async () => {
  const dir = tempDir('capacity');
  let reading: SpaceReading = { usedBytes: 10 * MiB, fileBytes: 10 * MiB };
  let measured = 0;
  const g = new CapacityGuard(() => (measured++, reading), () => 0, { maxUsedBytes: 100 * MiB, minFreeDiskBytes: 0, dataDir: dir });
  await g.start();
  const before = measured;
  reading = { usedBytes: 12 * MiB, fileBytes: 12 * MiB };
  g.refresh(MiB);
  assert.is(measured, before, 'far from the cap and just measured: not read again');
  assert.is(g.admit(MiB), undefined);
  g.release(MiB);
  // The store really grew to 99 MiB; the estimate (10 + 2 × 46 MiB) is near the cap, so the commit measures.
  reading = { usedBytes: 99 * MiB, fileBytes: 99 * MiB };
  g.refresh(45 * MiB);
  assert.is(g.usedBytes, 99 * MiB);
  assert.instance(g.admit(4 * MiB), StoreFullError);
  // Data removed: what was refused by an old figure is re-read before the refusal stands.
  reading = { usedBytes: 20 * MiB, fileBytes: 99 * MiB };
  g.refresh(MiB);
  assert.is(g.admit(4 * MiB), undefined);
  g.stop();
});

capacity.run();
