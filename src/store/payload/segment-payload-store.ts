// The payload store's bookkeeping over append-only segment files in <dataDir>/payloads/: which payloads are live
// and how many records own each, staging and flushing a commit window's appends, segment rotation and deletion
// (the active segment's too, once it holds nothing live), recovery after a crash, and the payload side of compaction. File access is a SegmentIo: the native addon
// (zero-copy reads) or plain file I/O (the fallback); both write the same files.

import { mkdir, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PayloadCorruptError, StoreFullError } from '../errors.js';
import { crc32 } from './crc32.js';
import type { PayloadRef, PayloadStore, ReconcileReport } from './payload-store.js';
import type { SegmentFile, SegmentIo } from './segment-io.js';
import { StagedRuns, type StagedRun } from './staged-runs.js';
import {
  FILE_HEADER_BYTES,
  RECORD_HEADER_BYTES,
  checkRecord,
  encodeFileHeader,
  findValidEnd,
  parseSegmentFileName,
  segmentFileName,
  syncDirectory,
} from './segment-format.js';

export interface SegmentPayloadStoreOptions {
  /** A segment is sealed and a new one started once it holds this many bytes. */
  segmentMaxBytes?: number;
  /** Cap on the bytes of all segment files; appends beyond it throw StoreFullError. 0 = no cap. */
  maxBytes?: number;
  /** Called after a segment file was deleted: the disk has more free space now (the capacity guard re-reads it). */
  onSegmentDeleted?: () => void;
}

/** A live payload: how many records own it, and its length (for the segment's live bytes). */
interface Live {
  owners: number;
  readonly length: number;
}

interface Segment {
  readonly id: number;
  readonly path: string;
  /** End of the last reserved record (staged or written), padding included. */
  size: number;
  /** End of the data made durable by a flush (or found on open). */
  durableSize: number;
  /** Live payloads by record offset. */
  readonly live: Map<number, Live>;
  /** Bytes of the live payloads' records (headers included): what compaction would have to copy. */
  liveBytes: number;
  file: Promise<SegmentFile> | undefined;
  created: boolean;
  /** Being compacted: its payloads take no new owners until the compaction ends. */
  compacting: boolean;
}

export const DEFAULT_SEGMENT_BYTES = 16 * 1024 * 1024;
/**
 * An active segment whose payloads are all dead is sealed and deleted (the next payload starts a new file), so a
 * drained store gives its disk space back without waiting for the segment to fill up. At this size at once: a new
 * file (create + directory fsync) per megabyte written at most costs next to nothing.
 */
const RECLAIM_AT_ONCE_BYTES = 1024 * 1024;
/**
 * A smaller all-dead active segment goes after this pause instead, so a consumer that keeps up with a slow
 * publisher does not cost a new file per message while a burst goes on; its space still returns within a second.
 */
export const ACTIVE_RECLAIM_DELAY_MS = 250;
/** A mostly-dead active segment is sealed for compaction once it holds this share of segmentMaxBytes. */
const ACTIVE_COMPACTION_SHARE = 0.25;

export class SegmentPayloadStore implements PayloadStore {
  private readonly segments = new Map<number, Segment>();
  private active: Segment | undefined;
  private nextId: number;
  private readonly staged = new StagedRuns<Segment>();
  private flushChain: Promise<unknown> = Promise.resolve();
  private readonly deletions = new Set<Promise<void>>();
  private readonly segmentMaxBytes: number;
  private readonly maxBytes: number;
  private reclaimTimer: NodeJS.Timeout | undefined;
  private readonly onSegmentDeleted: (() => void) | undefined;

  protected constructor(
    private readonly dir: string,
    private readonly io: SegmentIo,
    options: SegmentPayloadStoreOptions,
    existing: Segment[],
  ) {
    this.segmentMaxBytes = options.segmentMaxBytes ?? DEFAULT_SEGMENT_BYTES;
    this.maxBytes = options.maxBytes ?? 0;
    this.onSegmentDeleted = options.onSegmentDeleted;
    for (const segment of existing) this.segments.set(segment.id, segment);
    this.nextId = existing.reduce((max, s) => Math.max(max, s.id), 0) + 1;
  }

