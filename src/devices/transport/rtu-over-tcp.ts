// RTU frames over TCP (serial-to-Ethernet converters in transparent mode, bus option rtuOverTcp): the CRC and unit
// id stay, and with no silence to frame by, a reply is cut by the length its header announces.

import { decodeRtuFrame, encodeRtuFrame, rtuResponseLength } from '../modbus/rtu-frame.js';
import { TcpConnection, type TcpEndpoint } from './tcp-connection.js';
import { newCounters, PendingExchange, type Exchange, type ModbusTransport, type TransportState } from './transport.js';

export class RtuOverTcpTransport implements ModbusTransport {
  readonly kind = 'rtu_over_tcp';
  readonly counters = newCounters();
  private readonly connection: TcpConnection;
  private pending: PendingExchange | undefined;
  private buffer: Buffer = Buffer.alloc(0);

  constructor(options: TcpEndpoint) {
    this.connection = new TcpConnection(options, { onData: (c) => this.onData(c), onLost: (e) => this.onLost(e) }, this.counters);
  }

  get state(): TransportState {
    return this.connection.state;
  }
  get lastError(): string | undefined {
    return this.connection.lastError;
  }

  open(): void {
    this.connection.open();
  }

  async exchange(unitId: number, pdu: Buffer, timeoutMs: number): Promise<Exchange> {
    await this.connection.whenOpen(timeoutMs);
    if (!this.connection.isOpen) return { kind: 'unavailable', error: this.connection.lastError ?? 'not connected' };
    // Whatever arrived before this request (a late answer) is not its answer: the input is flushed.
    if (this.buffer.length > 0) this.counters.strayFrames++;
    this.buffer = Buffer.alloc(0);
    const pending = new PendingExchange(unitId, 0, this.counters);
    this.pending = pending;
    this.counters.requests++;
    this.connection.write(encodeRtuFrame(unitId, pdu), () => pending.startTimer(timeoutMs));
    try {
      return await pending.promise;
    } finally {
      if (this.pending === pending) this.pending = undefined;
    }
  }

  private onData(chunk: Buffer): void {
    const pending = this.pending;
    if (!pending || pending.done) {
      this.counters.strayFrames++;
      return;
    }
    // Copied: the chunk is the connection's shared read buffer (tcp-connection.ts), overwritten by the next read.
    this.buffer = this.buffer.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buffer, chunk]);
    const length = rtuResponseLength(this.buffer);
    if (length === undefined) {
      // Unit id, function code and byte count tell a reply's length; with all three here and still no length,
      // the function code is one no reply carries: garbage, dropped (what is held stays within one frame).
      if (this.buffer.length >= 3) this.fail(pending, 'function_code');
      return;
    }
    if (this.buffer.length < length) return;
    const frame = this.buffer.subarray(0, length);
    this.buffer = Buffer.alloc(0);
    const decoded = decodeRtuFrame(frame, pending.unitId);
    if (decoded.kind === 'pdu') pending.settle(decoded);
    else {
      if (decoded.reason === 'crc') this.counters.crcErrors++;
      else this.counters.badFrames++;
      pending.settle(decoded);
    }
  }

  private fail(pending: PendingExchange, reason: 'function_code'): void {
    this.counters.badFrames++;
    this.buffer = Buffer.alloc(0);
    pending.settle({ kind: 'bad_frame', reason });
  }

  private onLost(error: string): void {
    this.buffer = Buffer.alloc(0);
    this.pending?.settle({ kind: 'unavailable', error });
  }

  close(): Promise<void> {
    this.pending?.settle({ kind: 'unavailable', error: 'transport closed' });
    return this.connection.close();
  }
}
