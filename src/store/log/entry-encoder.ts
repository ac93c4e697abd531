// Log entries as msgpack, written one after another into one buffer: the bodies of one log write (issue 13).
// msgpackr's pack is general (records, structures, extensions, a shared target that each body had to be copied
// out of) and was the largest part of a durable append's log write; an entry is an array of integers, strings,
// Buffers and nulls, which this writes directly, with the topic and origin of a message record replaced by their
// numbers in the file's string table on the way (log-strings.ts), without copying the arrays. The bytes are
// those msgpackr writes for the same entry (`new Packr({ useRecords: false })`, test/store/entry-encoder.test.ts),
// so the format and every reader are unchanged; an entry holding anything else (MQTT 5 properties, an
// undefined) goes through msgpackr whole.

import { Packr } from 'msgpackr';
import { LogKind, type LogEntry } from './log-entry.js';
import { internEntry, type StringTable } from './log-strings.js';

const fallbackPackr = new Packr({ useRecords: false });
/** Strings at least this long are written with Buffer's UTF-8 encoder, as msgpackr does. */
const LONG_STRING = 0x40;
const INITIAL_BYTES = 64 * 1024;

export class EntryEncoder {
  private buf = Buffer.allocUnsafe(INITIAL_BYTES);
  private pos = 0;
  /** Where each body ends in `data`; the first starts at 0. */
  readonly ends: number[] = [];

  /** The bytes written since reset(): valid until the next reset(). */
  get data(): Buffer {
    return this.buf;
  }

  reset(): void {
    this.pos = 0;
    this.ends.length = 0;
  }

  /** Appends `entry`'s body, interning the strings of a message record in `table` (new ones go to `added`). */
  add(entry: LogEntry, table: StringTable, added: string[]): void {
    const start = this.pos;
    if (!this.entry(entry, table, added)) {
      this.pos = start;
      const body = fallbackPackr.pack(internEntry(table, entry, added));
      this.ensure(body.length);
      this.buf.set(body, this.pos);
      this.pos += body.length;
    }
    this.ends.push(this.pos);
  }

  private entry(entry: LogEntry, table: StringTable, added: string[]): boolean {
    const kind = entry[0];
    const record = entry[3];
    if ((kind !== LogKind.SessionAppend && kind !== LogKind.QueueAppend) || !isPlainArray(record) || !isPlainArray(record[0])) {
      return this.value(entry);
    }
    // [kind, id, seq, [message, ...], ...]: what internEntry would give, written without its copies.
    this.arrayHeader(entry.length);
    if (!this.value(kind) || !this.value(entry[1]) || !this.value(entry[2])) return false;
    this.arrayHeader(record.length);
    const message = record[0];
    this.arrayHeader(message.length);
    for (let i = 0; i < message.length; i++) {
      const v = i === 0 || i === 7 ? table.intern(message[i], added) : message[i];
      if (!this.value(v)) return false;
    }
    for (let i = 1; i < record.length; i++) if (!this.value(record[i])) return false;
    for (let i = 4; i < entry.length; i++) if (!this.value(entry[i])) return false;
    return true;
  }

  /** Writes `v`; false (with some bytes written) for a value it leaves to msgpackr. */
  private value(v: unknown): boolean {
    switch (typeof v) {
      case 'number':
        this.number(v);
        return true;
      case 'string':
        this.string(v);
        return true;
      case 'boolean':
        this.ensure(1);
        this.buf[this.pos++] = v ? 0xc3 : 0xc2;
        return true;
      case 'object': {
        if (v === null) {
          this.ensure(1);
          this.buf[this.pos++] = 0xc0;
          return true;
        }
        if (isPlainArray(v)) {
          this.arrayHeader(v.length);
          for (let i = 0; i < v.length; i++) if (!this.value(v[i])) return false;
          return true;
        }
        if (Buffer.isBuffer(v)) {
          this.bytes(v);
          return true;
        }
        return false;
      }
      default:
        return false;
    }
  }

