import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { validateConfig } from '../../src/config/validate.js';

const storage = suite('storage settings');

storage('commit window, sizes and limits are read, sizes with units', () => {
  const r = validateConfig({ storage: { commitIntervalMs: 20, commitMaxBytes: '512KiB', mapSizeBytes: '256MiB', maxPendingBytes: '2MiB' } });
  assert.ok('config' in r);
  if (!('config' in r)) return;
  assert.is(r.config.storage.commitIntervalMs, 20);
  assert.is(r.config.storage.commitMaxBytes, 512 * 1024);
  assert.is(r.config.storage.mapSizeBytes, 256 * 1024 * 1024);
  assert.is(r.config.storage.maxPendingBytes, 2 * 1024 * 1024);
  assert.is(r.config.storage.inlineMaxBytes, 2048);
});

storage('out-of-range storage values name the key and the range', () => {
  const r = validateConfig({ storage: { commitIntervalMs: -1, mapSizeBytes: '1KiB' } });
  assert.ok('errors' in r);
  if (!('errors' in r)) return;
  assert.match(r.errors.join('\n'), /storage\.commitIntervalMs: must be an integer 0-10000; got -1/);
  assert.match(r.errors.join('\n'), /storage\.mapSizeBytes: /);
});

storage('payloadStore is native, js or auto (default auto); payloadSegmentBytes takes units', () => {
  const d = validateConfig({});
  assert.ok('config' in d);
  if (!('config' in d)) return;
  assert.is(d.config.storage.payloadStore, 'auto');
  assert.is(d.config.storage.payloadSegmentBytes, 16 * 1024 * 1024);
  assert.is(d.config.storage.minFreeDiskBytes, 8 * 1024 * 1024);
  const r = validateConfig({ storage: { payloadStore: 'js', payloadSegmentBytes: '32MiB' } });
  assert.ok('config' in r);
  if (!('config' in r)) return;
  assert.is(r.config.storage.payloadStore, 'js');
  assert.is(r.config.storage.payloadSegmentBytes, 32 * 1024 * 1024);
  const bad = validateConfig({ storage: { payloadStore: 'fast', payloadSegmentBytes: '4KiB' } });
  assert.ok('errors' in bad);
  if (!('errors' in bad)) return;
  assert.match(bad.errors.join('\n'), /storage\.payloadStore: expected one of native, js, auto; got "fast"/);
  assert.match(bad.errors.join('\n'), /storage\.payloadSegmentBytes: /);
});

storage('a board profile sets the payload segment size and a free-disk reserve that covers compacting one', () => {
  const r = validateConfig({ board: 'rpi-zero-2w' });
  assert.ok('config' in r);
  if (!('config' in r)) return;
  assert.is(r.config.storage.payloadSegmentBytes, 8 * 1024 * 1024);
  assert.is(r.config.storage.minFreeDiskBytes, 4 * 1024 * 1024);
  for (const board of ['rpi-zero-2w', 'rpi4', 'rpi5', 'cm4-emmc']) {
    const b = validateConfig({ board });
    if (!('config' in b)) return assert.unreachable(board);
    // Recovery compacts a segment at most a quarter live: its copies must fit in the reserve (README, "Full disk").
    assert.ok(b.config.storage.minFreeDiskBytes >= b.config.storage.payloadSegmentBytes / 4 + 64 * 1024, board);
  }
});

storage('commit pacing: commitMaxPerSecond and commitMinBatchBytes are read, with defaults', () => {
  const d = validateConfig({});
  assert.ok('config' in d);
  if (!('config' in d)) return;
  assert.is(d.config.storage.commitMaxPerSecond, 2000);
  assert.is(d.config.storage.commitMinBatchBytes, 16 * 1024);
  const r = validateConfig({ storage: { commitIntervalMs: 25, commitMaxPerSecond: 100, commitMinBatchBytes: '32KiB' } });
  assert.ok('config' in r);
  if (!('config' in r)) return;
  assert.is(r.config.storage.commitMaxPerSecond, 100);
  assert.is(r.config.storage.commitMinBatchBytes, 32 * 1024);
});

storage('commit pacing: out-of-range and contradicting values name the keys and the fix', () => {
  const bad = validateConfig({ storage: { commitMaxPerSecond: 0, commitMinBatchBytes: 'lots' } });
  assert.ok('errors' in bad);
  if (!('errors' in bad)) return;
  assert.match(bad.errors.join('\n'), /storage\.commitMaxPerSecond: must be an integer 1-100000; got 0/);
  assert.match(bad.errors.join('\n'), /storage\.commitMinBatchBytes: /);
  const slow = validateConfig({ storage: { commitIntervalMs: 5, commitMaxPerSecond: 100 } });
  assert.ok('errors' in slow);
  if (!('errors' in slow)) return;
  assert.equal(slow.errors, [
    'storage.commitMaxPerSecond: 100 spaces commits 10 ms apart, longer than storage.commitIntervalMs (5 ms), the longest a write may wait; allow at least 200 commits per second or raise commitIntervalMs to 10',
  ]);
  const big = validateConfig({ storage: { commitMaxBytes: '64KiB', commitMinBatchBytes: '1MiB' } });
  assert.ok('errors' in big);
  if (!('errors' in big)) return;
  assert.equal(big.errors, ['storage.commitMinBatchBytes: 1048576 exceeds storage.commitMaxBytes (65536), the most one commit takes']);
});

storage('every board profile sets a commit rate cap its longest wait allows', () => {
  const expected: Record<string, number> = { 'rpi-zero-2w': 100, rpi4: 200, 'cm4-emmc': 250, rpi5: 1000 };
  for (const [board, rate] of Object.entries(expected)) {
    const r = validateConfig({ board });
    assert.ok('config' in r, `${board}: ${'errors' in r ? r.errors.join('; ') : ''}`);
    if (!('config' in r)) return;
    assert.is(r.config.storage.commitMaxPerSecond, rate, board);
    assert.ok(r.config.storage.commitMinBatchBytes > 0, board);
  }
});

storage.run();
