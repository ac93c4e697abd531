// A TCP connection that reopens itself with backoff: the shared part of Modbus TCP and RTU over TCP.
//
// Every connection reads into one buffer shared by all of them (node:net's `onread`): by default each read of a
// socket allocates a 64 KiB block outside the V8 heap and copies what came into a new buffer, garbage that lives
// until the next scavenge; with 50 devices polled every second that was 100 such blocks a second, and malloc kept
// the fragmented pages. Modbus replies are at most 260 bytes and the transports copy out what they keep, during
// the callback, so one buffer serves every connection of the process (callbacks never run at the same time).

import { Socket, type OnReadOpts, type SocketConstructorOpts } from 'node:net';
import { Backoff, errorText, type ReopenOptions, type TransportCounters, type TransportState } from './transport.js';

export interface TcpEndpoint extends ReopenOptions {
  host: string;
  port: number;
  /** A connect that has not completed in this time is abandoned and retried (a host that drops SYNs). */
  connectTimeoutMs?: number;
}

/** Larger than any Modbus reply (MBAP 260 bytes); more in the socket is read on the next turn of the loop. */
const READ_BUFFER_BYTES = 16 * 1024;
let sharedReadBuffer: Buffer | undefined;

function readBuffer(): Buffer {
  sharedReadBuffer ??= Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
  return sharedReadBuffer;
}

export interface TcpConnectionEvents {
  /**
   * Bytes received. `chunk` is a view into the read buffer shared by every connection and is overwritten by the
   * next read: whatever is kept beyond this call must be copied.
   */
  onData(chunk: Buffer): void;
  /** The connection is gone (closed, reset, refused): whatever waits for it must give up now. */
  onLost(error: string): void;
}

export class TcpConnection {
  private socket: Socket | undefined;
  private connected = false;
  private closing = false;
  private opened = 0;
  /** The peer sent something on this connection: only then does the backoff start again from its minimum. */
  private answered = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  private readonly openWaiters: (() => void)[] = [];
  state: TransportState = 'closed';
  lastError: string | undefined;

  constructor(
    private readonly endpoint: TcpEndpoint,
    private readonly events: TcpConnectionEvents,
    private readonly counters: TransportCounters,
  ) {
    this.backoff = new Backoff(endpoint.reopenMinMs ?? 200, endpoint.reopenMaxMs ?? 30000);
  }

  get isOpen(): boolean {
    return this.connected;
  }

  /**
   * Resolves once a connect under way completes or fails, or after `timeoutMs`; at once when none is under way
   * (a request at start-up waits for the first connect instead of failing).
   */
  whenOpen(timeoutMs: number): Promise<void> {
    if (this.connected || !this.socket) return Promise.resolve();
    return new Promise((resolve) => {
      const waiters = this.openWaiters;
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        clearTimeout(timer);
        const i = waiters.indexOf(done);
        if (i >= 0) waiters.splice(i, 1);
        resolve();
      }
      waiters.push(done);
    });
  }

  open(): void {
    this.closing = false;
    if (this.socket || this.retryTimer) return;
    // node:net reads `onread` in the constructor (net.connect passes its options there); @types/node types it for
    // connect only.
    const onread: OnReadOpts = {
      buffer: readBuffer(),
      callback: (nread, buf) => {
        this.onRead(Buffer.from(buf.buffer, buf.byteOffset, nread));
        return true;
      },
    };
    const socket = new Socket({ onread } as SocketConstructorOpts);
    this.socket = socket;
    const connectTimer = setTimeout(() => socket.destroy(new Error(`connect timed out after ${this.endpoint.connectTimeoutMs ?? 5000} ms`)), this.endpoint.connectTimeoutMs ?? 5000);
    socket.setNoDelay(true);
    socket.on('connect', () => {
      clearTimeout(connectTimer);
      this.connected = true;
      this.state = 'open';
      this.lastError = undefined;
      // Not reset here: a device whose connection slots are all taken accepts and closes at once, and resetting on
      // connect would hammer it every reopenMinMs forever.
      this.answered = false;
      if (this.opened++ > 0) this.counters.reopens++;
      for (const w of this.openWaiters.splice(0)) w();
    });
    socket.on('error', (err) => (this.lastError = `${this.endpoint.host}:${this.endpoint.port}: ${errorText(err)}`));
    socket.on('close', () => {
      clearTimeout(connectTimer);
      const wasConnected = this.connected;
      this.connected = false;
      this.socket = undefined;
      for (const w of this.openWaiters.splice(0)) w();
      if (this.closing) {
        this.state = 'closed';
        return;
      }
      this.state = 'error';
      this.lastError ??= `${this.endpoint.host}:${this.endpoint.port}: connection closed by the peer`;
      this.events.onLost(this.lastError);
      if (wasConnected) this.lastError = `${this.endpoint.host}:${this.endpoint.port}: connection closed by the peer`;
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        if (!this.closing) this.open();
      }, this.backoff.next());
    });
    socket.connect({ host: this.endpoint.host, port: this.endpoint.port });
  }

  private onRead(chunk: Buffer): void {
    if (!this.answered) {
      this.answered = true;
      this.backoff.reset();
    }
    this.events.onData(chunk);
  }

  write(frame: Buffer, written: () => void): boolean {
    if (!this.connected || !this.socket) return false;
    this.socket.write(frame, () => written());
    return true;
  }

  /** Drops the connection now (a desynchronised stream); it reopens after the backoff. */
  reset(reason: string): void {
    this.lastError = `${this.endpoint.host}:${this.endpoint.port}: ${reason}`;
    this.socket?.destroy();
  }

  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const socket = this.socket;
    if (!socket) {
      this.state = 'closed';
      return;
    }
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.destroy();
    });
  }
}
