// The commit log: the durable record of every logged write operation. A commit window's operations are
// appended as records with one vectored write and one fdatasync (data only: no LMDB page, no meta page), and
// the window is acknowledged after that. LMDB receives the same operations later, in large batches, with the
// LSN they cover (the checkpoint); open replays the records after the checkpoint. Since store format 4 the log
// also holds the messages of small appends: LMDB keeps only an index entry with a reference to the record
// (LogRef), so a file is kept while any such record is live (counted like payload owners), and released (reused
// or deleted) once its records are all covered by a checkpoint and none is live. log-compactor.ts moves the few
// live records of mostly-dead files forward.

import { mkdir, readdir, readFile, rename, statfs, unlink } from 'node:fs/promises';
import { Packr } from 'msgpackr';
import { dirname, join } from 'node:path';
import { fileSegmentIo } from '../payload/file-segment-io.js';
import { syncDirectory } from '../payload/segment-format.js';
import type { SegmentFile, SegmentIo } from '../payload/segment-io.js';
import { PayloadCorruptError } from '../errors.js';
import { LOG_HEADER_BYTES, checkLogRecord, encodeLogRecords, logFileName, parseLogFileName, scanLogFile, type ScannedRecord } from './log-format.js';
import type { LogEntry } from './log-entry.js';
import { EntryEncoder } from './entry-encoder.js';
import { writeZeros } from './log-preallocate.js';
import { StringTable, isStringTableBody, stringTableEntry } from './log-strings.js';

export const DEFAULT_LOG_FILE_BYTES = 8 * 1024 * 1024;
/**
 * Covered files kept for reuse. A reused file is renamed to its new number and written over from the start: its
 * blocks are allocated and its size does not change, so an fdatasync flushes data only, with no ext4 journal
 * commit for block allocation and file size (measured: 1.39 bytes at the device per byte appended to a growing
 * file with an fdatasync per 20 KiB, 1.11 when overwriting). The old records left in it carry the old file number,
 * which ends the scan.
 */
const SPARE_FILES = 2;
/**
 * Share of the file being written from which the next one is prepared (log-preallocate.ts) if no whole spare is
 * ready: early, before RECLAIM_ACTIVE_BYTES, since a covered file (records all dead or in LMDB) is sealed from
 * there on and the next one is needed at once; a spare released meanwhile ends the preparation.
 */
const PREPARE_AHEAD_AT = 1 / 16;
/** A file is prepared only while the disk has its size, the store's reserve and this much more free. */
const PREPARE_HEADROOM_BYTES = 8 * 1024 * 1024;
/**
 * While a backlog holds the log's files (holdsBacklog), a new file is prepared only if the log's writes average
 * less than this. Appending costs an ext4 journal commit per fdatasync, about this many bytes at the disk
 * (scenario 13: 1.8 disk bytes per payload byte appending 20 KiB windows, 1.44 in the store's own count); zeros
 * cost the file's size once. Windows of 64 messages (~20 KiB) append: zeros first gave 2.9 instead of 1.8.
 * Windows of one message (one 4 KiB page) are cheaper, and their fdatasync shorter, over zeros.
 */
const JOURNAL_BREAK_EVEN_BYTES = 8 * 1024;
/** Weight of the newest write in averageWriteBytes. */
const WRITE_AVERAGE_WEIGHT = 1 / 16;
/** A file being written whose records are all dead is sealed and released from this size on (sealDeadActive). */
const RECLAIM_ACTIVE_BYTES = 1024 * 1024;
/** Records of one file within this span are read with one read (readMany). */
const SPAN_READ_BYTES = 256 * 1024;
const NO_STRINGS: readonly string[] = [];
const NO_BODIES: readonly Buffer[] = [];
const NO_ENDS: readonly number[] = [];
const EMPTY = Buffer.alloc(0);
const entryPackr = new Packr({ useRecords: false });

interface LogFile {
  readonly id: number;
  readonly path: string;
  /** Highest LSN written to (or found in) the file; 0 if none. */
  maxLsn: number;
  /** Bytes of the file (written so far, or found on open). */
  size: number;
  /** Bytes the file takes on the disk: a reused file keeps its old length until written past it. */
  diskSize: number;
  /** Records LMDB index entries refer to (each has one owner), and their bytes, headers included. */
  live: number;
  liveBytes: number;
  /** Opened for reads of live records (not the file being written). */
  reader: Promise<SegmentFile> | undefined;
  /** Being compacted: its records are being copied forward. */
  compacting: boolean;
  /** Topics and origins its records name by number (log-strings.ts). */
  strings: StringTable;
}

