// Payload records waiting for the next flush, as one contiguous run per segment (one vectored write each), and
// the runs of the flush in progress: both stay readable from memory until they are durable.

import { RECORD_HEADER_BYTES, encodeRecordHeader, paddingAfter } from './segment-format.js';

/** What a run needs of its segment. */
export interface RunSegment {
  /** End of the last reserved record, padding included. */
  size: number;
  /** End of the data made durable. */
  durableSize: number;
}

export interface StagedRun<S extends RunSegment> {
  segment: S;
  position: number;
  /** [record header, payload] pairs. */
  buffers: Buffer[];
  /** Record bytes, padding excluded. */
  bytes: number;
  /** Padding to the next flush boundary, set when the run is taken for a flush. */
  pad: Buffer | undefined;
}

export class StagedRuns<S extends RunSegment> {
  private staged: StagedRun<S>[] = [];
  private flushing: StagedRun<S>[] = [];
  /** Record bytes staged and not yet taken for a flush. */
  bytes = 0;
  /** Record bytes taken for flushes that have not finished: not on the disk's books yet either. */
  takenBytes = 0;

  /** Stages a record at the end of `segment` and reserves its bytes there; returns its offset. */
  add(segment: S, payload: Buffer, checksum: number): number {
    const position = segment.size;
    const recordBytes = RECORD_HEADER_BYTES + payload.length;
    let run = this.staged[this.staged.length - 1];
    if (run === undefined || run.segment !== segment) {
      run = { segment, position, buffers: [], bytes: 0, pad: undefined };
      this.staged.push(run);
    }
    run.buffers.push(encodeRecordHeader(payload.length, checksum), payload);
    run.bytes += recordBytes;
    segment.size += recordBytes;
    this.bytes += recordBytes;
    return position;
  }

  /**
   * Everything staged, for one flush. The run of `active` (appends continue there) ends on a flush boundary,
   * so the next flush starts on a fresh block; a sealed segment's last run needs no padding.
   */
  take(active: S | undefined): StagedRun<S>[] {
    const runs = this.staged;
    this.staged = [];
    this.takenBytes += this.bytes;
    this.bytes = 0;
    const last = runs[runs.length - 1];
    if (last !== undefined && last.segment === active) {
      last.pad = paddingAfter(last.segment.size);
      if (last.pad !== undefined) last.segment.size += last.pad.length;
    }
    return runs;
  }

  /** The flush of `runs` (from take()) has ended, written or failed. */
  finished(runs: readonly StagedRun<S>[]): void {
    for (const run of runs) this.takenBytes -= run.bytes;
  }

  /** Runs being written by the flush in progress ([] when it is done). */
  setFlushing(runs: StagedRun<S>[]): void {
    this.flushing = runs;
  }

  /** A copy of a payload not yet durable, staged or being flushed; undefined if it is durable. */
  find(segment: S, offset: number, length: number): Buffer | undefined {
    if (offset + RECORD_HEADER_BYTES + length <= segment.durableSize) return undefined;
    return findIn(this.flushing, segment, offset) ?? findIn(this.staged, segment, offset);
  }
}

function findIn<S extends RunSegment>(runs: readonly StagedRun<S>[], segment: S, offset: number): Buffer | undefined {
  for (const run of runs) {
    if (run.segment !== segment) continue;
    let position = run.position;
    for (let i = 0; i < run.buffers.length; i += 2) {
      const payload = run.buffers[i + 1]!;
      if (position === offset) return Buffer.from(payload);
      position += RECORD_HEADER_BYTES + payload.length;
    }
  }
  return undefined;
}
