// The commit log's prepared files (log-preallocate.ts): the next file is written with zeros ahead of need, so the
// log writes over written blocks; zeros end a scan whatever the file number; a file prepared in part is a spare
// of that length; nothing is prepared when the store says no.

import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CommitLog, type LogPreparation } from '../../src/store/log/commit-log.js';
import { logFileName, scanLogFile } from '../../src/store/log/log-format.js';
import { Store } from '../../src/store/store.js';
import { removeTempDirs, tempDir } from './helpers.js';

const FILE_BYTES = 256 * 1024;
const bodies = (from: number, n: number): Buffer[] => Array.from({ length: n }, (_, i) => Buffer.from(`record ${from + i}`));
const text = (records: { body: Buffer }[]): string[] => records.map((r) => r.body.toString());
/** The file number whose all-zero 14-byte header has a CRC-32 of 0 (found by solving the CRC's linear system). */
const ZERO_CRC_FILE = 1301065840;

function preparation(allowed = true): LogPreparation & { bytes: number } {
  const p = { bytes: 0, minFreeDiskBytes: 0, allowed: () => allowed, written: (bytes: number) => void (p.bytes += bytes) };
  return p;
}

const sizes = (dir: string): Record<string, number> => Object.fromEntries(readdirSync(dir).sort().map((n) => [n, statSync(join(dir, n)).size]));

const prep = suite('commit log: prepared files');
prep.after(removeTempDirs);

prep('a file is prepared ahead with zeros, counted as spare space, and the next file takes it: no new disk bytes', async () => {
  const dir = tempDir('log-prep');
  const log = await CommitLog.open(dir, true, undefined, FILE_BYTES);
  const p = preparation();
  log.preparation = p;
  log.prepareAhead();
  await log.prepared();
  const [name] = readdirSync(dir);
  assert.equal(sizes(dir), { [name!]: FILE_BYTES }, 'one whole file');
  assert.ok(readFileSync(join(dir, name!)).every((b) => b === 0), 'all zeros');
  assert.is(p.bytes, FILE_BYTES, 'its bytes reported as disk use');
  assert.is(log.spareBytes(), FILE_BYTES);
  assert.is(log.diskBytes(), FILE_BYTES);
  const written = await log.write(bodies(1, 3));
  assert.is(written.newDiskBytes, 0, 'written over prepared blocks');
  assert.not.ok(readdirSync(dir).includes(name!), 'renamed to the new number before the first record');
  assert.is(log.diskBytes(), FILE_BYTES);
  await log.close();
  const again = await CommitLog.open(dir, false, undefined, FILE_BYTES);
  assert.equal(text(again.recordsAfter(0)), ['record 1', 'record 2', 'record 3'], 'the zeros after the records end the scan');
  await again.close();
});

prep('zeros end a scan even for the file number whose all-zero header checks out', () => {
  const zeros = Buffer.alloc(64 * 1024);
  const scan = scanLogFile(ZERO_CRC_FILE, zeros);
  assert.is(scan.end, 0);
  assert.equal(scan.records, []);
  assert.is(scan.maxLsn, 0);
});

prep('the next file is prepared once the file being written is a sixteenth full', async () => {
  const dir = tempDir('log-prep-ahead');
  const log = await CommitLog.open(dir, true, undefined, FILE_BYTES);
  log.preparation = preparation();
  await log.write(bodies(1, 1)); // a new file (nothing prepared yet): 4 KiB
  assert.is(readdirSync(dir).length, 1, 'nothing prepared below a sixteenth');
  let n = 2;
  while ((await log.write([Buffer.alloc(8000, 1)])).lastLsn && statSync(join(dir, logFileName(1))).size < FILE_BYTES / 16) n++;
  await log.prepared();
  assert.is(readdirSync(dir).length, 2, `one file prepared after ${n} writes`);
  assert.is(log.spareBytes(), FILE_BYTES);
  await log.close();
});

prep('a file prepared in part (a kill during preparation) is a spare: extended on open, then reused', async () => {
  const dir = tempDir('log-prep-part');
  const first = await CommitLog.open(dir, true, undefined, FILE_BYTES);
  await first.write(bodies(1, 2));
  await first.close();
  writeFileSync(join(dir, logFileName(5)), Buffer.alloc(64 * 1024));
  const log = await CommitLog.open(dir, false, undefined, FILE_BYTES);
  assert.equal(text(log.recordsAfter(0)), ['record 1', 'record 2'], 'the zeros are no records');
  await log.reconcile([], 2);
  assert.is(log.spareBytes(), 64 * 1024 + 4096, 'both files kept as spares');
  log.preparation = preparation();
  log.prepareAhead();
  await log.prepared();
  assert.equal(Object.values(sizes(dir)).sort((a, b) => a - b), [4096, FILE_BYTES], 'the longest spare extended, no new file');
  const written = await log.write(bodies(3, 1));
  assert.is(written.newDiskBytes, 0, 'the extended file is taken first');
  assert.not.ok(readdirSync(dir).includes(logFileName(5)));
  await log.close();
  const again = await CommitLog.open(dir, false, undefined, FILE_BYTES);
  assert.equal(text(again.recordsAfter(2)), ['record 3']);
  await again.close();
});