/** The file being written. */
interface ActiveFile {
  file: LogFile;
  handle: SegmentFile;
  position: number;
}

/** Where a record is: file number, offset of its header, body length. An LMDB index entry holds it. */
export interface LogRef {
  readonly file: number;
  readonly offset: number;
  readonly length: number;
}

/** A LogRef as stored in an LMDB index entry: [file, offset, length] (its first element is a number). */
export type StoredLogRef = [number, number, number];

export function packLogRef(ref: LogRef): StoredLogRef {
  return [ref.file, ref.offset, ref.length];
}

export function unpackLogRef(stored: StoredLogRef): LogRef {
  return { file: stored[0], offset: stored[1], length: stored[2] };
}

/** A record found on open, with where it is (an append replayed from it refers to it). */
export interface FoundRecord extends ScannedRecord {
  file: number;
}

export interface LogWrite {
  /** LSN of the last record written. */
  lastLsn: number;
  /** Bytes written, padding included. */
  bytes: number;
  /** Bytes of the records (headers and bodies), padding not included. */
  recordBytes: number;
  /** Where each body went, in order. */
  refs: LogRef[];
  /** Bytes written past the file's previous length on the disk (the rest wrote over a reused file's blocks). */
  newDiskBytes: number;
}

/** A sealed, covered log file with few live records (log-compactor.ts). */
export interface LogFileUsage {
  file: number;
  size: number;
  live: number;
  liveBytes: number;
}

/** What the store gives the log so that it prepares its next file ahead (CommitLog.preparation). */
export interface LogPreparation {
  /** Whether a file may be prepared now (the store: not near a space limit). Checked before each chunk. */
  allowed(): boolean;
  /** The store's free-disk reserve (storage.minFreeDiskBytes). */
  minFreeDiskBytes: number;
  /**
   * A chunk took `bytes` of new disk space (disk use until the next statfs, like a log write past a file's end);
   * `prepared` bytes of the file are now written and durable.
   */
  written(bytes: number, prepared: number): void;
}

/** The file being prepared: a new one, or a short spare being extended. */
interface Preparing {
  readonly file: LogFile;
  /** Set by startFile (taking it as it is) and close(): ends it after the chunk in progress. */
  stop: boolean;
  taken: boolean;
  /** The file is on the disk (created, or a spare). */
  exists: boolean;
  done: Promise<void>;
}

export class CommitLog {
  private readonly files: LogFile[] = [];
  private readonly spares: LogFile[] = [];
  private active: ActiveFile | undefined;
  /** Encodes writeEntries' bodies (one at a time: each is copied out before its write's first await). */
  private readonly encoder = new EntryEncoder();
  private nextLsn = 1;
  private nextFileId: number;
  private found: FoundRecord[] = [];
  private closed = false;
  /** Highest checkpoint LMDB holds (release()): files at or below it may go once nothing in them is live. */
  private checkpoint = 0;
  private releasing: Promise<void> = Promise.resolve();
  /** Called after log files were released (deleted, or kept for reuse: space the log writes over first). */
  onFilesReleased: () => void = () => undefined;
  /** Disk bytes of the spare startFile() is turning into the file being written (reusable until it is). */
  private takingBytes = 0;
  /** The write in progress, if any: a file sealed meanwhile is closed after it. */
  private writing: Promise<unknown> | undefined;
  /** Set by the store (commitLog on): the next file is then prepared ahead (prepareAhead). Tests leave it unset. */
  preparation: LogPreparation | undefined;
  private preparing: Preparing | undefined;
  /** A preparation failed or found too little disk: none again until the next file is started. */
  private prepareRefused = false;
  /** Bytes per write() (padding included), averaged with weight WRITE_AVERAGE_WEIGHT for the newest. */
  private averageWriteBytes = 0;

  private constructor(
    private readonly dir: string,
    private readonly fileMaxBytes: number,
    private readonly io: SegmentIo,
    existing: LogFile[],
  ) {
    this.files.push(...existing);
    this.nextFileId = existing.reduce((max, f) => Math.max(max, f.id), 0) + 1;
  }

