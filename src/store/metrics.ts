// Counters the store keeps about its own writes: commits, syncs, bytes that reached the data directory and the
// latency of commits. Read through Store.metrics(); exported as Prometheus text by the monitoring work later.

import { readFileSync } from 'node:fs';

/**
 * Commit latency histogram over microseconds: 16 linear buckets, then 8 sub-buckets per power of two
 * (about 9% resolution). Recording is two integer operations and an array increment: no allocation per commit.
 */
export class LatencyHistogram {
  private readonly counts = new Uint32Array(16 + 28 * 8);
  private total = 0;
  private maxUs = 0;

  record(ms: number): void {
    let us = Math.round(ms * 1000);
    if (us < 0) us = 0;
    if (us > 0xffffffff) us = 0xffffffff;
    if (us > this.maxUs) this.maxUs = us;
    this.counts[LatencyHistogram.bucketOf(us)]!++;
    this.total++;
  }

  get count(): number {
    return this.total;
  }

  get maxMs(): number {
    return this.maxUs / 1000;
  }

  /** Upper bound (ms) of the bucket holding the p-quantile, p in [0, 1]; 0 when nothing was recorded. */
  percentileMs(p: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil(p * this.total));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(LatencyHistogram.upperBoundUs(i), this.maxUs) / 1000;
    }
    return this.maxUs / 1000;
  }

  reset(): void {
    this.counts.fill(0);
    this.total = 0;
    this.maxUs = 0;
  }

  private static bucketOf(us: number): number {
    if (us < 16) return us;
    const exponent = 31 - Math.clz32(us); // 4..31
    const sub = (us >>> (exponent - 3)) & 7;
    return 16 + (exponent - 4) * 8 + sub;
  }

  private static upperBoundUs(bucket: number): number {
    if (bucket < 16) return bucket;
    const exponent = Math.floor((bucket - 16) / 8) + 4;
    const sub = (bucket - 16) % 8;
    return (8 + sub + 1) * 2 ** (exponent - 3) - 1;
  }
}

/** Bytes this process caused to be written to storage, from Linux /proc/self/io; undefined elsewhere. */
export function readProcWriteBytes(): number | undefined {
  try {
    const text = readFileSync('/proc/self/io', 'latin1');
    const match = /^write_bytes:\s*(\d+)/m.exec(text);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

export interface StoreMetricsSnapshot {
  /** Commit windows committed: one LMDB write transaction each, or with the commit log one log flush each. */
  commits: number;
  /** Durable flushes requested: one per LMDB commit plus one fdatasync per payload-store flush. */
  syncs: number;
  /** Operations made durable, and operations refused or failed. */
  opsCommitted: number;
  opsFailed: number;
  /** Bytes the store wrote to the data directory since open: LMDB pages as LMDB counts them, meta pages, payload files, the commit log. */
  bytesWritten: number;
  /** Of bytesWritten, the commit log's (records and the padding of each flush): the rest is LMDB and payload files. */
  logBytesWritten: number;
  /**
   * Zeros written ahead into the commit log's next file (log-preallocate.ts), not in bytesWritten: the records
   * later written over them are counted there, so the disk sees both.
   */
  logPreparedBytes: number;
  /**
   * /proc/self/io write_bytes since open (whole process; undefined off Linux). The kernel counts dirtied page-cache
   * folios, so on kernels with large folios it over-counts LMDB's scattered 4 KiB page writes (2.3x measured).
   */
  procWriteBytes: number | undefined;
  /** Application payload bytes in messages made durable. */
  payloadBytesAccepted: number;
  /** bytesWritten / payloadBytesAccepted (0 before the first message). */
  writeAmplification: number;
  commitLatencyMs: { p50: number; p99: number; max: number; count: number };
  /** Bytes queued or committing, not yet durable: the backpressure signal. */
  pendingBytes: number;
  /** Space in use by LMDB pages (live data) and the cap it is held to. */
  usedBytes: number;
  capacityBytes: number;
  /** True while writes that add data are being refused for lack of space. */
  full: boolean;
  /** The payload store: which one runs, its segment files' bytes, and what compaction did since open. */
  payloads: {
    kind: 'native' | 'js';
    diskBytes: number;
    segmentsCompacted: number;
    payloadsMoved: number;
    bytesCopied: number;
    segmentsSkipped: number;
  };
}

/** Mutable counters; the commit scheduler adds to them. */
export class StoreMetrics {
  commits = 0;
  syncs = 0;
  opsCommitted = 0;
  opsFailed = 0;
  payloadBytesAccepted = 0;
  /** Bytes written to payload segment files. */
  payloadFileBytes = 0;
  /** Bytes written to commit-log files (padding included). */
  logFileBytes = 0;
  /** Zeros written preparing commit-log files. */
  logPreparedBytes = 0;
  readonly commitLatency = new LatencyHistogram();
  private readonly procBaseline = readProcWriteBytes();
  private readonly lmdbBaseline: number;

  /** lmdbBytesWritten: LMDB's own count of bytes written since the environment was opened. */
  constructor(private readonly lmdbBytesWritten: () => number) {
    this.lmdbBaseline = lmdbBytesWritten();
  }

  snapshot(
    state: Pick<StoreMetricsSnapshot, 'pendingBytes' | 'usedBytes' | 'capacityBytes' | 'full' | 'payloads'>,
  ): StoreMetricsSnapshot {
    const written = this.lmdbBytesWritten() - this.lmdbBaseline + this.payloadFileBytes + this.logFileBytes;
    const proc = readProcWriteBytes();
    return {
      commits: this.commits,
      syncs: this.syncs,
      opsCommitted: this.opsCommitted,
      opsFailed: this.opsFailed,
      bytesWritten: written,
      logBytesWritten: this.logFileBytes,
      logPreparedBytes: this.logPreparedBytes,
      procWriteBytes: proc !== undefined && this.procBaseline !== undefined ? proc - this.procBaseline : undefined,
      payloadBytesAccepted: this.payloadBytesAccepted,
      writeAmplification: this.payloadBytesAccepted > 0 ? written / this.payloadBytesAccepted : 0,
      commitLatencyMs: {
        p50: this.commitLatency.percentileMs(0.5),
        p99: this.commitLatency.percentileMs(0.99),
        max: this.commitLatency.maxMs,
        count: this.commitLatency.count,
      },
      ...state,
    };
  }
}
