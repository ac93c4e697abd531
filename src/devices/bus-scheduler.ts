// One scheduler per physical bus: requests never overlap on the line, the silent interval is kept between frames,
// each request has a timeout and bounded retries, a device that stops answering is backed off and marked offline,
// and writes (issue 15) go before polls that are not yet on the wire. Devices take turns one request at a time, so
// a dead unit costs the others at most its timeout per round.

import {
  decodeReadResponse,
  decodeWriteResponse,
  encodeRequest,
  type FailedResult,
  type ReadRequest,
  type ReadResult,
  type WriteRequest,
  type WriteResult,
} from './modbus/pdu.js';
import type { Exchange, ModbusTransport } from './transport/transport.js';

export interface BusSchedulerOptions {
  /** Gap kept between the end of one exchange and the next request (t3.5 on serial lines, 0 on Modbus TCP). */
  silentIntervalMs: number;
  /** Backoff of an offline device: first delay before it is tried again, doubling up to backoffMaxMs. */
  backoffMinMs?: number;
  backoffMaxMs?: number;
}

export interface DeviceLinkOptions {
  name: string;
  unitId: number;
  timeoutMs: number;
  /** Further attempts after a timeout or a bad frame, while the device is online. */
  retries: number;
}

export type LinkState = 'starting' | 'online' | 'offline';

export interface LinkCounters {
  requests: number;
  responses: number;
  timeouts: number;
  crcErrors: number;
  badFrames: number;
  exceptions: Record<string, number>;
  /** Requests answered at once without the wire because the device was backing off. */
  skipped: number;
}

interface Job {
  link: DeviceLink;
  request: ReadRequest | WriteRequest;
  pdu: Buffer;
  attempts: number;
  resolve: (r: ReadResult | WriteResult) => void;
}

/** One device's view of its bus: what the poller (and later the command writer) talks to. */
export class DeviceLink {
  state: LinkState = 'starting';
  lastError: string | undefined;
  lastSeenMs: number | undefined;
  readonly counters: LinkCounters = { requests: 0, responses: 0, timeouts: 0, crcErrors: 0, badFrames: 0, exceptions: {}, skipped: 0 };
  readonly rttMs = { last: 0, avg: 0, max: 0, samples: 0 };
  /** Called on every online/offline transition with the reason. */
  onStateChange: ((state: LinkState, error: string | undefined) => void) | undefined;
  readonly queue: Job[] = [];
  backoffMs = 0;
  nextAttemptAtMs = 0;

  constructor(
    readonly options: DeviceLinkOptions,
    private readonly scheduler: BusScheduler,
  ) {}

  read(req: Omit<ReadRequest, 'unitId'>): Promise<ReadResult> {
    return this.scheduler.submit(this, { ...req, unitId: this.options.unitId }, false) as Promise<ReadResult>;
  }

  /** Goes through the priority lane: before any poll not yet on the wire. */
  write(req: Omit<WriteRequest, 'unitId'>): Promise<WriteResult> {
    return this.scheduler.submit(this, { ...req, unitId: this.options.unitId }, true) as Promise<WriteResult>;
  }

  setState(state: LinkState, error: string | undefined): void {
    this.lastError = error ?? this.lastError;
    if (state === this.state) return;
    this.state = state;
    this.onStateChange?.(state, error);
  }
}

export class BusScheduler {
  private readonly links: DeviceLink[] = [];
  private readonly writes: Job[] = [];
  private turn = 0;
  private busy = false;
  private closed = false;
  private quietUntilMs = 0;
  private wakeTimer: NodeJS.Timeout | undefined;
  private readonly backoffMinMs: number;
  private readonly backoffMaxMs: number;
  /** Time the line spent in exchanges, for utilisation. */
  busyMs = 0;
  requests = 0;

  constructor(
    readonly transport: ModbusTransport,
    private readonly options: BusSchedulerOptions,
  ) {
    this.backoffMinMs = options.backoffMinMs ?? 1000;
    this.backoffMaxMs = options.backoffMaxMs ?? 60000;
  }

  addDevice(options: DeviceLinkOptions): DeviceLink {
    const link = new DeviceLink(options, this);
    this.links.push(link);
    return link;
  }

  submit(link: DeviceLink, request: ReadRequest | WriteRequest, priority: boolean): Promise<ReadResult | WriteResult> {
    if (this.closed) return Promise.resolve({ kind: 'unavailable', error: 'bus closed' });
    let pdu: Buffer;
    try {
      pdu = encodeRequest(request);
    } catch (err) {
      return Promise.resolve({ kind: 'unavailable', error: err instanceof Error ? err.message : String(err) });
    }
    return new Promise((resolve) => {
      const job: Job = { link, request, pdu, attempts: 0, resolve };
      (priority ? this.writes : link.queue).push(job);
      this.pump();
    });
  }

  /** Pending requests (writes lane + every device's polls), for status. */
  get queued(): number {
    return this.links.reduce((n, l) => n + l.queue.length, this.writes.length);
  }