  private number(v: number): void {
    this.ensure(9);
    const b = this.buf;
    let p = this.pos;
    if (v >>> 0 === v) {
      if (v < 0x80) b[p++] = v;
      else if (v < 0x100) {
        b[p++] = 0xcc;
        b[p++] = v;
      } else if (v < 0x10000) {
        b[p++] = 0xcd;
        b[p++] = v >> 8;
        b[p++] = v & 0xff;
      } else {
        b[p++] = 0xce;
        b.writeUInt32BE(v, p);
        p += 4;
      }
    } else if (v >> 0 === v) {
      if (v >= -0x20) b[p++] = 0x100 + v;
      else if (v >= -0x80) {
        b[p++] = 0xd0;
        b[p++] = v + 0x100;
      } else if (v >= -0x8000) {
        b[p++] = 0xd1;
        b.writeInt16BE(v, p);
        p += 2;
      } else {
        b[p++] = 0xd2;
        b.writeInt32BE(v, p);
        p += 4;
      }
    } else {
      // Beyond 32 bits (a timestamp) or not an integer: a float64, as msgpackr writes it by default.
      b[p++] = 0xcb;
      b.writeDoubleBE(v, p);
      p += 8;
    }
    this.pos = p;
  }

  private string(s: string): void {
    const n = s.length;
    const headerSize = n < 0x20 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
    this.ensure(headerSize + n * 3);
    const b = this.buf;
    const at = this.pos + headerSize;
    let length: number;
    if (n < LONG_STRING) {
      // msgpackr's own loop for short strings (a lone surrogate becomes 3 bytes, as there).
      let p = at;
      for (let i = 0; i < n; i++) {
        let c1 = s.charCodeAt(i);
        let c2: number;
        if (c1 < 0x80) b[p++] = c1;
        else if (c1 < 0x800) {
          b[p++] = (c1 >> 6) | 0xc0;
          b[p++] = (c1 & 0x3f) | 0x80;
        } else if ((c1 & 0xfc00) === 0xd800 && ((c2 = s.charCodeAt(i + 1)) & 0xfc00) === 0xdc00) {
          c1 = 0x10000 + ((c1 & 0x03ff) << 10) + (c2 & 0x03ff);
          i++;
          b[p++] = (c1 >> 18) | 0xf0;
          b[p++] = ((c1 >> 12) & 0x3f) | 0x80;
          b[p++] = ((c1 >> 6) & 0x3f) | 0x80;
          b[p++] = (c1 & 0x3f) | 0x80;
        } else {
          b[p++] = (c1 >> 12) | 0xe0;
          b[p++] = ((c1 >> 6) & 0x3f) | 0x80;
          b[p++] = (c1 & 0x3f) | 0x80;
        }
      }
      length = p - at;
    } else {
      length = b.write(s, at, 'utf8');
    }
    // The header of the length written, the bytes moved if it is shorter than the one room was left for.
    const needed = length < 0x20 ? 1 : length < 0x100 ? 2 : length < 0x10000 ? 3 : 5;
    if (needed !== headerSize) b.copyWithin(this.pos + needed, at, at + length);
    let p = this.pos;
    if (needed === 1) b[p++] = 0xa0 | length;
    else if (needed === 2) {
      b[p++] = 0xd9;
      b[p++] = length;
    } else if (needed === 3) {
      b[p++] = 0xda;
      b[p++] = length >> 8;
      b[p++] = length & 0xff;
    } else {
      b[p++] = 0xdb;
      b.writeUInt32BE(length, p);
      p += 4;
    }
    this.pos = p + length;
  }

  private bytes(v: Buffer): void {
    const n = v.length;
    this.ensure(n + 5);
    const b = this.buf;
    let p = this.pos;
    if (n < 0x100) {
      b[p++] = 0xc4;
      b[p++] = n;
    } else if (n < 0x10000) {
      b[p++] = 0xc5;
      b[p++] = n >> 8;
      b[p++] = n & 0xff;
    } else {
      b[p++] = 0xc6;
      b.writeUInt32BE(n, p);
      p += 4;
    }
    b.set(v, p);
    this.pos = p + n;
  }

  private arrayHeader(n: number): void {
    this.ensure(5);
    const b = this.buf;
    if (n < 0x10) b[this.pos++] = 0x90 | n;
    else if (n < 0x10000) {
      b[this.pos++] = 0xdc;
      b[this.pos++] = n >> 8;
      b[this.pos++] = n & 0xff;
    } else {
      b[this.pos++] = 0xdd;
      b.writeUInt32BE(n, this.pos);
      this.pos += 4;
    }
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }
}

function isPlainArray(v: unknown): v is unknown[] {
  return Array.isArray(v) && v.constructor === Array;
}