  get kind(): 'native' | 'js' {
    return this.io.kind;
  }

  /** Opens (creating) the directory; existing segments are sealed, new payloads go to a new segment. */
  static async openWith(dir: string, io: SegmentIo, options: SegmentPayloadStoreOptions = {}): Promise<SegmentPayloadStore> {
    if ((await mkdir(dir, { recursive: true })) !== undefined) await syncDirectory(dirname(dir));
    const existing: Segment[] = [];
    for (const name of await readdir(dir)) {
      const id = parseSegmentFileName(name);
      if (id === undefined) continue;
      const path = join(dir, name);
      const file = await io.open(path);
      const size = await file.size();
      existing.push({ id, path, size, durableSize: size, live: new Map(), liveBytes: 0, file: Promise.resolve(file), created: true, compacting: false });
    }
    return new SegmentPayloadStore(dir, io, options, existing);
  }

  append(payload: Buffer): PayloadRef {
    const recordBytes = RECORD_HEADER_BYTES + payload.length;
    if (this.maxBytes > 0 && this.diskBytes() + recordBytes > this.maxBytes) {
      throw new StoreFullError(`payload store cap of ${this.maxBytes} bytes reached`);
    }
    return this.stage(payload, crc32(payload));
  }

  addRef(ref: PayloadRef): boolean {
    const segment = this.segments.get(ref.segment);
    const live = segment?.live.get(ref.offset);
    if (segment === undefined || live === undefined || segment.compacting) return false;
    live.owners++;
    return true;
  }

  owners(ref: PayloadRef): number {
    return this.segments.get(ref.segment)?.live.get(ref.offset)?.owners ?? 0;
  }

  pendingBytes(): number {
    // Until a flush returns, its bytes are the caller's to count as staged; after it, as written (its result).
    return this.staged.bytes + this.staged.takenBytes;
  }

  diskBytes(): number {
    let total = 0;
    for (const segment of this.segments.values()) total += segment.size;
    return total;
  }

  flush(): Promise<number> {
    const runs = this.staged.take(this.active);
    if (runs.length === 0) return Promise.resolve(0);
    // Flushes run one after another: a segment's file must exist before a later run appends to it.
    const result = this.flushChain.then(async () => {
      this.staged.setFlushing(runs);
      try {
        return await this.writeRuns(runs);
      } finally {
        this.staged.setFlushing([]);
        this.staged.finished(runs);
      }
    });
    this.flushChain = result.catch(() => undefined);
    return result;
  }

  async read(ref: PayloadRef): Promise<Buffer> {
    const segment = this.segments.get(ref.segment);
    if (segment === undefined) throw new PayloadCorruptError(`segment ${ref.segment} does not exist`);
    const stagedCopy = this.staged.find(segment, ref.offset, ref.length);
    if (stagedCopy !== undefined) return stagedCopy;
    const file = await this.fileOf(segment);
    const record = await file.read(ref.offset, RECORD_HEADER_BYTES + ref.length);
    const problem = checkRecord(record, ref.length, ref.checksum);
    if (problem !== undefined) {
      throw new PayloadCorruptError(`${problem} at ${segment.path} offset ${ref.offset}`);
    }
    return record.subarray(RECORD_HEADER_BYTES);
  }

  free(ref: PayloadRef): void {
    const segment = this.segments.get(ref.segment);
    const live = segment?.live.get(ref.offset);
    if (segment === undefined || live === undefined) return;
    if (live.owners > 1) {
      live.owners--;
      return;
    }
    this.dropLive(segment, ref.offset, live);
  }