  private pump(): void {
    if (this.busy || this.closed) return;
    const job = this.pick();
    if (!job) return;
    const now = performance.now();
    // A device backing off answers at once: its turn costs the line nothing.
    if (job.link.state === 'offline' && now < job.link.nextAttemptAtMs) {
      job.link.counters.skipped++;
      job.resolve({ kind: 'unavailable', error: `offline (${job.link.lastError ?? 'no answer'}); next attempt in ${Math.ceil(job.link.nextAttemptAtMs - now)} ms` });
      queueMicrotask(() => this.pump());
      return;
    }
    if (now < this.quietUntilMs) {
      this.requeueFront(job);
      this.wake(this.quietUntilMs - now);
      return;
    }
    this.busy = true;
    void this.run(job);
  }

  /** Writes first; then devices in turn, one request each, so no device's backlog starves another. */
  private pick(): Job | undefined {
    const write = this.writes.shift();
    if (write) return write;
    for (let i = 0; i < this.links.length; i++) {
      const link = this.links[(this.turn + i) % this.links.length]!;
      const job = link.queue.shift();
      if (job) {
        this.turn = (this.turn + i + 1) % this.links.length;
        return job;
      }
    }
    return undefined;
  }

  private requeueFront(job: Job): void {
    if (isWrite(job)) {
      this.writes.unshift(job);
      return;
    }
    job.link.queue.unshift(job);
    // Its turn is not spent: the round-robin pointer goes back to it.
    this.turn = this.links.indexOf(job.link);
  }

  private wake(delayMs: number): void {
    if (this.wakeTimer) return;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined;
      this.pump();
    }, Math.max(1, Math.ceil(delayMs)));
  }

  private async run(job: Job): Promise<void> {
    const { link } = job;
    job.attempts++;
    link.counters.requests++;
    this.requests++;
    const started = performance.now();
    const exchange = await this.transport.exchange(link.options.unitId, job.pdu, link.options.timeoutMs);
    const ended = performance.now();
    this.busyMs += ended - started;
    this.quietUntilMs = ended + this.options.silentIntervalMs;
    this.busy = false;
    const result = this.decode(job, exchange);
    this.account(link, result, ended - started);
    const retry = (result.kind === 'timeout' || result.kind === 'bad_frame') && job.attempts <= link.options.retries && link.state !== 'offline';
    if (retry) {
      // Back in its own queue (or the writes lane), after the other devices have had their turn.
      if (isWrite(job)) this.writes.unshift(job);
      else link.queue.unshift(job);
    } else {
      this.settleLink(link, result);
      job.resolve(result);
    }
    this.pump();
  }

  private decode(job: Job, exchange: Exchange): ReadResult | WriteResult {
    if (exchange.kind !== 'pdu') return exchange;
    const req = job.request;
    return 'values' in req ? decodeWriteResponse(req, exchange.pdu) : decodeReadResponse(req, exchange.pdu);
  }

  private account(link: DeviceLink, result: ReadResult | WriteResult, rttMs: number): void {
    const c = link.counters;
    switch (result.kind) {
      case 'ok':
      case 'exception':
        c.responses++;
        if (result.kind === 'exception') {
          const code = String(result.code); // decimal, as status.ts counts them
          c.exceptions[code] = (c.exceptions[code] ?? 0) + 1;
        }
        link.lastSeenMs = Date.now();
        link.rttMs.last = rttMs;
        link.rttMs.max = Math.max(link.rttMs.max, rttMs);
        link.rttMs.samples++;
        link.rttMs.avg += (rttMs - link.rttMs.avg) / link.rttMs.samples;
        break;
      case 'timeout':
        c.timeouts++;
        break;
      case 'bad_frame':
        if (result.reason === 'crc') c.crcErrors++;
        else c.badFrames++;
        break;
      case 'unavailable':
        break;
    }
  }

  /** Online on any answer (an exception is an answer); offline with backoff once a request has failed for good. */
  private settleLink(link: DeviceLink, result: ReadResult | WriteResult): void {
    if (result.kind === 'ok' || result.kind === 'exception') {
      link.backoffMs = 0;
      link.nextAttemptAtMs = 0;
      link.setState('online', undefined);
      return;
    }
    const error = failureText(result);
    link.backoffMs = link.backoffMs === 0 ? this.backoffMinMs : Math.min(this.backoffMaxMs, link.backoffMs * 2);
    // A transport that is down reconnects by itself; the device is tried again as soon as it is back.
    link.nextAttemptAtMs = result.kind === 'unavailable' ? 0 : performance.now() + link.backoffMs;
    link.lastError = error;
    link.setState('offline', error);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.wakeTimer);
    for (const job of this.writes.splice(0)) job.resolve({ kind: 'unavailable', error: 'bus closed' });
    for (const link of this.links) for (const job of link.queue.splice(0)) job.resolve({ kind: 'unavailable', error: 'bus closed' });
    await this.transport.close();
  }
}

function isWrite(job: Job): boolean {
  return 'values' in job.request;
}

export function failureText(result: FailedResult): string {
  switch (result.kind) {
    case 'timeout':
      return 'timeout';
    case 'bad_frame':
      return `bad frame (${result.reason})`;
    case 'exception':
      return `exception 0x${result.code.toString(16).padStart(2, '0')}`;
    case 'unavailable':
      return result.error;
  }
}
