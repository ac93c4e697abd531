// What the segment payload store needs from the file system, so the same bookkeeping runs over plain file I/O
// (file-segment-io.ts, the fallback) and over the native addon (native-segment-io.ts, zero-copy reads).

/** One open segment file. */
export interface SegmentFile {
  /** Writes the buffers at `position` with one vectored write, then one fdatasync. */
  write(buffers: Buffer[], position: number): Promise<void>;
  /**
   * Bytes [position, position + length), fewer at the end of the file. The file implementation returns a copy;
   * the native one a Buffer viewing the memory-mapped file, valid for as long as it is referenced.
   */
  read(position: number, length: number): Promise<Buffer>;
  /** Current length of the file. */
  size(): Promise<number>;
  /** Cuts the file to `length` bytes and syncs it. */
  truncate(length: number): Promise<void>;
  /**
   * Closes the file; with `unlink`, deletes it at once (its disk space comes back now). Buffers returned by read()
   * stay valid: the native implementation moves the mappings they view onto anonymous copies first.
   */
  close(unlink: boolean): Promise<void>;
}

export interface SegmentIo {
  /** 'native' or 'js': which implementation this is (logged at start). */
  readonly kind: 'native' | 'js';
  /** Creates a new segment file and fsyncs `dir`, so the file survives a power cut. */
  create(dir: string, path: string): Promise<SegmentFile>;
  /** Opens an existing segment file for reading and appending. */
  open(path: string): Promise<SegmentFile>;
}
