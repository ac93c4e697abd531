// Space accounting for the store: refuses writes that add data before LMDB or the disk runs out, so a full
// store answers "Quota exceeded" instead of failing commits, and takes writes again once deletes make room.
//
// lmdb-js grows its memory map by itself (its patched mdb_page_alloc calls mdb_env_set_mapsize), so LMDB's own
// MDB_MAP_FULL practically never happens on 64-bit. The cap is ours: the bytes of pages holding live data
// (B-trees, overflow pages, the free list) must stay under maxUsedBytes; pages freed by deletes count as free.
//
// The free-disk reserve (minFreeDiskBytes) is what recovery runs on: removals still commit (LMDB needs a few
// new pages for them), and compaction copies the payloads that pin a mostly-dead segment out of it. Data.mdb
// never shrinks, but its free pages are reused before it grows, so they count as free space: a drained queue is
// writable again although the file stays as large as it was.

import { statfs } from 'node:fs/promises';
import { StoreFullError } from './errors.js';

/**
 * Estimated LMDB bytes per byte of key and value: B-tree leaves split half full on random inserts and every
 * page carries headers and node overhead. Only used to refuse early; the real figure is re-read after commits.
 */
const GROWTH_FACTOR = 1.5;
/**
 * Default storage.minFreeDiskBytes. Recovery must fit in it: compaction of one segment copies at most a quarter of
 * payloadSegmentBytes (16 MiB by default), and removals need a few LMDB pages. Small enough for a data partition
 * of a few hundred MiB; board profiles set their own.
 */
export const DEFAULT_MIN_FREE_DISK_BYTES = 8 * 1024 * 1024;
const DISK_POLL_MS = 1000;
/** While growing writes are refused, the disk is looked at this often, so they resume soon after space returns. */
const DISK_POLL_FULL_MS = 200;
const FULL_PROBE_BYTES = 4096;
/** A large payload, to tell whether the payload store has room (LMDB's free pages may still take records). */
const PAYLOAD_PROBE_BYTES = 64 * 1024;
/** After a commit failed for lack of space, growing writes are refused this long unless space is freed sooner. */
const RETRY_AFTER_FAILURE_MS = 5000;
/**
 * Longest the used-space figure goes unread while commits only remove data. Reading it (getStats of every
 * database) costs about as much as a small commit itself; a stream of acknowledgements commits every window.
 */
const REMEASURE_AFTER_REMOVALS_MS = 250;

export interface CapacityOptions {
  /** Cap on the bytes of live LMDB pages (storage.mapSizeBytes). */
  maxUsedBytes: number;
  /** Refuse growing writes when the data directory's file system has less free space than this. 0 = no check. */
  minFreeDiskBytes: number;
  dataDir: string;
}

export interface SpaceReading {
  /** Bytes of live LMDB pages. */
  usedBytes: number;
  /** Bytes of data.mdb up to its last allocated page (live pages plus free pages LMDB reuses). */
  fileBytes: number;
}

