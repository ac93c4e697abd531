// src/metrics/flash-wear.ts against this machine's real counters: bytes written and fdatasync'd in the directory
// show in the process's /proc/self/io figure and, where the directory is on a block device, in its sectors.

import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FlashWear, dataDevice, readSectorsWritten } from '../../src/metrics/flash-wear.js';

const test = suite('metrics: flash wear');

test('written and synced bytes appear in the process and device figures; per-day and fsync rates follow', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-wear-'));
  try {
    const started = Date.now();
    const wear = new FlashWear(dir, started);
    const fd = openSync(join(dir, 'f'), 'w');
    const block = Buffer.alloc(1024 * 1024, 7);
    for (let i = 0; i < 4; i++) writeSync(fd, block);
    fdatasyncSync(fd);
    closeSync(fd);
    const f = wear.figures({ syncs: 10, payloadBytesAccepted: 1024 * 1024 }, started + 10_000);
    assert.is(f.sinceSeconds, 10);
    assert.is(f.fsyncsPerSecond, 1);
    assert.ok(f.processWrittenBytes !== null && f.processWrittenBytes >= 4 * 1024 * 1024, String(f.processWrittenBytes));
    assert.is(f.processBytesPerDay, (f.processWrittenBytes! / 10) * 86400);
    if (f.device !== null) {
      assert.ok(f.deviceWrittenBytes! >= 4 * 1024 * 1024, `device ${f.device}: ${f.deviceWrittenBytes}`);
      assert.ok(f.deviceWriteAmplification! >= 4);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('no block device (tmpfs, /proc): device figures are null, not zero', () => {
  assert.is(dataDevice('/proc'), null);
  assert.is(readSectorsWritten(null), null);
  const f = new FlashWear('/proc').figures(null);
  assert.is(f.device, null);
  assert.is(f.deviceWrittenBytes, null);
  assert.is(f.deviceWriteAmplification, null);
  assert.is(f.fsyncsPerSecond, 0);
});

test.run();
