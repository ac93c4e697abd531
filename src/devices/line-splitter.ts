// Bytes from a serial line device -> lines (issue 14, line devices). Memory is bounded whatever the device
// sends: at most maxLineBytes (plus a partial delimiter) are held. A line longer than that is cut: its first
// maxLineBytes bytes are given out at once (marked cut), the rest up to the next delimiter is dropped, and both
// are counted. With the default delimiter "\n" a "\r" before it is dropped too (devices that end lines with
// CR LF); empty lines are skipped.

import type { LineEncoding } from '../config/types.js';

export interface LineSplitterOptions {
  delimiter: string;
  encoding: LineEncoding;
  maxLineBytes: number;
}

export interface Line {
  text: string;
  /** The device sent more than maxLineBytes before the delimiter; this is the first part. */
  cut: boolean;
}

export class LineSplitter {
  private readonly delimiter: Buffer;
  private readonly encoding: LineEncoding;
  private readonly maxLineBytes: number;
  private readonly stripCr: boolean;
  private pending: Buffer = Buffer.alloc(0);
  /** Inside the dropped rest of a cut line, until the next delimiter. */
  private discarding = false;
  /** Lines cut because they were longer than maxLineBytes. */
  linesCut = 0;
  /** Bytes dropped from cut lines. */
  bytesDropped = 0;

  constructor(options: LineSplitterOptions) {
    this.delimiter = Buffer.from(options.delimiter, 'utf8');
    this.encoding = options.encoding;
    this.maxLineBytes = options.maxLineBytes;
    this.stripCr = options.delimiter === '\n';
  }

  /** Bytes held for the next line: never more than maxLineBytes + the delimiter's length - 1. */
  get pendingBytes(): number {
    return this.pending.length;
  }

  /** The complete (or cut) lines that `chunk` ends. */
  push(chunk: Buffer): Line[] {
    const out: Line[] = [];
    let data = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    for (;;) {
      const at = data.indexOf(this.delimiter);
      if (this.discarding) {
        if (at < 0) {
          // Keep only what could be the start of a delimiter.
          const keep = Math.min(data.length, this.delimiter.length - 1);
          this.bytesDropped += data.length - keep;
          data = data.subarray(data.length - keep);
          break;
        }
        this.bytesDropped += at;
        data = data.subarray(at + this.delimiter.length);
        this.discarding = false;
        continue;
      }
      if (at >= 0 && at <= this.maxLineBytes) {
        this.emit(out, data.subarray(0, at), false);
        data = data.subarray(at + this.delimiter.length);
        continue;
      }
      if (data.length > this.maxLineBytes + this.delimiter.length - 1 || (at > this.maxLineBytes)) {
        const cutAt = this.cutPoint(data);
        this.emit(out, data.subarray(0, cutAt), true);
        this.linesCut++;
        this.bytesDropped += this.maxLineBytes - cutAt;
        data = data.subarray(this.maxLineBytes);
        this.discarding = true;
        continue;
      }
      break;
    }
    // A copy, so the (possibly large) chunk it came from is not kept alive.
    this.pending = Buffer.from(data);
    return out;
  }

  /** Where to cut an over-long line: maxLineBytes, moved back to a character boundary in UTF-8. */
  private cutPoint(data: Buffer): number {
    let at = this.maxLineBytes;
    if (this.encoding === 'utf8') {
      let back = 0;
      while (at - back > 0 && back < 3 && (data[at - back]! & 0xc0) === 0x80) back++;
      if ((data[at - back]! & 0xc0) !== 0x80) at -= back;
    }
    return at;
  }

  private emit(out: Line[], bytes: Buffer, cut: boolean): void {
    let end = bytes.length;
    if (this.stripCr && !cut && end > 0 && bytes[end - 1] === 0x0d) end--;
    if (end === 0) return;
    out.push({ text: bytes.toString(this.encoding, 0, end), cut });
  }
}