  async reconcile(liveRefs: Iterable<PayloadRef>): Promise<ReconcileReport> {
    const report: ReconcileReport = { segmentsDeleted: 0, tailBytesTruncated: 0, tornTail: false, missingRefs: 0 };
    const liveEnd = new Map<Segment, number>();
    for (const ref of liveRefs) {
      const segment = this.segments.get(ref.segment);
      const end = ref.offset + RECORD_HEADER_BYTES + ref.length;
      if (segment === undefined || segment === this.active || end > segment.durableSize) {
        report.missingRefs++;
        continue;
      }
      const live = segment.live.get(ref.offset);
      if (live !== undefined) live.owners++;
      else {
        segment.live.set(ref.offset, { owners: 1, length: ref.length });
        segment.liveBytes += RECORD_HEADER_BYTES + ref.length;
      }
      liveEnd.set(segment, Math.max(liveEnd.get(segment) ?? 0, end));
    }
    let newest: Segment | undefined;
    for (const segment of [...this.segments.values()]) {
      if (segment === this.active) continue;
      if (segment.live.size === 0) {
        this.deleteSegment(segment);
        report.segmentsDeleted++;
      } else if (newest === undefined || segment.id > newest.id) {
        newest = segment;
      }
    }
    await Promise.all(this.deletions);
    // Only the newest segment can end in a torn write or in payloads of a window whose commit never happened:
    // cut it back to the end of its last referenced record, never before it.
    if (newest !== undefined) {
      const keepEnd = liveEnd.get(newest)!;
      const file = await this.fileOf(newest);
      const readAt = (position: number, length: number): Promise<Buffer> => file.read(position, length);
      report.tornTail = (await findValidEnd(readAt, keepEnd, newest.durableSize)) < newest.durableSize;
      if (keepEnd < newest.durableSize) {
        await file.truncate(keepEnd);
        report.tailBytesTruncated = newest.durableSize - keepEnd;
        newest.size = newest.durableSize = keepEnd;
      }
    }
    return report;
  }

  beginCompaction(ratio: number, maxLiveBytes: number, shortOfSpace = false): number[] {
    const active = this.active;
    if (
      shortOfSpace &&
      active !== undefined &&
      active.created &&
      active.live.size > 0 &&
      active.size >= ACTIVE_COMPACTION_SHARE * this.segmentMaxBytes &&
      active.liveBytes < ratio * active.size
    ) {
      // A few payloads still live (deliveries a consumer holds, say) would otherwise pin the whole active segment
      // until it filled up, which a full disk never lets happen: sealed, it is compacted like any other. Only
      // then: with room to spare, the segment fills up and rotates, and copying its backlog would be wasted.
      this.sealActive();
    }
    const picked: number[] = [];
    let bytes = 0;
    const sealed = [...this.segments.values()].filter((s) => s !== this.active && !s.compacting && s.created && s.live.size > 0);
    sealed.sort((a, b) => a.id - b.id);
    for (const segment of sealed) {
      if (segment.liveBytes >= ratio * segment.size) continue;
      if (shortOfSpace && bytes + segment.liveBytes > maxLiveBytes) continue;
      if (picked.length > 0 && bytes + segment.liveBytes > maxLiveBytes) break;
      segment.compacting = true;
      picked.push(segment.id);
      bytes += segment.liveBytes;
    }
    return picked;
  }

  async copyForward(ref: PayloadRef): Promise<PayloadRef> {
    if (this.owners(ref) === 0) throw new PayloadCorruptError(`payload at segment ${ref.segment} offset ${ref.offset} is not live`);
    // Not capped by maxBytes: compaction is what gives the space back. The read verified the checksum.
    return this.stage(await this.read(ref), ref.checksum);
  }

  moveOwners(from: PayloadRef, to: PayloadRef, owners: number): void {
    if (owners === 0) {
      this.free(to);
      return;
    }
    const copy = this.segments.get(to.segment)?.live.get(to.offset);
    if (copy === undefined) throw new Error(`copy at segment ${to.segment} offset ${to.offset} is not live`);
    copy.owners = owners;
    const segment = this.segments.get(from.segment);
    const live = segment?.live.get(from.offset);
    if (segment !== undefined && live !== undefined) this.dropLive(segment, from.offset, live);
  }

  endCompaction(segments: readonly number[]): void {
    for (const id of segments) {
      const segment = this.segments.get(id);
      if (segment !== undefined) segment.compacting = false;
    }
  }

  async close(): Promise<void> {
    if (this.reclaimTimer !== undefined) clearTimeout(this.reclaimTimer);
    this.reclaimTimer = undefined;
    await this.flushChain;
    await Promise.all(this.deletions);
    for (const segment of this.segments.values()) {
      const file = segment.file;
      segment.file = undefined;
      if (file !== undefined) await (await file).close(false);
    }
  }

