// A line device on a serial port (issue 14, line devices): every line it prints is published as one message to its
// topic, in order. An over-long line is cut and counted (h-devdata's LineSplitter keeps memory bounded), a port
// that cannot open is logged once and reopened with backoff, and lines the store cannot take are counted dropped.

import { SerialPort } from 'serialport';
import type { LocalPublisher } from '../broker/local-publisher.js';
import type { LineDeviceConfig, SerialBusConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { LineSplitter } from './line-splitter.js';
import type { BusStatus, DeviceStatus } from './status.js';
import { Backoff, errorText, type ReopenOptions } from './transport/transport.js';

/** Publishes waiting for their commit at most; beyond, lines are dropped (counted) rather than held in memory. */
const MAX_IN_FLIGHT = 256;

export interface LineDeviceEvents {
  onState(state: 'online' | 'offline', error: string | undefined): void;
}

export class LineDevice {
  private port: SerialPort | undefined;
  private readonly splitter: LineSplitter;
  private readonly backoff: Backoff;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = true;
  private inFlight = 0;
  private state: 'starting' | 'online' | 'offline' = 'starting';
  private lastError: string | undefined;
  private loggedError = false;
  private lastSeenMs: number | undefined;
  private readonly topic: string;
  readonly counters = { lines: 0, readingsPublished: 0, readingsDropped: 0, bytes: 0 };

  constructor(
    private readonly device: LineDeviceConfig,
    private readonly bus: SerialBusConfig,
    private readonly publisher: LocalPublisher,
    private readonly log: Logger,
    private readonly events: LineDeviceEvents,
    reopen: ReopenOptions = {},
  ) {
    this.splitter = new LineSplitter({ delimiter: device.delimiter, encoding: device.encoding, maxLineBytes: device.maxLineBytes });
    this.backoff = new Backoff(reopen.reopenMinMs ?? 500, reopen.reopenMaxMs ?? 30000);
    this.topic = device.topic.replaceAll('{device}', device.name);
  }

  start(): void {
    this.stopped = false;
    this.open();
  }

  private open(): void {
    if (this.stopped || this.port) return;
    const b = this.bus;
    const port = new SerialPort({ path: b.path, baudRate: b.baudRate, dataBits: b.dataBits, parity: b.parity, stopBits: b.stopBits, autoOpen: false });
    this.port = port;
    port.on('data', (chunk: Buffer) => this.onData(chunk));
    port.on('error', (err) => (this.lastError = `${b.path}: ${errorText(err)}`));
    port.on('close', () => this.lost(port, this.lastError ?? `${b.path}: port closed`));
    port.open((err) => {
      if (err) {
        this.lastError = `${b.path}: ${errorText(err)}`;
        this.lost(port, this.lastError);
        return;
      }
      this.backoff.reset();
      if (this.loggedError) this.log.info('line device port open again', { device: this.device.name, path: b.path });
      this.loggedError = false;
      this.setState('online', undefined);
    });
  }

  private lost(port: SerialPort, error: string): void {
    if (this.port !== port) return;
    this.port = undefined;
    if (this.stopped) return;
    if (!this.loggedError) {
      this.loggedError = true;
      this.log.error('line device port unavailable, retrying', { device: this.device.name, error });
    }
    this.setState('offline', error);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.open();
    }, this.backoff.next());
  }

  private setState(state: 'online' | 'offline', error: string | undefined): void {
    this.lastError = error ?? this.lastError;
    if (state === this.state) return;
    this.state = state;
    this.events.onState(state, error);
  }

  private onData(chunk: Buffer): void {
    this.counters.bytes += chunk.length;
    this.lastSeenMs = Date.now();
    for (const line of this.splitter.push(chunk)) {
      this.counters.lines++;
      if (this.inFlight >= MAX_IN_FLIGHT) {
        this.counters.readingsDropped++;
        continue;
      }
      this.inFlight++;
      // Admission happens inside publish() synchronously, so lines enter the broker in the order received.
      this.publisher
        .publish(this.topic, Buffer.from(line.text, 'utf8'), { qos: this.device.qos, retain: this.device.retain })
        .then((outcome) => {
          if (outcome.kind === 'stored') this.counters.readingsPublished++;
          else this.counters.readingsDropped++;
        })
        .catch(() => this.counters.readingsDropped++)
        .finally(() => this.inFlight--);
    }
  }

  /** True while the port is open: commands (issue 15, `devices/{device}/send`) are written only then. */
  get writable(): boolean {
    return this.port?.isOpen === true;
  }

  /** Writes `data` to the port; resolves once it is drained to the OS, with an error text when it is not. */
  write(data: Buffer): Promise<string | undefined> {
    const port = this.port;
    if (port === undefined || !port.isOpen) return Promise.resolve('port not open');
    return new Promise((resolve) => {
      port.write(data, (err) => {
        if (err) resolve(errorText(err));
        else port.drain((e) => resolve(e ? errorText(e) : undefined));
      });
    });
  }

  status(): DeviceStatus {
    return {
      name: this.device.name,
      bus: this.device.bus,
      kind: 'line',
      state: this.state,
      lastError: this.state === 'online' ? undefined : this.lastError,
      lastSeenMs: this.lastSeenMs,
      counters: {
        requests: 0,
        responses: 0,
        timeouts: 0,
        crcErrors: 0,
        badFrames: 0,
        exceptions: {},
        readingsPublished: this.counters.readingsPublished,
        readingsDropped: this.counters.readingsDropped,
        linesCut: this.splitter.linesCut,
      },
    };
  }

  busStatus(): BusStatus {
    return {
      name: this.bus.name,
      type: 'serial',
      state: this.port?.isOpen ? 'open' : this.stopped ? 'closed' : 'error',
      lastError: this.port?.isOpen ? undefined : this.lastError,
      counters: { requests: 0, timeouts: 0, crcErrors: 0, busyMs: 0 },
      utilisation: 0,
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }
}
