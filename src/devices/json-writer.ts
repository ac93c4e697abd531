// Bytes of a JSON document written into one scratch buffer shared by the process, then copied out at their exact
// length: the state documents of every poll (state-document.ts) are built without a string per point or per
// concatenation. Integers are written digit by digit; other numbers go through String() (which V8 caches for
// the common ones). Single-threaded and synchronous: a document is begun and finished within one call.

let scratch = Buffer.allocUnsafeSlow(4096);

export class JsonWriter {
  private pos = 0;

  begin(): this {
    this.pos = 0;
    return this;
  }

  private room(n: number): void {
    if (this.pos + n <= scratch.length) return;
    let size = scratch.length * 2;
    while (size < this.pos + n) size *= 2;
    const bigger = Buffer.allocUnsafeSlow(size);
    scratch.copy(bigger, 0, 0, this.pos);
    scratch = bigger;
  }

  /** Bytes encoded once (keys with their colon, punctuation). */
  bytes(b: Uint8Array): this {
    this.room(b.length);
    scratch.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** Text known to be ASCII (punctuation, numbers from String()). */
  ascii(s: string): this {
    this.room(s.length);
    this.pos += scratch.write(s, this.pos, 'latin1');
    return this;
  }

  byte(c: number): this {
    this.room(1);
    scratch[this.pos++] = c;
    return this;
  }

  /** A finite number as JSON (the callers never pass NaN or infinities, which JSON has no text for). */
  number(n: number): this {
    if (!Number.isSafeInteger(n)) return this.ascii(String(n));
    if (n < 0) {
      this.byte(0x2d);
      n = -n;
    }
    let digits = 1;
    for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
    this.room(digits);
    for (let i = this.pos + digits - 1; i >= this.pos; i--) {
      scratch[i] = 0x30 + (n % 10);
      n = Math.floor(n / 10);
    }
    this.pos += digits;
    return this;
  }

  /** A string as a JSON string (escaped by JSON.stringify, written as UTF-8). */
  string(s: string): this {
    const text = JSON.stringify(s);
    this.room(Buffer.byteLength(text));
    this.pos += scratch.write(text, this.pos, 'utf8');
    return this;
  }

  /** A copy of what was written (a small one comes from Node's buffer pool). */
  finish(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    scratch.copy(out, 0, 0, this.pos);
    return out;
  }
}
