// The parser's unparsed bytes: the part of `bl`'s BufferList that mqtt-packet's parser uses (append, consume,
// length, readUInt8/16/32, slice, toString), without allocating on reads. bl reads every byte through slice(),
// which makes a Buffer view and an offset array per call: some ten objects, ~1 KiB, per PUBLISH (issue 13).

export class ByteList {
  /** Chunks in order; the first starts `head` bytes in. */
  private bufs: Buffer[] = [];
  private head = 0;
  length = 0;

  append(buf: Buffer): this {
    if (buf.length === 0) return this;
    this.bufs.push(buf);
    this.length += buf.length;
    return this;
  }

  consume(bytes: number): this {
    bytes = Math.trunc(bytes);
    if (!(bytes > 0)) return this;
    if (bytes >= this.length) {
      this.bufs = [];
      this.head = 0;
      this.length = 0;
      return this;
    }
    this.length -= bytes;
    let left = this.head + bytes;
    let drop = 0;
    while (left >= this.bufs[drop]!.length) left -= this.bufs[drop++]!.length;
    if (drop > 0) this.bufs.splice(0, drop);
    this.head = left;
    return this;
  }

  readUInt8(offset: number): number {
    const first = this.bufs[0];
    const at = this.head + offset;
    if (first !== undefined && at < first.length) return first[at]!;
    return this.byteAt(offset);
  }

  readUInt16BE(offset: number): number {
    const first = this.bufs[0];
    const at = this.head + offset;
    if (first !== undefined && at + 2 <= first.length) return (first[at]! << 8) | first[at + 1]!;
    return (this.byteAt(offset) << 8) | this.byteAt(offset + 1);
  }

  readUInt32BE(offset: number): number {
    const first = this.bufs[0];
    const at = this.head + offset;
    if (first !== undefined && at + 4 <= first.length) return first.readUInt32BE(at);
    return ((this.byteAt(offset) << 24) | (this.byteAt(offset + 1) << 16) | (this.byteAt(offset + 2) << 8) | this.byteAt(offset + 3)) >>> 0;
  }

  /** Bytes [start, end): a view when they lie in one chunk (as bl returns), else a copy. */
  slice(start = 0, end = this.length): Buffer {
    if (end > this.length) end = this.length;
    if (start < 0) start = 0;
    if (end <= start) return Buffer.alloc(0);
    const first = this.bufs[0]!;
    const at = this.head + start;
    if (at + (end - start) <= first.length) return first.subarray(at, at + (end - start));
    const out = Buffer.allocUnsafe(end - start);
    let skip = this.head + start;
    let written = 0;
    for (const buf of this.bufs) {
      if (skip >= buf.length) {
        skip -= buf.length;
        continue;
      }
      const n = Math.min(buf.length - skip, out.length - written);
      buf.copy(out, written, skip, skip + n);
      written += n;
      skip = 0;
      if (written === out.length) break;
    }
    return out;
  }

  toString(encoding: BufferEncoding, start = 0, end = this.length): string {
    const first = this.bufs[0];
    const at = this.head + start;
    if (first !== undefined && end <= this.length && start <= end && at + (end - start) <= first.length) return first.toString(encoding, at, at + (end - start));
    return this.slice(start, end).toString(encoding);
  }

  /** The byte at `offset`, past the first chunk; past the end a RangeError, as bl's read of an empty slice throws. */
  private byteAt(offset: number): number {
    let at = this.head + offset;
    for (const buf of this.bufs) {
      if (at < buf.length) return buf[at]!;
      at -= buf.length;
    }
    throw new RangeError(`offset ${offset} is outside the buffer list of ${this.length} bytes`);
  }
}
