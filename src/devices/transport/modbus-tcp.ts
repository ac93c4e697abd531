// Modbus TCP client transport: MBAP frames over node:net, answers matched to requests by the full 16-bit
// transaction id; an answer with another transaction id (a late answer to an abandoned request) is dropped.

import { encodeTcpFrame, TcpFrameReader } from '../modbus/tcp-frame.js';
import { TcpConnection, type TcpEndpoint } from './tcp-connection.js';
import { newCounters, PendingExchange, type Exchange, type ModbusTransport, type TransportState } from './transport.js';

export interface ModbusTcpOptions extends TcpEndpoint {
  /** Transaction id of the first request (tests start near 0xFFFF to cross the wrap). */
  firstTransactionId?: number;
}

export class ModbusTcpTransport implements ModbusTransport {
  readonly kind = 'tcp';
  readonly counters = newCounters();
  private readonly connection: TcpConnection;
  private readonly reader = new TcpFrameReader();
  private pending: PendingExchange | undefined;
  private nextTransactionId: number;

  /** The transaction id the next request will carry (status and tests). */
  get upcomingTransactionId(): number {
    return this.nextTransactionId;
  }

  constructor(options: ModbusTcpOptions) {
    this.nextTransactionId = (options.firstTransactionId ?? 1) & 0xffff;
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
    const transactionId = this.nextTransactionId;
    this.nextTransactionId = (transactionId + 1) & 0xffff;
    const pending = new PendingExchange(unitId, transactionId, this.counters);
    this.pending = pending;
    this.counters.requests++;
    this.connection.write(encodeTcpFrame(transactionId, unitId, pdu), () => pending.startTimer(timeoutMs));
    try {
      return await pending.promise;
    } finally {
      if (this.pending === pending) this.pending = undefined;
    }
  }

  private onData(chunk: Buffer): void {
    for (const frame of this.reader.push(chunk)) {
      const pending = this.pending;
      if (!pending || pending.done) {
        this.counters.strayFrames++;
        continue;
      }
      if (frame.protocolId !== 0 || frame.transactionId !== pending.tag) {
        this.counters.badFrames++;
        pending.droppedReason = frame.protocolId !== 0 ? 'length' : 'transaction_id';
        continue;
      }
      if (frame.unitId !== pending.unitId) {
        this.counters.badFrames++;
        pending.settle({ kind: 'bad_frame', reason: 'unit_id' });
        continue;
      }
      pending.settle({ kind: 'pdu', pdu: frame.pdu });
    }
    if (this.reader.desynchronised) {
      this.counters.badFrames++;
      this.reader.reset();
      this.connection.reset('invalid MBAP header, connection reset');
    }
  }

  private onLost(error: string): void {
    this.reader.reset();
    this.pending?.settle({ kind: 'unavailable', error });
  }

  close(): Promise<void> {
    this.pending?.settle({ kind: 'unavailable', error: 'transport closed' });
    return this.connection.close();
  }
}