prep('a file being prepared is taken as far as it got, and no zeros land on the records written into it', async () => {
  const dir = tempDir('log-prep-taken');
  const fileBytes = 2 * 1024 * 1024; // two chunks
  const log = await CommitLog.open(dir, true, undefined, fileBytes);
  log.preparation = preparation();
  log.prepareAhead();
  // The first write does not wait for the preparation to finish; later ones run through three more files.
  for (let i = 0; i < 20; i++) await log.write(bodies(1 + i * 10, 10));
  const big = Buffer.alloc(8000, 7);
  let more = 0;
  while (more * big.length < 3 * fileBytes) await log.write([big]), more++;
  await log.prepared();
  await log.close();
  const again = await CommitLog.open(dir, false, undefined, fileBytes);
  const found = again.recordsAfter(0);
  assert.is(found.length, 200 + more);
  assert.equal(text(found.slice(0, 200)), bodies(1, 200).map(String));
  assert.ok(found.slice(200).every((r) => r.body.equals(big)));
  await again.close();
});

prep('nothing is prepared when the store says no (near a space limit)', async () => {
  const dir = tempDir('log-prep-refused');
  const log = await CommitLog.open(dir, true, undefined, FILE_BYTES);
  log.preparation = preparation(false);
  log.prepareAhead();
  await log.prepared();
  assert.equal(readdirSync(dir), []);
  const written = await log.write(bodies(1, 1));
  assert.is(written.newDiskBytes, 4096, 'a new file, appended to');
  await log.close();
});

prep('a new store prepares its first log file at open, and counts its zeros; a store with the log off prepares none', async () => {
  const dir = tempDir('log-prep-store');
  const store = await Store.open({ dataDir: join(dir, 'on'), minFreeDiskBytes: 0, logFileBytes: FILE_BYTES });
  await (store as unknown as { ctx: { log: CommitLog } }).ctx.log.prepared();
  assert.equal(Object.values(sizes(join(dir, 'on', 'log'))), [FILE_BYTES]);
  // Counted on their own (wharf_store_log_prepared_bytes_total): the records written over them count as written.
  assert.is(store.metrics().logPreparedBytes, FILE_BYTES);
  assert.is(store.metrics().logBytesWritten, 0);
  await store.close();
  const off = await Store.open({ dataDir: join(dir, 'off'), minFreeDiskBytes: 0, logFileBytes: FILE_BYTES, commitLog: false });
  await off.close();
  assert.equal(existsSync(join(dir, 'off', 'log')) ? readdirSync(join(dir, 'off', 'log')) : [], []);
});


/**
 * A log whose first (sealed) file holds a live record, written on with records of `recordBytes`: what a backlog
 * nobody consumes looks like. Returns the bytes of zeros the preparation wrote once the second file is well along.
 */
async function zerosBehindBacklog(name: string, recordBytes: number): Promise<number> {
  const dir = tempDir(name);
  const log = await CommitLog.open(dir, true, undefined, FILE_BYTES);
  const body = Buffer.alloc(recordBytes, 1);
  const first = await log.write([body]);
  log.markLive(first.refs[0]!);
  while (log.fileCount() < 2) await log.write([body]);
  const p = preparation();
  log.preparation = p;
  for (let written = 0; written < FILE_BYTES / 2; written += recordBytes) await log.write([body]);
  await log.prepared();
  await log.close();
  return p.bytes;
}

prep('behind a backlog, windows larger than a journal commit append; single-page windows still get a prepared file', async () => {
  // 20 KiB writes (a window of 64 messages): zeros would write the backlog twice.
  assert.is(await zerosBehindBacklog('log-prep-backlog-big', 20 * 1024), 0);
  // One 4 KiB page per write (one message per window): zeros are cheaper than a journal commit per write.
  const small = await zerosBehindBacklog('log-prep-backlog-small', 100);
  assert.ok(small >= FILE_BYTES, `${small} bytes of zeros`);
});

prep.run();