  /** Reserves the payload's record in the active segment and stages it for the next flush. */
  private stage(payload: Buffer, checksum: number): PayloadRef {
    const recordBytes = RECORD_HEADER_BYTES + payload.length;
    let segment = this.active;
    if (segment === undefined || (segment.size > FILE_HEADER_BYTES && segment.size + recordBytes > this.segmentMaxBytes)) {
      segment = this.startSegment();
    }
    const position = this.staged.add(segment, payload, checksum);
    segment.live.set(position, { owners: 1, length: payload.length });
    segment.liveBytes += recordBytes;
    return { segment: segment.id, offset: position, length: payload.length, checksum };
  }

  private dropLive(segment: Segment, offset: number, live: Live): void {
    segment.live.delete(offset);
    segment.liveBytes -= RECORD_HEADER_BYTES + live.length;
    if (segment.live.size > 0) return;
    if (segment !== this.active) this.deleteSegment(segment);
    else if (segment.size >= Math.min(RECLAIM_AT_ONCE_BYTES, this.segmentMaxBytes)) this.reclaimActive();
    else this.reclaimTimer ??= setTimeout(this.reclaimActive, ACTIVE_RECLAIM_DELAY_MS).unref();
  }

  /** Deletes the active segment if nothing in it is live (any more); the next payload starts a new one. */
  private readonly reclaimActive = (): void => {
    const segment = this.active;
    if (segment === undefined || segment.live.size > 0 || segment.size <= FILE_HEADER_BYTES) return;
    this.sealActive();
    this.deleteSegment(segment);
  };

  /** The active segment takes no more payloads: the next one starts a new segment. */
  private sealActive(): void {
    this.active = undefined;
    if (this.reclaimTimer !== undefined) clearTimeout(this.reclaimTimer);
    this.reclaimTimer = undefined;
  }

  private startSegment(): Segment {
    const previous = this.active;
    this.sealActive();
    const id = this.nextId++;
    const segment: Segment = {
      id,
      path: join(this.dir, segmentFileName(id)),
      size: FILE_HEADER_BYTES,
      durableSize: 0,
      live: new Map(),
      liveBytes: 0,
      file: undefined,
      created: false,
      compacting: false,
    };
    this.segments.set(id, segment);
    this.active = segment;
    if (previous !== undefined && previous.live.size === 0) this.deleteSegment(previous);
    return segment;
  }

  private async writeRuns(runs: StagedRun<Segment>[]): Promise<number> {
    let written = 0;
    for (const run of runs) {
      const segment = run.segment;
      if (!this.segments.has(segment.id)) continue; // every payload of it was freed before the flush
      const file = await this.fileOf(segment);
      const buffers = run.pad === undefined ? run.buffers : [...run.buffers, run.pad];
      const bytes = run.bytes + (run.pad?.length ?? 0);
      if (run.position === FILE_HEADER_BYTES && segment.durableSize === 0) {
        await file.write([encodeFileHeader(segment.id), ...buffers], 0);
        written += FILE_HEADER_BYTES;
      } else {
        await file.write(buffers, run.position);
      }
      written += bytes;
      segment.durableSize = Math.max(segment.durableSize, run.position + bytes);
    }
    return written;
  }

  /** Opens a segment's file once; a new file's directory entry is fsync'd so it survives a power cut. */
  private fileOf(segment: Segment): Promise<SegmentFile> {
    segment.file ??= segment.created
      ? this.io.open(segment.path)
      : this.io.create(this.dir, segment.path).then((file) => ((segment.created = true), file));
    return segment.file;
  }

  private deleteSegment(segment: Segment): void {
    this.segments.delete(segment.id);
    // After any flush in progress: it may still be writing to this file.
    const deletion = this.flushChain.then(async () => {
      const file = segment.file;
      segment.file = undefined;
      try {
        if (file !== undefined) await (await file).close(true);
        else if (segment.created) await (await this.io.open(segment.path)).close(true);
      } catch {
        // A file that cannot be opened or removed now is unreferenced: the next open's reconcile deletes it.
      }
    });
    this.deletions.add(deletion);
    void deletion.finally(() => {
      this.deletions.delete(deletion);
      this.onSegmentDeleted?.();
    });
  }
}
