// Payload store over plain append-only segment files in <dataDir>/payloads/: the TypeScript reference
// implementation of PayloadStore, and the fallback where the native store is not available.

import { mkdir, open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PayloadCorruptError, StoreFullError } from '../errors.js';
import { crc32 } from './crc32.js';
import type { PayloadRef, PayloadStore, ReconcileReport } from './payload-store.js';
import {
  FILE_HEADER_BYTES,
  RECORD_HEADER_BYTES,
  checkRecord,
  createSegmentFile,
  encodeFileHeader,
  encodeRecordHeader,
  findValidEnd,
  parseSegmentFileName,
  segmentFileName,
  syncDirectory,
} from './segment-format.js';

export interface FilePayloadStoreOptions {
  /** A segment is sealed and a new one started once it holds this many bytes. */
  segmentMaxBytes?: number;
  /** Cap on the bytes of all segment files; appends beyond it throw StoreFullError. 0 = no cap. */
  maxBytes?: number;
}

interface Segment {
  readonly id: number;
  readonly path: string;
  /** End of the last reserved record (staged or written). */
  size: number;
  /** End of the data made durable by a flush (or found on open). */
  durableSize: number;
  /** Live payloads: record offset -> number of owners. */
  readonly live: Map<number, number>;
  handle: Promise<FileHandle> | undefined;
  created: boolean;
}

/** Records staged for one segment: contiguous, written with one vectored write. */
interface StagedRun {
  segment: Segment;
  position: number;
  buffers: Buffer[];
  bytes: number;
}

const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;

export class FilePayloadStore implements PayloadStore {
  private readonly segments = new Map<number, Segment>();
  private active: Segment | undefined;
  private nextId: number;
  private staged: StagedRun[] = [];
  private stagedBytes = 0;
  /** Runs being written by the current flush (still readable from memory until durable). */
  private flushingRuns: StagedRun[] = [];
  private flushChain: Promise<unknown> = Promise.resolve();
  private readonly deletions = new Set<Promise<void>>();
  private readonly segmentMaxBytes: number;
  private readonly maxBytes: number;

  private constructor(
    private readonly dir: string,
    options: FilePayloadStoreOptions,
    existing: Segment[],
  ) {
    this.segmentMaxBytes = options.segmentMaxBytes ?? DEFAULT_SEGMENT_BYTES;
    this.maxBytes = options.maxBytes ?? 0;
    for (const segment of existing) this.segments.set(segment.id, segment);
    this.nextId = existing.reduce((max, s) => Math.max(max, s.id), 0) + 1;
  }

  /** Opens (creating) the directory; existing segments are sealed, new payloads go to a new segment. */
  static async open(dir: string, options: FilePayloadStoreOptions = {}): Promise<FilePayloadStore> {
    if ((await mkdir(dir, { recursive: true })) !== undefined) await syncDirectory(dirname(dir));
    const existing: Segment[] = [];
    for (const name of await readdir(dir)) {
      const id = parseSegmentFileName(name);
      if (id === undefined) continue;
      const path = join(dir, name);
      const handle = await open(path, 'r+');
      const { size } = await handle.stat();
      existing.push({ id, path, size, durableSize: size, live: new Map(), handle: Promise.resolve(handle), created: true });
    }
    return new FilePayloadStore(dir, options, existing);
  }

  append(payload: Buffer): PayloadRef {
    const recordBytes = RECORD_HEADER_BYTES + payload.length;
    if (this.maxBytes > 0 && this.diskBytes() + recordBytes > this.maxBytes) {
      throw new StoreFullError(`payload store cap of ${this.maxBytes} bytes reached`);
    }
    let segment = this.active;
    if (segment === undefined || (segment.size > FILE_HEADER_BYTES && segment.size + recordBytes > this.segmentMaxBytes)) {
      segment = this.startSegment();
    }
    const checksum = crc32(payload);
    const position = segment.size;
    let run = this.staged[this.staged.length - 1];
    if (run === undefined || run.segment !== segment) {
      run = { segment, position, buffers: [], bytes: 0 };
      this.staged.push(run);
    }
    run.buffers.push(encodeRecordHeader(payload.length, checksum), payload);
    run.bytes += recordBytes;
    segment.size += recordBytes;
    segment.live.set(position, 1);
    this.stagedBytes += recordBytes;
    return { segment: segment.id, offset: position, length: payload.length, checksum };
  }

  addRef(ref: PayloadRef): boolean {
    const live = this.segments.get(ref.segment)?.live;
    const owners = live?.get(ref.offset);
    if (live === undefined || owners === undefined) return false;
    live.set(ref.offset, owners + 1);
    return true;
  }

  pendingBytes(): number {
    return this.stagedBytes;
  }

  diskBytes(): number {
    let total = 0;
    for (const segment of this.segments.values()) total += segment.size;
    return total;
  }

