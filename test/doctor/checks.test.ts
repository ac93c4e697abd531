// src/doctor: the write estimate, the flush verdicts, the board advice and the serial-port listing.

import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { estimateWrites } from '../../src/doctor/write-estimate.js';
import { flushCheck } from '../../src/doctor/flush-check.js';
import { boardCheck, loadProfiles, matchBoard } from '../../src/doctor/board-advice.js';
import { listSerialPorts, serialCheck } from '../../src/doctor/serial-ports.js';
import type { StorageDevice } from '../../src/doctor/storage-device.js';

const test = suite('doctor: checks');

const storage = { commitMaxPerSecond: 200, inlineMaxBytes: 2048 };
const sync = (p50Ms: number, p99Ms = p50Ms * 3) => ({ samples: 100, p50Ms, p99Ms, maxMs: p99Ms });
const device = (kind: StorageDevice['kind'], fsType = 'ext4', writeCache?: string): StorageDevice => ({ path: '/x', mountPoint: '/', fsType, source: '/dev/x', disk: 'x', kind, writeCache, rotational: kind === 'hdd', model: undefined, freeBytes: 1e9, totalBytes: 2e9 });

test('estimate: below every limit each message is its own commit', () => {
  const e = estimateWrites(storage, 1, 50, 256);
  assert.is(e.commitsPerSecond, 50);
  assert.is(e.fsyncsPerSecond, 50);
  assert.is(e.messagesPerCommit, 1);
  assert.ok(e.writeAmplification > 10, 'a page per commit for a 256 B message');
});

test('estimate: commitMaxPerSecond and the disk bound the commits; batches grow and amplification falls', () => {
  const capped = estimateWrites(storage, 1, 1000, 256);
  assert.is(capped.commitsPerSecond, 200);
  assert.is(capped.messagesPerCommit, 5);
  const slowDisk = estimateWrites(storage, 20, 1000, 256); // 50 syncs/s at most
  assert.is(slowDisk.commitsPerSecond, 50);
  assert.ok(slowDisk.writeAmplification < capped.writeAmplification);
  assert.ok(slowDisk.bytesPerDay < capped.bytesPerDay);
});

test('estimate: payloads over inlineMaxBytes add a payload-file sync and their bytes', () => {
  const e = estimateWrites(storage, 1, 10, 64 * 1024);
  assert.is(e.fsyncsPerSecond, 20);
  assert.ok(e.bytesPerDay >= 10 * 64 * 1024 * 86400);
});

test('flush: tmpfs fails, an impossibly fast SD card is doubtful, write-through is fine, virtual is unknown', () => {
  assert.is(flushCheck(device('ram', 'tmpfs'), sync(0.01)).verdict, 'fail');
  assert.is(flushCheck(device('sd', 'ext4', 'write back'), sync(0.05)).verdict, 'warn');
  assert.is(flushCheck(device('hdd', 'ext4', 'write back'), sync(0.5)).verdict, 'warn');
  assert.is(flushCheck(device('sd', 'ext4', 'write back'), sync(2)).verdict, 'ok');
  assert.is(flushCheck(device('ssd', 'ext4', 'write through'), sync(0.05)).verdict, 'ok');
  assert.is(flushCheck(device('virtual'), sync(0.3)).verdict, 'info');
});

test('board: the device tree model picks the profile and its commit window for the storage kind', () => {
  const profiles = loadProfiles();
  assert.is(matchBoard('Raspberry Pi 4 Model B Rev 1.4', profiles)?.name, 'rpi4');
  assert.is(matchBoard('Raspberry Pi 5 Model B Rev 1.0', profiles)?.name, 'rpi5');
  assert.is(matchBoard('Raspberry Pi Compute Module 4 Rev 1.0', profiles)?.name, 'cm4-emmc');
  assert.is(matchBoard('Raspberry Pi Zero 2 W Rev 1.0', profiles)?.name, 'rpi-zero-2w');
  assert.is(matchBoard('Raspberry Pi 3 Model B Plus Rev 1.3', profiles), undefined);
  assert.is(matchBoard(undefined, profiles), undefined);

  const unset = boardCheck(device('sd'), sync(2), { board: undefined, commitIntervalMs: 5 }, 'Raspberry Pi 4 Model B Rev 1.4', profiles);
  assert.is(unset.verdict, 'warn');
  assert.match(unset.summary, /board: rpi4/);
  assert.is((unset.details as { recommendedCommitIntervalMs: number }).recommendedCommitIntervalMs, 20);
  const set = boardCheck(device('usb'), sync(2), { board: 'rpi4', commitIntervalMs: 20 }, 'Raspberry Pi 4 Model B Rev 1.4', profiles);
  assert.is(set.verdict, 'ok');
  assert.is((set.details as { recommendedCommitIntervalMs: number }).recommendedCommitIntervalMs, 10);
  const x86 = boardCheck(device('ssd'), sync(0.2, 4.2), { board: undefined, commitIntervalMs: 5 }, undefined, profiles);
  assert.is(x86.verdict, 'info');
  assert.is((x86.details as { recommendedCommitIntervalMs: number }).recommendedCommitIntervalMs, 5);
});

test('serial: USB adapters in /dev are listed with their access; a board whose UARTs are all missing warns', () => {
  const dev = mkdtempSync(join(tmpdir(), 'wharf-dev-'));
  try {
    symlinkSync('/dev/null', join(dev, 'ttyUSB0'));
    symlinkSync('/dev/null', join(dev, 'ttyS7')); // 8250 placeholders are only listed when the board names them
    symlinkSync('/dev/null', join(dev, 'ttyUSBx'));
    const ports = listSerialPorts([], dev);
    assert.equal(ports.map((p) => p.path), [join(dev, 'ttyUSB0')]);
    assert.ok(ports[0]!.accessible);
    assert.is(serialCheck(undefined, [], dev).verdict, 'ok');
    const missing = serialCheck('rpi4', [join(dev, 'serial0'), join(dev, 'ttyAMA0')], dev);
    assert.is(missing.verdict, 'warn');
    assert.match(missing.summary, /enable the UART/);
    assert.is(serialCheck('rpi4', [join(dev, 'ttyS7')], dev).verdict, 'ok');
  } finally {
    rmSync(dev, { recursive: true, force: true });
  }
});

test.run();
