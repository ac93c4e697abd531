// Bounded measurements on the data directory's filesystem: fdatasync latency of a small append (what one commit
// costs, roughly) and the sequential write rate. Synchronous I/O on purpose: doctor runs alone, and timing
// through the event loop would add its own latency to every sample.

import { closeSync, fdatasyncSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { LatencyHistogram } from '../store/metrics.js';

export interface SyncLatency {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface WriteRate {
  bytes: number;
  seconds: number;
  bytesPerSecond: number;
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

/** Appends 4 KiB and fdatasyncs, up to `maxSamples` times or `maxMs`, in a scratch file in `dir`. */
export function measureSyncLatency(dir: string, maxSamples = 200, maxMs = 3000): SyncLatency {
  const file = join(dir, `fsync-probe-${process.pid}`);
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(4096, 0x5a);
  const hist = new LatencyHistogram();
  const deadline = nowMs() + maxMs;
  try {
    for (let i = 0; i < maxSamples && (i < 5 || nowMs() < deadline); i++) {
      writeSync(fd, block, 0, block.length, i * block.length);
      const t0 = nowMs();
      fdatasyncSync(fd);
      hist.record(nowMs() - t0);
    }
  } finally {
    closeSync(fd);
    unlinkSync(file);
  }
  return { samples: hist.count, p50Ms: hist.percentileMs(0.5), p99Ms: hist.percentileMs(0.99), maxMs: hist.maxMs };
}

/** Writes 1 MiB blocks up to `maxBytes` or `maxMs`, then fdatasync: the rate includes getting it to the device. */
export function measureWriteRate(dir: string, maxBytes = 64 * 1024 * 1024, maxMs = 2000): WriteRate {
  const file = join(dir, `write-probe-${process.pid}`);
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < block.length; i += 4) block.writeUInt32LE((i * 2654435761) >>> 0, i); // not all zeros: no compressing filesystem shortcut
  let written = 0;
  const t0 = nowMs();
  try {
    while (written < maxBytes && nowMs() - t0 < maxMs) written += writeSync(fd, block, 0, block.length, written);
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
    unlinkSync(file);
  }
  const seconds = Math.max((nowMs() - t0) / 1000, 1e-6);
  return { bytes: written, seconds, bytesPerSecond: written / seconds };
}
