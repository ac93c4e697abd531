// Flash-wear figures for /metrics: what reaches the data directory's device, per day. Two sources, because each
// misses something: the process's own /proc/self/io write_bytes (Wharf only, but counted in dirtied page-cache
// folios, so it over-counts LMDB's scattered page writes on kernels with large folios) and the device's sector
// counters in /sys/dev/block/M:m/stat (exact, but every process writing to that partition is in it). The store's
// own count (wharf_store_written_bytes_total, src/store/metrics.ts) stays the reference for Wharf's writes.

import { readFileSync, statSync } from 'node:fs';
import { readProcWriteBytes } from '../store/metrics.js';

export interface FlashWearFigures {
  /** Seconds the figures are averaged over (since the monitor started). */
  sinceSeconds: number;
  processWrittenBytes: number | null;
  /** The partition holding the data directory (M:m), null on tmpfs, overlay or off Linux. */
  device: string | null;
  deviceWrittenBytes: number | null;
  processBytesPerDay: number | null;
  deviceBytesPerDay: number | null;
  fsyncsPerSecond: number;
  /** Device bytes written per payload byte made durable (whole partition: other writers count too). */
  deviceWriteAmplification: number | null;
}

/** Field 7 of /sys/block/.../stat: sectors written, always in 512-byte units (Documentation/block/stat.rst). */
const SECTOR_BYTES = 512;

function majorMinor(dev: number): string {
  const big = BigInt(dev);
  const major = ((big >> 8n) & 0xfffn) | ((big >> 32n) & ~0xfffn);
  const minor = (big & 0xffn) | ((big >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

/** The data directory's partition as M:m, or null when it has no block device. */
export function dataDevice(dataDir: string): string | null {
  try {
    const id = majorMinor(statSync(dataDir).dev);
    return id.startsWith('0:') ? null : id;
  } catch {
    return null;
  }
}

export function readSectorsWritten(device: string | null): number | null {
  if (device === null) return null;
  try {
    const fields = readFileSync(`/sys/dev/block/${device}/stat`, 'latin1').trim().split(/\s+/);
    const sectors = Number(fields[6]);
    return Number.isFinite(sectors) ? sectors : null;
  } catch {
    return null;
  }
}

export class FlashWear {
  private readonly startedAt: number;
  private readonly device: string | null;
  private readonly procBaseline: number | undefined;
  private readonly sectorsBaseline: number | null;

  constructor(dataDir: string, now = Date.now()) {
    this.startedAt = now;
    this.device = dataDevice(dataDir);
    this.procBaseline = readProcWriteBytes();
    this.sectorsBaseline = readSectorsWritten(this.device);
  }

  /** store: the store's counters, since it opened (just before monitoring started); null while it is closed. */
  figures(store: { syncs: number; payloadBytesAccepted: number } | null, now = Date.now()): FlashWearFigures {
    const seconds = Math.max((now - this.startedAt) / 1000, 1e-3);
    const perDay = (bytes: number | null) => (bytes === null ? null : (bytes / seconds) * 86400);
    const proc = readProcWriteBytes();
    const processWrittenBytes = proc !== undefined && this.procBaseline !== undefined ? proc - this.procBaseline : null;
    const sectors = readSectorsWritten(this.device);
    const deviceWrittenBytes = sectors !== null && this.sectorsBaseline !== null ? (sectors - this.sectorsBaseline) * SECTOR_BYTES : null;
    const syncs = store?.syncs ?? 0;
    const payload = store?.payloadBytesAccepted ?? 0;
    return {
      sinceSeconds: seconds,
      processWrittenBytes,
      device: this.device,
      deviceWrittenBytes,
      processBytesPerDay: perDay(processWrittenBytes),
      deviceBytesPerDay: perDay(deviceWrittenBytes),
      fsyncsPerSecond: syncs / seconds,
      deviceWriteAmplification: deviceWrittenBytes !== null && payload > 0 ? deviceWrittenBytes / payload : null,
    };
  }
}