export class CapacityGuard {
  private used: number;
  private reusable: number;
  private pendingGrowth = 0;
  private diskFree = Number.POSITIVE_INFINITY;
  private failedAt = 0;
  private reading = false;
  private readAgain = false;
  private usedAtFailure = 0;
  private measuredAt = 0;
  private poll: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly measure: () => SpaceReading,
    /** Bytes staged for the payload store: they need disk space too, outside LMDB. */
    private readonly pendingPayloadBytes: () => number,
    private readonly options: CapacityOptions,
  ) {
    const reading = measure();
    this.used = reading.usedBytes;
    this.reusable = reading.fileBytes - reading.usedBytes;
  }

  async start(): Promise<void> {
    if (this.options.minFreeDiskBytes <= 0) return;
    this.stopped = false;
    await this.readDiskFree();
    this.schedulePoll();
  }

  stop(): void {
    this.stopped = true;
    if (this.poll !== undefined) clearTimeout(this.poll);
    this.poll = undefined;
  }

  /**
   * Bytes that housekeeping (compaction copies) may write to the disk now, the reserve included: the file
   * system's free space, read now, less what is staged for the payload store and reserved for LMDB growth.
   */
  async spareDiskBytes(): Promise<number> {
    const fs = await statfs(this.options.dataDir);
    return fs.bavail * fs.bsize - this.pendingPayloadBytes() - this.pendingGrowth * GROWTH_FACTOR;
  }

  /** Reserves room for a write adding about `bytes`; returns the error to refuse it with if there is none. */
  admit(bytes: number): StoreFullError | undefined {
    const failure = this.refusal(bytes);
    if (failure === undefined) this.pendingGrowth += bytes;
    return failure;
  }

  /** The refusal admit() would give, without reserving anything. */
  wouldRefuse(bytes: number): StoreFullError | undefined {
    return this.refusal(bytes);
  }

  /** Gives back a reservation once its write is committed or has failed. */
  release(bytes: number): void {
    this.pendingGrowth -= bytes;
    if (this.pendingGrowth < 0) this.pendingGrowth = 0;
  }

  /**
   * Re-reads the used space after a commit (and the disk's free space, without waiting for it). After a commit
   * that added nothing (`grew` false) the figure held can only be too high, which errs on the side of refusing:
   * it is re-read only while the guard refuses a one-page write, or once it is REMEASURE_AFTER_REMOVALS_MS old.
   */
  refresh(grew = true): void {
    const now = Date.now();
    if (!grew && this.failedAt === 0 && now - this.measuredAt < REMEASURE_AFTER_REMOVALS_MS && !this.full) return;
    this.measuredAt = now;
    const reading = this.measure();
    this.used = reading.usedBytes;
    this.reusable = reading.fileBytes - reading.usedBytes;
    if (this.failedAt !== 0 && this.used < this.usedAtFailure) this.failedAt = 0;
    if (this.poll !== undefined) void this.readDiskFree();
  }

  /** Space was given back to the disk (a payload segment deleted): re-read its free space now. */
  diskSpaceFreed(): void {
    if (this.poll !== undefined) void this.readDiskFree();
  }

  /** A commit failed for lack of space (ENOSPC, MDB_MAP_FULL): refuse growth until space is freed or a while. */
  markFull(): void {
    this.failedAt = Date.now();
    this.usedAtFailure = this.used;
  }

  /** True while a one-page write would be refused. */
  get full(): boolean {
    return this.refusal(FULL_PROBE_BYTES) !== undefined;
  }

  /** True while a record or a large payload would be refused: what tells compaction to run on the reserve. */
  shortOfSpace(): boolean {
    return this.full || this.refusal(FULL_PROBE_BYTES, PAYLOAD_PROBE_BYTES) !== undefined;
  }

  get usedBytes(): number {
    return this.used;
  }

  get capacityBytes(): number {
    return this.options.maxUsedBytes;
  }

  /** The refusal a write of about `bytes` (LMDB) would get, with `payloadBytes` more staged for the payload store. */
  private refusal(bytes: number, payloadBytes = 0): StoreFullError | undefined {
    if (this.failedAt !== 0) {
      if (Date.now() - this.failedAt < RETRY_AFTER_FAILURE_MS) return new StoreFullError('the last commit ran out of space');
      this.failedAt = 0;
    }
    const growth = (this.pendingGrowth + bytes) * GROWTH_FACTOR;
    if (this.used + growth > this.options.maxUsedBytes) {
      return new StoreFullError(`${this.used} of ${this.options.maxUsedBytes} bytes in use (storage.mapSizeBytes)`);
    }
    const min = this.options.minFreeDiskBytes;
    if (min <= 0) return undefined;
    // Free pages inside data.mdb are reused before the file grows, so they count as free space; staged payloads
    // need the disk itself, so LMDB's free pages never make room for them.
    const payloads = this.pendingPayloadBytes() + payloadBytes;
    const lmdbFromDisk = Math.max(0, growth - this.reusable);
    if (this.diskFree + this.reusable - growth - payloads < min || (payloads > 0 && this.diskFree - lmdbFromDisk - payloads < min)) {
      return new StoreFullError(`${this.diskFree} bytes free on the disk of ${this.options.dataDir}, ${min} kept in reserve`);
    }
    return undefined;
  }

  private schedulePoll(): void {
    if (this.stopped) return;
    this.poll = setTimeout(() => {
      void this.readDiskFree().finally(() => this.schedulePoll());
    }, this.full ? DISK_POLL_FULL_MS : DISK_POLL_MS);
    this.poll.unref();
  }

  private async readDiskFree(): Promise<void> {
    if (this.reading) {
      // A statfs already running may have started before the space came back: read once more after it.
      this.readAgain = true;
      return;
    }
    this.reading = true;
    try {
      do {
        this.readAgain = false;
        const fs = await statfs(this.options.dataDir);
        this.diskFree = fs.bavail * fs.bsize;
      } while (this.readAgain);
    } catch {
      // Keep the last figure: a failing statfs must not start refusing writes by itself.
    } finally {
      this.reading = false;
    }
  }

}
