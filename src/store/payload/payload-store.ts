// The payload-store interface: where payloads larger than storage.inlineMaxBytes live, outside LMDB records.
// Implemented by SegmentPayloadStore over two kinds of file access: the native addon (zero-copy reads from
// memory-mapped segments) and plain file I/O, the fallback and the reference in tests (DESIGN.md, "Storage").

/** Where a payload lives. Stored inside the LMDB record that owns the payload. */
export interface PayloadRef {
  /** Segment file number. */
  readonly segment: number;
  /** Byte offset of the payload's record (header included) inside the segment. */
  readonly offset: number;
  /** Payload length in bytes. */
  readonly length: number;
  /** CRC-32 (IEEE) of the payload. */
  readonly checksum: number;
}

/** What reconcile() found on open. */
export interface ReconcileReport {
  /** Segment files deleted because no record refers to them any more. */
  segmentsDeleted: number;
  /** Bytes cut from the end of a segment: a torn tail or payloads of a window whose commit never happened. */
  tailBytesTruncated: number;
  /** The newest segment ended in bytes that are not whole, checksummed records (a write cut short). */
  tornTail: boolean;
  /** References that point past the end of their segment or to a missing one: a broken durability contract. */
  missingRefs: number;
}

/**
 * Lifecycle of one payload, driven by the commit scheduler:
 * 1. `append` stages it and returns its reference at once (the reference goes into the LMDB record);
 * 2. `flush` writes everything staged with one write and one fdatasync per segment touched, BEFORE the LMDB
 *    commit whose records refer to it, so a durable record never points at a payload that is not durable;
 * 3. `free` is called only after the commit that dropped the last record referring to it is durable.
 * References can be shared (one payload, many subscribers' records): `addRef` counts one more owner.
 *
 * Compaction (driven by the store's PayloadCompactor, which knows the records): `beginCompaction` picks sealed
 * segments with few live bytes and stops them taking new owners; `copyForward` stages a copy of each live payload
 * (flushed before the commit, like an append); the commit rewrites every record's reference and, once durable,
 * `moveOwners` hands the owners to the copy. The old segment then has no live payload and is deleted at once
 * (Buffers read from it stay valid: the native store moves their memory onto a copy first).
 */
export interface PayloadStore {
  /** Stages a payload for the next flush and returns its reference. Throws StoreFullError over the cap. */
  append(payload: Buffer): PayloadRef;
  /** Counts one more owner of a live payload; false if it is no longer live (append it again instead). */
  addRef(ref: PayloadRef): boolean;
  /** Bytes staged and not yet flushed. */
  pendingBytes(): number;
  /** Makes everything staged so far durable; resolves with the bytes written (0 if nothing was staged). */
  flush(): Promise<number>;
  /** Reads a payload back, verifying length and checksum (PayloadCorruptError otherwise). */
  read(ref: PayloadRef): Promise<Buffer>;
  /** Drops one owner; the payload's space is reclaimed when its segment has no live payload left. */
  free(ref: PayloadRef): void;
  /** After open: the references found in committed records. Everything else is garbage from a crash. */
  reconcile(liveRefs: Iterable<PayloadRef>): Promise<ReconcileReport>;
  /** Bytes of segment files on disk (live and dead payloads). */
  diskBytes(): number;
  /** 'native' (addon, zero-copy reads) or 'js' (plain file I/O). */
  readonly kind: 'native' | 'js';
  /**
   * Sealed segments whose live payload bytes are below `ratio` of their size, oldest first, together holding at
   * most `maxLiveBytes` (at least one segment, unless `shortOfSpace`: then none that does not fit); each stops
   * taking new owners (addRef false) until endCompaction. When `shortOfSpace` (the store refuses writes), a
   * mostly-dead active segment of some size is sealed first, so that it is among them.
   */
  beginCompaction(ratio: number, maxLiveBytes: number, shortOfSpace?: boolean): number[];
  /** Owners of a payload (0 when it is not live). */
  owners(ref: PayloadRef): number;
  /** Reads a live payload (checksum verified) and stages a copy like `append`, owned once until moveOwners. */
  copyForward(ref: PayloadRef): Promise<PayloadRef>;
  /**
   * After the commit that made `owners` records refer to `to` instead of `from`: `to` has those owners and `from`
   * is no longer live. With 0 owners (every record went away meanwhile) the copy is dropped instead.
   */
  moveOwners(from: PayloadRef, to: PayloadRef, owners: number): void;
  /** Compaction of these segments is over (done or given up): they take new owners again, if still there. */
  endCompaction(segments: readonly number[]): void;
  close(): Promise<void>;
}

/** Compact form of a reference inside an LMDB record: [segment, offset, length, checksum]. */
export type StoredPayloadRef = [number, number, number, number];

export function packRef(ref: PayloadRef): StoredPayloadRef {
  return [ref.segment, ref.offset, ref.length, ref.checksum];
}

export function unpackRef(stored: StoredPayloadRef): PayloadRef {
  return { segment: stored[0], offset: stored[1], length: stored[2], checksum: stored[3] };
}