  /** Opens (creating) the log directory and reads every file's valid records. */
  /** `io`: the payload store's file access (the addon does the write and the fdatasync in one worker job). */
  /** `keepAfter`: LMDB's checkpoint; records at or below it are not kept in memory (no replay needs them). */
  static async open(dir: string, create: boolean, io: SegmentIo = fileSegmentIo, fileMaxBytes = DEFAULT_LOG_FILE_BYTES, keepAfter = 0): Promise<CommitLog> {
    if (create && (await mkdir(dir, { recursive: true })) !== undefined) await syncDirectory(dirname(dir));
    const existing: LogFile[] = [];
    const found: FoundRecord[] = [];
    const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' && !create) return [] as string[];
      throw err;
    });
    const ids = names.map(parseLogFileName).filter((id): id is number => id !== undefined);
    for (const id of ids.sort((a, b) => a - b)) {
      const path = join(dir, logFileName(id));
      const data = await readFile(path);
      const { records, maxLsn, alsoKept } = scanLogFile(id, data, keepAfter, isStringTableBody);
      const strings = new StringTable();
      for (const body of alsoKept) strings.load(entryPackr.unpack(body) as LogEntry);
      existing.push({ id, path, maxLsn, size: data.length, diskSize: data.length, live: 0, liveBytes: 0, reader: undefined, compacting: false, strings });
      for (const record of records) {
        if (isStringTableBody(record.body)) strings.load(entryPackr.unpack(record.body) as LogEntry);
        found.push({ ...record, file: id });
      }
    }
    const log = new CommitLog(dir, fileMaxBytes, io, existing);
    log.found = found;
    return log;
  }

  /**
   * The records to replay over a checkpoint: those with LSNs checkpoint+1, +2, … in file order, up to the first
   * gap (what follows a gap was never acknowledged). Later writes continue after the last of them.
   */
  recordsAfter(checkpoint: number): FoundRecord[] {
    const replay: FoundRecord[] = [];
    let expected = checkpoint + 1;
    for (const record of this.found) {
      if (record.lsn <= checkpoint) continue;
      if (record.lsn !== expected) break;
      replay.push(record);
      expected++;
    }
    const highest = this.files.reduce((max, f) => Math.max(max, f.maxLsn), checkpoint);
    // Past every LSN on disk, so no record written from now on can be mistaken for a stale one or vice versa.
    this.nextLsn = highest + 1;
    this.found = [];
    return replay;
  }

  /** LSN the next record gets. */
  get next(): number {
    return this.nextLsn;
  }

  /**
   * Encodes the entries and writes them as write() does; the topics and origins of message records go by their
   * number in the file's string table, new ones in a StringTable record first (its ref is not in `refs`).
   */
  async writeEntries(entries: readonly LogEntry[]): Promise<LogWrite> {
    if (this.closed) throw new Error('commit log closed');
    const active = this.active ?? (await this.startFile());
    const table = active.file.strings;
    const first = table.strings.length;
    const added: string[] = [];
    const encoder = this.encoder;
    encoder.reset();
    try {
      for (const entry of entries) encoder.add(entry, table, added);
    } catch (err) {
      table.truncate(first);
      throw err;
    }
    // No await between the encoding and writeRecords' copy of it: the encoder is shared, and the same file
    // takes the table and the records naming it.
    if (added.length === 0) return this.writeRecords(active, NO_BODIES, encoder.data, encoder.ends);
    const written = await this.writeRecords(active, [Buffer.from(entryPackr.pack(stringTableEntry(first, added)))], encoder.data, encoder.ends);
    return { ...written, refs: written.refs.slice(1) };
  }

  /** The string table of a file (numbers its message records use), empty for a file that is gone. */
  stringsOf(file: number): readonly string[] {
    return this.fileOf(file)?.strings.strings ?? NO_STRINGS;
  }

  /** Appends the bodies as records, pads to the block boundary, fdatasyncs; resolves after the sync. */
  async write(bodies: Buffer[]): Promise<LogWrite> {
    if (this.closed) throw new Error('commit log closed');
    const active = this.active ?? (await this.startFile());
    return this.writeRecords(active, bodies, EMPTY, NO_ENDS);
  }

  /**
   * write() of the bodies in `head` and then those in `data` (ending at `ends`: EntryEncoder's layout), which are
   * copied before the first await.
   */
  private async writeRecords(active: ActiveFile, head: readonly Buffer[], data: Buffer, ends: readonly number[]): Promise<LogWrite> {
    const first = this.nextLsn;
    const count = head.length + ends.length;
    // One buffer: a window of thousands of small records would otherwise be thousands of iovecs.
    const buffers = [encodeLogRecords(active.file.id, first, head, data, ends, active.position)];
    const bytes = buffers[0]!.length;
    const start = active.position;
    const refs: LogRef[] = [];
    let offset = start;
    for (const body of head) {
      refs.push({ file: active.file.id, offset, length: body.length });
      offset += LOG_HEADER_BYTES + body.length;
    }
    let from = 0;
    for (const end of ends) {
      refs.push({ file: active.file.id, offset, length: end - from });
      offset += LOG_HEADER_BYTES + end - from;
      from = end;
    }
    // LSNs are used up even if the write fails: a failed write may have reached the disk in part, and records
    // written after it must never carry the same numbers.
    this.nextLsn = first + count;
    // Before the write: a file sealed meanwhile (sealDeadActive) must not look covered while records of this
    // write, acknowledged after its fdatasync, are still on their way into it.
    active.file.maxLsn = this.nextLsn - 1;
    try {
      // One vectored write and one fdatasync (SegmentFile.write continues a short write).
      this.writing = active.handle.write(buffers, active.position);
      await this.writing;
    } catch (err) {
      // Later records go to a new file, after whatever this write left behind.
      if (this.active === active) this.active = undefined;
      await active.handle.close(false).catch(() => undefined);
      throw err;
    } finally {
      this.writing = undefined;
    }
    active.position += bytes;
    active.file.size = active.position;
    const newDiskBytes = Math.max(0, active.position - active.file.diskSize);
    active.file.diskSize += newDiskBytes;
    active.file.maxLsn = this.nextLsn - 1;
    this.averageWriteBytes += (bytes - this.averageWriteBytes) * WRITE_AVERAGE_WEIGHT;
    if (this.preparation !== undefined) this.prepareAhead();
    if (active.position >= this.fileMaxBytes && this.active === active) {
      this.active = undefined;
      await active.handle.close(false).catch(() => undefined);
    }
    return { lastLsn: this.nextLsn - 1, bytes, refs, newDiskBytes, recordBytes: offset - start };
  }

  /** The body of the record at `ref` (a copy: a released file is reused), checked; PayloadCorruptError otherwise. */
  async read(ref: LogRef): Promise<Buffer> {
    const file = this.files.find((f) => f.id === ref.file);
    if (file === undefined) throw new PayloadCorruptError(`log file ${ref.file} does not exist`);
    const handle = this.active?.file === file ? this.active.handle : await (file.reader ??= this.io.open(file.path));
    const data = Buffer.from(await handle.read(ref.offset, LOG_HEADER_BYTES + ref.length));
    const body = checkLogRecord(ref.file, data, ref.length);
    if (typeof body === 'string') throw new PayloadCorruptError(`${body} at ${file.path} offset ${ref.offset}`);
    return body;
  }

  /**
   * The bodies of the records at `refs`, in order, as read(): records close together in one file (a backlog
   * written window by window) come from one read of the span that holds them.
   */
  async readMany(refs: readonly LogRef[]): Promise<Buffer[]> {
    const out: Buffer[] = [];
    for (let i = 0; i < refs.length; ) {
      const first = refs[i]!;
      let end = first.offset + LOG_HEADER_BYTES + first.length;
      let j = i + 1;
      for (; j < refs.length; j++) {
        const next = refs[j]!;
        const nextEnd = next.offset + LOG_HEADER_BYTES + next.length;
        if (next.file !== first.file || next.offset < first.offset || nextEnd - first.offset > SPAN_READ_BYTES) break;
        end = Math.max(end, nextEnd);
      }
      if (j === i + 1) {
        out.push(await this.read(first));
        i = j;
        continue;
      }
      const file = this.fileOf(first.file);
      if (file === undefined) throw new PayloadCorruptError(`log file ${first.file} does not exist`);
      const handle = this.active?.file === file ? this.active.handle : await (file.reader ??= this.io.open(file.path));
      const span = Buffer.from(await handle.read(first.offset, end - first.offset));
      for (; i < j; i++) {
        const ref = refs[i]!;
        const at = ref.offset - first.offset;
        const body = checkLogRecord(ref.file, span.subarray(at, at + LOG_HEADER_BYTES + ref.length), ref.length);
        if (typeof body === 'string') throw new PayloadCorruptError(`${body} at ${file.path} offset ${ref.offset}`);
        out.push(body);
      }
    }
    return out;
  }

  /** An LMDB index entry referring to `ref` was committed: its file stays until it is freed. */
  markLive(ref: LogRef): void {
    const file = this.fileOf(ref.file);
    if (file === undefined) return;
    file.live++;
    file.liveBytes += LOG_HEADER_BYTES + ref.length;
  }

  /** The index entry referring to `ref` is gone (removal committed); its file may be released. */
  free(ref: LogRef): void {
    const file = this.fileOf(ref.file);
    if (file === undefined || file.live === 0) return;
    file.live--;
    file.liveBytes -= LOG_HEADER_BYTES + ref.length;
    if (file.live > 0 || file.maxLsn > this.checkpoint) return;
    if (file === this.active?.file) this.sealDeadActive();
    else void this.release(this.checkpoint);
  }

  /**
   * The file being written holds nothing live any more (a consumer drained the backlog): from RECLAIM_ACTIVE_BYTES
   * on, it is sealed and released, so that a drained store gives its disk space back without waiting for the file
   * to fill (the next write starts a new file, or a reused one).
   */
  private sealDeadActive(): void {
    const active = this.active;
    if (active === undefined || active.position < Math.min(RECLAIM_ACTIVE_BYTES, this.fileMaxBytes)) return;
    this.active = undefined;
    const closing = (this.writing ?? Promise.resolve()).catch(() => undefined).then(() => active.handle.close(false).catch(() => undefined));
    void closing.then(() => this.release(this.checkpoint));
  }

  /**
   * After open and replay: the references LMDB's index entries hold. Returns how many name a missing file or
   * lie past its end (a broken durability contract); files covered by the checkpoint with none go.
   */
  async reconcile(refs: Iterable<LogRef>, checkpoint: number): Promise<number> {
    let missing = 0;
    for (const file of this.files) (file.live = 0), (file.liveBytes = 0);
    for (const ref of refs) {
      const file = this.fileOf(ref.file);
      if (file === undefined || ref.offset + LOG_HEADER_BYTES + ref.length > file.size) missing++;
      else this.markLive(ref);
    }
    await this.release(checkpoint);
    return missing;
  }

  /** Releases (reuses or deletes) the files, not the one being written, covered by `checkpoint` with nothing live. */
  release(checkpoint: number): Promise<void> {
    this.checkpoint = Math.max(this.checkpoint, checkpoint);
    const active = this.active?.file;
    if (active !== undefined && active.live === 0 && active.maxLsn <= this.checkpoint) this.sealDeadActive();
    const run = this.releasing.then(() => this.releaseNow());
    this.releasing = run.catch(() => undefined);
    return run;
  }

  /** Sealed files covered by the checkpoint whose live records fill less than `ratio` of them, oldest first. */
  sparseFiles(ratio: number): LogFileUsage[] {
    return this.files
      .filter((f) => f !== this.active?.file && !f.compacting && f.live > 0 && f.maxLsn <= this.checkpoint && f.liveBytes < ratio * f.size)
      .map((f) => ({ file: f.id, size: f.size, live: f.live, liveBytes: f.liveBytes }));
  }

  /** Bytes of the live records (headers included): messages LMDB's index entries hold in the log. */
  liveBytes(): number {
    let total = 0;
    for (const file of this.files) total += file.liveBytes;
    return total;
  }

  /** Live records of a file (0 for a file that is gone). */
  liveRecords(id: number): number {
    return this.fileOf(id)?.live ?? 0;
  }

  setCompacting(ids: readonly number[], compacting: boolean): void {
    for (const id of ids) {
      const file = this.fileOf(id);
      if (file !== undefined) file.compacting = compacting;
    }
  }

  /** Number of log files (tests). */
  fileCount(): number {
    return this.files.length;
  }

  /**
   * Bytes of released files kept for reuse, and of the file being prepared (so far): the log writes over them
   * before it takes new disk space.
   */
  spareBytes(): number {
    const preparing = this.preparing?.exists === true ? this.preparing.file.diskSize : 0;
    return this.spares.reduce((sum, f) => sum + f.diskSize, preparing);
  }

  /**
   * Disk space the log writes over before it takes new space: the spare files, and the part of a reused file
   * being written that is still ahead of its write position (its blocks stay allocated; without it, taking a
   * spare turned its whole size from reusable into used at once, and a drained store on a small disk stayed
   * refused until the file was written past its old length).
   */
  reusableBytes(): number {
    const active = this.active;
    let bytes = active === undefined ? 0 : Math.max(0, active.file.diskSize - active.position);
    // Files already releasable count too: one is on its way to the spares while a sealed active file closes
    // (sealDeadActive) or while release() waits for the release before it.
    for (const file of this.files) if (this.releasable(file, this.checkpoint)) bytes += file.diskSize;
    return this.spareBytes() + this.takingBytes + bytes;
  }

  /** Bytes of all log files. */
  diskBytes(): number {
    return this.files.reduce((sum, f) => sum + f.diskSize, 0) + this.spareBytes();
  }

  async close(): Promise<void> {
    this.closed = true;
    // A file prepared in part stays: open finds it holding no record and keeps it as a spare.
    if (this.preparing !== undefined) (this.preparing.stop = true), await this.preparing.done;
    await this.releasing;
    await this.active?.handle.close(false).catch(() => undefined);
    this.active = undefined;
    for (const file of this.files) await closeReader(file);
  }

  private fileOf(id: number): LogFile | undefined {
    // Few files: a linear search is cheaper than keeping a map in step.
    for (const file of this.files) if (file.id === id) return file;
    return undefined;
  }

  private async releaseNow(): Promise<void> {
    const checkpoint = this.checkpoint;
    const keep: LogFile[] = [];
    const drop: LogFile[] = [];
    for (const file of this.files) {
      if (this.releasable(file, checkpoint)) drop.push(file);
      else keep.push(file);
    }
    if (drop.length === 0) return;
    // Spares first, before anything is awaited: a file between `files` and `spares` counted nowhere in
    // reusableBytes(), and a fill arriving then (32 publishes of one socket read) was refused although the drained
    // file was about to be reused (e2e full-disk, small inline payloads, 3 runs in 9).
    const doomed: LogFile[] = [];
    for (const file of drop) {
      if (this.spares.length < SPARE_FILES && !this.closed) this.spares.push(file);
      else doomed.push(file);
    }
    this.files.length = 0;
    this.files.push(...keep);
    for (const file of drop) await closeReader(file).catch(() => undefined);
    // No directory sync needed: a deleted file that comes back after a power cut holds only covered records
    // that no index entry refers to.
    for (const file of doomed) await unlink(file.path).catch(() => undefined);
    this.onFilesReleased();
  }

  /** Covered by `checkpoint`, nothing live in it, not being written or compacted: releaseNow() takes it. */
  private releasable(file: LogFile, checkpoint: number): boolean {
    return file !== this.active?.file && file.maxLsn <= checkpoint && file.live === 0 && !file.compacting;
  }

  private async startFile(): Promise<{ file: LogFile; handle: SegmentFile; position: number }> {
    const id = this.nextFileId++;
    const path = join(this.dir, logFileName(id));
    const spare = this.takeSpare() ?? (await this.takePrepared()) ?? this.spares.shift();
    let handle: SegmentFile;
    // Out of the spares (or the preparation) and not yet the file being written: still reusable space until it
    // is, or a fill arriving while it is renamed would be refused although the space is there.
    this.takingBytes = spare?.diskSize ?? 0;
    try {
      if (spare !== undefined) {
        // The rename must be durable before records with the new number go in: after a power cut that undid it,
        // they would be read as stale records of the old number.
        await rename(spare.path, path);
        await syncDirectory(this.dir);
        handle = await this.io.open(path);
      } else {
        // Creates the file and fsyncs the directory, so the new entry survives a power cut.
        handle = await this.io.create(this.dir, path);
      }
    } finally {
      this.takingBytes = 0;
    }
    const file: LogFile = { id, path, maxLsn: 0, size: 0, diskSize: spare?.diskSize ?? 0, live: 0, liveBytes: 0, reader: undefined, compacting: false, strings: new StringTable() };
    this.files.push(file);
    this.active = { file, handle, position: 0 };
    this.prepareRefused = false;
    this.prepareAhead();
    return this.active;
  }

  /** A spare the size of a whole file (reused or prepared), if there is one. */
  private takeSpare(): LogFile | undefined {
    const ready = this.spares.findIndex((f) => f.diskSize >= this.fileMaxBytes);
    return ready < 0 ? undefined : this.spares.splice(ready, 1)[0];
  }

  /**
   * The file being prepared, as far as it got: its preparation stops after the chunk in progress (awaited, so
   * that no zeros land on records), and the zeros written so far are blocks the log overwrites.
   */
  private async takePrepared(): Promise<LogFile | undefined> {
    const preparing = this.preparing;
    if (preparing === undefined) return undefined;
    preparing.stop = true;
    preparing.taken = true;
    await preparing.done;
    return preparing.exists ? preparing.file : undefined;
  }

  /**
   * With `preparation` set: when the file being written is past PREPARE_AHEAD_AT (or none is), no whole spare is
   * ready and none is being prepared, writes the next file's blocks with zeros in the background (a short spare
   * extended, or a new file), one chunk per job. The store calls it once after open.
   */
  prepareAhead(): void {
    const options = this.preparation;
    if (options === undefined || this.closed || this.preparing !== undefined || this.prepareRefused) return;
    const active = this.active;
    if (active !== undefined && active.position < this.fileMaxBytes * PREPARE_AHEAD_AT) return;
    if (this.spares.some((f) => f.diskSize >= this.fileMaxBytes) || !options.allowed()) return;
    // The longest short spare (a file sealed early, one prepared in part before a restart) needs the fewest zeros.
    let longest = -1;
    for (let i = 0; i < this.spares.length; i++) if (longest < 0 || this.spares[i]!.diskSize > this.spares[longest]!.diskSize) longest = i;
    let file: LogFile;
    if (longest >= 0) file = this.spares.splice(longest, 1)[0]!;
    else if (this.holdsBacklog() && this.averageWriteBytes >= JOURNAL_BREAK_EVEN_BYTES) return;
    else {
      const id = this.nextFileId++;
      file = { id, path: join(this.dir, logFileName(id)), maxLsn: 0, size: 0, diskSize: 0, live: 0, liveBytes: 0, reader: undefined, compacting: false, strings: new StringTable() };
    }
    const preparing: Preparing = { file, stop: false, taken: false, exists: longest >= 0, done: Promise.resolve() };
    this.preparing = preparing;
    preparing.done = this.prepare(preparing, options);
  }

  /**
   * A sealed file still holds live message records (a backlog nobody has consumed yet): the log is growing and
   * its files are not coming back as spares, so a new file written with zeros first costs its whole size again.
   */
  private holdsBacklog(): boolean {
    for (const file of this.files) if (file !== this.active?.file && file.live > 0) return true;
    return false;
  }

  /** Resolves once the preparation in progress, if any, has ended (tests). */
  async prepared(): Promise<void> {
    await this.preparing?.done;
  }

  private async prepare(preparing: Preparing, options: LogPreparation): Promise<void> {
    const { file } = preparing;
    let handle: SegmentFile | undefined;
    try {
      const disk = await statfs(this.dir);
      if (disk.bavail * disk.bsize < options.minFreeDiskBytes + (this.fileMaxBytes - file.diskSize) + PREPARE_HEADROOM_BYTES) {
        this.prepareRefused = true;
        return;
      }
      if (preparing.stop) return;
      // A new file's directory entry is synced (create), so a power cut leaves it or nothing.
      handle = preparing.exists ? await this.io.open(file.path) : await this.io.create(this.dir, file.path);
      preparing.exists = true;
      const stop = (): boolean => preparing.stop || this.closed || this.spares.some((f) => f.diskSize >= this.fileMaxBytes) || !options.allowed();
      const ended = await writeZeros(handle, file.diskSize, this.fileMaxBytes, stop, (end, bytes) => {
        file.diskSize = end;
        options.written(bytes, end);
      });
      if (ended === 'stopped' && !preparing.stop && !this.closed) this.prepareRefused = true;
    } catch {
      // A full disk (ENOSPC) or an I/O error: what was written is a shorter spare; writes go on without one.
      this.prepareRefused = true;
    } finally {
      await handle?.close(false).catch(() => undefined);
      if (this.preparing === preparing) this.preparing = undefined;
      if (!preparing.taken && preparing.exists && !this.closed) {
        if (this.spares.length < SPARE_FILES) this.spares.push(file);
        else await unlink(file.path).catch(() => undefined);
      }
    }
  }
}

async function closeReader(file: LogFile): Promise<void> {
  const reader = file.reader;
  file.reader = undefined;
  if (reader !== undefined) await (await reader).close(false).catch(() => undefined);
}
