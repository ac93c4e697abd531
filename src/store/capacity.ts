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

import { statfsSync } from 'node:fs';
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
/**
 * Between exact readings, growth is counted with this factor per byte of key and value (LMDB pages of a B-tree
 * split half full hold about 2 bytes per byte): an upper bound of the used space, a lower one of the disk's free
 * space. Reading both after every commit (getStats of every database, one statfs) cost about 13% of the main
 * thread at a window of 64 messages (issue 13); they are read exactly at most every REMEASURE_AFTER_GROWTH_MS,
 * and whenever the estimate alone would refuse a write or come near a limit.
 */
const UNMEASURED_GROWTH_FACTOR = 2;
const REMEASURE_AFTER_GROWTH_MS = 100;
/** Within this of the free-disk reserve (or 10% of the used-space cap), exact readings follow every commit. */
const NEAR_LIMIT_BYTES = 8 * 1024 * 1024;

export interface CapacityOptions {
  /** Cap on the bytes of live LMDB pages (storage.mapSizeBytes). */
  maxUsedBytes: number;
  /** Refuse growing writes when the data directory's file system has less free space than this. 0 = no check. */
  minFreeDiskBytes: number;
  dataDir: string;
  /**
   * Disk space the commit log writes over before it takes new space (CommitLog.reusableBytes), read at every
   * check rather than with the stale LMDB figures: a log write moves it at once, and log writes count as disk
   * use (diskWritten) only past it.
   */
  logReusableBytes?: () => number;
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
  /**
   * Exact used bytes when a write was last refused for the map cap with nothing left unmeasured; growth stays
   * refused until a reading is below it (a removal). Without it a store holding its messages in log records
   * (format 4, counted at their size) would take a few small writes after each refusal of a large one.
   */
  private usedAtCapRefusal = 0;
  private measuredAt = 0;
  /** Estimated LMDB growth (bytes, UNMEASURED_GROWTH_FACTOR applied) committed since `used` was measured. */
  private unmeasuredGrowth = 0;
  /** Estimated LMDB growth of writes acknowledged from the commit log and not yet in LMDB (logged()). */
  private unindexedGrowth = 0;
  /** Estimated bytes the store put on the disk (payload files, LMDB growth) since `diskFree` was read. */
  private unreadDiskUse = 0;
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
    this.measuredAt = Date.now();
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

  /**
   * A write of about `bytes` is acknowledged from the commit log: its reservation becomes committed growth that
   * LMDB does not hold yet, counted with UNMEASURED_GROWTH_FACTOR (as after an LMDB commit) until indexed().
   * An exact reading of LMDB cannot see it, so it is kept apart from unmeasuredGrowth.
   */
  logged(bytes: number): void {
    this.release(bytes);
    this.unindexedGrowth += bytes * UNMEASURED_GROWTH_FACTOR;
  }

  /** LMDB took a logged write of about `bytes` (refresh() then counts it as growth). */
  indexed(bytes: number): void {
    this.unindexedGrowth -= bytes * UNMEASURED_GROWTH_FACTOR;
    if (this.unindexedGrowth < 0) this.unindexedGrowth = 0;
  }

  /** Gives back a reservation once its write is committed or has failed. */
  release(bytes: number): void {
    this.pendingGrowth -= bytes;
    if (this.pendingGrowth < 0) this.pendingGrowth = 0;
  }

  /**
   * After a commit that added about `grownBytes` of keys and values and wrote `payloadBytes` to payload files.
   * After a commit that added nothing the figure held can only be too high, which errs on the side of refusing:
   * it is re-read only while the guard refuses a one-page write, or once it is REMEASURE_AFTER_REMOVALS_MS old.
   * Growth is added to the estimates; they are replaced by exact readings at most every
   * REMEASURE_AFTER_GROWTH_MS, after every commit near a limit, and before any refusal (refusal()).
   */
  refresh(grownBytes = 0, payloadBytes = 0): void {
    const now = Date.now();
    const growth = grownBytes * UNMEASURED_GROWTH_FACTOR;
    this.unmeasuredGrowth += growth;
    this.unreadDiskUse += growth;
    this.diskWritten(payloadBytes);
    const stale = now - this.measuredAt >= (grownBytes > 0 ? REMEASURE_AFTER_GROWTH_MS : REMEASURE_AFTER_REMOVALS_MS);
    const nearCap = this.used + this.unmeasuredGrowth + this.unindexedGrowth > this.options.maxUsedBytes - Math.min(NEAR_LIMIT_BYTES, this.options.maxUsedBytes / 10);
    if (stale || nearCap || this.failedAt !== 0 || this.full) this.measureUsed(now);
    if (this.poll !== undefined && grownBytes > 0 && this.nearDiskReserve()) void this.readDiskFree();
  }

  /**
   * The store has just written `bytes` to files outside LMDB (payload segments, the commit log). Counted at once,
   * not at the next LMDB commit: with the commit log, windows are acknowledged without one, and an index commit
   * may be a few hundred milliseconds and many megabytes of payloads away (a fill ran 20 MiB past the reserve).
   */
  diskWritten(bytes: number): void {
    if (bytes <= 0) return;
    this.unreadDiskUse += bytes;
    if (this.poll !== undefined && this.nearDiskReserve()) void this.readDiskFree();
  }