  flush(): Promise<number> {
    const runs = this.staged;
    if (runs.length === 0) return Promise.resolve(0);
    this.staged = [];
    this.stagedBytes = 0;
    // Flushes run one after another: a segment's file must exist before a later run appends to it.
    const result = this.flushChain.then(async () => {
      this.flushingRuns = runs;
      try {
        return await this.writeRuns(runs);
      } finally {
        this.flushingRuns = [];
      }
    });
    this.flushChain = result.catch(() => undefined);
    return result;
  }

  async read(ref: PayloadRef): Promise<Buffer> {
    const segment = this.segments.get(ref.segment);
    if (segment === undefined) throw new PayloadCorruptError(`segment ${ref.segment} does not exist`);
    const stagedCopy = this.findStaged(segment, ref);
    if (stagedCopy !== undefined) return stagedCopy;
    const record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + ref.length);
    const handle = await this.handleOf(segment);
    const { bytesRead } = await handle.read(record, 0, record.length, ref.offset);
    const problem = checkRecord(record.subarray(0, bytesRead), ref.length, ref.checksum);
    if (problem !== undefined) {
      throw new PayloadCorruptError(`${problem} at ${segment.path} offset ${ref.offset}`);
    }
    return record.subarray(RECORD_HEADER_BYTES);
  }

  free(ref: PayloadRef): void {
    const segment = this.segments.get(ref.segment);
    const owners = segment?.live.get(ref.offset);
    if (segment === undefined || owners === undefined) return;
    if (owners > 1) {
      segment.live.set(ref.offset, owners - 1);
      return;
    }
    segment.live.delete(ref.offset);
    if (segment.live.size === 0 && segment !== this.active) this.deleteSegment(segment);
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
      segment.live.set(ref.offset, (segment.live.get(ref.offset) ?? 0) + 1);
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
      const handle = await this.handleOf(newest);
      report.tornTail = (await findValidEnd(handle, keepEnd, newest.durableSize)) < newest.durableSize;
      if (keepEnd < newest.durableSize) {
        await handle.truncate(keepEnd);
        await handle.datasync();
        report.tailBytesTruncated = newest.durableSize - keepEnd;
        newest.size = newest.durableSize = keepEnd;
      }
    }
    return report;
  }

  async close(): Promise<void> {
    await this.flushChain;
    await Promise.all(this.deletions);
    for (const segment of this.segments.values()) {
      const handle = segment.handle;
      segment.handle = undefined;
      if (handle !== undefined) await (await handle).close();
    }
  }

  private startSegment(): Segment {
    const previous = this.active;
    const id = this.nextId++;
    const segment: Segment = {
      id,
      path: join(this.dir, segmentFileName(id)),
      size: FILE_HEADER_BYTES,
      durableSize: 0,
      live: new Map(),
      handle: undefined,
      created: false,
    };
    this.segments.set(id, segment);
    this.active = segment;
    if (previous !== undefined && previous.live.size === 0) this.deleteSegment(previous);
    return segment;
  }

  private async writeRuns(runs: StagedRun[]): Promise<number> {
    let written = 0;
    for (const run of runs) {
      const segment = run.segment;
      if (!this.segments.has(segment.id)) continue; // every payload of it was freed before the flush
      const handle = await this.handleOf(segment);
      if (run.position === FILE_HEADER_BYTES && segment.durableSize === 0) {
        await handle.writev([encodeFileHeader(segment.id), ...run.buffers], 0);
        written += FILE_HEADER_BYTES;
      } else {
        await handle.writev(run.buffers, run.position);
      }
      await handle.datasync();
      written += run.bytes;
      segment.durableSize = Math.max(segment.durableSize, run.position + run.bytes);
    }
    return written;
  }

  /** Opens a segment's file once; a new file's directory entry is fsync'd so it survives a power cut. */
  private handleOf(segment: Segment): Promise<FileHandle> {
    segment.handle ??= segment.created
      ? open(segment.path, 'r+')
      : createSegmentFile(this.dir, segment.path).then((handle) => ((segment.created = true), handle));
    return segment.handle;
  }

  private findStaged(segment: Segment, ref: PayloadRef): Buffer | undefined {
    if (ref.offset + RECORD_HEADER_BYTES + ref.length <= segment.durableSize) return undefined;
    for (const run of [...this.flushingRuns, ...this.staged]) {
      if (run.segment !== segment) continue;
      let position = run.position;
      for (let i = 0; i < run.buffers.length; i += 2) {
        const payload = run.buffers[i + 1]!;
        if (position === ref.offset) return Buffer.from(payload);
        position += RECORD_HEADER_BYTES + payload.length;
      }
    }
    return undefined;
  }

  private deleteSegment(segment: Segment): void {
    this.segments.delete(segment.id);
    // After any flush in progress: it may still be writing to this file.
    const deletion = this.flushChain.then(async () => {
      const handle = segment.handle;
      segment.handle = undefined;
      if (handle !== undefined) await (await handle).close().catch(() => undefined);
      if (segment.created) await unlink(segment.path).catch(() => undefined);
    });
    this.deletions.add(deletion);
    void deletion.finally(() => this.deletions.delete(deletion));
  }
}
