// Modbus RTU over a serial port (serialport): the input is flushed before each request, a reply is framed by the
// silence after it (serialport's InterByteTimeoutParser), and a frame nobody waits for, or from another unit id,
// is dropped instead of being taken as the answer to the next request.

import { InterByteTimeoutParser, SerialPort } from 'serialport';
import { decodeRtuFrame, encodeRtuFrame, MAX_RTU_FRAME, rtuResponseLength } from '../modbus/rtu-frame.js';
import { silentIntervalMs, type CharacterFormat } from './serial-timing.js';
import { Backoff, errorText, newCounters, PendingExchange, type Exchange, type ModbusTransport, type ReopenOptions, type TransportState } from './transport.js';

export interface SerialLineOptions extends CharacterFormat, ReopenOptions {
  path: string;
  /** Overrides t3.5 (bus option silentIntervalMs); also the silence that ends a received frame. */
  silentIntervalMs?: number;
}

export class RtuSerialTransport implements ModbusTransport {
  readonly kind = 'rtu';
  readonly counters = newCounters();
  state: TransportState = 'closed';
  lastError: string | undefined;
  private port: SerialPort | undefined;
  private pending: PendingExchange | undefined;
  /** The first part of a reply whose header announces more bytes. */
  private partial: Buffer = Buffer.alloc(0);
  private closing = false;
  private openCount = 0;
  private readonly openWaiters: (() => void)[] = [];
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  /** A frame ends after this much silence: t3.5, at least 2 ms since Node's timers have 1 ms granularity. */
  readonly frameGapMs: number;

  constructor(private readonly options: SerialLineOptions) {
    this.backoff = new Backoff(options.reopenMinMs ?? 500, options.reopenMaxMs ?? 30000);
    this.frameGapMs = Math.max(2, Math.ceil(silentIntervalMs(options, options.silentIntervalMs)));
  }

  open(): void {
    this.closing = false;
    if (this.port || this.retryTimer) return;
    const { path, baudRate, dataBits, parity, stopBits } = this.options;
    const port = new SerialPort({
      path,
      baudRate,
      dataBits: (dataBits ?? 8) as 5 | 6 | 7 | 8,
      parity: parity ?? 'none',
      stopBits: (stopBits ?? 1) as 1 | 1.5 | 2,
      autoOpen: false,
    });
    this.port = port;
    const parser = port.pipe(new InterByteTimeoutParser({ interval: this.frameGapMs, maxBufferSize: MAX_RTU_FRAME }));
    parser.on('data', (frame: Buffer) => this.onFrame(frame));
    port.on('error', (err) => (this.lastError = `${path}: ${errorText(err)}`));
    port.on('close', () => this.lost(port, this.lastError ?? `${path}: port closed`));
    port.open((err) => {
      if (err) {
        this.lastError = `${path}: ${errorText(err)}`;
        this.lost(port, this.lastError);
        return;
      }
      this.state = 'open';
      this.lastError = undefined;
      this.backoff.reset();
      if (this.openCount++ > 0) this.counters.reopens++;
      for (const w of this.openWaiters.splice(0)) w();
    });
  }

  private opened(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const waiters = this.openWaiters;
      function done(): void {
        clearTimeout(timer);
        const i = waiters.indexOf(done);
        if (i >= 0) waiters.splice(i, 1);
        resolve();
      }
      waiters.push(done);
    });
  }

  private lost(port: SerialPort, error: string): void {
    if (this.port !== port) return;
    this.port = undefined;
    for (const w of this.openWaiters.splice(0)) w();
    this.pending?.settle({ kind: 'unavailable', error });
    if (this.closing) {
      this.state = 'closed';
      return;
    }
    this.state = 'error';
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.closing) this.open();
    }, this.backoff.next());
  }

  async exchange(unitId: number, pdu: Buffer, timeoutMs: number): Promise<Exchange> {
    // The port is still opening (start-up, a reopen under way): worth waiting for, within the request's timeout.
    if (this.port && this.state !== 'open') await this.opened(timeoutMs);
    const port = this.port;
    if (!port || this.state !== 'open') return { kind: 'unavailable', error: this.lastError ?? `${this.options.path}: not open` };
    const frame = encodeRtuFrame(unitId, pdu);
    // Bytes received before the request (a late answer, line noise) are discarded: tcflush(TCIFLUSH).
    const flushed = await new Promise<string | undefined>((resolve) => port.flush((err) => resolve(err ? errorText(err) : undefined)));
    if (flushed !== undefined) return { kind: 'unavailable', error: `${this.options.path}: flush: ${flushed}` };
    const pending = new PendingExchange(unitId, 0, this.counters);
    this.pending = pending;
    this.partial = Buffer.alloc(0);
    this.counters.requests++;
    port.write(frame, (err) => {
      if (err) pending.settle({ kind: 'unavailable', error: `${this.options.path}: ${errorText(err)}` });
      else port.drain(() => pending.startTimer(timeoutMs));
    });
    try {
      return await pending.promise;
    } finally {
      if (this.pending === pending) this.pending = undefined;
    }
  }

  private onFrame(frame: Buffer): void {
    const pending = this.pending;
    if (!pending || pending.done) {
      this.counters.strayFrames++;
      return;
    }
    // A reply the OS delivered in two parts with a gap (a loaded host, a USB adapter's latency timer) is joined
    // again: while its header says more bytes are due, they are waited for (within the request's timeout).
    const data = this.partial.length === 0 ? frame : Buffer.concat([this.partial, frame]);
    const ours = data[0] === pending.unitId;
    const expected = ours ? rtuResponseLength(data) : undefined;
    if (ours && ((expected === undefined && data.length < 3) || (expected !== undefined && data.length < expected))) {
      this.partial = data;
      return;
    }
    this.partial = Buffer.alloc(0);
    if (expected !== undefined && data.length > expected) this.counters.strayFrames++;
    const decoded = decodeRtuFrame(expected === undefined ? data : data.subarray(0, expected), pending.unitId);
    if (decoded.kind === 'pdu') {
      pending.settle({ kind: 'pdu', pdu: Buffer.from(decoded.pdu) });
      return;
    }
    if (decoded.reason === 'unit_id') {
      // Another unit's frame (a late answer to an abandoned request): not ours, keep waiting.
      this.counters.strayFrames++;
      pending.droppedReason = 'unit_id';
      return;
    }
    if (decoded.reason === 'crc') this.counters.crcErrors++;
    else this.counters.badFrames++;
    pending.settle(decoded);
  }

  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const port = this.port;
    this.pending?.settle({ kind: 'unavailable', error: 'transport closed' });
    if (!port) {
      this.state = 'closed';
      return;
    }
    if (!port.isOpen) {
      this.port = undefined;
      this.state = 'closed';
      return;
    }
    await new Promise<void>((resolve) => port.close(() => resolve()));
    this.port = undefined;
    this.state = 'closed';
  }
}