  private measureUsed(now = Date.now()): void {
    this.measuredAt = now;
    const reading = this.measure();
    this.used = reading.usedBytes;
    this.reusable = reading.fileBytes - reading.usedBytes;
    this.unmeasuredGrowth = 0;
    if (this.failedAt !== 0 && this.used < this.usedAtFailure) this.failedAt = 0;
    if (this.usedAtCapRefusal !== 0 && this.used < this.usedAtCapRefusal) this.usedAtCapRefusal = 0;
  }

  /** The disk's free space, as estimated, is within NEAR_LIMIT_BYTES of the reserve. */
  private nearDiskReserve(): boolean {
    return this.options.minFreeDiskBytes > 0 && this.diskFree - this.unreadDiskUse - this.options.minFreeDiskBytes < NEAR_LIMIT_BYTES;
  }

  /** Space was given back to the disk (a payload segment deleted): re-read its free space now. */
  diskSpaceFreed(): void {
    if (this.poll !== undefined) void this.readDiskFree();
  }

  /** A commit failed for lack of space (ENOSPC, MDB_MAP_FULL): refuse growth until space is freed or a while. */
  markFull(): void {
    // An exact figure: growth is accepted again once a commit brings the used space below it.
    this.measureUsed();
    this.failedAt = Date.now();
    this.usedAtFailure = this.used;
  }

  /**
   * True while the store is full or its estimates come within NEAR_LIMIT_BYTES (10% of a small cap) of a limit.
   * With a commit log, windows then go to LMDB directly, as without one: space that removals free counts at
   * once, and whether the store is full rests on LMDB's own figures, not on a batch still waiting in the log.
   */
  nearLimit(): boolean {
    if (this.failedAt !== 0) return true;
    const margin = Math.min(NEAR_LIMIT_BYTES, this.options.maxUsedBytes / 10);
    const growth = this.unindexedGrowth + this.pendingGrowth * GROWTH_FACTOR;
    if (this.used + this.unmeasuredGrowth + growth > this.options.maxUsedBytes - margin) return true;
    if (this.options.minFreeDiskBytes <= 0) return false;
    const diskFree = this.diskFree + this.reusable + this.logReusable() - this.unreadDiskUse - this.pendingPayloadBytes() - growth;
    return diskFree - this.options.minFreeDiskBytes < NEAR_LIMIT_BYTES;
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
    const refused = this.estimatedRefusal(bytes, payloadBytes);
    if (refused === undefined || (this.unmeasuredGrowth === 0 && this.unreadDiskUse === 0)) return refused;
    // The estimates err on the side of refusing: read exactly (a few µs, only near a limit) before refusing.
    this.measureUsed();
    if (this.options.minFreeDiskBytes > 0) {
      try {
        const fs = statfsSync(this.options.dataDir);
        this.diskFree = fs.bavail * fs.bsize;
        this.unreadDiskUse = 0;
      } catch {
        // Keep the estimate: a failing statfs must not start admitting writes by itself.
      }
    }
    return this.estimatedRefusal(bytes, payloadBytes);
  }

  private estimatedRefusal(bytes: number, payloadBytes: number): StoreFullError | undefined {
    if (this.failedAt !== 0) {
      if (Date.now() - this.failedAt < RETRY_AFTER_FAILURE_MS) return new StoreFullError('the last commit ran out of space');
      this.failedAt = 0;
    }
    const growth = (this.pendingGrowth + bytes) * GROWTH_FACTOR + this.unindexedGrowth;
    const used = this.used + this.unmeasuredGrowth;
    if (used + growth > this.options.maxUsedBytes || (this.usedAtCapRefusal !== 0 && used >= this.usedAtCapRefusal)) {
      // Refused on exact figures alone (nothing waits unmeasured or unindexed): stays so until space is freed.
      if (this.unmeasuredGrowth === 0 && this.unindexedGrowth === 0 && this.usedAtCapRefusal === 0) this.usedAtCapRefusal = this.used;
      // Records waiting in the commit log for their index count too: "in use" alone can read as nearly empty.
      const coming = Math.ceil(growth) > 0 ? ` and ${Math.ceil(growth)} more on their way` : '';
      return new StoreFullError(`${used} of ${this.options.maxUsedBytes} bytes in use${coming} (storage.mapSizeBytes)`);
    }
    const min = this.options.minFreeDiskBytes;
    if (min <= 0) return undefined;
    // Free pages inside data.mdb are reused before the file grows, so they count as free space; staged payloads
    // need the disk itself, so LMDB's free pages never make room for them.
    const payloads = this.pendingPayloadBytes() + payloadBytes;
    const lmdbFromDisk = Math.max(0, growth - this.reusable);
    const diskFree = this.diskFree - this.unreadDiskUse;
    // The log's reusable space (a walk over its files) is asked for only when the rest does not leave room: this
    // runs for every message admitted.
    const room = diskFree + this.reusable - growth - payloads;
    if ((room < min && room + this.logReusable() < min) || (payloads > 0 && diskFree - lmdbFromDisk - payloads < min)) {
      return new StoreFullError(`${diskFree} bytes free on the disk of ${this.options.dataDir}, ${min} kept in reserve`);
    }
    return undefined;
  }

  private logReusable(): number {
    return this.options.logReusableBytes?.() ?? 0;
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
        // What the store writes while statfs runs may or may not be in its figure: keep counting it.
        const counted = this.unreadDiskUse;
        const fs = await statfs(this.options.dataDir);
        this.diskFree = fs.bavail * fs.bsize;
        this.unreadDiskUse = Math.max(0, this.unreadDiskUse - counted);
      } while (this.readAgain);
    } catch {
      // Keep the last figure: a failing statfs must not start refusing writes by itself.
    } finally {
      this.reading = false;
    }
  }

}
