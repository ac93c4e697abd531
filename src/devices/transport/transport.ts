// What a bus scheduler needs from a Modbus transport (TCP, RTU over a serial port, RTU over TCP): one exchange
// of a request PDU for a unit id against its answer PDU, with framing-level checks (CRC, unit id, transaction id)
// done here and PDU-level checks (function code, byte count) left to pdu.ts. One exchange at a time per transport.

import type { BadFrameReason } from '../modbus/pdu.js';

export type Exchange =
  | { kind: 'pdu'; pdu: Buffer }
  | { kind: 'timeout' }
  | { kind: 'bad_frame'; reason: BadFrameReason }
  | { kind: 'unavailable'; error: string };

export type TransportState = 'open' | 'closed' | 'error';

export interface TransportCounters {
  requests: number;
  responses: number;
  timeouts: number;
  crcErrors: number;
  /** Frames that failed a check other than the CRC (length, unit id, transaction id, MBAP header). */
  badFrames: number;
  /** Frames that arrived while no request was waiting, or that answered another request: dropped. */
  strayFrames: number;
  /** Connections (re)established or ports (re)opened after the first. */
  reopens: number;
}

export interface ModbusTransport {
  readonly kind: 'tcp' | 'rtu' | 'rtu_over_tcp';
  readonly state: TransportState;
  readonly lastError: string | undefined;
  readonly counters: TransportCounters;
  /** Starts connecting / opening; the transport then reopens by itself with backoff until close(). */
  open(): void;
  /**
   * Sends `pdu` to `unitId` and resolves with its answer or why there is none, never rejects. The caller (the bus
   * scheduler) never starts an exchange while another is pending.
   */
  exchange(unitId: number, pdu: Buffer, timeoutMs: number): Promise<Exchange>;
  close(): Promise<void>;
}

export function newCounters(): TransportCounters {
  return { requests: 0, responses: 0, timeouts: 0, crcErrors: 0, badFrames: 0, strayFrames: 0, reopens: 0 };
}

/**
 * The one request a transport waits for: settles once (answer, timeout, connection lost), and remembers a
 * dropped frame's reason so a timeout after, say, a wrong transaction id says so instead of a bare timeout.
 */
export class PendingExchange {
  private timer: NodeJS.Timeout | undefined;
  private settled = false;
  droppedReason: BadFrameReason | undefined;
  readonly promise: Promise<Exchange>;
  private resolveFn!: (e: Exchange) => void;

  constructor(
    readonly unitId: number,
    readonly tag: number,
    private readonly counters: TransportCounters,
  ) {
    this.promise = new Promise((resolve) => (this.resolveFn = resolve));
  }

  /** The timeout runs from when the request has left (its write callback), not from when it was queued. */
  startTimer(timeoutMs: number): void {
    if (this.settled) return;
    this.timer = setTimeout(() => {
      this.counters.timeouts++;
      this.settle(this.droppedReason ? { kind: 'bad_frame', reason: this.droppedReason } : { kind: 'timeout' });
    }, timeoutMs);
  }

  get done(): boolean {
    return this.settled;
  }

  settle(result: Exchange): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    if (result.kind === 'pdu') this.counters.responses++;
    this.resolveFn(result);
  }
}

/** Doubling reconnect delay between `minMs` and `maxMs`, reset by a successful open. */
export class Backoff {
  private current: number;
  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
  ) {
    this.current = minMs;
  }
  next(): number {
    const d = this.current;
    this.current = Math.min(this.maxMs, this.current * 2);
    return d;
  }
  reset(): void {
    this.current = this.minMs;
  }
}

export interface ReopenOptions {
  /** First delay before reopening after a failure or a close; doubles up to reopenMaxMs. */
  reopenMinMs?: number;
  reopenMaxMs?: number;
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
